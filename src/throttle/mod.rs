//! Abuse protection: rate limits per client address and per account
//! ([`Throttle`], over the counted limits in [`limits`]), which address a
//! request comes from ([`client_ip`]), and the cap on connections per
//! address ([`connections`]).
//!
//! Limits are governor's keyed GCRA. A login *reserves* its failure before
//! the password is hashed (so a refused login costs no hash, and logins in
//! flight at once cannot overdraw the budget) and gets it back when the
//! password was right ([`LoginReservation`]): the refund moves the key's
//! GCRA state back by one event, through the store governor writes to.
//!
//! Counters live in this process. Behind a load balancer each instance counts
//! for itself: with N instances an address gets up to N times each budget
//! (exactly N times when the balancer spreads it evenly; one budget when it
//! pins clients, as consistent hashing by IP does). [`Limit`] is the seam
//! where a shared store (Redis, the database) would go.

pub mod client_ip;
pub mod connections;
pub mod limits;

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;

use client_ip::rate_key;
pub use limits::{Counted, GovernorLimit, Limit, Prunable, Wait};
use limits::{limit, window};

/// A GCRA budget: `per_minute` events on average, up to `burst` at once.
/// `per_minute = 0` turns the limit off.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

/// The budgets of the login and refresh limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Every login attempt, per address.
    pub login_attempts: Rate,
    /// Failed logins, per address.
    pub login_failures: Rate,
    /// Failed logins, per account, from any address.
    pub account_failures: Rate,
    /// Refreshes, per address.
    pub refresh: Rate,
    /// Self-signups, per address.
    pub signups: Rate,
}

/// An account as the limits know it: a keyed hash of the lowercased username
/// (so `Alice` and `alice` share a budget), never the name itself.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct AccountKey(u64);

/// Why a login is refused before its password is hashed.
#[derive(Debug, PartialEq, Eq)]
pub struct Throttled(pub Wait);

/// The failures a login in flight holds against its address and account.
/// They stay counted unless [`Self::release`] gives them back (the password
/// was right, or nothing was hashed): a login dropped midway, its client gone
/// while the hash ran, counts as the guess it was.
#[must_use = "a reservation stays counted; call release() when the password was right"]
pub struct LoginReservation {
    throttle: Arc<Throttle>,
    ip: IpAddr,
    account: AccountKey,
    address_failure: Option<Counted>,
    account_failure: Option<Counted>,
    account_address_failure: Option<Counted>,
}

impl LoginReservation {
    /// A wrong password (or an unknown user): the reserved failures stay
    /// counted, and the address is remembered as having failed on the account.
    pub fn failed(self) {
        if self.account_address_failure.is_none()
            && let Some(pair) = &self.throttle.account_address_failures
        {
            let _ = pair.record(&(self.account, self.ip));
        }
    }

    /// The password was right, or no hash ran: gives back what is still
    /// counted of the reserved failures.
    pub fn release(self) {
        let throttle = &self.throttle;
        if let (Some(counted), Some(limit)) = (self.address_failure, &throttle.login_failures) {
            limit.refund(&self.ip, counted);
        }
        if let (Some(counted), Some(limit)) = (self.account_failure, &throttle.account_failures) {
            limit.refund(&self.account, counted);
        }
        if let (Some(counted), Some(limit)) = (
            self.account_address_failure,
            &throttle.account_address_failures,
        ) {
            limit.refund(&(self.account, self.ip), counted);
        }
    }
}

/// The limits on `POST /api/token/`, `POST /api/token/refresh/` and
/// `POST /api/register/`.
pub struct Throttle {
    login_attempts: Option<Box<dyn Limit<IpAddr>>>,
    login_failures: Option<Box<dyn Limit<IpAddr>>>,
    account_failures: Option<Box<dyn Limit<AccountKey>>>,
    /// One cell per account and address per window (the time the account's
    /// burst takes to refill): "this address failed on this account lately".
    account_address_failures: Option<Box<dyn Limit<(AccountKey, IpAddr)>>>,
    refresh: Option<Box<dyn Limit<IpAddr>>>,
    signups: Option<Box<dyn Limit<IpAddr>>>,
    account_hasher: std::collections::hash_map::RandomState,
}

impl Throttle {
    pub fn new(settings: &Limits) -> Self {
        Self {
            login_attempts: limit(&settings.login_attempts),
            login_failures: limit(&settings.login_failures),
            account_failures: limit(&settings.account_failures),
            account_address_failures: window(&settings.account_failures),
            refresh: limit(&settings.refresh),
            signups: limit(&settings.signups),
            account_hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    pub fn account(&self, username: &str) -> AccountKey {
        AccountKey(self.account_hasher.hash_one(username.to_lowercase()))
    }

    /// Before a login is hashed (`client` as resolved by [`client_ip`];
    /// IPv6 counts by its /64): counts the attempt against the address's
    /// budget and reserves a failure, as if the password were wrong, against
    /// the address and the account. Refused when the address has no failure
    /// left, or when the account has none and this address has already
    /// failed on it (or has a guess on it in flight). An address that has
    /// not failed on the account gets its attempt, so the account's owner is
    /// never locked out by other addresses' failures.
    ///
    /// Reserving before hashing is what keeps simultaneous guesses within the
    /// budget: each one in flight already counts. The reservation is given
    /// back unless [`LoginReservation::failed`] keeps it.
    pub fn before_login(
        self: &Arc<Self>,
        client: IpAddr,
        account: AccountKey,
    ) -> Result<LoginReservation, Throttled> {
        let ip = rate_key(client);
        let mut held = LoginReservation {
            throttle: self.clone(),
            ip,
            account,
            address_failure: None,
            account_failure: None,
            account_address_failure: None,
        };
        if let Some(failures) = &self.login_failures {
            held.address_failure = Some(failures.record(&ip).map_err(Throttled)?);
        }
        if let (Some(account_failures), Some(pair)) =
            (&self.account_failures, &self.account_address_failures)
        {
            match account_failures.record(&account) {
                Ok(counted) => held.account_failure = Some(counted),
                // The account is out of failures: this address gets its one
                // guess per window, unless it has had it.
                Err(account_wait) => match pair.record(&(account, ip)) {
                    Ok(counted) => held.account_address_failure = Some(counted),
                    Err(pair_wait) => {
                        // A refused login costs nothing: give back what it holds.
                        held.release();
                        return Err(Throttled(account_wait.min(pair_wait)));
                    }
                },
            }
        }
        if let Some(attempts) = &self.login_attempts
            && let Err(wait) = attempts.record(&ip)
        {
            held.release();
            return Err(Throttled(wait));
        }
        Ok(held)
    }

    /// Before a self-signup is looked at: every registration counts against
    /// the address's budget (`throttle.signups`), whatever its outcome, so
    /// accounts cannot be mass-created, nor names probed, from one address.
    pub fn before_signup(&self, client: IpAddr) -> Result<(), Throttled> {
        match &self.signups {
            Some(signups) => signups
                .record(&rate_key(client))
                .map(drop)
                .map_err(Throttled),
            None => Ok(()),
        }
    }

    pub fn before_refresh(&self, client: IpAddr) -> Result<(), Throttled> {
        match &self.refresh {
            Some(refresh) => refresh
                .record(&rate_key(client))
                .map(drop)
                .map_err(Throttled),
            None => Ok(()),
        }
    }

    /// Forgets every key whose budget is full again.
    pub fn prune(&self) {
        self.limits().for_each(|(_, limit)| limit.prune());
    }

    /// Keys tracked per limit, for logs and benchmarks.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        self.limits()
            .map(|(name, limit)| (name, limit.tracked_keys()))
            .collect()
    }

    fn limits(&self) -> impl Iterator<Item = (&'static str, &dyn Prunable)> {
        fn upkeep<K>(limit: &Option<Box<dyn Limit<K>>>) -> Option<&dyn Prunable> {
            limit.as_deref().map(|limit| limit as &dyn Prunable)
        }
        [
            ("login_attempts", upkeep(&self.login_attempts)),
            ("login_failures", upkeep(&self.login_failures)),
            ("account_failures", upkeep(&self.account_failures)),
            (
                "account_address_failures",
                upkeep(&self.account_address_failures),
            ),
            ("refresh", upkeep(&self.refresh)),
            ("signups", upkeep(&self.signups)),
        ]
        .into_iter()
        .filter_map(|(name, limit)| limit.map(|limit| (name, limit)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::Quota;

    use super::*;

    fn rate(per_minute: u32, burst: u32) -> Rate {
        Rate { per_minute, burst }
    }

    fn settings() -> Limits {
        Limits {
            login_attempts: rate(600, 100),
            login_failures: rate(20, 3),
            account_failures: rate(6, 4),
            refresh: rate(60, 2),
            signups: rate(5, 2),
        }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, n])
    }

    fn throttle() -> Arc<Throttle> {
        Arc::new(Throttle::new(&settings()))
    }

    #[test]
    fn failures_from_one_address_are_limited_and_others_are_not() {
        let throttle = throttle();
        let account = throttle.account("alice");
        for _ in 0..3 {
            throttle
                .before_login(ip(1), account)
                .expect("within the burst")
                .failed();
        }
        let Throttled(wait) = throttle
            .before_login(ip(1), account)
            .err()
            .expect("limited");
        assert!(wait.seconds() >= 1 && wait.seconds() <= 3, "{wait:?}");
        assert!(
            throttle
                .before_login(ip(2), throttle.account("bob"))
                .is_ok()
        );
    }

    #[test]
    fn finding_2_logins_in_flight_at_once_cannot_overdraw_the_failure_budget() {
        let throttle = throttle();
        let alice = throttle.account("alice");
        // Forty guesses from one address, all past the check before any has
        // been hashed: only the burst (3) may go on to hash.
        let in_flight: Vec<_> = (0..40)
            .filter_map(|_| throttle.before_login(ip(1), alice).ok())
            .collect();
        assert_eq!(in_flight.len(), 3);
        in_flight.into_iter().for_each(LoginReservation::failed);
        assert!(throttle.before_login(ip(1), alice).is_err());

        // The account (burst 4) is out of failures after four more
        // addresses; then a fresh address gets one guess in flight, not forty.
        for n in 2..=5 {
            throttle
                .before_login(ip(n), alice)
                .expect("allowed")
                .failed();
        }
        let fresh: Vec<_> = (0..40)
            .filter_map(|_| throttle.before_login(ip(9), alice).ok())
            .collect();
        assert_eq!(
            fresh.len(),
            1,
            "one guess per address while the account is hot"
        );
    }

    #[test]
    fn a_right_password_gives_its_reservation_back() {
        let throttle = throttle();
        let alice = throttle.account("alice");
        // Far more successful logins than the failure burst: each gives back
        // what it reserved.
        for _ in 0..20 {
            throttle
                .before_login(ip(1), alice)
                .expect("allowed")
                .release();
        }
        // Reservations held at once still count, and are given back in full
        // on release however long they were held: the others queued behind.
        let held: Vec<_> = (0..3)
            .map(|_| throttle.before_login(ip(1), alice).expect("allowed"))
            .collect();
        assert!(throttle.before_login(ip(1), alice).is_err());
        held.into_iter().for_each(LoginReservation::release);
        throttle
            .before_login(ip(1), alice)
            .expect("given back")
            .release();
        // One abandoned midway (dropped, its client gone) stays counted.
        for _ in 0..3 {
            drop(throttle.before_login(ip(1), alice).expect("allowed"));
        }
        assert!(throttle.before_login(ip(1), alice).is_err());
    }

    #[test]
    fn an_account_under_attack_only_refuses_addresses_that_failed_on_it() {
        let throttle = throttle();
        let alice = throttle.account("alice");
        assert_eq!(
            alice,
            throttle.account("ALICE"),
            "case does not make a new budget"
        );
        // Four addresses use the account's burst.
        for n in 1..=4 {
            throttle
                .before_login(ip(n), alice)
                .expect("allowed")
                .failed();
        }
        // The account is hot: an address that failed on it waits ...
        for n in 1..=4 {
            assert!(throttle.before_login(ip(n), alice).is_err(), "address {n}");
        }
        // ... one that has not gets its attempt (the owner, elsewhere), and
        // logging in gives it back, so the owner can log in again ...
        for _ in 0..3 {
            throttle
                .before_login(ip(50), alice)
                .expect("the owner")
                .release();
        }
        // ... and other accounts are untouched for the failed addresses.
        assert!(
            throttle
                .before_login(ip(1), throttle.account("bob"))
                .is_ok()
        );
    }

    #[test]
    fn pruning_forgets_keys_whose_budget_is_full_again() {
        let limit =
            GovernorLimit::new(Quota::with_period(Duration::from_millis(1)).expect("quota"));
        for key in 0..1000 {
            limit.record(&key).expect("allowed");
        }
        assert_eq!(limit.tracked_keys(), 1000);
        std::thread::sleep(Duration::from_millis(20));
        limit.prune();
        assert_eq!(limit.tracked_keys(), 0);
    }
}

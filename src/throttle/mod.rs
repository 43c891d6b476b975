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
//! With `throttle.store = "memory"` (the default) counters live in this
//! process: behind a load balancer each instance counts for itself, and
//! with N instances an address gets up to N times each budget. With a Redis
//! URL every limit is counted in Redis ([`shared`]), one budget for all
//! instances, falling back to this process's memory while Redis is away.

pub mod client_ip;
pub mod connections;
pub mod limits;
pub mod shared;

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;

use client_ip::rate_key;
use limits::{Budget, budget, window};
pub use limits::{Counted, GovernorLimit, Limit, Prunable, Wait};
use shared::{SharedKey, SharedLimit, SharedStore};

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

/// An account as the limits know it: a hash of the lowercased username (so
/// `Alice` and `alice` share a budget), never the name itself; the same in
/// every instance, for the shared store.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct AccountKey(u64);

/// One limit, counted in this process's memory or in the shared store.
enum Counter<K: Hash + Eq + Clone> {
    Memory(GovernorLimit<K>),
    Shared(SharedLimit<K>),
}

impl<K: Hash + Eq + Clone + Send + Sync + SharedKey> Counter<K> {
    /// The limit called `name` with `budget` (`None`: the limit is off).
    fn new(
        name: &'static str,
        budget: Option<Budget>,
        store: Option<&Arc<SharedStore>>,
    ) -> Option<Self> {
        let budget = budget?;
        let local = GovernorLimit::new(budget.quota()?);
        Some(match store {
            Some(store) => Counter::Shared(SharedLimit::new(
                store.clone(),
                name,
                budget.emission,
                budget.burst,
                local,
            )),
            None => Counter::Memory(local),
        })
    }

    async fn record(&self, key: &K) -> Result<Counted, Wait> {
        match self {
            Counter::Memory(limit) => limit.record(key),
            Counter::Shared(limit) => limit.record(key).await,
        }
    }

    async fn refund(&self, key: &K, counted: Counted) {
        match self {
            Counter::Memory(limit) => limit.refund(key, counted),
            Counter::Shared(limit) => limit.refund(key, counted).await,
        }
    }

    /// What this process keeps of the limit.
    fn in_memory(&self) -> &dyn Prunable {
        match self {
            Counter::Memory(limit) => limit,
            Counter::Shared(limit) => limit.local(),
        }
    }
}

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
    pub async fn failed(self) {
        if self.account_address_failure.is_none()
            && let Some(pair) = &self.throttle.account_address_failures
        {
            let _ = pair.record(&(self.account, self.ip)).await;
        }
    }

    /// The password was right, or no hash ran: gives back what is still
    /// counted of the reserved failures.
    pub async fn release(self) {
        let throttle = &self.throttle;
        if let (Some(counted), Some(limit)) = (self.address_failure, &throttle.login_failures) {
            limit.refund(&self.ip, counted).await;
        }
        if let (Some(counted), Some(limit)) = (self.account_failure, &throttle.account_failures) {
            limit.refund(&self.account, counted).await;
        }
        if let (Some(counted), Some(limit)) = (
            self.account_address_failure,
            &throttle.account_address_failures,
        ) {
            limit.refund(&(self.account, self.ip), counted).await;
        }
    }
}

/// The limits on `POST /api/token/`, `POST /api/token/refresh/` and
/// `POST /api/register/`.
pub struct Throttle {
    login_attempts: Option<Counter<IpAddr>>,
    login_failures: Option<Counter<IpAddr>>,
    account_failures: Option<Counter<AccountKey>>,
    /// One cell per account and address per window (the time the account's
    /// burst takes to refill): "this address failed on this account lately".
    account_address_failures: Option<Counter<(AccountKey, IpAddr)>>,
    refresh: Option<Counter<IpAddr>>,
    signups: Option<Counter<IpAddr>>,
}

impl Throttle {
    /// The limits of `settings`, counted in `store` when given (else in
    /// this process's memory).
    pub fn new(settings: &Limits, store: Option<Arc<SharedStore>>) -> Self {
        let store = store.as_ref();
        Self {
            login_attempts: Counter::new("login_attempts", budget(&settings.login_attempts), store),
            login_failures: Counter::new("login_failures", budget(&settings.login_failures), store),
            account_failures: Counter::new(
                "account_failures",
                budget(&settings.account_failures),
                store,
            ),
            account_address_failures: Counter::new(
                "account_address_failures",
                window(&settings.account_failures),
                store,
            ),
            refresh: Counter::new("refresh", budget(&settings.refresh), store),
            signups: Counter::new("signups", budget(&settings.signups), store),
        }
    }

    pub fn account(&self, username: &str) -> AccountKey {
        use aws_lc_rs::digest;
        let name = format!("latchkey account\0{}", username.to_lowercase());
        let hash = digest::digest(&digest::SHA256, name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_ref()[..8]);
        AccountKey(u64::from_be_bytes(first))
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
    pub async fn before_login(
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
            held.address_failure = Some(failures.record(&ip).await.map_err(Throttled)?);
        }
        if let (Some(account_failures), Some(pair)) =
            (&self.account_failures, &self.account_address_failures)
        {
            match account_failures.record(&account).await {
                Ok(counted) => held.account_failure = Some(counted),
                // The account is out of failures: this address gets its one
                // guess per window, unless it has had it.
                Err(account_wait) => match pair.record(&(account, ip)).await {
                    Ok(counted) => held.account_address_failure = Some(counted),
                    Err(pair_wait) => {
                        // A refused login costs nothing: give back what it holds.
                        held.release().await;
                        return Err(Throttled(account_wait.min(pair_wait)));
                    }
                },
            }
        }
        if let Some(attempts) = &self.login_attempts
            && let Err(wait) = attempts.record(&ip).await
        {
            held.release().await;
            return Err(Throttled(wait));
        }
        Ok(held)
    }

    /// Before a self-signup is looked at: every registration counts against
    /// the address's budget (`throttle.signups`), whatever its outcome, so
    /// accounts cannot be mass-created, nor names probed, from one address.
    pub async fn before_signup(&self, client: IpAddr) -> Result<(), Throttled> {
        match &self.signups {
            Some(signups) => signups
                .record(&rate_key(client))
                .await
                .map(drop)
                .map_err(Throttled),
            None => Ok(()),
        }
    }

    pub async fn before_refresh(&self, client: IpAddr) -> Result<(), Throttled> {
        match &self.refresh {
            Some(refresh) => refresh
                .record(&rate_key(client))
                .await
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

    /// What this process keeps of each limit (with the shared store, what
    /// it counts while Redis is away).
    fn limits(&self) -> impl Iterator<Item = (&'static str, &dyn Prunable)> {
        fn upkeep<K>(limit: &Option<Counter<K>>) -> Option<&dyn Prunable>
        where
            K: Hash + Eq + Clone + Send + Sync + SharedKey,
        {
            limit.as_ref().map(Counter::in_memory)
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

    /// The limits counted in memory, and the same counted in the machine's
    /// Redis (127.0.0.1:6379) under a prefix of their own: every test below
    /// runs on both.
    fn throttles() -> ([Arc<Throttle>; 2], Arc<crate::metrics::Metrics>) {
        let prefix = format!("latchkey-test:{}:", uuid::Uuid::new_v4().simple());
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let store = SharedStore::new(
            "redis://127.0.0.1:6379/0",
            &prefix,
            Duration::from_secs(2),
            metrics.clone(),
        )
        .expect("a Redis URL");
        (
            [
                Arc::new(Throttle::new(&settings(), None)),
                Arc::new(Throttle::new(&settings(), Some(store))),
            ],
            metrics,
        )
    }

    /// Every check of the shared run was answered by Redis: none fell back
    /// to memory (which would pass these tests without Redis).
    fn counted_in_redis_only(metrics: &crate::metrics::Metrics) {
        assert_eq!(
            metrics.throttle_store_fallbacks.get(),
            0,
            "a Redis call failed"
        );
        assert_eq!(metrics.throttle_store_shared.get(), 1, "Redis answered");
    }

    /// Whether `throttle` counts in Redis and Redis answered.
    async fn counted_in_redis(throttle: &Throttle) {
        if let Some(Counter::Shared(limit)) = &throttle.login_failures {
            assert!(
                limit.store_answers().await,
                "Redis on 127.0.0.1:6379 answers (redis-server from Debian's package)"
            );
        }
    }

    #[tokio::test]
    async fn failures_from_one_address_are_limited_and_others_are_not() {
        let (both, metrics) = throttles();
        for throttle in both {
            counted_in_redis(&throttle).await;
            let account = throttle.account("alice");
            for _ in 0..3 {
                throttle
                    .before_login(ip(1), account)
                    .await
                    .expect("within the burst")
                    .failed()
                    .await;
            }
            let Throttled(wait) = throttle
                .before_login(ip(1), account)
                .await
                .err()
                .expect("limited");
            assert!(wait.seconds() >= 1 && wait.seconds() <= 3, "{wait:?}");
            assert!(
                throttle
                    .before_login(ip(2), throttle.account("bob"))
                    .await
                    .is_ok()
            );
        }
        counted_in_redis_only(&metrics);
    }

    #[tokio::test]
    async fn finding_2_logins_in_flight_at_once_cannot_overdraw_the_failure_budget() {
        let (both, metrics) = throttles();
        for throttle in both {
            let alice = throttle.account("alice");
            // Forty guesses from one address, all past the check before any
            // has been hashed: only the burst (3) may go on to hash.
            let mut in_flight = Vec::new();
            for _ in 0..40 {
                if let Ok(held) = throttle.before_login(ip(1), alice).await {
                    in_flight.push(held);
                }
            }
            assert_eq!(in_flight.len(), 3);
            for held in in_flight {
                held.failed().await;
            }
            assert!(throttle.before_login(ip(1), alice).await.is_err());

            // The account (burst 4) is out of failures after four more
            // addresses; then a fresh address gets one guess in flight, not forty.
            for n in 2..=5 {
                throttle
                    .before_login(ip(n), alice)
                    .await
                    .expect("allowed")
                    .failed()
                    .await;
            }
            let mut fresh = Vec::new();
            for _ in 0..40 {
                if let Ok(held) = throttle.before_login(ip(9), alice).await {
                    fresh.push(held);
                }
            }
            assert_eq!(
                fresh.len(),
                1,
                "one guess per address while the account is hot"
            );
        }
        counted_in_redis_only(&metrics);
    }

    #[tokio::test]
    async fn a_right_password_gives_its_reservation_back() {
        let (both, metrics) = throttles();
        for throttle in both {
            let alice = throttle.account("alice");
            // Far more successful logins than the failure burst: each gives
            // back what it reserved.
            for _ in 0..20 {
                throttle
                    .before_login(ip(1), alice)
                    .await
                    .expect("allowed")
                    .release()
                    .await;
            }
            // Reservations held at once still count, and are given back in
            // full on release however long they were held.
            let mut held = Vec::new();
            for _ in 0..3 {
                held.push(throttle.before_login(ip(1), alice).await.expect("allowed"));
            }
            assert!(throttle.before_login(ip(1), alice).await.is_err());
            for reservation in held {
                reservation.release().await;
            }
            throttle
                .before_login(ip(1), alice)
                .await
                .expect("given back")
                .release()
                .await;
            // One abandoned midway (dropped, its client gone) stays counted.
            for _ in 0..3 {
                drop(throttle.before_login(ip(1), alice).await.expect("allowed"));
            }
            assert!(throttle.before_login(ip(1), alice).await.is_err());
        }
        counted_in_redis_only(&metrics);
    }

    #[tokio::test]
    async fn an_account_under_attack_only_refuses_addresses_that_failed_on_it() {
        let (both, metrics) = throttles();
        for throttle in both {
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
                    .await
                    .expect("allowed")
                    .failed()
                    .await;
            }
            // The account is hot: an address that failed on it waits ...
            for n in 1..=4 {
                assert!(
                    throttle.before_login(ip(n), alice).await.is_err(),
                    "address {n}"
                );
            }
            // ... one that has not gets its attempt (the owner, elsewhere),
            // and logging in gives it back, so the owner can log in again ...
            for _ in 0..3 {
                throttle
                    .before_login(ip(50), alice)
                    .await
                    .expect("the owner")
                    .release()
                    .await;
            }
            // ... and other accounts are untouched for the failed addresses.
            assert!(
                throttle
                    .before_login(ip(1), throttle.account("bob"))
                    .await
                    .is_ok()
            );
        }
        counted_in_redis_only(&metrics);
    }

    #[tokio::test]
    async fn refresh_and_signup_budgets_are_per_address() {
        let (both, metrics) = throttles();
        for throttle in both {
            for _ in 0..2 {
                throttle.before_refresh(ip(1)).await.expect("the burst");
                throttle.before_signup(ip(1)).await.expect("the burst");
            }
            assert!(throttle.before_refresh(ip(1)).await.is_err());
            assert!(throttle.before_signup(ip(1)).await.is_err());
            assert!(throttle.before_refresh(ip(2)).await.is_ok());
        }
        counted_in_redis_only(&metrics);
    }

    #[test]
    fn account_keys_are_the_same_in_every_instance() {
        let [one, other] = [
            Throttle::new(&settings(), None),
            Throttle::new(&settings(), None),
        ];
        assert_eq!(one.account("Alice"), other.account("alice"));
        assert_ne!(one.account("alice"), one.account("bob"));
    }

    #[tokio::test]
    async fn a_redis_that_does_not_answer_leaves_the_limits_to_this_instance() {
        // Nothing listens there.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("redis://{}", closed.local_addr().expect("address"));
        drop(closed);
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let store = SharedStore::new(&url, "t:", Duration::from_millis(100), metrics.clone())
            .expect("a Redis URL");
        let throttle = Arc::new(Throttle::new(&settings(), Some(store)));
        let alice = throttle.account("alice");
        for _ in 0..3 {
            throttle
                .before_login(ip(1), alice)
                .await
                .expect("counted in memory")
                .failed()
                .await;
        }
        assert!(
            throttle.before_login(ip(1), alice).await.is_err(),
            "and limited there"
        );
        assert_eq!(metrics.throttle_store_shared.get(), 0);
        assert!(metrics.throttle_store_fallbacks.get() >= 1);
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

//! Login abuse protection: rate limits per client IP and per account, and
//! the cap on password hashes running at once.
//!
//! Limits are governor's keyed GCRA. Failed logins are counted after the
//! hash says "wrong", but must be checked before hashing (a refused request
//! costs no hash), so each failure limit can also be *peeked*: the same
//! governor state read through a store that never writes (see [`PeekStore`]).
//!
//! Counters live in this process. Behind a load balancer each instance counts
//! for itself: with N instances an address gets up to N times each budget
//! (exactly N times when the balancer spreads it evenly; one budget when it
//! pins clients, as consistent hashing by IP does). [`Limit`] is the seam
//! where a shared store (Redis, the database) would go.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{NotUntil, Quota, RateLimiter};

use crate::client_ip::rate_key;
use crate::settings::{RateSettings, ThrottleSettings};

/// How long until the limited action is allowed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wait(pub Duration);

impl Wait {
    /// Whole seconds, rounded up, at least 1: what `Retry-After` says.
    pub fn seconds(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// A counted limit on events per key.
pub trait Limit<K>: Prunable {
    /// Would one more event be allowed now? Counts nothing.
    fn peek(&self, key: &K) -> Result<(), Wait>;
    /// Counts an event; `Err` when it was over the limit.
    fn record(&self, key: &K) -> Result<(), Wait>;
}

/// The key-independent part of a limit's upkeep.
pub trait Prunable: Send + Sync {
    /// Forgets keys whose budget is full again, and returns the memory.
    fn prune(&self);
    /// Keys currently tracked.
    fn tracked_keys(&self) -> usize;
}

type Store<K> = Arc<DashMapStateStore<K>>;

/// The shared state, written through.
struct SharedStore<K: Hash + Eq + Clone>(Store<K>);

impl<K: Hash + Eq + Clone> StateStore for SharedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for SharedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.0);
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&*self.0)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&*self.0)
    }
}

/// The shared state, read only: governor's decision for one more cell,
/// without taking it. A key with no state is not inserted.
struct PeekStore<K: Hash + Eq + Clone>(Store<K>);

impl<K: Hash + Eq + Clone> StateStore for PeekStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if !self.0.contains_key(key) {
            return f(None).map(|(outcome, _)| outcome);
        }
        let decision = RefCell::new(None);
        // Refusing the replacement leaves the state as it was.
        let _ = self.0.measure_and_replace(key, |previous| {
            *decision.borrow_mut() = Some(f(previous).map(|(outcome, _)| outcome));
            Err::<((), Nanos), ()>(())
        });
        decision
            .into_inner()
            .unwrap_or_else(|| f(None).map(|(outcome, _)| outcome))
    }
}

/// A [`Limit`] on governor's in-memory keyed GCRA.
pub struct GovernorLimit<K: Hash + Eq + Clone> {
    counting: RateLimiter<K, SharedStore<K>, DefaultClock>,
    peeking: RateLimiter<K, PeekStore<K>, DefaultClock>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> GovernorLimit<K> {
    pub fn new(quota: Quota) -> Self {
        let store: Store<K> = Arc::new(DashMapStateStore::default());
        let clock = DefaultClock::default();
        Self {
            counting: RateLimiter::new(quota, SharedStore(store.clone()), clock.clone()),
            peeking: RateLimiter::new(quota, PeekStore(store), clock.clone()),
            clock,
        }
    }

    fn wait(&self, not_until: &NotUntil<<DefaultClock as Clock>::Instant>) -> Wait {
        Wait(not_until.wait_time_from(self.clock.now()))
    }
}

impl<K: Hash + Eq + Clone + Send + Sync> Limit<K> for GovernorLimit<K> {
    fn peek(&self, key: &K) -> Result<(), Wait> {
        self.peeking.check_key(key).map_err(|e| self.wait(&e))
    }

    fn record(&self, key: &K) -> Result<(), Wait> {
        self.counting.check_key(key).map_err(|e| self.wait(&e))
    }
}

impl<K: Hash + Eq + Clone + Send + Sync> Prunable for GovernorLimit<K> {
    fn prune(&self) {
        self.counting.retain_recent();
        self.counting.shrink_to_fit();
    }

    fn tracked_keys(&self) -> usize {
        self.counting.len()
    }
}

fn limit<K>(rate: &RateSettings) -> Option<Box<dyn Limit<K>>>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    let per_minute = NonZeroU32::new(rate.per_minute)?;
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::per_minute(per_minute).allow_burst(burst);
    Some(Box::new(GovernorLimit::new(quota)))
}

/// One event per `rate`'s whole window (the time its burst takes to refill).
fn window<K>(rate: &RateSettings) -> Option<Box<dyn Limit<K>>>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    let per_minute = NonZeroU32::new(rate.per_minute)?;
    let window = Duration::from_secs(60) * rate.burst.max(1) / per_minute.get();
    let quota = Quota::with_period(window.max(Duration::from_millis(1)))?;
    Some(Box::new(GovernorLimit::new(quota)))
}

/// An account as the limits know it: a keyed hash of the lowercased username
/// (so `Alice` and `alice` share a budget), never the name itself.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct AccountKey(u64);

/// Why a login is refused before its password is hashed.
#[derive(Debug, PartialEq, Eq)]
pub struct Throttled(pub Wait);

/// The limits on `POST /api/token/` and `POST /api/token/refresh/`.
pub struct Throttle {
    login_attempts: Option<Box<dyn Limit<IpAddr>>>,
    login_failures: Option<Box<dyn Limit<IpAddr>>>,
    account_failures: Option<Box<dyn Limit<AccountKey>>>,
    /// One cell per account and address per window (the time the account's
    /// burst takes to refill): "this address failed on this account lately".
    account_address_failures: Option<Box<dyn Limit<(AccountKey, IpAddr)>>>,
    refresh: Option<Box<dyn Limit<IpAddr>>>,
    account_hasher: std::collections::hash_map::RandomState,
}

impl Throttle {
    pub fn new(settings: &ThrottleSettings) -> Self {
        Self {
            login_attempts: limit(&settings.login_attempts),
            login_failures: limit(&settings.login_failures),
            account_failures: limit(&settings.account_failures),
            account_address_failures: window(&settings.account_failures),
            refresh: limit(&settings.refresh),
            account_hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    pub fn account(&self, username: &str) -> AccountKey {
        AccountKey(self.account_hasher.hash_one(username.to_lowercase()))
    }

    /// Before a login is hashed (`client` as resolved by `crate::client_ip`;
    /// IPv6 counts by its /64): counts the attempt against the address's
    /// budget, and refuses it when the address has used up its failures, or
    /// when the account is under a guessing attack and this address has
    /// already failed on it. An address that has not failed on the account
    /// always gets its attempt, so the account's owner is never locked out by
    /// other addresses' failures.
    pub fn before_login(&self, client: IpAddr, account: AccountKey) -> Result<(), Throttled> {
        let ip = rate_key(client);
        if let Some(failures) = &self.login_failures {
            failures.peek(&ip).map_err(Throttled)?;
        }
        if let (Some(account_failures), Some(pair)) =
            (&self.account_failures, &self.account_address_failures)
            && let Err(account_wait) = account_failures.peek(&account)
            && let Err(pair_wait) = pair.peek(&(account, ip))
        {
            return Err(Throttled(account_wait.min(pair_wait)));
        }
        if let Some(attempts) = &self.login_attempts {
            attempts.record(&ip).map_err(Throttled)?;
        }
        Ok(())
    }

    /// After a wrong password (or unknown user): counts the failure.
    pub fn login_failed(&self, client: IpAddr, account: AccountKey) {
        let ip = rate_key(client);
        if let Some(failures) = &self.login_failures {
            let _ = failures.record(&ip);
        }
        if let Some(account_failures) = &self.account_failures {
            let _ = account_failures.record(&account);
        }
        if let Some(pair) = &self.account_address_failures {
            let _ = pair.record(&(account, ip));
        }
    }

    pub fn before_refresh(&self, client: IpAddr) -> Result<(), Throttled> {
        match &self.refresh {
            Some(refresh) => refresh.record(&rate_key(client)).map_err(Throttled),
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
        ]
        .into_iter()
        .filter_map(|(name, limit)| limit.map(|limit| (name, limit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_minute: u32, burst: u32) -> RateSettings {
        RateSettings { per_minute, burst }
    }

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            login_attempts: rate(600, 100),
            login_failures: rate(20, 3),
            account_failures: rate(6, 4),
            refresh: rate(60, 2),
            ..crate::settings::Settings::defaults().throttle
        }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, n])
    }

    #[test]
    fn peeking_never_counts() {
        let limit = GovernorLimit::new(Quota::per_minute(NonZeroU32::MIN));
        for _ in 0..100 {
            assert!(limit.peek(&1).is_ok());
        }
        assert_eq!(
            limit.tracked_keys(),
            0,
            "a peek at an unknown key stores nothing"
        );
        assert!(limit.record(&1).is_ok());
        let wait = limit.peek(&1).expect_err("used up");
        assert!(wait.0 > Duration::from_secs(50), "{wait:?}");
        assert_eq!(wait.seconds(), wait.0.as_secs() + 1);
        assert!(limit.peek(&2).is_ok(), "keys are independent");
    }

    #[test]
    fn failures_from_one_address_are_limited_and_others_are_not() {
        let throttle = Throttle::new(&settings());
        let account = throttle.account("alice");
        for _ in 0..3 {
            throttle
                .before_login(ip(1), account)
                .expect("within the burst");
            throttle.login_failed(ip(1), account);
        }
        let Throttled(wait) = throttle.before_login(ip(1), account).expect_err("limited");
        assert!(wait.seconds() >= 1 && wait.seconds() <= 3, "{wait:?}");
        assert!(
            throttle
                .before_login(ip(2), throttle.account("bob"))
                .is_ok()
        );
    }

    #[test]
    fn an_account_under_attack_only_refuses_addresses_that_failed_on_it() {
        let throttle = Throttle::new(&settings());
        let alice = throttle.account("alice");
        assert_eq!(
            alice,
            throttle.account("ALICE"),
            "case does not make a new budget"
        );
        // Four addresses use the account's burst.
        for n in 1..=4 {
            throttle.before_login(ip(n), alice).expect("allowed");
            throttle.login_failed(ip(n), alice);
        }
        // The account is hot: an address that failed on it waits ...
        for n in 1..=4 {
            assert!(throttle.before_login(ip(n), alice).is_err(), "address {n}");
        }
        // ... one that has not gets its attempt (the owner, elsewhere) ...
        assert!(throttle.before_login(ip(50), alice).is_ok());
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

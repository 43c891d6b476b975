//! Counted limits: the [`Limit`] trait every store implements, and
//! [`GovernorLimit`], governor's in-memory keyed GCRA, with the refund
//! governor itself does not offer.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::nanos::Nanos;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::{NotKeyed, StateStore};
use governor::{NotUntil, Quota, RateLimiter};

use super::Rate;

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
    /// Counts an event; `Err` when it was over the limit.
    fn record(&self, key: &K) -> Result<Counted, Wait>;
    /// Gives back what is still counted of an event [`Self::record`]
    /// counted: an event ages out of the budget as time passes, and a refund
    /// gives back only the part not yet aged out, so it never cancels another
    /// event. Never credits more than a full budget.
    fn refund(&self, key: &K, counted: Counted);
}

/// When a counted event stops weighing on its key's budget: the key's
/// theoretical arrival time (GCRA's one number per key) right after it, on
/// this process's clock, or on the shared store's (`super::shared`).
#[derive(Clone, Copy, Debug)]
pub enum Counted {
    Local(std::time::Instant),
    /// Microseconds since the Unix epoch, on Redis's clock.
    Shared(u64),
}

/// The key-independent part of a limit's upkeep.
pub trait Prunable: Send + Sync {
    /// Forgets keys whose budget is full again, and returns the memory.
    fn prune(&self);
    /// Keys currently tracked.
    fn tracked_keys(&self) -> usize;
}

type Store<K> = Arc<DashMapStateStore<K>>;

/// The state governor reads and writes, shared with [`GovernorLimit::refund`].
struct SharedStore<K: Hash + Eq + Clone>(Store<K>);

thread_local! {
    /// The state governor last wrote through a [`SharedStore`] on this
    /// thread: read by [`GovernorLimit::record`] right after its check, so
    /// it learns the arrival time its own event produced.
    static WRITTEN: std::cell::Cell<Option<Nanos>> = const { std::cell::Cell::new(None) };
}

impl<K: Hash + Eq + Clone> StateStore for SharedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // The store may call `f` again when another thread wrote first; the
        // last call that succeeds is the one kept.
        self.0.measure_and_replace(key, |previous| {
            let decision = f(previous);
            if let Ok((_, written)) = &decision {
                WRITTEN.with(|cell| cell.set(Some(*written)));
            }
            decision
        })
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

/// A [`Limit`] on governor's in-memory keyed GCRA.
pub struct GovernorLimit<K: Hash + Eq + Clone> {
    counting: RateLimiter<K, SharedStore<K>, DefaultClock>,
    store: Store<K>,
    /// What one event adds to a key's theoretical arrival time.
    emission_interval: Nanos,
    clock: DefaultClock,
    /// The clock reading arrival times count from (governor's own start is
    /// read the same way, a moment later).
    start: <DefaultClock as Clock>::Instant,
}

impl<K: Hash + Eq + Clone> GovernorLimit<K> {
    pub fn new(quota: Quota) -> Self {
        let store: Store<K> = Arc::new(DashMapStateStore::default());
        let clock = DefaultClock::default();
        let start = clock.now();
        Self {
            start,
            counting: RateLimiter::new(quota, SharedStore(store.clone()), clock.clone()),
            store,
            emission_interval: quota
                .replenish_interval()
                .max(Duration::from_nanos(1))
                .into(),
            clock,
        }
    }

    fn wait(&self, not_until: &NotUntil<<DefaultClock as Clock>::Instant>) -> Wait {
        Wait(not_until.wait_time_from(self.clock.now()))
    }
}

impl<K: Hash + Eq + Clone + Send + Sync> Limit<K> for GovernorLimit<K> {
    fn record(&self, key: &K) -> Result<Counted, Wait> {
        WRITTEN.with(|cell| cell.set(None));
        self.counting.check_key(key).map_err(|e| self.wait(&e))?;
        let now = Reference::duration_since(&self.clock.now(), self.start);
        let arrival = WRITTEN.with(std::cell::Cell::take).unwrap_or(now);
        let ahead: Duration = arrival.saturating_sub(now).into();
        Ok(Counted::Local(std::time::Instant::now() + ahead))
    }

    fn refund(&self, key: &K, counted: Counted) {
        // Only what this limit counted is its to give back.
        let Counted::Local(until) = counted else {
            return;
        };
        let left: Nanos = until
            .saturating_duration_since(std::time::Instant::now())
            .into();
        let remaining = left.min(self.emission_interval);
        if remaining == Nanos::from(0u64) {
            return;
        }
        // GCRA keeps one number per key, the theoretical arrival time (TAT);
        // an event moved it one emission interval on, and it counts until
        // the clock passes the TAT it produced. Moving the TAT back by what
        // is left of that (at most one interval) undoes the event and nothing
        // else. A TAT behind the clock counts as the clock, so the budget
        // never grows past its burst. A key pruned meanwhile has its whole
        // budget already (and must not be stored again).
        if !self.store.contains_key(key) {
            return;
        }
        let _ = self.store.measure_and_replace(key, |tat| match tat {
            Some(tat) => Ok(((), tat.saturating_sub(remaining))),
            None => Err(()),
        });
        // A key whose budget is whole again is dropped now rather than at the
        // next pruning: a flood of logins that never reach a hash (503) would
        // otherwise keep an entry per address in each failure limit until
        // then. Checked under the map's lock, so an event counted meanwhile
        // keeps the key.
        let now = Reference::duration_since(&self.clock.now(), self.start);
        self.store.remove_if(key, |_, state| {
            let whole = std::cell::Cell::new(false);
            let _ = state.measure_and_replace(&NotKeyed::NonKey, |tat| {
                whole.set(tat.is_none_or(|tat| tat <= now));
                Err::<((), Nanos), ()>(())
            });
            whole.get()
        });
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

/// A limit's budget in GCRA's terms: each event adds `emission` to its
/// key's arrival time, and `burst` events may come at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub emission: Duration,
    pub burst: u32,
}

impl Budget {
    pub fn quota(self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Some(Quota::with_period(self.emission)?.allow_burst(burst))
    }
}

/// `rate`'s budget; `None` when the limit is off.
pub(super) fn budget(rate: &Rate) -> Option<Budget> {
    let per_minute = NonZeroU32::new(rate.per_minute)?;
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    // Quota::per_minute's own arithmetic: a minute's nanoseconds shared out.
    let emission = Duration::from_nanos(60_000_000_000 / u64::from(per_minute.get()));
    Some(Budget {
        emission: emission.max(Duration::from_nanos(1)),
        burst: burst.get(),
    })
}

/// One event per `rate`'s whole window (the time its burst takes to refill).
pub(super) fn window(rate: &Rate) -> Option<Budget> {
    let per_minute = NonZeroU32::new(rate.per_minute)?;
    let window = Duration::from_secs(60) * rate.burst.max(1) / per_minute.get();
    Some(Budget {
        emission: window.max(Duration::from_millis(1)),
        burst: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refund_gives_back_one_event_and_never_more_than_the_burst() {
        let limit = GovernorLimit::new(Quota::per_minute(NonZeroU32::MIN));
        let first = limit.record(&1).expect("the first event");
        let wait = limit.record(&1).expect_err("used up");
        assert!(wait.0 > Duration::from_secs(50), "{wait:?}");
        assert_eq!(wait.seconds(), wait.0.as_secs() + 1);
        limit.refund(&1, first);
        let second = limit.record(&1).expect("given back");
        // Refunds beyond what was taken buy nothing: the burst is one.
        for _ in 0..5 {
            limit.refund(&1, second);
        }
        let third = limit.record(&1).expect("one");
        assert!(limit.record(&1).is_err(), "still one event per minute");
        // An event that has aged out of the budget gives nothing back: the
        // refund would cancel another event.
        limit.refund(&1, Counted::Local(std::time::Instant::now()));
        assert!(limit.record(&1).is_err(), "nothing given back");
        limit.refund(&2, third);
        assert_eq!(limit.tracked_keys(), 1, "a refund stores nothing new");
        limit.refund(&1, third);
        assert_eq!(
            limit.tracked_keys(),
            0,
            "a key whose budget is whole again is not kept"
        );
        assert!(limit.record(&2).is_ok(), "keys are independent");
    }
}

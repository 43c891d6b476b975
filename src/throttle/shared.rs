//! Limits every instance shares (`throttle.store` = a Redis URL): the same
//! GCRA as [`super::limits::GovernorLimit`], one number per key (its
//! theoretical arrival time, TAT), kept in Redis and checked and recorded
//! by one Lua script per check (one round trip, atomic, on Redis's own
//! clock so instances' clocks need not agree). A key expires when its
//! budget has refilled, so Redis holds only keys in use.
//!
//! While Redis cannot be reached (an error or no answer within
//! `throttle.redis_timeout_ms`), each limit counts in this instance's
//! memory instead, as with `throttle.store = "memory"`: a Redis outage never
//! becomes a login outage. It is said once in the log and counted
//! (`latchkey_throttle_store_fallbacks_total`); Redis is tried again a
//! second later, and shared counting resumes by itself when it answers.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use redis::Script;
use redis::aio::ConnectionManager;

use super::AccountKey;
use super::limits::{Counted, GovernorLimit, Limit, Wait};
use crate::metrics::Metrics;

/// Counts an event: refused (0, µs to wait) when the key's TAT is more than
/// the burst's tolerance ahead of now; else the TAT moves one emission
/// interval on, and (1, the new TAT) is the answer. The key lives until
/// its TAT: then its budget is whole again.
const RECORD: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now - tolerance}
end
local next_tat = tat + emission
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return {1, next_tat}
";

/// Gives back what is left of an event counted until ARGV[1] (a TAT the
/// record script returned), at most one emission interval (ARGV[2]): the
/// key's TAT moves back by it, and a key whose budget is whole is dropped.
const REFUND: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local left = tonumber(ARGV[1]) - now
if left <= 0 then return 0 end
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
tat = tat - math.min(left, tonumber(ARGV[2]))
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
end
return 1
";

/// How long after a failed call Redis is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The Redis every shared limit uses, and whether it answers.
pub struct SharedStore {
    /// Replaced after a failed call: a connection that timed out may be
    /// stuck on a socket whose peer went silent, and one whose setup failed
    /// (a refused password, too many clients) keeps that error.
    connection: ArcSwap<ConnectionManager>,
    client: redis::Client,
    config: redis::aio::ConnectionManagerConfig,
    prefix: String,
    timeout: Duration,
    record: Script,
    refund: Script,
    /// Whether the last call failed; while it did, limits count in memory.
    away: AtomicBool,
    /// When Redis may be tried again after a failure (ms since `started`).
    retry_at: AtomicU64,
    started: Instant,
    metrics: Arc<Metrics>,
}

impl SharedStore {
    /// Connects lazily: a Redis that is down at start only means limits
    /// count in memory until it answers.
    pub fn new(
        url: &str,
        prefix: &str,
        timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("throttle.store is not a Redis URL: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(RETRY_AFTER);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| anyhow::anyhow!("cannot set up the Redis connection: {e}"))?;
        Ok(Arc::new(Self {
            connection: ArcSwap::from_pointee(connection),
            client,
            config,
            prefix: prefix.to_owned(),
            timeout,
            record: Script::new(RECORD),
            refund: Script::new(REFUND),
            // Shared once Redis has answered (the gauge says so then).
            away: AtomicBool::new(true),
            retry_at: AtomicU64::new(0),
            started: Instant::now(),
            metrics,
        }))
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether to ask Redis now: it answered last time, or its retry time
    /// has come.
    fn worth_asking(&self) -> bool {
        !self.away.load(Ordering::Acquire)
            || self.elapsed_ms() >= self.retry_at.load(Ordering::Acquire)
    }

    fn answered(&self) {
        if self.away.swap(false, Ordering::AcqRel) {
            self.metrics.throttle_store_shared.set(1);
            tracing::info!("Redis answers: limits are shared by every instance");
        }
    }

    fn failed(&self, error: &dyn std::fmt::Display) {
        self.retry_at.store(
            self.elapsed_ms() + RETRY_AFTER.as_millis() as u64,
            Ordering::Release,
        );
        self.metrics.throttle_store_fallbacks.inc();
        if let Ok(fresh) =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
        {
            self.connection.store(Arc::new(fresh));
        }
        if !self.away.swap(true, Ordering::AcqRel) {
            self.metrics.throttle_store_shared.set(0);
            tracing::error!(%error, "Redis unavailable: limits count in this instance's memory until it answers");
        }
    }

    /// Runs `script` on `key`; `None` when Redis did not answer in time.
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: [u64; 2],
    ) -> Option<T> {
        if !self.worth_asking() {
            return None;
        }
        let mut connection = ConnectionManager::clone(&self.connection.load());
        let mut invocation = script.key(format!("{}{key}", self.prefix));
        invocation.arg(args[0]).arg(args[1]);
        let call = invocation.invoke_async::<T>(&mut connection);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(answer)) => {
                self.answered();
                Some(answer)
            }
            Ok(Err(error)) => {
                self.failed(&error);
                None
            }
            Err(_) => {
                self.failed(&format_args!("no answer within {:?}", self.timeout));
                None
            }
        }
    }
}

/// How a limit's key is written in Redis.
pub trait SharedKey {
    fn shared_key(&self) -> String;
}

impl SharedKey for IpAddr {
    fn shared_key(&self) -> String {
        self.to_string()
    }
}

impl SharedKey for AccountKey {
    fn shared_key(&self) -> String {
        format!("{:016x}", self.0)
    }
}

impl SharedKey for (AccountKey, IpAddr) {
    fn shared_key(&self) -> String {
        format!("{}/{}", self.0.shared_key(), self.1.shared_key())
    }
}

/// One limit counted in Redis, and in memory while Redis is away.
pub struct SharedLimit<K: Hash + Eq + Clone> {
    store: Arc<SharedStore>,
    /// The limit's name in its keys (`login_failures`, ...).
    name: &'static str,
    emission_us: u64,
    tolerance_us: u64,
    local: GovernorLimit<K>,
}

impl<K: Hash + Eq + Clone + Send + Sync + SharedKey> SharedLimit<K> {
    /// `emission`: what one event adds to the key's TAT; `burst` events at
    /// once at most.
    pub fn new(
        store: Arc<SharedStore>,
        name: &'static str,
        emission: Duration,
        burst: u32,
        local: GovernorLimit<K>,
    ) -> Self {
        let emission_us = u64::try_from(emission.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            store,
            name,
            emission_us,
            tolerance_us: emission_us.saturating_mul(u64::from(burst.max(1)) - 1),
            local,
        }
    }

    fn key(&self, key: &K) -> String {
        format!("{}:{}", self.name, key.shared_key())
    }

    pub async fn record(&self, key: &K) -> Result<Counted, Wait> {
        let answer: Option<Vec<u64>> = self
            .store
            .run(
                &self.store.record,
                &self.key(key),
                [self.emission_us, self.tolerance_us],
            )
            .await;
        match answer.as_deref() {
            Some([1, until]) => Ok(Counted::Shared(*until)),
            Some([0, wait_us]) => Err(Wait(Duration::from_micros(*wait_us))),
            None => self.local.record(key),
            Some(other) => {
                self.store
                    .failed(&format_args!("the limit script answered {other:?}"));
                self.local.record(key)
            }
        }
    }

    /// Gives back an event where it was counted, before the answer goes
    /// out (so the client's next login finds it given back).
    pub async fn refund(&self, key: &K, counted: Counted) {
        match counted {
            Counted::Local(_) => self.local.refund(key, counted),
            // Redis away now: the event stays counted there, as a login
            // abandoned midway does, until its budget refills.
            Counted::Shared(until) => {
                let _: Option<i64> = self
                    .store
                    .run(
                        &self.store.refund,
                        &self.key(key),
                        [until, self.emission_us],
                    )
                    .await;
            }
        }
    }

    pub fn local(&self) -> &GovernorLimit<K> {
        &self.local
    }

    /// Whether Redis answers now (for tests and checks).
    pub async fn store_answers(&self) -> bool {
        let mut connection = ConnectionManager::clone(&self.store.connection.load());
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        matches!(
            tokio::time::timeout(self.store.timeout, ping).await,
            Ok(Ok(_))
        )
    }
}

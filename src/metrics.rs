//! Prometheus metrics: every series latchkey exports, in one registry per
//! application (tests run several apps in one process, each counting its
//! own). Counters are incremented where things happen; gauges of state kept
//! elsewhere (the pool, the revoked-session set, the hashing pool, the key
//! set) are read when `/metrics` is scraped ([`Readings`]). Labels take a
//! few known values only: route templates, never raw paths; no user ids.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One answered request: its route template (`unmatched` for none), method
/// and status class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub method: &'static str,
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
}

/// A label with one of a few fixed values (`outcome`, `reason`, `token_type`, ...).
pub type Fixed = [(&'static str, &'static str); 1];

type Timings = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Timings,
    /// `outcome`: succeeded, failed, throttled, busy (no hashing slot).
    pub logins: Family<Fixed, Counter>,
    /// `token_type`: access, refresh.
    pub tokens_issued: Family<Fixed, Counter>,
    /// `outcome`: rotated (a new pair), replayed (the grace window's
    /// answer again), refused, throttled.
    pub refreshes: Family<Fixed, Counter>,
    pub refresh_reuse: Counter,
    /// `reason`: as the session's end is recorded.
    pub sessions_ended: Family<Fixed, Counter>,
    pub hashes_running: Gauge,
    pub hashes_waiting: Gauge,
    pub hashes_refused: Counter,
    /// `state`: in_use, idle.
    pub db_connections: Family<Fixed, Gauge>,
    pub db_wait_seconds: Histogram,
    /// Requests answered 503 at once because the database was down.
    pub db_fast_failures: Counter,
    pub database_unreachable: Gauge,
    pub change_feed_lag_seconds: Gauge<f64, AtomicU64>,
    pub revoked_sessions: Gauge,
    pub cached_users: Gauge,
    /// `result`: hit, miss.
    pub verified_token_cache: Family<Fixed, Counter>,
    /// The cache's two series, held: every verify and Bearer call counts
    /// one, and a family lookup per call showed in the verify benchmark.
    pub verified_token_cache_hits: Counter,
    pub verified_token_cache_misses: Counter,
    pub key_set_version: Gauge,
    /// `outcome`: reloaded, refused.
    pub key_set_reloads: Family<Fixed, Counter>,
    /// `event`: the audit event's name.
    pub audit_events: Family<Fixed, Counter>,
    /// Audit rows that could not be stored (the buffer was full).
    pub audit_rows_dropped: Counter,
    /// 1 while limits are counted in the shared store (Redis).
    pub throttle_store_shared: Gauge,
    pub throttle_store_fallbacks: Counter,
}

fn request_timings() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let metrics = Self {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(request_timings),
            logins: Family::default(),
            tokens_issued: Family::default(),
            refreshes: Family::default(),
            refresh_reuse: Counter::default(),
            sessions_ended: Family::default(),
            hashes_running: Gauge::default(),
            hashes_waiting: Gauge::default(),
            hashes_refused: Counter::default(),
            db_connections: Family::default(),
            db_wait_seconds: Histogram::new(exponential_buckets(0.0001, 4.0, 10)),
            db_fast_failures: Counter::default(),
            database_unreachable: Gauge::default(),
            change_feed_lag_seconds: Gauge::default(),
            revoked_sessions: Gauge::default(),
            cached_users: Gauge::default(),
            verified_token_cache: Family::default(),
            verified_token_cache_hits: Counter::default(),
            verified_token_cache_misses: Counter::default(),
            key_set_version: Gauge::default(),
            key_set_reloads: Family::default(),
            audit_events: Family::default(),
            audit_rows_dropped: Counter::default(),
            throttle_store_shared: Gauge::default(),
            throttle_store_fallbacks: Counter::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status class",
            metrics.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            metrics.request_seconds.clone(),
        );
        r.register(
            "logins",
            "Login attempts, by outcome",
            metrics.logins.clone(),
        );
        r.register(
            "tokens_issued",
            "Tokens signed, by token type",
            metrics.tokens_issued.clone(),
        );
        r.register(
            "refreshes",
            "Refresh requests, by outcome",
            metrics.refreshes.clone(),
        );
        r.register(
            "refresh_reuse_detected",
            "Rotated-out refresh tokens presented again after the grace window (each ends its session)",
            metrics.refresh_reuse.clone(),
        );
        r.register(
            "sessions_ended",
            "Sessions ended, by reason",
            metrics.sessions_ended.clone(),
        );
        r.register(
            "password_hashes_running",
            "Password hashes running now",
            metrics.hashes_running.clone(),
        );
        r.register(
            "password_hashes_waiting",
            "Password hashes waiting for a hashing slot now",
            metrics.hashes_waiting.clone(),
        );
        r.register(
            "password_hashes_refused",
            "Password hashes refused because no slot came free in time (answered 503)",
            metrics.hashes_refused.clone(),
        );
        r.register(
            "database_connections",
            "Database pool connections, by state",
            metrics.db_connections.clone(),
        );
        r.register(
            "database_connection_wait_seconds",
            "Time requests waited for a pooled database connection",
            metrics.db_wait_seconds.clone(),
        );
        r.register(
            "database_fast_failures",
            "Requests answered 503 at once because the database was unreachable",
            metrics.db_fast_failures.clone(),
        );
        r.register(
            "database_unreachable",
            "1 while the database is unreachable (requests needing it fail fast), else 0",
            metrics.database_unreachable.clone(),
        );
        r.register(
            "change_feed_lag_seconds",
            "Seconds since this instance last read the change feed",
            metrics.change_feed_lag_seconds.clone(),
        );
        r.register(
            "revoked_sessions",
            "Ended sessions held in memory (their access tokens are refused)",
            metrics.revoked_sessions.clone(),
        );
        r.register(
            "cached_users",
            "Users held in the in-memory directory",
            metrics.cached_users.clone(),
        );
        r.register(
            "verified_token_cache",
            "Access-token checks answered from the verified-token cache (hit) or by checking the signature (miss)",
            metrics.verified_token_cache.clone(),
        );
        r.register(
            "key_set_version",
            "The signing key set in use: 1 at start, one more at each reload",
            metrics.key_set_version.clone(),
        );
        r.register(
            "key_set_reloads",
            "Key set reloads (SIGHUP), by outcome",
            metrics.key_set_reloads.clone(),
        );
        r.register(
            "audit_events",
            "Audit events recorded, by event",
            metrics.audit_events.clone(),
        );
        r.register(
            "audit_rows_dropped",
            "Audit events not stored in the audit table because its write buffer was full",
            metrics.audit_rows_dropped.clone(),
        );
        r.register(
            "throttle_store_shared",
            "1 while rate limits are counted in the shared store (Redis); 0 while they count in this instance's memory",
            metrics.throttle_store_shared.clone(),
        );
        r.register(
            "throttle_store_fallbacks",
            "Redis calls of the rate limits that failed or timed out (limits then count in memory for a second)",
            metrics.throttle_store_fallbacks.clone(),
        );
        // One at a time: the guard get_or_create returns holds the family's
        // lock, and creating the next series takes it for writing.
        let hits = metrics
            .verified_token_cache
            .get_or_create(&[("result", "hit")])
            .clone();
        let misses = metrics
            .verified_token_cache
            .get_or_create(&[("result", "miss")])
            .clone();
        Self {
            registry: std::mem::take(&mut registry),
            verified_token_cache_hits: hits,
            verified_token_cache_misses: misses,
            ..metrics
        }
    }

    /// Counts one of a fixed-label family's values.
    pub fn count(family: &Family<Fixed, Counter>, label: &'static str, value: &'static str) {
        family.get_or_create(&[(label, value)]).inc();
    }

    /// The text exposition of every series, with the gauges set from
    /// `readings` first.
    pub fn render(&self, readings: &Readings) -> String {
        self.db_connections
            .get_or_create(&[("state", "in_use")])
            .set(gauge_value(readings.connections_in_use));
        self.db_connections
            .get_or_create(&[("state", "idle")])
            .set(gauge_value(readings.connections_idle));
        self.database_unreachable
            .set(i64::from(readings.database_unreachable));
        self.change_feed_lag_seconds
            .set(readings.change_feed_lag_seconds);
        self.revoked_sessions
            .set(gauge_value(readings.revoked_sessions));
        self.cached_users.set(gauge_value(readings.cached_users));
        self.hashes_running
            .set(gauge_value(readings.hashes_running));
        self.hashes_waiting
            .set(gauge_value(readings.hashes_waiting));
        self.key_set_version
            .set(i64::try_from(readings.key_set_version).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn gauge_value(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// State kept elsewhere, read at scrape time.
#[derive(Debug, Default)]
pub struct Readings {
    pub connections_in_use: usize,
    pub connections_idle: usize,
    pub database_unreachable: bool,
    pub change_feed_lag_seconds: f64,
    pub revoked_sessions: usize,
    pub cached_users: usize,
    pub hashes_running: usize,
    pub hashes_waiting: usize,
    pub key_set_version: u64,
}

/// The status class label of an HTTP status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The route label of a request no route took.
pub const UNMATCHED: &str = "unmatched";

/// The method label: the methods latchkey serves, every other one as `other`.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_registry_renders_every_series_with_the_prefix_and_the_gauges_read() {
        let metrics = Metrics::new();
        Metrics::count(&metrics.logins, "outcome", "succeeded");
        let text = metrics.render(&Readings {
            revoked_sessions: 3,
            key_set_version: 2,
            ..Readings::default()
        });
        assert!(text.contains("latchkey_logins_total{outcome=\"succeeded\"} 1"));
        assert!(text.contains("latchkey_revoked_sessions 3"));
        assert!(text.contains("latchkey_key_set_version 2"));
        assert!(text.contains("latchkey_database_connections{state=\"idle\"} 0"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn labels_take_known_values_only() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(503), "5xx");
        let odd = actix_web::http::Method::from_bytes(b"BREW").expect("a method");
        assert_eq!(method_label(&odd), "other");
    }
}

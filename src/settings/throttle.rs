//! `[throttle]`: login, refresh and signup limits, the hashing slots, and the
//! proxies whose forwarding header names the client.

use ipnet::IpNet;
use serde::Deserialize;

use super::values::{forwarding_header, networks};
use crate::throttle::client_ip::{ForwardingHeader, TrustedProxies};
use crate::throttle::{Limits, Rate};

/// A GCRA budget, as `crate::throttle` counts it.
pub type RateSettings = Rate;

#[derive(Clone, Debug, Deserialize)]
pub struct ThrottleSettings {
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<IpNet>,
    #[serde(deserialize_with = "forwarding_header")]
    pub forwarding_header: ForwardingHeader,
    pub login_attempts: Rate,
    pub login_failures: Rate,
    pub account_failures: Rate,
    pub refresh: Rate,
    pub signups: Rate,
    pub max_concurrent_hashes: usize,
    pub hash_wait_ms: u64,
    pub prune_interval_seconds: u64,
    /// `memory`, or a Redis URL every instance shares.
    pub store: LimiterStore,
    pub redis_key_prefix: String,
    pub redis_timeout_ms: u64,
}

/// `throttle.store`: `memory` or a Redis URL, which may carry a password
/// (its `Debug` shows the scheme only).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct LimiterStore(pub String);

impl std::fmt::Debug for LimiterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.0.split(':').next().unwrap_or_default();
        write!(f, "LimiterStore({scheme}…)")
    }
}

impl ThrottleSettings {
    pub fn limits(&self) -> Limits {
        Limits {
            login_attempts: self.login_attempts,
            login_failures: self.login_failures,
            account_failures: self.account_failures,
            refresh: self.refresh,
            signups: self.signups,
        }
    }

    pub fn proxies(&self) -> TrustedProxies {
        TrustedProxies::new(self.trusted_proxies.clone(), self.forwarding_header)
    }

    /// Login hashes at once: `max_concurrent_hashes`, or one per core when 0.
    pub fn hash_slots(&self) -> usize {
        match self.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            slots => slots,
        }
    }

    /// The Redis URL limits are shared through; `None` for `memory`.
    pub fn shared_store(&self) -> Option<&str> {
        (self.store.0 != "memory").then_some(self.store.0.as_str())
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if let Some(url) = self.shared_store() {
            let scheme = url.split("://").next().unwrap_or_default();
            if !matches!(scheme, "redis" | "redis+unix" | "unix")
                || redis::Client::open(url).is_err()
            {
                return Err(
                    "throttle.store must be \"memory\" or a Redis URL (redis://[:password@]host[:port][/db] or redis+unix:///path)"
                        .to_owned(),
                );
            }
        }
        if !(10..=5000).contains(&self.redis_timeout_ms) {
            return Err("throttle.redis_timeout_ms must be between 10 and 5000".to_owned());
        }
        if self.prune_interval_seconds == 0 {
            return Err(
                "throttle.prune_interval_seconds must be at least 1: unpruned limiter state grows with every new address"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

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

    pub(super) fn validate(&self) -> Result<(), String> {
        if self.prune_interval_seconds == 0 {
            return Err(
                "throttle.prune_interval_seconds must be at least 1: unpruned limiter state grows with every new address"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

//! `AppState`: the one place shared things live, built once per application
//! so tests can run several apps with different settings side by side.

use std::sync::Arc;

use crate::audit::Audit;
use crate::db::Database;
use crate::metrics::Metrics;
use crate::passwords::HashingPool;
use crate::sessions::Sessions;
use crate::settings::Settings;
use crate::throttle::Throttle;
use crate::throttle::client_ip::TrustedProxies;
use crate::throttle::connections::ConnectionCounter;
use crate::tokens::TokenService;
use crate::users::Users;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// Logins, refreshes, logouts and whether a token is live.
    pub sessions: Arc<Sessions>,
    /// Users and their profiles: the admin API, password changes, signup.
    pub users: Arc<Users>,
    /// Signing and checking tokens; the key set (JWKS, discovery).
    pub tokens: Arc<TokenService>,
    pub proxies: Arc<TrustedProxies>,
    pub throttle: Arc<Throttle>,
    /// Open connections per client address.
    pub connections: Arc<ConnectionCounter>,
    pub metrics: Arc<Metrics>,
    pub audit: Arc<Audit>,
    /// Where password hashes run (its load, for the metrics).
    pub hashing: Arc<HashingPool>,
    /// The app's own pool, for tests that must hold or share it; requests
    /// reach the database through `sessions` and `users` only.
    pub db: Database,
}

impl AppState {
    /// What `/metrics` reports of state kept elsewhere, read now.
    pub fn readings(&self) -> crate::metrics::Readings {
        let (connections_in_use, connections_idle) = self.db.connections();
        let (revoked_sessions, cached_users, lag) = self.sessions.readings();
        let (hashes_waiting, hashes_running) = self.hashing.load();
        crate::metrics::Readings {
            connections_in_use,
            connections_idle,
            database_unreachable: self.db.is_unreachable(),
            change_feed_lag_seconds: lag.as_secs_f64(),
            revoked_sessions,
            cached_users,
            hashes_running,
            hashes_waiting,
            key_set_version: self.tokens.keys().version,
        }
    }
}

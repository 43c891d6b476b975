//! `AppState`: the one place shared things live, built once per application
//! so tests can run several apps with different settings side by side.

use std::sync::Arc;

use crate::client_ip::TrustedProxies;
use crate::connections::ConnectionCounter;
use crate::db::Database;
use crate::db::rotations::RotationBatcher;
use crate::directory::UserDirectory;
use crate::passwords::{HashingPool, PasswordHasher};
use crate::revocation::RevokedSessions;
use crate::settings::Settings;
use crate::throttle::Throttle;
use crate::tokens::TokenService;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Database,
    pub tokens: Arc<TokenService>,
    pub hasher: PasswordHasher,
    pub directory: Arc<UserDirectory>,
    pub revoked: Arc<RevokedSessions>,
    /// Group commit for default rotations, on PostgreSQL.
    pub rotations: Option<Arc<RotationBatcher>>,
    pub proxies: Arc<TrustedProxies>,
    pub throttle: Arc<Throttle>,
    /// Where login password hashes run, at most `throttle.max_concurrent_hashes` at once.
    pub hashing: Arc<HashingPool>,
    /// Open connections per client address.
    pub connections: Arc<ConnectionCounter>,
}

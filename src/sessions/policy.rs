//! What the session service is told by the settings, read once: the session
//! rules, and the upkeep of this instance's memory and of the tables.

use std::time::Duration;

use crate::settings::Settings;
use crate::users::TokenClaims;

/// The rules sessions follow.
#[derive(Clone, Debug)]
pub struct SessionPolicy {
    /// A refresh issues a new refresh token (`jwt.rotate_refresh_tokens`).
    pub rotate: bool,
    /// A rotated refresh token is retired (`jwt.blacklist_after_rotation`).
    pub retire_rotated: bool,
    /// Inactive users' tokens are refused (`jwt.check_user_is_active`).
    pub require_active_user: bool,
    /// Unknown, validly signed refresh tokens are adopted
    /// (`jwt.adopt_unknown_refresh_tokens`).
    pub adopt_unknown: bool,
    pub update_last_login: bool,
    /// How long a login lasts at most, whatever its refreshes.
    pub session_lifetime: chrono::Duration,
    /// How long a rotated-out refresh token may be presented again.
    pub reuse_grace: chrono::Duration,
    /// What access tokens carry of their user (`jwt.user_claims`).
    pub token_claims: TokenClaims,
    /// How long after a sliding login its token may still be refreshed
    /// (`sliding.refresh_lifetime_seconds`).
    pub sliding_refresh_lifetime: chrono::Duration,
}

/// How this instance keeps its memory and the tables in order.
#[derive(Clone, Debug)]
pub struct Upkeep {
    /// How often the change feed is read.
    pub sync_interval: Duration,
    /// Users kept in the directory at most.
    pub users_capacity: usize,
    /// How long an ended session is remembered: until every access (or
    /// sliding) token issued in it has expired (lifetime plus leeway).
    pub token_lifetime_seconds: i64,
    /// How often expired rows are deleted; `None`: never.
    pub cleanup_interval: Option<Duration>,
    /// Clock skew tolerated on `exp`: expired rows stay this much longer.
    pub leeway: chrono::Duration,
}

impl SessionPolicy {
    pub fn from_settings(settings: &Settings) -> Self {
        let jwt = &settings.jwt;
        Self {
            rotate: jwt.rotate_refresh_tokens,
            retire_rotated: jwt.rotate_refresh_tokens && jwt.blacklist_after_rotation,
            require_active_user: jwt.check_user_is_active,
            adopt_unknown: jwt.adopt_unknown_refresh_tokens,
            update_last_login: jwt.update_last_login,
            session_lifetime: chrono::Duration::seconds(
                settings.sessions.absolute_lifetime_seconds,
            ),
            reuse_grace: chrono::Duration::seconds(settings.sessions.reuse_grace_seconds),
            token_claims: TokenClaims::new(jwt.user_claims.clone(), jwt.configured_claim_names()),
            sliding_refresh_lifetime: chrono::Duration::seconds(
                settings.sliding.refresh_lifetime_seconds,
            ),
        }
    }
}

impl Upkeep {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            sync_interval: settings.cache.sync_interval(),
            users_capacity: settings.cache.users_capacity,
            // Sliding tokens' lifetime whether or not the mode is on now:
            // ones issued before it was turned off stay checked.
            token_lifetime_seconds: settings
                .jwt
                .access_token_lifetime_seconds
                .max(settings.sliding.lifetime_seconds),
            cleanup_interval: (settings.sessions.cleanup_interval_seconds > 0)
                .then(|| Duration::from_secs(settings.sessions.cleanup_interval_seconds)),
            leeway: settings.jwt.leeway(),
        }
    }
}

//! The session rules, read once from the settings.

use std::time::Duration;

use crate::settings::Settings;

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
    /// Clock skew tolerated on `exp`; expired rows stay this much longer.
    pub leeway: chrono::Duration,
    /// How often expired rows are deleted; `None` never.
    pub cleanup_interval: Option<Duration>,
    /// How often the change feed is read.
    pub sync_interval: Duration,
    pub users_capacity: usize,
    pub access_lifetime_seconds: i64,
    pub leeway_seconds: u64,
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
            leeway: jwt.leeway(),
            cleanup_interval: (settings.sessions.cleanup_interval_seconds > 0)
                .then(|| Duration::from_secs(settings.sessions.cleanup_interval_seconds)),
            sync_interval: settings.cache.sync_interval(),
            users_capacity: settings.cache.users_capacity,
            access_lifetime_seconds: jwt.access_token_lifetime_seconds,
            leeway_seconds: jwt.leeway_seconds,
        }
    }
}

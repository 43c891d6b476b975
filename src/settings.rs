//! Typed settings: the defaults file compiled into the binary, then
//! `config/<environment>.toml`, then `LATCHKEY_`-prefixed environment variables.
//! [`Settings::validate`] refuses unsafe combinations before anything starts.

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

/// The documented defaults; the same file ships as `config/default.toml`.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// Smallest HMAC secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub environment: String,
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub jwt: JwtSettings,
    pub sessions: SessionSettings,
    pub cache: CacheSettings,
    pub passwords: PasswordSettings,
    pub log: LogSettings,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    pub workers: usize,
    pub max_body_bytes: usize,
}

#[derive(Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_seconds: u64,
    pub migrate_on_start: bool,
    pub rotation_writers: usize,
}

// The URL may carry a password: print the scheme only.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.url.split(':').next().unwrap_or_default();
        f.debug_struct("DatabaseSettings")
            .field("url", &format_args!("{scheme}:…"))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_seconds", &self.connect_timeout_seconds)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("rotation_writers", &self.rotation_writers)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
pub struct JwtSettings {
    pub algorithm: String,
    pub signing_key: String,
    pub key_id: String,
    pub access_token_lifetime_seconds: i64,
    pub refresh_token_lifetime_seconds: i64,
    pub rotate_refresh_tokens: bool,
    pub blacklist_after_rotation: bool,
    pub update_last_login: bool,
    pub issuer: String,
    pub audience: String,
    pub leeway_seconds: u64,
    pub auth_header_types: Vec<String>,
    pub user_id_claim: String,
    pub token_type_claim: String,
    pub jti_claim: String,
    pub check_user_is_active: bool,
    pub adopt_unknown_refresh_tokens: bool,
    pub verified_token_cache_capacity: usize,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("algorithm", &self.algorithm)
            .field("signing_key", &"<redacted>")
            .field("key_id", &self.key_id)
            .field(
                "access_token_lifetime_seconds",
                &self.access_token_lifetime_seconds,
            )
            .field(
                "refresh_token_lifetime_seconds",
                &self.refresh_token_lifetime_seconds,
            )
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SessionSettings {
    pub absolute_lifetime_seconds: i64,
    pub reuse_grace_seconds: i64,
    pub cleanup_interval_seconds: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CacheSettings {
    pub sync_interval_ms: u64,
    pub users_capacity: usize,
}

impl CacheSettings {
    pub fn sync_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.sync_interval_ms)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct PasswordSettings {
    pub iterations: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LogSettings {
    pub filter: String,
    pub format: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("could not read the configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads the layered configuration from `config_dir` (normally `./config`).
    /// A missing directory or overlay file is fine: the compiled-in defaults stand.
    pub fn load(config_dir: &Path) -> Result<Self, SettingsError> {
        let environment =
            std::env::var("LATCHKEY_ENVIRONMENT").unwrap_or_else(|_| "development".to_owned());
        let overlay = config_dir.join(format!("{environment}.toml"));
        let settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::from(overlay).format(FileFormat::Toml).required(false))
            .add_source(
                Environment::with_prefix("LATCHKEY")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("jwt.auth_header_types"),
            )
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The compiled-in defaults alone, for tests and tools that adjust them in code.
    pub fn defaults() -> Self {
        Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .and_then(Config::try_deserialize)
            .expect("config/default.toml is valid")
    }

    pub fn is_production(&self) -> bool {
        self.environment == "production"
    }

    /// Refuses settings that would run an unsafe or broken service, naming the fix.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |message: String| Err(SettingsError::Invalid(message));
        if !matches!(self.environment.as_str(), "development" | "production") {
            return invalid(format!(
                "environment is {:?}; set LATCHKEY_ENVIRONMENT to \"development\" or \"production\"",
                self.environment
            ));
        }
        if self.is_production() && self.database.url.trim().is_empty() {
            return invalid(
                "production needs an explicit database; set LATCHKEY_DATABASE__URL".to_owned(),
            );
        }
        if self.is_production() && self.jwt.signing_key.is_empty() {
            return invalid(
                "production needs an explicit signing key; set LATCHKEY_JWT__SIGNING_KEY to a random secret of at least 32 bytes"
                    .to_owned(),
            );
        }
        if !self.jwt.signing_key.is_empty() && self.jwt.signing_key.len() < MIN_HMAC_SECRET_BYTES {
            return invalid(format!(
                "jwt.signing_key is {} bytes; an HMAC secret must be at least {MIN_HMAC_SECRET_BYTES} bytes (generate one with `openssl rand -base64 48`)",
                self.jwt.signing_key.len()
            ));
        }
        if crate::tokens::parse_algorithm(&self.jwt.algorithm).is_none() {
            return invalid(format!(
                "jwt.algorithm is {:?}; use HS256, HS384 or HS512",
                self.jwt.algorithm
            ));
        }
        if self.jwt.access_token_lifetime_seconds <= 0
            || self.jwt.refresh_token_lifetime_seconds <= 0
        {
            return invalid("jwt token lifetimes must be positive numbers of seconds".to_owned());
        }
        if self
            .jwt
            .auth_header_types
            .iter()
            .all(|t| t.trim().is_empty())
        {
            return invalid(
                "jwt.auth_header_types is empty; list at least one scheme, e.g. [\"Bearer\"]"
                    .to_owned(),
            );
        }
        let claims = [
            &self.jwt.user_id_claim,
            &self.jwt.token_type_claim,
            &self.jwt.jti_claim,
        ];
        if claims.iter().any(|c| c.is_empty())
            || claims[0] == claims[1]
            || claims[0] == claims[2]
            || claims[1] == claims[2]
        {
            return invalid(
                "jwt.user_id_claim, jwt.token_type_claim and jwt.jti_claim must be distinct, non-empty names"
                    .to_owned(),
            );
        }
        if self.sessions.absolute_lifetime_seconds < self.jwt.refresh_token_lifetime_seconds {
            return invalid(
                "sessions.absolute_lifetime_seconds must be at least jwt.refresh_token_lifetime_seconds"
                    .to_owned(),
            );
        }
        if !(0..=300).contains(&self.sessions.reuse_grace_seconds) {
            return invalid(
                "sessions.reuse_grace_seconds must be between 0 and 300; a long grace lets a stolen token be replayed"
                    .to_owned(),
            );
        }
        if !(10..=60_000).contains(&self.cache.sync_interval_ms) {
            return invalid(
                "cache.sync_interval_ms must be between 10 and 60000 milliseconds".to_owned(),
            );
        }
        if self.passwords.iterations == 0 {
            return invalid("passwords.iterations must be at least 1".to_owned());
        }
        if self.database.pool_size == 0 {
            return invalid("database.pool_size must be at least 1".to_owned());
        }
        if !(1..=32).contains(&self.database.rotation_writers) {
            return invalid("database.rotation_writers must be between 1 and 32".to_owned());
        }
        if self.server.max_body_bytes < 256 {
            return invalid("server.max_body_bytes must be at least 256".to_owned());
        }
        if !self.database.url.trim().is_empty() {
            crate::db::Backend::from_url(&self.database.url)
                .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        }
        Ok(())
    }

    /// The database URL to use: the configured one, or in development the SQLite
    /// file under `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database.url.trim().is_empty() {
            format!(
                "sqlite://{}",
                self.data_dir.join("latchkey.sqlite3").display()
            )
        } else {
            self.database.url.trim().to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::defaults().validate().expect("defaults validate");
    }

    #[test]
    fn short_secret_is_refused_with_the_fix() {
        let mut settings = Settings::defaults();
        settings.jwt.signing_key = "too-short".to_owned();
        let message = settings.validate().expect_err("refused").to_string();
        assert!(message.contains("at least 32 bytes"), "{message}");
    }

    #[test]
    fn production_requires_secret_and_database() {
        let mut settings = Settings::defaults();
        settings.environment = "production".to_owned();
        let message = settings.validate().expect_err("refused").to_string();
        assert!(message.contains("LATCHKEY_DATABASE__URL"), "{message}");
        settings.database.url = "postgres://localhost/latchkey".to_owned();
        let message = settings.validate().expect_err("refused").to_string();
        assert!(message.contains("LATCHKEY_JWT__SIGNING_KEY"), "{message}");
        settings.jwt.signing_key = "x".repeat(32);
        settings
            .validate()
            .expect("complete production settings validate");
    }

    #[test]
    fn unknown_database_scheme_is_refused() {
        let mut settings = Settings::defaults();
        settings.database.url = "mysql://localhost/db".to_owned();
        let message = settings.validate().expect_err("refused").to_string();
        assert!(message.contains("mysql"), "{message}");
    }
}

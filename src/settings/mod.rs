//! Typed settings: the defaults file compiled into the binary, then
//! `config/<environment>.toml`, then `LATCHKEY_`-prefixed environment
//! variables. Values are parsed into their types once, at load (algorithms,
//! networks, the forwarding header: [`values`]); [`Settings::validate`] then
//! asks each section ([`server`], [`database`], [`jwt`], ...) to refuse
//! unsafe combinations before anything starts, and [`production`] adds what
//! production refuses.

mod browser;
mod clients;
mod database;
mod jwt;
mod modes;
mod production;
mod server;
mod sessions;
mod throttle;
mod values;

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::db::DatabaseUrl;
use crate::passwords::{PasswordHasher, PasswordRules, Scheme};
pub use browser::{CookieSettings, CorsSettings};
pub use clients::{AdminSettings, ClientSettings, IntrospectionSettings};
pub use database::DatabaseSettings;
pub use jwt::{JwtSettings, KeySettings, MAX_KID_BYTES};
pub use modes::{DrfTokenSettings, SlidingSettings};
pub use production::{
    MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS, MAX_PRODUCTION_LEEWAY_SECONDS,
    MIN_PRODUCTION_ITERATIONS,
};
pub use server::ServerSettings;
pub use sessions::{CacheSettings, SessionSettings};
pub use throttle::{RateSettings, ThrottleSettings};

/// The documented defaults; the same file ships as `config/default.toml`.
const DEFAULTS: &str = include_str!("../../config/default.toml");

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
    pub introspection: IntrospectionSettings,
    pub admin: AdminSettings,
    pub signup: SignupSettings,
    pub sliding: SlidingSettings,
    pub drf_token: DrfTokenSettings,
    pub cookies: CookieSettings,
    pub cors: CorsSettings,
    pub throttle: ThrottleSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub audit: AuditSettings,
    /// Where these settings were loaded from, to read them again (the key
    /// set, on SIGHUP); `None` for settings built in code.
    #[serde(skip)]
    pub config_dir: Option<PathBuf>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Clone, Debug, Deserialize)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// Empty: `/metrics` on the API's own listener; else only on this address.
    pub bind: String,
}

/// `[audit]`: whether audit events are also stored, and for how long.
#[derive(Clone, Debug, Deserialize)]
pub struct AuditSettings {
    pub store: bool,
    pub retention_days: u32,
}

impl MetricsSettings {
    fn validate(&self) -> Result<(), String> {
        if !self.bind.is_empty() && self.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "metrics.bind is {:?}; give an address and port, e.g. \"127.0.0.1:9100\", or leave it empty",
                self.bind
            ));
        }
        Ok(())
    }
}

impl AuditSettings {
    fn validate(&self) -> Result<(), String> {
        if self.retention_days == 0 {
            return Err("audit.retention_days must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// `[signup]`: whether anyone may create their own account.
#[derive(Clone, Debug, Deserialize)]
pub struct SignupSettings {
    pub enabled: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PasswordSettings {
    /// `pbkdf2_sha256` or `argon2`: how new hashes are written.
    pub hasher: String,
    pub iterations: u32,
    pub argon2_memory_kib: u32,
    pub argon2_time_cost: u32,
    pub argon2_parallelism: u32,
    pub min_length: usize,
    pub refuse_numeric: bool,
    pub max_similarity: f64,
    pub min_strength: u8,
}

impl PasswordSettings {
    /// The hasher new passwords are hashed with, which also checks every
    /// Django format.
    pub fn hasher(&self) -> PasswordHasher {
        let scheme = if self.hasher == "argon2" {
            Scheme::Argon2id {
                memory_kib: self.argon2_memory_kib,
                time_cost: self.argon2_time_cost,
                parallelism: self.argon2_parallelism,
            }
        } else {
            Scheme::Pbkdf2Sha256 {
                iterations: std::num::NonZeroU32::new(self.iterations)
                    .unwrap_or(std::num::NonZeroU32::MIN),
            }
        };
        PasswordHasher::with_scheme(scheme)
    }

    /// The rules a new password is checked by.
    pub fn rules(&self) -> PasswordRules {
        PasswordRules {
            min_length: self.min_length,
            refuse_numeric: self.refuse_numeric,
            max_similarity: self.max_similarity,
            min_strength: self.min_strength,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.hasher != "pbkdf2_sha256" && self.hasher != "argon2" {
            return Err(format!(
                "passwords.hasher is {:?}; choose \"pbkdf2_sha256\" or \"argon2\"",
                self.hasher
            ));
        }
        if self.iterations == 0 {
            return Err("passwords.iterations must be at least 1".to_owned());
        }
        // Argon2's own bounds, and what a stored hash may ask of a check.
        if !(1..=64).contains(&self.argon2_parallelism)
            || self.argon2_time_cost == 0
            || self.argon2_time_cost > 64
            || self.argon2_memory_kib < 8 * self.argon2_parallelism
            || self.argon2_memory_kib > 1024 * 1024
        {
            return Err("passwords.argon2_*: parallelism 1..64, time cost 1..64, memory from 8 KiB per lane up to 1048576 KiB".to_owned());
        }
        // Django refuses a similarity below 0.1 as meaningless.
        if self.max_similarity != 0.0 && !(0.1..=1.0).contains(&self.max_similarity) {
            return Err("passwords.max_similarity must be 0 (off) or between 0.1 and 1".to_owned());
        }
        if self.min_strength > 4 {
            return Err("passwords.min_strength must be between 0 and 4".to_owned());
        }
        Ok(())
    }
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
        Self::load_with(config_dir, None)
    }

    /// [`Self::load`] reading the variables from `variables` instead of the
    /// process environment when given.
    pub fn load_with(
        config_dir: &Path,
        variables: Option<config::Map<String, String>>,
    ) -> Result<Self, SettingsError> {
        let environment = match &variables {
            Some(variables) => variables.get("LATCHKEY_ENVIRONMENT").cloned(),
            None => std::env::var("LATCHKEY_ENVIRONMENT").ok(),
        }
        .unwrap_or_else(|| "development".to_owned());
        let overlay = config_dir.join(format!("{environment}.toml"));
        let mut settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::from(overlay).format(FileFormat::Toml).required(false))
            .add_source(
                Environment::with_prefix("LATCHKEY")
                    .source(variables)
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        settings.config_dir = Some(config_dir.to_owned());
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
        if !matches!(self.environment.as_str(), "development" | "production") {
            return Err(SettingsError::Invalid(format!(
                "environment is {:?}; set LATCHKEY_ENVIRONMENT to \"development\" or \"production\"",
                self.environment
            )));
        }
        if self.is_production() {
            self.production_requirements()
                .map_err(SettingsError::Invalid)?;
        }
        self.jwt
            .validate()
            .and_then(|()| self.introspection.validate())
            .and_then(|()| self.admin.validate())
            .and_then(|()| {
                self.sliding
                    .validate(self.sessions.absolute_lifetime_seconds)
            })
            .and_then(|()| self.drf_token.validate())
            .and_then(|()| self.cookies.validate())
            .and_then(|()| self.cors.validate())
            .and_then(|()| self.throttle.validate())
            .and_then(|()| self.server.validate())
            .and_then(|()| {
                self.sessions
                    .validate(self.jwt.refresh_token_lifetime_seconds)
            })
            .and_then(|()| self.cache.validate())
            .and_then(|()| self.passwords.validate())
            .and_then(|()| self.database.validate())
            .and_then(|()| self.metrics.validate())
            .and_then(|()| self.audit.validate())
            .map_err(SettingsError::Invalid)
    }

    /// The database to use: the configured one, or in development the SQLite
    /// file under `data_dir`.
    pub fn database_url(&self) -> DatabaseUrl {
        match &self.database.url {
            Some(url) => url.clone(),
            None => DatabaseUrl::sqlite_file(&self.data_dir.join("latchkey.sqlite3")),
        }
    }
}

#[cfg(test)]
mod tests;

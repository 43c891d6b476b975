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

/// Longest key id accepted in configuration.
pub const MAX_KID_BYTES: usize = 128;

/// Production's floor for PBKDF2-HMAC-SHA256 iterations (OWASP, 2023).
pub const MIN_PRODUCTION_ITERATIONS: u32 = 600_000;
/// Production's ceiling for `jwt.leeway_seconds`.
pub const MAX_PRODUCTION_LEEWAY_SECONDS: u64 = 300;
/// Production's ceiling for the access-token lifetime: a day.
pub const MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS: i64 = 86_400;
/// A secret with fewer distinct bytes than this was typed, not generated: 64
/// random hex digits have all 16, random base64 dozens.
const MIN_SECRET_DISTINCT_BYTES: usize = 10;

fn distinct_bytes(secret: &str) -> usize {
    let mut seen = [false; 256];
    secret.bytes().for_each(|b| seen[usize::from(b)] = true);
    seen.iter().filter(|&&s| s).count()
}

/// Obviously low entropy: few distinct bytes (a repeated character, a short
/// word repeated to length).
fn looks_guessable(secret: &str) -> bool {
    distinct_bytes(secret) < MIN_SECRET_DISTINCT_BYTES
}

fn is_hmac(algorithm: jsonwebtoken::Algorithm) -> bool {
    use jsonwebtoken::Algorithm::{HS256, HS384, HS512};
    matches!(algorithm, HS256 | HS384 | HS512)
}

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
    pub throttle: ThrottleSettings,
    pub log: LogSettings,
}

/// Login abuse protection; see `crate::throttle`.
#[derive(Clone, Debug, Deserialize)]
pub struct ThrottleSettings {
    #[serde(deserialize_with = "strings_or_json")]
    pub trusted_proxies: Vec<String>,
    pub forwarding_header: String,
    pub login_attempts: RateSettings,
    pub login_failures: RateSettings,
    pub account_failures: RateSettings,
    pub refresh: RateSettings,
    pub max_concurrent_hashes: usize,
    pub hash_wait_ms: u64,
    pub prune_interval_seconds: u64,
}

/// A GCRA budget: `per_minute` events on average, up to `burst` at once.
/// `per_minute = 0` turns the limit off.
#[derive(Clone, Debug, Deserialize)]
pub struct RateSettings {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub public_url: String,
    pub body_timeout_ms: u64,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
}

impl ServerSettings {
    /// The HTTP worker threads: `workers`, or one per core when 0.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            workers => workers,
        }
    }
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
    #[serde(deserialize_with = "strings_or_json")]
    pub auth_header_types: Vec<String>,
    pub user_id_claim: String,
    pub token_type_claim: String,
    pub jti_claim: String,
    pub check_user_is_active: bool,
    pub adopt_unknown_refresh_tokens: bool,
    pub verified_token_cache_capacity: usize,
    pub signing_kid: String,
    #[serde(deserialize_with = "list_or_json")]
    pub keys: Vec<KeySettings>,
    pub jwks_max_age_seconds: u64,
}

/// One entry of `jwt.keys`: a named key with exactly one algorithm and
/// exactly one source of key material.
#[derive(Clone, Deserialize)]
pub struct KeySettings {
    pub kid: String,
    pub algorithm: String,
    /// A PEM file: a PKCS#8 private key (the key can sign) or a public key
    /// (verify only).
    #[serde(default)]
    pub file: String,
    /// The same PEM text inline.
    #[serde(default)]
    pub pem: String,
    /// An HMAC secret (HS256/384/512 only).
    #[serde(default)]
    pub secret: String,
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySettings")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Callers allowed to use the introspection endpoint (HTTP Basic).
#[derive(Clone, Debug, Deserialize)]
pub struct IntrospectionSettings {
    #[serde(deserialize_with = "list_or_json")]
    pub clients: Vec<ClientSettings>,
}

#[derive(Clone, Deserialize)]
pub struct ClientSettings {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A list of tables, from a config file as a TOML array, or from an
/// environment variable (which cannot hold one) as a JSON array string.
fn list_or_json<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrJson<T> {
        List(Vec<T>),
        Json(String),
    }
    match ListOrJson::<T>::deserialize(deserializer)? {
        ListOrJson::List(list) => Ok(list),
        ListOrJson::Json(text) if text.trim().is_empty() => Ok(Vec::new()),
        ListOrJson::Json(text) => serde_json::from_str(&text).map_err(|error| {
            serde::de::Error::custom(format!("expected a JSON array of tables: {error}"))
        }),
    }
}

/// A list of strings: a TOML array from a file, or from an environment
/// variable a JSON array (`["Bearer","JWT"]`) or comma-separated text
/// (`Bearer,JWT`).
fn strings_or_json<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringsOrText {
        List(Vec<String>),
        Text(String),
        // The environment source reads `1` or `true` as a number or a flag.
        Number(f64),
        Flag(bool),
    }
    match StringsOrText::deserialize(deserializer)? {
        StringsOrText::List(list) => Ok(list),
        StringsOrText::Number(number) => Ok(vec![number.to_string()]),
        StringsOrText::Flag(flag) => Ok(vec![flag.to_string()]),
        StringsOrText::Text(text) if text.trim_start().starts_with('[') => {
            serde_json::from_str(&text).map_err(|error| {
                serde::de::Error::custom(format!("expected a JSON array of strings: {error}"))
            })
        }
        StringsOrText::Text(text) => Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()),
    }
}

impl JwtSettings {
    /// `leeway_seconds` as a duration, saturated far beyond any real setting.
    pub fn leeway(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.leeway_seconds).unwrap_or(i64::MAX / 4_000))
    }
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
            .field("signing_kid", &self.signing_kid)
            .field("keys", &self.keys)
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
        let settings: Settings = Config::builder()
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
        if self.is_production() && self.jwt.signing_key.is_empty() && self.jwt.keys.is_empty() {
            return invalid(
                "production needs an explicit signing key; list keys in jwt.keys (see `latchkey keys generate`) or set LATCHKEY_JWT__SIGNING_KEY to a random secret of at least 32 bytes"
                    .to_owned(),
            );
        }
        if self.is_production()
            && let Some(first) = self.weaknesses().into_iter().next()
        {
            return invalid(format!(
                "{first} (production refuses this; development only warns)"
            ));
        }
        if self.is_production() && self.server.public_url.trim().is_empty() {
            return invalid(
                "production needs server.public_url, the service's external base URL (e.g. LATCHKEY_SERVER__PUBLIC_URL=https://auth.example.com): discovery documents must not be built from request headers"
                    .to_owned(),
            );
        }
        if !self.jwt.signing_key.is_empty() && self.jwt.signing_key.len() < MIN_HMAC_SECRET_BYTES {
            return invalid(format!(
                "jwt.signing_key is {} bytes; an HMAC secret must be at least {MIN_HMAC_SECRET_BYTES} bytes (generate one with `openssl rand -base64 48`)",
                self.jwt.signing_key.len()
            ));
        }
        if !crate::tokens::parse_algorithm(&self.jwt.algorithm).is_some_and(is_hmac) {
            return invalid(format!(
                "jwt.algorithm is {:?}; the shared secret in jwt.signing_key is for HS256, HS384 or HS512 (asymmetric keys go in jwt.keys)",
                self.jwt.algorithm
            ));
        }
        self.validate_keys().map_err(SettingsError::Invalid)?;
        self.validate_introspection()
            .map_err(SettingsError::Invalid)?;
        crate::client_ip::TrustedProxies::parse(
            &self.throttle.trusted_proxies,
            &self.throttle.forwarding_header,
        )
        .map_err(|e| SettingsError::Invalid(format!("throttle.trusted_proxies: {e}")))?;
        if self.throttle.prune_interval_seconds == 0 {
            return invalid(
                "throttle.prune_interval_seconds must be at least 1: unpruned limiter state grows with every new address"
                    .to_owned(),
            );
        }
        if !self.server.public_url.is_empty() {
            let parsed = url::Url::parse(&self.server.public_url).ok();
            if !parsed.is_some_and(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.has_host()
                    && url.query().is_none()
                    && url.fragment().is_none()
            }) {
                return invalid(format!(
                    "server.public_url is {:?}; give the service's external base URL, e.g. \"https://auth.example.com\"",
                    self.server.public_url
                ));
            }
        }
        if self.jwt.jwks_max_age_seconds > 86_400 {
            return invalid(
                "jwt.jwks_max_age_seconds must be at most 86400: verifiers must see a new key before it signs"
                    .to_owned(),
            );
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
        if !(100..=300_000).contains(&self.server.body_timeout_ms) {
            return invalid(
                "server.body_timeout_ms must be between 100 and 300000: a body that trickles in must not hold its connection for long"
                    .to_owned(),
            );
        }
        if self.server.max_connections == 0 {
            return invalid("server.max_connections must be at least 1".to_owned());
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

    /// Settings that work but weaken the service: production refuses them,
    /// development logs them at start. Each names the setting and the fix.
    pub fn weaknesses(&self) -> Vec<String> {
        let mut found = Vec::new();
        if self.passwords.iterations < MIN_PRODUCTION_ITERATIONS {
            found.push(format!(
                "passwords.iterations is {}; PBKDF2-SHA256 needs at least {MIN_PRODUCTION_ITERATIONS} (OWASP 2023), latchkey's default is 1000000",
                self.passwords.iterations
            ));
        }
        if self.jwt.leeway_seconds > MAX_PRODUCTION_LEEWAY_SECONDS {
            found.push(format!(
                "jwt.leeway_seconds is {}; clock skew beyond {MAX_PRODUCTION_LEEWAY_SECONDS} seconds keeps expired tokens alive, set it to at most {MAX_PRODUCTION_LEEWAY_SECONDS}",
                self.jwt.leeway_seconds
            ));
        }
        if self.jwt.access_token_lifetime_seconds > MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS {
            found.push(format!(
                "jwt.access_token_lifetime_seconds is {}; access tokens live at most {MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS} seconds (24 h), use refresh tokens for longer sessions",
                self.jwt.access_token_lifetime_seconds
            ));
        }
        for network in &self.throttle.trusted_proxies {
            let catch_all = network
                .trim()
                .parse::<ipnet::IpNet>()
                .is_ok_and(|network| network.prefix_len() == 0);
            if catch_all {
                found.push(format!(
                    "throttle.trusted_proxies lists {network:?}, which trusts every address: any client could name its own address and escape the per-address limits; list only your proxies' networks"
                ));
            }
        }
        let secrets = std::iter::once(("jwt.signing_key".to_owned(), &self.jwt.signing_key))
            .chain(
                self.jwt
                    .keys
                    .iter()
                    .map(|key| (format!("jwt.keys[{}].secret", key.kid), &key.secret)),
            )
            .chain(self.introspection.clients.iter().map(|client| {
                (
                    format!("introspection.clients[{}].secret", client.id),
                    &client.secret,
                )
            }));
        for (name, secret) in secrets {
            if !secret.is_empty() && looks_guessable(secret) {
                found.push(format!(
                    "{name} has only {} distinct characters; use a random secret (`openssl rand -base64 48`)",
                    distinct_bytes(secret)
                ));
            }
        }
        found
    }

    /// Checks `jwt.keys` and `jwt.signing_kid` without reading any key material.
    fn validate_keys(&self) -> Result<(), String> {
        let jwt = &self.jwt;
        let legacy_kid =
            (!jwt.signing_key.is_empty() && !jwt.key_id.is_empty()).then_some(jwt.key_id.as_str());
        let mut seen = std::collections::HashSet::new();
        for key in &jwt.keys {
            let kid = &key.kid;
            if kid.is_empty() || kid.len() > MAX_KID_BYTES || kid.chars().any(char::is_control) {
                return Err(format!(
                    "jwt.keys: every key needs a kid of 1 to {MAX_KID_BYTES} printable characters (got {kid:?})"
                ));
            }
            if !seen.insert(kid.as_str()) || legacy_kid == Some(kid.as_str()) {
                return Err(format!("jwt.keys: the kid {kid:?} is used twice"));
            }
            let Some(algorithm) = crate::tokens::parse_algorithm(&key.algorithm) else {
                return Err(format!(
                    "jwt.keys[{kid}]: algorithm {:?} is not one of {}",
                    key.algorithm,
                    crate::tokens::ALGORITHM_NAMES.join(", ")
                ));
            };
            let sources = [&key.file, &key.pem, &key.secret]
                .iter()
                .filter(|source| !source.is_empty())
                .count();
            if sources != 1 {
                return Err(format!(
                    "jwt.keys[{kid}]: give exactly one of file, pem or secret"
                ));
            }
            if is_hmac(algorithm) == key.secret.is_empty() {
                return Err(format!(
                    "jwt.keys[{kid}]: {} takes {}",
                    key.algorithm,
                    if is_hmac(algorithm) {
                        "a secret"
                    } else {
                        "a PEM key (file or pem), never a secret"
                    }
                ));
            }
            if !key.secret.is_empty() && key.secret.len() < MIN_HMAC_SECRET_BYTES {
                return Err(format!(
                    "jwt.keys[{kid}]: an HMAC secret must be at least {MIN_HMAC_SECRET_BYTES} bytes"
                ));
            }
        }
        if jwt.signing_kid.is_empty() {
            if !jwt.keys.is_empty() && jwt.signing_key.is_empty() {
                return Err(
                    "jwt.keys is set but no key signs; set jwt.signing_kid to one of their kids"
                        .to_owned(),
                );
            }
        } else if !seen.contains(jwt.signing_kid.as_str())
            && legacy_kid != Some(jwt.signing_kid.as_str())
        {
            return Err(format!(
                "jwt.signing_kid is {:?}, which no key in jwt.keys has",
                jwt.signing_kid
            ));
        }
        Ok(())
    }

    fn validate_introspection(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for client in &self.introspection.clients {
            if client.id.is_empty()
                || client.id.contains(':')
                || client.id.chars().any(char::is_control)
            {
                return Err(format!(
                    "introspection.clients: {:?} is not a usable client id (non-empty, no ':')",
                    client.id
                ));
            }
            if !seen.insert(client.id.as_str()) {
                return Err(format!(
                    "introspection.clients: the id {:?} is listed twice",
                    client.id
                ));
            }
            if client.secret.len() < MIN_HMAC_SECRET_BYTES {
                return Err(format!(
                    "introspection.clients[{}]: the secret must be at least {MIN_HMAC_SECRET_BYTES} characters (`openssl rand -base64 48`)",
                    client.id
                ));
            }
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
        settings.server.public_url = "https://auth.example.com".to_owned();
        let message = settings.validate().expect_err("refused").to_string();
        assert!(message.contains("LATCHKEY_JWT__SIGNING_KEY"), "{message}");
        settings.jwt.signing_key = "kR7vQ2xW9pL4mN8sT1yB6cF3hJ5dG0aZ".to_owned();
        settings
            .validate()
            .expect("complete production settings validate");
    }

    /// A production configuration that passes, to break one setting at a time.
    fn production() -> Settings {
        let mut settings = Settings::defaults();
        settings.environment = "production".to_owned();
        settings.database.url = "postgres://localhost/latchkey".to_owned();
        settings.server.public_url = "https://auth.example.com".to_owned();
        settings.jwt.signing_key = "kR7vQ2xW9pL4mN8sT1yB6cF3hJ5dG0aZ".to_owned();
        settings.validate().expect("the baseline validates");
        settings
    }

    #[test]
    fn finding_8_production_refuses_unsafe_settings_and_names_them() {
        type Weaken = fn(&mut Settings);
        let cases: [(&str, Weaken); 9] = [
            ("throttle.trusted_proxies", |s| {
                s.throttle.trusted_proxies = vec!["10.0.0.0/8".to_owned(), "::/0".to_owned()]
            }),
            ("passwords.iterations", |s| s.passwords.iterations = 1),
            ("passwords.iterations", |s| s.passwords.iterations = 599_999),
            ("jwt.leeway_seconds", |s| s.jwt.leeway_seconds = 99_999_999),
            ("jwt.access_token_lifetime_seconds", |s| {
                s.jwt.access_token_lifetime_seconds = 365 * 86_400;
                s.jwt.refresh_token_lifetime_seconds = 365 * 86_400;
                s.sessions.absolute_lifetime_seconds = 365 * 86_400;
            }),
            ("jwt.signing_key", |s| s.jwt.signing_key = "a".repeat(32)),
            ("jwt.signing_key", |s| {
                s.jwt.signing_key = "password".repeat(4)
            }),
            ("introspection.clients[gw].secret", |s| {
                s.introspection.clients = vec![ClientSettings {
                    id: "gw".to_owned(),
                    secret: "x".repeat(40),
                }]
            }),
            ("server.public_url", |s| s.server.public_url.clear()),
        ];
        for (setting, weaken) in cases {
            let mut settings = production();
            weaken(&mut settings);
            let message = settings.validate().expect_err(setting).to_string();
            assert!(message.contains(setting), "{setting}: {message}");
            // Development starts, and says what it would refuse.
            settings.environment = "development".to_owned();
            settings.validate().expect("development only warns");
            if setting != "server.public_url" {
                assert!(
                    settings.weaknesses().iter().any(|w| w.contains(setting)),
                    "{setting}"
                );
            }
        }
        // The edges that pass: the floors themselves and a random hex secret.
        let mut settings = production();
        settings.passwords.iterations = MIN_PRODUCTION_ITERATIONS;
        settings.jwt.leeway_seconds = MAX_PRODUCTION_LEEWAY_SECONDS;
        settings.jwt.access_token_lifetime_seconds = MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS;
        settings.jwt.signing_key =
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned();
        settings.validate().expect("at the limits");
        assert!(settings.weaknesses().is_empty());
    }

    fn load_from_env(variables: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let variables = variables
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Settings::load_with(Path::new("/nonexistent"), Some(variables))
    }

    #[test]
    fn key_lists_come_from_the_environment_as_json() {
        let settings = load_from_env(&[
            (
                "LATCHKEY_JWT__KEYS",
                r#"[{"kid":"Key-1","algorithm":"EdDSA","file":"/run/secrets/k1.pem"},
                    {"kid":"old","algorithm":"HS256","secret":"0123456789abcdef0123456789abcdef"}]"#,
            ),
            ("LATCHKEY_JWT__SIGNING_KID", "Key-1"),
            (
                "LATCHKEY_INTROSPECTION__CLIENTS",
                r#"[{"id":"gateway","secret":"0123456789abcdef0123456789abcdef"}]"#,
            ),
            ("LATCHKEY_JWT__AUTH_HEADER_TYPES", "Bearer,JWT"),
        ])
        .expect("valid");
        assert_eq!(settings.jwt.keys.len(), 2);
        assert_eq!(settings.jwt.keys[0].kid, "Key-1", "kid keeps its case");
        assert_eq!(settings.jwt.keys[1].secret.len(), 32);
        assert_eq!(settings.introspection.clients[0].id, "gateway");
        assert_eq!(settings.jwt.auth_header_types, ["Bearer", "JWT"]);
        // Every list setting also takes a JSON array.
        let settings = load_from_env(&[
            ("LATCHKEY_JWT__AUTH_HEADER_TYPES", r#"["Bearer", "JWT"]"#),
            (
                "LATCHKEY_THROTTLE__TRUSTED_PROXIES",
                r#"["10.0.0.0/8","fd00::/8"]"#,
            ),
        ])
        .expect("valid");
        assert_eq!(settings.jwt.auth_header_types, ["Bearer", "JWT"]);
        assert_eq!(
            settings.throttle.trusted_proxies,
            ["10.0.0.0/8", "fd00::/8"]
        );
        let settings = load_from_env(&[(
            "LATCHKEY_THROTTLE__TRUSTED_PROXIES",
            "10.0.0.0/8, 127.0.0.1",
        )])
        .expect("valid");
        assert_eq!(
            settings.throttle.trusted_proxies,
            ["10.0.0.0/8", "127.0.0.1"]
        );
        let settings =
            load_from_env(&[("LATCHKEY_JWT__AUTH_HEADER_TYPES", "true")]).expect("valid");
        assert_eq!(
            settings.jwt.auth_header_types,
            ["true"],
            "a value that reads as a flag"
        );
        let error = load_from_env(&[("LATCHKEY_THROTTLE__TRUSTED_PROXIES", "[10.0.0.0/8")])
            .expect_err("refused");
        assert!(error.to_string().contains("JSON array"), "{error}");
        let error = load_from_env(&[("LATCHKEY_JWT__KEYS", "[{\"kid\":")]).expect_err("refused");
        assert!(error.to_string().contains("JSON array"), "{error}");
    }

    #[test]
    fn key_settings_are_checked_before_any_file_is_read() {
        let cases: [(&str, &str, &str); 6] = [
            (
                r#"[{"kid":"a","algorithm":"EdDSA","file":"x.pem"}]"#,
                "",
                "signing_kid",
            ),
            (
                r#"[{"kid":"a","algorithm":"none","file":"x.pem"}]"#,
                "a",
                "not one of",
            ),
            (
                r#"[{"kid":"a","algorithm":"EdDSA","file":"x.pem","pem":"y"}]"#,
                "a",
                "exactly one",
            ),
            (
                r#"[{"kid":"a","algorithm":"RS256","secret":"0123456789abcdef0123456789abcdef"}]"#,
                "a",
                "never a secret",
            ),
            (
                r#"[{"kid":"a","algorithm":"EdDSA","file":"x"},{"kid":"a","algorithm":"EdDSA","file":"y"}]"#,
                "a",
                "used twice",
            ),
            (
                r#"[{"kid":"a","algorithm":"EdDSA","file":"x.pem"}]"#,
                "b",
                "no key in jwt.keys",
            ),
        ];
        for (keys, signing_kid, expected) in cases {
            let error = load_from_env(&[
                ("LATCHKEY_JWT__KEYS", keys),
                ("LATCHKEY_JWT__SIGNING_KID", signing_kid),
            ])
            .expect_err(keys)
            .to_string();
            assert!(error.contains(expected), "{keys}: {error}");
        }
    }

    #[test]
    fn unknown_database_scheme_is_refused() {
        let mut settings = Settings::defaults();
        settings.database.url = "mysql://localhost/db".to_owned();
        let message = settings.validate().expect_err("refused").to_string();
        assert!(message.contains("mysql"), "{message}");
    }
}

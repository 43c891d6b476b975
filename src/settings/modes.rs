//! `[sliding]` and `[drf_token]`: the opt-in ways of authenticating that
//! Simple JWT and Django REST framework offer beside the access/refresh
//! pair.

use std::path::Path;

use serde::Deserialize;

/// The shortest `drf_token.secret` accepted, in bytes.
pub const MIN_DRF_TOKEN_SECRET_BYTES: usize = 32;

/// The development secret's file under `data_dir`.
pub const DEV_DRF_TOKEN_SECRET_FILE: &str = "drf_token_secret";

/// The longest a sliding lifetime may be set to (ten years): beyond it,
/// time arithmetic would overflow.
const MAX_LIFETIME_SECONDS: i64 = 10 * 366 * 86_400;

/// `[sliding]`: Simple JWT's sliding tokens.
#[derive(Clone, Debug, Deserialize)]
pub struct SlidingSettings {
    pub enabled: bool,
    pub lifetime_seconds: i64,
    pub refresh_lifetime_seconds: i64,
}

impl SlidingSettings {
    /// The lifetimes must make sense whatever the mode (they are read
    /// either way); how they relate to the sessions' only when it is on.
    pub(super) fn validate(&self, session_lifetime_seconds: i64) -> Result<(), String> {
        let bounds = 1..=MAX_LIFETIME_SECONDS;
        if !bounds.contains(&self.lifetime_seconds)
            || !bounds.contains(&self.refresh_lifetime_seconds)
        {
            return Err(format!(
                "sliding.lifetime_seconds and sliding.refresh_lifetime_seconds must be between 1 and {MAX_LIFETIME_SECONDS}"
            ));
        }
        if !self.enabled {
            return Ok(());
        }
        if self.refresh_lifetime_seconds > session_lifetime_seconds {
            return Err(
                "sliding.refresh_lifetime_seconds must be at most sessions.absolute_lifetime_seconds"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// `[drf_token]`: Django REST framework's `TokenAuthentication`.
#[derive(Clone, Deserialize)]
pub struct DrfTokenSettings {
    pub enabled: bool,
    pub secret: String,
}

// The secret stays out of logs.
impl std::fmt::Debug for DrfTokenSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrfTokenSettings")
            .field("enabled", &self.enabled)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl DrfTokenSettings {
    /// Checked only when on: with the mode off nothing else changes.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.enabled && !self.secret.is_empty() && self.secret.len() < MIN_DRF_TOKEN_SECRET_BYTES
        {
            return Err(format!(
                "drf_token.secret must be at least {MIN_DRF_TOKEN_SECRET_BYTES} bytes; generate one, e.g. `openssl rand -hex 32`"
            ));
        }
        Ok(())
    }

    /// The secret keys are derived from: the configured one, or in
    /// development one generated under `data_dir` on first use.
    pub fn secret_bytes(&self, data_dir: &Path, production: bool) -> anyhow::Result<Vec<u8>> {
        if !self.secret.is_empty() {
            return Ok(self.secret.as_bytes().to_vec());
        }
        anyhow::ensure!(
            !production,
            "production needs drf_token.secret (e.g. LATCHKEY_DRF_TOKEN__SECRET=$(openssl rand -hex 32)), the same on every instance"
        );
        let path = data_dir.join(DEV_DRF_TOKEN_SECRET_FILE);
        match std::fs::read_to_string(&path) {
            Ok(secret) if secret.trim().len() >= MIN_DRF_TOKEN_SECRET_BYTES => {
                Ok(secret.trim().as_bytes().to_vec())
            }
            Ok(_) => Err(anyhow::anyhow!(
                "{} holds no usable secret; delete it to have one generated",
                path.display()
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
                    .map_err(|_| anyhow::anyhow!("no randomness for the drf_token secret"))?;
                let secret = crate::passwords::hex(&bytes);
                crate::tokens::keys::write_private_file(&path, secret.as_bytes())?;
                tracing::warn!(
                    path = %path.display(),
                    "DEVELOPMENT SETUP: DRF token keys derive from a generated secret kept on local disk; set drf_token.secret for any real deployment"
                );
                Ok(secret.into_bytes())
            }
            Err(error) => Err(anyhow::anyhow!("cannot read {}: {error}", path.display())),
        }
    }
}

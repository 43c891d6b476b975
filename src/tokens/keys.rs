//! Signing and verification keys. Verification finds a key by the token's
//! `kid` in an in-memory map only: a header never leads to a file, a query or
//! a URL.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::settings::MIN_HMAC_SECRET_BYTES;

/// The key new tokens are signed with, with its encoded JOSE header ready.
pub struct SigningKey {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    encoding: EncodingKey,
    /// base64url of the header JSON, keys sorted as PyJWT writes them.
    header_b64: String,
}

// Key material stays out of logs.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn header_b64(&self) -> &str {
        &self.header_b64
    }

    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }
}

/// A key tokens are checked against; exactly one algorithm per key.
pub struct VerificationKey {
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct KeySet {
    signing: SigningKey,
    by_kid: HashMap<String, VerificationKey>,
    /// For tokens without a `kid` (Simple JWT's, or issued before a kid was configured).
    unnamed: VerificationKey,
}

impl KeySet {
    /// One HMAC secret, optionally named by `kid`.
    pub fn hmac(secret: &[u8], algorithm: Algorithm, kid: Option<String>) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_HMAC_SECRET_BYTES,
            "the HMAC secret must be at least {MIN_HMAC_SECRET_BYTES} bytes"
        );
        let header = match &kid {
            Some(kid) => {
                serde_json::json!({"alg": algorithm_name(algorithm), "kid": kid, "typ": "JWT"})
            }
            None => serde_json::json!({"alg": algorithm_name(algorithm), "typ": "JWT"}),
        };
        let signing = SigningKey {
            kid: kid.clone(),
            algorithm,
            encoding: EncodingKey::from_secret(secret),
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
        };
        let verification = || VerificationKey {
            algorithm,
            decoding: DecodingKey::from_secret(secret),
        };
        let mut by_kid = HashMap::new();
        if let Some(kid) = kid {
            by_kid.insert(kid, verification());
        }
        Ok(Self {
            signing,
            by_kid,
            unnamed: verification(),
        })
    }

    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The key for a token header's `kid`, or `None` for a kid we do not hold.
    pub fn verification(&self, kid: Option<&str>) -> Option<&VerificationKey> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None => Some(&self.unnamed),
        }
    }
}

/// The JOSE name of an algorithm ("HS256", "EdDSA", ...).
pub fn algorithm_name(algorithm: Algorithm) -> String {
    serde_json::to_value(algorithm)
        .ok()
        .and_then(|name| name.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Reads the development secret from `path`, creating it (64 random bytes,
/// owner-readable only) on first use.
pub fn load_or_create_dev_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let secret = existing.trim().as_bytes().to_vec();
        anyhow::ensure!(
            secret.len() >= MIN_HMAC_SECRET_BYTES,
            "{} holds a secret shorter than {MIN_HMAC_SECRET_BYTES} bytes; delete it to generate a new one",
            path.display()
        );
        return Ok(secret);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut bytes = [0u8; 64];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(secret.as_bytes())?;
    Ok(secret.into_bytes())
}

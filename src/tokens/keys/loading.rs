//! Builds the key set from its configured sources: a shared secret, PEM
//! files or text, or, in development with nothing configured, an EdDSA key
//! generated once and kept under the data directory.

use std::path::PathBuf;

use jsonwebtoken::Algorithm;

use super::KeySet;
use super::generation::{generate, write_private_file};
use super::material::LoadedKey;

/// One configured key (already checked by the settings).
#[derive(Clone)]
pub struct KeySource {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    pub material: KeyMaterial,
}

/// Where a key's material comes from.
#[derive(Clone)]
pub enum KeyMaterial {
    Secret(Vec<u8>),
    Pem(Vec<u8>),
    File(PathBuf),
}

// Key material stays out of logs.
impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySource")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// What to build a key set from.
#[derive(Clone, Debug)]
pub struct KeyConfig {
    /// Simple JWT's shared secret (`jwt.signing_key`), which also checks
    /// tokens without a `kid`.
    pub shared_secret: Option<KeySource>,
    /// The named keys (`jwt.keys`), in order.
    pub keys: Vec<KeySource>,
    /// The kid of the key that signs; the first key when `None`.
    pub signing_kid: Option<String>,
    /// Where the development key lives when no key is configured.
    pub data_dir: PathBuf,
    /// The kid to give the development key (its thumbprint when `None`).
    pub development_kid: Option<String>,
}

impl KeySet {
    /// The key set `config` describes, reading key files. In development
    /// with no key configured, an EdDSA key kept under `data_dir`.
    pub fn load(config: &KeyConfig) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        let mut unnamed = None;
        if let Some(shared) = &config.shared_secret {
            keys.push(load_source(shared)?);
            unnamed = Some(0);
        }
        for source in &config.keys {
            let kid = source.kid.as_deref().unwrap_or_default();
            keys.push(load_source(source).map_err(|e| anyhow::anyhow!("jwt.keys[{kid}]: {e:#}"))?);
        }
        if keys.is_empty() {
            keys.push(development_key(config)?);
        }
        let signer = match &config.signing_kid {
            None => 0,
            Some(signing_kid) => keys
                .iter()
                .position(|key| key.kid() == Some(signing_kid.as_str()))
                .ok_or_else(|| anyhow::anyhow!("no key has the kid {signing_kid:?}"))?,
        };
        Self::new(keys, signer, unnamed)
    }
}

/// The development key under `data_dir`, generated on first use.
fn development_key(config: &KeyConfig) -> anyhow::Result<LoadedKey> {
    let path = config.data_dir.join(DEV_KEY_FILE);
    tracing::warn!(
        path = %path.display(),
        "DEVELOPMENT SETUP: signing tokens with a generated EdDSA key kept on local disk; \
         configure jwt.keys and LATCHKEY_DATABASE__URL for any real deployment"
    );
    let pem = load_or_create_dev_key(&path)?;
    let key = LoadedKey::from_pem(String::new(), Algorithm::EdDSA, pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
    let kid = match &config.development_kid {
        Some(kid) => kid.clone(),
        None => key
            .thumbprint()
            .ok_or_else(|| anyhow::anyhow!("cannot compute the key's thumbprint"))?,
    };
    Ok(key.named(kid))
}

fn load_source(source: &KeySource) -> anyhow::Result<LoadedKey> {
    match &source.material {
        KeyMaterial::Secret(secret) => {
            LoadedKey::hmac(source.kid.clone(), source.algorithm, secret)
        }
        KeyMaterial::Pem(pem) => LoadedKey::from_pem(
            source.kid.clone().unwrap_or_default(),
            source.algorithm,
            pem,
        ),
        KeyMaterial::File(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            LoadedKey::from_pem(
                source.kid.clone().unwrap_or_default(),
                source.algorithm,
                &pem,
            )
        }
    }
}

/// The development key's file under `data_dir`.
pub const DEV_KEY_FILE: &str = "signing_key.pem";

/// Reads the development key from `path`, generating it on first use.
fn load_or_create_dev_key(path: &PathBuf) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(pem) => Ok(pem),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = generate(Algorithm::EdDSA)?;
            write_private_file(path, key.pem.as_bytes())?;
            Ok(key.pem)
        }
        Err(error) => Err(anyhow::anyhow!("cannot read {}: {error}", path.display())),
    }
}

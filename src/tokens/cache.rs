//! Tokens already verified, so a client presenting the same token again (as
//! every client does for an access token's whole life) skips the signature
//! and claims work; API gateways do the same (Envoy's `jwt_cache_config`).
//! Entries are keyed by the SHA-256 of the exact token bytes and bounded in
//! number; expiry is re-checked on every hit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;

use super::ValidatedToken;

const SHARDS: usize = 16;

pub struct VerifiedTokens {
    shards: Vec<Mutex<HashMap<[u8; 32], Entry>>>,
    per_shard: usize,
}

pub type Fingerprint = [u8; 32];

/// A verified token and the key set that verified it: a token checked
/// with a key set since replaced is checked again.
struct Entry {
    keys_version: u64,
    token: Arc<ValidatedToken>,
}

impl VerifiedTokens {
    /// Keeps at most about `capacity` tokens; 0 disables the cache.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    pub fn fingerprint(raw: &str) -> Fingerprint {
        let digest = digest::digest(&digest::SHA256, raw.as_bytes());
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(digest.as_ref());
        fingerprint
    }

    fn shard(&self, fingerprint: &Fingerprint) -> &Mutex<HashMap<Fingerprint, Entry>> {
        &self.shards[usize::from(fingerprint[0]) % SHARDS]
    }

    /// The token verified with key set `keys_version`, if it was.
    pub fn get(&self, fingerprint: &Fingerprint, keys_version: u64) -> Option<Arc<ValidatedToken>> {
        if self.per_shard == 0 {
            return None;
        }
        self.shard(fingerprint)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(fingerprint)
            .filter(|entry| entry.keys_version == keys_version)
            .map(|entry| entry.token.clone())
    }

    /// Forgets every token (the key set changed).
    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    pub fn insert(&self, fingerprint: Fingerprint, keys_version: u64, token: Arc<ValidatedToken>) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self
            .shard(&fingerprint)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if shard.len() >= self.per_shard {
            // Expired entries go first; if none has, the shard starts over.
            let now = chrono::Utc::now().naive_utc();
            shard.retain(|_, entry| entry.token.expires_at >= now);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(
            fingerprint,
            Entry {
                keys_version,
                token,
            },
        );
    }
}

//! `[sessions]` (how long a login lasts, reuse grace, cleanup) and `[cache]`
//! (what each instance keeps in memory and how soon it learns of changes).

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct SessionSettings {
    pub absolute_lifetime_seconds: i64,
    pub reuse_grace_seconds: i64,
    pub cleanup_interval_seconds: u64,
}

impl SessionSettings {
    pub(super) fn validate(&self, refresh_lifetime_seconds: i64) -> Result<(), String> {
        if self.absolute_lifetime_seconds < refresh_lifetime_seconds {
            return Err(
                "sessions.absolute_lifetime_seconds must be at least jwt.refresh_token_lifetime_seconds"
                    .to_owned(),
            );
        }
        if !(0..=300).contains(&self.reuse_grace_seconds) {
            return Err(
                "sessions.reuse_grace_seconds must be between 0 and 300; a long grace lets a stolen token be replayed"
                    .to_owned(),
            );
        }
        Ok(())
    }
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

    pub(super) fn validate(&self) -> Result<(), String> {
        if !(10..=60_000).contains(&self.sync_interval_ms) {
            return Err(
                "cache.sync_interval_ms must be between 10 and 60000 milliseconds".to_owned(),
            );
        }
        Ok(())
    }
}

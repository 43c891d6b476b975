//! `[database]`: which database, how many connections, and the PostgreSQL
//! rotation writers.

use serde::Deserialize;

use crate::db::Backend;

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

impl DatabaseSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.pool_size == 0 {
            return Err("database.pool_size must be at least 1".to_owned());
        }
        if !(1..=32).contains(&self.rotation_writers) {
            return Err("database.rotation_writers must be between 1 and 32".to_owned());
        }
        if !self.url.trim().is_empty() {
            Backend::from_url(&self.url).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

//! `[database]`: which database, how many connections, and the PostgreSQL
//! rotation writers.

use serde::Deserialize;

use super::values::database_url;
use crate::db::DatabaseUrl;

#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSettings {
    /// `None` (an empty setting): the embedded SQLite file under `data_dir`.
    #[serde(deserialize_with = "database_url")]
    pub url: Option<DatabaseUrl>,
    pub pool_size: u32,
    pub connect_timeout_seconds: u64,
    pub migrate_on_start: bool,
    pub rotation_writers: usize,
    /// While the database is unreachable, how often it is tried again.
    pub probe_interval_ms: u64,
}

impl DatabaseSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.pool_size == 0 {
            return Err("database.pool_size must be at least 1".to_owned());
        }
        if !(50..=10_000).contains(&self.probe_interval_ms) {
            return Err("database.probe_interval_ms must be between 50 and 10000".to_owned());
        }
        if !(1..=32).contains(&self.rotation_writers) {
            return Err("database.rotation_writers must be between 1 and 32".to_owned());
        }
        Ok(())
    }
}

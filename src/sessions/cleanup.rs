//! Deletes what no longer matters: expired refresh tokens, sessions past
//! their absolute end and old change events, every `cleanup_interval`.

use chrono::Utc;

use crate::db::{self, Database};

/// Runs the cleanup every `interval`, on the blocking pool, in batches.
pub fn spawn(db: Database, interval: std::time::Duration, leeway: chrono::Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match db
                .run(move |conn| db::flush_expired(conn, Utc::now().naive_utc(), leeway))
                .await
            {
                Ok(flushed) => tracing::info!(?flushed, "expired rows deleted"),
                Err(error) => {
                    tracing::warn!(%error, "cleanup failed; retrying at the next interval")
                }
            }
        }
    });
}

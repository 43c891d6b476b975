//! Keeps this instance's memory (ended sessions, the user directory) in step
//! with the database: reads the `auth_events` feed every
//! `cache.sync_interval_ms` and applies what changed. Polling works the same
//! on both backends and needs no dedicated connection; the interval bounds how
//! long a change made elsewhere takes to be enforced here.

use std::sync::Arc;
use std::time::Duration;

use super::memory::Memory;
use crate::db::events::{self, Event};
use crate::db::{Database, DbConnection, sessions};

/// Events read per poll.
const EVENT_BATCH: i64 = 1000;

/// Where the feed stands now, and the ended sessions that still matter: read
/// once at start, before serving.
pub fn warm_start(conn: &mut DbConnection, memory: &Memory) -> anyhow::Result<i64> {
    let position = events::latest_id(conn)?;
    let now = chrono::Utc::now().naive_utc();
    for (session, at) in sessions::ended_since(conn, memory.horizon(now))? {
        memory.sessions_ended([session], at);
    }
    Ok(position)
}

/// Applies a batch of events to memory.
pub fn apply(batch: &[(i64, Event)], memory: &Memory) {
    let now = chrono::Utc::now().naive_utc();
    let mut changed_users = Vec::new();
    let mut ended = Vec::new();
    for (_, event) in batch {
        match event {
            Event::UserChanged(id) => changed_users.push(*id),
            Event::SessionEnded(session) => ended.push(session.clone()),
        }
    }
    memory.sessions_ended(ended, now);
    if !changed_users.is_empty() {
        memory.users_changed(changed_users);
    }
}

/// Polls the feed from `after` on, for as long as the runtime runs.
pub fn spawn(db: Database, memory: Arc<Memory>, after: i64, interval: Duration) {
    tokio::spawn(async move {
        let mut last_seen = after;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if db.is_unreachable() {
                continue;
            }
            let db = db.clone();
            let read = tokio::task::spawn_blocking(move || {
                db.with_connection(|conn: &mut DbConnection| -> anyhow::Result<_> {
                    Ok(events::since(conn, last_seen, EVENT_BATCH)?)
                })
            })
            .await;
            match read {
                Ok(Ok(batch)) => {
                    if let Some((id, _)) = batch.last() {
                        last_seen = *id;
                    }
                    apply(&batch, &memory);
                    if batch.len() < EVENT_BATCH as usize {
                        memory.synced();
                    }
                    memory.prune(chrono::Utc::now().naive_utc());
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "could not read the change feed; retrying")
                }
                Err(error) => tracing::warn!(%error, "change feed task failed; retrying"),
            }
        }
    });
}

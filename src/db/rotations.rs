//! Group commit for refresh-token rotation on PostgreSQL. Rotations arriving
//! together are claimed and recorded by one statement
//! ([`refresh_tokens::rotate_many`]) on a few dedicated writer threads, so a
//! burst of refreshes costs one database round trip per batch instead of one
//! per request. Each parent is still claimed by a conditional UPDATE, so of
//! two requests presenting the same token exactly one wins.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::refresh_tokens::{self, Recorded, Rotation};
use super::{DbConnection, DbError, Pool};

/// Rotations per statement at most.
const MAX_BATCH: usize = 128;

type Reply = oneshot::Sender<Result<Option<Recorded>, DbError>>;

pub struct RotationBatcher {
    queue: Mutex<Sender<(Rotation, Reply)>>,
}

impl RotationBatcher {
    /// Starts `writers` threads that share the queue; they end when the
    /// batcher is dropped.
    pub fn start(pool: Pool, writers: usize) -> Arc<Self> {
        let (queue, pending) = mpsc::channel::<(Rotation, Reply)>();
        let pending = Arc::new(Mutex::new(pending));
        for index in 0..writers.max(1) {
            let (pool, pending) = (pool.clone(), pending.clone());
            std::thread::Builder::new()
                .name(format!("latchkey-rotations-{index}"))
                .spawn(move || write_batches(&pool, &pending))
                .expect("a writer thread starts");
        }
        Arc::new(Self {
            queue: Mutex::new(queue),
        })
    }

    /// Claims `rotation.parent_jti` and records its child; `Ok(None)` when it
    /// claimed nothing (the caller settles why with `refresh_tokens::refresh`).
    pub async fn rotate(&self, rotation: Rotation) -> Result<Option<Recorded>, DbError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send((rotation, reply))
            .map_err(|_| DbError::Task("the rotation writers stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| DbError::Task("a rotation writer failed".to_owned()))?
    }
}

fn write_batches(pool: &Pool, pending: &Mutex<Receiver<(Rotation, Reply)>>) {
    loop {
        let batch = {
            let pending = pending.lock().unwrap_or_else(|e| e.into_inner());
            let Ok(first) = pending.recv() else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match pending.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        // A parent named twice in one batch (a client racing itself) is
        // claimed by the first; the others lost before the statement runs.
        let mut parents = std::collections::HashSet::new();
        let (rotations, replies): (Vec<Rotation>, Vec<Reply>) = batch
            .into_iter()
            .filter_map(|(rotation, reply)| {
                if parents.insert(rotation.parent_jti.clone()) {
                    Some((rotation, reply))
                } else {
                    let _ = reply.send(Ok(None));
                    None
                }
            })
            .unzip();
        match write(pool, &rotations) {
            Ok(recorded) => {
                let mut recorded: std::collections::HashMap<String, Recorded> =
                    recorded.into_iter().map(|r| (r.jti.clone(), r)).collect();
                for (rotation, reply) in rotations.iter().zip(replies) {
                    let _ = reply.send(Ok(recorded.remove(&rotation.child.jti)));
                }
            }
            Err(error) => {
                tracing::error!(%error, batch = rotations.len(), "rotation batch failed");
                for reply in replies {
                    let _ = reply.send(Err(match &error {
                        DbError::Unavailable(e) => DbError::Unavailable(e.clone()),
                        other => DbError::Task(other.to_string()),
                    }));
                }
            }
        }
    }
}

fn write(pool: &Pool, rotations: &[Rotation]) -> Result<Vec<Recorded>, DbError> {
    let mut conn = pool.get()?;
    let conn: &mut DbConnection = &mut conn;
    match conn {
        DbConnection::Postgres(pg) => Ok(refresh_tokens::rotate_many(
            pg,
            rotations,
            chrono::Utc::now().naive_utc(),
        )?),
        DbConnection::Sqlite(_) => Err(DbError::Task(
            "rotation batches are for PostgreSQL".to_owned(),
        )),
    }
}

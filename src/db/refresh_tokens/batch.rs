//! Group commit for refresh-token rotation on PostgreSQL, the one
//! PostgreSQL-only piece of storage. Rotations arriving together are claimed
//! and recorded by one statement ([`rotate_many`]) on a few dedicated writer
//! threads, so a
//! burst of refreshes costs one database round trip per batch instead of one
//! per request. Each parent is still claimed by a conditional UPDATE, so of
//! two requests presenting the same token exactly one wins.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Refresh, Refreshed};
use crate::db::{Database, DbConnection, DbError};
use crate::tokens::Stamp;

/// Rotations per statement at most.
const MAX_BATCH: usize = 128;

type Reply = oneshot::Sender<Result<Option<Refreshed>, DbError>>;

pub struct RotationBatcher {
    queue: Mutex<Sender<(Rotation, Reply)>>,
}

impl RotationBatcher {
    /// Starts `writers` threads that share the queue; they end when the
    /// batcher is dropped.
    pub fn start(db: Database, writers: usize) -> Arc<Self> {
        let (queue, pending) = mpsc::channel::<(Rotation, Reply)>();
        let pending = Arc::new(Mutex::new(pending));
        for index in 0..writers.max(1) {
            let (db, pending) = (db.clone(), pending.clone());
            std::thread::Builder::new()
                .name(format!("latchkey-rotations-{index}"))
                .spawn(move || write_batches(&db, &pending))
                .expect("a writer thread starts");
        }
        Arc::new(Self {
            queue: Mutex::new(queue),
        })
    }

    /// Rotates `request` in a batch when it is a plain rotation (a child to
    /// record, the parent retired, nothing to adopt). `Ok(None)` when it
    /// claimed nothing or is not a plain rotation: the caller settles it
    /// with `super::refresh` (grace, reuse, refusal).
    pub async fn try_rotate(&self, request: &Refresh) -> Result<Option<Refreshed>, DbError> {
        let Some(child) = &request.child else {
            return Ok(None);
        };
        if !request.retire_parent || request.adopt.is_some() {
            return Ok(None);
        }
        self.rotate(Rotation {
            parent_jti: request.parent_jti.clone(),
            child: child.clone(),
            require_active_user: request.require_active_user,
        })
        .await
    }

    async fn rotate(&self, rotation: Rotation) -> Result<Option<Refreshed>, DbError> {
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

/// One rotation in a batch: the parent to claim and the child to record.
#[derive(Clone, Debug)]
struct Rotation {
    parent_jti: String,
    child: Stamp,
    require_active_user: bool,
}

/// What a batched rotation recorded for a child.
#[derive(Clone, Debug, PartialEq, Eq, QueryableByName)]
struct Recorded {
    #[diesel(sql_type = diesel::sql_types::Text)]
    jti: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = family_id)]
    session_id: String,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    expires_at: NaiveDateTime,
}

/// Many default rotations in one statement: each parent is claimed by the
/// same conditions as `super::refresh` (usable, session live,
/// owner allowed), its session touched, and its child recorded, shortened to
/// the session's end. Returns what was recorded, by child jti; a rotation
/// whose child is missing claimed nothing and is settled by
/// `super::refresh`.
fn rotate_many(
    conn: &mut diesel::PgConnection,
    rotations: &[Rotation],
    now: NaiveDateTime,
) -> QueryResult<Vec<Recorded>> {
    use diesel::sql_types::{Array, Bool, Text, Timestamp};

    let parents: Vec<&str> = rotations.iter().map(|r| r.parent_jti.as_str()).collect();
    let children: Vec<&str> = rotations.iter().map(|r| r.child.jti.as_str()).collect();
    let issued: Vec<NaiveDateTime> = rotations.iter().map(|r| r.child.issued_at).collect();
    let expires: Vec<NaiveDateTime> = rotations.iter().map(|r| r.child.expires_at).collect();
    let lenient: Vec<bool> = rotations.iter().map(|r| !r.require_active_user).collect();
    diesel::sql_query(
        "WITH input AS ( \
             SELECT * FROM unnest($1::text[], $2::text[], $3::timestamp[], $4::timestamp[], $5::bool[]) \
                 AS i(parent, child, issued_at, expires_at, lenient)), \
         claimed AS ( \
             UPDATE refresh_tokens SET rotated_at = $6, replaced_by = input.child \
             FROM input, token_families \
             WHERE refresh_tokens.jti = input.parent \
               AND refresh_tokens.rotated_at IS NULL AND refresh_tokens.blacklisted_at IS NULL \
               AND token_families.id = refresh_tokens.family_id \
               AND token_families.revoked_at IS NULL AND token_families.expires_at > $6 \
               AND EXISTS (SELECT 1 FROM users WHERE users.id = refresh_tokens.user_id \
                           AND (users.is_active OR input.lenient)) \
             RETURNING refresh_tokens.jti AS parent, refresh_tokens.replaced_by AS child, \
                       refresh_tokens.user_id, refresh_tokens.family_id, \
                       token_families.expires_at AS family_expires_at), \
         touched AS ( \
             UPDATE token_families SET last_used_at = $6 FROM claimed \
             WHERE token_families.id = claimed.family_id) \
         INSERT INTO refresh_tokens (jti, user_id, family_id, parent_jti, issued_at, expires_at) \
         SELECT claimed.child, claimed.user_id, claimed.family_id, claimed.parent, input.issued_at, \
                LEAST(input.expires_at, claimed.family_expires_at) \
         FROM claimed JOIN input ON input.child = claimed.child \
         RETURNING jti, family_id, expires_at",
    )
    .bind::<Array<Text>, _>(parents)
    .bind::<Array<Text>, _>(children)
    .bind::<Array<Timestamp>, _>(issued)
    .bind::<Array<Timestamp>, _>(expires)
    .bind::<Array<Bool>, _>(lenient)
    .bind::<Timestamp, _>(now)
    .load(conn)
}

fn write_batches(db: &Database, pending: &Mutex<Receiver<(Rotation, Reply)>>) {
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
        match write(db, &rotations) {
            Ok(recorded) => {
                let mut recorded: std::collections::HashMap<String, Recorded> =
                    recorded.into_iter().map(|r| (r.jti.clone(), r)).collect();
                for (rotation, reply) in rotations.iter().zip(replies) {
                    let rotated =
                        recorded
                            .remove(&rotation.child.jti)
                            .map(|recorded| Refreshed::Rotated {
                                session_id: recorded.session_id,
                                child: Some(Stamp {
                                    expires_at: recorded.expires_at,
                                    ..rotation.child.clone()
                                }),
                            });
                    let _ = reply.send(Ok(rotated));
                }
            }
            // The database is out of reach: so is every rotation.
            Err(DbError::Unavailable(error)) => {
                for reply in replies {
                    let _ = reply.send(Err(DbError::Unavailable(error.clone())));
                }
            }
            // The statement wrote nothing (it was chosen as a deadlock's
            // victim, say): each rotation is settled on its own instead, so
            // one user's clash never fails the others in the batch.
            Err(error) => {
                tracing::warn!(%error, batch = rotations.len(), "rotation batch failed; settling each alone");
                for reply in replies {
                    let _ = reply.send(Ok(None));
                }
            }
        }
    }
}

fn write(db: &Database, rotations: &[Rotation]) -> Result<Vec<Recorded>, DbError> {
    db.with_connection(|conn: &mut DbConnection| match conn {
        DbConnection::Postgres(pg) => {
            Ok(rotate_many(pg, rotations, chrono::Utc::now().naive_utc())?)
        }
        DbConnection::Sqlite(_) => Err(DbError::Task(
            "rotation batches are for PostgreSQL".to_owned(),
        )),
    })
}

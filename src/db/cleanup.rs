//! Deleting what no longer matters: expired refresh tokens, sessions past
//! their absolute end and change events every instance has read, in batches
//! so no statement holds locks for long.

use diesel::QueryResult;

use super::{DbConnection, DbError, events, refresh_tokens, sessions};

/// Runs `delete_batch(batch)` (which deletes at most `batch` rows and says
/// how many) until a batch comes back short; returns the total.
pub(super) fn delete_in_batches(
    batch: i64,
    mut delete_batch: impl FnMut(i64) -> QueryResult<usize>,
) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let deleted = delete_batch(batch)?;
        total += deleted;
        if (deleted as i64) < batch {
            return Ok(total);
        }
    }
}

/// Rows deleted per statement by the cleanup.
const FLUSH_BATCH: i64 = 1000;

/// What one cleanup deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    pub refresh_tokens: usize,
    pub sessions: usize,
    pub events: usize,
}

/// Deletes expired refresh tokens, sessions past their absolute end (their
/// tokens go with them) and change events every instance has long read, in
/// batches so no statement holds locks for long. The `expires_at` indexes make
/// each batch an index range scan. A token's row stays until its expiry plus
/// `leeway` (and a minute) has passed: until then the token still verifies,
/// and its row is what says it was used.
pub fn flush_expired(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    leeway: chrono::Duration,
) -> Result<Flushed, DbError> {
    // A minute's margin past `exp + leeway`: `exp` has whole seconds, and a
    // token must be past verifying before its row goes.
    let tokens_expired_by = now
        .checked_sub_signed(leeway + chrono::Duration::seconds(60))
        .unwrap_or(chrono::NaiveDateTime::MIN);
    Ok(Flushed {
        refresh_tokens: refresh_tokens::delete_expired(conn, tokens_expired_by, FLUSH_BATCH)?,
        sessions: sessions::delete_expired(conn, now, tokens_expired_by, FLUSH_BATCH)?,
        // Instances read the feed within a fraction of a second; a day is ample.
        events: events::delete_older_than(conn, now - chrono::Duration::days(1))?,
    })
}

//! Sessions: one per login, the chain of refresh tokens rotated from it
//! (the `token_families` table). Ending a session ends it everywhere: its
//! refresh tokens are refused by the store, and its access tokens (which
//! carry its id as `sid`) by every instance's revoked set, told through the
//! change feed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::events::{self, Event};
use super::schema::token_families;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = token_families)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = token_families)]
pub struct NewSession {
    pub id: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Why a session ended, kept for audits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Logout,
    LogoutAll,
    SessionDeleted,
    /// A rotated-out refresh token came back: the session may be stolen.
    ReuseDetected,
    PasswordChanged,
    /// The user's groups or claims changed, and the change was to take
    /// effect at once.
    ProfileChanged,
    UserDeactivated,
    UserDeleted,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::SessionDeleted => "session_deleted",
            Self::ReuseDetected => "reuse_detected",
            Self::PasswordChanged => "password_changed",
            Self::ProfileChanged => "profile_changed",
            Self::UserDeactivated => "user_deactivated",
            Self::UserDeleted => "user_deleted",
        }
    }
}

pub fn create(conn: &mut DbConnection, session: &NewSession) -> QueryResult<()> {
    diesel::insert_into(token_families::table)
        .values(session)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Session>> {
    token_families::table
        .find(id)
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// The user's sessions that can still be used, newest first.
pub fn live_for_user(
    conn: &mut DbConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<Session>> {
    token_families::table
        .filter(token_families::user_id.eq(user_id))
        .filter(token_families::revoked_at.is_null())
        .filter(token_families::expires_at.gt(now))
        .order((token_families::created_at.desc(), token_families::id))
        .select(Session::as_select())
        .load(conn)
}

/// Ends one session and publishes it; call inside the write transaction.
/// Returns whether it was live.
pub fn end(
    conn: &mut DbConnection,
    id: &str,
    reason: Reason,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let revoked = diesel::update(
        token_families::table
            .find(id)
            .filter(token_families::revoked_at.is_null()),
    )
    .set((
        token_families::revoked_at.eq(now),
        token_families::revoked_reason.eq(reason.as_str()),
    ))
    .execute(conn)?;
    if revoked == 1 {
        events::publish(conn, Event::SessionEnded(id.to_owned()), now)?;
    }
    Ok(revoked == 1)
}

/// Ends every session of a user not ended yet but `keep`, those past their
/// absolute end included (an access token issued just before that end
/// outlives it); returns their ids. One `UPDATE`
/// takes every session's row lock before the change feed's table lock is
/// taken to publish them: taking them one by one, interleaved with the feed's
/// lock, deadlocks on PostgreSQL against a logout of one of those sessions
/// (which holds its row and waits for the feed).
pub fn end_all_for_user(
    conn: &mut DbConnection,
    user_id: i64,
    reason: Reason,
    now: NaiveDateTime,
    keep: Option<&str>,
) -> QueryResult<Vec<String>> {
    let live = || {
        token_families::table
            .filter(token_families::user_id.eq(user_id))
            .filter(token_families::revoked_at.is_null())
            .filter(token_families::id.ne(keep.unwrap_or_default()))
    };
    let ids: Vec<String> = live().select(token_families::id).load(conn)?;
    if ids.is_empty() {
        return Ok(ids);
    }
    diesel::update(live().filter(token_families::id.eq_any(&ids)))
        .set((
            token_families::revoked_at.eq(now),
            token_families::revoked_reason.eq(reason.as_str()),
        ))
        .execute(conn)?;
    // A session ended elsewhere between the two statements is published
    // twice; ending is idempotent everywhere it is read.
    for id in &ids {
        events::publish(conn, Event::SessionEnded(id.clone()), now)?;
    }
    Ok(ids)
}

/// Records the `iat` of a sliding session's first token; call in the
/// transaction that created the session.
pub fn start_sliding(
    conn: &mut DbConnection,
    id: &str,
    issued_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(token_families::table.find(id))
        .set(token_families::sliding_newest_iat.eq(issued_at))
        .execute(conn)
        .map(drop)
}

/// What a sliding refresh found in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slide {
    /// The token presented was the session's newest: the newest is now
    /// the one issued at this instant.
    Slid(NaiveDateTime),
    /// The token the newest replaced, presented again within the reuse
    /// grace of its replacement (a retry after a lost answer): the newest
    /// token is the answer again; it was issued at this instant.
    Replay(NaiveDateTime),
    /// Any other superseded token: reuse. The session has ended
    /// (published).
    ReuseDetected,
    /// No such session, it ended, or it is not a sliding session.
    Ended,
}

/// Slides sliding session `id` for a token issued at `presented_iat`, at
/// `now` (whole seconds). One conditional `UPDATE` decides, so of two
/// refreshes racing with the newest token both slide to the same second or
/// one replays what the other slid to; neither forks the session. The
/// newest `iat` never moves back, whatever the clocks of the instances
/// that slide. Call in a write transaction.
pub fn slide(
    conn: &mut DbConnection,
    id: &str,
    presented_iat: NaiveDateTime,
    now: NaiveDateTime,
    grace: chrono::Duration,
) -> QueryResult<Slide> {
    let live = || {
        token_families::table
            .find(id)
            .filter(token_families::revoked_at.is_null())
            .filter(token_families::expires_at.gt(now))
    };
    let at = now.max(presented_iat);
    // Sliding again within the second changes nothing: the token it gives
    // is the newest itself, and the one that newest replaced stays the one
    // a retry may present.
    let previous = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamp>>(
        "CASE WHEN sliding_newest_iat = ",
    )
    .bind::<diesel::sql_types::Timestamp, _>(at)
    .sql(" THEN sliding_previous_iat ELSE sliding_newest_iat END");
    let slid = diesel::update(live().filter(token_families::sliding_newest_iat.le(presented_iat)))
        .set((
            token_families::sliding_previous_iat.eq(previous),
            token_families::sliding_newest_iat.eq(at),
            token_families::last_used_at.eq(now),
        ))
        .execute(conn)?;
    if slid == 1 {
        return Ok(Slide::Slid(at));
    }
    let found: Option<(Option<NaiveDateTime>, Option<NaiveDateTime>)> = live()
        .select((
            token_families::sliding_newest_iat,
            token_families::sliding_previous_iat,
        ))
        .first(conn)
        .optional()?;
    let Some((Some(newest), previous)) = found else {
        return Ok(Slide::Ended);
    };
    // The newest was issued when it replaced the previous one.
    if previous == Some(presented_iat) && now - newest <= grace {
        return Ok(Slide::Replay(newest));
    }
    end(conn, id, Reason::ReuseDetected, now)?;
    Ok(Slide::ReuseDetected)
}

/// Sessions ended at or after `since`, for an instance filling its revoked set.
pub fn ended_since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    let rows: Vec<(String, Option<NaiveDateTime>)> = token_families::table
        .filter(token_families::revoked_at.ge(since))
        .select((token_families::id, token_families::revoked_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| at.map(|at| (id, at)))
        .collect())
}

/// Deletes sessions whose absolute end has passed (their tokens go with
/// them), `batch` rows per statement; returns how many. A session keeps its
/// rows while one of its tokens is still unexpired by its own `exp` (held
/// as `tokens_expired_by`): an adopted Simple JWT token can outlive the
/// session it started, and its row is what stops it being adopted again.
pub fn delete_expired(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    tokens_expired_by: NaiveDateTime,
    batch: i64,
) -> QueryResult<usize> {
    use super::schema::refresh_tokens;
    super::cleanup::delete_in_batches(batch, |limit| {
        let live_tokens = refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(token_families::id))
            .filter(refresh_tokens::expires_at.gt(tokens_expired_by));
        let expired: Vec<String> = token_families::table
            .filter(token_families::expires_at.le(now))
            .filter(diesel::dsl::not(diesel::dsl::exists(live_tokens)))
            .select(token_families::id)
            .limit(limit)
            .load(conn)?;
        diesel::delete(token_families::table.filter(token_families::id.eq_any(&expired)))
            .execute(conn)
    })
}

//! The change feed (`auth_events`): storage code that changes something an
//! instance may cache publishes an event in the same transaction, and every
//! instance reads the feed in order (the session service's sync).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::auth_events;

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A user's name, password, active flag or existence changed.
    UserChanged(i64),
    /// A session ended: its access tokens must go.
    SessionEnded(String),
}

/// Records `event`; call inside the transaction that makes the change.
pub fn publish(conn: &mut DbConnection, event: Event, now: NaiveDateTime) -> QueryResult<()> {
    // Ids then become visible in the order they were allocated, so a
    // reader's "id > last seen" never skips one.
    super::backend::order_feed_writes(conn)?;
    let (user_id, family_id) = match event {
        Event::UserChanged(user_id) => (Some(user_id), None),
        Event::SessionEnded(session_id) => (None, Some(session_id)),
    };
    diesel::insert_into(auth_events::table)
        .values((
            auth_events::user_id.eq(user_id),
            auth_events::family_id.eq(family_id),
            auth_events::created_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// The newest event id, where a fresh reader starts.
pub fn latest_id(conn: &mut DbConnection) -> QueryResult<i64> {
    auth_events::table
        .select(diesel::dsl::max(auth_events::id))
        .first::<Option<i64>>(conn)
        .map(Option::unwrap_or_default)
}

/// Events after `after`, oldest first, with their ids.
pub fn since(conn: &mut DbConnection, after: i64, limit: i64) -> QueryResult<Vec<(i64, Event)>> {
    let rows: Vec<(i64, Option<i64>, Option<String>)> = auth_events::table
        .filter(auth_events::id.gt(after))
        .order(auth_events::id)
        .limit(limit)
        .select((
            auth_events::id,
            auth_events::user_id,
            auth_events::family_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, user, session)| match (user, session) {
            (Some(user), _) => Some((id, Event::UserChanged(user))),
            (None, Some(session)) => Some((id, Event::SessionEnded(session))),
            (None, None) => None,
        })
        .collect())
}

/// Deletes events older than `before`; readers are far past them.
pub fn delete_older_than(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(auth_events::table.filter(auth_events::created_at.lt(before))).execute(conn)
}

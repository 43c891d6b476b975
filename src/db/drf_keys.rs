//! Django REST framework token keys (`drf_token`): only a SHA-256 digest of
//! each key is stored. A key latchkey gave is derived from the
//! `drf_token.secret` and the row's nonce (`crate::sessions::drf_keys`), so
//! the same key can be given again; a key imported from Django has no nonce.
//! A key is void once its user's mark (`users.tokens_valid_after`, moved by
//! logout everywhere, a password change, deactivation) passes its
//! `created_at`, as a token is; the user changes of `super::users` also
//! delete them (but a deactivation's, so the key of an inactive user is
//! answered as DRF answers it), and publish the change.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::drf_token_keys;

/// A stored key: its digest, its user, and what it was derived from.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = drf_token_keys)]
pub struct StoredKey {
    /// SHA-256 of the key, lowercase hex.
    pub digest: String,
    pub user_id: i64,
    /// What the key was derived from; `None` for a key imported from Django.
    pub nonce: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The user whose key has this digest, and when the key was made.
pub fn owner(conn: &mut DbConnection, digest: &str) -> QueryResult<Option<(i64, NaiveDateTime)>> {
    drf_token_keys::table
        .find(digest)
        .select((drf_token_keys::user_id, drf_token_keys::created_at))
        .first(conn)
        .optional()
}

/// Whether the user's mark voids a key made at `created_at`.
pub fn voided(created_at: NaiveDateTime, mark: Option<NaiveDateTime>) -> bool {
    mark.is_some_and(|mark| created_at < mark)
}

/// Deletes the user's keys the mark voids.
pub fn delete_voided(
    conn: &mut DbConnection,
    user_id: i64,
    mark: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let Some(mark) = mark else {
        return Ok(0);
    };
    diesel::delete(
        drf_token_keys::table
            .filter(drf_token_keys::user_id.eq(user_id))
            .filter(drf_token_keys::created_at.lt(mark)),
    )
    .execute(conn)
}

/// A mark (`users.tokens_valid_after`) set at `now` that voids every key
/// of the user still stored: `now`, or just past the newest key's
/// `created_at` when a clock ahead of this one made it.
pub fn mark_past_keys(
    conn: &mut DbConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<NaiveDateTime> {
    let newest: Option<NaiveDateTime> = drf_token_keys::table
        .filter(drf_token_keys::user_id.eq(user_id))
        .select(diesel::dsl::max(drf_token_keys::created_at))
        .first(conn)?;
    Ok(match newest {
        Some(newest) if newest >= now => newest + chrono::Duration::microseconds(1),
        _ => now,
    })
}

/// Dates the key with digest `digest` at `at`: a key a password change
/// keeps stands past the mark the change set.
pub fn keep(conn: &mut DbConnection, digest: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(drf_token_keys::table.find(digest))
        .set(drf_token_keys::created_at.eq(at))
        .execute(conn)
        .map(drop)
}

/// The user's keys, oldest first.
pub fn of_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<StoredKey>> {
    drf_token_keys::table
        .filter(drf_token_keys::user_id.eq(user_id))
        .order((drf_token_keys::created_at, drf_token_keys::digest))
        .select(StoredKey::as_select())
        .load(conn)
}

/// Records a key.
pub fn insert(conn: &mut DbConnection, key: &StoredKey) -> QueryResult<()> {
    diesel::insert_into(drf_token_keys::table)
        .values(key)
        .execute(conn)
        .map(drop)
}

/// Deletes the user's keys but the one with digest `keep`; returns how many.
/// Call with the user's row locked, in the transaction that publishes the
/// change.
pub fn delete_for_user(
    conn: &mut DbConnection,
    user_id: i64,
    keep: Option<&str>,
) -> QueryResult<usize> {
    diesel::delete(
        drf_token_keys::table
            .filter(drf_token_keys::user_id.eq(user_id))
            .filter(drf_token_keys::digest.ne(keep.unwrap_or_default())),
    )
    .execute(conn)
}

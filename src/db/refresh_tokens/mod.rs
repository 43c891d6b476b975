//! The refresh-token allow-list. Every refresh token belongs to a session
//! (one login, `super::sessions`); what is recorded of it is its stamp (jti,
//! issued-at, expiry), never the token text. A token is rotated in
//! [`rotation`] (one request: a conditional `UPDATE` whose row count decides
//! the winner) or [`batch`] (many at once, on PostgreSQL, by the same
//! conditions); retired by a logout in [`logout`]; and, in migration mode,
//! adopted on first use in [`adoption`].

pub mod adoption;
pub mod batch;
mod logout;
mod rotation;

use chrono::NaiveDateTime;
use diesel::prelude::*;

pub use adoption::Adoption;
pub use logout::{Logout, blacklist};
pub use rotation::{Refresh, Refreshed, refresh};

use super::DbConnection;
use super::schema::{refresh_tokens, token_families, users};
use crate::tokens::Stamp;

/// What is recorded of an issued refresh token: never the token text.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken {
    pub jti: String,
    pub user_id: i64,
    #[diesel(column_name = family_id)]
    pub session_id: String,
    pub parent_jti: Option<String>,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl NewRefreshToken {
    /// The record of the token `stamp` stands for.
    pub fn new(stamp: &Stamp, user_id: i64, session_id: &str, parent_jti: Option<&str>) -> Self {
        Self {
            jti: stamp.jti.clone(),
            user_id,
            session_id: session_id.to_owned(),
            parent_jti: parent_jti.map(str::to_owned),
            issued_at: stamp.issued_at,
            expires_at: stamp.expires_at,
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct StoredToken {
    user_id: i64,
    #[diesel(column_name = family_id)]
    session_id: String,
    issued_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    rotated_at: Option<NaiveDateTime>,
    replaced_by: Option<String>,
    blacklisted_at: Option<NaiveDateTime>,
}

/// Why a presented refresh token cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Never issued here (or its user was deleted with it).
    Unknown,
    /// Rotated out, blacklisted, or its session ended.
    Blacklisted,
    /// Its session reached the absolute session lifetime.
    SessionExpired,
    /// The token is fine but its user is gone or inactive.
    NoActiveUser,
}

/// A refresh token's state as the verify endpoint reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Usable,
    Blacklisted,
}

pub fn record(conn: &mut DbConnection, token: &NewRefreshToken) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

/// The token's standing: blacklisted when it, or its session, is retired.
pub fn status(conn: &mut DbConnection, jti: &str) -> QueryResult<Option<Status>> {
    let row: Option<(
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    )> = refresh_tokens::table
        .inner_join(token_families::table)
        .filter(refresh_tokens::jti.eq(jti))
        .select((
            refresh_tokens::rotated_at,
            refresh_tokens::blacklisted_at,
            token_families::revoked_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(rotated, blacklisted, revoked)| {
        if rotated.is_some() || blacklisted.is_some() || revoked.is_some() {
            Status::Blacklisted
        } else {
            Status::Usable
        }
    }))
}

fn load(
    conn: &mut DbConnection,
    jti: &str,
) -> QueryResult<Option<(StoredToken, Option<NaiveDateTime>, NaiveDateTime)>> {
    refresh_tokens::table
        .inner_join(token_families::table)
        .filter(refresh_tokens::jti.eq(jti))
        .select((
            StoredToken::as_select(),
            token_families::revoked_at,
            token_families::expires_at,
        ))
        .first(conn)
        .optional()
}

fn owner_allowed(conn: &mut DbConnection, user_id: i64, require_active: bool) -> QueryResult<bool> {
    let active: Option<bool> = users::table
        .find(user_id)
        .select(users::is_active)
        .first(conn)
        .optional()?;
    Ok(matches!(active, Some(true)) || (active.is_some() && !require_active))
}

/// Deletes expired tokens, `batch` rows per statement so no statement holds
/// locks for long; returns how many were deleted.
pub fn delete_expired(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    batch: i64,
) -> QueryResult<usize> {
    crate::db::cleanup::delete_in_batches(batch, |limit| {
        let expired: Vec<String> = refresh_tokens::table
            .filter(refresh_tokens::expires_at.le(now))
            .select(refresh_tokens::jti)
            .limit(limit)
            .load(conn)?;
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::jti.eq_any(&expired)))
            .execute(conn)
    })
}

//! Migration mode (`jwt.adopt_unknown_refresh_tokens`): a validly signed
//! refresh token of the Simple JWT deployment latchkey replaces is recorded
//! on first use as the root of a new session, so it can be refreshed,
//! logged out and reuse-checked like one latchkey issued.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{NewRefreshToken, Refusal, load, owner_allowed, record};
use crate::db::schema::users;
use crate::db::{DbConnection, sessions};

/// What is known of a validly signed token issued by the system latchkey replaces.
#[derive(Clone, Debug)]
pub struct Adoption {
    pub user_id: i64,
    /// The token's `iat`, if it has one.
    pub issued_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
    /// The end of the session the adopted token starts.
    pub session_expires_at: NaiveDateTime,
}

/// Records a validly signed token this service never issued (a Simple JWT
/// token during a migration) as the root of a new session, if its user exists
/// and has not voided it since it was issued: a password change,
/// deactivation or logout everywhere reaches tokens not yet presented too.
pub(super) fn adopt_if_unknown(
    conn: &mut DbConnection,
    jti: &str,
    adoption: &Adoption,
    require_active_user: bool,
    now: NaiveDateTime,
) -> QueryResult<Option<Refusal>> {
    // The owner's row lock first (PostgreSQL): a password change, deactivation
    // or logout everywhere either committed before (and its mark is read
    // below) or waits until this session exists (and revokes it). It also
    // queues two first uses of the same token, so the second finds it recorded.
    crate::db::users::lock(conn, adoption.user_id)?;
    if load(conn, jti)?.is_some() {
        return Ok(None);
    }
    if !owner_allowed(conn, adoption.user_id, require_active_user)? {
        return Ok(Some(Refusal::NoActiveUser));
    }
    let tokens_valid_after: Option<NaiveDateTime> = users::table
        .find(adoption.user_id)
        .select(users::tokens_valid_after)
        .first(conn)?;
    // A token from another system belongs to no session here.
    if crate::db::users::voids(tokens_valid_after, None, adoption.issued_at, None) {
        return Ok(Some(Refusal::Blacklisted));
    }
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    sessions::create(
        conn,
        &sessions::NewSession {
            id: session_id.clone(),
            user_id: adoption.user_id,
            created_at: adoption.issued_at.unwrap_or(now),
            last_used_at: now,
            expires_at: adoption.session_expires_at,
            client_ip: None,
            user_agent: None,
        },
    )?;
    record(
        conn,
        &NewRefreshToken {
            jti: jti.to_owned(),
            user_id: adoption.user_id,
            session_id,
            parent_jti: None,
            issued_at: adoption.issued_at.unwrap_or(now),
            expires_at: adoption.expires_at,
        },
    )?;
    Ok(None)
}

//! The refresh-token allow-list: where a refresh token is rotated. Every
//! refresh token belongs to a session (one login, `super::sessions`). Using
//! a token is one conditional `UPDATE` whose row count decides the outcome,
//! so of two requests presenting the same token at once exactly one claims
//! it; presenting a token that was already rotated out, after the grace
//! window, ends its whole session (RFC 9700 §4.14). Rotations batched on
//! PostgreSQL claim by the same conditions (`super::rotation_batch`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::adoption::{Adoption, adopt_if_unknown};
use super::schema::{refresh_tokens, token_families, users};
use super::sessions::{self, Reason};
use super::{DbConnection, write_transaction};
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
pub(super) struct StoredToken {
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

/// A refresh request against the store.
#[derive(Clone, Debug)]
pub struct Refresh {
    pub parent_jti: String,
    /// The user the token's claims name, if they name one.
    pub claimed_user: Option<i64>,
    /// The rotated token to record, `None` when rotation is off. Its
    /// `expires_at` is what the token lifetime asks for; the store shortens
    /// it to the session's end.
    pub child: Option<Stamp>,
    /// Consume the parent (rotation with Simple JWT's `BLACKLIST_AFTER_ROTATION`).
    pub retire_parent: bool,
    pub require_active_user: bool,
    /// Record the parent first if this service never issued it (migration mode).
    pub adopt: Option<Adoption>,
    /// A rotated-out parent presented again within this long gets its child again.
    pub grace: chrono::Duration,
}

/// The outcome of a refresh. Every variant is committed, refusals included:
/// a reuse detected on the way has ended the session for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// The parent was used; the child, if any, recorded as it is here (its
    /// expiry shortened to the session's end).
    Rotated {
        session_id: String,
        child: Option<Stamp>,
    },
    /// A retry within the grace window: the child already recorded, to send again.
    Replayed {
        session_id: String,
        child: Stamp,
    },
    /// A rotated-out token came back after the grace window: its session
    /// has now ended, and the request is refused as blacklisted.
    ReuseDetected {
        session_id: String,
    },
    Refused(Refusal),
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

/// Uses a refresh token, in one transaction whose first write is the
/// conditional `UPDATE` that claims it.
pub fn refresh(
    conn: &mut DbConnection,
    request: &Refresh,
    now: NaiveDateTime,
) -> QueryResult<Refreshed> {
    write_transaction(conn, |conn| {
        if let Some(adoption) = &request.adopt
            && let Some(refusal) = adopt_if_unknown(
                conn,
                &request.parent_jti,
                adoption,
                request.require_active_user,
                now,
            )?
        {
            return Ok(Refreshed::Refused(refusal));
        }
        if claim(conn, request, now)? == 1 {
            let (user_id, session_id, session_expires_at): (i64, String, NaiveDateTime) =
                refresh_tokens::table
                    .inner_join(token_families::table)
                    .filter(refresh_tokens::jti.eq(&request.parent_jti))
                    .select((
                        refresh_tokens::user_id,
                        refresh_tokens::family_id,
                        token_families::expires_at,
                    ))
                    .first(conn)?;
            diesel::update(token_families::table.find(&session_id))
                .set(token_families::last_used_at.eq(now))
                .execute(conn)?;
            let Some(child) = &request.child else {
                return Ok(Refreshed::Rotated {
                    session_id,
                    child: None,
                });
            };
            let child = Stamp {
                expires_at: child.expires_at.min(session_expires_at),
                ..child.clone()
            };
            record(
                conn,
                &NewRefreshToken::new(&child, user_id, &session_id, Some(&request.parent_jti)),
            )?;
            return Ok(Refreshed::Rotated {
                session_id,
                child: Some(child),
            });
        }
        classify_unclaimed(conn, request, now)
    })
}

/// The conditional write that claims the parent: still usable, its session
/// live, its owner allowed. Returns the number of rows claimed (0 or 1).
fn claim(conn: &mut DbConnection, request: &Refresh, now: NaiveDateTime) -> QueryResult<usize> {
    let live_sessions = token_families::table
        .filter(token_families::revoked_at.is_null())
        .filter(token_families::expires_at.gt(now))
        .select(token_families::id);
    let allowed_users = users::table
        .filter(
            users::is_active
                .or((!request.require_active_user).into_sql::<diesel::sql_types::Bool>()),
        )
        .select(users::id);
    let target = refresh_tokens::table
        .filter(refresh_tokens::jti.eq(&request.parent_jti))
        .filter(refresh_tokens::rotated_at.is_null())
        .filter(refresh_tokens::blacklisted_at.is_null())
        .filter(refresh_tokens::family_id.eq_any(live_sessions))
        .filter(refresh_tokens::user_id.eq_any(allowed_users));
    if request.retire_parent {
        let replaced_by = request.child.as_ref().map(|child| child.jti.as_str());
        diesel::update(target)
            .set((
                refresh_tokens::rotated_at.eq(now),
                refresh_tokens::replaced_by.eq(replaced_by),
            ))
            .execute(conn)
    } else {
        target.count().get_result::<i64>(conn).map(|n| n as usize)
    }
}

/// Why a token could not be claimed, acting on it: a rotated-out token
/// presented within the grace window gets its child again; one presented later
/// is reuse, and ends its session.
fn classify_unclaimed(
    conn: &mut DbConnection,
    request: &Refresh,
    now: NaiveDateTime,
) -> QueryResult<Refreshed> {
    let refused = |refusal| Ok(Refreshed::Refused(refusal));
    let Some((token, session_ended, session_expires_at)) = load(conn, &request.parent_jti)? else {
        return refused(unknown(conn, request.claimed_user)?);
    };
    // An inactive owner is reported as such even though deactivation also
    // ended the session: that is Simple JWT's answer for a deactivated user.
    if !owner_allowed(conn, token.user_id, request.require_active_user)? {
        return refused(Refusal::NoActiveUser);
    }
    // The session's state comes before any grace: an ended session stays ended.
    if session_ended.is_some() || token.blacklisted_at.is_some() {
        return refused(Refusal::Blacklisted);
    }
    if session_expires_at <= now {
        return refused(Refusal::SessionExpired);
    }
    let Some(rotated_at) = token.rotated_at else {
        // Usable, live and its owner allowed: it was claimed between our two
        // statements by a request that has not rotated it yet.
        return refused(Refusal::Blacklisted);
    };
    // A zero grace means none: a request that read the clock before the
    // winner did (so `now` is earlier than `rotated_at`) is reuse too.
    if request.grace > chrono::Duration::zero()
        && now - rotated_at <= request.grace
        && let Some(child_jti) = &token.replaced_by
        && let Some((child, _, _)) = load(conn, child_jti)?
        && child.rotated_at.is_none()
        && child.blacklisted_at.is_none()
    {
        return Ok(Refreshed::Replayed {
            session_id: token.session_id,
            child: Stamp {
                jti: child_jti.clone(),
                issued_at: child.issued_at,
                expires_at: child.expires_at,
            },
        });
    }
    sessions::end(conn, &token.session_id, Reason::ReuseDetected, now)?;
    tracing::warn!(session = %token.session_id, user_id = token.user_id, "refresh token reuse: session ended");
    Ok(Refreshed::ReuseDetected {
        session_id: token.session_id,
    })
}

/// What a logout did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logout {
    /// The session this logout ended, if it was still live.
    pub ended_session: Option<String>,
    /// Why the token itself was refused, as Simple JWT would refuse it.
    pub refusal: Option<Refusal>,
}

/// Logout: blacklists a usable token and ends its session. A token already
/// rotated out ends its session too (reuse, or a client logging out with a
/// stale token: either way the session ends) but is refused, as Simple JWT
/// refuses it.
pub fn blacklist(
    conn: &mut DbConnection,
    jti: &str,
    adopt: Option<&Adoption>,
    now: NaiveDateTime,
) -> QueryResult<Logout> {
    write_transaction(conn, |conn| {
        if let Some(adoption) = adopt
            && let Some(refusal) = adopt_if_unknown(conn, jti, adoption, false, now)?
        {
            return Ok(Logout {
                ended_session: None,
                refusal: Some(refusal),
            });
        }
        let updated = diesel::update(
            refresh_tokens::table
                .find(jti)
                .filter(refresh_tokens::rotated_at.is_null())
                .filter(refresh_tokens::blacklisted_at.is_null()),
        )
        .set(refresh_tokens::blacklisted_at.eq(now))
        .execute(conn)?;
        let Some((token, session_ended, _)) = load(conn, jti)? else {
            return Ok(Logout {
                ended_session: None,
                refusal: Some(Refusal::Unknown),
            });
        };
        let ended = sessions::end(conn, &token.session_id, Reason::Logout, now)?;
        let refusal = (updated != 1 || session_ended.is_some()).then_some(Refusal::Blacklisted);
        Ok(Logout {
            ended_session: ended.then_some(token.session_id),
            refusal,
        })
    })
}

pub(super) fn load(
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

/// A token we never recorded: if the user it names does not exist, that is
/// the nearer cause (their rows went with them).
fn unknown(conn: &mut DbConnection, claimed_user: Option<i64>) -> QueryResult<Refusal> {
    let user_exists = match claimed_user {
        Some(id) => super::users::find_by_id(conn, id)?.is_some(),
        None => false,
    };
    Ok(if user_exists {
        Refusal::Unknown
    } else {
        Refusal::NoActiveUser
    })
}

pub(super) fn owner_allowed(
    conn: &mut DbConnection,
    user_id: i64,
    require_active: bool,
) -> QueryResult<bool> {
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
    super::delete_in_batches(batch, |limit| {
        let expired: Vec<String> = refresh_tokens::table
            .filter(refresh_tokens::expires_at.le(now))
            .select(refresh_tokens::jti)
            .limit(limit)
            .load(conn)?;
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::jti.eq_any(&expired)))
            .execute(conn)
    })
}

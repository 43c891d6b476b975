//! Rotation: using a refresh token once. The conditional `UPDATE` that
//! claims the parent decides the winner of any race; a token that cannot be
//! claimed is classified, and a rotated-out one presented again after the
//! grace window ends its session (RFC 9700 §4.14).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::adoption::{Adoption, adopt_if_unknown};
use super::{NewRefreshToken, Refusal, load, owner_allowed, record};
use crate::db::schema::{refresh_tokens, token_families, users};
use crate::db::sessions::{self, Reason};
use crate::db::{DbConnection, write_transaction};
use crate::tokens::Stamp;

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

/// A token we never recorded: if the user it names does not exist, that is
/// the nearer cause (their rows went with them).
fn unknown(conn: &mut DbConnection, claimed_user: Option<i64>) -> QueryResult<Refusal> {
    let user_exists = match claimed_user {
        Some(id) => crate::db::users::find_by_id(conn, id)?.is_some(),
        None => false,
    };
    Ok(if user_exists {
        Refusal::Unknown
    } else {
        Refusal::NoActiveUser
    })
}

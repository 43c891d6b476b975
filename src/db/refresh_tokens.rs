//! The refresh-token allow-list. Every refresh token belongs to a family (one
//! login, `super::families`). Using a token is one conditional `UPDATE` whose
//! row count decides the outcome, so of two requests presenting the same token
//! at once exactly one claims it; presenting a token that was already rotated
//! out, after the grace window, revokes its whole family (RFC 9700 §4.14).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::families::{self, Reason};
use super::schema::{refresh_tokens, token_families, users};
use super::{DbConnection, write_transaction};

/// What is recorded of an issued refresh token: never the token text.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken {
    pub jti: String,
    pub user_id: i64,
    pub family_id: String,
    pub parent_jti: Option<String>,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct StoredToken {
    user_id: i64,
    family_id: String,
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
    /// Rotated out, blacklisted, or its family revoked.
    Blacklisted,
    /// Its family reached the absolute session lifetime.
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

/// A token to record in place of the one presented. `expires_at` is what the
/// token lifetime asks for; the store shortens it to the family's end.
#[derive(Clone, Debug)]
pub struct ChildToken {
    pub jti: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// What is known of a validly signed token issued by the system latchkey replaces.
#[derive(Clone, Debug)]
pub struct Adoption {
    pub user_id: i64,
    /// The token's `iat`, if it has one.
    pub issued_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
    /// The end of the session the adopted token starts.
    pub family_expires_at: NaiveDateTime,
}

/// A refresh request against the store.
#[derive(Clone, Debug)]
pub struct Refresh {
    pub parent_jti: String,
    /// The user the token's claims name, if they name one.
    pub claimed_user: Option<i64>,
    /// The rotated token to record; `None` when rotation is off.
    pub child: Option<ChildToken>,
    /// Consume the parent (rotation with Simple JWT's `BLACKLIST_AFTER_ROTATION`).
    pub retire_parent: bool,
    pub require_active_user: bool,
    /// Record the parent first if this service never issued it (migration mode).
    pub adopt: Option<Adoption>,
    /// A rotated-out parent presented again within this long gets its child again.
    pub grace: chrono::Duration,
}

/// The outcome of a refresh. Every variant is committed, refusals included:
/// a reuse detected on the way has revoked the family for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// The parent was used; the child, if any, recorded with this expiry.
    Rotated {
        family_id: String,
        child_expires_at: Option<NaiveDateTime>,
    },
    /// A retry within the grace window: the child already recorded, to send again.
    Replayed {
        family_id: String,
        child_jti: String,
        child_issued_at: NaiveDateTime,
        child_expires_at: NaiveDateTime,
    },
    /// A rotated-out token came back after the grace window: its family is
    /// now revoked, and the request refused as blacklisted.
    ReuseDetected {
        family_id: String,
    },
    Refused(Refusal),
}

pub fn record(conn: &mut DbConnection, token: &NewRefreshToken) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

/// The token's standing: blacklisted when it, or its family, is retired.
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
            let (user_id, family_id, family_expires_at): (i64, String, NaiveDateTime) =
                refresh_tokens::table
                    .inner_join(token_families::table)
                    .filter(refresh_tokens::jti.eq(&request.parent_jti))
                    .select((
                        refresh_tokens::user_id,
                        refresh_tokens::family_id,
                        token_families::expires_at,
                    ))
                    .first(conn)?;
            diesel::update(token_families::table.find(&family_id))
                .set(token_families::last_used_at.eq(now))
                .execute(conn)?;
            let Some(child) = &request.child else {
                return Ok(Refreshed::Rotated {
                    family_id,
                    child_expires_at: None,
                });
            };
            let expires_at = child.expires_at.min(family_expires_at);
            record(
                conn,
                &NewRefreshToken {
                    jti: child.jti.clone(),
                    user_id,
                    family_id: family_id.clone(),
                    parent_jti: Some(request.parent_jti.clone()),
                    issued_at: child.issued_at,
                    expires_at,
                },
            )?;
            return Ok(Refreshed::Rotated {
                family_id,
                child_expires_at: Some(expires_at),
            });
        }
        classify_unclaimed(conn, request, now)
    })
}

/// The conditional write that claims the parent: still usable, its family
/// live, its owner allowed. Returns the number of rows claimed (0 or 1).
fn claim(conn: &mut DbConnection, request: &Refresh, now: NaiveDateTime) -> QueryResult<usize> {
    let live_families = token_families::table
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
        .filter(refresh_tokens::family_id.eq_any(live_families))
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
/// is reuse, and revokes its family.
fn classify_unclaimed(
    conn: &mut DbConnection,
    request: &Refresh,
    now: NaiveDateTime,
) -> QueryResult<Refreshed> {
    let refused = |refusal| Ok(Refreshed::Refused(refusal));
    let Some((token, family_revoked, family_expires_at)) = load(conn, &request.parent_jti)? else {
        return refused(unknown(conn, request.claimed_user)?);
    };
    // An inactive owner is reported as such even though deactivation also
    // revoked the family: that is Simple JWT's answer for a deactivated user.
    if !owner_allowed(conn, token.user_id, request.require_active_user)? {
        return refused(Refusal::NoActiveUser);
    }
    // The family's state comes before any grace: a revoked family stays revoked.
    if family_revoked.is_some() || token.blacklisted_at.is_some() {
        return refused(Refusal::Blacklisted);
    }
    if family_expires_at <= now {
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
            family_id: token.family_id,
            child_jti: child_jti.clone(),
            child_issued_at: child.issued_at,
            child_expires_at: child.expires_at,
        });
    }
    families::revoke(conn, &token.family_id, Reason::ReuseDetected, now)?;
    tracing::warn!(family = %token.family_id, user_id = token.user_id, "refresh token reuse: session revoked");
    Ok(Refreshed::ReuseDetected {
        family_id: token.family_id,
    })
}

/// What a logout did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logout {
    /// The family this logout revoked, if it was still live.
    pub revoked_family: Option<String>,
    /// Why the token itself was refused, as Simple JWT would refuse it.
    pub refusal: Option<Refusal>,
}

/// Logout: blacklists a usable token and revokes its family. A token already
/// rotated out revokes its family too (reuse, or a client logging out with a
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
                revoked_family: None,
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
        let Some((token, family_revoked, _)) = load(conn, jti)? else {
            return Ok(Logout {
                revoked_family: None,
                refusal: Some(Refusal::Unknown),
            });
        };
        let revoked = families::revoke(conn, &token.family_id, Reason::Logout, now)?;
        let refusal = (updated != 1 || family_revoked.is_some()).then_some(Refusal::Blacklisted);
        Ok(Logout {
            revoked_family: revoked.then_some(token.family_id),
            refusal,
        })
    })
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

fn owner_allowed(conn: &mut DbConnection, user_id: i64, require_active: bool) -> QueryResult<bool> {
    let active: Option<bool> = users::table
        .find(user_id)
        .select(users::is_active)
        .first(conn)
        .optional()?;
    Ok(matches!(active, Some(true)) || (active.is_some() && !require_active))
}

/// Records a validly signed token this service never issued (a Simple JWT
/// token during a migration) as the root of a new family, if its user exists
/// and has not voided it since it was issued: a password change,
/// deactivation or logout everywhere reaches tokens not yet presented too.
fn adopt_if_unknown(
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
    super::users::lock(conn, adoption.user_id)?;
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
    if super::users::voids(tokens_valid_after, adoption.issued_at, false) {
        return Ok(Some(Refusal::Blacklisted));
    }
    let family_id = uuid::Uuid::new_v4().simple().to_string();
    families::create(
        conn,
        &families::NewFamily {
            id: family_id.clone(),
            user_id: adoption.user_id,
            created_at: adoption.issued_at.unwrap_or(now),
            last_used_at: now,
            expires_at: adoption.family_expires_at,
            client_ip: None,
            user_agent: None,
        },
    )?;
    record(
        conn,
        &NewRefreshToken {
            jti: jti.to_owned(),
            user_id: adoption.user_id,
            family_id,
            parent_jti: None,
            issued_at: adoption.issued_at.unwrap_or(now),
            expires_at: adoption.expires_at,
        },
    )?;
    Ok(None)
}

/// One rotation in a batch: the parent to claim and the child to record.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub parent_jti: String,
    pub child: ChildToken,
    pub require_active_user: bool,
}

/// What a batched rotation recorded for a child.
#[derive(Clone, Debug, PartialEq, Eq, QueryableByName)]
pub struct Recorded {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub jti: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub family_id: String,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    pub expires_at: NaiveDateTime,
}

/// Many default rotations on PostgreSQL in one statement: each parent is
/// claimed by the same conditions as [`refresh`] (usable, family live, owner
/// allowed), its family touched, and its child recorded, shortened to the
/// family's end. Returns what was recorded, by child jti; a rotation whose
/// child is missing claimed nothing and is settled by [`refresh`].
pub fn rotate_many(
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

//! The refresh-token allow-list. Rotation and blacklisting are each one
//! conditional `UPDATE` whose row count decides the outcome, so of two requests
//! presenting the same token at once exactly one wins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{refresh_tokens, users};
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

/// Why a presented refresh token cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Never issued here (or its user was deleted with it).
    Unknown,
    /// Rotated out or explicitly blacklisted.
    Blacklisted,
    /// The token is fine but its user is gone or inactive.
    NoActiveUser,
}

/// A refresh token's state as the verify endpoint reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Usable,
    Blacklisted,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("refresh token refused: {0:?}")]
    Refused(Refusal),
}

/// A refresh request against the store: the presented token, what replaces
/// it, and how its owner is checked.
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
}

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
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn record(conn: &mut DbConnection, token: &NewRefreshToken) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

pub fn status(conn: &mut DbConnection, jti: &str) -> QueryResult<Option<Status>> {
    let row: Option<(Option<NaiveDateTime>, Option<NaiveDateTime>)> = refresh_tokens::table
        .find(jti)
        .select((refresh_tokens::rotated_at, refresh_tokens::blacklisted_at))
        .first(conn)
        .optional()?;
    Ok(row.map(|(rotated, blacklisted)| {
        if rotated.is_some() || blacklisted.is_some() {
            Status::Blacklisted
        } else {
            Status::Usable
        }
    }))
}

/// Uses a refresh token: if and only if it is still usable and its owner
/// passes, consumes it (when `retire_parent`) and records its child, in one
/// transaction whose first write is the conditional `UPDATE` that claims it.
pub fn refresh(
    conn: &mut DbConnection,
    request: &Refresh,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    if let Some(adoption) = &request.adopt {
        write_transaction(conn, |conn| {
            adopt_if_unknown(
                conn,
                &request.parent_jti,
                adoption,
                request.require_active_user,
            )
        })?;
    }
    write_transaction(conn, |conn| {
        let claimed = if request.retire_parent {
            let replaced_by = request.child.as_ref().map(|child| child.jti.as_str());
            diesel::update(usable(&request.parent_jti))
                .set((
                    refresh_tokens::rotated_at.eq(now),
                    refresh_tokens::replaced_by.eq(replaced_by),
                ))
                .execute(conn)?
        } else {
            usable(&request.parent_jti)
                .count()
                .get_result::<i64>(conn)? as usize
        };
        if claimed != 1 {
            return Err(refusal(conn, &request.parent_jti, request.claimed_user)?.into());
        }
        let (user_id, family_id): (i64, String) = refresh_tokens::table
            .find(&request.parent_jti)
            .select((refresh_tokens::user_id, refresh_tokens::family_id))
            .first(conn)?;
        check_owner(conn, user_id, request.require_active_user)?;
        if let Some(child) = &request.child {
            record(
                conn,
                &NewRefreshToken {
                    jti: child.jti.clone(),
                    user_id,
                    family_id,
                    parent_jti: Some(request.parent_jti.clone()),
                    issued_at: child.issued_at,
                    expires_at: child.expires_at,
                },
            )?;
        }
        Ok(())
    })
}

/// One rotation in a batch: the parent to claim and the child to record.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub parent_jti: String,
    pub child: ChildToken,
    pub require_active_user: bool,
}

/// Many default rotations on PostgreSQL in one statement: each parent is
/// claimed by the same conditional UPDATE as [`refresh`] uses and
/// its child recorded. Returns the jtis of the children recorded; a rotation
/// whose child is missing claimed nothing. If two rotations name the same
/// parent, the row is updated once and only one child is recorded.
pub fn rotate_many(
    conn: &mut diesel::PgConnection,
    rotations: &[Rotation],
    now: NaiveDateTime,
) -> QueryResult<std::collections::HashSet<String>> {
    use diesel::sql_types::{Array, Bool, Text, Timestamp};

    #[derive(QueryableByName)]
    struct Recorded {
        #[diesel(sql_type = Text)]
        jti: String,
    }

    let parents: Vec<&str> = rotations.iter().map(|r| r.parent_jti.as_str()).collect();
    let children: Vec<&str> = rotations.iter().map(|r| r.child.jti.as_str()).collect();
    let issued: Vec<NaiveDateTime> = rotations.iter().map(|r| r.child.issued_at).collect();
    let expires: Vec<NaiveDateTime> = rotations.iter().map(|r| r.child.expires_at).collect();
    let lenient: Vec<bool> = rotations.iter().map(|r| !r.require_active_user).collect();
    let recorded: Vec<Recorded> = diesel::sql_query(
        "WITH input AS ( \
             SELECT * FROM unnest($1::text[], $2::text[], $3::timestamp[], $4::timestamp[], $5::bool[]) \
                 AS i(parent, child, issued_at, expires_at, lenient)), \
         claimed AS ( \
             UPDATE refresh_tokens SET rotated_at = $6, replaced_by = input.child \
             FROM input \
             WHERE refresh_tokens.jti = input.parent \
               AND refresh_tokens.rotated_at IS NULL AND refresh_tokens.blacklisted_at IS NULL \
               AND EXISTS (SELECT 1 FROM users WHERE users.id = refresh_tokens.user_id \
                           AND (users.is_active OR input.lenient)) \
             RETURNING refresh_tokens.jti AS parent, refresh_tokens.replaced_by AS child, \
                       refresh_tokens.user_id, refresh_tokens.family_id) \
         INSERT INTO refresh_tokens (jti, user_id, family_id, parent_jti, issued_at, expires_at) \
         SELECT claimed.child, claimed.user_id, claimed.family_id, claimed.parent, input.issued_at, input.expires_at \
         FROM claimed JOIN input ON input.child = claimed.child \
         RETURNING jti",
    )
    .bind::<Array<Text>, _>(parents)
    .bind::<Array<Text>, _>(children)
    .bind::<Array<Timestamp>, _>(issued)
    .bind::<Array<Timestamp>, _>(expires)
    .bind::<Array<Bool>, _>(lenient)
    .bind::<Timestamp, _>(now)
    .load(conn)?;
    Ok(recorded.into_iter().map(|r| r.jti).collect())
}

/// Why a batched rotation claimed nothing: the token is gone or used, or its
/// owner failed the check.
pub fn refusal_after_failed_claim(
    conn: &mut DbConnection,
    request: &Refresh,
) -> QueryResult<StoreError> {
    let owner: Option<i64> = refresh_tokens::table
        .find(&request.parent_jti)
        .filter(
            refresh_tokens::rotated_at
                .is_null()
                .and(refresh_tokens::blacklisted_at.is_null()),
        )
        .select(refresh_tokens::user_id)
        .first(conn)
        .optional()?;
    Ok(match owner {
        // Still usable, so the owner check refused it.
        Some(_) => Refusal::NoActiveUser.into(),
        None => refusal(conn, &request.parent_jti, request.claimed_user)?.into(),
    })
}

/// Blacklists a usable token (logout). A token already rotated out or
/// blacklisted is refused.
pub fn blacklist(
    conn: &mut DbConnection,
    jti: &str,
    adopt: Option<&Adoption>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    write_transaction(conn, |conn| {
        if let Some(adoption) = adopt {
            adopt_if_unknown(conn, jti, adoption, false)?;
        }
        let updated = diesel::update(usable(jti))
            .set(refresh_tokens::blacklisted_at.eq(now))
            .execute(conn)?;
        if updated != 1 {
            let refusal = status(conn, jti)?.map_or(Refusal::Unknown, |_| Refusal::Blacklisted);
            return Err(refusal.into());
        }
        Ok(())
    })
}

impl From<Refusal> for StoreError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

/// Records a validly signed token this service never issued (a Simple JWT
/// token during a migration) as the root of a new family, if its user exists.
fn adopt_if_unknown(
    conn: &mut DbConnection,
    jti: &str,
    adoption: &Adoption,
    require_active_user: bool,
) -> Result<(), StoreError> {
    if status(conn, jti)?.is_some() {
        return Ok(());
    }
    check_owner(conn, adoption.user_id, require_active_user)?;
    let token = NewRefreshToken {
        jti: jti.to_owned(),
        user_id: adoption.user_id,
        family_id: uuid::Uuid::new_v4().simple().to_string(),
        parent_jti: None,
        issued_at: adoption.issued_at,
        expires_at: adoption.expires_at,
    };
    // A concurrent adoption of the same token may have won: doing nothing is right.
    match conn {
        DbConnection::Postgres(conn) => diesel::insert_into(refresh_tokens::table)
            .values(&token)
            .on_conflict_do_nothing()
            .execute(conn),
        DbConnection::Sqlite(conn) => diesel::insert_into(refresh_tokens::table)
            .values(&token)
            .on_conflict_do_nothing()
            .execute(conn),
    }?;
    Ok(())
}

/// Deletes expired tokens, `batch` rows per statement so no statement holds
/// locks for long; returns how many were deleted.
pub fn delete_expired(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    batch: i64,
) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let expired: Vec<String> = refresh_tokens::table
            .filter(refresh_tokens::expires_at.le(now))
            .select(refresh_tokens::jti)
            .limit(batch)
            .load(conn)?;
        let deleted =
            diesel::delete(refresh_tokens::table.filter(refresh_tokens::jti.eq_any(&expired)))
                .execute(conn)?;
        total += deleted;
        if (deleted as i64) < batch {
            return Ok(total);
        }
    }
}

type UsableToken<'a> = diesel::dsl::Filter<
    diesel::dsl::Find<refresh_tokens::table, &'a str>,
    diesel::dsl::And<
        diesel::dsl::IsNull<refresh_tokens::rotated_at>,
        diesel::dsl::IsNull<refresh_tokens::blacklisted_at>,
    >,
>;

fn usable(jti: &str) -> UsableToken<'_> {
    refresh_tokens::table.find(jti).filter(
        refresh_tokens::rotated_at
            .is_null()
            .and(refresh_tokens::blacklisted_at.is_null()),
    )
}

/// Why a token that could not be claimed is refused. A token we never
/// recorded whose user does not exist is reported as the missing user, the
/// nearer cause (its rows went with the user).
fn refusal(conn: &mut DbConnection, jti: &str, claimed_user: Option<i64>) -> QueryResult<Refusal> {
    Ok(match status(conn, jti)? {
        Some(_) => Refusal::Blacklisted,
        None => {
            let user_exists = match claimed_user {
                Some(id) => super::users::find_by_id(conn, id)?.is_some(),
                None => false,
            };
            if user_exists {
                Refusal::Unknown
            } else {
                Refusal::NoActiveUser
            }
        }
    })
}

fn check_owner(
    conn: &mut DbConnection,
    user_id: i64,
    require_active: bool,
) -> Result<(), StoreError> {
    let active: Option<bool> = users::table
        .find(user_id)
        .select(users::is_active)
        .first(conn)
        .optional()?;
    match active {
        Some(true) => Ok(()),
        Some(false) if !require_active => Ok(()),
        _ => Err(Refusal::NoActiveUser.into()),
    }
}

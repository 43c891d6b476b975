//! The users table: lookups return `QueryResult<Option<User>>`, so a database
//! failure never reads as "no such user".

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::events::{self, Event};
use super::schema::users;
use super::sessions::{self, Reason};
use super::{DbConnection, write_transaction};

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub is_active: bool,
    pub date_joined: NaiveDateTime,
    pub last_login: Option<NaiveDateTime>,
    /// Tokens issued before this instant are void (see [`voids`]).
    pub tokens_valid_after: Option<NaiveDateTime>,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// The application's claims object, as JSON text.
    pub claims: String,
}

// The password hash stays out of logs.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

/// A user to create, with their profile.
#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    /// The password hash, in Django's format.
    pub password: &'a str,
    pub is_active: bool,
    pub date_joined: NaiveDateTime,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// A checked claims object, as JSON text.
    pub claims: &'a str,
}

impl<'a> NewUser<'a> {
    /// A user with an empty profile.
    pub fn named(
        username: &'a str,
        password: &'a str,
        is_active: bool,
        now: NaiveDateTime,
    ) -> Self {
        Self {
            username,
            password,
            is_active,
            date_joined: now,
            email: "",
            first_name: "",
            last_name: "",
            is_staff: false,
            is_superuser: false,
            claims: "{}",
        }
    }
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Inserts a user with an empty profile; a taken username surfaces as
/// diesel's `UniqueViolation`.
pub fn create(
    conn: &mut DbConnection,
    username: &str,
    password_hash: &str,
    is_active: bool,
    now: NaiveDateTime,
) -> QueryResult<User> {
    insert(
        conn,
        &NewUser::named(username, password_hash, is_active, now),
    )
}

/// Inserts a user; a taken username surfaces as diesel's `UniqueViolation`.
pub fn insert(conn: &mut DbConnection, user: &NewUser) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    find_by_username(conn, user.username)?.ok_or(diesel::result::Error::NotFound)
}

/// Inserts a user who belongs to `groups` (all of which must exist), in one
/// transaction: `Ok(Err(name))` names a group that does not exist, and
/// nothing is written.
pub fn insert_with_groups(
    conn: &mut DbConnection,
    user: &NewUser,
    groups: &[String],
) -> QueryResult<Result<User, String>> {
    let outcome = write_transaction(conn, |conn| {
        // Memberships change under the feed's lock (see `super::groups`).
        super::backend::order_feed_writes(conn)?;
        let created = insert(conn, user)?;
        match super::groups::replace_memberships(conn, created.id, groups)? {
            Ok(()) => Ok(created),
            // An error rolls the insert back.
            Err(unknown) => Err(CreateFailure::UnknownGroup(unknown)),
        }
    });
    match outcome {
        Ok(created) => Ok(Ok(created)),
        Err(CreateFailure::UnknownGroup(name)) => Ok(Err(name)),
        Err(CreateFailure::Database(error)) => Err(error),
    }
}

/// Why a user with groups was not created.
enum CreateFailure {
    UnknownGroup(String),
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for CreateFailure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(error)
    }
}

/// Replaces the user's claims object (checked JSON text) and publishes the
/// change, so the next access token carries it. Returns whether a user of
/// that name existed.
pub fn set_claims(conn: &mut DbConnection, username: &str, claims: &str) -> QueryResult<bool> {
    change_user(conn, username, None, |conn, id| {
        diesel::update(users::table.find(id))
            .set(users::claims.eq(claims))
            .execute(conn)
            .map(drop)
    })
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}

/// The user's row as a login read it before hashing the password.
#[derive(Clone, Debug)]
pub struct LoginBasis {
    pub user_id: i64,
    /// The stored hash the password was checked against.
    pub verified_hash: String,
    pub tokens_valid_after: Option<NaiveDateTime>,
}

/// Records a successful login, on the condition that nothing changed since
/// the password was checked: the user still exists and is active, and the
/// stored hash is still `verified_hash`, or differs only because another
/// login of the same password upgraded it (the user's mark is unchanged:
/// every password change, deactivation and logout everywhere moves the mark).
/// A change committed while the login was hashing makes this write nothing
/// (returns `false`), and the login must fail. `upgraded_hash` (the same
/// password rehashed with the configured iteration count) replaces exactly
/// the hash that was verified, never a newer one.
///
/// Call first in the login's write transaction: on PostgreSQL the row lock
/// this takes orders the login against a concurrent change to the user
/// (see [`lock`]), which then sees, and revokes, the session it writes.
pub fn record_login(
    conn: &mut DbConnection,
    basis: &LoginBasis,
    last_login: Option<NaiveDateTime>,
    upgraded_hash: Option<&str>,
) -> QueryResult<bool> {
    type Condition = Box<
        dyn BoxableExpression<
                users::table,
                <DbConnection as diesel::Connection>::Backend,
                SqlType = diesel::sql_types::Bool,
            >,
    >;
    let same_mark: Condition = match basis.tokens_valid_after {
        Some(mark) => Box::new(users::tokens_valid_after.eq(mark).assume_not_null()),
        None => Box::new(users::tokens_valid_after.is_null()),
    };
    let target = users::table
        .find(basis.user_id)
        .filter(users::is_active.eq(true))
        .filter(users::password.eq(&basis.verified_hash).or(same_mark));
    // The first write takes the row lock and proves the condition; with no
    // last_login to record, the name is written over itself.
    let claimed = match last_login {
        Some(at) => diesel::update(target)
            .set(users::last_login.eq(at))
            .execute(conn)?,
        None => diesel::update(target)
            .set(users::username.eq(users::username))
            .execute(conn)?,
    };
    if claimed != 1 {
        return Ok(false);
    }
    if let Some(upgraded) = upgraded_hash {
        diesel::update(
            users::table
                .find(basis.user_id)
                .filter(users::password.eq(&basis.verified_hash)),
        )
        .set(users::password.eq(upgraded))
        .execute(conn)?;
    }
    Ok(true)
}

/// Whether a user's `tokens_valid_after` voids a token issued at `issued_at`
/// (`None`: the token carries no `iat`). `in_session` says the token names
/// a session (`sid`): such a token issued before the mark belongs to a
/// session the same change revoked, so only sessionless tokens need the
/// mark's own second to count against them (`iat` has whole seconds).
pub fn voids(
    tokens_valid_after: Option<NaiveDateTime>,
    issued_at: Option<NaiveDateTime>,
    in_session: bool,
) -> bool {
    let Some(mark) = tokens_valid_after else {
        return false;
    };
    let Some(issued_at) = issued_at else {
        return true;
    };
    let (mark, issued) = (mark.and_utc().timestamp(), issued_at.and_utc().timestamp());
    issued < mark || (issued == mark && !in_session)
}

/// Ends every session of the user (logout-all) and voids every token of
/// theirs issued before now; publishes the change. Returns the revoked
/// sessions and the instant, read once the user's row is locked.
pub fn end_all_sessions(
    conn: &mut DbConnection,
    id: i64,
    reason: Reason,
) -> QueryResult<(Vec<String>, NaiveDateTime)> {
    write_transaction(conn, |conn| {
        lock(conn, id)?;
        let now = chrono::Utc::now().naive_utc();
        let revoked = void_tokens(conn, id, reason, now)?;
        events::publish(conn, Event::UserChanged(id), now)?;
        Ok((revoked, now))
    })
}

/// Revokes every live session of the user and voids whatever token of theirs
/// was issued before `now`; call with the user's row locked.
fn void_tokens(
    conn: &mut DbConnection,
    id: i64,
    reason: Reason,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    let revoked = sessions::end_all_for_user(conn, id, reason, now)?;
    diesel::update(users::table.find(id))
        .set(users::tokens_valid_after.eq(now))
        .execute(conn)?;
    Ok(revoked)
}

/// Takes the user's row lock (PostgreSQL) for the rest of the transaction by
/// writing a column over itself; SQLite's write transaction already holds
/// the database lock. Whatever writes a session or changes what may hold one
/// takes it first, so those writes are ordered per user.
pub(crate) fn lock(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::username.eq(users::username))
        .execute(conn)
        .map(drop)
}

/// Returns whether a user of that name existed.
/// Every session of the user ends: whoever held the old password may hold a token.
pub fn set_password(conn: &mut DbConnection, username: &str, hash: &str) -> QueryResult<bool> {
    change_user(conn, username, Some(Reason::PasswordChanged), |conn, id| {
        diesel::update(users::table.find(id))
            .set(users::password.eq(hash))
            .execute(conn)
            .map(drop)
    })
}

/// Returns whether a user of that name existed.
/// Deactivating ends every session of the user.
pub fn set_active(conn: &mut DbConnection, username: &str, active: bool) -> QueryResult<bool> {
    let revoke = (!active).then_some(Reason::UserDeactivated);
    change_user(conn, username, revoke, |conn, id| {
        diesel::update(users::table.find(id))
            .set(users::is_active.eq(active))
            .execute(conn)
            .map(drop)
    })
}

/// Deletes the user and, through the foreign key, their sessions and refresh
/// tokens; the sessions are revoked first, so every instance also refuses
/// their access tokens. Returns whether a user of that name existed.
pub fn delete(conn: &mut DbConnection, username: &str) -> QueryResult<bool> {
    change_user(conn, username, Some(Reason::UserDeleted), |conn, id| {
        diesel::delete(users::table.find(id))
            .execute(conn)
            .map(drop)
    })
}

/// Applies `change` to the named user and publishes it so running instances
/// drop what they cached; with a `revoke` reason, also ends every session and
/// voids every token issued before now. One transaction, which locks the
/// user's row before it reads their sessions, so a login that was writing a
/// new session is either seen (and revoked) or refused (see [`record_login`]).
fn change_user(
    conn: &mut DbConnection,
    username: &str,
    revoke: Option<Reason>,
    change: impl FnOnce(&mut DbConnection, i64) -> QueryResult<()>,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let id: Option<i64> = users::table
            .filter(users::username.eq(username))
            .select(users::id)
            .first(conn)
            .optional()?;
        let Some(id) = id else {
            return Ok(false);
        };
        lock(conn, id)?;
        // Read after the lock: changes to one user take later instants in
        // the order they commit, so the mark never moves back.
        let now = chrono::Utc::now().naive_utc();
        if let Some(reason) = revoke {
            void_tokens(conn, id, reason, now)?;
        }
        change(conn, id)?;
        events::publish(conn, Event::UserChanged(id), now)?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::voids;
    use chrono::NaiveDateTime;

    fn at(seconds: i64, millis: u32) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(seconds, millis * 1_000_000)
            .expect("in range")
            .naive_utc()
    }

    #[test]
    fn the_mark_voids_what_was_issued_before_it_at_whole_seconds() {
        let mark = Some(at(1000, 500));
        // No mark, nothing void.
        assert!(!voids(None, Some(at(1, 0)), false));
        assert!(!voids(None, None, false));
        // A token without iat predates any mark.
        assert!(voids(mark, None, true));
        // Earlier seconds: void, in a session or not.
        assert!(voids(mark, Some(at(999, 0)), true));
        assert!(voids(mark, Some(at(999, 0)), false));
        // The mark's own second: a sessionless token may be from before it,
        // so it is void; a session's token is judged by its session.
        assert!(voids(mark, Some(at(1000, 0)), false));
        assert!(!voids(mark, Some(at(1000, 0)), true));
        // Later seconds: fine.
        assert!(!voids(mark, Some(at(1001, 0)), false));
        assert!(!voids(mark, Some(at(1001, 0)), true));
    }
}

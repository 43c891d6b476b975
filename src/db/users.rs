//! The users table: lookups return `QueryResult<Option<User>>`, so a database
//! failure never reads as "no such user".

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::events::{self, Event};
use super::families::{self, Reason};
use super::schema::users;
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

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    username: &'a str,
    password: &'a str,
    is_active: bool,
    date_joined: NaiveDateTime,
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

/// Inserts a user; a taken username surfaces as diesel's `UniqueViolation`.
pub fn create(
    conn: &mut DbConnection,
    username: &str,
    password_hash: &str,
    is_active: bool,
    now: NaiveDateTime,
) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(NewUser {
            username,
            password: password_hash,
            is_active,
            date_joined: now,
        })
        .execute(conn)?;
    find_by_username(conn, username)?.ok_or(diesel::result::Error::NotFound)
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}

/// Records a successful login; `upgraded_hash` replaces a hash made with an
/// outdated iteration count. Returns whether the user still exists.
pub fn record_login(
    conn: &mut DbConnection,
    id: i64,
    last_login: Option<NaiveDateTime>,
    upgraded_hash: Option<&str>,
) -> QueryResult<bool> {
    let target = users::table.find(id);
    let updated = match (last_login, upgraded_hash) {
        (Some(at), Some(hash)) => diesel::update(target)
            .set((users::last_login.eq(at), users::password.eq(hash)))
            .execute(conn)?,
        (Some(at), None) => diesel::update(target)
            .set(users::last_login.eq(at))
            .execute(conn)?,
        (None, Some(hash)) => diesel::update(target)
            .set(users::password.eq(hash))
            .execute(conn)?,
        (None, None) => return Ok(true),
    };
    Ok(updated == 1)
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

/// Deletes the user and, through the foreign key, their refresh tokens.
/// Returns whether a user of that name existed.
pub fn delete(conn: &mut DbConnection, username: &str) -> QueryResult<bool> {
    change_user(conn, username, None, |conn, id| {
        diesel::delete(users::table.find(id))
            .execute(conn)
            .map(drop)
    })
}

/// Applies `change` to the named user, revokes their sessions if `revoke`
/// says why, and publishes the change so running instances drop what they
/// cached; one transaction.
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
        let now = chrono::Utc::now().naive_utc();
        if let Some(reason) = revoke {
            families::revoke_all_for_user(conn, id, reason, now)?;
        }
        change(conn, id)?;
        events::publish(conn, Event::UserChanged(id), now)?;
        Ok(true)
    })
}

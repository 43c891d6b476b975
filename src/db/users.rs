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
    /// The session a password change of the user's own kept: its tokens
    /// issued before the mark stand (see [`voids`]).
    pub kept_session_id: Option<String>,
    /// Digests of what the last import from Django found (see
    /// `super::import`); `None` for a user not imported.
    pub imported_password_digest: Option<String>,
    pub imported_record_digest: Option<String>,
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

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Whether any user has this email address, compared as the database
/// lowercases text.
pub fn email_in_use(conn: &mut DbConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(lower(users::email).eq(lower(email))),
    ))
    .get_result(conn)
}

/// The user with `id` and the names of their groups, sorted.
pub fn find_with_groups(
    conn: &mut DbConnection,
    id: i64,
) -> QueryResult<Option<(User, Vec<String>)>> {
    let Some(user) = find_by_id(conn, id)? else {
        return Ok(None);
    };
    let groups = super::groups::of_user(conn, id)?;
    Ok(Some((user, groups)))
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
/// transaction; returns them with their group names, sorted.
/// `Ok(Err(name))` names a group that does not exist, and nothing is
/// written. A taken username surfaces as diesel's `UniqueViolation`.
pub fn insert_with_groups(
    conn: &mut DbConnection,
    user: &NewUser,
    groups: &[String],
) -> QueryResult<Result<(User, Vec<String>), String>> {
    let outcome = write_transaction(conn, |conn| {
        // Memberships change under the feed's lock (see `super::groups`).
        super::backend::order_feed_writes(conn)?;
        let created = insert(conn, user)?;
        if let Err(unknown) = super::groups::replace_memberships(conn, created.id, groups)? {
            // An error rolls the insert back.
            return Err(Abort::UnknownGroup(unknown));
        }
        let groups = super::groups::of_user(conn, created.id)?;
        Ok((created, groups))
    });
    match outcome {
        Ok(created) => Ok(Ok(created)),
        Err(Abort::UnknownGroup(name)) => Ok(Err(name)),
        Err(Abort::Database(error)) => Err(error),
    }
}

/// Replaces the user's claims object (checked JSON text) and publishes the
/// change, so the next access token carries it. Returns whether a user of
/// that name existed.
pub fn set_claims(conn: &mut DbConnection, username: &str, claims: &str) -> QueryResult<bool> {
    change_user(conn, UserKey::Name(username), None, |conn, id| {
        diesel::update(users::table.find(id))
            .set(users::claims.eq(claims))
            .execute(conn)
            .map(drop)
    })
    .map(|changed| changed.is_some())
}

/// Which users a listing shows; `None` matches every user.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub username: Option<String>,
    pub email: Option<String>,
    pub is_active: Option<bool>,
    /// Members of the group of this name.
    pub group: Option<String>,
}

type Dialect = <DbConnection as diesel::Connection>::Backend;

fn filtered(filter: &UserFilter) -> users::BoxedQuery<'_, Dialect> {
    use super::schema::{user_group_members, user_groups};
    let mut query = users::table.into_boxed::<Dialect>();
    if let Some(username) = &filter.username {
        query = query.filter(users::username.eq(username));
    }
    if let Some(email) = &filter.email {
        query = query.filter(users::email.eq(email));
    }
    if let Some(active) = filter.is_active {
        query = query.filter(users::is_active.eq(active));
    }
    if let Some(group) = &filter.group {
        let members = user_group_members::table
            .inner_join(user_groups::table)
            .filter(user_groups::name.eq(group))
            .select(user_group_members::user_id);
        query = query.filter(users::id.eq_any(members));
    }
    query
}

/// The users `filter` matches, by id: how many in all, and those from
/// `offset`, at most `limit`.
pub fn page(
    conn: &mut DbConnection,
    filter: &UserFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(i64, Vec<User>)> {
    let count = filtered(filter).count().get_result(conn)?;
    let users = filtered(filter)
        .order(users::id)
        .limit(limit)
        .offset(offset)
        .select(User::as_select())
        .load(conn)?;
    Ok((count, users))
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
    let target = users::table
        .find(basis.user_id)
        .filter(users::is_active.eq(true))
        .filter(
            users::password
                .eq(&basis.verified_hash)
                .or(same_mark(basis.tokens_valid_after)),
        );
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

type Condition = Box<
    dyn BoxableExpression<
            users::table,
            <DbConnection as diesel::Connection>::Backend,
            SqlType = diesel::sql_types::Bool,
        >,
>;

/// The user's mark is still `mark`: nothing ended their sessions since.
fn same_mark(mark: Option<NaiveDateTime>) -> Condition {
    match mark {
        Some(mark) => Box::new(users::tokens_valid_after.eq(mark).assume_not_null()),
        None => Box::new(users::tokens_valid_after.is_null()),
    }
}

/// Whether a user's mark (`tokens_valid_after`) voids a token issued at
/// `issued_at` (`None`: the token carries no `iat`) in `session` (its
/// `sid`, if any). Tokens issued before the mark are void, except those of
/// `kept_session`: the session a password change of the user's own kept. A
/// token of a session issued in the mark's own second belongs to a session
/// the same change revoked, or to one written after it, so only tokens of
/// no session need that second to count against them (`iat` has whole
/// seconds).
pub fn voids(
    tokens_valid_after: Option<NaiveDateTime>,
    kept_session: Option<&str>,
    issued_at: Option<NaiveDateTime>,
    session: Option<&str>,
) -> bool {
    let Some(mark) = tokens_valid_after else {
        return false;
    };
    if session.is_some() && session == kept_session {
        return false;
    }
    let Some(issued_at) = issued_at else {
        return true;
    };
    let (mark, issued) = (mark.and_utc().timestamp(), issued_at.and_utc().timestamp());
    issued < mark || (issued == mark && session.is_none())
}

/// Ends every session of the user (logout-all) and voids every token of
/// theirs issued before now; publishes the change. `None`: no such user.
pub fn end_all_sessions(
    conn: &mut DbConnection,
    key: UserKey,
    reason: Reason,
) -> QueryResult<Option<UserChange>> {
    change_user(conn, key, Some(reason), |_, _| {
        Ok::<_, diesel::result::Error>(())
    })
    .map(|changed| changed.map(|((), change)| change))
}

/// The credential a user's own password change keeps: the one the caller
/// proved the old password with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Kept {
    #[default]
    Nothing,
    /// A session (the caller's token's `sid`).
    Session(String),
    /// A DRF token key, by its digest.
    DrfKey(String),
}

impl Kept {
    fn session(&self) -> Option<&str> {
        match self {
            Self::Session(id) => Some(id),
            _ => None,
        }
    }

    fn drf_key(&self) -> Option<&str> {
        match self {
            Self::DrfKey(digest) => Some(digest),
            _ => None,
        }
    }
}

/// Revokes every live session of the user, voids whatever token and DRF key
/// of theirs was issued before `now` (and deletes the keys, but a
/// deactivation's: an inactive user's key is answered as DRF answers it
/// until a login or a later change deletes it), all but what `keep` names;
/// call with the user's row locked.
fn void_tokens(
    conn: &mut DbConnection,
    id: i64,
    reason: Reason,
    now: NaiveDateTime,
    keep: &Kept,
) -> QueryResult<Vec<String>> {
    let revoked = sessions::end_all_for_user(conn, id, reason, now, keep.session())?;
    if reason != Reason::UserDeactivated {
        super::drf_keys::delete_for_user(conn, id, keep.drf_key())?;
    }
    // Past every key kept (an instance with a clock ahead may have made
    // one "later"), so the mark voids them all whatever the clocks.
    let mark = super::drf_keys::mark_past_keys(conn, id, now)?;
    if let Some(digest) = keep.drf_key() {
        super::drf_keys::keep(conn, digest, mark)?;
    }
    diesel::update(users::table.find(id))
        .set((
            users::tokens_valid_after.eq(mark),
            users::kept_session_id.eq(keep.session()),
        ))
        .execute(conn)?;
    Ok(revoked)
}

/// Runs `change` with the user's row locked, and publishes that the user
/// changed (instances drop what they cached of them); no session ends.
/// `None`: no such user.
pub fn with_user_locked<T>(
    conn: &mut DbConnection,
    key: UserKey,
    change: impl FnOnce(&mut DbConnection, i64) -> QueryResult<T>,
) -> QueryResult<Option<T>> {
    change_user(conn, key, None, change).map(|changed| changed.map(|(value, _)| value))
}

/// The id of the user `key` names.
fn find_id(conn: &mut DbConnection, key: UserKey) -> QueryResult<Option<i64>> {
    match key {
        UserKey::Id(id) => users::table.find(id).select(users::id).first(conn),
        UserKey::Name(name) => users::table
            .filter(users::username.eq(name))
            .select(users::id)
            .first(conn),
    }
    .optional()
}

/// Takes the user's row lock (PostgreSQL) for the rest of the transaction by
/// writing a column over itself; SQLite's write transaction already holds
/// the database lock. Whatever writes a session or changes what may hold one
/// takes it first, so those writes are ordered per user.
pub(crate) fn lock(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set(users::username.eq(users::username))
        .execute(conn)
        .map(|locked| locked == 1)
}

/// Returns whether a user of that name existed.
/// Every session of the user ends: whoever held the old password may hold a token.
pub fn set_password(conn: &mut DbConnection, username: &str, hash: &str) -> QueryResult<bool> {
    let key = UserKey::Name(username);
    change_user(conn, key, Some(Reason::PasswordChanged), |conn, id| {
        diesel::update(users::table.find(id))
            .set(users::password.eq(hash))
            .execute(conn)
            .map(drop)
    })
    .map(|changed| changed.is_some())
}

/// Returns whether a user of that name existed.
/// Deactivating ends every session of the user.
pub fn set_active(conn: &mut DbConnection, username: &str, active: bool) -> QueryResult<bool> {
    let revoke = (!active).then_some(Reason::UserDeactivated);
    change_user(conn, UserKey::Name(username), revoke, |conn, id| {
        diesel::update(users::table.find(id))
            .set(users::is_active.eq(active))
            .execute(conn)
            .map(drop)
    })
    .map(|changed| changed.is_some())
}

/// Deletes the user and, through the foreign keys, their sessions, group
/// memberships and refresh tokens; the sessions are revoked first, so every
/// instance also refuses their access tokens. `None`: no such user.
pub fn delete(conn: &mut DbConnection, key: UserKey) -> QueryResult<Option<UserChange>> {
    use super::schema::refresh_tokens;
    write_transaction(conn, |conn| {
        // Deleted meanwhile: nothing to lock.
        let Some(id) = find_id(conn, key)? else {
            return Ok(None);
        };
        if !lock(conn, id)? {
            return Ok(None);
        }
        // The refresh tokens go before the sessions end: a rotation or a
        // logout holds a refresh token's row and then waits for its
        // session's, so ending the sessions first and reaching the tokens
        // afterwards (through the cascade) would deadlock against it on
        // PostgreSQL.
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::user_id.eq(id)))
            .execute(conn)?;
        let now = chrono::Utc::now().naive_utc();
        let ended = void_tokens(conn, id, Reason::UserDeleted, now, &Kept::Nothing)?;
        // The feed's lock before the memberships the cascade takes, as every
        // membership change takes them (see `super::groups`).
        super::backend::order_feed_writes(conn)?;
        diesel::delete(users::table.find(id)).execute(conn)?;
        events::publish(conn, Event::UserChanged(id), now)?;
        Ok(Some(UserChange {
            user_id: id,
            ended_sessions: ended,
            at: now,
        }))
    })
}

/// Which user a change is for.
#[derive(Clone, Copy, Debug)]
pub enum UserKey<'a> {
    Id(i64),
    Name(&'a str),
}

/// What a change to a user did beyond its own columns: the sessions it
/// ended, and the instant it took effect (the user's new mark, when it
/// ended sessions).
#[derive(Clone, Debug)]
pub struct UserChange {
    pub user_id: i64,
    pub ended_sessions: Vec<String>,
    pub at: NaiveDateTime,
}

/// The columns an update sets; `None` leaves one as it is.
#[derive(AsChangeset, Default)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub username: Option<&'a str>,
    /// A password hash, in Django's format.
    pub password: Option<&'a str>,
    pub is_active: Option<bool>,
    pub email: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
    /// A checked claims object, as JSON text.
    pub claims: Option<&'a str>,
}

impl UserChanges<'_> {
    fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.password.is_none()
            && self.is_active.is_none()
            && self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.is_staff.is_none()
            && self.is_superuser.is_none()
            && self.claims.is_none()
    }
}

/// What [`update`] did.
#[derive(Debug)]
pub enum Updated {
    /// The user as the update left them, with their groups.
    User {
        user: Box<User>,
        groups: Vec<String>,
        change: UserChange,
    },
    NoSuchUser,
    /// A named group does not exist; nothing changed.
    UnknownGroup(String),
}

/// Sets `changes` and, when given, makes `groups` (all of which must exist)
/// the user's groups, in one transaction that publishes the change; with a
/// `revoke` reason, also ends every session of the user and voids every
/// token of theirs issued before now. A taken username surfaces as diesel's
/// `UniqueViolation`, and nothing is written.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    changes: &UserChanges,
    groups: Option<&[String]>,
    revoke: Option<Reason>,
) -> QueryResult<Updated> {
    let outcome = change_user(conn, UserKey::Id(id), revoke, |conn, id| {
        if !changes.is_empty() {
            diesel::update(users::table.find(id))
                .set(changes)
                .execute(conn)?;
        }
        if let Some(names) = groups {
            // Under the feed's lock, which `change_user` took.
            if let Err(unknown) = super::groups::replace_memberships(conn, id, names)? {
                return Err(Abort::UnknownGroup(unknown));
            }
        }
        Ok(find_with_groups(conn, id)?.ok_or(diesel::result::Error::NotFound)?)
    });
    match outcome {
        Ok(Some(((user, groups), change))) => Ok(Updated::User {
            user: Box::new(user),
            groups,
            change,
        }),
        Ok(None) => Ok(Updated::NoSuchUser),
        Err(Abort::UnknownGroup(name)) => Ok(Updated::UnknownGroup(name)),
        Err(Abort::Database(error)) => Err(error),
    }
}

/// Sets a new password for the user whose password `basis` checked, on the
/// condition nothing changed since (as [`record_login`]), and ends every
/// session and DRF key of theirs but `keep` (the caller's, who proved the
/// old password).
/// Every token issued before now is void but those of `keep`. `None`: the
/// condition failed, and nothing was written.
pub fn change_password(
    conn: &mut DbConnection,
    basis: &LoginBasis,
    new_hash: &str,
    keep: &Kept,
) -> QueryResult<Option<UserChange>> {
    write_transaction(conn, |conn| {
        // The password checked, and nothing that ends sessions since (the
        // mark is unchanged): else the kept session may have ended meanwhile.
        let claimed = diesel::update(
            users::table
                .find(basis.user_id)
                .filter(users::is_active.eq(true))
                .filter(users::password.eq(&basis.verified_hash))
                .filter(same_mark(basis.tokens_valid_after)),
        )
        .set(users::password.eq(new_hash))
        .execute(conn)?;
        if claimed != 1 {
            return Ok(None);
        }
        // Read after the row lock the update took (see `change_user`).
        let now = chrono::Utc::now().naive_utc();
        let ended = void_tokens(conn, basis.user_id, Reason::PasswordChanged, now, keep)?;
        events::publish(conn, Event::UserChanged(basis.user_id), now)?;
        Ok(Some(UserChange {
            user_id: basis.user_id,
            ended_sessions: ended,
            at: now,
        }))
    })
}

/// Why a change to a user was abandoned (and rolled back).
enum Abort {
    UnknownGroup(String),
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(error)
    }
}

/// Applies `change` to the user and publishes it so running instances drop
/// what they cached; with a `revoke` reason, also ends every session and
/// voids every token of no session issued before now. One transaction,
/// which locks the user's row before it reads their sessions, so a login
/// that was writing a new session is either seen (and revoked) or refused
/// (see [`record_login`]). `None`: no such user.
pub(super) fn change_user<T, E: From<diesel::result::Error>>(
    conn: &mut DbConnection,
    key: UserKey,
    revoke: Option<Reason>,
    change: impl FnOnce(&mut DbConnection, i64) -> Result<T, E>,
) -> Result<Option<(T, UserChange)>, E> {
    write_transaction(conn, |conn| {
        let Some(id) = find_id(conn, key)? else {
            return Ok(None);
        };
        // Deleted since it was found (a concurrent delete committed).
        if !lock(conn, id)? {
            return Ok(None);
        }
        // Read after the lock: changes to one user take later instants in
        // the order they commit, so the mark never moves back.
        let now = chrono::Utc::now().naive_utc();
        let ended = match revoke {
            Some(reason) => void_tokens(conn, id, reason, now, &Kept::Nothing)?,
            None => Vec::new(),
        };
        // The feed's lock after the user's row and sessions (see
        // `super::sessions::end_all_for_user`) and before the change: a
        // rename takes the row's key lock, which a membership change (which
        // holds the feed's lock, see `super::groups`) must share.
        super::backend::order_feed_writes(conn)?;
        let value = change(conn, id)?;
        events::publish(conn, Event::UserChanged(id), now)?;
        Ok(Some((
            value,
            UserChange {
                user_id: id,
                ended_sessions: ended,
                at: now,
            },
        )))
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
    fn the_mark_voids_what_was_issued_before_it_at_whole_seconds_but_the_kept_session() {
        let mark = Some(at(1000, 500));
        let void = |issued: Option<NaiveDateTime>, session: Option<&str>| {
            voids(mark, Some("kept"), issued, session)
        };
        // No mark, nothing void.
        assert!(!voids(None, None, Some(at(1, 0)), None));
        assert!(!voids(None, None, None, None));
        // A token without iat predates any mark.
        assert!(void(None, Some("other")));
        assert!(void(None, None));
        // Earlier seconds: void, in a session or not.
        assert!(void(Some(at(999, 0)), Some("other")));
        assert!(void(Some(at(999, 0)), None));
        // The mark's own second: a sessionless token may be from before it,
        // so it is void; a session's token is judged by its session.
        assert!(void(Some(at(1000, 0)), None));
        assert!(!void(Some(at(1000, 0)), Some("other")));
        // Later seconds: fine.
        assert!(!void(Some(at(1001, 0)), None));
        assert!(!void(Some(at(1001, 0)), Some("other")));
        // The session a password change kept stands, whenever its tokens
        // were issued; no sid is not that session.
        assert!(!void(Some(at(999, 0)), Some("kept")));
        assert!(!void(None, Some("kept")));
        assert!(voids(mark, None, Some(at(999, 0)), None));
    }
}

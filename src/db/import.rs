//! Users and groups brought over from Django: reading a Django database's
//! `auth_user`, `auth_group` and `auth_user_groups` (or a custom user model's
//! tables with Django's columns), and writing them here by id, idempotently.
//! A re-import takes from Django only what changed there since the last
//! import, known by digests of what that import found
//! (`users.imported_password_digest`, `imported_record_digest`): so a login's
//! rehash, or a deactivation made here, is not undone, and a password change
//! or a deactivation made in Django ends the user's sessions, as any other
//! does. A user created here is never overwritten by Django's user of the
//! same id.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use super::schema::users;
use super::sessions::Reason;
use super::users::{UserKey, change_user, find_by_id, find_by_username};
use super::{DbConnection, write_transaction};

/// A Django user, as read from its database or a `dumpdata` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DjangoUser {
    pub id: i64,
    pub username: String,
    /// The hash as Django stores it.
    pub password: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: NaiveDateTime,
    pub last_login: Option<NaiveDateTime>,
    /// Names of the user's groups, sorted.
    pub groups: Vec<String>,
    /// The user's DRF token key (`authtoken_token`): `Some(None)` when they
    /// have none, `None` when the source holds no keys at all (a project
    /// without `rest_framework.authtoken`, a dump without `authtoken.token`):
    /// then the keys imported before are left as they are.
    pub drf_key: Option<Option<DjangoKey>>,
}

/// A DRF token key read from Django: stored here only as its digest, and
/// never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DjangoKey(pub String);

impl std::fmt::Debug for DjangoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DjangoKey(..)")
    }
}

impl DjangoUser {
    /// A digest of the password hash as Django stores it.
    pub fn password_digest(&self) -> String {
        sha256_hex(self.password.as_bytes())
    }

    /// A digest of everything else an import takes (but `last_login`, which
    /// logins here move too), times to the millisecond `dumpdata` keeps.
    pub fn record_digest(&self) -> String {
        let mut groups = self.groups.clone();
        groups.sort();
        let record = serde_json::json!([
            self.username,
            self.email,
            self.first_name,
            self.last_name,
            self.is_active,
            self.is_staff,
            self.is_superuser,
            self.date_joined.and_utc().timestamp_millis(),
            groups,
        ]);
        sha256_hex(record.to_string().as_bytes())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Where a Django database keeps its users, groups and memberships.
#[derive(Clone, Debug)]
pub struct DjangoTables {
    pub users: String,
    pub groups: String,
    pub memberships: String,
    /// DRF's token keys (`rest_framework.authtoken`); a database without
    /// this table has none to bring.
    pub drf_keys: String,
}

impl DjangoTables {
    /// Every name is a plain identifier, optionally schema-qualified: they
    /// are written into the queries.
    pub fn check(&self) -> Result<(), String> {
        for name in [&self.users, &self.groups, &self.memberships, &self.drf_keys] {
            let plain = |part: &str| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            let parts: Vec<&str> = name.split('.').collect();
            if parts.len() > 2 || !parts.iter().all(|part| plain(part)) {
                return Err(format!(
                    "{name:?} is not a table name (letters, digits and _, optionally schema.table)"
                ));
            }
        }
        Ok(())
    }
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    password: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Bool)]
    is_active: bool,
    #[diesel(sql_type = Bool)]
    is_staff: bool,
    #[diesel(sql_type = Bool)]
    is_superuser: bool,
    #[diesel(sql_type = Text)]
    date_joined: String,
    #[diesel(sql_type = Nullable<Text>)]
    last_login: Option<String>,
}

#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = Text)]
    key: String,
}

#[derive(QueryableByName)]
struct MembershipRow {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = BigInt)]
    group_id: i64,
}

/// Reads every user (with their groups) and every group name from a Django
/// database: `postgres://...`, or the path of a Django SQLite file.
pub fn read_database(
    source: &str,
    tables: &DjangoTables,
) -> Result<(Vec<DjangoUser>, Vec<String>), String> {
    tables.check()?;
    // Quoted, as Django creates them: a table named like a keyword works.
    let quoted = |name: &str| {
        name.split('.')
            .map(|part| format!("\"{part}\""))
            .collect::<Vec<_>>()
            .join(".")
    };
    let postgres = source.starts_with("postgres://") || source.starts_with("postgresql://");
    // Times as UTC text, whichever way the column stores them.
    let time = |column: &str| {
        if postgres {
            format!("to_char({column}, 'YYYY-MM-DD HH24:MI:SS.US')")
        } else {
            column.to_owned()
        }
    };
    let users_query = format!(
        "SELECT CAST(id AS BIGINT) AS id, username, password, email, first_name, last_name, \
         is_active, is_staff, is_superuser, {} AS date_joined, {} AS last_login \
         FROM {} ORDER BY id",
        time("date_joined"),
        time("last_login"),
        quoted(&tables.users)
    );
    let groups_query = format!(
        "SELECT CAST(id AS BIGINT) AS id, name FROM {}",
        quoted(&tables.groups)
    );
    let memberships_query = format!(
        "SELECT CAST(user_id AS BIGINT) AS user_id, CAST(group_id AS BIGINT) AS group_id FROM {}",
        quoted(&tables.memberships)
    );
    let keys_query = format!(
        "SELECT CAST(user_id AS BIGINT) AS user_id, key FROM {}",
        quoted(&tables.drf_keys)
    );
    let queries = [users_query, groups_query, memberships_query];
    // A project without DRF's tokens has no table of them; a table named
    // on the command line must be there.
    let optional_keys = tables.drf_keys == DEFAULT_DRF_KEY_TABLE;
    let ((users, groups, memberships), keys) = if postgres {
        let mut conn = diesel::PgConnection::establish(source)
            .map_err(|e| format!("cannot open the Django database: {e}"))?;
        diesel::sql_query("SET TIME ZONE 'UTC'")
            .execute(&mut conn)
            .map_err(|e| format!("cannot read the Django tables: {e}"))?;
        read_rows(&mut conn, &queries)
            .and_then(|rows| Ok((rows, read_keys(&mut conn, &keys_query, optional_keys)?)))
    } else {
        let path = source.strip_prefix("sqlite://").unwrap_or(source);
        // Opening a path that is not there would create an empty database.
        if !std::path::Path::new(path).is_file() {
            return Err(format!("no Django database at {path:?}"));
        }
        let mut conn = diesel::SqliteConnection::establish(path)
            .map_err(|e| format!("cannot open the Django database: {e}"))?;
        read_rows(&mut conn, &queries)
            .and_then(|rows| Ok((rows, read_keys(&mut conn, &keys_query, optional_keys)?)))
    }
    .map_err(|e| format!("cannot read the Django tables: {e}"))?;
    assemble(users, groups, memberships, keys)
}

/// Where DRF keeps its keys (`rest_framework.authtoken`).
pub const DEFAULT_DRF_KEY_TABLE: &str = "authtoken_token";

/// DRF's keys by user; `None` when `optional` and the project does not use
/// `rest_framework.authtoken` (the table is not there).
fn read_keys<C>(conn: &mut C, query: &str, optional: bool) -> QueryResult<Option<Vec<KeyRow>>>
where
    C: diesel::Connection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, KeyRow>,
{
    let missing = [
        format!("relation \"{DEFAULT_DRF_KEY_TABLE}\" does not exist"),
        format!("no such table: {DEFAULT_DRF_KEY_TABLE}"),
    ];
    match diesel::sql_query(query).load(conn) {
        Err(diesel::result::Error::DatabaseError(_, info))
            if optional && missing.iter().any(|m| info.message().contains(m.as_str())) =>
        {
            Ok(None)
        }
        read => read.map(Some),
    }
}

type Rows = (Vec<UserRow>, Vec<GroupRow>, Vec<MembershipRow>);

fn read_rows<C>(conn: &mut C, [users, groups, memberships]: &[String; 3]) -> QueryResult<Rows>
where
    C: diesel::Connection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, UserRow>
        + diesel::query_dsl::LoadQuery<'static, C, GroupRow>
        + diesel::query_dsl::LoadQuery<'static, C, MembershipRow>,
{
    Ok((
        diesel::sql_query(users).load(conn)?,
        diesel::sql_query(groups).load(conn)?,
        diesel::sql_query(memberships).load(conn)?,
    ))
}

fn assemble(
    users: Vec<UserRow>,
    groups: Vec<GroupRow>,
    memberships: Vec<MembershipRow>,
    keys: Option<Vec<KeyRow>>,
) -> Result<(Vec<DjangoUser>, Vec<String>), String> {
    let mut keys: Option<std::collections::HashMap<i64, String>> =
        keys.map(|keys| keys.into_iter().map(|row| (row.user_id, row.key)).collect());
    let names: std::collections::HashMap<i64, String> = groups
        .into_iter()
        .map(|group| (group.id, group.name))
        .collect();
    let mut member_of = std::collections::HashMap::<i64, Vec<String>>::new();
    for membership in memberships {
        if let Some(name) = names.get(&membership.group_id) {
            member_of
                .entry(membership.user_id)
                .or_default()
                .push(name.clone());
        }
    }
    let mut read = Vec::with_capacity(users.len());
    for row in users {
        let date_joined = parse_django_time(&row.date_joined).ok_or_else(|| {
            format!(
                "user {}: date_joined {:?} is not a time",
                row.id, row.date_joined
            )
        })?;
        let last_login = match row.last_login.as_deref() {
            None => None,
            Some(text) => Some(
                parse_django_time(text)
                    .ok_or_else(|| format!("user {}: last_login {text:?} is not a time", row.id))?,
            ),
        };
        let mut groups = member_of.remove(&row.id).unwrap_or_default();
        groups.sort();
        read.push(DjangoUser {
            id: row.id,
            username: row.username,
            password: row.password,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            is_active: row.is_active,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
            date_joined,
            last_login,
            groups,
            drf_key: keys
                .as_mut()
                .map(|keys| keys.remove(&row.id).map(DjangoKey)),
        });
    }
    let mut group_names: Vec<String> = names.into_values().collect();
    group_names.sort();
    Ok((read, group_names))
}

/// A time as Django writes it: a database's `2026-12-02 08:00:00.123456`
/// (UTC), or `dumpdata`'s ISO 8601 with `Z` or an offset.
pub fn parse_django_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(at.naive_utc());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at);
        }
    }
    // SQLite's text may carry an offset after a space-separated time.
    let with_t = text.replacen(' ', "T", 1);
    chrono::DateTime::parse_from_rfc3339(&with_t)
        .ok()
        .map(|at| at.naive_utc())
}

/// What an import did, or (a dry run) would do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Users left out, each with why.
    pub skipped: Vec<(String, String)>,
    pub groups_created: usize,
    /// Users an earlier import brought that Django no longer has: left as
    /// they are.
    pub gone_from_django: usize,
    /// DRF keys brought (new, or changed in Django since the last import).
    pub drf_keys: usize,
    /// Keys an earlier import brought that Django deleted since: ended.
    pub drf_keys_ended: usize,
}

/// What an update takes from Django.
struct Changes {
    /// Sessions to end, and why.
    revoke: Option<Reason>,
    /// Django's hash changed since the last import.
    password: bool,
    /// The rest of Django's record changed since the last import.
    record: bool,
}

/// How an imported user compares with what is stored.
enum Plan {
    Create,
    Update(Changes),
    Unchanged,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct ImportedUser<'a> {
    id: i64,
    username: &'a str,
    password: &'a str,
    imported_password_digest: Option<String>,
    imported_record_digest: Option<String>,
    is_active: bool,
    date_joined: NaiveDateTime,
    last_login: Option<NaiveDateTime>,
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    is_staff: bool,
    is_superuser: bool,
    claims: &'a str,
}

/// Writes `users` and `groups` here, each user in their own transaction;
/// `refuse` says why a user's hash cannot be stored (then they are
/// skipped), and so does a user whose write fails, while the others go on.
/// With `dry_run`, nothing is written and the report says what would be.
pub fn apply(
    conn: &mut DbConnection,
    users: &[DjangoUser],
    groups: &[String],
    dry_run: bool,
    refuse: impl Fn(&str) -> Option<String>,
) -> QueryResult<ImportReport> {
    let mut report = ImportReport::default();
    let existing: std::collections::HashSet<String> = super::groups::list(conn)?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for name in groups {
        if !existing.contains(name) {
            report.groups_created += 1;
            if !dry_run {
                super::groups::create(conn, name)?;
            }
        }
    }
    if !dry_run {
        // Before any user is written: a user created here meanwhile never
        // takes an id Django's users are about to.
        let largest = users.iter().map(|user| user.id).max().unwrap_or(0);
        super::backend::advance_user_ids(conn, largest)?;
    }
    for user in users {
        if let Some(reason) = refuse(&user.password) {
            report.skipped.push((user.username.clone(), reason));
            continue;
        }
        let outcome = plan(conn, user).and_then(|plan| match plan {
            Err(reason) => Ok(Err(reason)),
            Ok(plan) if dry_run => Ok(Ok(plan)),
            Ok(Plan::Create) => create(conn, user).map(|()| Ok(Plan::Create)),
            Ok(Plan::Update(changes)) => {
                update(conn, user, &changes).map(|()| Ok(Plan::Update(changes)))
            }
            Ok(Plan::Unchanged) => Ok(Ok(Plan::Unchanged)),
        });
        let outcome = match outcome {
            Ok(Ok(plan)) => {
                let changed = if dry_run {
                    key_changed(conn, user)
                } else {
                    import_key(conn, user)
                };
                changed.map(|changed| {
                    match (changed, &user.drf_key) {
                        (false, _) | (true, None) => {}
                        (true, Some(Some(_))) => report.drf_keys += 1,
                        (true, Some(None)) => report.drf_keys_ended += 1,
                    }
                    Ok(plan)
                })
            }
            other => other,
        };
        match outcome {
            Ok(Ok(Plan::Create)) => report.created += 1,
            Ok(Ok(Plan::Update(_))) => report.updated += 1,
            Ok(Ok(Plan::Unchanged)) => report.unchanged += 1,
            Ok(Err(reason)) => report.skipped.push((user.username.clone(), reason)),
            // Nothing of this user was written; the others go on.
            Err(error) => report
                .skipped
                .push((user.username.clone(), format!("not written: {error}"))),
        }
    }
    let in_django: std::collections::HashSet<i64> = users.iter().map(|user| user.id).collect();
    let imported: Vec<i64> = users::table
        .filter(users::imported_password_digest.is_not_null())
        .select(users::id)
        .load(conn)?;
    report.gone_from_django = imported
        .into_iter()
        .filter(|id| !in_django.contains(id))
        .count();
    Ok(report)
}

/// Compares a Django user with the stored one of the same id. `Err` says
/// why they cannot be imported.
fn plan(conn: &mut DbConnection, user: &DjangoUser) -> QueryResult<Result<Plan, String>> {
    if let Some(owner) = find_by_username(conn, &user.username)?
        && owner.id != user.id
    {
        return Ok(Err(format!(
            "the username is taken here by user {} (Django's is {})",
            owner.id, user.id
        )));
    }
    let Some(stored) = find_by_id(conn, user.id)? else {
        return Ok(Ok(Plan::Create));
    };
    let Some(password_digest) = stored.imported_password_digest.as_deref() else {
        return Ok(Err(format!(
            "id {} belongs to {:?}, a user created here, not imported from Django",
            stored.id, stored.username
        )));
    };
    let password = password_digest != user.password_digest();
    let record = stored.imported_record_digest.as_deref() != Some(user.record_digest().as_str());
    let newer_login = match (user.last_login, stored.last_login) {
        (Some(theirs), Some(ours)) => theirs > ours && !same_instant(theirs, ours),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !password && !record && !newer_login {
        return Ok(Ok(Plan::Unchanged));
    }
    let revoke = if record && stored.is_active && !user.is_active {
        Some(Reason::UserDeactivated)
    } else if password {
        Some(Reason::PasswordChanged)
    } else {
        None
    };
    Ok(Ok(Plan::Update(Changes {
        revoke,
        password,
        record,
    })))
}

/// Whether Django's key for the user differs from what the last import
/// brought (a key given, changed or deleted there).
fn key_changed(conn: &mut DbConnection, user: &DjangoUser) -> QueryResult<bool> {
    let imported: Option<Option<String>> = users::table
        .find(user.id)
        .select(users::imported_drf_key_digest)
        .first(conn)
        .optional()?;
    let Some(theirs) = &user.drf_key else {
        return Ok(false);
    };
    let theirs = theirs.as_ref().map(|key| sha256_hex(key.0.as_bytes()));
    Ok(imported.flatten() != theirs)
}

/// Takes the user's DRF key when Django's changed since the last import:
/// the key imported before is deleted (every instance drops it through the
/// change feed: deleting a key is how DRF ends one) and Django's new one,
/// if any, stored as its digest. A key ended here stays ended while
/// Django's is the same. Returns whether Django's key changed.
fn import_key(conn: &mut DbConnection, user: &DjangoUser) -> QueryResult<bool> {
    use super::schema::drf_token_keys;
    if !key_changed(conn, user)? {
        return Ok(false);
    }
    let digest = user
        .drf_key
        .as_ref()
        .and_then(Option::as_ref)
        .map(|key| sha256_hex(key.0.as_bytes()));
    change_user(conn, UserKey::Id(user.id), None, |conn, id| {
        diesel::delete(
            drf_token_keys::table
                .filter(drf_token_keys::user_id.eq(id))
                .filter(drf_token_keys::nonce.is_null()),
        )
        .execute(conn)?;
        if let Some(digest) = &digest {
            super::drf_keys::insert(
                conn,
                &super::drf_keys::StoredKey {
                    digest: digest.clone(),
                    user_id: id,
                    nonce: None,
                    created_at: chrono::Utc::now().naive_utc(),
                },
            )?;
        }
        diesel::update(users::table.find(id))
            .set(users::imported_drf_key_digest.eq(&digest))
            .execute(conn)
            .map(drop)
    })
    .map(|changed| changed.is_some())
}

/// Whether two times are the same to the millisecond: `dumpdata` writes
/// milliseconds of what the database keeps in microseconds.
fn same_instant(a: NaiveDateTime, b: NaiveDateTime) -> bool {
    a.and_utc().timestamp_millis() == b.and_utc().timestamp_millis()
}

fn create(conn: &mut DbConnection, user: &DjangoUser) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        // Memberships change under the feed's lock (see `super::groups`).
        super::backend::order_feed_writes(conn)?;
        diesel::insert_into(users::table)
            .values(&ImportedUser {
                id: user.id,
                username: &user.username,
                password: &user.password,
                imported_password_digest: Some(user.password_digest()),
                imported_record_digest: Some(user.record_digest()),
                is_active: user.is_active,
                date_joined: user.date_joined,
                last_login: user.last_login,
                email: &user.email,
                first_name: &user.first_name,
                last_name: &user.last_name,
                is_staff: user.is_staff,
                is_superuser: user.is_superuser,
                claims: "{}",
            })
            .execute(conn)?;
        match super::groups::replace_memberships(conn, user.id, &user.groups)? {
            Ok(()) => Ok(()),
            // The groups were created before the users.
            Err(_) => Err(diesel::result::Error::RollbackTransaction),
        }
    })
}

fn update(conn: &mut DbConnection, user: &DjangoUser, changes: &Changes) -> QueryResult<()> {
    change_user(conn, UserKey::Id(user.id), changes.revoke, |conn, id| {
        if changes.record {
            diesel::update(users::table.find(id))
                .set((
                    users::username.eq(&user.username),
                    users::email.eq(&user.email),
                    users::first_name.eq(&user.first_name),
                    users::last_name.eq(&user.last_name),
                    users::is_active.eq(user.is_active),
                    users::is_staff.eq(user.is_staff),
                    users::is_superuser.eq(user.is_superuser),
                    users::date_joined.eq(user.date_joined),
                    users::imported_record_digest.eq(user.record_digest()),
                ))
                .execute(conn)?;
            if super::groups::replace_memberships(conn, id, &user.groups)?.is_err() {
                return Err(diesel::result::Error::RollbackTransaction);
            }
        }
        if changes.password {
            diesel::update(users::table.find(id))
                .set((
                    users::password.eq(&user.password),
                    users::imported_password_digest.eq(user.password_digest()),
                ))
                .execute(conn)?;
        }
        // The later of the two logins.
        if let Some(at) = user.last_login {
            diesel::update(
                users::table
                    .find(id)
                    .filter(users::last_login.is_null().or(users::last_login.lt(at))),
            )
            .set(users::last_login.eq(at))
            .execute(conn)?;
        }
        Ok(())
    })
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_times_are_read_as_utc() {
        let at = |text: &str| parse_django_time(text).map(|t| t.to_string());
        assert_eq!(
            at("2026-12-02 08:00:00.123456").as_deref(),
            Some("2026-12-02 08:00:00.123456")
        );
        assert_eq!(
            at("2026-12-02 08:00:00").as_deref(),
            Some("2026-12-02 08:00:00")
        );
        assert_eq!(
            at("2026-12-02T08:00:00.123Z").as_deref(),
            Some("2026-12-02 08:00:00.123")
        );
        assert_eq!(
            at("2026-12-02T09:00:00+01:00").as_deref(),
            Some("2026-12-02 08:00:00")
        );
        assert_eq!(
            at("2026-12-02 09:00:00+01:00").as_deref(),
            Some("2026-12-02 08:00:00")
        );
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn table_names_are_plain_identifiers() {
        let tables = |users: &str| DjangoTables {
            users: users.to_owned(),
            groups: "auth_group".to_owned(),
            memberships: "auth_user_groups".to_owned(),
            drf_keys: "authtoken_token".to_owned(),
        };
        assert!(tables("auth_user").check().is_ok());
        assert!(tables("legacy.accounts_user").check().is_ok());
        for bad in [
            "",
            "a b",
            "users; DROP TABLE users",
            "a.b.c",
            "1users",
            "\"x\"",
        ] {
            assert!(tables(bad).check().is_err(), "{bad}");
        }
    }
}

//! Where PostgreSQL and SQLite differ, in one place: which backend a URL
//! selects, opening connections and the pool, SQLite's pragmas, file and
//! one-writer queue, migrations, how a write transaction starts, and how
//! change-feed writes are ordered.
//! PostgreSQL's batched rotation is the one other backend-specific piece
//! (`super::refresh_tokens::batch`).

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult, RunQueryDsl};

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use std::path::Path;

use super::{DbConnection, Pool};

/// One migrations folder per backend, with the same names and meaning.
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The busy timeout makes writers queue for the lock instead of failing (set
/// first: switching to WAL takes the lock too, as every connection of a new
/// pool opens at once); WAL lets readers proceed during a write; foreign
/// keys are off by default in SQLite.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// The backend a database URL selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unsupported database URL scheme {0:?}: use postgres://, postgresql:// or sqlite:// (or a plain SQLite file path)"
)]
pub struct UnsupportedScheme(String);

impl Backend {
    /// Picks the backend from the URL's scheme; a URL without a scheme is a SQLite path.
    pub fn from_url(url: &str) -> Result<Self, UnsupportedScheme> {
        match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            Some("sqlite") => Ok(Self::Sqlite),
            Some(other) => Err(UnsupportedScheme(other.to_owned())),
            None if url.starts_with("sqlite:")
                || !url.contains(':')
                || url.starts_with("file:") =>
            {
                Ok(Self::Sqlite)
            }
            None => Err(UnsupportedScheme(
                url.split(':').next().unwrap_or_default().to_owned(),
            )),
        }
    }
}

/// A database URL and the backend its scheme selects, parsed once (when the
/// settings load), so a bad URL is an error rather than a guess across
/// backends.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, UnsupportedScheme> {
        let url = url.trim();
        Ok(Self {
            backend: Backend::from_url(url)?,
            url: url.to_owned(),
        })
    }

    /// The SQLite file at `path`.
    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as given. It may carry a password: not for logs.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The path or URI SQLite itself understands for a `sqlite:` URL.
    pub(super) fn sqlite_target(&self) -> &str {
        self.url
            .strip_prefix("sqlite://")
            .or_else(|| self.url.strip_prefix("sqlite:"))
            .unwrap_or(&self.url)
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = UnsupportedScheme;

    fn from_str(url: &str) -> Result<Self, UnsupportedScheme> {
        Self::parse(url)
    }
}

// The URL may carry a password: print the scheme only.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.url.split(':').next().unwrap_or_default();
        write!(f, "DatabaseUrl({scheme}:…)")
    }
}

/// Opens connections to one database, on the backend its URL selected.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    /// Opens connections to `url`; a PostgreSQL connection attempt gives
    /// up after `connect_timeout`.
    pub fn new(url: &DatabaseUrl, connect_timeout: Duration) -> Self {
        let url = match url.backend {
            Backend::Postgres => DatabaseUrl {
                url: with_network_timeouts(&url.url, connect_timeout),
                backend: Backend::Postgres,
            },
            Backend::Sqlite => url.clone(),
        };
        Self { url }
    }
}

/// libpq's defaults wait for the network as long as the kernel does: a
/// connection attempt to a host that drops packets takes about two minutes
/// to fail, and a query on a connection whose peer vanished about fifteen.
/// These bound both (unless the URL sets them): the attempt by
/// `connect_timeout`, a silent peer by TCP keepalives and
/// `tcp_user_timeout` (30 s).
fn with_network_timeouts(url: &str, connect_timeout: Duration) -> String {
    let given = |name: &str| {
        url.split_once('?').is_some_and(|(_, query)| {
            query
                .split('&')
                .any(|pair| pair.split('=').next() == Some(name))
        })
    };
    let seconds = connect_timeout.as_secs().clamp(2, 60).to_string();
    let mut url = url.to_owned();
    for (name, value) in [
        ("connect_timeout", seconds.as_str()),
        ("keepalives", "1"),
        ("keepalives_idle", "10"),
        ("keepalives_interval", "5"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "30000"),
    ] {
        if !given(name) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("{name}={value}"));
        }
    }
    url
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.url.backend {
            Backend::Postgres => {
                PgConnection::establish(self.url.as_str()).map(DbConnection::Postgres)
            }
            Backend::Sqlite => {
                SqliteConnection::establish(self.url.sqlite_target()).map(DbConnection::Sqlite)
            }
        }
        .map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection found dead on this thread (see `super::circuit`).
        super::circuit::take_suspect() || conn.is_broken()
    }
}

/// Readies each new connection (SQLite's pragmas) and, for a pool that
/// tracks it, tells the database's reachability that a connection opened.
#[derive(Debug, Default)]
pub(super) struct ConnectionSetup(pub Option<std::sync::Arc<super::circuit::Reachability>>);

impl CustomizeConnection<DbConnection, r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(conn) = conn {
            conn.batch_execute(SQLITE_PRAGMAS)
                .map_err(r2d2::Error::QueryError)?;
        }
        if let Some(reachability) = &self.0 {
            reachability.connected();
        }
        Ok(())
    }
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// SQLite takes one writer at a time. Writers of this process queue here
/// instead of in SQLite's busy handler, whose back-off sleeps up to 100 ms a
/// time and left refreshes on SQLite with a p99 of 600 ms under eight
/// concurrent writers. A writer waits here at most as long as it would in
/// SQLite ([`SQLITE_BUSY_TIMEOUT`]), then fails as SQLite would; another
/// process (the CLI) still waits on the busy timeout. One queue for the
/// process: several SQLite databases in one process (tests) only order their
/// short writes.
static SQLITE_WRITERS: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// How long a SQLite writer waits for its turn, here and in SQLite.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    /// Whether this thread holds [`SQLITE_WRITERS`]: a write transaction
    /// started inside another one fails at once instead of waiting on itself.
    static HOLDS_SQLITE_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Holds the SQLite writers' queue; clears the thread's flag when dropped.
pub(super) struct SqliteWriterTurn(#[allow(dead_code)] parking_lot::MutexGuard<'static, ()>);

impl SqliteWriterTurn {
    fn take() -> QueryResult<Self> {
        if HOLDS_SQLITE_WRITER.with(std::cell::Cell::get) {
            return Err(diesel::result::Error::AlreadyInTransaction);
        }
        let guard = SQLITE_WRITERS
            .try_lock_for(SQLITE_BUSY_TIMEOUT)
            .ok_or_else(|| {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::Unknown,
                    Box::new(DATABASE_LOCKED.to_owned()),
                )
            })?;
        HOLDS_SQLITE_WRITER.with(|holds| holds.set(true));
        Ok(Self(guard))
    }
}

impl Drop for SqliteWriterTurn {
    fn drop(&mut self) {
        HOLDS_SQLITE_WRITER.with(|holds| holds.set(false));
    }
}

/// SQLite's message when the write lock stayed taken for the busy timeout.
pub const DATABASE_LOCKED: &str = "database is locked";

/// Opens a transaction that holds the write lock from its first statement.
/// On SQLite that is `BEGIN IMMEDIATE`, taken after this process's other
/// writers (see [`SQLITE_WRITERS`]), so two writers queue instead of one
/// failing when it upgrades a read lock; PostgreSQL takes row locks as the
/// statements run. The returned turn is held until the transaction ends.
pub(super) fn begin_write(conn: &mut DbConnection) -> QueryResult<Option<SqliteWriterTurn>> {
    match conn {
        DbConnection::Sqlite(inner) => {
            let turn = SqliteWriterTurn::take()?;
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            Ok(Some(turn))
        }
        DbConnection::Postgres(inner) => {
            AnsiTransactionManager::begin_transaction(inner)?;
            Ok(None)
        }
    }
}

/// Builds the pool. For SQLite, creates the file's directory first so the
/// embedded default works in an empty checkout.
pub fn build_pool(url: &DatabaseUrl, size: u32, timeout: Duration) -> anyhow::Result<Pool> {
    Ok(pool_builder(size, timeout).build(prepare(url, timeout)?)?)
}

/// The connection manager for `url`, its SQLite file's directory made first.
pub(super) fn prepare(url: &DatabaseUrl, timeout: Duration) -> anyhow::Result<ConnectionManager> {
    let manager = ConnectionManager::new(url, timeout);
    if url.backend() == Backend::Sqlite {
        let target = url.sqlite_target();
        let parent = Path::new(target)
            .parent()
            .filter(|p| !p.as_os_str().is_empty());
        // The file holds password hashes: owner-only, as are its directory
        // (when created here) and the -wal/-shm files SQLite makes beside it.
        if !target.starts_with("file:") && !target.starts_with(":memory:") {
            if let Some(parent) = parent {
                crate::private_files::create_dir_all(parent)?;
            }
            crate::private_files::ensure_owner_only(Path::new(target))?;
        }
    }
    Ok(manager)
}

/// The pool's settings, before its manager is given.
pub(super) fn pool_builder(size: u32, timeout: Duration) -> r2d2::Builder<ConnectionManager> {
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // A ping before every checkout would add a round trip to each request;
        // broken connections are caught by `has_broken` instead.
        .test_on_check_out(false)
        .connection_timeout(timeout)
        .connection_customizer(Box::new(ConnectionSetup::default()))
}

/// Applies the pending migrations of the connection's backend; returns how many ran.
pub(super) fn run_pending_migrations(conn: &mut DbConnection) -> diesel::migration::Result<usize> {
    let applied = match conn {
        DbConnection::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS)?,
        DbConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS)?,
    };
    Ok(applied.len())
}

/// Makes change-feed ids visible in the order they were allocated: on
/// PostgreSQL a lock on the feed held until commit (sequences hand out ids
/// before their transactions commit, in any order); SQLite has one writer
/// at a time already.
pub(super) fn order_feed_writes(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query("LOCK TABLE auth_events IN EXCLUSIVE MODE").execute(pg)?;
    }
    Ok(())
}

/// Moves PostgreSQL's user id sequence past `at_least` and the largest id,
/// before users are written with ids of their own (an import), so users
/// created meanwhile or afterwards never collide with them. SQLite takes
/// the largest id plus one anyway.
pub(super) fn advance_user_ids(conn: &mut DbConnection, at_least: i64) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), \
             GREATEST((SELECT MAX(id) FROM users), $1, 1))",
        )
        .bind::<diesel::sql_types::BigInt, _>(at_least)
        .execute(pg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{build_pool, write_transaction};
    use super::*;

    #[test]
    fn postgres_urls_get_network_timeouts_unless_they_set_them() {
        let url = with_network_timeouts(
            "postgres://u@db/app?sslmode=require&connect_timeout=9",
            Duration::from_secs(5),
        );
        assert_eq!(
            url,
            "postgres://u@db/app?sslmode=require&connect_timeout=9&keepalives=1&keepalives_idle=10\
             &keepalives_interval=5&keepalives_count=3&tcp_user_timeout=30000"
        );
        assert!(
            with_network_timeouts("postgres://u@db/app", Duration::from_secs(5))
                .starts_with("postgres://u@db/app?connect_timeout=5&")
        );
    }

    #[test]
    fn backend_follows_the_scheme() {
        assert_eq!(
            Backend::from_url("postgres://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("sqlite://data/x.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("data/x.sqlite3").ok(),
            Some(Backend::Sqlite)
        );
        assert!(Backend::from_url("mysql://h/db").is_err());
        assert!(Backend::from_url("redis://h").is_err());
        assert!(Backend::from_url("http:whatever").is_err());
    }

    #[test]
    fn a_write_transaction_inside_another_fails_at_once_instead_of_waiting_on_itself() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::sqlite_file(&dir.path().join("nested.sqlite3"));
        let pool = build_pool(&url, 2, Duration::from_secs(5)).expect("pool");
        let (mut outer, mut inner) = (pool.get().expect("one"), pool.get().expect("two"));
        let nested: QueryResult<QueryResult<()>> = write_transaction(&mut outer, |_| {
            Ok(write_transaction(&mut inner, |_| Ok(())))
        });
        assert!(matches!(
            nested,
            Ok(Err(diesel::result::Error::AlreadyInTransaction))
        ));
        // The queue is free again afterwards.
        let again: QueryResult<()> = write_transaction(&mut inner, |_| Ok(()));
        assert!(again.is_ok());
    }

    #[test]
    fn sqlite_target_strips_the_scheme() {
        let target = |url: &str| {
            DatabaseUrl::parse(url)
                .expect("url")
                .sqlite_target()
                .to_owned()
        };
        assert_eq!(target("sqlite://data/x.db"), "data/x.db");
        assert_eq!(target("sqlite:///tmp/x.db"), "/tmp/x.db");
        assert_eq!(target("data/x.db"), "data/x.db");
    }
}

//! Where PostgreSQL and SQLite differ, in one place: which backend a URL
//! selects, opening connections, SQLite's pragmas and its one-writer queue,
//! how a write transaction starts, and how change-feed writes are ordered.
//! PostgreSQL's batched rotation is the one other backend-specific piece
//! (`super::refresh_tokens::batch`).

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult, RunQueryDsl};

use super::DbConnection;

/// WAL lets readers proceed during a write; the busy timeout makes writers queue
/// for the lock instead of failing; foreign keys are off by default in SQLite.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
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

/// The path or URI SQLite itself understands for a `sqlite:` URL.
pub(super) fn sqlite_target(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Opens connections for the backend chosen once from the URL, so a bad URL is
/// an error rather than a guess across backends.
#[derive(Debug)]
pub struct ConnectionManager {
    url: String,
    pub(super) backend: Backend,
}

impl ConnectionManager {
    pub fn new(url: &str) -> Result<Self, UnsupportedScheme> {
        Ok(Self {
            url: url.to_owned(),
            backend: Backend::from_url(url)?,
        })
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url).map(DbConnection::Postgres),
            Backend::Sqlite => {
                SqliteConnection::establish(sqlite_target(&self.url)).map(DbConnection::Sqlite)
            }
        }
        .map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

#[derive(Debug)]
pub(super) struct ConnectionSetup;

impl CustomizeConnection<DbConnection, r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(conn) = conn {
            conn.batch_execute(SQLITE_PRAGMAS)
                .map_err(r2d2::Error::QueryError)?;
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

#[cfg(test)]
mod tests {
    use super::super::{build_pool, write_transaction};
    use super::*;

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
        let url = format!("sqlite://{}", dir.path().join("nested.sqlite3").display());
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
        assert_eq!(sqlite_target("sqlite://data/x.db"), "data/x.db");
        assert_eq!(sqlite_target("sqlite:///tmp/x.db"), "/tmp/x.db");
        assert_eq!(sqlite_target("data/x.db"), "data/x.db");
    }
}

//! Storage: one diesel connection type over PostgreSQL and SQLite, the pool,
//! migrations, and the async bridge that runs every query on the blocking pool.
//! The table-specific queries live in [`users`] and [`refresh_tokens`].

pub mod events;
pub mod families;
pub mod refresh_tokens;
pub mod rotations;
pub mod schema;
pub mod users;

use std::path::Path;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// WAL lets readers proceed during a write; the busy timeout makes writers queue
/// for the lock instead of failing; foreign keys are off by default in SQLite.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// A connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

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
fn sqlite_target(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Opens connections for the backend chosen once from the URL, so a bad URL is
/// an error rather than a guess across backends.
#[derive(Debug)]
pub struct ConnectionManager {
    url: String,
    backend: Backend,
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
struct ConnectionSetup;

impl CustomizeConnection<DbConnection, r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(conn) = conn {
            conn.batch_execute(SQLITE_PRAGMAS)
                .map_err(r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<r2d2::PoolError> for DbError {
    fn from(error: r2d2::PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Runs `delete_batch(batch)` (which deletes at most `batch` rows and says
/// how many) until a batch comes back short; returns the total.
pub fn delete_in_batches(
    batch: i64,
    mut delete_batch: impl FnMut(i64) -> QueryResult<usize>,
) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let deleted = delete_batch(batch)?;
        total += deleted;
        if (deleted as i64) < batch {
            return Ok(total);
        }
    }
}

/// Rows deleted per statement by the cleanup.
const FLUSH_BATCH: i64 = 1000;

/// What one cleanup deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    pub refresh_tokens: usize,
    pub families: usize,
    pub events: usize,
}

/// Deletes expired refresh tokens, sessions past their absolute end (their
/// tokens go with them) and change events every instance has long read, in
/// batches so no statement holds locks for long. The `expires_at` indexes make
/// each batch an index range scan. A token's row stays until its expiry plus
/// `leeway` (and a minute) has passed: until then the token still verifies,
/// and its row is what says it was used.
pub fn flush_expired(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    leeway: chrono::Duration,
) -> Result<Flushed, DbError> {
    // A minute's margin past `exp + leeway`: `exp` has whole seconds, and a
    // token must be past verifying before its row goes.
    let tokens_expired_by = now
        .checked_sub_signed(leeway + chrono::Duration::seconds(60))
        .unwrap_or(chrono::NaiveDateTime::MIN);
    Ok(Flushed {
        refresh_tokens: refresh_tokens::delete_expired(conn, tokens_expired_by, FLUSH_BATCH)?,
        families: families::delete_expired(conn, now, tokens_expired_by, FLUSH_BATCH)?,
        // Instances read the feed within a fraction of a second; a day is ample.
        events: events::delete_older_than(conn, now - chrono::Duration::days(1))?,
    })
}

/// Builds the pool. For SQLite, creates the file's directory first so the
/// embedded default works in an empty checkout.
pub fn build_pool(url: &str, size: u32, timeout: Duration) -> anyhow::Result<Pool> {
    let manager = ConnectionManager::new(url)?;
    if manager.backend == Backend::Sqlite {
        let target = sqlite_target(url);
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
    let pool = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // A ping before every checkout would add a round trip to each request;
        // broken connections are caught by `has_broken` instead.
        .test_on_check_out(false)
        .connection_timeout(timeout)
        .connection_customizer(Box::new(ConnectionSetup))
        .build(manager)?;
    Ok(pool)
}

/// Applies every pending migration of the connection's backend; returns how many ran.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConnection::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.len())
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
struct SqliteWriterTurn(#[allow(dead_code)] parking_lot::MutexGuard<'static, ()>);

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

/// Runs `work` in one transaction that holds the write lock from its first
/// statement. On SQLite that is `BEGIN IMMEDIATE`, taken after this
/// process's other writers (see [`SQLITE_WRITERS`]), so two writers queue
/// instead of one failing when it upgrades a read lock; PostgreSQL takes row
/// locks as the statements run. `work` must not start another write
/// transaction.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let _writer = match conn {
        DbConnection::Sqlite(inner) => {
            let turn = SqliteWriterTurn::take()?;
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            Some(turn)
        }
        DbConnection::Postgres(inner) => {
            AnsiTransactionManager::begin_transaction(inner)?;
            None
        }
    };
    match work(conn) {
        Ok(value) => {
            if let Err(commit_error) = commit(conn) {
                rollback(conn)?;
                return Err(commit_error.into());
            }
            Ok(value)
        }
        Err(error) => {
            rollback(conn)?;
            Err(error)
        }
    }
}

fn commit(conn: &mut DbConnection) -> QueryResult<()> {
    <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
}

fn rollback(conn: &mut DbConnection) -> QueryResult<()> {
    match <DbConnection as Connection>::TransactionManager::rollback_transaction(conn) {
        // Already closed by a failed commit: nothing is left open.
        Err(diesel::result::Error::NotInTransaction) => Ok(()),
        other => other,
    }
}

/// The handle routes use: runs storage code on the blocking pool with a pooled
/// connection, keeping the caller's tracing span.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
}

impl Database {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        actix_web::web::block(move || {
            span.in_scope(|| {
                let mut conn = pool.get().map_err(DbError::from)?;
                work(&mut conn)
            })
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }
}

#[cfg(test)]
mod tests {
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

//! Storage: one diesel connection type over PostgreSQL and SQLite, the pool,
//! migrations, write transactions, and the async bridge that runs every
//! query on the blocking pool. One file per table ([`users`], [`sessions`],
//! [`refresh_tokens`], [`events`]); where the backends differ, [`backend`]
//! (and PostgreSQL's batched rotation, `refresh_tokens::batch`). No HTTP
//! types here.

pub mod backend;
pub mod events;
pub mod refresh_tokens;
pub mod schema;
pub mod sessions;
pub mod users;

use std::path::Path;
use std::time::Duration;

use diesel::connection::TransactionManager;
use diesel::pg::PgConnection;
use diesel::r2d2;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use backend::sqlite_target;
pub use backend::{Backend, ConnectionManager, DATABASE_LOCKED, UnsupportedScheme};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// A connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

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
    pub sessions: usize,
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
        sessions: sessions::delete_expired(conn, now, tokens_expired_by, FLUSH_BATCH)?,
        // Instances read the feed within a fraction of a second; a day is ample.
        events: events::delete_older_than(conn, now - chrono::Duration::days(1))?,
    })
}

/// A round trip to the database.
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn).map(drop)
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
        .connection_customizer(Box::new(backend::ConnectionSetup))
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

/// Runs `work` in one transaction that holds the write lock from its first
/// statement (see [`backend::begin_write`]). `work` must not start another
/// write transaction.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let _writer = backend::begin_write(conn)?;
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
    backend: Backend,
}

impl Database {
    /// Opens the pool for `url` (see [`build_pool`]).
    pub fn connect(url: &str, size: u32, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::from_url(url)?,
            pool: build_pool(url, size, timeout)?,
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The backend the pool connects to.
    pub fn backend(&self) -> Backend {
        self.backend
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
mod tests;

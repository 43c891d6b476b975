//! Storage: one diesel connection type over PostgreSQL and SQLite, write
//! transactions, and the async bridge that runs every query on the blocking
//! pool; the pool itself and migrations are in [`backend`], the expired-row
//! cleanup in `cleanup`. One file per table ([`users`], [`sessions`],
//! [`refresh_tokens`], [`events`]); where the backends differ, [`backend`]
//! (and PostgreSQL's batched rotation, `refresh_tokens::batch`). No HTTP
//! types here.

pub mod backend;
mod cleanup;
pub mod events;
pub mod groups;
pub mod import;
pub mod refresh_tokens;
pub mod schema;
pub mod sessions;
pub mod users;

use std::time::Duration;

use diesel::connection::TransactionManager;
use diesel::pg::PgConnection;
use diesel::r2d2;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult};

pub use backend::{
    Backend, ConnectionManager, DATABASE_LOCKED, DatabaseUrl, UnsupportedScheme, build_pool,
};
pub use cleanup::{Flushed, flush_expired};

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

/// A round trip to the database.
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn).map(drop)
}

/// Applies every pending migration of the connection's backend; returns how many ran.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    backend::run_pending_migrations(conn).map_err(|e| anyhow::anyhow!("migration failed: {e}"))
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
    pub fn connect(url: &DatabaseUrl, size: u32, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            backend: url.backend(),
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

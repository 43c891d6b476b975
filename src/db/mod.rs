//! Storage: one diesel connection type over PostgreSQL and SQLite, write
//! transactions, and [`Database`], the handle that runs every query on the
//! blocking pool and fails fast while the database is unreachable
//! ([`circuit`]); building the pool and migrations are in [`backend`], the
//! expired-row cleanup in `cleanup`. One file per table ([`users`],
//! [`sessions`], [`refresh_tokens`], [`events`], [`audit`]); where the
//! backends differ, [`backend`] (and PostgreSQL's batched rotation,
//! `refresh_tokens::batch`). No HTTP types here.

pub mod audit;
pub mod backend;
pub mod circuit;
mod cleanup;
pub mod drf_keys;
pub mod events;
pub mod groups;
pub mod import;
pub mod refresh_tokens;
pub mod schema;
pub mod sessions;
pub mod users;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::TransactionManager;
use diesel::pg::PgConnection;
use diesel::r2d2;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult};

pub use backend::{
    Backend, ConnectionManager, DATABASE_LOCKED, DatabaseUrl, UnsupportedScheme, build_pool,
};
use circuit::{CheckoutError, Reachability, TripOnConnectError};
pub use cleanup::{Flushed, flush_expired};

use crate::metrics::Metrics;

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

/// The handle services use: runs storage code on the blocking pool with a
/// pooled connection, keeping the caller's tracing span, and fails at once
/// while the database is unreachable (see [`circuit`]).
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    backend: Backend,
    /// How long a checkout waits for a connection (`database.connect_timeout_seconds`).
    timeout: Duration,
    reachability: Arc<Reachability>,
    metrics: Arc<Metrics>,
}

impl Database {
    /// Opens the pool for `url` (see [`build_pool`]).
    pub fn connect(
        url: &DatabaseUrl,
        size: u32,
        timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let reachability = Arc::new(Reachability::default());
        let pool = backend::pool_builder(size, timeout)
            .connection_customizer(Box::new(backend::ConnectionSetup(Some(
                reachability.clone(),
            ))))
            .error_handler(Box::new(TripOnConnectError(reachability.clone())))
            .build(backend::prepare(url, timeout)?)?;
        Ok(Self {
            backend: url.backend(),
            pool,
            timeout,
            reachability,
            metrics,
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The backend the pool connects to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Pooled connections in use and idle, now.
    pub fn connections(&self) -> (usize, usize) {
        let state = self.pool.state();
        let idle = state.idle_connections as usize;
        ((state.connections as usize).saturating_sub(idle), idle)
    }

    /// Whether the database was found out of reach (and not yet back).
    pub fn is_unreachable(&self) -> bool {
        self.reachability.is_unreachable()
    }

    /// A pooled connection, waiting at most `wait`; at once an error while
    /// the database is unreachable. Blocking: not for the async workers.
    pub fn checkout(&self, wait: Duration) -> Result<PooledConnection, DbError> {
        let started = Instant::now();
        let outcome = circuit::checkout(&self.reachability, started + wait, |slice| {
            self.pool.get_timeout(slice).ok()
        });
        self.metrics
            .db_wait_seconds
            .observe(started.elapsed().as_secs_f64());
        outcome.map_err(|error| match error {
            CheckoutError::Unreachable => {
                self.metrics.db_fast_failures.inc();
                DbError::Unavailable("the database is unreachable".to_owned())
            }
            CheckoutError::TimedOut => {
                // Every connection busy is load; fewer connections than the
                // pool may hold, after a whole wait, is a database that
                // cannot be reached (a connection attempt that hangs, as to
                // a host that drops packets, never reports an error).
                let pool = self.pool.state();
                if pool.connections < self.pool.max_size() && wait >= self.timeout {
                    self.reachability.lose(&format_args!(
                        "no connection could be opened within {wait:?}"
                    ));
                }
                DbError::Unavailable(format!("no database connection came free within {wait:?}"))
            }
        })
    }

    /// Runs `work` with a pooled connection, on this thread (blocking). A
    /// connection that fails its work and then a ping is dropped from the
    /// pool: its server went away.
    pub fn with_connection<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError>,
    {
        self.with_connection_within(self.timeout, work)
    }

    /// [`Self::with_connection`], waiting at most `wait` for the connection.
    pub fn with_connection_within<T, E>(
        &self,
        wait: Duration,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let mut conn = self.checkout(wait)?;
        let outcome = work(&mut conn);
        if outcome.is_err() && ping(&mut conn).is_err() {
            circuit::SUSPECT.with(|suspect| suspect.set(true));
        }
        drop(conn);
        // A connection that was never suspect leaves the flag clear.
        circuit::take_suspect();
        outcome
    }

    /// [`Self::with_connection`] on the blocking pool.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        if self.is_unreachable() {
            // Not even a blocking thread is taken.
            self.metrics.db_fast_failures.inc();
            return Err(E::from(DbError::Unavailable(
                "the database is unreachable".to_owned(),
            )));
        }
        let db = self.clone();
        let span = tracing::Span::current();
        actix_web::web::block(move || span.in_scope(|| db.with_connection(work)))
            .await
            .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// While the database is unreachable, tries a connection every
    /// `interval` (off the async workers) and marks it reachable once one
    /// answers a ping. Runs for as long as the runtime does.
    pub fn probe_while_unreachable(&self, interval: Duration) {
        let db = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if !db.is_unreachable() {
                    continue;
                }
                let probe = db.clone();
                let answered = tokio::task::spawn_blocking(move || probe.probe(interval))
                    .await
                    .unwrap_or(false);
                if answered && db.reachability.regained() {
                    tracing::warn!("database reachable again; serving requests that need it");
                }
            }
        });
    }

    /// One probe: checks out every connection the pool will give within
    /// `wait` (dead ones are dropped, so the pool holds live ones when the
    /// database is back); true when one answered.
    fn probe(&self, wait: Duration) -> bool {
        let mut held = Vec::new();
        let mut answered = false;
        let deadline = Instant::now() + wait;
        while held.len() <= self.pool.max_size() as usize {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(mut conn) = self.pool.get_timeout(left.max(Duration::from_millis(1))) else {
                break;
            };
            if ping(&mut conn).is_ok() {
                answered = true;
                held.push(conn);
            } else {
                circuit::SUSPECT.with(|suspect| suspect.set(true));
                drop(conn);
                circuit::take_suspect();
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        answered
    }
}

#[cfg(test)]
mod tests;

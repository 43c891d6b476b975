//! Failing fast while the database is down. Without this, every request
//! that needs the database waits the pool's whole timeout (seconds) before
//! its 503, so an outage also ties up every worker. Instead, attempts to
//! open a connection that fail [`FAILURES_TO_TRIP`] times in a row (one
//! failure can be a moment's contention, as SQLite's lock while a new pool
//! opens its connections) mark the database unreachable:
//! from then on checkouts fail at once (503 with `Retry-After`), and a
//! background probe ([`Database::probe_while_unreachable`]) tries a
//! connection every probe interval, marking it reachable again as soon as
//! one answers. Requests never probe.
//!
//! Connections that died with the server are dropped from the pool by a
//! check after a failed piece of work (see [`SUSPECT`]), so the pool does
//! not hand out dead connections once the server is back.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use diesel::r2d2::{self, HandleError};

/// Failed connection attempts in a row that mark the database unreachable.
pub const FAILURES_TO_TRIP: u32 = 2;

/// Whether the database is reachable, as the pool last found it.
#[derive(Debug, Default)]
pub struct Reachability {
    unreachable: AtomicBool,
    /// Connection attempts that failed since one last succeeded.
    failures_in_a_row: AtomicU32,
}

impl Reachability {
    /// A connection opened.
    pub fn connected(&self) {
        self.failures_in_a_row.store(0, Ordering::Release);
    }

    /// A connection attempt failed with `error`.
    pub fn connect_failed(&self, error: &dyn std::fmt::Display) {
        if self.failures_in_a_row.fetch_add(1, Ordering::AcqRel) + 1 >= FAILURES_TO_TRIP {
            self.lose(error);
        }
    }

    pub fn is_unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Acquire)
    }

    /// Marks the database unreachable; true when it was reachable until now.
    pub fn lost(&self) -> bool {
        !self.unreachable.swap(true, Ordering::AcqRel)
    }

    /// Marks the database unreachable because of `why`, saying so once.
    pub fn lose(&self, why: &dyn std::fmt::Display) {
        if self.lost() {
            tracing::error!(%why, "database unreachable; requests that need it fail fast until it answers again");
        }
    }

    /// Marks the database reachable; true when it was unreachable until now.
    pub fn regained(&self) -> bool {
        self.unreachable.swap(false, Ordering::AcqRel)
    }
}

/// The pool's error handler: connections that cannot be opened mean the
/// database is out of reach.
#[derive(Debug)]
pub struct TripOnConnectError(pub Arc<Reachability>);

impl HandleError<r2d2::Error> for TripOnConnectError {
    fn handle_error(&self, error: r2d2::Error) {
        let message = error.to_string();
        if says_unreachable(&message) {
            self.0.connect_failed(&message);
        } else {
            // The server answered (too many clients, a refused password):
            // the database is there, and requests on the connections the
            // pool holds still work. Failing them all would be worse.
            tracing::warn!(error = %message, "could not open a database connection");
        }
    }
}

/// Whether a failed connection attempt says the server cannot be reached
/// (libpq's words for a refused, unroutable or timed-out connection, or a
/// server that is shutting down or starting up), rather than that it
/// answered and refused this connection.
fn says_unreachable(message: &str) -> bool {
    const UNREACHABLE: [&str; 10] = [
        "Connection refused",
        "No route to host",
        "Network is unreachable",
        "timeout expired",
        "Connection timed out",
        "could not translate host name",
        "No such file or directory",
        "the database system is shutting down",
        "the database system is starting up",
        "server closed the connection unexpectedly",
    ];
    UNREACHABLE.iter().any(|words| message.contains(words))
}

thread_local! {
    /// Set on the thread that found its pooled connection dead (a failed
    /// piece of work, then a failed ping), read when the connection goes
    /// back to the pool on that same thread (r2d2 asks `has_broken` as the
    /// connection is dropped): the pool then discards it. Neither r2d2 nor
    /// diesel can tell a PostgreSQL connection whose server went away
    /// without a round trip, and a ping before every checkout would add one
    /// to every request.
    pub(super) static SUSPECT: Cell<bool> = const { Cell::new(false) };
}

/// Takes the thread's suspect flag (see [`SUSPECT`]).
pub(super) fn take_suspect() -> bool {
    SUSPECT.with(|suspect| suspect.replace(false))
}

/// Whether `error` says the connection or its server went away, rather
/// than that the statement was wrong: libpq's and PostgreSQL's words for a
/// server shutting down, restarting or gone. The same request may be tried
/// again once the database is back.
pub fn is_connection_loss(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const LOST: [&str; 8] = [
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "connection to server",
        "the database system is shutting down",
        "the database system is starting up",
    ];
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => LOST.iter().any(|lost| info.message().contains(lost)),
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// How long a checkout waits between looks at [`Reachability`]: a request
/// already waiting for a connection gives up this soon after the database
/// is found unreachable.
pub(super) const CHECKOUT_SLICE: Duration = Duration::from_millis(50);

/// Waits for `attempt` to give a connection until `deadline`, in slices,
/// giving up early once the database is unreachable.
pub(super) fn checkout<C>(
    reachability: &Reachability,
    deadline: Instant,
    mut attempt: impl FnMut(Duration) -> Option<C>,
) -> Result<C, CheckoutError> {
    loop {
        if reachability.is_unreachable() {
            return Err(CheckoutError::Unreachable);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(CheckoutError::TimedOut);
        }
        match attempt(left.min(CHECKOUT_SLICE)) {
            Some(conn) => return Ok(conn),
            None => continue,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum CheckoutError {
    Unreachable,
    TimedOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_gives_up_as_soon_as_the_database_is_unreachable() {
        let reachability = Reachability::default();
        let started = Instant::now();
        let mut attempts = 0;
        let outcome: Result<(), _> = checkout(
            &reachability,
            Instant::now() + Duration::from_secs(5),
            |slice| {
                attempts += 1;
                std::thread::sleep(slice);
                if attempts == 3 {
                    reachability.lost();
                }
                None
            },
        );
        assert_eq!(outcome, Err(CheckoutError::Unreachable));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(reachability.regained());
        assert!(!reachability.is_unreachable());
    }

    #[test]
    fn only_a_server_out_of_reach_counts_as_unreachable() {
        for unreachable in [
            "connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            "connection to server at \"10.0.0.9\", port 5432 failed: timeout expired",
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  the database system is shutting down",
        ] {
            assert!(says_unreachable(unreachable), "{unreachable}");
        }
        for answered in [
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  sorry, too many clients already",
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"latchkey\"",
            "database is locked",
        ] {
            assert!(!says_unreachable(answered), "{answered}");
        }
    }

    #[test]
    fn one_failed_connection_is_contention_and_failures_in_a_row_are_an_outage() {
        let reachability = Reachability::default();
        reachability.connect_failed(&"busy");
        reachability.connected();
        reachability.connect_failed(&"busy");
        assert!(!reachability.is_unreachable(), "a success came between");
        reachability.connect_failed(&"refused");
        assert!(reachability.is_unreachable());
    }
}

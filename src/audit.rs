//! Audit events: who logged in, failed to, reused a refresh token, logged
//! out, changed a password; which users were created, deactivated or
//! deleted; when the key set was reloaded. Each event is one structured log
//! line (target `latchkey::audit`, a stable `event` field, the user id, the
//! client address and the session id: never a token, a password or a key),
//! counts in `latchkey_audit_events_total`, and with `audit.store = true`
//! is also a row of the audit table, written in batches off the request
//! path by [`Audit`]'s writer thread and kept for `audit.retention_days`.
//!
//! The client address comes from the request: the request middleware runs
//! each request inside [`Audit::for_client`], so services need not pass it
//! down to every call that may record an event.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use chrono::Utc;

use crate::db::audit::{self as stored, AuditFilter, AuditRow, NewAuditRow};
use crate::db::{Database, DbError};
use crate::metrics::Metrics;

/// What happened. [`Kind::name`] is the stable `event` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    LoginSucceeded,
    LoginFailed,
    RefreshReuseDetected,
    Logout,
    LogoutAll,
    SessionEnded,
    PasswordChanged,
    UserCreated,
    /// Any other change to a user: which fields, never their values.
    UserChanged,
    UserActivated,
    UserDeactivated,
    UserDeleted,
    KeySetReloaded,
    KeySetReloadRefused,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::LoginSucceeded,
        Kind::LoginFailed,
        Kind::RefreshReuseDetected,
        Kind::Logout,
        Kind::LogoutAll,
        Kind::SessionEnded,
        Kind::PasswordChanged,
        Kind::UserCreated,
        Kind::UserChanged,
        Kind::UserActivated,
        Kind::UserDeactivated,
        Kind::UserDeleted,
        Kind::KeySetReloaded,
        Kind::KeySetReloadRefused,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::LoginSucceeded => "login_succeeded",
            Kind::LoginFailed => "login_failed",
            Kind::RefreshReuseDetected => "refresh_reuse_detected",
            Kind::Logout => "logout",
            Kind::LogoutAll => "logout_all",
            Kind::SessionEnded => "session_ended",
            Kind::PasswordChanged => "password_changed",
            Kind::UserCreated => "user_created",
            Kind::UserChanged => "user_changed",
            Kind::UserActivated => "user_activated",
            Kind::UserDeactivated => "user_deactivated",
            Kind::UserDeleted => "user_deleted",
            Kind::KeySetReloaded => "key_set_reloaded",
            Kind::KeySetReloadRefused => "key_set_reload_refused",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// One event. `detail` is a short fixed phrase or a count (why a login
/// failed, who changed a password, how many sessions ended), never input.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub kind: Kind,
    pub user_id: Option<i64>,
    pub session_id: Option<String>,
    pub detail: Option<String>,
    /// The client's address when the caller knows it; else the request's.
    pub client_ip: Option<IpAddr>,
}

impl AuditEvent {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            user_id: None,
            session_id: None,
            detail: None,
            client_ip: None,
        }
    }

    pub fn user(mut self, user_id: i64) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn client(mut self, client_ip: IpAddr) -> Self {
        self.client_ip = Some(client_ip);
        self
    }

    /// Writes the event's log line; returns it as a row to store.
    fn logged(self) -> NewAuditRow {
        let name = self.kind.name();
        tracing::info!(
            target: "latchkey::audit",
            event = name,
            user_id = self.user_id,
            session_id = self.session_id.as_deref(),
            client_ip = self.client_ip.map(tracing::field::display),
            detail = self.detail.as_deref(),
            "audit event"
        );
        NewAuditRow {
            at: Utc::now().naive_utc(),
            event: name.to_owned(),
            user_id: self.user_id,
            session_id: self.session_id,
            client_ip: self.client_ip.map(|ip| ip.to_string()),
            detail: self.detail,
        }
    }
}

tokio::task_local! {
    /// The client address of the request being served.
    static CLIENT_IP: Option<IpAddr>;
}

/// Rows waiting for the writer at most; beyond it events are still logged
/// and counted but not stored (`latchkey_audit_rows_dropped_total`).
const BUFFER: usize = 10_000;
/// Rows per insert at most.
const BATCH: usize = 500;
/// Rows per deleting transaction when old events go.
const RETENTION_BATCH: i64 = 1000;

enum Queued {
    Row(NewAuditRow),
    /// Answered once every row queued before it is stored (or given up on).
    Flush(std::sync::mpsc::Sender<()>),
}

pub struct Audit {
    metrics: Arc<Metrics>,
    db: Database,
    store: Option<SyncSender<Queued>>,
}

impl Audit {
    /// Logs and counts events; with `store`, also stores them in `db`, from
    /// a writer thread of its own.
    pub fn new(metrics: Arc<Metrics>, db: Database, store: bool) -> std::io::Result<Self> {
        let store = match store {
            true => {
                let (queue, pending) = std::sync::mpsc::sync_channel(BUFFER);
                let (writer, counts) = (db.clone(), metrics.clone());
                std::thread::Builder::new()
                    .name("latchkey-audit".to_owned())
                    .spawn(move || write_rows(&writer, &pending, &counts))?;
                Some(queue)
            }
            false => None,
        };
        Ok(Self { metrics, db, store })
    }

    /// The stored events `filter` matches, newest first: `limit` of them
    /// from `offset`, and how many match in all.
    pub async fn stored(
        &self,
        filter: AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AuditRow>, i64), DbError> {
        self.db
            .run(move |conn| stored::page(conn, &filter, limit, offset).map_err(DbError::from))
            .await
    }

    /// Runs `work` (a request) with `client_ip` as the address its events
    /// name.
    pub async fn for_client<F: std::future::Future>(
        client_ip: Option<IpAddr>,
        work: F,
    ) -> F::Output {
        CLIENT_IP.scope(client_ip, work).await
    }

    pub fn record(&self, mut event: AuditEvent) {
        event.client_ip = event
            .client_ip
            .or_else(|| CLIENT_IP.try_with(|ip| *ip).ok().flatten());
        Metrics::count(&self.metrics.audit_events, "event", event.kind.name());
        let row = event.logged();
        let Some(store) = &self.store else { return };
        if store.try_send(Queued::Row(row)).is_err() && self.metrics.audit_rows_dropped.inc() == 0 {
            tracing::error!(
                "the audit table's write buffer is full (or its writer stopped); events are logged but not stored"
            );
        }
    }

    /// Waits up to `wait` until every event recorded so far is stored (at
    /// shutdown).
    pub fn flush(&self, wait: Duration) {
        let Some(store) = &self.store else { return };
        let deadline = std::time::Instant::now() + wait;
        let (done, stored) = std::sync::mpsc::channel();
        let mut flush = Queued::Flush(done);
        // The queue may be full: its writer may be waiting for the database.
        loop {
            match store.try_send(flush) {
                Ok(()) => break,
                Err(TrySendError::Full(again)) if std::time::Instant::now() < deadline => {
                    flush = again;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => {
                    tracing::warn!("audit events still unstored at shutdown");
                    return;
                }
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if stored.recv_timeout(left).is_err() {
            tracing::warn!("audit events still unstored at shutdown");
        }
    }
}

/// The writer thread: stores rows in batches. While the database is away
/// it keeps the batch (rows beyond the buffer are dropped, and counted) and
/// tries again every second; a row the table refuses is dropped, and
/// counted, so it never holds the others back.
fn write_rows(db: &Database, pending: &Receiver<Queued>, metrics: &Metrics) {
    let mut batch: Vec<NewAuditRow> = Vec::new();
    let mut flushes = Vec::new();
    let mut failing = false;
    loop {
        let wait = if batch.is_empty() {
            Duration::from_secs(3600)
        } else {
            Duration::from_secs(1)
        };
        match pending.recv_timeout(wait) {
            Ok(Queued::Row(row)) => batch.push(row),
            Ok(Queued::Flush(done)) => flushes.push(done),
            Err(RecvTimeoutError::Timeout) => {}
            // Every sender is gone: store what is left, then stop.
            Err(RecvTimeoutError::Disconnected) => {
                store(db, &mut batch, metrics, &mut failing);
                return;
            }
        }
        while batch.len() < BATCH {
            match pending.try_recv() {
                Ok(Queued::Row(row)) => batch.push(row),
                Ok(Queued::Flush(done)) => flushes.push(done),
                Err(_) => break,
            }
        }
        if !store(db, &mut batch, metrics, &mut failing) {
            // The database is away: rows wait in the queue meanwhile.
            std::thread::sleep(Duration::from_secs(1));
        }
        if batch.is_empty() {
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

/// Stores `batch`; false when the database is away (the batch is kept,
/// its oldest rows beyond the buffer dropped).
fn store(
    db: &Database,
    batch: &mut Vec<NewAuditRow>,
    metrics: &Metrics,
    failing: &mut bool,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let stored = db.with_connection(|conn| stored::insert(conn, batch).map_err(DbError::from));
    match stored {
        Ok(_) => {
            batch.clear();
            if std::mem::take(failing) {
                tracing::warn!("audit events are stored again");
            }
            true
        }
        Err(error) if is_unavailable(&error) => {
            if !std::mem::replace(failing, true) {
                tracing::warn!(%error, rows = batch.len(), "could not store audit events; they wait and are tried again every second");
            }
            if batch.len() > BUFFER {
                let excess = batch.len() - BUFFER;
                batch.drain(..excess);
                metrics.audit_rows_dropped.inc_by(excess as u64);
            }
            false
        }
        // The table refused a row: each is stored alone, and what it
        // refuses is dropped.
        Err(error) => {
            tracing::error!(%error, "the audit table refused a batch; storing its rows one by one");
            for row in batch.drain(..) {
                let one = db.with_connection(|conn| {
                    stored::insert(conn, std::slice::from_ref(&row)).map_err(DbError::from)
                });
                if one.is_err() {
                    metrics.audit_rows_dropped.inc();
                }
            }
            true
        }
    }
}

fn is_unavailable(error: &DbError) -> bool {
    match error {
        DbError::Unavailable(_) => true,
        DbError::Query(error) => crate::db::circuit::is_connection_loss(error),
        DbError::Task(_) => false,
    }
}

/// Records `event` from a command (`latchkey users ...`), which has no
/// server to hand it to: the log line, and the row at once when
/// `audit.store` is on. A row that cannot be written is reported as the
/// command's error (the change itself is made by then, and stands).
pub fn record_from_command(
    settings: &crate::settings::Settings,
    conn: &mut crate::db::DbConnection,
    event: AuditEvent,
) -> anyhow::Result<()> {
    let row = event.logged();
    if settings.audit.store {
        stored::insert(conn, &[row])?;
    }
    Ok(())
}

/// Deletes stored events older than `retention`, every hour.
pub fn spawn_retention(db: Database, retention: chrono::Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(3600));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let cutoff = Utc::now().naive_utc() - retention;
            match db
                .run(move |conn| {
                    stored::delete_older_than(conn, cutoff, RETENTION_BATCH).map_err(DbError::from)
                })
                .await
            {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "audit events past their retention deleted"),
                Err(error) => tracing::warn!(%error, "could not delete old audit events"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn openapi_lists_every_event_name_in_order() {
        let spec = include_str!("../openapi.yaml");
        let line = spec
            .lines()
            .find(|line| line.trim_start().starts_with("enum: [login_succeeded"))
            .expect("AuditEventName's enum");
        let listed: Vec<&str> = line
            .trim()
            .trim_start_matches("enum: [")
            .trim_end_matches(']')
            .split(", ")
            .collect();
        let names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
        assert_eq!(listed, names);
        for name in names {
            assert_eq!(Kind::from_name(name).map(Kind::name), Some(name));
        }
    }
}

//! Storage-level tests, each on a database of its own: a SQLite file, or a
//! fresh schema of `TEST_DATABASE_URL` (PostgreSQL) when it is set, dropped
//! at the end.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::{Connection, RunQueryDsl};

use super::refresh_tokens::{self, NewRefreshToken, Refresh, Refreshed};
use super::sessions::{self, NewSession};
use super::{DatabaseUrl, Pool, build_pool, run_migrations, users};
use crate::tokens::Stamp;

struct TestDb {
    pool: Pool,
    /// The PostgreSQL base URL and schema to drop.
    schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, schema) = match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
        {
            None => (
                DatabaseUrl::sqlite_file(&dir.path().join("db.sqlite3")),
                None,
            ),
            Some(base) => {
                let separator = if base.contains('?') { '&' } else { '?' };
                let base = if base.contains("sslmode=") {
                    base
                } else {
                    format!("{base}{separator}sslmode=disable")
                };
                let schema = format!("unit_{}", uuid::Uuid::new_v4().simple());
                let mut admin = diesel::PgConnection::establish(&base).expect("PostgreSQL");
                diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                    .execute(&mut admin)
                    .expect("schema");
                let url = format!("{base}&options=-csearch_path%3D{schema}");
                (
                    DatabaseUrl::parse(&url).expect("a PostgreSQL URL"),
                    Some((base, schema)),
                )
            }
        };
        let pool = build_pool(&url, 2, Duration::from_secs(5)).expect("pool");
        run_migrations(&mut pool.get().expect("connection")).expect("migrated");
        Self {
            pool,
            schema,
            _dir: dir,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema
            && let Ok(mut admin) = diesel::PgConnection::establish(base)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut admin);
        }
    }
}

fn stamp(jti: &str, issued_at: NaiveDateTime) -> Stamp {
    Stamp {
        jti: jti.to_owned(),
        issued_at,
        expires_at: issued_at + chrono::Duration::days(1),
    }
}

/// Concurrent requests read the clock in one order and reach the database in
/// another: a loser's `now` can be earlier than the winner's `rotated_at`.
/// Without a grace window that is still reuse, never a replay of the child.
#[test]
fn without_grace_a_loser_whose_clock_read_came_first_is_still_reuse() {
    let db = TestDb::new();
    let conn = &mut *db.pool.get().expect("connection");
    let now = chrono::Utc::now().naive_utc();
    let user = users::create(conn, "alice", "!", true, now).expect("user");
    sessions::create(
        conn,
        &NewSession {
            id: "s1".to_owned(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + chrono::Duration::days(14),
            client_ip: None,
            user_agent: None,
        },
    )
    .expect("session");
    refresh_tokens::record(
        conn,
        &NewRefreshToken::new(&stamp("parent", now), user.id, "s1", None),
    )
    .expect("parent");
    let request = |child: Option<Stamp>| Refresh {
        parent_jti: "parent".to_owned(),
        claimed_user: Some(user.id),
        child,
        retire_parent: true,
        require_active_user: true,
        adopt: None,
        grace: chrono::Duration::zero(),
    };
    let winner =
        refresh_tokens::refresh(conn, &request(Some(stamp("child", now))), now).expect("refresh");
    assert!(matches!(winner, Refreshed::Rotated { .. }), "{winner:?}");

    let earlier = now - chrono::Duration::seconds(2);
    let outcome = refresh_tokens::refresh(conn, &request(None), earlier).expect("refresh");
    assert!(
        matches!(outcome, Refreshed::ReuseDetected { .. }),
        "{outcome:?}"
    );
}

#[test]
fn audit_events_past_their_retention_go_in_batches_and_the_rest_stay() {
    use super::audit::{self, AuditFilter, NewAuditRow};
    let db = TestDb::new();
    let mut conn = db.pool.get().expect("connection");
    let now = chrono::Utc::now().naive_utc();
    let row = |days_ago: i64| NewAuditRow {
        at: now - chrono::Duration::days(days_ago),
        event: "login_failed".to_owned(),
        user_id: Some(1),
        session_id: None,
        client_ip: Some("203.0.113.1".to_owned()),
        detail: None,
    };
    let rows = [row(100), row(95), row(91), row(1)];
    assert_eq!(audit::insert(&mut conn, &rows).expect("stored"), 4);
    let cutoff = now - chrono::Duration::days(90);
    assert_eq!(
        audit::delete_older_than(&mut conn, cutoff, 2).expect("deleted"),
        3
    );
    let (left, count) = audit::page(&mut conn, &AuditFilter::default(), 10, 0).expect("read");
    assert_eq!(count, 1);
    assert!(
        (left[0].at - rows[3].at).num_seconds().abs() < 1,
        "the recent one stays"
    );
}

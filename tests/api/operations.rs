//! What operators see: Prometheus metrics after a scripted session, audit
//! events (logged, stored, listed by the admin API and the CLI), metrics
//! on their own listener, and the health check command.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    self, TestApp, latchkey, latchkey_with, series, spawn_app, spawn_app_with, text,
};

async fn scrape(app: &TestApp) -> String {
    helpers::scrape(&app.client, &app.address).await
}

fn count(metrics: &str, name: &str) -> f64 {
    series(metrics, name).unwrap_or_else(|| panic!("{name} is not exposed:\n{metrics}"))
}

#[tokio::test]
async fn metrics_count_a_scripted_session_series_by_series() {
    let app = spawn_app_with(|s| s.sessions.reuse_grace_seconds = 0).await;
    let alice = app.create_user("alice", "correct horse").await;

    // Two logins, two failures, one refresh, one reuse, one logout.
    let first = app.obtain_pair(&alice).await;
    assert_eq!(app.obtain("alice", "wrong").await.status(), 401);
    assert_eq!(app.obtain("nobody", "wrong").await.status(), 401);
    assert_eq!(app.verify(&first.access).await.status(), 200);
    assert_eq!(app.verify(&first.access).await.status(), 200);
    let rotated = app.refresh_pair(&first.refresh).await;
    assert_eq!(app.refresh(&first.refresh).await.status(), 401, "reuse");
    let second = app.obtain_pair(&alice).await;
    assert_eq!(app.blacklist(&second.refresh).await.status(), 200);
    // A path no route takes, and one with an id in it.
    assert_eq!(
        app.client
            .get(app.url("/no/such/path-4f1c"))
            .send()
            .await
            .expect("sent")
            .status(),
        404
    );
    let deleted = app
        .client
        .delete(app.url("/api/sessions/session-id-7d2e/"))
        .bearer_auth(&rotated.access)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 401, "the session ended by the reuse");

    let metrics = scrape(&app).await;
    let expect = [
        ("latchkey_logins_total{outcome=\"succeeded\"}", 2.0),
        ("latchkey_logins_total{outcome=\"failed\"}", 2.0),
        ("latchkey_tokens_issued_total{token_type=\"access\"}", 3.0),
        ("latchkey_tokens_issued_total{token_type=\"refresh\"}", 3.0),
        ("latchkey_refreshes_total{outcome=\"rotated\"}", 1.0),
        ("latchkey_refreshes_total{outcome=\"refused\"}", 1.0),
        ("latchkey_refresh_reuse_detected_total", 1.0),
        (
            "latchkey_sessions_ended_total{reason=\"reuse_detected\"}",
            1.0,
        ),
        ("latchkey_sessions_ended_total{reason=\"logout\"}", 1.0),
        ("latchkey_verified_token_cache_total{result=\"miss\"}", 2.0),
        ("latchkey_verified_token_cache_total{result=\"hit\"}", 1.0),
        (
            "latchkey_audit_events_total{event=\"login_succeeded\"}",
            2.0,
        ),
        ("latchkey_audit_events_total{event=\"login_failed\"}", 2.0),
        (
            "latchkey_audit_events_total{event=\"refresh_reuse_detected\"}",
            1.0,
        ),
        ("latchkey_audit_events_total{event=\"logout\"}", 1.0),
        (
            "latchkey_http_requests_total{route=\"/api/token/\",method=\"POST\",status=\"2xx\"}",
            2.0,
        ),
        (
            "latchkey_http_requests_total{route=\"/api/token/\",method=\"POST\",status=\"4xx\"}",
            2.0,
        ),
        (
            "latchkey_http_requests_total{route=\"/api/token/refresh/\",method=\"POST\",status=\"4xx\"}",
            1.0,
        ),
        (
            "latchkey_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"4xx\"}",
            1.0,
        ),
        (
            "latchkey_http_requests_total{route=\"/api/sessions/{id}/\",method=\"DELETE\",status=\"4xx\"}",
            1.0,
        ),
        (
            "latchkey_http_request_duration_seconds_count{route=\"/api/token/\"}",
            4.0,
        ),
        ("latchkey_key_set_version", 1.0),
        ("latchkey_password_hashes_running", 0.0),
        ("latchkey_password_hashes_waiting", 0.0),
        ("latchkey_database_unreachable", 0.0),
        ("latchkey_revoked_sessions", 2.0),
    ];
    for (series, expected) in expect {
        assert_eq!(count(&metrics, series), expected, "{series}");
    }
    // The pool, the feed and the user directory are there, whatever their values.
    for series in [
        "latchkey_database_connections{state=\"in_use\"}",
        "latchkey_database_connections{state=\"idle\"}",
        "latchkey_change_feed_lag_seconds",
        "latchkey_cached_users",
        "latchkey_database_connection_wait_seconds_count",
        "latchkey_password_hashes_refused_total",
        "latchkey_database_fast_failures_total",
    ] {
        count(&metrics, series);
    }
    assert!(count(&metrics, "latchkey_change_feed_lag_seconds") < 5.0);
    // Bounded labels: no raw path, id, username or token.
    for leaked in ["path-4f1c", "session-id-7d2e", "alice", &first.access[..20]] {
        assert!(
            !metrics
                .lines()
                .filter(|line| !line.starts_with('#'))
                .any(|line| line.contains(&format!("\"{leaked}"))),
            "{leaked} appears in a label"
        );
    }
}

#[tokio::test]
async fn metrics_on_their_own_listener_are_not_served_with_the_api() {
    let app = spawn_app_with(|s| s.metrics.bind = "127.0.0.1:0".to_owned()).await;
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("sent")
            .status(),
        404
    );
    let own = app.metrics_address.clone().expect("a metrics listener");
    let response = app
        .client
        .get(format!("{own}/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .expect("text")
            .contains("latchkey_key_set_version 1")
    );
    // Nothing of the API is served there.
    let api = app
        .client
        .post(format!("{own}/api/token/"))
        .json(&json!({"username": "a", "password": "b"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(api.status(), 404);

    let off = spawn_app_with(|s| s.metrics.enabled = false).await;
    let response = off
        .client
        .get(off.url("/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({"detail": "Not found."})
    );
}

/// The stored audit events, once `expected` of them are stored (the
/// writer stores them off the request path).
async fn stored_events(app: &TestApp, query: &str, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page: Value = app
            .admin(Method::GET, &format!("/api/admin/audit/{query}"))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        let results = page["results"].as_array().expect("results").clone();
        if results.len() >= expected || Instant::now() > deadline {
            return results;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn audit_events_are_stored_with_who_when_and_where_and_listed() {
    let app = spawn_app_with(|s| s.audit.store = true).await;
    let created = app
        .admin_create(&json!({"username": "alice", "password": "A long passphrase 1"}))
        .await;
    let alice_id = created["id"].as_i64().expect("an id");
    let login = app.obtain("alice", "A long passphrase 1").await;
    assert_eq!(login.status(), 200);
    assert_eq!(app.obtain("alice", "not her password").await.status(), 401);
    assert_eq!(app.obtain("mallory", "a guess").await.status(), 401);
    let changed = app
        .admin(Method::PATCH, &format!("/api/admin/users/{alice_id}/"))
        .json(&json!({"password": "Another passphrase 2", "is_active": false}))
        .send()
        .await
        .expect("sent");
    assert_eq!(changed.status(), 200);
    let deleted = app
        .admin(Method::DELETE, &format!("/api/admin/users/{alice_id}/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 204);

    let events = stored_events(&app, "", 7).await;
    let names: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().expect("a name"))
        .collect();
    // Newest first.
    assert_eq!(
        names,
        [
            "user_deleted",
            "user_deactivated",
            "password_changed",
            "login_failed",
            "login_failed",
            "login_succeeded",
            "user_created",
        ]
    );
    let succeeded = &events[5];
    assert_eq!(succeeded["user_id"], alice_id);
    assert_eq!(succeeded["client_ip"], "127.0.0.1");
    assert!(
        succeeded["session_id"]
            .as_str()
            .is_some_and(|sid| !sid.is_empty())
    );
    assert_eq!(events[4]["user_id"], alice_id);
    assert_eq!(events[4]["detail"], "wrong_password");
    assert_eq!(events[3]["user_id"], Value::Null);
    assert_eq!(events[3]["detail"], "unknown_user");
    let everything = serde_json::to_string(&events).expect("json");
    for secret in [
        "A long passphrase 1",
        "not her password",
        "a guess",
        "mallory",
    ] {
        assert!(!everything.contains(secret), "{secret} was stored");
    }

    // Filters and pagination, as the users list has them.
    let failed = stored_events(&app, "?event=login_failed", 2).await;
    assert_eq!(failed.len(), 2);
    let hers = stored_events(&app, &format!("?user_id={alice_id}&limit=2"), 2).await;
    assert_eq!(hers.len(), 2);
    let page: Value = app
        .admin(
            Method::GET,
            &format!("/api/admin/audit/?user_id={alice_id}&limit=2"),
        )
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(page["count"], 6, "all but the unknown user's failure");
    assert!(
        page["next"]
            .as_str()
            .is_some_and(|next| next.contains("offset=2"))
    );
    let future = stored_events(&app, "?since=2999-01-01T00:00:00Z", 0).await;
    assert!(future.is_empty());
    let bad = app
        .admin(
            Method::GET,
            "/api/admin/audit/?event=nonsense&user_id=x&since=yesterday",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);
    let problems: Value = bad.json().await.expect("json");
    for field in ["event", "user_id", "since"] {
        assert!(problems.get(field).is_some(), "{problems}");
    }
    let anonymous = app
        .client
        .get(app.url("/api/admin/audit/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), 401);

    // The CLI reads the same table.
    let bob = app
        .admin_create(&json!({"username": "bob", "password": "Bob's passphrase 3"}))
        .await;
    assert!(bob["id"].is_i64());
    assert_eq!(app.obtain("bob", "wrong one").await.status(), 401);
    stored_events(&app, "?event=login_failed", 3).await;
    let output = latchkey(
        &app.database_url(),
        &[
            "audit",
            "--user",
            "bob",
            "--event",
            "login_failed",
            "--since",
            "1h",
        ],
        "",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["user_id"], bob["id"]);
    assert_eq!(lines[0]["detail"], "wrong_password");
    // Changes made with the CLI are audited too.
    let store = [("LATCHKEY_AUDIT__STORE", "true")];
    let deactivated = latchkey_with(
        &app.database_url(),
        &store,
        &["users", "deactivate", "bob"],
        "",
    );
    assert!(
        deactivated.status.success(),
        "{}",
        text(&deactivated.stderr)
    );
    let listed = latchkey(
        &app.database_url(),
        &["audit", "--event", "user_deactivated"],
        "",
    );
    let lines: Vec<Value> = text(&listed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["user_id"], bob["id"]);
    assert_eq!(lines[0]["detail"], "cli");
    let unknown = latchkey(&app.database_url(), &["audit", "--event", "nonsense"], "");
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("login_failed"));
}

#[tokio::test]
async fn without_the_store_events_are_counted_but_none_is_stored() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "pw").await;
    app.obtain_pair(&alice).await;
    let metrics = scrape(&app).await;
    assert_eq!(
        count(
            &metrics,
            "latchkey_audit_events_total{event=\"login_succeeded\"}"
        ),
        1.0
    );
    let page: Value = app
        .admin(Method::GET, "/api/admin/audit/")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(page["count"], 0);
}

#[tokio::test]
async fn the_healthcheck_command_exits_zero_only_for_a_ready_server() {
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let url = app.database_url();
    // The server runs on this test's runtime: the command waits elsewhere.
    let ready = tokio::task::spawn_blocking(move || {
        latchkey(&url, &["healthcheck", "--address", &address], "")
    })
    .await
    .expect("ran");
    assert!(ready.status.success(), "{}", text(&ready.stderr));
    assert_eq!(text(&ready.stdout).trim(), "ready");

    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let nobody = closed.local_addr().expect("address").to_string();
    drop(closed);
    let down = latchkey(
        &app.database_url(),
        &["healthcheck", "--address", &nobody],
        "",
    );
    assert!(!down.status.success());
    assert!(text(&down.stderr).contains("cannot connect"));
}

//! Regression tests for the security review's findings about sessions that
//! really end (1, 4 and 9): a login racing a change to its user, and tokens
//! of no session voided with the user's mark. Each is named after its
//! finding and reproduces the attack, on SQLite and PostgreSQL. The other
//! findings are in `security.rs`.

use std::time::Duration;

use latchkey::db::{sessions, users};
use serde_json::json;

use crate::helpers::{
    TestApp, TestUser, assert_response, now, password_hash, sign, spawn_app, spawn_app_with,
    within_sync_interval,
};

// Finding 1: a login racing a password change or deactivation.

/// A stored hash this slow keeps a login hashing for about half a second
/// (the app's own count is 1,000), a window the change lands in for sure.
const SLOW_ITERATIONS: u32 = 5_000_000;

/// Starts a login for `alice`, lets `change` commit while it is hashing,
/// and returns the login's answer.
async fn login_racing(
    app: &TestApp,
    password: &str,
    change: impl FnOnce(&mut latchkey::db::DbConnection) + Send + 'static,
) -> reqwest::Response {
    let request = app
        .client
        .post(app.url("/api/token/"))
        .json(&json!({"username": "alice", "password": password}));
    let login = tokio::spawn(async move { request.send().await.expect("sent") });
    // The user row is read within milliseconds; the hash takes hundreds.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!login.is_finished(), "the login should still be hashing");
    app.with_db(change).await;
    assert!(
        !login.is_finished(),
        "the change landed while the login was hashing"
    );
    login.await.expect("login task")
}

async fn live_sessions(app: &TestApp, user_id: i64) -> usize {
    app.with_db(move |conn| {
        sessions::live_for_user(conn, user_id, chrono::Utc::now().naive_utc())
            .expect("query")
            .len()
    })
    .await
}

#[tokio::test]
async fn finding_1_a_login_racing_a_password_change_loses_and_cannot_undo_it() {
    let app = spawn_app().await;
    // Its iteration count differs from the configured one, so a successful
    // login would also write back a rehash of the password it checked.
    let user_id = app
        .create_user_with_hash("alice", password_hash(SLOW_ITERATIONS, "old password"))
        .await;

    let new_hash = password_hash(1000, "new password");
    let response = login_racing(&app, "old password", move |conn| {
        assert!(users::set_password(conn, "alice", &new_hash).expect("changed"));
    })
    .await;
    assert_response(
        response,
        401,
        json!({"detail": "No active account found with the given credentials"}),
    )
    .await;
    assert_eq!(
        live_sessions(&app, user_id).await,
        0,
        "no session was written"
    );
    assert_eq!(app.obtain("alice", "old password").await.status(), 401);
    assert_eq!(app.obtain("alice", "new password").await.status(), 200);
}

#[tokio::test]
async fn finding_1_a_login_racing_a_deactivation_loses() {
    let app = spawn_app().await;
    let user_id = app
        .create_user_with_hash("alice", password_hash(SLOW_ITERATIONS, "pw"))
        .await;

    let response = login_racing(&app, "pw", |conn| {
        assert!(users::set_active(conn, "alice", false).expect("deactivated"));
    })
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        live_sessions(&app, user_id).await,
        0,
        "no session was written"
    );
}

#[tokio::test]
async fn finding_1_a_login_that_wins_the_race_is_ended_by_the_change() {
    // The other order: the login commits first, then the change revokes the
    // session it wrote, and the upgraded hash does not outlive the change.
    let app = spawn_app().await;
    let user_id = app
        .create_user_with_hash("alice", password_hash(20_000, "old password"))
        .await;
    let pair = app
        .obtain_pair(&TestUser {
            id: user_id,
            username: "alice".into(),
            password: "old password".into(),
        })
        .await;
    let new_hash = password_hash(1000, "new password");
    app.with_db(move |conn| users::set_password(conn, "alice", &new_hash).expect("changed"))
        .await;
    assert_eq!(app.refresh(&pair.refresh).await.status(), 401);
    assert_eq!(live_sessions(&app, user_id).await, 0);
    assert_eq!(app.obtain("alice", "old password").await.status(), 401);
    assert_eq!(app.obtain("alice", "new password").await.status(), 200);
}

// Findings 4 and 9: "sessions really end" reaches tokens of no session too.

/// A token as the Simple JWT deployment being replaced issued it: the shared
/// key, no `kid`, no `sid`.
fn legacy(token_type: &str, user_id: i64, issued_at: i64) -> String {
    let jti = match token_type {
        "refresh" => "5b0e6e1c9d5a4a0f8f7d0c1b2a394857",
        _ => "6c1f7f2dae6b5b1f9f8e1d2c3b4a5968",
    };
    sign(&json!({
        "token_type": token_type,
        "exp": issued_at + 3600,
        "iat": issued_at,
        "jti": jti,
        "user_id": user_id.to_string(),
    }))
}

async fn migrating_app() -> TestApp {
    spawn_app_with(|s| {
        s.jwt.adopt_unknown_refresh_tokens = true;
        s.introspection.clients = vec![latchkey::settings::ClientSettings {
            id: "gateway".into(),
            secret: "gateway-secret-of-at-least-32-characters".into(),
        }];
    })
    .await
}

async fn introspection_active(app: &TestApp, token: &str) -> bool {
    let response = app
        .client
        .post(app.url("/api/token/introspect/"))
        .basic_auth("gateway", Some("gateway-secret-of-at-least-32-characters"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    body["active"].as_bool().expect("active")
}

/// Asserts every path refuses a sessionless refresh and access token pair.
async fn assert_void(app: &TestApp, refresh: &str, access: &str) {
    assert_response(
        app.refresh(refresh).await,
        401,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
    assert_response(
        app.verify(refresh).await,
        400,
        json!({"non_field_errors": ["Token is blacklisted"]}),
    )
    .await;
    assert_response(
        app.verify(access).await,
        401,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
    assert_eq!(app.me(access).await.status(), 401);
    assert!(!introspection_active(app, access).await);
    assert!(!introspection_active(app, refresh).await);
}

type Change = fn(&mut latchkey::db::DbConnection);

#[tokio::test]
async fn finding_4_tokens_of_no_session_die_with_a_password_change_or_deactivation() {
    let changes: [(&str, Change); 2] = [
        ("set-password", |conn| {
            users::set_password(conn, "alice", &password_hash(1000, "new")).expect("changed");
        }),
        ("deactivate, then activate", |conn| {
            users::set_active(conn, "alice", false).expect("deactivated");
            users::set_active(conn, "alice", true).expect("activated");
        }),
    ];
    for (name, change) in changes {
        let app = migrating_app().await;
        let alice = app.create_user("alice", "pw").await;
        let issued = now() - 60;
        let refresh = legacy("refresh", alice.id, issued);
        let access = legacy("access", alice.id, issued);
        // Before the change both work: migration mode takes the refresh token.
        assert_eq!(app.verify(&refresh).await.status(), 200, "{name}");
        assert_eq!(app.me(&access).await.status(), 200, "{name}");

        app.with_db(change).await;
        within_sync_interval(&app, || async { app.me(&access).await.status() == 401 }).await;
        assert_void(&app, &refresh, &access).await;
    }
}

#[tokio::test]
async fn finding_4_logout_everywhere_voids_tokens_of_no_session_even_of_that_second() {
    let app = migrating_app().await;
    let alice = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&alice).await;
    // Issued this very second: `iat` has whole seconds, and a sessionless
    // token of the mark's second counts as before it.
    let refresh = legacy("refresh", alice.id, now());
    let access = legacy("access", alice.id, now());

    assert_response(app.logout_all(&pair.access).await, 200, json!({})).await;
    // Enforced on this instance at once.
    assert_void(&app, &refresh, &access).await;

    // A login right after, in the same second, is unaffected: its tokens
    // belong to a session that began after the mark.
    let again = app.obtain_pair(&alice).await;
    assert_eq!(app.me(&again.access).await.status(), 200);
    assert_eq!(app.verify(&again.access).await.status(), 200);
    assert_eq!(app.refresh(&again.refresh).await.status(), 200);
}

#[tokio::test]
async fn finding_4_a_flushed_adopted_session_cannot_be_adopted_again() {
    let app = spawn_app_with(|s| {
        s.jwt.adopt_unknown_refresh_tokens = true;
        s.sessions.reuse_grace_seconds = 0;
    })
    .await;
    let alice = app.create_user("alice", "pw").await;
    let refresh = legacy("refresh", alice.id, now() - 60);
    let response = app.refresh(&refresh).await;
    assert_eq!(response.status(), 200, "adopted");
    let child: serde_json::Value = response.json().await.expect("json");
    assert_response(
        app.blacklist(child["refresh"].as_str().expect("refresh"))
            .await,
        200,
        json!({}),
    )
    .await;

    // The session reaches its end (here: moved into the past) and cleanup runs;
    // the legacy token's own `exp` is still an hour away.
    let user_id = alice.id;
    app.with_db(move |conn| {
        use diesel::prelude::*;
        use latchkey::db::schema::token_families;
        diesel::update(token_families::table.filter(token_families::user_id.eq(user_id)))
            .set(
                token_families::expires_at
                    .eq(chrono::Utc::now().naive_utc() - chrono::Duration::hours(1)),
            )
            .execute(conn)
            .expect("moved");
        latchkey::db::flush_expired(
            conn,
            chrono::Utc::now().naive_utc(),
            chrono::Duration::zero(),
        )
        .expect("flushed");
    })
    .await;

    assert_response(
        app.refresh(&refresh).await,
        401,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
}

#[tokio::test]
async fn finding_9_deleting_a_user_ends_their_access_tokens_everywhere() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&alice).await;
    let sessionless = legacy("access", alice.id, now() - 60);
    assert_eq!(app.verify(&pair.access).await.status(), 200);
    assert_eq!(app.verify(&sessionless).await.status(), 200);

    app.delete_user("alice").await;
    within_sync_interval(&app, || async {
        app.verify(&pair.access).await.status() == 401
    })
    .await;
    assert_response(
        app.verify(&pair.access).await,
        401,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
    assert_response(
        app.verify(&sessionless).await,
        401,
        json!({"detail": "Token is invalid", "code": "token_not_valid"}),
    )
    .await;
    assert_eq!(app.me(&pair.access).await.status(), 401);
    assert_response(
        app.verify(&pair.refresh).await,
        400,
        json!({"non_field_errors": ["Token is blacklisted"]}),
    )
    .await;
}

#[tokio::test]
async fn finding_1_two_logins_upgrading_the_same_hash_both_succeed() {
    // An imported user's first logins, from two devices at once: both check
    // the old hash, the first writes its upgrade, the second must not take
    // that for a password change.
    let app = spawn_app().await;
    app.create_user_with_hash("alice", password_hash(SLOW_ITERATIONS, "pw"))
        .await;
    let logins = (0..2).map(|_| app.obtain("alice", "pw"));
    for response in futures_util::future::join_all(logins).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(app.obtain("alice", "pw").await.status(), 200);
}

#[tokio::test]
async fn finding_4_an_adoption_racing_a_password_change_waits_for_it_and_is_refused() {
    use diesel::prelude::*;
    use latchkey::db::schema::users as table;
    let app = migrating_app().await;
    let alice = app.create_user("alice", "pw").await;
    let refresh = legacy("refresh", alice.id, now() - 60);

    // A password change in progress: it holds the user's row (its first
    // statement, as `users::set_password` does) and has not committed yet.
    let (locked, is_locked) = tokio::sync::oneshot::channel();
    let (commit, may_commit) = std::sync::mpsc::channel::<()>();
    let pool = app.state.db.pool().clone();
    let user_id = alice.id;
    let change = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().expect("connection");
        latchkey::db::write_transaction(&mut conn, |conn| {
            diesel::update(table::table.find(user_id))
                .set(table::username.eq(table::username))
                .execute(conn)?;
            locked.send(()).expect("test waits");
            may_commit.recv().expect("test says when");
            diesel::update(table::table.find(user_id))
                .set((
                    table::password.eq(password_hash(1000, "new")),
                    table::tokens_valid_after.eq(chrono::Utc::now().naive_utc()),
                ))
                .execute(conn)
                .map(drop)
        })
        .expect("changed");
    });
    is_locked.await.expect("locked");

    // The old token's first use arrives meanwhile: it must wait for the
    // change instead of reading the user as it was.
    let request = app
        .client
        .post(app.url("/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }));
    let adoption = tokio::spawn(async move { request.send().await.expect("sent") });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !adoption.is_finished(),
        "the adoption waits for the user's row"
    );
    commit.send(()).expect("committed");
    change.await.expect("change task");

    assert_response(
        adoption.await.expect("adoption task"),
        401,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    )
    .await;
}

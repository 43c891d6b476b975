//! Regression tests for the findings of the external security review, one (or
//! more) per finding, each named after it and reproducing the attack. They run
//! on SQLite and, with `TEST_DATABASE_URL`, on PostgreSQL.

use std::time::Duration;

use latchkey::db::{sessions, users};
use latchkey::passwords::{Password, PasswordHasher};
use serde_json::json;

use crate::helpers::{
    TestApp, TestUser, assert_response, claims_of, now, sign, spawn_app, spawn_app_with,
    within_sync_interval,
};

// Finding 10: RFC gaps.

#[tokio::test]
async fn finding_10_a_token_with_an_audience_is_refused_when_none_is_configured() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let mut claims = claims_of(&pair.access);
    claims["aud"] = json!("another-service");
    let foreign_access = sign(&claims);
    let mut claims = claims_of(&pair.refresh);
    claims["aud"] = json!(["another-service"]);
    let foreign_refresh = sign(&claims);

    let invalid = json!({"detail": "Token is invalid", "code": "token_not_valid"});
    for token in [&foreign_access, &foreign_refresh] {
        let response = app.verify(token).await;
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.json::<serde_json::Value>().await.expect("json"),
            invalid
        );
    }
    let response = app.refresh(&foreign_refresh).await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.me(&foreign_access).await.status(), 401);
    // The same claims without `aud` are fine: only the audience was refused.
    assert_eq!(app.me(&pair.access).await.status(), 200);
}

#[tokio::test]
async fn finding_10_an_audience_is_required_and_matched_when_configured() {
    let app = spawn_app_with(|s| s.jwt.audience = "latchkey-tests".to_owned()).await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    assert_eq!(claims_of(&pair.access)["aud"], "latchkey-tests");
    assert_eq!(app.verify(&pair.access).await.status(), 200);
    let mut claims = claims_of(&pair.access);
    claims["aud"] = json!("another-service");
    assert_eq!(app.verify(&sign(&claims)).await.status(), 401);
}

fn challenge(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test]
async fn finding_10_a_refused_bearer_token_is_challenged_with_invalid_token() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let mut claims = claims_of(&pair.access);
    claims["exp"] = json!(now() - 10);
    let expired = sign(&claims);

    let invalid_token = r#"Bearer realm="api", error="invalid_token""#;
    for token in ["garbage", expired.as_str(), pair.refresh.as_str()] {
        let response = app.me(token).await;
        assert_eq!(response.status(), 401);
        assert_eq!(challenge(&response).as_deref(), Some(invalid_token));
    }
    // No credentials at all: the bare challenge, no error code.
    let response = app.me_with_header(None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenge(&response).as_deref(),
        Some(r#"Bearer realm="api""#)
    );
    // A token sent in a body (refresh, verify) is not a Bearer credential.
    let response = app.verify("garbage").await;
    assert_eq!(
        challenge(&response).as_deref(),
        Some(r#"Bearer realm="api""#)
    );
}

// Finding 7: the SQLite database holds password hashes.

#[cfg(unix)]
#[tokio::test]
async fn finding_7_the_sqlite_database_and_its_directory_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let database = data.join("latchkey.sqlite3");
    let url = format!("sqlite://{}", database.display());
    let app = spawn_app_with(|s| s.database.url = url).await;
    // Writes make SQLite create its -wal and -shm files.
    let user = app.create_user("alice", "pw").await;
    app.obtain_pair(&user).await;

    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data), 0o700, "data directory");
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", database.display()));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    // A database left readable by an older version is narrowed at start.
    drop(app);
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let url = format!("sqlite://{}", database.display());
    let _app = spawn_app_with(|s| s.database.url = url).await;
    assert_eq!(mode(&database), 0o600);
}

// Finding 1: a login racing a password change or deactivation.

/// A stored hash this slow keeps a login hashing for about half a second
/// (the app's own count is 1,000), a window the change lands in for sure.
const SLOW_ITERATIONS: u32 = 5_000_000;

fn hash(iterations: u32, password: &str) -> String {
    PasswordHasher::new(iterations).hash(&Password::new(password.to_owned()))
}

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
        .create_user_with_hash("alice", hash(SLOW_ITERATIONS, "old password"))
        .await;

    let new_hash = hash(1000, "new password");
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
        .create_user_with_hash("alice", hash(SLOW_ITERATIONS, "pw"))
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
        .create_user_with_hash("alice", hash(20_000, "old password"))
        .await;
    let pair = app
        .obtain_pair(&TestUser {
            id: user_id,
            username: "alice".into(),
            password: "old password".into(),
        })
        .await;
    let new_hash = hash(1000, "new password");
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
            users::set_password(conn, "alice", &hash(1000, "new")).expect("changed");
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

// Finding 2: simultaneous guesses must not out-race the failure limits.

/// Sends `count` wrong logins for `username` at once, each from `client`
/// (through the trusted proxy), and counts the answers by status.
async fn simultaneous_guesses(
    app: &TestApp,
    username: &str,
    client: &str,
    count: usize,
) -> std::collections::BTreeMap<u16, usize> {
    let guesses = (0..count).map(|n| {
        app.client
            .post(app.url("/api/token/"))
            .header("x-forwarded-for", client)
            .json(&json!({"username": username, "password": format!("guess {n}")}))
            .send()
    });
    let mut statuses = std::collections::BTreeMap::new();
    for response in futures_util::future::join_all(guesses).await {
        *statuses
            .entry(response.expect("sent").status().as_u16())
            .or_default() += 1;
    }
    statuses
}

#[tokio::test]
async fn finding_2_simultaneous_wrong_logins_cannot_out_race_the_failure_limits() {
    let app = spawn_app_with(|s| {
        s.throttle.trusted_proxies = vec!["127.0.0.1/32".parse().expect("network")];
        s.throttle.login_failures = latchkey::settings::RateSettings {
            per_minute: 20,
            burst: 5,
        };
        s.throttle.account_failures = latchkey::settings::RateSettings {
            per_minute: 10,
            burst: 10,
        };
        // Every guess gets a hashing slot: only the limits may refuse.
        s.throttle.max_concurrent_hashes = 64;
        s.throttle.hash_wait_ms = 60_000;
    })
    .await;
    // A slow hash keeps the first guesses hashing while the rest arrive.
    app.create_user_with_hash("alice", hash(400_000, "right password"))
        .await;
    app.create_user_with_hash("bob", hash(400_000, "right password"))
        .await;

    // Forty at once from one address: at most the burst is hashed (401).
    let statuses = simultaneous_guesses(&app, "alice", "198.51.100.1", 40).await;
    assert_eq!(statuses.get(&401).copied().unwrap_or(0), 5, "{statuses:?}");
    assert_eq!(statuses.get(&429).copied(), Some(35), "{statuses:?}");

    // Bob's account is drained by ten addresses; a fresh address then gets one
    // guess on it, however many it sends at once.
    for n in 1..=10 {
        let statuses = simultaneous_guesses(&app, "bob", &format!("203.0.113.{n}"), 1).await;
        assert_eq!(statuses.get(&401), Some(&1));
    }
    let statuses = simultaneous_guesses(&app, "bob", "192.0.2.77", 40).await;
    assert_eq!(statuses.get(&401).copied().unwrap_or(0), 1, "{statuses:?}");

    // The owner, from a clean address, still logs in; a right password gives
    // back what it reserved, so it can do so again and again.
    for _ in 0..3 {
        let response = app
            .client
            .post(app.url("/api/token/"))
            .header("x-forwarded-for", "192.0.2.200")
            .json(&json!({"username": "bob", "password": "right password"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
    }
}

// Finding 3: discovery documents built from forged forwarding headers.

async fn discovery(app: &TestApp, headers: &[(&str, &str)]) -> (String, serde_json::Value) {
    let mut request = app.client.get(app.url("/.well-known/openid-configuration"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let cache_control = response.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .to_owned();
    (cache_control, response.json().await.expect("json"))
}

const FORGED: [(&str, &str); 3] = [
    ("x-forwarded-host", "evil.example"),
    ("x-forwarded-proto", "https"),
    ("forwarded", "host=evil.example;proto=https"),
];

#[tokio::test]
async fn finding_3_discovery_ignores_forwarding_headers_from_untrusted_peers() {
    let app = spawn_app().await;
    let (cache_control, document) = discovery(&app, &FORGED).await;
    for url in [
        "issuer",
        "jwks_uri",
        "token_endpoint",
        "introspection_endpoint",
    ] {
        let url = document[url].as_str().expect(url);
        assert!(url.starts_with(&app.address), "{url}");
    }
    // Built from the request: for this caller only, never a shared cache.
    assert_eq!(cache_control, "no-store");
}

#[tokio::test]
async fn finding_3_discovery_believes_a_trusted_proxy_and_is_still_not_cached() {
    let app = spawn_app_with(|s| {
        s.throttle.trusted_proxies = vec!["127.0.0.1/32".parse().expect("network")]
    })
    .await;
    let (cache_control, document) = discovery(
        &app,
        &[
            ("x-forwarded-host", "auth.example.com"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(
        document["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    assert_eq!(cache_control, "no-store");
}

#[tokio::test]
async fn finding_3_a_configured_public_url_wins_and_may_be_cached() {
    let app = spawn_app_with(|s| s.server.public_url = "https://auth.example.com".into()).await;
    let (cache_control, document) = discovery(&app, &FORGED).await;
    assert_eq!(document["issuer"], "https://auth.example.com");
    assert_eq!(
        document["introspection_endpoint"],
        "https://auth.example.com/api/token/introspect/"
    );
    assert_eq!(cache_control, "public, max-age=300");
}

// Finding 5: slow bodies and connection floods.

/// Opens a raw connection to the app.
async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    let address = app.address.trim_start_matches("http://");
    tokio::net::TcpStream::connect(address)
        .await
        .expect("connected")
}

/// Reads until the connection closes (or 10 s pass): what the server sent.
async fn read_to_close(mut reader: impl tokio::io::AsyncRead + Unpin) -> String {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut received)).await;
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn finding_5_a_trickling_body_gets_408_within_the_deadline() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|s| s.server.body_timeout_ms = 1000).await;
    let (reader, mut writer) = connect(&app).await.into_split();
    writer
        .write_all(
            b"POST /api/token/ HTTP/1.1\r\nHost: latchkey\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .await
        .expect("headers sent");
    let started = std::time::Instant::now();
    // One byte every 200 ms: always something arriving, never the whole body.
    let trickle = tokio::spawn(async move {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let answer = read_to_close(reader).await;
    let elapsed = started.elapsed();
    trickle.abort();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#"{"detail":"The request body did not arrive in time."}"#),
        "{answer}"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "answered and closed after {elapsed:?}"
    );
}

#[tokio::test]
async fn finding_5_one_address_cannot_hold_more_than_its_connections() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|s| s.server.max_connections_per_address = 3).await;
    // Three connections held open by one client (here: idle after connecting).
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&app).await);
    }
    let peer = std::net::IpAddr::from([127, 0, 0, 1]);
    within_sync_interval(&app, || async {
        app.state.connections.open_from(peer) == 3
    })
    .await;
    // A fourth is answered 429 and closed, whatever it asks.
    let mut fourth = connect(&app).await;
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: latchkey\r\n\r\n")
        .await
        .expect("sent");
    let answer = read_to_close(fourth).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );

    // Closing one frees its slot.
    held.pop();
    within_sync_interval(&app, || async {
        app.state.connections.open_from(peer) == 2
    })
    .await;
    let response = reqwest::Client::new()
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn finding_1_two_logins_upgrading_the_same_hash_both_succeed() {
    // An imported user's first logins, from two devices at once: both check
    // the old hash, the first writes its upgrade, the second must not take
    // that for a password change.
    let app = spawn_app().await;
    app.create_user_with_hash("alice", hash(SLOW_ITERATIONS, "pw"))
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
                    table::password.eq(hash(1000, "new")),
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

//! Regression tests for the findings of the external security review, one (or
//! more) per finding, each named after it and reproducing the attack. They run
//! on SQLite and, with `TEST_DATABASE_URL`, on PostgreSQL.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    TestApp, claims_of, now, password_hash, sign, spawn_app, spawn_app_with, within_sync_interval,
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
    let app = spawn_app_with(|s| s.database.url = Some(url.parse().expect("a database URL"))).await;
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
    let _app =
        spawn_app_with(|s| s.database.url = Some(url.parse().expect("a database URL"))).await;
    assert_eq!(mode(&database), 0o600);
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
        // Ten failures, given back at one a minute: nothing refills while
        // the test runs, however slowly a loaded machine hashes.
        s.throttle.account_failures = latchkey::settings::RateSettings {
            per_minute: 1,
            burst: 10,
        };
        // Every guess gets a hashing slot: only the limits may refuse.
        s.throttle.max_concurrent_hashes = 64;
        s.throttle.hash_wait_ms = 60_000;
    })
    .await;
    // A slow hash keeps the first guesses hashing while the rest arrive.
    app.create_user_with_hash("alice", password_hash(400_000, "right password"))
        .await;
    app.create_user_with_hash("bob", password_hash(400_000, "right password"))
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

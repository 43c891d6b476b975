//! latchkey as its own process, signalled as an operator signals it:
//! SIGHUP swaps the key set under load with no failed request (and a bad
//! key configuration is refused while the old set serves on), SIGTERM
//! lets every request sent before it finish, and a full scripted run's log
//! holds none of the passwords, tokens or secrets it used.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{SECRET, ServerProcess, TestDatabase, latchkey_with, scrape, text};

const PASSWORD: &str = "a long passphrase 1";

/// A fresh database, and a data directory with a configuration directory
/// in it.
struct Setup {
    dir: tempfile::TempDir,
    database: TestDatabase,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("config")).expect("config dir");
        let database = TestDatabase::create(dir.path());
        Self { dir, database }
    }

    fn config_dir(&self) -> String {
        self.dir.path().join("config").display().to_string()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LATCHKEY_CONFIG_DIR", self.config_dir()),
            ("LATCHKEY_DATA_DIR", self.dir.path().display().to_string()),
            ("LATCHKEY_DATABASE__URL", self.database.url.clone()),
            // The load comes from one address, far past the login limits.
            (
                "LATCHKEY_THROTTLE__LOGIN_ATTEMPTS__PER_MINUTE",
                "0".to_owned(),
            ),
            (
                "LATCHKEY_THROTTLE__LOGIN_FAILURES__PER_MINUTE",
                "0".to_owned(),
            ),
            (
                "LATCHKEY_THROTTLE__ACCOUNT_FAILURES__PER_MINUTE",
                "0".to_owned(),
            ),
            ("LATCHKEY_THROTTLE__REFRESH__PER_MINUTE", "0".to_owned()),
        ]
    }

    fn start(&self, more: &[(&str, &str)]) -> ServerProcess {
        let env = self.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(more);
        ServerProcess::start(&all)
    }

    /// `latchkey ARGS` with this setup's configuration.
    fn latchkey(&self, args: &[&str], stdin: &str) -> String {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = latchkey_with(&self.database.url, &env, args, stdin);
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    }

    /// A new EdDSA key file; returns its kid and path.
    fn generate_key(&self, name: &str) -> (String, String) {
        let path = self.dir.path().join(format!("{name}.pem"));
        let out = self.latchkey(
            &[
                "keys",
                "generate",
                "--alg",
                "EdDSA",
                "--out",
                &path.display().to_string(),
            ],
            "",
        );
        let kid = out
            .lines()
            .find_map(|line| line.strip_prefix("kid: "))
            .expect("a kid line")
            .to_owned();
        (kid, path.display().to_string())
    }

    fn write_keys(&self, signing: &str, keys: &[&(String, String)]) {
        let mut toml = format!("[jwt]\nsigning_kid = \"{signing}\"\n");
        for (kid, path) in keys {
            toml.push_str(&format!(
                "\n[[jwt.keys]]\nkid = \"{kid}\"\nalgorithm = \"EdDSA\"\nfile = \"{path}\"\n"
            ));
        }
        write(&self.dir.path().join("config/development.toml"), &toml);
    }
}

fn write(path: &Path, contents: &str) {
    // Written whole, then renamed: a reload never reads half a file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, contents).expect("written");
    std::fs::rename(&partial, path).expect("renamed");
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("a header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64")).expect("json");
    header["kid"].as_str().unwrap_or_default().to_owned()
}

async fn login(client: &reqwest::Client, server: &str) -> Result<Value, String> {
    let response = client
        .post(format!("{server}/api/token/"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .map_err(|e| format!("login: {e}"))?;
    match response.status().as_u16() {
        200 => response.json().await.map_err(|e| e.to_string()),
        status => Err(format!(
            "login: {status} {}",
            response.text().await.unwrap_or_default()
        )),
    }
}

async fn expect_ok(request: reqwest::RequestBuilder, what: &str) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    match response.status().as_u16() {
        200 => response.json().await.map_err(|e| e.to_string()),
        status => Err(format!(
            "{what}: {status} {}",
            response.text().await.unwrap_or_default()
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rotates_keys_under_load_with_no_failed_request() {
    let setup = Setup::new();
    let first = setup.generate_key("first");
    let second = setup.generate_key("second");
    setup.write_keys(&first.0, &[&first]);
    setup.latchkey(&["users", "create", "alice", "--password-stdin"], PASSWORD);
    let server = setup.start(&[]);
    let client = reqwest::Client::new();
    let address = server.address.clone();
    let old = login(&client, &address).await.expect("a login");
    let old_access = old["access"].as_str().expect("access").to_owned();
    assert_eq!(kid_of(&old_access), first.0);

    // Load: log in, verify, refresh, read the profile, over and over.
    let running = Arc::new(AtomicBool::new(true));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (client, address) = (client.clone(), address.clone());
        let (running, failures, done) = (running.clone(), failures.clone(), done.clone());
        load.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let round = async {
                    let pair = login(&client, &address).await?;
                    let verify = client
                        .post(format!("{address}/api/token/verify/"))
                        .json(&json!({"token": pair["access"]}));
                    expect_ok(verify, "verify").await?;
                    let refresh = client
                        .post(format!("{address}/api/token/refresh/"))
                        .json(&json!({"refresh": pair["refresh"]}));
                    let refreshed = expect_ok(refresh, "refresh").await?;
                    let me = client
                        .get(format!("{address}/api/me/"))
                        .bearer_auth(refreshed["access"].as_str().unwrap_or_default());
                    expect_ok(me, "me").await?;
                    Ok::<_, String>(())
                };
                match round.await {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(failure) => failures.lock().expect("lock").push(failure),
                }
            }
        }));
    }
    let jwks_kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|key| key["kid"].as_str().expect("kid").to_owned())
            .collect()
    };
    let jwks = || async {
        client
            .get(format!("{address}/.well-known/jwks.json"))
            .send()
            .await
            .expect("sent")
            .json::<Value>()
            .await
            .expect("json")
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 1. Publish the second key, verify-only.
    setup.write_keys(&first.0, &[&first, &second]);
    server.signal("HUP");
    server.wait_for_log("version 2;", Duration::from_secs(10));
    assert_eq!(jwks_kids(jwks().await), [first.0.clone(), second.0.clone()]);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 2. Sign with it.
    setup.write_keys(&second.0, &[&first, &second]);
    server.signal("HUP");
    server.wait_for_log("version 3;", Duration::from_secs(10));
    let new = login(&client, &address).await.expect("a login");
    assert_eq!(kid_of(new["access"].as_str().expect("access")), second.0);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 3. A broken configuration is refused; the key set in use stays.
    write(
        &setup.dir.path().join("config/development.toml"),
        "[jwt]\nsigning_kid = \"gone\"\n[[jwt.keys]]\nkid = \"gone\"\nalgorithm = \"EdDSA\"\nfile = \"/nonexistent/key.pem\"\n",
    );
    server.signal("HUP");
    server.wait_for_log("key_set_reload_refused", Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(300)).await;

    running.store(false, Ordering::Relaxed);
    for task in load {
        task.await.expect("a load task");
    }
    let failures = failures.lock().expect("lock").clone();
    let rounds = done.load(Ordering::Relaxed);
    eprintln!("{rounds} rounds of login, verify, refresh and /api/me/ across three reloads");
    assert!(failures.is_empty(), "failed under reload: {failures:?}");
    assert!(rounds > 10, "the load ran ({rounds} rounds)");

    let after = login(&client, &address).await.expect("still serving");
    assert_eq!(kid_of(after["access"].as_str().expect("access")), second.0);
    let verify_old = client
        .post(format!("{address}/api/token/verify/"))
        .json(&json!({"token": old_access}))
        .send()
        .await
        .expect("sent");
    assert_eq!(verify_old.status(), 200, "the first key still verifies");
    let metrics = scrape(&client, &address).await;
    assert!(
        metrics.contains("latchkey_key_set_version 3\n"),
        "{metrics}"
    );
    assert!(metrics.contains("latchkey_key_set_reloads_total{outcome=\"reloaded\"} 2\n"));
    assert!(metrics.contains("latchkey_key_set_reloads_total{outcome=\"refused\"} 1\n"));

    // 4. Retire the first key: its tokens stop verifying at once.
    setup.write_keys(&second.0, &[&second]);
    server.signal("HUP");
    server.wait_for_log("version 4;", Duration::from_secs(10));
    let verify_old = client
        .post(format!("{address}/api/token/verify/"))
        .json(&json!({"token": old_access}))
        .send()
        .await
        .expect("sent");
    assert_eq!(verify_old.status(), 401, "a retired key verifies nothing");
    assert_eq!(jwks_kids(jwks().await), std::slice::from_ref(&second.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_every_request_sent_before_it_finish() {
    let setup = Setup::new();
    // Logins long enough to be in flight when the signal comes.
    let slow = [
        ("LATCHKEY_PASSWORDS__ITERATIONS", "300000"),
        // A slot for each client, so no login waits its way to a 503.
        ("LATCHKEY_THROTTLE__MAX_CONCURRENT_HASHES", "6"),
        ("LATCHKEY_THROTTLE__HASH_WAIT_MS", "30000"),
    ];
    let env = setup.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(&slow);
    let created = latchkey_with(
        &setup.database.url,
        &all,
        &["users", "create", "alice", "--password-stdin"],
        PASSWORD,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let mut server = setup.start(&slow);
    let address = server.address.clone();

    struct Sent {
        at: Instant,
        answered: Instant,
        outcome: Result<u16, String>,
    }
    let signalled = Arc::new(Mutex::new(None::<Instant>));
    let sent = Arc::new(Mutex::new(Vec::<Sent>::new()));
    let mut load = Vec::new();
    for _ in 0..6 {
        let (address, signalled, sent) = (address.clone(), signalled.clone(), sent.clone());
        load.push(tokio::spawn(async move {
            // One connection per task, open before the load starts.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("a client");
            client
                .get(format!("{address}/healthz"))
                .send()
                .await
                .expect("warm-up");
            loop {
                let at = Instant::now();
                let outcome = client
                    .post(format!("{address}/api/token/"))
                    .json(&json!({"username": "alice", "password": PASSWORD}))
                    .send()
                    .await
                    .map(|response| response.status().as_u16())
                    .map_err(|error| error.to_string());
                let failed = outcome.is_err();
                sent.lock().expect("lock").push(Sent {
                    at,
                    answered: Instant::now(),
                    outcome,
                });
                let after_signal = signalled
                    .lock()
                    .expect("lock")
                    .is_some_and(|signal| signal + Duration::from_secs(2) < Instant::now());
                if failed || after_signal {
                    return;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    *signalled.lock().expect("lock") = Some(Instant::now());
    server.signal("TERM");
    let status = tokio::task::block_in_place(|| server.wait(Duration::from_secs(40)));
    for task in load {
        task.await.expect("a load task");
    }
    assert!(status.success(), "exit status {status:?}");
    let signal = signalled.lock().expect("lock").expect("signalled");
    let sent = sent.lock().expect("lock");
    let before: Vec<&Sent> = sent.iter().filter(|request| request.at < signal).collect();
    let in_flight = before
        .iter()
        .filter(|request| request.answered > signal)
        .count();
    eprintln!(
        "{} requests sent before SIGTERM, {in_flight} of them in flight when it came; {} after",
        before.len(),
        sent.len() - before.len()
    );
    assert!(in_flight > 0, "no request was in flight at the signal");
    for request in before {
        assert_eq!(
            request.outcome,
            Ok(200),
            "a request sent {:?} before SIGTERM",
            signal - request.at
        );
    }
    assert!(
        server
            .log()
            .iter()
            .any(|line| line.contains("latchkey stopped: requests in flight finished")),
        "{:#?}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_logs_no_password_token_or_secret() {
    const ADMIN_SECRET: &str = "admin-secret-that-is-long-enough-0123";
    const INTROSPECTION_SECRET: &str = "introspection-secret-long-enough-4567";
    const PASSWORDS: [&str; 5] = [
        "first Passphrase 4242",
        "wrong Passphrase 1313",
        "second Passphrase 5757",
        "signup Passphrase 8686",
        "admin Passphrase 9191",
    ];
    let setup = Setup::new();
    let admin_clients = format!(r#"[{{"id":"backend","secret":"{ADMIN_SECRET}"}}]"#);
    let introspection_clients =
        format!(r#"[{{"id":"gateway","secret":"{INTROSPECTION_SECRET}"}}]"#);
    let mut server = setup.start(&[
        ("LATCHKEY_JWT__SIGNING_KEY", SECRET),
        ("LATCHKEY_ADMIN__CLIENTS", &admin_clients),
        ("LATCHKEY_INTROSPECTION__CLIENTS", &introspection_clients),
        ("LATCHKEY_SIGNUP__ENABLED", "true"),
        ("LATCHKEY_AUDIT__STORE", "true"),
        ("LATCHKEY_SESSIONS__REUSE_GRACE_SECONDS", "0"),
        ("LATCHKEY_LOG__FILTER", "debug"),
    ]);
    let address = server.address.clone();
    let client = reqwest::Client::new();
    let mut tokens: Vec<String> = Vec::new();
    let post = |path: &str, body: Value| client.post(format!("{address}{path}")).json(&body).send();
    let admin = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{address}{path}"))
            .basic_auth("backend", Some(ADMIN_SECRET))
    };

    let created: Value = admin(reqwest::Method::POST, "/api/admin/users/")
        .json(&json!({"username": "alice", "password": PASSWORDS[0]}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let alice = created["id"].as_i64().expect("an id");
    let pair: Value = post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORDS[0]}),
    )
    .await
    .expect("sent")
    .json()
    .await
    .expect("json");
    let wrong = post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORDS[1]}),
    )
    .await
    .expect("sent");
    assert_eq!(wrong.status(), 401);
    let refreshed: Value = post("/api/token/refresh/", json!({"refresh": pair["refresh"]}))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let access = refreshed["access"].as_str().expect("access").to_owned();
    assert_eq!(
        post("/api/token/refresh/", json!({"refresh": pair["refresh"]}))
            .await
            .expect("sent")
            .status(),
        401,
        "reuse"
    );
    assert_eq!(
        post("/api/token/verify/", json!({"token": access}))
            .await
            .expect("sent")
            .status(),
        401,
        "the reused session ended"
    );
    let relogin: Value = post(
        "/api/token/",
        json!({"username": "alice", "password": PASSWORDS[0]}),
    )
    .await
    .expect("sent")
    .json()
    .await
    .expect("json");
    let live = relogin["access"].as_str().expect("access").to_owned();
    for check in [
        post("/api/token/verify/", json!({"token": live})).await,
        client
            .get(format!("{address}/api/me/"))
            .bearer_auth(&live)
            .send()
            .await,
        client
            .post(format!("{address}/api/token/introspect/"))
            .basic_auth("gateway", Some(INTROSPECTION_SECRET))
            .form(&[("token", live.as_str())])
            .send()
            .await,
    ] {
        assert_eq!(check.expect("sent").status(), 200);
    }
    let changed = client
        .post(format!("{address}/api/password/change/"))
        .bearer_auth(&live)
        .json(&json!({"old_password": PASSWORDS[0], "new_password1": PASSWORDS[2], "new_password2": PASSWORDS[2]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        changed.status(),
        200,
        "{}",
        changed.text().await.unwrap_or_default()
    );
    let signed_up: Value = post(
        "/api/register/",
        json!({"username": "bob", "password1": PASSWORDS[3], "password2": PASSWORDS[3]}),
    )
    .await
    .expect("sent")
    .json()
    .await
    .expect("json");
    let bob_access = signed_up["access"].as_str().expect("access").to_owned();
    assert_eq!(
        post(
            "/api/token/blacklist/",
            json!({"refresh": relogin["refresh"]})
        )
        .await
        .expect("sent")
        .status(),
        200
    );
    let logout_all = client
        .post(format!("{address}/api/token/logout-all/"))
        .bearer_auth(&bob_access)
        .send()
        .await
        .expect("sent");
    assert_eq!(logout_all.status(), 200);
    let patched = admin(
        reqwest::Method::PATCH,
        &format!("/api/admin/users/{alice}/"),
    )
    .json(&json!({"password": PASSWORDS[4], "is_active": false}))
    .send()
    .await
    .expect("sent");
    assert_eq!(patched.status(), 200);
    let deleted = admin(
        reqwest::Method::DELETE,
        &format!("/api/admin/users/{alice}/"),
    )
    .send()
    .await
    .expect("sent");
    assert_eq!(deleted.status(), 204);
    server.signal("HUP");
    server.wait_for_log("key_set_reloaded", Duration::from_secs(10));
    for value in [&pair, &refreshed, &relogin, &signed_up] {
        for name in ["access", "refresh"] {
            if let Some(token) = value[name].as_str() {
                tokens.push(token.to_owned());
            }
        }
    }
    assert!(tokens.len() >= 7);
    server.signal("TERM");
    let status = tokio::task::block_in_place(|| server.wait(Duration::from_secs(40)));
    assert!(status.success());

    let log = server.log();
    assert!(log.len() > 20, "the run was logged: {log:#?}");
    for event in [
        "login_succeeded",
        "login_failed",
        "refresh_reuse_detected",
        "password_changed",
        "user_created",
        "logout",
        "logout_all",
        "user_deactivated",
        "user_deleted",
        "key_set_reloaded",
    ] {
        assert!(
            log.iter()
                .any(|line| line.contains("latchkey::audit") && line.contains(event)),
            "no audit line for {event}"
        );
    }
    let mut secrets: Vec<String> = PASSWORDS.iter().map(|p| (*p).to_owned()).collect();
    secrets.extend([SECRET, ADMIN_SECRET, INTROSPECTION_SECRET].map(str::to_owned));
    for token in &tokens {
        secrets.push(token.clone());
        // The signature alone would do as much harm as the token.
        secrets.push(token.rsplit('.').next().expect("a signature").to_owned());
        secrets.push(token.split('.').nth(1).expect("a payload").to_owned());
    }
    // What a Basic header carries.
    secrets
        .push(base64::engine::general_purpose::STANDARD.encode(format!("backend:{ADMIN_SECRET}")));
    for line in &log {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "the log holds a secret: {line}"
            );
        }
    }
}

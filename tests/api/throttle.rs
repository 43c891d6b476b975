//! Login abuse protection: per-address and per-account limits, the trusted
//! proxy rule for the client address, the refresh limit, and the cap on
//! password hashes running at once.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// Three failures per address, then 429.
fn tight(settings: &mut latchkey::settings::Settings) {
    settings.throttle.login_failures = latchkey::settings::RateSettings {
        per_minute: 6,
        burst: 3,
    };
}

async fn login_from(
    app: &TestApp,
    forwarded_for: Option<&str>,
    password: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/token/"))
        .json(&json!({"username": "alice", "password": password}));
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.expect("sent")
}

/// Asserts a 429 with DRF's body and a `Retry-After` that matches it.
async fn assert_throttled(response: reqwest::Response) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = response.json().await.expect("JSON");
    let unit = if retry_after == 1 {
        "second"
    } else {
        "seconds"
    };
    assert_eq!(
        body,
        json!({"detail": format!("Request was throttled. Expected available in {retry_after} {unit}.")})
    );
}

#[tokio::test]
async fn failed_logins_from_one_address_are_limited() {
    let app = spawn_app_with(tight).await;
    app.create_user("alice", "right").await;
    for _ in 0..3 {
        assert_eq!(login_from(&app, None, "wrong").await.status(), 401);
    }
    assert_throttled(login_from(&app, None, "wrong").await).await;
    // The limit is on the address: the right password waits too.
    assert_throttled(login_from(&app, None, "right").await).await;
    // Other endpoints are not affected.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("sent")
            .status(),
        200
    );
}

#[tokio::test]
async fn without_trusted_proxies_a_forged_forwarding_header_changes_nothing() {
    let app = spawn_app_with(tight).await;
    app.create_user("alice", "right").await;
    for n in 0..3 {
        let forged = format!("198.51.100.{n}");
        assert_eq!(login_from(&app, Some(&forged), "wrong").await.status(), 401);
    }
    assert_throttled(login_from(&app, Some("198.51.100.99"), "right").await).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let app = spawn_app_with(|s| {
        tight(s);
        s.throttle.trusted_proxies = vec!["127.0.0.0/8".parse().expect("network")];
    })
    .await;
    app.create_user("alice", "right").await;
    for _ in 0..3 {
        let response = login_from(&app, Some("203.0.113.7"), "wrong").await;
        assert_eq!(response.status(), 401);
    }
    assert_throttled(login_from(&app, Some("203.0.113.7"), "wrong").await).await;
    // What the client itself wrote in front of the proxy's entry is ignored.
    assert_throttled(login_from(&app, Some("6.6.6.6, 203.0.113.7"), "right").await).await;
    // Another client behind the same proxy is unaffected.
    let other = login_from(&app, Some("203.0.113.8"), "right").await;
    assert_eq!(other.status(), 200);
    // IPv6 clients share a budget per /64.
    for n in 1..=3 {
        let address = format!("2001:db8:1:2::{n}");
        assert_eq!(
            login_from(&app, Some(&address), "wrong").await.status(),
            401
        );
    }
    assert_throttled(login_from(&app, Some("2001:db8:1:2:ffff::1"), "right").await).await;
    assert_eq!(
        login_from(&app, Some("2001:db8:1:3::1"), "right")
            .await
            .status(),
        200
    );

    // The session records the resolved address.
    let pair: Value = login_from(&app, Some("203.0.113.9"), "right")
        .await
        .json()
        .await
        .expect("JSON");
    let sessions: Vec<Value> = app
        .client
        .get(app.url("/api/sessions/"))
        .bearer_auth(pair["access"].as_str().expect("access"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    let current = sessions
        .iter()
        .find(|session| session["current"] == true)
        .expect("the current session");
    assert_eq!(current["client_ip"], "203.0.113.9");
}

#[tokio::test]
async fn an_account_under_a_spread_out_guess_slows_it_but_lets_its_owner_in() {
    let app = spawn_app_with(|s| {
        s.throttle.trusted_proxies = vec!["127.0.0.1/32".parse().expect("network")];
        s.throttle.account_failures = latchkey::settings::RateSettings {
            per_minute: 3,
            burst: 3,
        };
    })
    .await;
    app.create_user("alice", "right").await;
    // Twenty addresses guess once each: each first guess is answered.
    for n in 1..=20 {
        let address = format!("198.51.100.{n}");
        assert_eq!(
            login_from(&app, Some(&address), "wrong").await.status(),
            401
        );
    }
    // The account is over its budget: a second guess from any of them waits,
    // and so does a differently cased username.
    for n in 1..=20 {
        let address = format!("198.51.100.{n}");
        assert_throttled(login_from(&app, Some(&address), "wrong").await).await;
    }
    let cased = app
        .client
        .post(app.url("/api/token/"))
        .header("x-forwarded-for", "198.51.100.1")
        .json(&json!({"username": "ALICE", "password": "guess"}))
        .send()
        .await
        .expect("sent");
    assert_throttled(cased).await;
    // The owner, from an address that has not failed on the account, logs in.
    assert_eq!(
        login_from(&app, Some("203.0.113.50"), "right")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn refresh_has_its_own_limit() {
    let app = spawn_app_with(|s| {
        s.throttle.refresh = latchkey::settings::RateSettings {
            per_minute: 6,
            burst: 2,
        };
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    let mut refresh = app.obtain_pair(&user).await.refresh;
    for _ in 0..2 {
        let response = app.refresh(&refresh).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("JSON");
        refresh = body["refresh"].as_str().expect("refresh").to_owned();
    }
    assert_throttled(app.refresh(&refresh).await).await;
    // Logins have their own budget.
    assert_eq!(
        app.obtain(&user.username, &user.password).await.status(),
        200
    );
}

#[tokio::test]
async fn hashing_beyond_its_slots_answers_503_and_other_endpoints_keep_answering() {
    let app = spawn_app_with(|s| {
        s.throttle.max_concurrent_hashes = 1;
        s.throttle.hash_wait_ms = 20;
        s.throttle.login_attempts.per_minute = 0;
        // Each hash takes long enough for the others to queue behind it.
        s.passwords.iterations = 600_000;
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let logins: Vec<_> = (0..6)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url("/api/token/"));
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&json!({"username": "alice", "password": "pw"}))
                    .send()
                    .await
                    .expect("sent")
            })
        })
        .collect();
    let me = app.me(&pair.access).await;
    assert_eq!(me.status(), 200, "Bearer calls answer during the flood");
    let mut statuses = Vec::new();
    for login in logins {
        let response = login.await.expect("task");
        let status = response.status().as_u16();
        if status == 503 {
            assert_eq!(response.headers()["retry-after"], "1");
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(
                body,
                json!({"detail": "Too many logins at once; try again shortly."})
            );
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
}

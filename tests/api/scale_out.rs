//! Several instances, one set of limits: three latchkey processes on one
//! PostgreSQL and one Redis (a Redis server of the test's own, which it
//! stops and starts), requests spread round-robin. The failed-login budgets
//! of an address and of an account hold across the three; a refresh race
//! spread over them has one winner; a logout-all through one is enforced by
//! the others; with Redis stopped, logins go on under each instance's own
//! limits, and shared limits come back with Redis.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{
    RedisServer, SECRET, ServerProcess, TestDatabase, count_rows, latchkey_with, scrape, series,
    text,
};

const PASSWORD: &str = "a long passphrase 1";

struct Cluster {
    instances: Vec<ServerProcess>,
    client: reqwest::Client,
    next: std::sync::atomic::AtomicUsize,
}

impl Cluster {
    /// The next instance, round-robin.
    fn next(&self) -> &str {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.instances[n % self.instances.len()].address
    }

    /// A login from `address` (as a trusted proxy forwards it) through the
    /// next instance: the status, and `Retry-After` if any.
    async fn login(&self, address: &str, username: &str, password: &str) -> (u16, Option<String>) {
        self.login_at(self.next(), address, username, password)
            .await
    }

    async fn login_at(
        &self,
        instance: &str,
        address: &str,
        username: &str,
        password: &str,
    ) -> (u16, Option<String>) {
        let response = self
            .client
            .post(format!("{instance}/api/token/"))
            .header("X-Forwarded-For", address)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("sent");
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().expect("ascii").to_owned());
        (response.status().as_u16(), retry_after)
    }

    async fn metric(&self, instance: &str, name: &str) -> f64 {
        let metrics = scrape(&self.client, instance).await;
        series(&metrics, name).unwrap_or_else(|| panic!("{name} missing"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_set_of_limits_through_redis() {
    let database = TestDatabase::postgres();
    let mut redis = RedisServer::start();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let store = redis.url();
    let env = [
        ("LATCHKEY_DATABASE__URL", database.url.as_str()),
        ("LATCHKEY_JWT__SIGNING_KEY", SECRET),
        ("LATCHKEY_THROTTLE__STORE", store.as_str()),
        // The test's requests come from 127.0.0.1, a proxy forwarding for
        // the addresses it names.
        ("LATCHKEY_THROTTLE__TRUSTED_PROXIES", "127.0.0.1/32"),
        // Budgets that do not refill during the test.
        ("LATCHKEY_THROTTLE__LOGIN_FAILURES__PER_MINUTE", "1"),
        ("LATCHKEY_THROTTLE__LOGIN_FAILURES__BURST", "4"),
        ("LATCHKEY_THROTTLE__ACCOUNT_FAILURES__PER_MINUTE", "1"),
        ("LATCHKEY_THROTTLE__ACCOUNT_FAILURES__BURST", "6"),
        ("LATCHKEY_THROTTLE__REFRESH__PER_MINUTE", "0"),
        // Three servers, PostgreSQL and Redis on two cores: a slow answer
        // must not count as Redis being away.
        ("LATCHKEY_THROTTLE__REDIS_TIMEOUT_MS", "2000"),
    ];
    let created = latchkey_with(
        &database.url,
        &env,
        &["users", "create", "alice", "--password-stdin"],
        PASSWORD,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let instances: Vec<ServerProcess> = dirs
        .iter()
        .map(|dir| {
            let data = dir.path().display().to_string();
            let mut all = env.to_vec();
            all.push(("LATCHKEY_DATA_DIR", data.as_str()));
            ServerProcess::start(&all)
        })
        .collect();
    let cluster = Cluster {
        instances,
        client: reqwest::Client::new(),
        next: Default::default(),
    };

    // Each instance has counted in Redis once (its gauge says so then).
    let deadline = Instant::now() + Duration::from_secs(15);
    for (n, instance) in cluster.instances.iter().enumerate() {
        while cluster
            .metric(&instance.address, "latchkey_throttle_store_shared")
            .await
            != 1.0
        {
            assert!(
                Instant::now() < deadline,
                "{} never reached Redis",
                instance.address
            );
            cluster
                .login_at(
                    &instance.address,
                    &format!("192.0.2.{n}"),
                    "warm-up",
                    "wrong",
                )
                .await;
        }
        assert_eq!(
            cluster
                .metric(&instance.address, "latchkey_throttle_store_fallbacks_total")
                .await,
            0.0
        );
    }

    // 1. One address's failed logins: four in all, wherever they land.
    for n in 0..4 {
        let (status, _) = cluster
            .login("198.51.100.1", &format!("ghost{n}"), "wrong")
            .await;
        assert_eq!(status, 401, "failure {n}");
    }
    for instance in 0..3 {
        let address = cluster.instances[instance].address.clone();
        let (status, retry_after) = cluster
            .login_at(&address, "198.51.100.1", "ghost9", "wrong")
            .await;
        assert_eq!(
            status, 429,
            "instance {instance} knows the address is out of failures"
        );
        assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)));
    }

    // 2. One account's failed logins from six addresses spread over the
    // three: an address that failed on it now waits wherever it asks, and
    // an address that has not failed on it still gets its one guess.
    for n in 10..16 {
        let (status, _) = cluster
            .login(&format!("198.51.100.{n}"), "alice", "wrong")
            .await;
        assert_eq!(status, 401);
    }
    for n in 10..13 {
        let (status, _) = cluster
            .login(&format!("198.51.100.{n}"), "alice", "wrong again")
            .await;
        assert_eq!(
            status, 429,
            "address .{n} failed on alice on another instance"
        );
    }
    let (status, _) = cluster.login("198.51.100.20", "alice", PASSWORD).await;
    assert_eq!(status, 200, "the owner, from elsewhere, still logs in");

    // 3. Twenty refreshes of one token at once, over the three: one child.
    let pair: Value = cluster
        .client
        .post(format!("{}/api/token/", cluster.next()))
        .header("X-Forwarded-For", "198.51.100.30")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let refresh = pair["refresh"].as_str().expect("refresh").to_owned();
    let racers = (0..20).map(|_| {
        let url = format!("{}/api/token/refresh/", cluster.next());
        let body = json!({"refresh": refresh});
        let client = cluster.client.clone();
        async move {
            let response = client.post(url).json(&body).send().await.expect("sent");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            (status, body["refresh"].as_str().map(str::to_owned))
        }
    });
    let answers = futures_util::future::join_all(racers).await;
    let children: std::collections::HashSet<&String> = answers
        .iter()
        .filter_map(|(_, child)| child.as_ref())
        .collect();
    assert_eq!(children.len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == 200 || *status == 401)
    );
    let payload = refresh.split('.').nth(1).expect("a payload");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    let parent = claims["jti"].as_str().expect("jti").to_owned();
    let url = database.url.clone();
    let recorded: i64 = tokio::task::spawn_blocking(move || {
        count_rows(
            &url,
            "SELECT count(*) AS n FROM refresh_tokens WHERE parent_jti = $1",
            Some(&parent),
        )
    })
    .await
    .expect("query");
    assert_eq!(recorded, 1, "one child in the store");

    // 4. A logout-all through one instance is enforced by the other two.
    let pair: Value = cluster
        .client
        .post(format!("{}/api/token/", cluster.instances[0].address))
        .header("X-Forwarded-For", "198.51.100.31")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let access = pair["access"].as_str().expect("access").to_owned();
    let me = |instance: usize| {
        cluster
            .client
            .get(format!("{}/api/me/", cluster.instances[instance].address))
            .bearer_auth(&access)
            .send()
    };
    for instance in 1..3 {
        assert_eq!(me(instance).await.expect("sent").status(), 200);
    }
    let ended = cluster
        .client
        .post(format!(
            "{}/api/token/logout-all/",
            cluster.instances[0].address
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("sent");
    assert_eq!(ended.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(2);
    for instance in 1..3 {
        while me(instance).await.expect("sent").status() != 401 {
            assert!(
                Instant::now() < deadline,
                "instance {instance} still accepts the token"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // 5. Redis stops: logins go on, each instance counting for itself.
    tokio::task::block_in_place(|| redis.stop());
    for instance in 0..3 {
        let address = cluster.instances[instance].address.clone();
        let (status, _) = cluster
            .login_at(&address, "198.51.100.40", "alice", PASSWORD)
            .await;
        assert_eq!(status, 200, "instance {instance} logs in without Redis");
    }
    let first = cluster.instances[0].address.clone();
    let second = cluster.instances[1].address.clone();
    for _ in 0..4 {
        let (status, _) = cluster
            .login_at(&first, "198.51.100.50", "ghost", "wrong")
            .await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        cluster
            .login_at(&first, "198.51.100.50", "ghost", "wrong")
            .await
            .0,
        429
    );
    assert_eq!(
        cluster
            .login_at(&second, "198.51.100.50", "ghost", "wrong")
            .await
            .0,
        401,
        "without Redis the other instance has a budget of its own"
    );
    for instance in &cluster.instances {
        assert_eq!(
            cluster
                .metric(&instance.address, "latchkey_throttle_store_shared")
                .await,
            0.0
        );
        assert!(
            cluster
                .metric(&instance.address, "latchkey_throttle_store_fallbacks_total")
                .await
                >= 1.0
        );
    }

    // 6. Redis is back: shared limits come back by themselves.
    tokio::task::block_in_place(|| redis.resume());
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut probe = 0;
    for instance in &cluster.instances {
        while cluster
            .metric(&instance.address, "latchkey_throttle_store_shared")
            .await
            != 1.0
        {
            assert!(
                Instant::now() < deadline,
                "{} did not go back to Redis",
                instance.address
            );
            probe += 1;
            cluster
                .login_at(
                    &instance.address,
                    &format!("203.0.113.{}", probe % 250),
                    "ghost",
                    "wrong",
                )
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for n in 0..4 {
        let (status, _) = cluster
            .login("198.51.100.60", &format!("ghost{n}"), "wrong")
            .await;
        assert_eq!(status, 401);
    }
    for instance in 0..3 {
        let address = cluster.instances[instance].address.clone();
        let (status, _) = cluster
            .login_at(&address, "198.51.100.60", "ghost", "wrong")
            .await;
        assert_eq!(
            status, 429,
            "instance {instance}: the budget is shared again"
        );
    }
}

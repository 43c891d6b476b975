//! The database goes away mid-load and comes back: requests that need it
//! get 503 with Retry-After within a second, `/readyz` says not ready
//! within a second, what can be checked from memory keeps working,
//! everything recovers without a restart, and no refresh token is
//! accepted twice across the outage. On a PostgreSQL server of the test's
//! own, which it stops and starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{PostgresCluster, count_rows, spawn_app_with};

/// What one refresh chain saw.
#[derive(Default)]
struct Seen {
    /// Refresh tokens answered 200, and how many times.
    accepted: HashMap<String, u32>,
    /// Time to answer each 503, and whether it said when to retry.
    unavailable: Vec<(Duration, bool)>,
    /// Any other answer: status and body.
    other: Vec<(u16, String)>,
    rotations: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_fast_and_recovers_with_no_refresh_accepted_twice() {
    let cluster = PostgresCluster::start();
    let url = cluster.url();
    let app = Arc::new(
        spawn_app_with(move |s| {
            s.database.url = Some(url.parse().expect("a database URL"));
            s.database.pool_size = 4;
            s.database.connect_timeout_seconds = 5;
        })
        .await,
    );
    let mut chains = Vec::new();
    for n in 0..4 {
        let user = app.create_user(&format!("user{n}"), "pw").await;
        chains.push(app.obtain_pair(&user).await);
    }
    let access = chains[0].access.clone();
    assert_eq!(app.verify(&access).await.status(), 200, "cached before");

    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut load = Vec::new();
    for pair in chains {
        let (app, running, seen) = (app.clone(), running.clone(), seen.clone());
        load.push(tokio::spawn(async move {
            let mut refresh = pair.refresh;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let response = app.refresh(&refresh).await;
                let took = started.elapsed();
                let status = response.status().as_u16();
                let retry_after = response.headers().contains_key("retry-after");
                let body = response.text().await.unwrap_or_default();
                {
                    let mut seen = seen.lock().expect("lock");
                    match status {
                        200 => {
                            *seen.accepted.entry(refresh.clone()).or_default() += 1;
                            seen.rotations += 1;
                            let body: Value = serde_json::from_str(&body).expect("json");
                            refresh = body["refresh"]
                                .as_str()
                                .expect("a refresh token")
                                .to_owned();
                        }
                        // The same token again, as a client retries.
                        503 => seen.unavailable.push((took, retry_after)),
                        _ => seen.other.push((status, body)),
                    }
                }
                if status == 503 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = seen.lock().expect("lock").rotations;
    assert!(before > 0, "refreshes went through before the outage");
    tokio::task::block_in_place(|| cluster.stop());
    let stopped = Instant::now();

    // Not ready, said within a second.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // What memory can answer, it still does.
    let started = Instant::now();
    assert_eq!(app.verify(&access).await.status(), 200);
    assert_eq!(app.me(&access).await.status(), 200, "the user is cached");
    assert!(started.elapsed() < Duration::from_secs(1));
    // A login needs the database: 503 at once.
    let started = Instant::now();
    let login = app.obtain("user0", "pw").await;
    assert_eq!(login.status(), 503);
    assert_eq!(login.headers()["retry-after"], "1");
    assert!(started.elapsed() < Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = seen.lock().expect("lock").rotations;

    tokio::task::block_in_place(|| cluster.resume());
    let resumed = Instant::now();
    let deadline = resumed + Duration::from_secs(15);
    loop {
        let rotations = seen.lock().expect("lock").rotations;
        if rotations > during + 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_after = resumed.elapsed();
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        task.await.expect("a load task");
    }
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status(), 200);

    {
        let seen = seen.lock().expect("lock");
        eprintln!(
            "outage of {:?}: {} rotations before, {} in all, {} answered 503, recovered {:?} after the restart",
            resumed - stopped,
            before,
            seen.rotations,
            seen.unavailable.len(),
            recovered_after
        );
        assert!(
            seen.other.is_empty(),
            "unexpected answers: {:?}",
            seen.other
        );
        assert!(!seen.unavailable.is_empty(), "the outage was seen");
        let slowest = seen
            .unavailable
            .iter()
            .map(|(took, _)| *took)
            .max()
            .unwrap_or_default();
        assert!(slowest < Duration::from_secs(1), "a 503 took {slowest:?}");
        assert!(seen.unavailable.iter().all(|(_, retry_after)| *retry_after));
        let twice: Vec<_> = seen.accepted.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "refresh tokens accepted twice: {twice:?}");
    }

    // And in the store: no refresh token has two children.
    let url = cluster.url();
    let doubled: i64 = tokio::task::spawn_blocking(move || {
        count_rows(
            &url,
            "SELECT count(*) AS n FROM (SELECT parent_jti FROM refresh_tokens \
             WHERE parent_jti IS NOT NULL GROUP BY parent_jti HAVING count(*) > 1) AS twice",
            None,
        )
    })
    .await
    .expect("query");
    assert_eq!(doubled, 0);
}

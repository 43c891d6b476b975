//! Several instances on one database: a session ended through one is
//! refused by the others within the sync interval, whether they share the
//! process (two apps) or not (a second `latchkey serve`).

use std::time::{Duration, Instant};

use crate::helpers::{
    assert_response, bearer_error, spawn_app, spawn_app_with, token_error, within_sync_interval,
};

#[tokio::test]
async fn a_revocation_through_one_instance_is_enforced_by_another_sharing_the_database() {
    let first = spawn_app().await;
    let url = first.database_url();
    let second =
        spawn_app_with(move |s| s.database.url = Some(url.parse().expect("a database URL"))).await;
    let user = first.create_user("alice", "pw").await;
    let pair = first.obtain_pair(&user).await;
    assert_eq!(
        second.me(&pair.access).await.status(),
        200,
        "cached on the second instance"
    );

    assert_eq!(first.blacklist(&pair.refresh).await.status(), 200);

    let started = Instant::now();
    within_sync_interval(&second, || async {
        second.me(&pair.access).await.status() == 401
    })
    .await;
    assert_response(
        second.me(&pair.access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        second.verify(&pair.access).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    eprintln!(
        "revocation reached the second instance after {:?}",
        started.elapsed()
    );
}

/// A second latchkey as its own OS process on the same database.
struct OtherProcess {
    child: std::process::Child,
    address: String,
}

impl Drop for OtherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_other_process(database_url: &str, data_dir: &std::path::Path) -> OtherProcess {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .env("LATCHKEY_DATABASE__URL", database_url)
        .env("LATCHKEY_JWT__SIGNING_KEY", crate::helpers::SECRET)
        .env("LATCHKEY_SERVER__BIND", "127.0.0.1:0")
        .env("LATCHKEY_DATA_DIR", data_dir)
        .env("LATCHKEY_LOG__FILTER", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("latchkey runs");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        assert!(
            Instant::now() < deadline,
            "the second process did not start"
        );
        let line = lines.next().expect("a log line").expect("utf-8");
        if let Some(port) = line.split("serving on port ").nth(1) {
            break port.trim().to_owned();
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    OtherProcess {
        child,
        address: format!("http://127.0.0.1:{port}"),
    }
}

#[tokio::test]
async fn a_revocation_through_one_process_is_enforced_by_another_process() {
    let app = spawn_app().await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    let other = start_other_process(&app.database_url(), data_dir.path());
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let me_there = || async {
        app.client
            .get(format!("{}/api/me/", other.address))
            .bearer_auth(&pair.access)
            .send()
            .await
            .expect("sent")
    };
    assert_eq!(
        me_there().await.status(),
        200,
        "cached in the other process"
    );

    assert_eq!(app.blacklist(&pair.refresh).await.status(), 200);

    // The other process has the default sync interval, as the app does.
    within_sync_interval(&app, || async { me_there().await.status() == 401 }).await;
    assert_response(me_there().await, 401, bearer_error("Token is blacklisted")).await;
}

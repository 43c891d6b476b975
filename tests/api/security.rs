//! Regression tests for the findings of the external security review, one (or
//! more) per finding, each named after it and reproducing the attack. They run
//! on SQLite and, with `TEST_DATABASE_URL`, on PostgreSQL.

use serde_json::json;

use crate::helpers::{claims_of, now, sign, spawn_app, spawn_app_with};

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

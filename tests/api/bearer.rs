//! Bearer authentication, through `GET /api/me/`.

use serde_json::json;

use crate::helpers::{assert_response, bearer_error, now, sign, spawn_app};

#[tokio::test]
async fn a_valid_access_token_returns_its_user() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;

    for header in [
        format!("Bearer {}", pair.access),
        format!("Bearer   {}", pair.access),
        format!("Bearer\t{}", pair.access),
    ] {
        let response = app.me_with_header(Some(&header)).await;
        assert_eq!(response.status(), 200, "{header:?}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["id"], user.id);
        assert_eq!(body["username"], "alice");
    }
}

#[tokio::test]
async fn missing_or_foreign_credentials_are_not_provided() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let not_provided = json!({"detail": "Authentication credentials were not provided."});

    assert_response(app.me_with_header(None).await, 401, not_provided.clone()).await;
    for header in [
        String::new(),
        format!("Token {}", pair.access),
        "Basic YWxpY2U6cHc=".to_owned(),
        format!("JWT {}", pair.access),
        format!("bearer {}", pair.access),
        pair.access.clone(),
    ] {
        assert_response(
            app.me_with_header(Some(&header)).await,
            401,
            not_provided.clone(),
        )
        .await;
    }
}

#[tokio::test]
async fn a_malformed_bearer_header_says_so() {
    let app = spawn_app().await;
    let expected = json!({
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header",
    });
    for header in ["Bearer", "Bearer a b"] {
        assert_response(
            app.me_with_header(Some(header)).await,
            401,
            expected.clone(),
        )
        .await;
    }
}

#[tokio::test]
async fn tokens_that_are_not_valid_access_tokens_list_why() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let t = now();
    let cases = [
        (pair.refresh.clone(), "Token has wrong type"),
        ("garbage".to_owned(), "Token is invalid"),
        (
            sign(
                &json!({"token_type": "access", "exp": t - 1, "iat": t - 60, "jti": "a", "user_id": "1"}),
            ),
            "Token is expired",
        ),
    ];
    for (token, message) in cases {
        assert_response(app.me(&token).await, 401, bearer_error(message)).await;
    }
}

#[tokio::test]
async fn the_user_behind_the_token_must_exist_and_be_active() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "pw").await;
    let bob = app.create_user("bob", "pw").await;
    let alice_pair = app.obtain_pair(&alice).await;
    let bob_pair = app.obtain_pair(&bob).await;
    app.deactivate("alice").await;
    app.delete_user("bob").await;
    let t = now();

    assert_response(
        app.me(&alice_pair.access).await,
        401,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    )
    .await;
    let not_found = json!({"detail": "User not found", "code": "user_not_found"});
    assert_response(app.me(&bob_pair.access).await, 401, not_found.clone()).await;
    for user_id in [
        json!("abc"),
        json!("123456789012345678901234567890"),
        json!(9999),
    ] {
        let token = sign(
            &json!({"token_type": "access", "exp": t + 60, "iat": t, "jti": "a", "user_id": user_id}),
        );
        assert_response(app.me(&token).await, 401, not_found.clone()).await;
    }
    let anonymous = sign(&json!({"token_type": "access", "exp": t + 60, "iat": t, "jti": "a"}));
    assert_response(
        app.me(&anonymous).await,
        401,
        json!({"detail": "Token contained no recognizable user identification", "code": "token_not_valid"}),
    )
    .await;
}

#[tokio::test]
async fn a_change_made_elsewhere_is_enforced_within_the_sync_interval() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    assert_eq!(app.me(&pair.access).await.status(), 200);

    // As another instance or the CLI would: straight to the database.
    app.deactivate("alice").await;

    let started = std::time::Instant::now();
    let interval = app.state.settings.cache.sync_interval();
    loop {
        let status = app.me(&pair.access).await.status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < interval * 5,
            "still accepted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_response(
        app.me(&pair.access).await,
        401,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    )
    .await;
}

//! `POST /api/token/verify/`.

use serde_json::json;

use crate::helpers::{assert_response, now, sign, spawn_app, token_error};

#[tokio::test]
async fn valid_access_and_refresh_tokens_verify() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;

    assert_response(app.verify(&pair.access).await, 200, json!({})).await;
    assert_response(app.verify(&pair.refresh).await, 200, json!({})).await;
    assert_response(
        app.verify(&format!("  {}\n", pair.access)).await,
        200,
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn a_blacklisted_refresh_token_is_a_400() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let rotated_out = app.obtain_pair(&user).await;
    assert_eq!(app.refresh(&rotated_out.refresh).await.status(), 200);
    let logged_out = app.obtain_pair(&user).await;
    assert_eq!(app.blacklist(&logged_out.refresh).await.status(), 200);

    for token in [rotated_out.refresh, logged_out.refresh] {
        assert_response(
            app.verify(&token).await,
            400,
            json!({"non_field_errors": ["Token is blacklisted"]}),
        )
        .await;
    }
}

#[tokio::test]
async fn invalid_tokens_are_401s() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let t = now();
    let cases = [
        ("not-a-token".to_owned(), "Token is invalid"),
        (format!("Bearer {}", pair.access), "Token is invalid"),
        (
            sign(
                &json!({"token_type": "access", "exp": t - 1, "iat": t - 60, "jti": "a", "user_id": "1"}),
            ),
            "Token is expired",
        ),
        (
            sign(&json!({"token_type": "access", "iat": t, "jti": "a", "user_id": "1"})),
            "Token has no 'exp' claim",
        ),
        (
            sign(&json!({"token_type": "access", "exp": t + 60, "iat": t, "user_id": "1"})),
            "Token has no id",
        ),
        (
            sign(
                &json!({"token_type": "access", "exp": t + 600, "nbf": t + 300, "jti": "a", "user_id": "1"}),
            ),
            "Token is invalid",
        ),
        (
            sign(
                &json!({"token_type": "access", "exp": t + 600, "iat": t + 300, "jti": "a", "user_id": "1"}),
            ),
            "Token is invalid",
        ),
        (
            sign(
                &json!({"token_type": "refresh", "exp": t + 600, "iat": t, "jti": "never-issued", "user_id": "1"}),
            ),
            "Token is invalid",
        ),
        ("x".repeat(9000), "Token is invalid"),
    ];
    for (token, detail) in cases {
        assert_response(app.verify(&token).await, 401, token_error(detail)).await;
    }
}

#[tokio::test]
async fn untyped_tokens_verify_as_in_simple_jwt() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    assert_eq!(user.id, 1, "the token below names this user");
    let t = now();
    let token = sign(&json!({"exp": t + 60, "iat": t, "jti": "a", "user_id": "1"}));

    assert_response(app.verify(&token).await, 200, json!({})).await;
}

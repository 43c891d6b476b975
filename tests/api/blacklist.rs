//! `POST /api/token/blacklist/`.

use serde_json::json;

use crate::helpers::{assert_response, now, sign, spawn_app, token_error};

#[tokio::test]
async fn blacklisting_ends_the_refresh_token() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;

    assert_response(app.blacklist(&pair.refresh).await, 200, json!({})).await;

    assert_response(
        app.blacklist(&pair.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.refresh(&pair.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn wrong_kinds_of_token_are_refused() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let t = now();
    let cases = [
        (pair.access.clone(), "Token has wrong type"),
        ("garbage".to_owned(), "Token is invalid"),
        (
            sign(
                &json!({"token_type": "refresh", "exp": t - 5, "iat": t - 60, "jti": "a", "user_id": "1"}),
            ),
            "Token is expired",
        ),
    ];
    for (token, detail) in cases {
        assert_response(app.blacklist(&token).await, 401, token_error(detail)).await;
    }
}

#[tokio::test]
async fn a_token_never_issued_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let t = now();
    let stranger = sign(
        &json!({"token_type": "refresh", "exp": t + 60, "iat": t, "jti": "deadbeef", "user_id": user.id.to_string()}),
    );

    assert_response(
        app.blacklist(&stranger).await,
        401,
        token_error("Token is invalid"),
    )
    .await;

    let recorded = app
        .with_db(|conn| latchkey::db::refresh_tokens::status(conn, "deadbeef").expect("query"))
        .await;
    assert_eq!(recorded, None);
}

//! `POST /api/password/change/`: a user changes their own password with the
//! old one; every other session ends, the caller's goes on.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, assert_response, bearer_error, spawn_app, spawn_app_with, token_error,
};

const OLD: &str = "correct horse battery";
const NEW: &str = "a brand new passphrase";

async fn change(app: &TestApp, access: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/password/change/"))
        .bearer_auth(access)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

fn fields(old: &str, new1: &str, new2: &str) -> Value {
    json!({"old_password": old, "new_password1": new1, "new_password2": new2})
}

async fn mallory(app: &TestApp) -> TestUser {
    app.create_user("mallory", OLD).await
}

#[tokio::test]
async fn a_changed_password_ends_every_other_session_and_keeps_the_callers() {
    let app = spawn_app().await;
    let user = mallory(&app).await;
    let caller = app.obtain_pair(&user).await;
    let other = app.obtain_pair(&user).await;

    assert_response(
        change(&app, &caller.access, &fields(OLD, NEW, NEW)).await,
        200,
        json!({"detail": "New password has been saved."}),
    )
    .await;

    // The other device is out, access and refresh token alike.
    assert_response(
        app.me(&other.access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.refresh(&other.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    // The caller's session goes on.
    assert_eq!(app.me(&caller.access).await.status(), 200);
    let rotated = app.refresh_pair(&caller.refresh).await;
    assert_eq!(app.me(&rotated.access).await.status(), 200);
    // Only the new password logs in.
    assert_response(
        app.obtain("mallory", OLD).await,
        401,
        json!({"detail": "No active account found with the given credentials"}),
    )
    .await;
    assert_eq!(app.obtain("mallory", NEW).await.status(), 200);
}

#[tokio::test]
async fn each_refusal_has_djangos_message_and_changes_nothing() {
    let app = spawn_app().await;
    let user = mallory(&app).await;
    let caller = app.obtain_pair(&user).await;
    let other = app.obtain_pair(&user).await;
    let cases = [
        (
            json!({}),
            json!({
                "old_password": ["This field is required."],
                "new_password1": ["This field is required."],
                "new_password2": ["This field is required."],
            }),
        ),
        (
            fields("wrong old password", NEW, NEW),
            json!({"old_password": ["Your old password was entered incorrectly. Please enter it again."]}),
        ),
        (
            fields(OLD, NEW, "another new passphrase"),
            json!({"new_password2": ["The two password fields didn\u{2019}t match."]}),
        ),
        (
            fields(OLD, "mallory1", "mallory1"),
            json!({"new_password2": ["The password is too similar to the username.", "This password is too common."]}),
        ),
        (
            fields(OLD, "x7", "x7"),
            json!({"new_password2": ["This password is too short. It must contain at least 8 characters.", "This password is too common."]}),
        ),
        (
            fields(OLD, "4815162342", "4815162342"),
            json!({"new_password2": ["This password is too common.", "This password is entirely numeric."]}),
        ),
    ];
    for (body, errors) in cases {
        assert_response(change(&app, &caller.access, &body).await, 400, errors).await;
    }
    assert_eq!(
        app.me(&other.access).await.status(),
        200,
        "no session ended"
    );
    assert_eq!(
        app.obtain("mallory", OLD).await.status(),
        200,
        "the password is the same"
    );
}

#[tokio::test]
async fn only_a_live_access_token_may_ask() {
    let app = spawn_app().await;
    let user = mallory(&app).await;
    let pair = app.obtain_pair(&user).await;
    let anonymous = app
        .client
        .post(app.url("/api/password/change/"))
        .json(&fields(OLD, NEW, NEW))
        .send()
        .await
        .expect("sent");
    assert_response(
        anonymous,
        401,
        json!({"detail": "Authentication credentials were not provided."}),
    )
    .await;
    // A refresh token is not an access token.
    assert_response(
        change(&app, &pair.refresh, &fields(OLD, NEW, NEW)).await,
        401,
        bearer_error("Token has wrong type"),
    )
    .await;
    app.blacklist(&pair.refresh).await;
    assert_response(
        change(&app, &pair.access, &fields(OLD, NEW, NEW)).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn guessing_the_old_password_is_throttled_like_logins() {
    let app = spawn_app_with(|settings| {
        settings.throttle.login_failures.per_minute = 2;
        settings.throttle.login_failures.burst = 2;
    })
    .await;
    let user = mallory(&app).await;
    let pair = app.obtain_pair(&user).await;
    for _ in 0..2 {
        let response = change(&app, &pair.access, &fields("guess", NEW, NEW)).await;
        assert_eq!(response.status(), 400);
    }
    let throttled = change(&app, &pair.access, &fields(OLD, NEW, NEW)).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
}

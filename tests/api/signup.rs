//! `POST /api/register/`: self-signup, off unless `signup.enabled`, with
//! dj-rest-auth's fields and messages, throttled per address.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_response, claims_of, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

async fn open_app() -> TestApp {
    spawn_app_with(|settings| settings.signup.enabled = true).await
}

async fn register(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post_json("/api/register/", body).await
}

#[tokio::test]
async fn signup_is_off_by_default_whatever_is_sent() {
    let app = spawn_app().await;
    let body = json!({"username": "nina", "password1": PASSWORD, "password2": PASSWORD});
    assert_response(
        register(&app, &body).await,
        404,
        json!({"detail": "Not found."}),
    )
    .await;
    let garbage = app
        .post_raw("/api/register/", Some("application/json"), "{not json")
        .await;
    assert_response(garbage, 404, json!({"detail": "Not found."})).await;
    assert_eq!(app.obtain("nina", PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn a_registration_creates_an_active_user_and_answers_with_their_first_pair() {
    let app = open_app().await;
    let response = register(
        &app,
        &json!({"username": "nina", "email": "nina@example.com", "password1": PASSWORD, "password2": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    let pk = body["user"]["pk"].clone();
    assert!(pk.is_i64(), "{body}");
    assert_eq!(
        body["user"],
        json!({"pk": pk, "username": "nina", "email": "nina@example.com", "first_name": "", "last_name": ""})
    );
    let access = body["access"].as_str().expect("access");
    assert_eq!(claims_of(access)["token_type"], "access");
    let me: Value = app.me(access).await.json().await.expect("json");
    assert_eq!(
        (&me["username"], &me["email"]),
        (&json!("nina"), &json!("nina@example.com"))
    );
    let refresh = body["refresh"].as_str().expect("refresh");
    assert_eq!(app.refresh(refresh).await.status(), 200);
    assert_eq!(app.obtain("nina", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn each_refusal_has_dj_rest_auths_message_and_creates_nobody() {
    let app = open_app().await;
    app.create_user("taken", PASSWORD).await;
    let existing = json!({"username": "owner", "email": "Owner@Example.com", "password1": PASSWORD, "password2": PASSWORD});
    assert_eq!(register(&app, &existing).await.status(), 201);
    let cases = [
        (
            json!({"username": "ｔａｋｅｎ", "password1": PASSWORD, "password2": PASSWORD}),
            json!({"username": ["A user with that username already exists."]}),
        ),
        (
            json!({"username": "stranger", "email": "owner@example.COM", "password1": PASSWORD, "password2": PASSWORD}),
            json!({"email": ["A user is already registered with this email address."]}),
        ),
        (
            json!({}),
            json!({
                "username": ["This field is required."],
                "password1": ["This field is required."],
                "password2": ["This field is required."],
            }),
        ),
        (
            json!({"username": "taken", "password1": PASSWORD, "password2": PASSWORD}),
            json!({"username": ["A user with that username already exists."]}),
        ),
        (
            json!({"username": "new user", "email": "nope", "password1": "short", "password2": "short"}),
            json!({
                "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
                "email": ["Enter a valid email address."],
                "password1": ["This password is too short. It must contain at least 8 characters.", "This password is too common."],
            }),
        ),
        (
            json!({"username": "oscar", "password1": PASSWORD, "password2": "another passphrase"}),
            json!({"non_field_errors": ["The two password fields didn't match."]}),
        ),
    ];
    for (body, errors) in cases {
        assert_response(register(&app, &body).await, 400, errors).await;
    }
    assert_eq!(app.obtain("oscar", PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let app = spawn_app_with(|settings| {
        settings.signup.enabled = true;
        settings.throttle.signups.per_minute = 2;
        settings.throttle.signups.burst = 2;
        settings.throttle.login_failures.per_minute = 2;
        settings.throttle.login_failures.burst = 2;
    })
    .await;
    for name in ["p1", "p2"] {
        let body = json!({"username": name, "password1": PASSWORD, "password2": PASSWORD});
        assert_eq!(register(&app, &body).await.status(), 201);
    }
    let body = json!({"username": "p3", "password1": PASSWORD, "password2": PASSWORD});
    let throttled = register(&app, &body).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    let created = app
        .with_db(|conn| latchkey::db::users::find_by_username(conn, "p3").expect("read"))
        .await;
    assert!(created.is_none(), "a throttled registration writes nothing");
    // Logins from the address have a budget of their own.
    assert_eq!(app.obtain("p1", PASSWORD).await.status(), 200);
}

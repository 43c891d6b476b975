//! `POST /api/token/`.

use serde_json::json;

use crate::helpers::{assert_response, claims_of, spawn_app, spawn_app_with};

const BAD_CREDENTIALS: &str = "No active account found with the given credentials";

#[tokio::test]
async fn right_credentials_give_a_pair_recorded_and_last_login_updated() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "correct horse").await;

    let response = app.obtain("alice", "correct horse").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.expect("json");
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["refresh", "access"]);
    let (refresh, access) = (
        claims_of(body["refresh"].as_str().unwrap()),
        claims_of(body["access"].as_str().unwrap()),
    );
    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(access["token_type"], "access");
    assert_eq!(access["user_id"], user.id.to_string());
    assert_eq!(access["iat"], refresh["iat"]);
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(
        refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap(),
        86400
    );
    let jti = refresh["jti"].as_str().unwrap().to_owned();
    let recorded = app
        .with_db(move |conn| latchkey::db::refresh_tokens::status(conn, &jti).expect("query"))
        .await;
    assert_eq!(recorded, Some(latchkey::db::refresh_tokens::Status::Usable));
    let stored = app
        .with_db(move |conn| latchkey::db::users::find_by_id(conn, user.id).expect("query"))
        .await
        .expect("user");
    assert!(stored.last_login.is_some());
}

#[tokio::test]
async fn wrong_password_unknown_user_and_inactive_user_look_the_same() {
    let app = spawn_app().await;
    app.create_user("alice", "correct horse").await;
    app.create_user_with("bob", "correct horse", false).await;

    for (username, password) in [
        ("alice", "wrong"),
        ("nobody", "correct horse"),
        ("bob", "correct horse"),
        ("ALICE", "correct horse"),
    ] {
        let response = app.obtain(username, password).await;
        assert_response(response, 401, json!({ "detail": BAD_CREDENTIALS })).await;
    }
}

#[tokio::test]
async fn form_bodies_and_surrounding_whitespace_are_accepted() {
    let app = spawn_app().await;
    app.create_user("alice", "correct horse").await;

    let response = app
        .client
        .post(app.url("/api/token/"))
        .form(&[("username", " alice "), ("password", "  correct horse\t")])
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn multipart_bodies_are_accepted_as_simple_jwt_accepts_them() {
    let app = spawn_app().await;
    app.create_user("alice", "correct horse").await;
    let form = reqwest::multipart::Form::new()
        .text("username", "alice")
        .text("password", "correct horse");

    let response = app
        .client
        .post(app.url("/api/token/"))
        .multipart(form)
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), 200);
    let garbled = app
        .post_raw("/api/token/", Some("multipart/form-data"), "--x\r\n")
        .await;
    assert_eq!(garbled.status(), 400);
}

#[tokio::test]
async fn numbers_are_taken_as_their_text() {
    let app = spawn_app().await;
    app.create_user("1234", "5678").await;

    let response = app
        .post_json("/api/token/", &json!({"username": 1234, "password": 5678}))
        .await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn field_errors_are_keyed_by_field_in_order() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({}),
            json!({"username": ["This field is required."], "password": ["This field is required."]}),
        ),
        (
            json!({"username": "", "password": "  "}),
            json!({"username": ["This field may not be blank."], "password": ["This field may not be blank."]}),
        ),
        (
            json!({"username": null, "password": "x"}),
            json!({"username": ["This field may not be null."]}),
        ),
        (
            json!({"username": ["a"], "password": {"b": 1}}),
            json!({"username": ["Not a valid string."], "password": ["Not a valid string."]}),
        ),
        (
            json!({"username": true, "password": "x"}),
            json!({"username": ["Not a valid string."]}),
        ),
        (
            json!({"password": "x", "extra": 1}),
            json!({"username": ["This field is required."]}),
        ),
    ];
    for (body, expected) in cases {
        assert_response(app.post_json("/api/token/", &body).await, 400, expected).await;
    }
}

#[tokio::test]
async fn a_hash_with_another_iteration_count_is_upgraded_at_login() {
    let app = spawn_app_with(|s| s.passwords.iterations = 1200).await;
    // A hash made with Django-style 1000 iterations, as an imported user would have.
    let legacy = "pbkdf2_sha256$1000$seasalt$aZOLUDnbVq4qfmIhIFCkAqvDNHspRzj9l43SgVe7GOM=";
    let user = app
        .with_db(move |conn| {
            latchkey::db::users::create(
                conn,
                "imported",
                legacy,
                true,
                chrono::Utc::now().naive_utc(),
            )
            .expect("created")
        })
        .await;

    let response = app.obtain("imported", "hunter2").await;

    assert_eq!(response.status(), 200);
    let stored = app
        .with_db(move |conn| latchkey::db::users::find_by_id(conn, user.id).expect("query"))
        .await
        .expect("user");
    assert!(
        stored.password.starts_with("pbkdf2_sha256$1200$"),
        "{}",
        stored.password
    );
    assert_eq!(app.obtain("imported", "hunter2").await.status(), 200);
}

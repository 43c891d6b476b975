//! Rules every endpoint shares: media types, parse errors, methods, paths, sizes.

use serde_json::json;

use crate::helpers::{assert_response, spawn_app};

const POST_ENDPOINTS: [&str; 4] = [
    "/api/token/",
    "/api/token/refresh/",
    "/api/token/verify/",
    "/api/token/blacklist/",
];

#[tokio::test]
async fn other_media_types_are_415_naming_the_type() {
    let app = spawn_app().await;
    for path in POST_ENDPOINTS {
        let response = app.post_raw(path, Some("text/plain"), "username=a").await;
        assert_response(
            response,
            415,
            json!({"detail": "Unsupported media type \"text/plain\" in request."}),
        )
        .await;
    }
    let response = app.post_raw("/api/token/", None, "username=a").await;
    assert_response(
        response,
        415,
        json!({"detail": "Unsupported media type \"\" in request."}),
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_a_parse_error() {
    let app = spawn_app().await;
    let response = app
        .post_raw("/api/token/", Some("application/json"), "{\"username\": ")
        .await;

    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.starts_with("JSON parse error - "), "{detail}");
}

#[tokio::test]
async fn json_that_is_not_an_object_names_its_type() {
    let app = spawn_app().await;
    for (body, name) in [
        ("[1, 2]", "list"),
        ("\"text\"", "str"),
        ("42", "int"),
        ("true", "bool"),
    ] {
        let response = app
            .post_raw("/api/token/refresh/", Some("application/json"), body)
            .await;
        let expected = json!({"non_field_errors": [format!("Invalid data. Expected a dictionary, but got {name}.")]});
        assert_response(response, 400, expected).await;
    }
}

#[tokio::test]
async fn an_empty_body_is_missing_fields() {
    let app = spawn_app().await;
    let response = app.post_raw("/api/token/verify/", None, "").await;

    assert_response(response, 400, json!({"token": ["This field is required."]})).await;
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let app = spawn_app().await;
    for path in POST_ENDPOINTS {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let response = app
                .client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.headers()["allow"], "POST, OPTIONS");
            assert_response(
                response,
                405,
                json!({"detail": format!("Method \"{method}\" not allowed.")}),
            )
            .await;
        }
    }
    let response = app
        .client
        .post(app.url("/api/me/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    assert_response(
        response,
        405,
        json!({"detail": "Method \"POST\" not allowed."}),
    )
    .await;
}

#[tokio::test]
async fn options_describes_the_endpoint() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/token/"))
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["allow"], "POST, OPTIONS");
}

#[tokio::test]
async fn paths_work_with_and_without_the_trailing_slash() {
    let app = spawn_app().await;
    app.create_user("alice", "pw").await;

    let response = app
        .post_json(
            "/api/token",
            &json!({"username": "alice", "password": "pw"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let refresh = body["refresh"].as_str().expect("refresh");
    let access = body["access"].as_str().expect("access");
    assert_eq!(
        app.post_json("/api/token/verify", &json!({"token": access}))
            .await
            .status(),
        200
    );
    let response = app
        .client
        .get(app.url("/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let response = app
        .post_json("/api/token/refresh", &json!({"refresh": refresh}))
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let refresh = body["refresh"].as_str().expect("refresh");
    assert_eq!(
        app.post_json("/api/token/blacklist", &json!({"refresh": refresh}))
            .await
            .status(),
        200
    );
    let sessions = app
        .client
        .get(app.url("/api/sessions"))
        .bearer_auth(access)
        .send()
        .await
        .expect("sent");
    assert_eq!(sessions.status(), 401, "logged out");
}

#[tokio::test]
async fn unknown_paths_are_json_404s() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/nothing/"))
        .send()
        .await
        .expect("sent");

    assert_response(response, 404, json!({"detail": "Not found."})).await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let big = format!("{{\"token\": \"{}\"}}", "x".repeat(20_000));
    let response = app
        .client
        .post(app.url("/api/token/verify/"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.expect("json");
    assert!(body["detail"].as_str().expect("detail").contains("16384"));
}

#[tokio::test]
async fn nul_characters_are_field_errors_not_database_errors() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/token/",
            &json!({"username": "a\u{0}b", "password": "pw"}),
        )
        .await;

    assert_response(
        response,
        400,
        json!({"username": ["Null characters are not allowed."]}),
    )
    .await;
}

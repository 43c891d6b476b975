//! `POST /api/token/introspect/` (RFC 7662): Basic-authenticated clients
//! learn whether a token is active now, revocation included.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, claims_of, now, sign, spawn_app, spawn_app_with, within_sync_interval,
};

const CLIENT: &str = "gateway";
const CLIENT_SECRET: &str = "gateway-secret-of-at-least-32-characters";

async fn app_with_client() -> TestApp {
    spawn_app_with(|s| {
        s.introspection.clients = vec![latchkey::settings::ClientSettings {
            id: CLIENT.into(),
            secret: CLIENT_SECRET.into(),
        }];
    })
    .await
}

/// RFC 7662 callers send a form body.
async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = app
        .client
        .post(app.url("/api/token/introspect/"))
        .basic_auth(CLIENT, Some(CLIENT_SECRET))
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.expect("JSON")
}

async fn assert_client_refused(response: reqwest::Response, detail: &str) {
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Basic realm="api""#
    );
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body, json!({ "detail": detail }));
}

#[tokio::test]
async fn only_configured_clients_may_introspect() {
    let app = app_with_client().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let request = || {
        app.client
            .post(app.url("/api/token/introspect/"))
            .form(&[("token", pair.access.as_str())])
    };
    assert_client_refused(
        request().send().await.expect("sent"),
        "Authentication credentials were not provided.",
    )
    .await;
    assert_client_refused(
        request()
            .bearer_auth(&pair.access)
            .send()
            .await
            .expect("sent"),
        "Authentication credentials were not provided.",
    )
    .await;
    assert_client_refused(
        request()
            .basic_auth(CLIENT, Some("wrong"))
            .send()
            .await
            .expect("sent"),
        "Invalid username/password.",
    )
    .await;
    assert_client_refused(
        request()
            .basic_auth("stranger", Some(CLIENT_SECRET))
            .send()
            .await
            .expect("sent"),
        "Invalid username/password.",
    )
    .await;
    assert_client_refused(
        request()
            .header("authorization", "Basic %%%")
            .send()
            .await
            .expect("sent"),
        "Invalid basic header. Credentials not correctly base64 encoded.",
    )
    .await;

    // Credentials are checked before the body is read.
    let response = app
        .client
        .post(app.url("/api/token/introspect/"))
        .header("content-type", "text/plain")
        .body("token")
        .send()
        .await
        .expect("sent");
    assert_client_refused(response, "Authentication credentials were not provided.").await;

    // With no client configured, nobody may.
    let closed = spawn_app().await;
    let response = closed
        .client
        .post(closed.url("/api/token/introspect/"))
        .basic_auth(CLIENT, Some(CLIENT_SECRET))
        .form(&[("token", pair.access.as_str())])
        .send()
        .await
        .expect("sent");
    assert_client_refused(response, "Invalid username/password.").await;
}

#[tokio::test]
async fn active_tokens_answer_with_their_claims() {
    let app = app_with_client().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    for token in [&pair.access, &pair.refresh] {
        let answer = introspect(&app, token).await;
        let mut expected = json!({"active": true});
        for (name, value) in claims_of(token).as_object().expect("claims") {
            expected[name] = value.clone();
        }
        expected["username"] = json!("alice");
        assert_eq!(answer, expected);
        assert_eq!(
            answer
                .as_object()
                .expect("object")
                .keys()
                .next()
                .map(String::as_str),
            Some("active")
        );
    }
    // JSON bodies work too, and the no-slash spelling.
    let response = app
        .client
        .post(app.url("/api/token/introspect"))
        .basic_auth(CLIENT, Some(CLIENT_SECRET))
        .json(&json!({"token": pair.access}))
        .send()
        .await
        .expect("sent");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["active"], true);
}

#[tokio::test]
async fn revoked_expired_and_foreign_tokens_are_inactive() {
    let app = app_with_client().await;
    let user = app.create_user("alice", "pw").await;
    let inactive = json!({"active": false});

    let rotated = app.obtain_pair(&user).await;
    assert_eq!(app.refresh(&rotated.refresh).await.status(), 200);
    assert_eq!(
        introspect(&app, &rotated.refresh).await,
        inactive,
        "a rotated-out refresh token"
    );

    let logged_out = app.obtain_pair(&user).await;
    assert_eq!(app.blacklist(&logged_out.refresh).await.status(), 200);
    assert_eq!(introspect(&app, &logged_out.refresh).await, inactive);
    assert_eq!(
        introspect(&app, &logged_out.access).await,
        inactive,
        "logout ends the access token too"
    );

    let expired = sign(&json!({
        "token_type": "access", "exp": now() - 1, "iat": now() - 301,
        "jti": "x", "user_id": user.id.to_string(),
    }));
    let never_issued_refresh = sign(&json!({
        "token_type": "refresh", "exp": now() + 60, "iat": now(),
        "jti": "never-issued", "user_id": user.id.to_string(),
    }));
    let unknown_user = sign(&json!({
        "token_type": "access", "exp": now() + 60, "iat": now(),
        "jti": "y", "user_id": "999",
    }));
    for token in [
        expired,
        never_issued_refresh,
        unknown_user,
        "garbage".to_owned(),
        "x".repeat(9000),
    ] {
        assert_eq!(introspect(&app, &token).await, inactive, "{token:.40}");
    }

    let live = app.obtain_pair(&user).await;
    assert_eq!(introspect(&app, &live.access).await["active"], true);
    app.deactivate("alice").await;
    within_sync_interval(&app, || async {
        introspect(&app, &live.access).await == json!({"active": false})
    })
    .await;
}

/// A client-authenticated introspection request that must be refused with
/// 400 and these field errors.
async fn assert_field_errors(request: reqwest::RequestBuilder, expected: Value) {
    let response = request
        .basic_auth(CLIENT, Some(CLIENT_SECRET))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body, expected);
}

#[tokio::test]
async fn a_missing_or_blank_token_is_a_field_error() {
    let app = app_with_client().await;
    let url = app.url("/api/token/introspect/");
    assert_field_errors(
        app.client
            .post(&url)
            .form(&[("token_type_hint", "access_token")]),
        json!({"token": ["This field is required."]}),
    )
    .await;
    assert_field_errors(
        app.client.post(&url).form(&[("token", "  ")]),
        json!({"token": ["This field may not be blank."]}),
    )
    .await;
    // A token is a string, never a number.
    assert_field_errors(
        app.client.post(&url).json(&json!({"token": 12345})),
        json!({"token": ["Not a valid string."]}),
    )
    .await;
}

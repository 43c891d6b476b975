//! `POST /api/token/refresh/`: rotation, the allow-list, and the race.

use serde_json::{Value, json};

use crate::helpers::{
    SECRET, assert_response, base64_url, claims_of, now, sign, sign_with, spawn_app,
    spawn_app_with, token_error,
};

#[tokio::test]
async fn a_valid_refresh_rotates_and_the_old_token_is_blacklisted() {
    // Without the grace window, which would answer the second use with the same child.
    let app = spawn_app_with(|s| s.sessions.reuse_grace_seconds = 0).await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;

    let response = app.refresh(&pair.refresh).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("json");
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["access", "refresh"]);
    let (old, new) = (
        claims_of(&pair.refresh),
        claims_of(body["refresh"].as_str().unwrap()),
    );
    assert_ne!(old["jti"], new["jti"]);
    assert_eq!(new["user_id"], user.id.to_string());
    let access = claims_of(body["access"].as_str().unwrap());
    assert_eq!(access["token_type"], "access");
    assert_eq!(access["user_id"], user.id.to_string());
    let names: Vec<&String> = access.as_object().unwrap().keys().collect();
    assert_eq!(names, ["token_type", "exp", "iat", "jti", "user_id", "sid"]);
    assert_eq!(access["sid"], old["sid"], "the session carries on");

    assert_eq!(
        app.refresh(body["refresh"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_response(
        app.refresh(&pair.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn tokens_of_the_wrong_kind_or_shape_are_refused_with_simple_jwts_words() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let t = now();
    let jti = "0123456789abcdef0123456789abcdef";
    let hs512 = sign_with(
        SECRET.as_bytes(),
        jsonwebtoken::Algorithm::HS512,
        &json!({"alg": "HS512", "typ": "JWT"}),
        &json!({"token_type": "refresh", "exp": t + 60, "iat": t, "jti": jti, "user_id": "1"}),
    );
    let other_key = sign_with(
        b"another-secret-another-secret-another-secret",
        jsonwebtoken::Algorithm::HS256,
        &json!({"alg": "HS256", "typ": "JWT"}),
        &json!({"token_type": "refresh", "exp": t + 60, "iat": t, "jti": jti, "user_id": "1"}),
    );
    let unsigned = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","typ":"JWT"}"#),
        base64_url(
            &json!({"token_type": "refresh", "exp": t + 60, "jti": jti, "user_id": "1"})
                .to_string()
        )
    );
    let mut tampered = pair.refresh.clone();
    tampered.pop();
    tampered.push(if pair.refresh.ends_with('A') {
        'B'
    } else {
        'A'
    });

    let cases = [
        (pair.access.clone(), "Token has wrong type"),
        ("garbage".to_owned(), "Token is invalid"),
        (tampered, "Token is invalid"),
        (hs512, "Token is invalid"),
        (other_key, "Token is invalid"),
        (unsigned, "Token is invalid"),
        (
            sign(
                &json!({"token_type": "refresh", "exp": t - 10, "iat": t - 100, "jti": jti, "user_id": "1"}),
            ),
            "Token is expired",
        ),
        (
            sign(&json!({"token_type": "refresh", "iat": t, "jti": jti, "user_id": "1"})),
            "Token has no 'exp' claim",
        ),
        (
            sign(&json!({"exp": t + 60, "iat": t, "jti": jti, "user_id": "1"})),
            "Token has no type",
        ),
        (
            sign(&json!({"token_type": "refresh", "exp": t + 60, "iat": t, "user_id": "1"})),
            "Token has no id",
        ),
        (
            sign(&json!({"token_type": "refresh", "exp": "tomorrow", "jti": jti, "user_id": "1"})),
            "Token is invalid",
        ),
        (
            sign(&json!({"token_type": "refresh", "exp": 1e300, "jti": jti, "user_id": "1"})),
            "Token is invalid",
        ),
        (
            sign(&json!({"token_type": "refresh", "exp": u64::MAX, "jti": jti, "user_id": "1"})),
            "Token is invalid",
        ),
        // Validly signed, never issued: the store is an allow-list.
        (
            sign(
                &json!({"token_type": "refresh", "exp": t + 60, "iat": t, "jti": jti, "user_id": user.id.to_string()}),
            ),
            "Token is invalid",
        ),
    ];
    for (token, detail) in cases {
        assert_response(app.refresh(&token).await, 401, token_error(detail)).await;
    }
}

#[tokio::test]
async fn deactivated_deleted_or_unrecognizable_users_have_no_active_account() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "pw").await;
    let bob = app.create_user("bob", "pw").await;
    let alice_pair = app.obtain_pair(&alice).await;
    let bob_pair = app.obtain_pair(&bob).await;
    app.deactivate("alice").await;
    app.delete_user("bob").await;
    let t = now();
    let no_account = json!({ "detail": "No active account found for the given token." });

    assert_response(
        app.refresh(&alice_pair.refresh).await,
        401,
        no_account.clone(),
    )
    .await;
    assert_response(
        app.refresh(&bob_pair.refresh).await,
        401,
        no_account.clone(),
    )
    .await;
    for user_id in [json!("abc"), json!("99999999999999999999999"), json!(-1)] {
        let token = sign(
            &json!({"token_type": "refresh", "exp": t + 60, "iat": t, "jti": "f00", "user_id": user_id}),
        );
        assert_response(app.refresh(&token).await, 401, no_account.clone()).await;
    }

    // Deactivation ended alice's sessions: reactivated, she logs in afresh.
    app.activate("alice").await;
    assert_response(
        app.refresh(&alice_pair.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_eq!(app.obtain("alice", "pw").await.status(), 200);
}

#[tokio::test]
async fn twenty_concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    // Without the grace window, which answers retries with the winner's token.
    let app = spawn_app_with(|s| s.sessions.reuse_grace_seconds = 0).await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;

    let attempts = (0..20).map(|_| app.refresh(&pair.refresh));
    let responses = futures_util::future::join_all(attempts).await;

    let mut statuses = Vec::new();
    let mut winners = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        if status == 200 {
            winners.push(body["refresh"].as_str().expect("refresh").to_owned());
        } else {
            assert_eq!((status, body), (401, token_error("Token is blacklisted")));
        }
        statuses.push(status);
    }
    assert_eq!(winners.len(), 1, "statuses: {statuses:?}");
    // With no grace, the other nineteen uses were reuse: the session is over.
    assert_response(
        app.refresh(&winners[0]).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn with_rotation_off_only_an_access_token_comes_back() {
    let app = spawn_app_with(|s| s.jwt.rotate_refresh_tokens = false).await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;

    for _ in 0..2 {
        let response = app.refresh(&pair.refresh).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["access"]);
    }
}

#[tokio::test]
async fn with_blacklist_after_rotation_off_the_old_token_stays_usable() {
    let app = spawn_app_with(|s| s.jwt.blacklist_after_rotation = false).await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;

    assert_eq!(app.refresh(&pair.refresh).await.status(), 200);
    assert_eq!(app.refresh(&pair.refresh).await.status(), 200);
}

#[tokio::test]
async fn simple_jwt_tokens_are_adopted_once_when_migrating() {
    let app = spawn_app_with(|s| {
        s.jwt.adopt_unknown_refresh_tokens = true;
        s.sessions.reuse_grace_seconds = 0;
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    let t = now();
    // As Simple JWT issued it before the cut-over (same key, no kid).
    let legacy = sign(
        &json!({"token_type": "refresh", "exp": t + 3600, "iat": t - 60, "jti": "5b0e6e1c9d5a4a0f8f7d0c1b2a394857", "user_id": user.id.to_string()}),
    );
    // Version 4 wrote the id as a number.
    let older = sign(
        &json!({"token_type": "refresh", "exp": t + 3600, "iat": t - 60, "jti": "6c1f7f2dae6b5b1f9f8e1d2c3b4a5968", "user_id": user.id}),
    );

    assert_eq!(app.verify(&legacy).await.status(), 200);
    let response = app.refresh(&legacy).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    // Adopted, it rotates like any other token: its child works ...
    assert_eq!(
        app.refresh(body["refresh"].as_str().unwrap())
            .await
            .status(),
        200
    );
    // ... and the adopted token itself is used up.
    assert_response(
        app.refresh(&legacy).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_eq!(app.refresh(&older).await.status(), 200);

    // Still refused: a stranger's token naming no user we have.
    let orphan = sign(
        &json!({"token_type": "refresh", "exp": t + 3600, "iat": t, "jti": "77", "user_id": "4242"}),
    );
    assert_response(
        app.refresh(&orphan).await,
        401,
        json!({"detail": "No active account found for the given token."}),
    )
    .await;
}

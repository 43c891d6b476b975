//! Sliding tokens (`sliding.enabled`), row by row of the contract's
//! "Opt-in: sliding tokens" section, and what latchkey adds: a sliding
//! token belongs to a session, which ends as any other does.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, assert_response, bearer_error, claims_of, now, sign, spawn_app,
    spawn_app_with, token_error, within_sync_interval,
};

async fn sliding_app() -> TestApp {
    spawn_app_with(|settings| settings.sliding.enabled = true).await
}

/// Simple JWT's Bearer error with both token classes configured.
fn both_classes(access: &str, sliding: &str) -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [
            {"token_class": "AccessToken", "token_type": "access", "message": access},
            {"token_class": "SlidingToken", "token_type": "sliding", "message": sliding},
        ],
    })
}

async fn obtain_sliding(app: &TestApp, user: &TestUser) -> String {
    let response = app
        .post_json(
            "/api/token/sliding/",
            &json!({"username": user.username, "password": user.password}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    body["token"].as_str().expect("token").to_owned()
}

async fn slide(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/token/sliding/refresh/", &json!({ "token": token }))
        .await
}

async fn slid(app: &TestApp, token: &str) -> String {
    let response = slide(app, token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    body["token"].as_str().expect("token").to_owned()
}

/// Waits until the clock is in a later whole second than `token`'s `iat`.
async fn next_second(token: &str) {
    let iat = claims_of(token)["iat"].as_i64().expect("iat");
    while now() <= iat {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn last_login(
    app: &TestApp,
    id: i64,
) -> impl std::future::Future<Output = Option<chrono::NaiveDateTime>> + '_ {
    app.with_db(move |conn| {
        latchkey::db::users::find_by_id(conn, id)
            .expect("read")
            .expect("user")
            .last_login
    })
}

#[tokio::test]
async fn login_gives_one_token_with_simple_jwts_claims_in_order() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    assert_eq!(last_login(&app, user.id).await, None);
    let token = obtain_sliding(&app, &user).await;
    assert!(
        last_login(&app, user.id).await.is_some(),
        "last_login updated"
    );

    let claims = claims_of(&token);
    let names: Vec<&str> = claims
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "token_type",
            "exp",
            "iat",
            "jti",
            "refresh_exp",
            "user_id",
            "sid"
        ]
    );
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["token_type"], "sliding");
    assert_eq!(claims["exp"].as_i64(), Some(iat + 300));
    assert_eq!(claims["refresh_exp"].as_i64(), Some(iat + 86_400));
    assert_eq!(claims["user_id"], user.id.to_string());
    let jti = claims["jti"].as_str().expect("jti");
    assert!(jti.len() == 32 && jti.bytes().all(|b| b.is_ascii_hexdigit()));

    // A form body too.
    let response = app
        .client
        .post(app.url("/api/token/sliding/"))
        .form(&[("username", "alice"), ("password", "pw")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    // The token is a Bearer credential and verifies.
    assert_eq!(app.me(&token).await.status(), 200);
    assert_response(app.verify(&token).await, 200, json!({})).await;
}

#[tokio::test]
async fn wrong_credentials_and_field_errors_are_answered_as_for_the_pair() {
    let app = sliding_app().await;
    app.create_user("alice", "pw").await;
    app.create_user_with("idle", "pw", false).await;
    let no_account = json!({"detail": "No active account found with the given credentials"});
    for (username, password) in [
        ("alice", "wrong"),
        ("nobody", "pw"),
        ("ALICE", "pw"),
        ("idle", "pw"),
    ] {
        assert_response(
            app.post_json(
                "/api/token/sliding/",
                &json!({"username": username, "password": password}),
            )
            .await,
            401,
            no_account.clone(),
        )
        .await;
    }
    assert_response(
        app.post_json("/api/token/sliding/", &json!({})).await,
        400,
        json!({"username": ["This field is required."], "password": ["This field is required."]}),
    )
    .await;
    assert_response(
        app.post_json("/api/token/sliding/", &json!({"username": " ", "password": null}))
            .await,
        400,
        json!({"username": ["This field may not be blank."], "password": ["This field may not be null."]}),
    )
    .await;
}

#[tokio::test]
async fn refresh_slides_exp_and_iat_and_keeps_the_rest() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let token = obtain_sliding(&app, &user).await;
    next_second(&token).await;
    let slid_token = slid(&app, &token).await;
    let (before, after) = (claims_of(&token), claims_of(&slid_token));
    for kept in ["token_type", "jti", "refresh_exp", "user_id", "sid"] {
        assert_eq!(before[kept], after[kept], "{kept}");
    }
    let iat = after["iat"].as_i64().expect("iat");
    assert!(iat > before["iat"].as_i64().expect("iat"));
    assert_eq!(after["exp"].as_i64(), Some(iat + 300));
    assert_eq!(
        after
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        before
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        "same claims, same order"
    );

    // Refresh blacklists nothing: the presented token still works and
    // slides again (within the reuse grace); two refreshes in one second
    // give the identical token.
    assert_eq!(app.me(&token).await.status(), 200);
    let again = slid(&app, &token).await;
    let twice = slid(&app, &slid_token).await;
    assert_eq!(claims_of(&again)["jti"], before["jti"]);
    if claims_of(&twice)["iat"] == claims_of(&again)["iat"] {
        assert_eq!(again, twice);
    }
    assert_eq!(app.me(&slid_token).await.status(), 200);
}

#[tokio::test]
async fn the_new_exp_is_not_capped_at_refresh_exp() {
    let app = spawn_app_with(|settings| {
        settings.sliding.enabled = true;
        settings.sliding.refresh_lifetime_seconds = 30;
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    let token = slid(&app, &obtain_sliding(&app, &user).await).await;
    let claims = claims_of(&token);
    assert!(
        claims["exp"].as_i64() > claims["refresh_exp"].as_i64(),
        "{claims}"
    );
}

#[tokio::test]
async fn refresh_takes_token_not_refresh() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let token = obtain_sliding(&app, &user).await;
    assert_response(
        app.post_json("/api/token/sliding/refresh/", &json!({ "refresh": token }))
            .await,
        400,
        json!({"token": ["This field is required."]}),
    )
    .await;
}

#[tokio::test]
async fn refresh_refuses_what_cannot_slide_in_simple_jwts_words() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let t = now();
    let uid = user.id.to_string();
    let forged = |claims: Value| sign(&claims);
    let cases = [
        // exp passed, refresh_exp not: an expired token cannot slide.
        (
            forged(
                json!({"token_type": "sliding", "exp": t - 1, "iat": t - 60, "jti": "a1", "refresh_exp": t + 3600, "user_id": uid}),
            ),
            "Token is expired",
        ),
        (
            forged(
                json!({"token_type": "sliding", "exp": t + 60, "iat": t, "jti": "a2", "user_id": uid}),
            ),
            "Token has no 'refresh_exp' claim",
        ),
        (pair.access.clone(), "Token has wrong type"),
        (pair.refresh.clone(), "Token has wrong type"),
        ("garbage".to_owned(), "Token is invalid"),
        // Simple JWT: 500 (it reads jti before checking it is there).
        (
            forged(
                json!({"token_type": "sliding", "exp": t + 60, "iat": t, "refresh_exp": t + 3600, "user_id": uid}),
            ),
            "Token has no id",
        ),
        (
            forged(
                json!({"exp": t + 60, "iat": t, "jti": "a3", "refresh_exp": t + 3600, "user_id": uid}),
            ),
            "Token has no type",
        ),
    ];
    for (token, message) in cases {
        assert_response(slide(&app, &token).await, 401, token_error(message)).await;
    }

    // A blacklisted refresh token: the blacklist is checked before the type.
    assert_response(app.blacklist(&pair.refresh).await, 200, json!({})).await;
    assert_response(
        slide(&app, &pair.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn past_refresh_exp_a_token_still_authenticates_until_exp_but_cannot_slide() {
    let app = spawn_app_with(|settings| {
        settings.sliding.enabled = true;
        settings.sliding.refresh_lifetime_seconds = 1;
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    let token = obtain_sliding(&app, &user).await;
    let deadline = claims_of(&token)["refresh_exp"]
        .as_i64()
        .expect("refresh_exp");
    while now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_response(
        slide(&app, &token).await,
        401,
        token_error("Token 'refresh_exp' claim has expired"),
    )
    .await;
    assert_eq!(app.me(&token).await.status(), 200);
    assert_response(app.verify(&token).await, 200, json!({})).await;
}

#[tokio::test]
async fn sliding_tokens_are_the_wrong_type_for_the_pairs_endpoints_and_verify() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let token = obtain_sliding(&app, &user).await;
    assert_response(
        app.refresh(&token).await,
        401,
        token_error("Token has wrong type"),
    )
    .await;
    assert_response(
        app.blacklist(&token).await,
        401,
        token_error("Token has wrong type"),
    )
    .await;
    // Nothing was blacklisted.
    assert_eq!(app.me(&token).await.status(), 200);
    slid(&app, &token).await;
    assert_response(app.verify(&token).await, 200, json!({})).await;
}

#[tokio::test]
async fn a_deactivated_or_deleted_users_token_neither_slides_nor_authenticates() {
    let app = sliding_app().await;
    let alice = app.create_user("alice", "pw").await;
    let bob = app.create_user("bob", "pw").await;
    let alices = obtain_sliding(&app, &alice).await;
    let bobs = obtain_sliding(&app, &bob).await;
    app.deactivate("alice").await;
    app.delete_user("bob").await;
    // Made as the CLI makes them: enforced within the sync interval.
    within_sync_interval(&app, || async {
        app.me(&alices).await.status() == 401 && app.me(&bobs).await.status() == 401
    })
    .await;

    // Simple JWT answers 200 here (its refresh never looks at the user);
    // latchkey ended their sessions, so the tokens do not slide.
    let no_account = json!({"detail": "No active account found for the given token."});
    assert_response(slide(&app, &alices).await, 401, no_account.clone()).await;
    assert_response(slide(&app, &bobs).await, 401, no_account).await;
    assert_response(
        app.me(&alices).await,
        401,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    )
    .await;
    assert_response(
        app.me(&bobs).await,
        401,
        json!({"detail": "User not found", "code": "user_not_found"}),
    )
    .await;
    // Reactivated, the ended session stays ended.
    app.activate("alice").await;
    within_sync_interval(&app, || async {
        let body: Value = app.me(&alices).await.json().await.expect("json");
        body["code"] != "user_inactive"
    })
    .await;
    assert_response(
        app.me(&alices).await,
        401,
        both_classes("Token has wrong type", "Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn bearer_lists_both_token_classes_when_sliding_is_on() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let t = now();
    let uid = user.id.to_string();
    for (token, message) in [
        ("garbage".to_owned(), "Token is invalid"),
        (
            sign(
                &json!({"token_type": "sliding", "exp": t - 1, "iat": t - 60, "jti": "b1", "refresh_exp": t + 60, "user_id": uid}),
            ),
            "Token is expired",
        ),
        (
            sign(
                &json!({"token_type": "access", "exp": t - 1, "iat": t - 60, "jti": "b2", "user_id": uid}),
            ),
            "Token is expired",
        ),
        (pair.refresh.clone(), "Token has wrong type"),
    ] {
        assert_response(app.me(&token).await, 401, both_classes(message, message)).await;
    }
    // A blacklisted refresh token: the sliding class checks the blacklist
    // first. (Blacklisting it ends its session, its access token too.)
    let other = app.obtain_pair(&user).await;
    assert_response(app.blacklist(&pair.refresh).await, 200, json!({})).await;
    assert_response(
        app.me(&pair.refresh).await,
        401,
        both_classes("Token has wrong type", "Token is blacklisted"),
    )
    .await;
    // Access tokens still authenticate.
    assert_eq!(app.me(&other.access).await.status(), 200);
    // Simple JWT: 500 for a token without jti.
    let no_jti = sign(
        &json!({"token_type": "sliding", "exp": t + 60, "iat": t, "refresh_exp": t + 60, "user_id": uid}),
    );
    assert_response(
        app.me(&no_jti).await,
        401,
        both_classes("Token has no id", "Token has no id"),
    )
    .await;
}

#[tokio::test]
async fn a_sliding_session_ends_like_any_other() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let token = obtain_sliding(&app, &user).await;
    let sid = claims_of(&token)["sid"].as_str().expect("sid").to_owned();

    // Listed among the user's sessions, and ended by deleting it.
    let listed: Value = app
        .client
        .get(app.url("/api/sessions/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(listed.to_string().contains(&sid), "{listed}");
    let ended = app
        .client
        .delete(app.url(&format!("/api/sessions/{sid}/")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(ended.status(), 204);
    assert_response(
        app.me(&token).await,
        401,
        both_classes("Token has wrong type", "Token is blacklisted"),
    )
    .await;
    assert_response(
        slide(&app, &token).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_eq!(app.verify(&token).await.status(), 401);

    // Logout everywhere, by a sliding token.
    let other = obtain_sliding(&app, &user).await;
    let third = obtain_sliding(&app, &user).await;
    assert_eq!(app.logout_all(&other).await.status(), 200);
    for token in [&other, &third] {
        assert_eq!(app.me(token).await.status(), 401);
        assert_response(
            slide(&app, token).await,
            401,
            token_error("Token is blacklisted"),
        )
        .await;
    }

    // A password change set by the operator.
    let fourth = obtain_sliding(&app, &user).await;
    app.set_password("alice", "a new password").await;
    within_sync_interval(&app, || async { app.me(&fourth).await.status() == 401 }).await;
    assert_response(
        slide(&app, &fourth).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn a_superseded_token_slid_after_the_grace_is_reuse_and_ends_the_session() {
    let app = spawn_app_with(|settings| {
        settings.sliding.enabled = true;
        settings.sessions.reuse_grace_seconds = 0;
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    let stolen = obtain_sliding(&app, &user).await;
    next_second(&stolen).await;
    let current = slid(&app, &stolen).await;
    next_second(&current).await;
    // The thief's copy comes back after the owner slid past it.
    assert_response(
        slide(&app, &stolen).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    // The whole session ended: the owner's token too.
    assert_eq!(app.me(&current).await.status(), 401);
    assert_response(
        slide(&app, &current).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn only_the_token_just_replaced_may_come_back_within_the_grace() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let first = obtain_sliding(&app, &user).await;
    next_second(&first).await;
    let second = slid(&app, &first).await;
    // A retry with the token just replaced gets the newest again.
    assert_eq!(slid(&app, &first).await, second);
    next_second(&second).await;
    let third = slid(&app, &second).await;
    // Two generations back is reuse, however soon: the session ends.
    assert_response(
        slide(&app, &first).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_eq!(app.me(&third).await.status(), 401);
}

#[tokio::test]
async fn sliding_the_newest_again_within_its_second_keeps_the_retry_of_the_one_before() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let first = obtain_sliding(&app, &user).await;
    next_second(&first).await;
    let second = slid(&app, &first).await;
    // Within the same second, the newest slides to itself.
    let again = slid(&app, &second).await;
    if again == second {
        // A late retry with the first token still gets the newest.
        assert_eq!(slid(&app, &first).await, second);
        assert_eq!(app.me(&second).await.status(), 200);
    }
}

#[tokio::test]
async fn racing_refreshes_of_one_token_never_fork_the_session() {
    let app = sliding_app().await;
    let user = app.create_user("alice", "pw").await;
    let token = obtain_sliding(&app, &user).await;
    next_second(&token).await;
    let answers = futures_util::future::join_all((0..8).map(|_| slide(&app, &token))).await;
    let mut tokens = Vec::new();
    for answer in answers {
        assert_eq!(answer.status(), 200);
        let body: Value = answer.json().await.expect("json");
        tokens.push(body["token"].as_str().expect("token").to_owned());
    }
    let jtis: std::collections::HashSet<String> = tokens
        .iter()
        .map(|t| claims_of(t)["jti"].as_str().expect("jti").to_owned())
        .collect();
    assert_eq!(jtis.len(), 1, "one session, one token id");
}

#[tokio::test]
async fn with_sliding_off_the_routes_are_404_and_bearer_is_unchanged() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let not_found = json!({"detail": "Not found."});
    for path in [
        "/api/token/sliding/",
        "/api/token/sliding/refresh/",
        "/api/token/sliding",
        "/api/token/sliding/refresh",
    ] {
        assert_response(
            app.post_json(
                path,
                &json!({"username": "alice", "password": "pw", "token": "x"}),
            )
            .await,
            404,
            not_found.clone(),
        )
        .await;
        let get = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(get.status(), 404, "{path}");
    }
    // A sliding token (signed with the service's key) is not a Bearer
    // credential, and errors list the access class only.
    let t = now();
    let sliding = sign(
        &json!({"token_type": "sliding", "exp": t + 60, "iat": t, "jti": "c1", "refresh_exp": t + 60, "user_id": user.id.to_string()}),
    );
    assert_response(
        app.me(&sliding).await,
        401,
        bearer_error("Token has wrong type"),
    )
    .await;
    assert_response(
        app.me("garbage").await,
        401,
        bearer_error("Token is invalid"),
    )
    .await;
    let pair = app.obtain_pair(&user).await;
    assert_eq!(app.me(&pair.access).await.status(), 200);
}

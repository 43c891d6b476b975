//! DRF's token authentication (`drf_token.enabled`), row by row of the
//! contract's "Opt-in: DRF token authentication" section, and what
//! latchkey adds: keys stored only as digests, checked from memory, ended
//! with the user's sessions.

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, assert_response, bearer_error, latchkey_with, spawn_app, spawn_app_with,
    text, within_sync_interval,
};

const DRF_SECRET: &str = "drf-token-secret-of-at-least-32-bytes-long";

async fn drf_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.drf_token.enabled = true;
        settings.drf_token.secret = DRF_SECRET.to_owned();
    })
    .await
}

async fn obtain_key_as(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api-token-auth/",
        &json!({"username": username, "password": password}),
    )
    .await
}

async fn obtain_key(app: &TestApp, user: &TestUser) -> String {
    let response = obtain_key_as(app, &user.username, &user.password).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = response.json().await.expect("json");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    let key = body["token"].as_str().expect("token").to_owned();
    assert!(
        key.len() == 40
            && key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{key}"
    );
    key
}

async fn me_with(app: &TestApp, header: HeaderValue) -> reqwest::Response {
    app.client
        .get(app.url("/api/me/"))
        .header(AUTHORIZATION, header)
        .send()
        .await
        .expect("sent")
}

async fn me_by_key(app: &TestApp, key: &str) -> reqwest::Response {
    app.me_with_header(Some(&format!("Token {key}"))).await
}

fn detail(message: &str) -> Value {
    json!({ "detail": message })
}

#[tokio::test]
async fn a_login_gives_the_same_key_every_time_and_leaves_last_login() {
    let app = drf_app().await;
    let user = app.create_user("alice", "pw").await;
    let key = obtain_key(&app, &user).await;
    assert_eq!(obtain_key(&app, &user).await, key);

    // A form and a multipart body too.
    let form = app
        .client
        .post(app.url("/api-token-auth/"))
        .form(&[("username", "alice"), ("password", "pw")])
        .send()
        .await
        .expect("sent");
    assert_response(form, 200, json!({ "token": key })).await;
    let multipart = reqwest::multipart::Form::new()
        .text("username", "alice")
        .text("password", "pw");
    let multipart = app
        .client
        .post(app.url("/api-token-auth"))
        .multipart(multipart)
        .send()
        .await
        .expect("sent");
    assert_eq!(multipart.headers()["cache-control"], "no-store");
    assert_response(multipart, 200, json!({ "token": key })).await;

    let last_login = app
        .with_db(move |conn| {
            latchkey::db::users::find_by_id(conn, user.id)
                .expect("read")
                .expect("user")
                .last_login
        })
        .await;
    assert_eq!(last_login, None, "obtain_auth_token leaves last_login");

    // Stored only as a digest.
    let needle = key.clone();
    let stored: Vec<String> = app
        .with_db(move |conn| {
            use diesel::prelude::*;
            use latchkey::db::schema::drf_token_keys;
            drf_token_keys::table
                .select(drf_token_keys::digest)
                .load(conn)
                .expect("read")
        })
        .await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&needle));
    assert_eq!(stored[0], latchkey::sessions::drf_keys::stored_digest(&key));
}

#[tokio::test]
async fn credentials_that_do_not_log_in_are_a_400_without_a_challenge() {
    let app = drf_app().await;
    app.create_user("alice", "pw").await;
    app.create_user_with("idle", "pw", false).await;
    let unable = json!({"non_field_errors": ["Unable to log in with provided credentials."]});
    for (username, password) in [
        ("alice", "wrong"),
        ("nobody", "pw"),
        ("idle", "pw"),
        ("ALICE", "pw"),
        // The password is not trimmed.
        ("alice", " pw "),
        ("alice", "   "),
    ] {
        assert_response(
            obtain_key_as(&app, username, password).await,
            400,
            unable.clone(),
        )
        .await;
    }
    // The username is.
    assert_eq!(obtain_key_as(&app, " alice ", "pw").await.status(), 200);
}

#[tokio::test]
async fn field_errors_are_drfs() {
    let app = drf_app().await;
    assert_response(
        app.post_json("/api-token-auth/", &json!({})).await,
        400,
        json!({"username": ["This field is required."], "password": ["This field is required."]}),
    )
    .await;
    assert_response(
        app.post_json("/api-token-auth/", &json!({"username": "   ", "password": ""}))
            .await,
        400,
        json!({"username": ["This field may not be blank."], "password": ["This field may not be blank."]}),
    )
    .await;
    assert_response(
        app.post_json(
            "/api-token-auth/",
            &json!({"username": null, "password": ["x"]}),
        )
        .await,
        400,
        json!({"username": ["This field may not be null."], "password": ["Not a valid string."]}),
    )
    .await;
    assert_response(
        app.post_raw("/api-token-auth/", Some("text/plain"), "x")
            .await,
        415,
        json!({"detail": "Unsupported media type \"text/plain\" in request."}),
    )
    .await;
    let get = app
        .client
        .get(app.url("/api-token-auth/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(get.headers()["allow"], "POST, OPTIONS");
    assert_response(get, 405, json!({"detail": "Method \"GET\" not allowed."})).await;
}

#[tokio::test]
async fn a_bad_authorization_header_on_the_login_is_refused_even_with_the_right_password() {
    let app = drf_app().await;
    let user = app.create_user("alice", "pw").await;
    let login_with = |header: &'static str| {
        app.client
            .post(app.url("/api-token-auth/"))
            .header(AUTHORIZATION, header)
            .json(&json!({"username": "alice", "password": "pw"}))
            .send()
    };
    assert_response(
        login_with("Bearer garbage").await.expect("sent"),
        401,
        bearer_error("Token is invalid"),
    )
    .await;
    assert_response(
        login_with("Token").await.expect("sent"),
        401,
        detail("Invalid token header. No credentials provided."),
    )
    .await;
    assert_response(
        login_with("Token 0123456789abcdef0123456789abcdef01234567")
            .await
            .expect("sent"),
        401,
        detail("Invalid token."),
    )
    .await;
    // The header is checked before the body is read.
    let unknown_key_bad_body = app
        .client
        .post(app.url("/api-token-auth/"))
        // A key never seen before: its lookup waits on the database.
        .header(
            AUTHORIZATION,
            "Token fedcba9876543210fedcba9876543210fedcba98",
        )
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_response(unknown_key_bad_body, 401, detail("Invalid token.")).await;
    // Credentials no class reads are not an error.
    assert_eq!(
        login_with("Basic YWxpY2U6cHc=")
            .await
            .expect("sent")
            .status(),
        200
    );
    let key = obtain_key(&app, &user).await;
    let with_own_key = app
        .client
        .post(app.url("/api-token-auth/"))
        .header(AUTHORIZATION, format!("Token {key}"))
        .json(&json!({"username": "alice", "password": "pw"}))
        .send()
        .await
        .expect("sent");
    assert_response(with_own_key, 200, json!({ "token": key })).await;
}

#[tokio::test]
async fn the_key_authenticates_bearer_routes_in_every_spelling_drf_takes() {
    let app = drf_app().await;
    let user = app.create_user("alice", "pw").await;
    let key = obtain_key(&app, &user).await;
    for header in [
        format!("Token {key}"),
        format!("token {key}"),
        format!("TOKEN {key}"),
        format!("Token   {key}"),
        format!("Token\t{key}"),
    ] {
        let response = app.me_with_header(Some(&header)).await;
        assert_eq!(response.status(), 200, "{header:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["id"], user.id);
    }
    // Other Bearer routes too.
    let sessions = app
        .client
        .get(app.url("/api/sessions/"))
        .header(AUTHORIZATION, format!("Token {key}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(sessions.status(), 200);
}

#[tokio::test]
async fn refused_keys_and_headers_get_drfs_bodies_and_the_bearer_challenge() {
    let app = drf_app().await;
    let user = app.create_user("alice", "pw").await;
    let gone = app.create_user("gone", "pw").await;
    let key = obtain_key(&app, &user).await;
    let gone_key = obtain_key(&app, &gone).await;
    let pair = app.obtain_pair(&user).await;
    app.delete_user("gone").await;

    for unknown in [
        key.to_uppercase(),
        pair.access.clone(),
        "abc".to_owned(),
        "x".repeat(41),
    ] {
        assert_response(
            me_by_key(&app, &unknown).await,
            401,
            detail("Invalid token."),
        )
        .await;
    }
    within_sync_interval(&app, || async {
        me_by_key(&app, &gone_key).await.status() == 401
    })
    .await;
    assert_response(
        me_by_key(&app, &gone_key).await,
        401,
        detail("Invalid token."),
    )
    .await;
    assert_response(
        app.me_with_header(Some("Token")).await,
        401,
        detail("Invalid token header. No credentials provided."),
    )
    .await;
    assert_response(
        app.me_with_header(Some(&format!("Token {key} more"))).await,
        401,
        detail("Invalid token header. Token string should not contain spaces."),
    )
    .await;
    assert_response(
        me_with(
            &app,
            HeaderValue::from_bytes(b"Token \xff\xfeabc").expect("a header of any bytes"),
        )
        .await,
        401,
        detail("Invalid token header. Token string should not contain invalid characters."),
    )
    .await;
    assert_response(
        app.me_with_header(Some(&format!("Bearer {key}"))).await,
        401,
        bearer_error("Token is invalid"),
    )
    .await;
    // Every 401 carries the first class's challenge.
    let refused = me_by_key(&app, "abc").await;
    assert_eq!(
        refused.headers()["www-authenticate"],
        r#"Bearer realm="api""#
    );
    // Access tokens still work beside keys.
    assert_eq!(app.me(&pair.access).await.status(), 200);
}

#[tokio::test]
async fn a_deactivated_users_key_is_refused_and_ended() {
    let app = drf_app().await;
    let user = app.create_user("alice", "pw").await;
    let key = obtain_key(&app, &user).await;
    assert_eq!(me_by_key(&app, &key).await.status(), 200);
    app.deactivate("alice").await;
    within_sync_interval(&app, || async {
        me_by_key(&app, &key).await.status() == 401
    })
    .await;
    assert_response(
        me_by_key(&app, &key).await,
        401,
        detail("User inactive or deleted."),
    )
    .await;
    // The deactivation ended the key: reactivated, the user's old key
    // stays refused.
    app.activate("alice").await;
    within_sync_interval(&app, || async {
        let body: Value = me_by_key(&app, &key).await.json().await.expect("json");
        body == detail("Invalid token.")
    })
    .await;
    // The next login gives a new key.
    let new_key = obtain_key(&app, &user).await;
    assert_ne!(new_key, key);
    assert_eq!(me_by_key(&app, &new_key).await.status(), 200);
}

#[tokio::test]
async fn an_inactive_users_key_is_user_inactive_or_deleted() {
    let app = drf_app().await;
    let user = app.create_user("alice", "pw").await;
    let key = obtain_key(&app, &user).await;
    // Deactivated without ending anything (as a direct database change
    // would): DRF's own answer.
    let id = user.id;
    app.with_db(move |conn| {
        use diesel::prelude::*;
        use latchkey::db::schema::users;
        diesel::update(users::table.find(id))
            .set(users::is_active.eq(false))
            .execute(conn)
            .expect("updated");
    })
    .await;
    app.state.sessions.user_changed(
        latchkey::db::users::UserChange {
            user_id: id,
            ended_sessions: Vec::new(),
            at: chrono::Utc::now().naive_utc(),
        },
        latchkey::db::sessions::Reason::UserDeactivated,
    );
    assert_response(
        me_by_key(&app, &key).await,
        401,
        detail("User inactive or deleted."),
    )
    .await;
}

#[tokio::test]
async fn keys_end_with_logout_everywhere_and_password_changes_but_the_callers() {
    let app = drf_app().await;
    let user = app.create_user("alice", "a first password").await;
    let key = obtain_key(&app, &user).await;
    let pair = app.obtain_pair(&user).await;

    // Logout everywhere (by an access token) ends the key.
    assert_eq!(app.logout_all(&pair.access).await.status(), 200);
    assert_response(me_by_key(&app, &key).await, 401, detail("Invalid token.")).await;

    // A password change by the key's holder keeps that key, ends the rest.
    let key = obtain_key(&app, &user).await;
    let pair = app.obtain_pair(&user).await;
    let changed = app
        .client
        .post(app.url("/api/password/change/"))
        .header(AUTHORIZATION, format!("Token {key}"))
        .json(&json!({
            "old_password": "a first password",
            "new_password1": "a second password",
            "new_password2": "a second password",
        }))
        .send()
        .await
        .expect("sent");
    assert_eq!(changed.status(), 200);
    assert_eq!(me_by_key(&app, &key).await.status(), 200);
    assert_eq!(app.me(&pair.access).await.status(), 401);

    // A password change by the operator ends it.
    app.set_password("alice", "a third password").await;
    within_sync_interval(&app, || async {
        me_by_key(&app, &key).await.status() == 401
    })
    .await;
    assert_response(me_by_key(&app, &key).await, 401, detail("Invalid token.")).await;

    // A password change by a JWT ends every key.
    let user = TestUser {
        password: "a third password".to_owned(),
        ..user
    };
    let key = obtain_key(&app, &user).await;
    let pair = app.obtain_pair(&user).await;
    let changed = app
        .client
        .post(app.url("/api/password/change/"))
        .bearer_auth(&pair.access)
        .json(&json!({
            "old_password": "a third password",
            "new_password1": "a fourth password",
            "new_password2": "a fourth password",
        }))
        .send()
        .await
        .expect("sent");
    assert_eq!(changed.status(), 200);
    assert_response(me_by_key(&app, &key).await, 401, detail("Invalid token.")).await;
}

#[tokio::test]
async fn a_key_seen_before_is_checked_from_memory_until_the_feed_says_otherwise() {
    let app = drf_app().await;
    let user = app.create_user("alice", "pw").await;
    let key = obtain_key(&app, &user).await;
    assert_eq!(me_by_key(&app, &key).await.status(), 200);
    // The row goes behind the service's back (no change published): the
    // key is answered from memory, without a query.
    let id = user.id;
    app.with_db(move |conn| {
        latchkey::db::drf_keys::delete_for_user(conn, id, None).expect("deleted")
    })
    .await;
    assert_eq!(me_by_key(&app, &key).await.status(), 200);
    // A change to the user, read from the feed, drops it.
    let id = user.id;
    app.with_db(move |conn| {
        latchkey::db::users::with_user_locked(conn, latchkey::db::users::UserKey::Id(id), |_, _| {
            Ok(())
        })
        .expect("published")
    })
    .await;
    within_sync_interval(&app, || async {
        me_by_key(&app, &key).await.status() == 401
    })
    .await;
}

#[tokio::test]
async fn the_cli_prints_the_key_a_login_gets_and_rotates_it() {
    let app = drf_app().await;
    let user = app.create_user("alice", "pw").await;
    let env = [("LATCHKEY_DRF_TOKEN__SECRET", DRF_SECRET)];
    let printed = latchkey_with(&app.database_url(), &env, &["users", "token", "alice"], "");
    assert!(printed.status.success(), "{}", text(&printed.stderr));
    let key = text(&printed.stdout).trim().to_owned();
    assert_eq!(obtain_key(&app, &user).await, key);
    assert_eq!(me_by_key(&app, &key).await.status(), 200);

    let rotated = latchkey_with(
        &app.database_url(),
        &env,
        &["users", "token", "alice", "--rotate"],
        "",
    );
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let new_key = text(&rotated.stdout).trim().to_owned();
    assert_ne!(new_key, key);
    // (The test's runtime, which also polls the app's change feed, was
    // blocked while the command ran.)
    within_sync_interval(&app, || async {
        me_by_key(&app, &key).await.status() == 401
    })
    .await;
    assert_response(me_by_key(&app, &key).await, 401, detail("Invalid token.")).await;
    assert_eq!(me_by_key(&app, &new_key).await.status(), 200);
    assert_eq!(obtain_key(&app, &user).await, new_key);

    let nobody = latchkey_with(&app.database_url(), &env, &["users", "token", "nobody"], "");
    assert!(!nobody.status.success());
    assert!(
        text(&nobody.stderr).contains("no user named"),
        "{}",
        text(&nobody.stderr)
    );
}

#[tokio::test]
async fn with_drf_tokens_off_the_login_is_404_and_token_headers_are_not_read() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    for path in ["/api-token-auth/", "/api-token-auth"] {
        assert_response(
            app.post_json(path, &json!({"username": "alice", "password": "pw"}))
                .await,
            404,
            json!({"detail": "Not found."}),
        )
        .await;
        let get = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(get.status(), 404, "{path}");
    }
    let not_provided = json!({"detail": "Authentication credentials were not provided."});
    for header in ["Token", "Token abc", "Token a b"] {
        assert_response(
            app.me_with_header(Some(header)).await,
            401,
            not_provided.clone(),
        )
        .await;
    }
    let pair = app.obtain_pair(&user).await;
    assert_eq!(app.me(&pair.access).await.status(), 200);
}

#[tokio::test]
async fn both_login_paths_count_against_the_login_limits() {
    let app = spawn_app_with(|settings| {
        settings.drf_token.enabled = true;
        settings.drf_token.secret = DRF_SECRET.to_owned();
        settings.sliding.enabled = true;
        settings.throttle.login_failures = latchkey::settings::RateSettings {
            per_minute: 6,
            burst: 3,
        };
    })
    .await;
    app.create_user("alice", "pw").await;
    assert_eq!(obtain_key_as(&app, "alice", "wrong").await.status(), 400);
    assert_eq!(obtain_key_as(&app, "alice", "wrong").await.status(), 400);
    let sliding = app
        .post_json(
            "/api/token/sliding/",
            &json!({"username": "alice", "password": "wrong"}),
        )
        .await;
    assert_eq!(sliding.status(), 401);
    for path in ["/api-token-auth/", "/api/token/sliding/"] {
        let throttled = app
            .post_json(path, &json!({"username": "alice", "password": "pw"}))
            .await;
        assert_eq!(throttled.status(), 429, "{path}");
        assert!(throttled.headers().contains_key("retry-after"));
    }
}

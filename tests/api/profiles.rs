//! Profiles, groups and claims: what `/api/me/` shows and what
//! `jwt.user_claims` puts into access tokens.

use latchkey::db::users::{self, NewUser};
use latchkey::passwords::{Password, PasswordHasher};
use latchkey::users::ProfileClaim;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, claims_of, spawn_app, spawn_app_with, within_sync_interval,
};

/// alice: staff, in group "admins", with claims `{"tenant": "acme", "seats": 3}`.
async fn alice(app: &TestApp) -> TestUser {
    let hash = PasswordHasher::new(1000).hash(&Password::new("pw".to_owned()));
    let created = app
        .with_db(move |conn| {
            users::insert(
                conn,
                &NewUser {
                    email: "alice@example.com",
                    first_name: "Alice",
                    last_name: "Liddell",
                    is_staff: true,
                    claims: r#"{"tenant":"acme","seats":3}"#,
                    ..NewUser::named("alice", &hash, true, chrono::Utc::now().naive_utc())
                },
            )
            .expect("created")
        })
        .await;
    app.create_group("admins").await;
    app.set_groups("alice", &["admins"]).await;
    TestUser {
        id: created.id,
        username: "alice".to_owned(),
        password: "pw".to_owned(),
    }
}

#[tokio::test]
async fn me_shows_the_profile_and_never_the_hash() {
    let app = spawn_app().await;
    let user = alice(&app).await;
    let pair = app.obtain_pair(&user).await;

    let response = app.me(&pair.access).await;
    assert_eq!(response.status(), 200);
    let mut body: Value = response.json().await.expect("json");
    assert!(body["date_joined"].is_string());
    body["date_joined"] = Value::Null;
    assert_eq!(
        body,
        json!({
            "id": user.id,
            "username": "alice",
            "email": "alice@example.com",
            "first_name": "Alice",
            "last_name": "Liddell",
            "date_joined": null,
            "is_staff": true,
            "is_superuser": false,
            "groups": ["admins"],
            "claims": {"tenant": "acme", "seats": 3},
        })
    );
    assert!(!body.to_string().contains("pbkdf2"));
}

#[tokio::test]
async fn by_default_tokens_carry_only_simple_jwts_claims() {
    let app = spawn_app().await;
    let user = alice(&app).await;
    let pair = app.obtain_pair(&user).await;
    let refreshed = app.refresh_pair(&pair.refresh).await;
    for token in [
        &pair.access,
        &pair.refresh,
        &refreshed.access,
        &refreshed.refresh,
    ] {
        let claims = claims_of(token);
        let names: Vec<&str> = claims
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["token_type", "exp", "iat", "jti", "user_id", "sid"]);
    }
}

#[tokio::test]
async fn user_claims_go_into_access_tokens_and_follow_changes() {
    let app = spawn_app_with(|s| {
        s.jwt.user_claims = vec![
            ProfileClaim::Username,
            ProfileClaim::Email,
            ProfileClaim::IsStaff,
            ProfileClaim::Groups,
            ProfileClaim::Claims,
        ]
    })
    .await;
    let user = alice(&app).await;
    let pair = app.obtain_pair(&user).await;

    let access = claims_of(&pair.access);
    assert_eq!(access["username"], "alice");
    assert_eq!(access["email"], "alice@example.com");
    assert_eq!(access["is_staff"], true);
    assert_eq!(access["groups"], json!(["admins"]));
    assert_eq!(
        (&access["tenant"], &access["seats"]),
        (&json!("acme"), &json!(3))
    );
    assert!(access.get("first_name").is_none(), "only what is listed");
    // Refresh tokens stay minimal.
    let refresh = claims_of(&pair.refresh);
    assert!(refresh.get("username").is_none() && refresh.get("tenant").is_none());
    assert_eq!(app.verify(&pair.access).await.status(), 200);
    assert_eq!(app.me(&pair.access).await.status(), 200);

    // A change shows in the next access token (within the sync interval).
    app.create_group("ops").await;
    app.set_groups("alice", &["ops", "admins"]).await;
    app.set_claims("alice", json!({"tenant": "globex"})).await;
    let latest = std::cell::RefCell::new(pair.refresh.clone());
    within_sync_interval(&app, || async {
        let refresh = latest.borrow().clone();
        let next = app.refresh_pair(&refresh).await;
        *latest.borrow_mut() = next.refresh;
        let access = claims_of(&next.access);
        access["tenant"] == "globex" && access["groups"] == json!(["admins", "ops"])
    })
    .await;
    let last = latest.borrow().clone();
    let access = claims_of(&app.refresh_pair(&last).await.access);
    assert!(
        access.get("seats").is_none(),
        "the claims object was replaced"
    );
}

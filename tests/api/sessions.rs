//! Sessions: reuse detection, the grace window, logout,
//! logout everywhere and the sessions list. Revocation seen by other
//! instances is in `instances.rs`.

use serde_json::{Value, json};

use crate::helpers::{
    assert_response, bearer_error, claims_of, spawn_app, spawn_app_with, token_error,
    within_sync_interval,
};

#[tokio::test]
async fn a_replayed_rotated_out_token_ends_its_whole_session_and_only_it() {
    let app = spawn_app_with(|s| s.sessions.reuse_grace_seconds = 0).await;
    let user = app.create_user("alice", "pw").await;
    let phone = app.obtain_pair(&user).await;
    let laptop = app.obtain_pair(&user).await;
    let newest = app.refresh_pair(&phone.refresh).await;

    // The old token comes back: stolen, or a client gone wrong.
    assert_response(
        app.refresh(&phone.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;

    assert_response(
        app.refresh(&newest.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.me(&newest.access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.verify(&newest.access).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.verify(&newest.refresh).await,
        400,
        json!({"non_field_errors": ["Token is blacklisted"]}),
    )
    .await;
    // The other login of the same user is untouched.
    assert_eq!(app.me(&laptop.access).await.status(), 200);
    app.refresh_pair(&laptop.refresh).await;
}

#[tokio::test]
async fn a_retry_within_the_grace_window_gets_the_same_child_again() {
    let app = spawn_app().await;
    assert!(
        app.state.settings.sessions.reuse_grace_seconds > 0,
        "on by default"
    );
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let first = app.refresh_pair(&pair.refresh).await;

    let retry = app.refresh_pair(&pair.refresh).await;

    assert_eq!(
        retry.refresh, first.refresh,
        "the same child, byte for byte"
    );
    assert_eq!(
        claims_of(&retry.refresh)["jti"],
        claims_of(&first.refresh)["jti"]
    );
    // Exactly one refresh token of the family is usable: the child.
    assert_response(
        app.verify(&pair.refresh).await,
        400,
        json!({"non_field_errors": ["Token is blacklisted"]}),
    )
    .await;
    assert_response(app.verify(&first.refresh).await, 200, json!({})).await;
    let next = app.refresh_pair(&first.refresh).await;
    // Once the child is used, the parent coming back is reuse, grace or not.
    assert_response(
        app.refresh(&pair.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.refresh(&next.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn twenty_concurrent_refreshes_all_name_the_same_child_within_the_grace_window() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;

    let responses =
        futures_util::future::join_all((0..20).map(|_| app.refresh(&pair.refresh))).await;

    let mut children = std::collections::BTreeSet::new();
    for response in responses {
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        children.insert(body["refresh"].as_str().expect("refresh").to_owned());
    }
    assert_eq!(children.len(), 1, "one child for all: {children:?}");
    let child = children.into_iter().next().expect("one");
    app.refresh_pair(&child).await;
}

#[tokio::test]
async fn a_logout_racing_a_refresh_leaves_no_usable_token() {
    let app = spawn_app_with(|s| s.sessions.reuse_grace_seconds = 0).await;
    let user = app.create_user("alice", "pw").await;
    for _ in 0..10 {
        let pair = app.obtain_pair(&user).await;
        let (logout, refresh) =
            tokio::join!(app.blacklist(&pair.refresh), app.refresh(&pair.refresh));
        assert!(logout.status() == 200 || logout.status() == 401);
        if refresh.status() == 200 {
            let body: Value = refresh.json().await.expect("json");
            let child = body["refresh"].as_str().expect("refresh");
            let access = body["access"].as_str().expect("access");
            assert_eq!(
                app.refresh(child).await.status(),
                401,
                "the child must be dead"
            );
            let me = app.me(access).await.status();
            assert_eq!(me, 401, "the child's access token must be dead");
        }
        assert_eq!(app.refresh(&pair.refresh).await.status(), 401);
        assert_eq!(app.me(&pair.access).await.status(), 401);
    }
}

#[tokio::test]
async fn logout_ends_the_session_access_tokens_included() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let other = app.obtain_pair(&user).await;

    assert_response(app.blacklist(&pair.refresh).await, 200, json!({})).await;

    assert_response(
        app.me(&pair.access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
    assert_eq!(app.me(&other.access).await.status(), 200);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "pw").await;
    let bob = app.create_user("bob", "pw").await;
    let phone = app.obtain_pair(&alice).await;
    let laptop = app.obtain_pair(&alice).await;
    let bobs = app.obtain_pair(&bob).await;

    let response = app
        .client
        .post(app.url("/api/token/logout-all/"))
        .bearer_auth(&phone.access)
        .send()
        .await
        .expect("sent");
    assert_response(response, 200, json!({})).await;

    for pair in [&phone, &laptop] {
        assert_response(
            app.refresh(&pair.refresh).await,
            401,
            token_error("Token is blacklisted"),
        )
        .await;
        assert_response(
            app.me(&pair.access).await,
            401,
            bearer_error("Token is blacklisted"),
        )
        .await;
    }
    assert_eq!(app.me(&bobs.access).await.status(), 200);
    let anonymous = app
        .client
        .post(app.url("/api/token/logout-all/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_password_change_or_deactivation_elsewhere_ends_every_session() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "pw").await;
    let bob = app.create_user("bob", "pw").await;
    let alices = app.obtain_pair(&alice).await;
    let bobs = app.obtain_pair(&bob).await;

    // As the CLI does it, from another process: through the database.
    app.set_password("alice", "new pw").await;
    app.deactivate("bob").await;
    app.activate("bob").await;

    within_sync_interval(&app, || async {
        app.me(&alices.access).await.status() == 401
    })
    .await;
    within_sync_interval(&app, || async {
        app.me(&bobs.access).await.status() == 401
    })
    .await;
    assert_response(
        app.me(&alices.access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
    for pair in [&alices, &bobs] {
        assert_response(
            app.refresh(&pair.refresh).await,
            401,
            token_error("Token is blacklisted"),
        )
        .await;
    }
    assert_eq!(app.obtain("alice", "new pw").await.status(), 200);
}

#[tokio::test]
async fn rotation_never_extends_a_session_past_its_absolute_end() {
    let app = spawn_app().await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    let sid = claims_of(&pair.access)["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let end = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(600);
    let family = sid.clone();
    app.with_db(move |conn| {
        use diesel::prelude::*;
        use latchkey::db::schema::token_families::dsl::*;
        diesel::update(token_families.find(&family))
            .set(expires_at.eq(end))
            .execute(conn)
            .expect("update")
    })
    .await;

    let next = app.refresh_pair(&pair.refresh).await;

    assert_eq!(claims_of(&next.refresh)["exp"], end.and_utc().timestamp());
    let family = sid.clone();
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
    app.with_db(move |conn| {
        use diesel::prelude::*;
        use latchkey::db::schema::token_families::dsl::*;
        diesel::update(token_families.find(&family))
            .set(expires_at.eq(past))
            .execute(conn)
            .expect("update")
    })
    .await;
    assert_response(
        app.refresh(&next.refresh).await,
        401,
        token_error("Token is expired"),
    )
    .await;
}

#[tokio::test]
async fn users_list_and_end_their_own_sessions() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "pw").await;
    let bob = app.create_user("bob", "pw").await;
    let phone = app.obtain_pair(&alice).await;
    let laptop = app.obtain_pair(&alice).await;
    let bobs = app.obtain_pair(&bob).await;

    let response = app
        .client
        .get(app.url("/api/sessions/"))
        .bearer_auth(&phone.access)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let sessions: Vec<Value> = response.json().await.expect("json");
    assert_eq!(sessions.len(), 2);
    let phone_sid = claims_of(&phone.access)["sid"].clone();
    let laptop_sid = claims_of(&laptop.access)["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    for session in &sessions {
        assert_eq!(session["current"], session["id"] == phone_sid);
        assert_eq!(session["client_ip"], "127.0.0.1");
        assert!(session["created_at"].is_string() && session["last_used_at"].is_string());
    }

    let delete = |id: String, access: String| {
        let app = &app;
        async move {
            app.client
                .delete(app.url(&format!("/api/sessions/{id}/")))
                .bearer_auth(access)
                .send()
                .await
                .expect("sent")
        }
    };
    assert_eq!(
        delete(laptop_sid.clone(), phone.access.clone())
            .await
            .status(),
        204
    );
    assert_response(
        app.refresh(&laptop.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.me(&laptop.access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
    let bobs_sid = claims_of(&bobs.access)["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    // Ended already, someone else's, unknown, or not an id at all.
    for (id, expected) in [
        (laptop_sid, 404),
        (bobs_sid, 404),
        ("nonexistent".to_owned(), 404),
        ("%00".to_owned(), 404),
        ("x".repeat(5000), 404),
        ("%27%20OR%20%271%27%3D%271".to_owned(), 404),
    ] {
        let response = delete(id, phone.access.clone()).await;
        assert_response(response, expected, json!({"detail": "Not found."})).await;
    }
    assert_eq!(app.me(&bobs.access).await.status(), 200);
    let response = app
        .client
        .get(app.url("/api/sessions/"))
        .bearer_auth(&phone.access)
        .send()
        .await
        .expect("sent");
    let sessions: Vec<Value> = response.json().await.expect("json");
    assert_eq!(sessions.len(), 1);
}

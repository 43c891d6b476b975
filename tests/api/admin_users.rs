//! The admin API (`/api/admin/users/`): only admin clients get in; users
//! are created, listed, changed and deleted with DRF's answers; a password
//! change, deactivation or deletion ends every session of the user.

use latchkey::users::ProfileClaim;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_ID, TestApp, assert_client_response, assert_response, bearer_error, claims_of,
    password_hash, spawn_app, spawn_app_with, token_error, within_sync_interval,
};

const PASSWORD: &str = "correct horse battery";

async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.expect("request sent")
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// Logs in, which must succeed; returns (access, refresh).
async fn login(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let (status, body) = json_of(app.obtain(username, password).await).await;
    assert_eq!(status, 200, "{body}");
    (
        body["access"].as_str().expect("access").to_owned(),
        body["refresh"].as_str().expect("refresh").to_owned(),
    )
}

#[tokio::test]
async fn every_admin_operation_needs_an_admin_client() {
    let app = spawn_app_with(|settings| {
        settings.introspection.clients = vec![latchkey::settings::ClientSettings {
            id: "gateway".to_owned(),
            secret: "introspection-secret-of-32-bytes-at-least".to_owned(),
        }];
    })
    .await;
    let operations = [
        (Method::GET, "/api/admin/users/"),
        (Method::POST, "/api/admin/users/"),
        (Method::GET, "/api/admin/users/1/"),
        (Method::PATCH, "/api/admin/users/1/"),
        (Method::DELETE, "/api/admin/users/1/"),
        (Method::POST, "/api/admin/users/1/logout-all/"),
    ];
    for (method, path) in operations {
        let bare = app.client.request(method.clone(), app.url(path));
        assert_client_response(
            send(bare.try_clone().expect("clonable")).await,
            401,
            json!({"detail": "Authentication credentials were not provided."}),
        )
        .await;
        for (id, secret) in [
            (ADMIN_ID, "wrong-secret"),
            // An introspection client is nobody to the admin API.
            ("gateway", "introspection-secret-of-32-bytes-at-least"),
        ] {
            // The body is never read for a caller that is refused.
            let wrong = bare
                .try_clone()
                .expect("clonable")
                .basic_auth(id, Some(secret))
                .header("content-type", "application/json")
                .body("{not json");
            assert_client_response(
                send(wrong).await,
                401,
                json!({"detail": "Invalid username/password."}),
            )
            .await;
        }
        let bearer = bare.bearer_auth("token");
        assert_client_response(
            send(bearer).await,
            401,
            json!({"detail": "Authentication credentials were not provided."}),
        )
        .await;
    }
}

#[tokio::test]
async fn a_created_user_logs_in_with_their_groups_and_claims_in_the_token() {
    let app = spawn_app_with(|settings| {
        settings.jwt.user_claims = vec![
            ProfileClaim::Username,
            ProfileClaim::Groups,
            ProfileClaim::Claims,
        ];
    })
    .await;
    app.create_group("editors").await;
    let created = app
        .admin_create(&json!({
            "username": "carol",
            "password": PASSWORD,
            "email": "carol@example.com",
            "first_name": "Carol",
            "is_staff": true,
            "groups": ["editors"],
            "claims": {"tenant": "acme", "plan": "pro"},
        }))
        .await;
    let id = created["id"].as_i64().expect("an id");
    let joined = created["date_joined"].clone();
    assert!(joined.is_string());
    assert_eq!(
        created,
        json!({
            "id": id, "username": "carol", "email": "carol@example.com",
            "first_name": "Carol", "last_name": "", "is_active": true,
            "is_staff": true, "is_superuser": false, "groups": ["editors"],
            "claims": {"tenant": "acme", "plan": "pro"}, "has_usable_password": true,
            "date_joined": joined, "last_login": null,
        })
    );

    let (access, _) = login(&app, "carol", PASSWORD).await;
    let claims = claims_of(&access);
    assert_eq!(claims["user_id"], json!(id.to_string()));
    assert_eq!(claims["username"], "carol");
    assert_eq!(claims["groups"], json!(["editors"]));
    assert_eq!(
        (&claims["tenant"], &claims["plan"]),
        (&json!("acme"), &json!("pro"))
    );
    let (status, me) = json_of(app.me(&access).await).await;
    assert_eq!(
        (status, &me["email"], &me["claims"]["plan"]),
        (200, &json!("carol@example.com"), &json!("pro"))
    );

    // The admin view records the login.
    let (status, shown) =
        json_of(send(app.admin(Method::GET, &format!("/api/admin/users/{id}/"))).await).await;
    assert_eq!(status, 200);
    assert!(shown["last_login"].is_string(), "{shown}");
}

#[tokio::test]
async fn a_user_can_be_created_with_a_django_hash_or_no_usable_password() {
    let app = spawn_app().await;
    let imported = app
        .admin_create(
            &json!({"username": "dave", "password_hash": password_hash(1000, "from django")}),
        )
        .await;
    assert_eq!(imported["has_usable_password"], true);
    login(&app, "dave", "from django").await;

    let sso = app.admin_create(&json!({"username": "erin"})).await;
    assert_eq!(sso["has_usable_password"], false);
    let unusable = app
        .admin_create(&json!({"username": "frank", "password_hash": "!"}))
        .await;
    assert_eq!(unusable["has_usable_password"], false);
    for name in ["erin", "frank"] {
        assert_response(
            app.obtain(name, "").await,
            400,
            json!({"password": ["This field may not be blank."]}),
        )
        .await;
        assert_response(
            app.obtain(name, "!").await,
            401,
            json!({"detail": "No active account found with the given credentials"}),
        )
        .await;
    }
}

#[tokio::test]
async fn create_answers_every_field_error_as_drf_words_it() {
    let app = spawn_app().await;
    app.admin_create(&json!({"username": "taken", "password": PASSWORD}))
        .await;
    let cases = [
        (json!({}), json!({"username": ["This field is required."]})),
        (
            json!({"username": "taken", "password": PASSWORD}),
            json!({"username": ["A user with that username already exists."]}),
        ),
        (
            json!({"username": "bad name!", "password": PASSWORD}),
            json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}),
        ),
        (
            json!({"username": "a".repeat(151)}),
            json!({"username": ["Ensure this field has no more than 150 characters."]}),
        ),
        (
            json!({"username": "grace", "password": "short"}),
            json!({"password": ["This password is too short. It must contain at least 8 characters.", "This password is too common."]}),
        ),
        (
            json!({"username": "grace", "password": "password"}),
            json!({"password": ["This password is too common."]}),
        ),
        (
            json!({"username": "grace", "password": "81726354"}),
            json!({"password": ["This password is too common.", "This password is entirely numeric."]}),
        ),
        (
            json!({"username": "gracehopper", "password": "gracehopper1"}),
            json!({"password": ["The password is too similar to the username.", "This password is too common."]}),
        ),
        (
            json!({"username": "grace", "password": PASSWORD, "password_hash": password_hash(1000, "x")}),
            json!({"non_field_errors": ["Give either password or password_hash, not both."]}),
        ),
        (
            json!({"username": "grace", "password_hash": "sha1$salt$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"}),
            json!({"password_hash": ["Unknown password hashing algorithm or format: give the hash as one of Django's hashers stores it (pbkdf2_sha256$..., argon2$..., bcrypt_sha256$$..., scrypt$..., ...), or ! for an unusable password."]}),
        ),
        (
            json!({"username": "grace", "email": "not-an-address"}),
            json!({"email": ["Enter a valid email address."]}),
        ),
        (
            json!({"username": "grace", "groups": ["nobody"]}),
            json!({"groups": ["Object with name=nobody does not exist."]}),
        ),
        (
            json!({"username": "grace", "claims": {"exp": 1}}),
            json!({"claims": ["\"exp\" is a reserved claim name; choose another."]}),
        ),
        (
            json!({"username": "grace", "claims": {"groups": ["admins"]}}),
            json!({"claims": ["\"groups\" is a reserved claim name; choose another."]}),
        ),
        (
            json!({"username": "grace", "claims": {"blob": "x".repeat(2100)}}),
            json!({"claims": ["Ensure the claims take no more than 2048 bytes as JSON."]}),
        ),
        (
            json!({"username": "grace", "is_staff": "maybe", "groups": "admins", "claims": [1], "email": null}),
            json!({
                "email": ["This field may not be null."],
                "is_staff": ["Must be a valid boolean."],
                "groups": ["Expected a list of items but got type \"str\"."],
                "claims": ["Expected a dictionary of items but got type \"list\"."],
            }),
        ),
    ];
    for (body, errors) in cases {
        let response = send(app.admin(Method::POST, "/api/admin/users/").json(&body)).await;
        assert_client_response(response, 400, errors).await;
    }
    // None of them was written.
    let (_, page) = json_of(send(app.admin(Method::GET, "/api/admin/users/")).await).await;
    assert_eq!(page["count"], 1);
}

#[tokio::test]
async fn listing_pages_and_filters_as_drf_does() {
    let app = spawn_app().await;
    app.create_group("ops").await;
    for n in 1..=5 {
        let groups = if n % 2 == 0 {
            json!(["ops"])
        } else {
            json!([])
        };
        app.admin_create(&json!({
            "username": format!("user{n}"),
            "email": format!("user{n}@example.com"),
            "is_active": n != 5,
            "groups": groups,
        }))
        .await;
    }
    let list = |query: &str| {
        let request = app.admin(Method::GET, &format!("/api/admin/users/{query}"));
        async move { json_of(send(request).await).await }
    };
    let names = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|user| user["username"].as_str().expect("name").to_owned())
            .collect()
    };

    let (status, first) = list("?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(
        (first["count"].clone(), names(&first)),
        (json!(5), vec!["user1".to_owned(), "user2".to_owned()])
    );
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(first["next"], app.url("/api/admin/users/?limit=2&offset=2"));
    let (_, second) = list("?limit=2&offset=2").await;
    assert_eq!(names(&second), ["user3", "user4"]);
    assert_eq!(second["previous"], app.url("/api/admin/users/?limit=2"));
    assert_eq!(
        second["next"],
        app.url("/api/admin/users/?limit=2&offset=4")
    );
    let (_, last) = list("?limit=2&offset=4").await;
    assert_eq!(
        (names(&last), last["next"].clone()),
        (vec!["user5".to_owned()], Value::Null)
    );
    assert_eq!(
        last["previous"],
        app.url("/api/admin/users/?limit=2&offset=2")
    );
    // A limit above the maximum is the maximum; an offset past the end is
    // an empty page; what is not a number in range is an error.
    let (_, all) = list("?limit=100000").await;
    assert_eq!((names(&all).len(), all["next"].clone()), (5, Value::Null));
    assert_eq!(
        list("?limit=zero&offset=-1").await,
        (
            400,
            json!({"limit": ["A valid integer is required."], "offset": ["Ensure this value is greater than or equal to 0."]})
        )
    );
    assert_eq!(
        list("?limit=0&is_active=").await,
        (
            400,
            json!({"is_active": ["Must be a valid boolean."], "limit": ["Ensure this value is greater than or equal to 1."]})
        )
    );
    assert_eq!(
        list("?username=a%00b&group=%00").await,
        (
            400,
            json!({"username": ["Null characters are not allowed."], "group": ["Null characters are not allowed."]})
        )
    );
    let (_, huge) = list("?limit=99999999999999999999999&offset=99999999999999999999999").await;
    assert_eq!((huge["count"].clone(), names(&huge).len()), (json!(5), 0));
    let (_, beyond) = list("?offset=99").await;
    assert_eq!(
        (beyond["count"].clone(), names(&beyond).len()),
        (json!(5), 0)
    );

    let (_, ops) = list("?group=ops").await;
    assert_eq!(names(&ops), ["user2", "user4"]);
    let (_, inactive) = list("?is_active=false").await;
    assert_eq!(names(&inactive), ["user5"]);
    let (_, by_email) = list("?email=user3@example.com").await;
    assert_eq!(names(&by_email), ["user3"]);
    let (_, by_name) = list("?username=user4&group=ops&is_active=true").await;
    assert_eq!(names(&by_name), ["user4"]);
    let (_, filtered_page) = list("?group=ops&limit=1").await;
    assert_eq!(
        filtered_page["next"],
        app.url("/api/admin/users/?group=ops&limit=1&offset=1")
    );
    let (_, nobody) = list("?group=nobody").await;
    assert_eq!(
        (nobody["count"].clone(), names(&nobody).len()),
        (json!(0), 0)
    );
    assert_eq!(
        list("?is_active=maybe").await,
        (400, json!({"is_active": ["Must be a valid boolean."]}))
    );
}

#[tokio::test]
async fn an_unknown_user_is_not_found_everywhere() {
    let app = spawn_app().await;
    for path in [
        "/api/admin/users/999/",
        "/api/admin/users/abc/",
        "/api/admin/users/99999999999999999999/",
    ] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let request = app.admin(method, path).json(&json!({}));
            assert_client_response(send(request).await, 404, json!({"detail": "Not found."})).await;
        }
    }
    let request = app.admin(Method::POST, "/api/admin/users/999/logout-all/");
    assert_client_response(send(request).await, 404, json!({"detail": "Not found."})).await;
    let put = app
        .admin(Method::PUT, "/api/admin/users/999/")
        .json(&json!({}));
    let response = send(put).await;
    assert_eq!(
        response.headers()["allow"],
        "GET, PATCH, DELETE, HEAD, OPTIONS"
    );
    assert_client_response(
        response,
        405,
        json!({"detail": "Method \"PUT\" not allowed."}),
    )
    .await;
}

#[tokio::test]
async fn a_profile_change_shows_in_the_next_token_and_ends_sessions_only_when_asked() {
    let app = spawn_app_with(|settings| {
        settings.jwt.user_claims = vec![
            ProfileClaim::Groups,
            ProfileClaim::Claims,
            ProfileClaim::IsStaff,
        ];
    })
    .await;
    app.create_group("ops").await;
    let id = app
        .admin_create(&json!({"username": "heidi", "password": PASSWORD}))
        .await["id"]
        .as_i64()
        .expect("id");
    let (access, refresh) = login(&app, "heidi", PASSWORD).await;
    let path = format!("/api/admin/users/{id}/");

    let patch = json!({"groups": ["ops"], "claims": {"tier": "gold"}, "is_staff": true, "last_name": "Lamarr", "date_joined": "ignored"});
    let (status, changed) = json_of(send(app.admin(Method::PATCH, &path).json(&patch)).await).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            &changed["groups"],
            &changed["claims"],
            &changed["is_staff"],
            &changed["last_name"]
        ),
        (
            &json!(["ops"]),
            &json!({"tier": "gold"}),
            &json!(true),
            &json!("Lamarr")
        )
    );
    // The session goes on; its next access token carries the change.
    assert_eq!(app.me(&access).await.status(), 200);
    let pair = app.refresh_pair(&refresh).await;
    let claims = claims_of(&pair.access);
    assert_eq!(
        (&claims["groups"], &claims["tier"], &claims["is_staff"]),
        (&json!(["ops"]), &json!("gold"), &json!(true))
    );

    // Asked to, the change ends every session at once.
    let ask = app
        .admin(Method::PATCH, &format!("{path}?end_sessions=true"))
        .json(&json!({"groups": []}));
    assert_eq!(send(ask).await.status(), 200);
    assert_response(
        app.me(&pair.access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.refresh(&pair.refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    login(&app, "heidi", PASSWORD).await;

    let bad = app
        .admin(Method::PATCH, &format!("{path}?end_sessions=perhaps"))
        .json(&json!({}));
    assert_client_response(
        send(bad).await,
        400,
        json!({"end_sessions": ["Must be a valid boolean."]}),
    )
    .await;
    // An unknown group changes nothing.
    let unknown = app
        .admin(Method::PATCH, &path)
        .json(&json!({"groups": ["nobody"], "first_name": "H"}));
    assert_client_response(
        send(unknown).await,
        400,
        json!({"groups": ["Object with name=nobody does not exist."]}),
    )
    .await;
    let (_, shown) = json_of(send(app.admin(Method::GET, &path)).await).await;
    assert_eq!(
        (&shown["first_name"], &shown["groups"]),
        (&json!(""), &json!([]))
    );
}

#[tokio::test]
async fn a_password_change_or_deactivation_ends_every_session() {
    let app = spawn_app().await;
    let id = app
        .admin_create(&json!({"username": "ivan", "password": PASSWORD}))
        .await["id"]
        .as_i64()
        .expect("id");
    let path = format!("/api/admin/users/{id}/");
    let (access, refresh) = login(&app, "ivan", PASSWORD).await;

    let weak = app
        .admin(Method::PATCH, &path)
        .json(&json!({"password": "ivan1234"}));
    assert_client_response(
        send(weak).await,
        400,
        json!({"password": ["This password is too common."]}),
    )
    .await;
    assert_eq!(
        app.me(&access).await.status(),
        200,
        "a refused change ends nothing"
    );

    let new_password = "a brand new passphrase";
    let change = app
        .admin(Method::PATCH, &path)
        .json(&json!({"password": new_password}));
    assert_eq!(send(change).await.status(), 200);
    assert_response(
        app.me(&access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.refresh(&refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    assert_response(
        app.obtain("ivan", PASSWORD).await,
        401,
        json!({"detail": "No active account found with the given credentials"}),
    )
    .await;
    let (access, _) = login(&app, "ivan", new_password).await;

    let deactivate = app
        .admin(Method::PATCH, &path)
        .json(&json!({"is_active": false}));
    let (status, shown) = json_of(send(deactivate).await).await;
    assert_eq!((status, &shown["is_active"]), (200, &json!(false)));
    assert_response(
        app.me(&access).await,
        401,
        json!({"detail": "User is inactive", "code": "user_inactive"}),
    )
    .await;
    assert_response(
        app.obtain("ivan", new_password).await,
        401,
        json!({"detail": "No active account found with the given credentials"}),
    )
    .await;
}

#[tokio::test]
async fn renaming_to_a_taken_name_is_refused_and_a_rename_logs_in_by_the_new_name() {
    let app = spawn_app().await;
    app.admin_create(&json!({"username": "judy"})).await;
    let id = app
        .admin_create(&json!({"username": "karl", "password": PASSWORD}))
        .await["id"]
        .as_i64()
        .expect("id");
    let path = format!("/api/admin/users/{id}/");
    let taken = app
        .admin(Method::PATCH, &path)
        .json(&json!({"username": "judy"}));
    assert_client_response(
        send(taken).await,
        400,
        json!({"username": ["A user with that username already exists."]}),
    )
    .await;
    let renamed = app
        .admin(Method::PATCH, &path)
        .json(&json!({"username": "karl2"}));
    assert_eq!(send(renamed).await.status(), 200);
    login(&app, "karl2", PASSWORD).await;
}

#[tokio::test]
async fn deleting_a_user_or_logging_them_out_ends_their_sessions() {
    let app = spawn_app().await;
    let id = app
        .admin_create(&json!({"username": "liz", "password": PASSWORD}))
        .await["id"]
        .as_i64()
        .expect("id");
    let (access, refresh) = login(&app, "liz", PASSWORD).await;
    let (other_access, _) = login(&app, "liz", PASSWORD).await;

    let logout = send(app.admin(Method::POST, &format!("/api/admin/users/{id}/logout-all/"))).await;
    assert_eq!(logout.status(), 204);
    for token in [&access, &other_access] {
        assert_response(
            app.me(token).await,
            401,
            bearer_error("Token is blacklisted"),
        )
        .await;
    }
    assert_response(
        app.refresh(&refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;

    let (access, _) = login(&app, "liz", PASSWORD).await;
    let path = format!("/api/admin/users/{id}/");
    let deleted = send(app.admin(Method::DELETE, &path)).await;
    assert_eq!(deleted.status(), 204);
    within_sync_interval(&app, || async { app.me(&access).await.status() == 401 }).await;
    assert_response(
        app.me(&access).await,
        401,
        json!({"detail": "User not found", "code": "user_not_found"}),
    )
    .await;
    assert_client_response(
        send(app.admin(Method::GET, &path)).await,
        404,
        json!({"detail": "Not found."}),
    )
    .await;
}

#[tokio::test]
async fn ending_every_session_reaches_access_tokens_outliving_their_session() {
    // A session's absolute end can come before its last access token's
    // expiry: ending every session must still void that token.
    let app = spawn_app_with(|settings| {
        settings.jwt.refresh_token_lifetime_seconds = 1;
        settings.sessions.absolute_lifetime_seconds = 1;
    })
    .await;
    let id = app
        .admin_create(&json!({"username": "olga", "password": PASSWORD}))
        .await["id"]
        .as_i64()
        .expect("id");
    let (access, _) = login(&app, "olga", PASSWORD).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        app.me(&access).await.status(),
        200,
        "the session is over, its access token not"
    );
    let logout = send(app.admin(Method::POST, &format!("/api/admin/users/{id}/logout-all/"))).await;
    assert_eq!(logout.status(), 204);
    assert_response(
        app.me(&access).await,
        401,
        bearer_error("Token is blacklisted"),
    )
    .await;
}

#[tokio::test]
async fn a_login_after_a_change_made_elsewhere_carries_the_new_claims_at_once() {
    // Another instance changes the user; this one has not read the change
    // from the feed yet (its sync interval is long), and has the user cached.
    let here = spawn_app_with(|settings| {
        settings.jwt.user_claims = vec![ProfileClaim::Claims];
        settings.cache.sync_interval_ms = 60_000;
    })
    .await;
    let url = here.database_url();
    let elsewhere = spawn_app_with(move |settings| {
        settings.database.url = Some(url.parse().expect("a database URL"));
    })
    .await;
    let id = here
        .admin_create(
            &json!({"username": "pat", "password": PASSWORD, "claims": {"role": "admin"}}),
        )
        .await["id"]
        .as_i64()
        .expect("id");
    let (access, _) = login(&here, "pat", PASSWORD).await;
    assert_eq!(here.me(&access).await.status(), 200);

    let demote = elsewhere
        .admin(
            Method::PATCH,
            &format!("/api/admin/users/{id}/?end_sessions=true"),
        )
        .json(&json!({"claims": {"role": "reader"}}));
    assert_eq!(send(demote).await.status(), 200);
    // The session written now is read with the user it is written for.
    let (fresh, _) = login(&here, "pat", PASSWORD).await;
    assert_eq!(claims_of(&fresh)["role"], "reader");
}

#[tokio::test]
async fn deleting_a_user_while_their_tokens_rotate_never_fails_a_request() {
    let app = spawn_app().await;
    let id = app
        .admin_create(&json!({"username": "quinn", "password": PASSWORD}))
        .await["id"]
        .as_i64()
        .expect("id");
    let mut refreshes = Vec::new();
    for _ in 0..6 {
        let (_, refresh) = login(&app, "quinn", PASSWORD).await;
        refreshes.push(refresh);
    }
    let rotations = refreshes.iter().map(|refresh| app.refresh(refresh));
    let deletion = send(app.admin(Method::DELETE, &format!("/api/admin/users/{id}/")));
    let (answers, deleted) = tokio::join!(futures_util::future::join_all(rotations), deletion);
    assert_eq!(deleted.status(), 204);
    for answer in answers {
        assert!(
            [200, 401].contains(&answer.status().as_u16()),
            "a rotation racing the deletion answered {}",
            answer.status()
        );
    }
    assert_client_response(
        send(app.admin(Method::GET, &format!("/api/admin/users/{id}/"))).await,
        404,
        json!({"detail": "Not found."}),
    )
    .await;
}

#[tokio::test]
async fn imported_hashes_must_be_checkable_and_affordable() {
    let app = spawn_app().await;
    let digest = "A".repeat(43) + "=";
    for (hash, message) in [
        (
            "pbkdf2_sha256$1000$salt$AA==".to_owned(),
            "Unknown password hashing algorithm or format: give the hash as one of Django's hashers stores it (pbkdf2_sha256$..., argon2$..., bcrypt_sha256$$..., scrypt$..., ...), or ! for an unusable password.",
        ),
        (
            format!("pbkdf2_sha256$4000000000$salt${digest}"),
            "This hash has more iterations than a login can afford; at most 2000000.",
        ),
    ] {
        let request = app
            .admin(Method::POST, "/api/admin/users/")
            .json(&json!({"username": "rita", "password_hash": hash}));
        assert_client_response(
            send(request).await,
            400,
            json!({"password_hash": [message]}),
        )
        .await;
    }
}

#[tokio::test]
async fn usernames_are_stored_as_django_normalizes_them() {
    let app = spawn_app().await;
    let created = app
        .admin_create(&json!({"username": "ｓａｍ", "password": PASSWORD}))
        .await;
    assert_eq!(created["username"], "sam");
    let lookalike = app
        .admin(Method::POST, "/api/admin/users/")
        .json(&json!({"username": "sam"}));
    assert_client_response(
        send(lookalike).await,
        400,
        json!({"username": ["A user with that username already exists."]}),
    )
    .await;
    login(&app, "sam", PASSWORD).await;
}

//! Browser apps: cookie mode (the refresh token in an HttpOnly cookie, a
//! CSRF token a page echoes in a header, the origin checked) and CORS for
//! the listed origins only. Every cookie attribute and CORS header is
//! pinned; with both off, nothing of Simple JWT's contract changes.

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_response, spawn_app, spawn_app_with, token_error};

const APP: &str = "https://app.example.com";
const PASSWORD: &str = "correct horse battery";

async fn cookie_app(customize: impl FnOnce(&mut latchkey::settings::Settings)) -> TestApp {
    spawn_app_with(|settings| {
        settings.cookies.enabled = true;
        settings.cors.allowed_origins = vec![APP.to_owned()];
        customize(settings);
    })
    .await
}

/// The `Set-Cookie` headers, by cookie name.
fn set_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| {
            let text = value.to_str().expect("ascii").to_owned();
            let name = text.split('=').next().unwrap_or_default().to_owned();
            (name, text)
        })
        .collect()
}

fn cookie_value(headers: &HeaderMap, name: &str) -> String {
    set_cookies(headers)
        .into_iter()
        .find(|(cookie, _)| cookie == name)
        .map(|(_, text)| text.split(';').next().unwrap_or_default()[name.len() + 1..].to_owned())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

/// Logs in from the app's page: the response's headers and body.
async fn login(app: &TestApp) -> (HeaderMap, Value) {
    app.create_user("alice", PASSWORD).await;
    let response = app
        .client
        .post(app.url("/api/token/"))
        .header("origin", APP)
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.json().await.expect("json"))
}

#[tokio::test]
async fn login_sets_an_httponly_refresh_cookie_scoped_to_the_token_endpoints_and_a_csrf_cookie() {
    let app = cookie_app(|_| {}).await;
    let (headers, body) = login(&app).await;
    let cookies = set_cookies(&headers);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let refresh = &cookies
        .iter()
        .find(|(name, _)| name == "__Secure-refresh")
        .expect("refresh")
        .1;
    let token = body["refresh"].as_str().expect("the body still carries it");
    // The refresh token lives a day by default.
    assert_eq!(
        refresh,
        &format!(
            "__Secure-refresh={token}; HttpOnly; SameSite=Strict; Secure; Path=/api/token/; Max-Age=86400"
        )
    );
    let csrf = &cookies
        .iter()
        .find(|(name, _)| name == "__Host-csrftoken")
        .expect("csrf")
        .1;
    let value = cookie_value(&headers, "__Host-csrftoken");
    assert_eq!(value.len(), 43);
    // The same token in a header, for a page on another site.
    assert_eq!(headers["x-csrftoken"], value.as_str());
    assert_eq!(
        csrf,
        &format!("__Host-csrftoken={value}; SameSite=Strict; Secure; Path=/; Max-Age=86400")
    );
}

#[tokio::test]
async fn cookie_only_bodies_an_access_cookie_and_other_attributes_follow_the_settings() {
    let app = cookie_app(|settings| {
        settings.cookies.refresh_in_body = false;
        settings.cookies.access_cookie = true;
        settings.cookies.same_site = "None".to_owned();
        settings.cookies.domain = "example.com".to_owned();
    })
    .await;
    let (headers, body) = login(&app).await;
    assert_eq!(body.as_object().map(|b| b.len()), Some(1), "{body}");
    let access = body["access"].as_str().expect("access");
    let cookies = set_cookies(&headers);
    let find = |name: &str| {
        cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    };
    assert_eq!(
        find("__Secure-access").expect("access cookie"),
        format!(
            "__Secure-access={access}; HttpOnly; SameSite=None; Secure; Path=/api/; Domain=example.com; Max-Age=300"
        )
    );
    assert!(
        find("__Secure-refresh")
            .expect("refresh")
            .contains("; Domain=example.com;")
    );
    // With a domain, the CSRF cookie cannot be __Host-.
    assert!(find("__Secure-csrftoken").is_some(), "{cookies:?}");
}

#[tokio::test]
async fn refresh_by_cookie_needs_the_csrf_header_and_an_allowed_origin() {
    let app = cookie_app(|_| {}).await;
    let (headers, _) = login(&app).await;
    let refresh = cookie_value(&headers, "__Secure-refresh");
    let csrf = cookie_value(&headers, "__Host-csrftoken");
    let jar = format!("__Secure-refresh={refresh}; __Host-csrftoken={csrf}");
    let post = |origin: &str, csrf_header: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/api/token/refresh/"))
            .header("cookie", jar.clone())
            .header("origin", origin);
        if let Some(value) = csrf_header {
            request = request.header("X-CSRFToken", value);
        }
        request.send()
    };
    assert_response(
        post(APP, None).await.expect("sent"),
        403,
        json!({"detail": "CSRF Failed: CSRF token missing."}),
    )
    .await;
    assert_response(
        post(APP, Some("not-the-token")).await.expect("sent"),
        403,
        json!({"detail": "CSRF Failed: CSRF token incorrect."}),
    )
    .await;
    assert_response(
        post("https://evil.example", Some(&csrf)).await.expect("sent"),
        403,
        json!({"detail": "CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."}),
    )
    .await;
    let response = post(APP, Some(&csrf)).await.expect("sent");
    assert_eq!(response.status(), 200);
    let rotated = cookie_value(response.headers(), "__Secure-refresh");
    assert_ne!(rotated, refresh);
    // The body's token, when sent, is taken without CSRF: Simple JWT's way.
    assert_eq!(app.refresh(&rotated).await.status(), 200);
}

#[tokio::test]
async fn logout_by_cookie_clears_the_cookies_and_ends_the_session() {
    let app = cookie_app(|_| {}).await;
    let (headers, body) = login(&app).await;
    let refresh = cookie_value(&headers, "__Secure-refresh");
    let csrf = cookie_value(&headers, "__Host-csrftoken");
    let response = app
        .client
        .post(app.url("/api/token/blacklist/"))
        .header(
            "cookie",
            format!("__Secure-refresh={refresh}; __Host-csrftoken={csrf}"),
        )
        .header("origin", APP)
        .header("X-CSRFToken", &csrf)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let cleared = set_cookies(response.headers());
    assert_eq!(
        cleared
            .iter()
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>(),
        [
            "__Secure-refresh=; HttpOnly; SameSite=Strict; Secure; Path=/api/token/; Max-Age=0",
            "__Secure-access=; HttpOnly; SameSite=Strict; Secure; Path=/api/; Max-Age=0",
            "__Host-csrftoken=; SameSite=Strict; Secure; Path=/; Max-Age=0",
        ]
    );
    assert_response(
        app.refresh(&refresh).await,
        401,
        token_error("Token is blacklisted"),
    )
    .await;
    let access = body["access"].as_str().expect("access");
    assert_eq!(app.me(access).await.status(), 401);
}

#[tokio::test]
async fn the_access_cookie_authenticates_bearer_routes_and_logout_all_takes_the_refresh_cookie() {
    let app = cookie_app(|settings| settings.cookies.access_cookie = true).await;
    let (headers, _) = login(&app).await;
    let access = cookie_value(&headers, "__Secure-access");
    let refresh = cookie_value(&headers, "__Secure-refresh");
    let csrf = cookie_value(&headers, "__Host-csrftoken");
    // A read needs no CSRF token.
    let me = app
        .client
        .get(app.url("/api/me/"))
        .header("cookie", format!("__Secure-access={access}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(me.status(), 200);
    let logout_all = |with_csrf: bool| {
        let mut request = app
            .client
            .post(app.url("/api/token/logout-all/"))
            .header(
                "cookie",
                format!("__Secure-refresh={refresh}; __Host-csrftoken={csrf}"),
            )
            .header("origin", APP);
        if with_csrf {
            request = request.header("X-CSRFToken", &csrf);
        }
        request.send()
    };
    assert_eq!(logout_all(false).await.expect("sent").status(), 403);
    assert_eq!(logout_all(true).await.expect("sent").status(), 200);
    let after = app
        .client
        .get(app.url("/api/me/"))
        .header("cookie", format!("__Secure-access={access}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn login_from_a_page_of_another_origin_is_refused_in_cookie_mode() {
    let app = cookie_app(|_| {}).await;
    app.create_user("alice", PASSWORD).await;
    let response = app
        .client
        .post(app.url("/api/token/"))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .expect("sent");
    assert_response(
        response,
        403,
        json!({"detail": "CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."}),
    )
    .await;
    // A client that is no browser page (no Origin) logs in as ever.
    assert_eq!(app.obtain("alice", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn cors_answers_the_listed_origins_only_with_credentials() {
    let app = cookie_app(|_| {}).await;
    let preflight = |origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/token/refresh/"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, x-csrftoken",
            )
            .send()
    };
    let allowed = preflight(APP).await.expect("sent");
    assert_eq!(allowed.status(), 200);
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], APP);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["access-control-max-age"], "600");
    let allow_headers = headers["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_lowercase();
    assert!(
        allow_headers.contains("x-csrftoken") && allow_headers.contains("content-type"),
        "{allow_headers}"
    );
    let refused = preflight("https://evil.example").await.expect("sent");
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    app.create_user("alice", PASSWORD).await;
    let from = |origin: &str| {
        app.client
            .post(app.url("/api/token/verify/"))
            .header("origin", origin)
            .json(&json!({"token": "x"}))
            .send()
    };
    let listed = from(APP).await.expect("sent");
    assert_eq!(listed.headers()["access-control-allow-origin"], APP);
    assert_eq!(
        listed.headers()["access-control-expose-headers"]
            .to_str()
            .expect("ascii")
            .to_lowercase(),
        "x-csrftoken"
    );
    let vary = listed.headers()["vary"].to_str().expect("ascii").to_owned();
    assert!(vary.contains("Origin"), "{vary}");
    let other = from("https://evil.example").await.expect("sent");
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn with_cookie_mode_and_cors_off_nothing_of_the_contract_changes() {
    let app = spawn_app().await;
    app.create_user("alice", PASSWORD).await;
    let response = app
        .client
        .post(app.url("/api/token/"))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key(SET_COOKIE));
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let body: Value = response.json().await.expect("json");
    let refresh = body["refresh"].as_str().expect("refresh");
    let refreshed = app.refresh(refresh).await;
    assert!(!refreshed.headers().contains_key(SET_COOKIE));
    // A cookie is nobody's token when cookie mode is off.
    let by_cookie = app
        .client
        .post(app.url("/api/token/refresh/"))
        .header(
            "cookie",
            format!("__Secure-refresh={refresh}; refresh={refresh}"),
        )
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_response(
        by_cookie,
        400,
        json!({"refresh": ["This field is required."]}),
    )
    .await;
}

#[tokio::test]
async fn unsafe_browser_settings_are_refused_at_start() {
    let refused = |customize: fn(&mut latchkey::settings::Settings)| {
        let mut settings = latchkey::settings::Settings::defaults();
        customize(&mut settings);
        settings.validate().expect_err("refused").to_string()
    };
    assert!(refused(|s| s.cors.allowed_origins = vec!["*".to_owned()]).contains("\"*\""));
    assert!(
        refused(|s| s.cors.allowed_origins = vec!["https://app.example.com/".to_owned()])
            .contains("not an origin")
    );
    assert!(
        refused(|s| {
            s.cookies.same_site = "None".to_owned();
            s.cookies.secure = false;
        })
        .contains("SameSite=None")
    );
    assert!(refused(|s| s.cookies.same_site = "strict".to_owned()).contains("cookies.same_site"));
}

#[tokio::test]
async fn a_token_from_the_body_gets_simple_jwts_answer_even_in_cookie_mode() {
    // A page of another site posting its own token must not plant its
    // session's cookies, nor clear the visitor's.
    let app = cookie_app(|settings| settings.cookies.refresh_in_body = false).await;
    let (_, _) = login(&app).await;
    let pair = app.obtain("alice", PASSWORD).await;
    let refresh = pair.json::<Value>().await.expect("json");
    // Cookie-only bodies: the mobile client's token is in its cookie jar...
    assert!(refresh.get("refresh").is_none());
    // ...so a body token comes from elsewhere (an earlier login in body mode).
    let body_app = cookie_app(|_| {}).await;
    body_app.create_user("bob", PASSWORD).await;
    let token = body_app
        .obtain("bob", PASSWORD)
        .await
        .json::<Value>()
        .await
        .expect("json")["refresh"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let refreshed = body_app
        .client
        .post(body_app.url("/api/token/refresh/"))
        .header("origin", "https://evil.example")
        .json(&json!({ "refresh": token }))
        .send()
        .await
        .expect("sent");
    assert_eq!(refreshed.status(), 200);
    assert!(!refreshed.headers().contains_key(SET_COOKIE));
    let body: Value = refreshed.json().await.expect("json");
    let rotated = body["refresh"]
        .as_str()
        .expect("the body carries it")
        .to_owned();
    let logout = body_app.blacklist(&rotated).await;
    assert_eq!(logout.status(), 200);
    assert!(!logout.headers().contains_key(SET_COOKIE));
}

#[tokio::test]
async fn a_planted_second_cookie_and_a_cross_site_request_without_origin_are_refused() {
    let app = cookie_app(|_| {}).await;
    let (headers, _) = login(&app).await;
    let refresh = cookie_value(&headers, "__Secure-refresh");
    let csrf = cookie_value(&headers, "__Host-csrftoken");
    let refused = app
        .client
        .post(app.url("/api/token/refresh/"))
        .header(
            "cookie",
            format!(
                "__Secure-refresh=planted; __Secure-refresh={refresh}; __Host-csrftoken={csrf}"
            ),
        )
        .header("origin", APP)
        .header("X-CSRFToken", &csrf)
        .send()
        .await
        .expect("sent");
    assert_response(
        refused,
        403,
        json!({"detail": "CSRF Failed: more than one __Secure-refresh cookie was sent."}),
    )
    .await;
    let no_origin = app
        .client
        .post(app.url("/api/token/refresh/"))
        .header(
            "cookie",
            format!("__Secure-refresh={refresh}; __Host-csrftoken={csrf}"),
        )
        .header("sec-fetch-site", "cross-site")
        .header("X-CSRFToken", &csrf)
        .send()
        .await
        .expect("sent");
    assert_response(
        no_origin,
        403,
        json!({"detail": "CSRF Failed: Origin checking failed - a cross-site request without an Origin."}),
    )
    .await;
}

#[tokio::test]
async fn signup_in_cookie_mode_checks_the_origin_and_sets_the_cookies() {
    let app = cookie_app(|settings| settings.signup.enabled = true).await;
    let body = json!({"username": "carol", "password1": PASSWORD, "password2": PASSWORD});
    let from_elsewhere = app
        .client
        .post(app.url("/api/register/"))
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(from_elsewhere.status(), 403);
    let from_app = app
        .client
        .post(app.url("/api/register/"))
        .header("origin", APP)
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(from_app.status(), 201);
    let names: Vec<String> = set_cookies(from_app.headers())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["__Secure-refresh", "__Host-csrftoken"]);
}

#[tokio::test]
async fn origins_must_be_written_as_browsers_send_them() {
    let mut settings = latchkey::settings::Settings::defaults();
    settings.cors.allowed_origins = vec!["https://App.example.com:443".to_owned()];
    let refused = settings.validate().expect_err("refused").to_string();
    assert!(refused.contains("\"https://app.example.com\""), "{refused}");
}

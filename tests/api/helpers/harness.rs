//! `spawn_app()`: a real latchkey on port 0 with its own database
//! (`super::database`), and typed helpers to speak HTTP to it and to change
//! its users as an operator would.

use std::time::{Duration, Instant};

use latchkey::db::{groups, users};
use latchkey::passwords::{Password, PasswordHasher};
use latchkey::settings::Settings;
use latchkey::startup::Application;
use latchkey::state::AppState;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use super::database::TestDatabase;

/// The shared secret every test app signs with, unless a test configures keys.
pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

/// The admin client every test app accepts (`admin.clients`).
pub const ADMIN_ID: &str = "backend";
pub const ADMIN_SECRET: &str = "admin-client-secret-of-at-least-32-bytes";

pub struct TestApp {
    pub address: String,
    /// `/metrics`' own listener, when `metrics.bind` is set.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub state: AppState,
    _database: TestDatabase,
    _data_dir: tempfile::TempDir,
}

#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug)]
pub struct Pair {
    pub access: String,
    pub refresh: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = TestDatabase::create(data_dir.path());
    let mut settings = Settings::defaults();
    settings.data_dir = data_dir.path().to_owned();
    settings.server.bind = "127.0.0.1:0".to_owned();
    settings.server.workers = 2;
    settings.database.url = Some(database.url.parse().expect("a database URL"));
    settings.database.pool_size = 4;
    settings.jwt.signing_key = SECRET.to_owned();
    // Hashing cost is not under test here; 1,000,000 iterations would make the suite crawl.
    settings.passwords.iterations = 1000;
    // Tests log in and fail from one address far more often than the default
    // limits allow; tests/api/throttle.rs turns on the limits it tests.
    for limit in [
        &mut settings.throttle.login_failures,
        &mut settings.throttle.login_attempts,
        &mut settings.throttle.account_failures,
        &mut settings.throttle.refresh,
        &mut settings.throttle.signups,
    ] {
        limit.per_minute = 0;
    }
    settings.admin.clients = vec![latchkey::settings::ClientSettings {
        id: ADMIN_ID.to_owned(),
        secret: ADMIN_SECRET.to_owned(),
    }];
    customize(&mut settings);
    settings.validate().expect("test settings are valid");

    let application = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let metrics_address = application
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let state = application.state().clone();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::new(),
        state,
        _database: database,
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub fn database_url(&self) -> String {
        self.state.settings.database_url().as_str().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn create_user(&self, username: &str, password: &str) -> TestUser {
        self.create_user_with(username, password, true).await
    }

    pub async fn create_user_with(&self, username: &str, password: &str, active: bool) -> TestUser {
        let state = self.state.clone();
        let (name, plain) = (username.to_owned(), password.to_owned());
        let user = tokio::task::spawn_blocking(move || {
            let hash = state
                .settings
                .passwords
                .hasher()
                .hash(&Password::new(plain));
            let mut conn = state.db.pool().get().expect("connection");
            users::create(
                &mut conn,
                &name,
                &hash,
                active,
                chrono::Utc::now().naive_utc(),
            )
            .expect("user created")
        })
        .await
        .expect("blocking task");
        TestUser {
            id: user.id,
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    /// A user whose stored hash is `hash` as given (another iteration count,
    /// an imported Django hash).
    pub async fn create_user_with_hash(&self, username: &str, hash: String) -> i64 {
        let name = username.to_owned();
        self.with_db(move |conn| {
            users::create(conn, &name, &hash, true, chrono::Utc::now().naive_utc())
                .expect("user created")
                .id
        })
        .await
    }

    /// Deactivates the user, as `latchkey users deactivate` does: every
    /// session of theirs ends.
    pub async fn deactivate(&self, username: &str) {
        self.set_active(username, false).await;
    }

    pub async fn activate(&self, username: &str) {
        self.set_active(username, true).await;
    }

    async fn set_active(&self, username: &str, active: bool) {
        let name = username.to_owned();
        let existed = self
            .with_db(move |conn| users::set_active(conn, &name, active).expect("updated"))
            .await;
        assert!(existed, "no user {username:?}");
    }

    /// Deletes the user, as `latchkey users delete` does.
    pub async fn delete_user(&self, username: &str) {
        let name = username.to_owned();
        let existed = self
            .with_db(move |conn| {
                users::delete(conn, users::UserKey::Name(&name))
                    .expect("deleted")
                    .is_some()
            })
            .await;
        assert!(existed, "no user {username:?}");
    }

    /// Changes the user's password, as `latchkey users set-password` does:
    /// every session of theirs ends.
    pub async fn set_password(&self, username: &str, password: &str) {
        let hash = self
            .state
            .settings
            .passwords
            .hasher()
            .hash(&Password::new(password.to_owned()));
        let name = username.to_owned();
        let existed = self
            .with_db(move |conn| users::set_password(conn, &name, &hash).expect("changed"))
            .await;
        assert!(existed, "no user {username:?}");
    }

    pub async fn create_group(&self, name: &str) {
        let name = name.to_owned();
        let created = self
            .with_db(move |conn| groups::create(conn, &name).expect("created"))
            .await;
        assert!(created, "the group is new");
    }

    /// Makes `names` the user's groups, as an operator would.
    pub async fn set_groups(&self, username: &str, names: &[&str]) {
        let name = username.to_owned();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let outcome = self
            .with_db(move |conn| {
                groups::set_for_user(conn, &name, &names, chrono::Utc::now().naive_utc())
                    .expect("changed")
            })
            .await;
        assert_eq!(outcome, Ok(true), "{username} and the groups exist");
    }

    /// Replaces the user's claims object, as an operator would.
    pub async fn set_claims(&self, username: &str, claims: Value) {
        let name = username.to_owned();
        let existed = self
            .with_db(move |conn| {
                users::set_claims(conn, &name, &claims.to_string()).expect("changed")
            })
            .await;
        assert!(existed, "no user {username:?}");
    }

    pub async fn logout_all(&self, access: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/token/logout-all/"))
            .bearer_auth(access)
            .send()
            .await
            .expect("request sent")
    }

    /// Runs storage code against the app's own database.
    pub async fn with_db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut latchkey::db::DbConnection) -> T + Send + 'static,
    ) -> T {
        let pool = self.state.db.pool().clone();
        tokio::task::spawn_blocking(move || work(&mut pool.get().expect("connection")))
            .await
            .expect("blocking task")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: &'static str,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        request.send().await.expect("request sent")
    }

    pub async fn obtain(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/token/",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn obtain_pair(&self, user: &TestUser) -> Pair {
        let response = self.obtain(&user.username, &user.password).await;
        assert_eq!(response.status(), 200, "login of {user:?}");
        let body: Value = response.json().await.expect("json");
        Pair {
            access: body["access"].as_str().expect("access").to_owned(),
            refresh: body["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    pub async fn refresh(&self, refresh: &str) -> reqwest::Response {
        self.post_json("/api/token/refresh/", &json!({ "refresh": refresh }))
            .await
    }

    /// Refreshes `refresh`, which must succeed, for the rotated pair.
    pub async fn refresh_pair(&self, refresh: &str) -> Pair {
        let response = self.refresh(refresh).await;
        assert_eq!(response.status(), 200, "refresh should succeed");
        let body: Value = response.json().await.expect("json");
        Pair {
            access: body["access"].as_str().expect("access").to_owned(),
            refresh: body["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    pub async fn verify(&self, token: &str) -> reqwest::Response {
        self.post_json("/api/token/verify/", &json!({ "token": token }))
            .await
    }

    pub async fn blacklist(&self, refresh: &str) -> reqwest::Response {
        self.post_json("/api/token/blacklist/", &json!({ "refresh": refresh }))
            .await
    }

    pub async fn me_with_header(&self, authorization: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url("/api/me/"));
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request.send().await.expect("request sent")
    }

    pub async fn me(&self, access: &str) -> reqwest::Response {
        self.me_with_header(Some(&format!("Bearer {access}"))).await
    }

    /// A request to the admin API as the configured admin client.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(ADMIN_ID, Some(ADMIN_SECRET))
    }

    /// Creates a user through the admin API, which must accept it; returns
    /// the answer's body.
    pub async fn admin_create(&self, user: &Value) -> Value {
        let response = self
            .admin(reqwest::Method::POST, "/api/admin/users/")
            .json(user)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "{body}");
        body
    }
}

/// Asserts the status and exact JSON body; returns the `WWW-Authenticate`
/// challenge, if any.
async fn assert_status_and_body(
    response: reqwest::Response,
    status: u16,
    body: Value,
) -> Option<String> {
    let actual_status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let actual_body: Value = response.json().await.expect("a JSON body");
    assert_eq!((actual_status, &actual_body), (status, &body));
    challenge
}

/// Asserts a status and exact JSON body with no `WWW-Authenticate`, or, for
/// a 401, a client-authentication challenge (`Basic realm="api"`).
pub async fn assert_client_response(response: reqwest::Response, status: u16, body: Value) {
    let challenge = assert_status_and_body(response, status, body).await;
    let expected = (status == 401).then(|| r#"Basic realm="api""#.to_owned());
    assert_eq!(challenge, expected);
}

/// Asserts status and exact JSON body, and that `WWW-Authenticate` is present
/// exactly on 401s, starting with Simple JWT's `Bearer realm="api"` (a refused
/// Bearer token adds RFC 6750's `error`, checked by the security tests).
pub async fn assert_response(response: reqwest::Response, status: u16, body: Value) {
    let challenge = assert_status_and_body(response, status, body).await;
    if status == 401 {
        let challenge = challenge.expect("a 401 carries WWW-Authenticate");
        assert!(
            [
                r#"Bearer realm="api""#,
                r#"Bearer realm="api", error="invalid_token""#,
                r#"Bearer realm="api", error="invalid_request""#,
            ]
            .contains(&challenge.as_str()),
            "{challenge}"
        );
    } else {
        assert_eq!(challenge, None, "only 401s carry WWW-Authenticate");
    }
}

/// Waits (up to a few sync intervals) until `check` holds: the bound within
/// which a revocation made elsewhere must be enforced.
pub async fn within_sync_interval<F, Fut>(app: &TestApp, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let bound = app.state.settings.cache.sync_interval() * 5;
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < bound, "not enforced within {bound:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A stored password hash of `password` with `iterations` (another count
/// than the app's, or a slow one to hold a login in its hash).
pub fn password_hash(iterations: u32, password: &str) -> String {
    PasswordHasher::new(iterations).hash(&Password::new(password.to_owned()))
}

/// Simple JWT's answer to a Bearer token no token class accepts, with why.
pub fn bearer_error(message: &str) -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
    })
}

pub fn token_error(detail: &str) -> Value {
    json!({ "detail": detail, "code": "token_not_valid" })
}

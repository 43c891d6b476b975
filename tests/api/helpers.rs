//! `spawn_app()`: a real latchkey on port 0 with its own database, SQLite by
//! default or a fresh PostgreSQL schema when `TEST_DATABASE_URL` is set; both
//! are removed when the test ends.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::{Connection, RunQueryDsl};
use latchkey::db::users;
use latchkey::passwords::Password;
use latchkey::settings::{KeySettings, Settings};
use latchkey::startup::Application;
use latchkey::state::AppState;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

pub struct TestApp {
    pub address: String,
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
    settings.database.url = database.url.clone();
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
    ] {
        limit.per_minute = 0;
    }
    customize(&mut settings);
    settings.validate().expect("test settings are valid");

    let application = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state().clone();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        state,
        _database: database,
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub fn database_url(&self) -> String {
        self.state.settings.database_url()
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
            let hash = state.hasher.hash(&Password::new(plain));
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
}

/// Asserts status and exact JSON body, and that `WWW-Authenticate` is present
/// exactly on 401s, starting with Simple JWT's `Bearer realm="api"` (a refused
/// Bearer token adds RFC 6750's `error`, checked by the security tests).
pub async fn assert_response(response: reqwest::Response, status: u16, body: Value) {
    let actual_status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let actual_body: Value = response.json().await.expect("a JSON body");
    assert_eq!((actual_status, &actual_body), (status, &body));
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

pub fn token_error(detail: &str) -> Value {
    json!({ "detail": detail, "code": "token_not_valid" })
}

/// Signs arbitrary header and claims with `secret`, for forged and legacy tokens.
pub fn sign_with(
    secret: &[u8],
    algorithm: jsonwebtoken::Algorithm,
    header: &Value,
    claims: &Value,
) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, algorithm).expect("signs");
    format!("{message}.{signature}")
}

/// A token signed with the test app's secret.
pub fn sign(claims: &Value) -> String {
    sign_with(
        SECRET.as_bytes(),
        jsonwebtoken::Algorithm::HS256,
        &json!({"alg": "HS256", "typ": "JWT"}),
        claims,
    )
}

/// A generated private key, with what configures it.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub algorithm: &'static str,
    pub private_pem: String,
}

impl TestKey {
    pub fn generate(algorithm: &'static str) -> Self {
        let parsed = latchkey::tokens::parse_algorithm(algorithm).expect("known algorithm");
        let key = latchkey::tokens::keys::generate(parsed).expect("key generated");
        Self {
            kid: key.kid,
            algorithm,
            private_pem: key.pem,
        }
    }

    /// The `jwt.keys` entry holding the private key.
    pub fn private(&self) -> KeySettings {
        KeySettings {
            kid: self.kid.clone(),
            algorithm: latchkey::tokens::parse_algorithm(self.algorithm).expect("known algorithm"),
            file: String::new(),
            pem: self.private_pem.clone(),
            secret: String::new(),
        }
    }

    /// The `jwt.keys` entry holding only the public key (verify only).
    pub fn public(&self) -> KeySettings {
        let public = crate::verifiers::openssl(&["pkey", "-pubout"], self.private_pem.as_bytes());
        KeySettings {
            pem: String::from_utf8(public).expect("PEM text"),
            ..self.private()
        }
    }
}

/// Settings signing with `signer` alone, without the shared secret.
pub fn sign_with_key(settings: &mut Settings, signer: &TestKey, others: &[KeySettings]) {
    settings.jwt.signing_key.clear();
    settings.jwt.signing_kid = signer.kid.clone();
    settings.jwt.keys = std::iter::once(signer.private())
        .chain(others.iter().cloned())
        .collect();
}

/// The decoded JOSE header of a token.
pub fn header_of(token: &str) -> Value {
    let header = token.split('.').next().expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("json")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims of a token, unverified.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// A fresh database for one test, dropped with it.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn create(dir: &std::path::Path) -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => Self {
                url: format!("sqlite://{}", dir.join("test.sqlite3").display()),
                postgres: None,
            },
            Some(base) => {
                // Test databases are local: no TLS unless the URL asks for it.
                // libpq's OpenSSL state is torn down at process exit while
                // the pools of finished tests still hold TLS connections,
                // which crashed the test process (SIGSEGV in libcrypto) after
                // every test had passed.
                let base = if base.contains("sslmode=") {
                    base
                } else {
                    let separator = if base.contains('?') { '&' } else { '?' };
                    format!("{base}{separator}sslmode=disable")
                };
                let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
                let mut admin =
                    diesel::PgConnection::establish(&base).expect("TEST_DATABASE_URL reachable");
                diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                    .execute(&mut admin)
                    .expect("schema created");
                let separator = if base.contains('?') { '&' } else { '?' };
                Self {
                    url: format!("{base}{separator}options=-csearch_path%3D{schema}"),
                    postgres: Some((base, schema)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.postgres
            && let Ok(mut admin) = diesel::PgConnection::establish(base)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut admin);
        }
    }
}

//! Asymmetric keys: the JWKS and discovery documents, every algorithm through
//! a whole session, a third-party verifier (PyJWT) using only the JWKS URL,
//! and key rotation without logging anyone out.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestKey, assert_response, claims_of, header_of, pyjwt_verify, sign_with_key,
    spawn_app_with, token_error,
};

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .send()
        .await
        .expect("request sent")
}

async fn jwks_of(app: &TestApp) -> Value {
    get(app, "/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("JSON")
}

fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["kid"].as_str().expect("kid").to_owned())
        .collect();
    kids.sort();
    kids
}

#[tokio::test]
async fn jwks_lists_every_public_key_and_never_a_secret() {
    let signer = TestKey::generate("EdDSA");
    let (es, rs) = (TestKey::generate("ES256"), TestKey::generate("RS256"));
    let (signer_, es_, rs_) = (signer.clone(), es.clone(), rs.clone());
    let app = spawn_app_with(move |s| {
        sign_with_key(
            s,
            &signer_,
            &[
                es_.public(),
                rs_.private(),
                latchkey::settings::KeySettings {
                    kid: "shared".into(),
                    algorithm: jsonwebtoken::Algorithm::HS256,
                    file: String::new(),
                    pem: String::new(),
                    secret: "0123456789abcdef0123456789abcdef".into(),
                },
            ],
        );
        s.jwt.jwks_max_age_seconds = 120;
    })
    .await;

    let response = get(&app, "/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=120");
    assert_eq!(response.headers()["content-type"], "application/json");
    let jwks: Value = response.json().await.expect("JSON");
    let mut expected = vec![signer.kid.clone(), es.kid.clone(), rs.kid.clone()];
    expected.sort();
    assert_eq!(kids(&jwks), expected, "the HMAC key is not published");
    for key in jwks["keys"].as_array().expect("keys") {
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} published in {key}");
        }
        let expected = match key["alg"].as_str().expect("alg") {
            "EdDSA" => json!({"kty": "OKP", "crv": "Ed25519"}),
            "ES256" => json!({"kty": "EC", "crv": "P-256"}),
            "RS256" => json!({"kty": "RSA", "e": "AQAB"}),
            other => panic!("unexpected alg {other}"),
        };
        for (member, value) in expected.as_object().expect("object") {
            assert_eq!(&key[member], value, "{key}");
        }
    }

    let head = app
        .client
        .head(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("sent");
    assert_eq!(head.status(), 200);
    let post = app
        .client
        .post(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("sent");
    assert_response(post, 405, json!({"detail": "Method \"POST\" not allowed."})).await;
}

#[tokio::test]
async fn shared_secret_mode_publishes_an_empty_set() {
    let app = spawn_app_with(|_| {}).await;
    assert_eq!(jwks_of(&app).await, json!({"keys": []}));
}

#[tokio::test]
async fn discovery_points_at_the_jwks() {
    let key = TestKey::generate("ES256");
    let key_ = key.clone();
    let app = spawn_app_with(move |s| sign_with_key(s, &key_, &[])).await;
    let response = get(&app, "/.well-known/openid-configuration").await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.expect("JSON");
    assert_eq!(document["issuer"], app.address.as_str());
    assert_eq!(
        document["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.address)
    );
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let jwks: Value = reqwest::get(document["jwks_uri"].as_str().expect("uri"))
        .await
        .expect("fetched")
        .json()
        .await
        .expect("JSON");
    assert_eq!(kids(&jwks), [key.kid.as_str()]);

    let key_ = key.clone();
    let configured = spawn_app_with(move |s| {
        sign_with_key(s, &key_, &[]);
        s.jwt.issuer = "https://auth.example.com".into();
        s.server.public_url = "https://auth.example.com/".into();
    })
    .await;
    let document: Value = get(&configured, "/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(document["issuer"], "https://auth.example.com");
    assert_eq!(
        document["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
}

/// A whole session signed with `algorithm`, then PyJWT verifies the tokens
/// using nothing but the JWKS URL.
async fn session_with(algorithm: &'static str) {
    let key = TestKey::generate(algorithm);
    let key_ = key.clone();
    let app = spawn_app_with(move |s| sign_with_key(s, &key_, &[])).await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    for token in [&pair.access, &pair.refresh] {
        assert_eq!(
            header_of(token),
            json!({"alg": algorithm, "kid": key.kid, "typ": "JWT"}),
            "{algorithm}"
        );
    }
    assert_eq!(app.me(&pair.access).await.status(), 200, "{algorithm}");
    assert_response(app.verify(&pair.access).await, 200, json!({})).await;
    let response = app.refresh(&pair.refresh).await;
    assert_eq!(response.status(), 200, "{algorithm}");
    let rotated: Value = response.json().await.expect("JSON");
    let rotated_refresh = rotated["refresh"].as_str().expect("refresh").to_owned();

    let results = pyjwt_verify(
        app.url("/.well-known/jwks.json"),
        vec![pair.access.clone(), rotated_refresh.clone()],
    )
    .await;
    for (result, token) in results.iter().zip([&pair.access, &rotated_refresh]) {
        assert_eq!(result["ok"], true, "{algorithm}: {result}");
        assert_eq!(result["claims"], claims_of(token), "{algorithm}");
    }
    assert_eq!(results[0]["claims"]["user_id"], user.id.to_string());

    // The verifier can fail: a token whose payload was altered does not verify.
    let parts: Vec<&str> = pair.access.split('.').collect();
    let forged_claims =
        serde_json::to_vec(&json!({"user_id": "1", "exp": 9_999_999_999_i64})).expect("JSON");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            forged_claims
        ),
        parts[2]
    );
    let results = pyjwt_verify(app.url("/.well-known/jwks.json"), vec![forged.clone()]).await;
    assert_eq!(results[0]["ok"], false, "{algorithm}: {}", results[0]);
    assert_response(
        app.verify(&forged).await,
        401,
        token_error("Token is invalid"),
    )
    .await;
}

#[tokio::test]
async fn eddsa_session_verified_by_pyjwt_from_the_jwks() {
    session_with("EdDSA").await;
}

#[tokio::test]
async fn es256_session_verified_by_pyjwt_from_the_jwks() {
    session_with("ES256").await;
}

#[tokio::test]
async fn rs256_session_verified_by_pyjwt_from_the_jwks() {
    session_with("RS256").await;
}

#[tokio::test]
async fn es384_and_ps256_sessions_verified_by_pyjwt_from_the_jwks() {
    session_with("ES384").await;
    session_with("PS256").await;
}

/// Asserts every token verifies through `/api/token/verify/` and through
/// PyJWT with a fresh fetch of `app`'s JWKS.
async fn assert_all_verify(app: &TestApp, tokens: &[&String], stage: &str) {
    for token in tokens {
        assert_eq!(
            app.verify(token).await.status(),
            200,
            "{stage}: {}",
            header_of(token)
        );
    }
    let results = pyjwt_verify(
        app.url("/.well-known/jwks.json"),
        tokens.iter().map(|t| (*t).clone()).collect(),
    )
    .await;
    for result in &results {
        assert_eq!(result["ok"], true, "{stage}: {result}");
    }
}

#[tokio::test]
async fn rotation_keeps_every_token_valid_at_every_step() {
    let old = TestKey::generate("EdDSA");
    let new = TestKey::generate("ES256");

    // 1. The old key signs.
    let old_ = old.clone();
    let before = spawn_app_with(move |s| sign_with_key(s, &old_, &[])).await;
    let database_url = before.database_url();
    let user = before.create_user("alice", "pw").await;
    let first = before.obtain_pair(&user).await;
    assert_eq!(header_of(&first.access)["kid"], old.kid.as_str());
    assert_all_verify(&before, &[&first.access, &first.refresh], "before").await;

    // 2. The new key is published, verify-only; the old one still signs.
    let (old_, new_, url) = (old.clone(), new.clone(), database_url.clone());
    let published = spawn_app_with(move |s| {
        s.database.url = Some(url.parse().expect("a database URL"));
        sign_with_key(s, &old_, &[new_.public()]);
    })
    .await;
    assert_eq!(kids(&jwks_of(&published).await), {
        let mut both = vec![old.kid.clone(), new.kid.clone()];
        both.sort();
        both
    });
    let second = published.obtain_pair(&user).await;
    assert_eq!(header_of(&second.access)["kid"], old.kid.as_str());
    assert_all_verify(
        &published,
        &[
            &first.access,
            &first.refresh,
            &second.access,
            &second.refresh,
        ],
        "published",
    )
    .await;

    // 3. The new key signs; the old one verifies only.
    let (old_, new_, url) = (old.clone(), new.clone(), database_url.clone());
    let promoted = spawn_app_with(move |s| {
        s.database.url = Some(url.parse().expect("a database URL"));
        sign_with_key(s, &new_, &[old_.public()]);
    })
    .await;
    let third = promoted.obtain_pair(&user).await;
    assert_eq!(
        header_of(&third.access),
        json!({"alg": "ES256", "kid": new.kid, "typ": "JWT"})
    );
    let response = promoted.refresh(&second.refresh).await;
    assert_eq!(response.status(), 200, "an old-key refresh token rotates");
    let rotated: Value = response.json().await.expect("JSON");
    let rotated_access = rotated["access"].as_str().expect("access").to_owned();
    assert_eq!(header_of(&rotated_access)["kid"], new.kid.as_str());
    assert_eq!(promoted.me(&first.access).await.status(), 200);
    assert_all_verify(
        &promoted,
        &[
            &first.access,
            &first.refresh,
            &second.access,
            &third.access,
            &third.refresh,
            &rotated_access,
        ],
        "promoted",
    )
    .await;

    // 4. Once the old key's tokens have expired, it is removed: the new
    // key's tokens verify; anything the old key signed no longer does.
    let (new_, url) = (new.clone(), database_url.clone());
    let after = spawn_app_with(move |s| {
        s.database.url = Some(url.parse().expect("a database URL"));
        sign_with_key(s, &new_, &[]);
    })
    .await;
    assert_eq!(kids(&jwks_of(&after).await), [new.kid.as_str()]);
    assert_all_verify(
        &after,
        &[&third.access, &third.refresh, &rotated_access],
        "after",
    )
    .await;
    assert_response(
        after.verify(&first.access).await,
        401,
        token_error("Token is invalid"),
    )
    .await;
    let results = pyjwt_verify(
        after.url("/.well-known/jwks.json"),
        vec![first.access.clone()],
    )
    .await;
    assert_eq!(results[0]["ok"], false, "{}", results[0]);
}

#[tokio::test]
async fn keys_from_files_and_an_unreadable_file_stops_the_start() {
    let key = TestKey::generate("EdDSA");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("signing.pem");
    std::fs::write(&path, &key.private_pem).expect("written");
    let (key_, file) = (key.clone(), path.display().to_string());
    let app = spawn_app_with(move |s| {
        let mut entry = key_.private();
        entry.pem.clear();
        entry.file = file;
        s.jwt.signing_key.clear();
        s.jwt.signing_kid = entry.kid.clone();
        s.jwt.keys = vec![entry];
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    assert_eq!(header_of(&pair.access)["kid"], key.kid.as_str());

    let mut settings = latchkey::settings::Settings::defaults();
    settings.data_dir = dir.path().to_owned();
    settings.jwt.signing_kid = key.kid.clone();
    let mut entry = key.private();
    entry.pem.clear();
    entry.file = dir.path().join("missing.pem").display().to_string();
    settings.jwt.keys = vec![entry];
    let error = latchkey::tokens::KeySet::load(&settings.jwt.key_config(&settings.data_dir))
        .expect_err("refused");
    assert!(format!("{error:#}").contains("missing.pem"), "{error:#}");
}

//! Forged tokens aimed at the key lookup: algorithm confusion, `alg: none`,
//! hostile `kid` values, headers naming an attacker's key (`jku`, `x5u`,
//! `jwk`, `x5c`) and `crit`. Every one is refused with the contract's 401 on
//! each endpoint that reads tokens, and none makes the service open a file
//! or a connection.

use std::net::TcpListener;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestKey, assert_response, now, sign_with, sign_with_key, sign_with_pem,
    spawn_app_with, token_error,
};

/// Refused as `Token is invalid` by verify and refresh, and as a Bearer
/// token by `/api/me/`.
async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    assert_response(
        app.verify(token).await,
        401,
        token_error("Token is invalid"),
    )
    .await;
    let refresh = app.refresh(token).await;
    assert_eq!(refresh.status(), 401, "refresh: {what}");
    let body: Value = refresh.json().await.expect("JSON");
    assert_eq!(body, token_error("Token is invalid"), "refresh: {what}");
    let me = app.me(token).await;
    assert_eq!(me.status(), 401, "me: {what}");
    let body: Value = me.json().await.expect("JSON");
    assert_eq!(body["code"], "token_not_valid", "me: {what}");
    assert_eq!(
        body["messages"][0]["message"], "Token is invalid",
        "me: {what}"
    );
}

fn claims(kind: &str) -> Value {
    json!({
        "token_type": kind,
        "exp": now() + 300,
        "iat": now(),
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "user_id": "1",
    })
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A key the attacker controls, and a token signed with it.
fn attacker_token(attacker: &TestKey, header: &Value) -> String {
    sign_with_pem(
        &attacker.private_pem,
        Algorithm::EdDSA,
        header,
        &claims("access"),
    )
}

async fn app_with_public_keys() -> (TestApp, TestKey, TestKey) {
    let (eddsa, rsa) = (TestKey::generate("EdDSA"), TestKey::generate("RS256"));
    let (eddsa_, rsa_) = (eddsa.clone(), rsa.clone());
    let app = spawn_app_with(move |s| {
        sign_with_key(s, &eddsa_, &[rsa_.public()]);
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    assert_eq!(user.id, 1, "forged tokens name this user");
    (app, eddsa, rsa)
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    let (app, eddsa, rsa) = app_with_public_keys().await;
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    for key in [&eddsa, &rsa] {
        let public_pem = key.public().pem;
        let published = jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|jwk| jwk["kid"] == key.kid.as_str())
            .expect("published")
            .to_string();
        for secret in [public_pem.as_bytes(), published.as_bytes()] {
            for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let name = latchkey::tokens::algorithm_name(algorithm);
                for header in [
                    json!({"alg": name, "typ": "JWT", "kid": key.kid}),
                    json!({"alg": name, "typ": "JWT"}),
                ] {
                    let token = sign_with(secret, algorithm, &header, &claims("access"));
                    assert_refused(&app, &token, &format!("{header}")).await;
                }
            }
        }
    }
}

#[tokio::test]
async fn alg_none_and_algorithm_swaps_are_refused() {
    let (app, eddsa, rsa) = app_with_public_keys().await;
    let user_pair = app
        .obtain_pair(&crate::helpers::TestUser {
            id: 1,
            username: "alice".into(),
            password: "pw".into(),
        })
        .await;
    let signature = user_pair.access.rsplit('.').next().expect("signature");
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        for header in [
            json!({"alg": alg, "typ": "JWT"}),
            json!({"alg": alg, "typ": "JWT", "kid": eddsa.kid}),
        ] {
            let token = unsigned(&header, &claims("access"));
            assert_refused(&app, &token, &format!("{header}")).await;
            // The same with a real signature attached.
            let token = format!("{token}{signature}");
            assert_refused(&app, &token, &format!("{header} signed")).await;
        }
    }
    // A real EdDSA signature under a header naming another algorithm or key.
    let body = user_pair.access.split('.').nth(1).expect("payload");
    for header in [
        json!({"alg": "RS256", "typ": "JWT", "kid": eddsa.kid}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": rsa.kid}),
        json!({"alg": "EdDSA", "typ": "JWT"}),
        json!({"alg": "ES256", "typ": "JWT", "kid": eddsa.kid}),
    ] {
        let token = format!(
            "{}.{body}.{signature}",
            URL_SAFE_NO_PAD.encode(header.to_string())
        );
        assert_refused(&app, &token, &format!("{header}")).await;
    }
    assert_eq!(app.me(&user_pair.access).await.status(), 200);
}

#[tokio::test]
async fn hostile_kids_are_refused_without_touching_files() {
    let (app, _, _) = app_with_public_keys().await;
    // A file whose content an attacker knows: were a kid ever read as a
    // path, a token signed with that content would pass.
    let dir = tempfile::tempdir().expect("temp dir");
    let known_file = dir.path().join("known-content");
    std::fs::write(&known_file, "0123456789abcdef0123456789abcdef").expect("written");
    let known = known_file.display().to_string();
    let kids = [
        "../../dev/null".to_owned(),
        "/dev/null".to_owned(),
        known.clone(),
        format!("file://{known}"),
        "' OR '1'='1".to_owned(),
        "1; DROP TABLE users; --".to_owned(),
        "k".repeat(7000),
        "k".repeat(10 * 1024),
        "\u{0000}".to_owned(),
        String::new(),
    ];
    for kid in kids {
        for (secret, algorithm) in [
            (&b""[..], Algorithm::HS256),
            (b"0123456789abcdef0123456789abcdef", Algorithm::HS256),
        ] {
            let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
            let token = sign_with(secret, algorithm, &header, &claims("access"));
            assert_refused(&app, &token, &kid.chars().take(40).collect::<String>()).await;
        }
        let token = unsigned(&json!({"alg": "EdDSA", "kid": kid}), &claims("access"));
        assert_refused(&app, &token, "unsigned").await;
    }
    for kid in [
        json!(1),
        json!(null),
        json!(["a"]),
        json!({"path": "/dev/null"}),
    ] {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        let token = sign_with(b"", Algorithm::HS256, &header, &claims("access"));
        assert_refused(&app, &token, &kid.to_string()).await;
    }
    let users = app
        .with_db(|conn| latchkey::db::users::list(conn).expect("listed").len())
        .await;
    assert_eq!(users, 1, "the users table is intact");
}

#[tokio::test]
async fn headers_pointing_at_an_attackers_key_are_refused_without_fetching_it() {
    let (app, eddsa, _) = app_with_public_keys().await;
    let attacker = TestKey::generate("EdDSA");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let trap = format!(
        "http://127.0.0.1:{}/jwks.json",
        listener.local_addr().expect("addr").port()
    );
    let attacker_jwk = {
        let loaded = latchkey::tokens::keys::LoadedKey::from_pem(
            attacker.kid.clone(),
            Algorithm::EdDSA,
            attacker.private_pem.as_bytes(),
        )
        .expect("loads");
        let set = latchkey::tokens::KeySet::new(vec![loaded], 0, None).expect("set");
        let jwks: Value = serde_json::from_str(set.jwks()).expect("JSON");
        jwks["keys"][0].clone()
    };
    let headers = [
        json!({"alg": "EdDSA", "typ": "JWT", "kid": eddsa.kid, "jku": trap}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": attacker.kid, "jku": trap}),
        json!({"alg": "EdDSA", "typ": "JWT", "jku": trap}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": eddsa.kid, "x5u": trap}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": eddsa.kid, "jwk": attacker_jwk}),
        json!({"alg": "EdDSA", "typ": "JWT", "jwk": attacker_jwk}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": eddsa.kid, "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": eddsa.kid, "crit": ["exp"]}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": eddsa.kid, "crit": ["b64"], "b64": false}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": attacker.kid}),
    ];
    for header in headers {
        let token = attacker_token(&attacker, &header);
        assert_refused(&app, &token, &header.to_string()).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the service connected to the URL a token header named"
    );
}

#[tokio::test]
async fn a_header_with_the_signing_keys_own_fields_plus_crit_is_refused() {
    // A token the service itself would accept, re-signed with one extra
    // header: only the header differs.
    let key = TestKey::generate("EdDSA");
    let key_ = key.clone();
    let app = spawn_app_with(move |s| sign_with_key(s, &key_, &[])).await;
    // The claims name user 1: verify refuses tokens of users that are gone.
    app.create_user("alice", "pw").await;
    let sign = |header: &Value| {
        sign_with_pem(
            &key.private_pem,
            Algorithm::EdDSA,
            header,
            &claims("access"),
        )
    };
    let valid = sign(&json!({"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}));
    assert_response(app.verify(&valid).await, 200, json!({})).await;
    let with_crit = sign(&json!({"alg": "EdDSA", "kid": key.kid, "typ": "JWT", "crit": ["exp"]}));
    assert_response(
        app.verify(&with_crit).await,
        401,
        token_error("Token is invalid"),
    )
    .await;
}

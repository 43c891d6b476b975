//! Tokens the service did not issue: forged, legacy (Simple JWT's), or
//! signed with keys a test controls; and reading tokens without verifying.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::harness::SECRET;

/// Signs arbitrary header and claims with `secret`, for forged and legacy tokens.
pub fn sign_with(
    secret: &[u8],
    algorithm: jsonwebtoken::Algorithm,
    header: &Value,
    claims: &Value,
) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    sign_with_key(&key, algorithm, header, claims)
}

/// The JWS of `header` and `claims` signed with `key`.
fn sign_with_key(
    key: &jsonwebtoken::EncodingKey,
    algorithm: jsonwebtoken::Algorithm,
    header: &Value,
    claims: &Value,
) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, algorithm).expect("signs");
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

/// Signs arbitrary header and claims with a PEM private key.
pub fn sign_with_pem(
    pem: &str,
    algorithm: jsonwebtoken::Algorithm,
    header: &Value,
    claims: &Value,
) -> String {
    let key = match algorithm {
        jsonwebtoken::Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
        jsonwebtoken::Algorithm::ES256 | jsonwebtoken::Algorithm::ES384 => {
            jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes())
        }
        _ => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .expect("a private key");
    sign_with_key(&key, algorithm, header, claims)
}

/// base64url without padding, as JWTs encode their parts.
pub fn base64_url(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
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

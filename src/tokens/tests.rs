//! The token service's checks, each against Simple JWT's behaviour.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::Algorithm;
use serde_json::Map;

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// Simple JWT's defaults: five minutes, a day, no issuer or audience.
fn service() -> TokenService {
    let rules = TokenRules {
        access_lifetime: chrono::Duration::minutes(5),
        refresh_lifetime: chrono::Duration::days(1),
        sliding_lifetime: chrono::Duration::minutes(5),
        issuer: None,
        audience: None,
        leeway_seconds: 0,
        user_id_claim: "user_id".to_owned(),
        token_type_claim: "token_type".to_owned(),
        jti_claim: "jti".to_owned(),
        verified_cache_capacity: 1000,
    };
    let keys = KeySet::hmac(SECRET, Algorithm::HS256, None).expect("keys");
    TokenService::new(rules, keys, Default::default())
}

fn sign(header: &str, payload: &str) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("sign");
    format!("{message}.{signature}")
}

fn payload(extra: &str) -> String {
    let now = Utc::now().timestamp();
    format!(
        r#"{{"token_type":"access","exp":{},"iat":{now},"jti":"abc","user_id":"1"{extra}}}"#,
        now + 60
    )
}

#[test]
fn issued_tokens_round_trip_with_simple_jwt_claims() {
    let service = service();
    let now = Utc::now();
    let stamp = service.stamp(TokenType::Refresh, now);
    let (refresh, access) = service.issue_pair(42, "family", &stamp, now, &Map::new());
    let decoded = service
        .decode_as(&access.token, TokenType::Access)
        .expect("valid");
    let names: Vec<&str> = decoded.claims.keys().map(String::as_str).collect();
    assert_eq!(names, ["token_type", "exp", "iat", "jti", "user_id", "sid"]);
    assert_eq!(decoded.session(), Some("family"));
    let parent = service.decode(&refresh.token).expect("valid");
    let again = service.issue_from(TokenType::Refresh, &parent, "family", &stamp, &Map::new());
    assert_eq!(
        again.token, refresh.token,
        "the same stamp signs the same token"
    );
    assert_eq!(decoded.claims["user_id"], "42");
    assert_eq!(decoded.jti.len(), 32);
    assert!(
        decoded
            .jti
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(decoded.user, UserClaim::Id(42));
    let header = URL_SAFE_NO_PAD
        .decode(access.token.split('.').next().expect("header"))
        .expect("b64");
    assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);
    assert_eq!(
        service
            .decode_as(&refresh.token, TokenType::Access)
            .map(|_| ()),
        Err(TokenError::WrongType)
    );
}

#[test]
fn header_parameters_we_do_not_use_are_refused() {
    let service = service();
    for header in [
        r#"{"alg":"HS256","typ":"JWT","crit":["exp"]}"#,
        r#"{"alg":"HS256","jku":"https://attacker.example/jwks.json"}"#,
        r#"{"alg":"HS256","x5u":"https://attacker.example/cert.pem"}"#,
        r#"{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}"#,
        r#"{"alg":"HS256","x5c":["MIIB"]}"#,
        r#"{"alg":"HS256","kid":"unknown"}"#,
        r#"{"alg":"none"}"#,
        r#"{"alg":"HS512"}"#,
        r#"{"alg":"HS256","typ":"JOSE+JSON+other"}"#,
    ] {
        assert_eq!(
            service.decode(&sign(header, &payload(""))).map(|_| ()),
            Err(TokenError::Invalid),
            "{header}"
        );
    }
    assert!(
        service
            .decode(&sign(r#"{"alg":"HS256","typ":"JWT"}"#, &payload("")))
            .is_ok()
    );
}

#[test]
fn claims_are_checked_as_simple_jwt_checks_them() {
    let service = service();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let now = Utc::now().timestamp();
    let cases = [
        (
            format!(r#"{{"token_type":"access","iat":{now},"jti":"a"}}"#),
            TokenError::NoExp,
        ),
        (
            format!(r#"{{"token_type":"access","exp":{},"jti":"a"}}"#, now - 1),
            TokenError::Expired,
        ),
        (
            r#"{"token_type":"access","exp":"soon","jti":"a"}"#.to_owned(),
            TokenError::Invalid,
        ),
        (
            r#"{"token_type":"access","exp":1e300,"jti":"a"}"#.to_owned(),
            TokenError::Invalid,
        ),
        (
            format!(
                r#"{{"token_type":"access","exp":{},"iat":{}}}"#,
                now + 60,
                now
            ),
            TokenError::NoId,
        ),
        (
            format!(
                r#"{{"token_type":"access","exp":{},"iat":{},"jti":"a"}}"#,
                now + 60,
                now + 3600
            ),
            TokenError::Invalid,
        ),
        (
            format!(
                r#"{{"token_type":"access","exp":{},"nbf":{},"jti":"a"}}"#,
                now + 60,
                now + 3600
            ),
            TokenError::Invalid,
        ),
    ];
    for (claims, expected) in cases {
        assert_eq!(
            service.decode(&sign(header, &claims)).map(|_| ()),
            Err(expected),
            "{claims}"
        );
    }
    let untyped = format!(r#"{{"exp":{},"jti":"a"}}"#, now + 60);
    assert_eq!(
        service
            .decode_as(&sign(header, &untyped), TokenType::Access)
            .map(|_| ()),
        Err(TokenError::NoType)
    );
}

#[test]
fn user_ids_as_strings_or_numbers() {
    let service = service();
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let claim = |extra: &str| {
        let token = service
            .decode(&sign(
                header,
                &payload(extra).replace(r#","user_id":"1""#, ""),
            ))
            .expect("valid");
        token.user
    };
    assert_eq!(claim(r#","user_id":"7""#), UserClaim::Id(7));
    assert_eq!(claim(r#","user_id":7"#), UserClaim::Id(7));
    assert_eq!(claim(r#","user_id":"seven""#), UserClaim::Unrecognized);
    assert_eq!(
        claim(r#","user_id":"99999999999999999999999""#),
        UserClaim::Unrecognized
    );
    assert_eq!(claim(r#","user_id":1e40"#), UserClaim::Unrecognized);
    assert_eq!(claim(""), UserClaim::Missing);
}

#[test]
fn a_cached_token_still_expires() {
    let service = service();
    let now = Utc::now().timestamp();
    let token = sign(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &format!(
            r#"{{"token_type":"access","exp":{},"jti":"a","user_id":"1"}}"#,
            now + 1
        ),
    );
    assert!(service.decode(&token).is_ok());
    assert!(service.decode(&token).is_ok(), "served from the cache");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(service.decode(&token).map(|_| ()), Err(TokenError::Expired));
}

#[test]
fn oversized_and_malformed_tokens_are_invalid() {
    let service = service();
    for raw in [
        "",
        "a",
        "a.b",
        "a.b.c",
        "....",
        &"x".repeat(MAX_TOKEN_BYTES + 1),
    ] {
        assert_eq!(
            service.decode(raw).map(|_| ()),
            Err(TokenError::Invalid),
            "{raw}"
        );
    }
}

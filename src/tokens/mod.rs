//! Access and refresh tokens: the claims Simple JWT writes, signing, and the
//! one place every incoming token is checked. [`TokenService::validation`]
//! spells out what jsonwebtoken checks; [`TokenService::decode`] adds what it
//! does not (header allow-list, `kid`, `iat` in the future, size, claim types).

pub mod cache;
pub mod keys;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::settings::JwtSettings;
pub use keys::KeySet;

/// Tokens longer than this are refused unparsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Header parameters we accept; anything else (`crit`, `jku`, `x5u`, `jwk`,
/// `x5c`, ...) makes the token invalid.
const ALLOWED_HEADER_PARAMS: [&str; 3] = ["alg", "typ", "kid"];

/// Every algorithm a key can have, by its JOSE name.
pub const ALGORITHMS: [(&str, Algorithm); 12] = [
    ("HS256", Algorithm::HS256),
    ("HS384", Algorithm::HS384),
    ("HS512", Algorithm::HS512),
    ("EdDSA", Algorithm::EdDSA),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
];

pub const ALGORITHM_NAMES: [&str; 12] = {
    let mut names = [""; 12];
    let mut i = 0;
    while i < ALGORITHMS.len() {
        names[i] = ALGORITHMS[i].0;
        i += 1;
    }
    names
};

/// The algorithm a JOSE name stands for, matched exactly ("none" is not one).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    ALGORITHMS
        .iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, algorithm)| *algorithm)
}

/// The JOSE name of an algorithm.
pub fn algorithm_name(algorithm: Algorithm) -> &'static str {
    ALGORITHMS
        .iter()
        .find(|(_, candidate)| *candidate == algorithm)
        .map_or("", |(name, _)| name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// Why a token was refused, worded as Simple JWT words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("Token is invalid")]
    Invalid,
    #[error("Token is expired")]
    Expired,
    #[error("Token has no 'exp' claim")]
    NoExp,
    #[error("Token has no id")]
    NoId,
    #[error("Token has no type")]
    NoType,
    #[error("Token has wrong type")]
    WrongType,
    #[error("Token is blacklisted")]
    Blacklisted,
}

/// A token just signed, with what the store records of it.
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    pub jti: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The claims that make one token that token: set afresh for every token,
/// or taken from the store to sign a recorded token again, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub jti: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// The claim naming the token family (session) a token belongs to, as
/// OpenID Connect names a session.
pub const SESSION_CLAIM: &str = "sid";

/// How a token names its user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserClaim {
    Missing,
    Id(i64),
    /// Present but not an id any user can have (non-numeric, out of range).
    Unrecognized,
}

/// A token whose signature and claims passed every check.
#[derive(Clone, Debug)]
pub struct ValidatedToken {
    pub claims: Map<String, Value>,
    pub jti: String,
    pub token_type: Option<String>,
    pub expires_at: NaiveDateTime,
    pub issued_at: Option<NaiveDateTime>,
}

pub struct TokenService {
    keys: KeySet,
    access_lifetime: chrono::Duration,
    refresh_lifetime: chrono::Duration,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    user_id_claim: String,
    token_type_claim: String,
    jti_claim: String,
    /// Built once per algorithm: building one per token showed up in profiles.
    validations: Vec<(Algorithm, Validation)>,
    verified: cache::VerifiedTokens,
}

impl TokenService {
    pub fn new(settings: &JwtSettings, keys: KeySet) -> Self {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let mut service = Self {
            keys,
            access_lifetime: chrono::Duration::seconds(settings.access_token_lifetime_seconds),
            refresh_lifetime: chrono::Duration::seconds(settings.refresh_token_lifetime_seconds),
            issuer: non_empty(&settings.issuer),
            audience: non_empty(&settings.audience),
            leeway: settings.leeway_seconds,
            user_id_claim: settings.user_id_claim.clone(),
            token_type_claim: settings.token_type_claim.clone(),
            jti_claim: settings.jti_claim.clone(),
            validations: Vec::new(),
            verified: cache::VerifiedTokens::new(settings.verified_token_cache_capacity),
        };
        service.validations = service
            .keys
            .algorithms()
            .into_iter()
            .map(|algorithm| (algorithm, service.validation(algorithm)))
            .collect();
        service
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// A fresh stamp for a token of `kind` issued at `now`.
    pub fn stamp(&self, kind: TokenType, now: DateTime<Utc>) -> Stamp {
        let lifetime = match kind {
            TokenType::Access => self.access_lifetime,
            TokenType::Refresh => self.refresh_lifetime,
        };
        let iat = now.timestamp();
        Stamp {
            jti: uuid::Uuid::new_v4().simple().to_string(),
            issued_at: timestamp(iat),
            expires_at: timestamp(iat + lifetime.num_seconds()),
        }
    }

    /// A refresh and an access token for a fresh login in session `sid`,
    /// sharing `iat`.
    pub fn issue_pair(
        &self,
        user_id: i64,
        sid: &str,
        refresh: &Stamp,
        now: DateTime<Utc>,
    ) -> (IssuedToken, IssuedToken) {
        let mut carried = Map::new();
        // Simple JWT writes the id as a string.
        carried.insert(
            self.user_id_claim.clone(),
            Value::String(user_id.to_string()),
        );
        carried.insert(SESSION_CLAIM.to_owned(), Value::from(sid));
        let refresh = self.sign(TokenType::Refresh, &carried, refresh);
        let access = self.sign(
            TokenType::Access,
            &carried,
            &self.stamp(TokenType::Access, now),
        );
        (refresh, access)
    }

    /// A token of `kind` in session `sid` carrying `from`'s claims except the
    /// ones every token gets afresh (type, exp, iat, jti), as Simple JWT's
    /// refresh does.
    pub fn issue_from(
        &self,
        kind: TokenType,
        from: &ValidatedToken,
        sid: &str,
        stamp: &Stamp,
    ) -> IssuedToken {
        let fresh = [
            self.token_type_claim.as_str(),
            self.jti_claim.as_str(),
            "exp",
            "iat",
            "iss",
            "aud",
        ];
        let mut carried: Map<String, Value> = from
            .claims
            .iter()
            .filter(|(name, _)| !fresh.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        carried.insert(SESSION_CLAIM.to_owned(), Value::from(sid));
        self.sign(kind, &carried, stamp)
    }

    fn sign(&self, kind: TokenType, carried: &Map<String, Value>, stamp: &Stamp) -> IssuedToken {
        let (iat, exp) = (
            stamp.issued_at.and_utc().timestamp(),
            stamp.expires_at.and_utc().timestamp(),
        );
        // Simple JWT's claim order: token_type, exp, iat, jti, then the rest.
        let mut claims = Map::new();
        claims.insert(self.token_type_claim.clone(), Value::from(kind.as_str()));
        claims.insert("exp".to_owned(), Value::from(exp));
        claims.insert("iat".to_owned(), Value::from(iat));
        claims.insert(self.jti_claim.clone(), Value::from(stamp.jti.as_str()));
        for (name, value) in carried {
            claims.insert(name.clone(), value.clone());
        }
        if let Some(audience) = &self.audience {
            claims.insert("aud".to_owned(), Value::from(audience.as_str()));
        }
        if let Some(issuer) = &self.issuer {
            claims.insert("iss".to_owned(), Value::from(issuer.as_str()));
        }
        let signing = self.keys.signing();
        let payload = serde_json::to_vec(&claims).expect("a JSON map serializes");
        let message = format!(
            "{}.{}",
            signing.header_b64(),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = signing.sign(message.as_bytes());
        IssuedToken {
            token: format!("{message}.{signature}"),
            jti: stamp.jti.clone(),
            issued_at: stamp.issued_at,
            expires_at: stamp.expires_at,
        }
    }

    /// Everything jsonwebtoken checks for a token signed with `algorithm`.
    /// `exp` is checked when present; its absence is reported separately, as
    /// Simple JWT does, by [`Self::decode`].
    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.leeway = self.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.required_spec_claims.clear();
        validation.validate_aud = self.audience.is_some();
        if let Some(audience) = &self.audience {
            validation.set_audience(&[audience]);
            validation.required_spec_claims.insert("aud".to_owned());
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        validation
    }

    /// Checks a token's header, signature and claims; the caller checks the
    /// type it expects and the token's standing in the store. A token seen
    /// before is answered from the cache, its expiry checked again.
    pub fn decode(&self, raw: &str) -> Result<Arc<ValidatedToken>, TokenError> {
        if raw.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let fingerprint = cache::VerifiedTokens::fingerprint(raw);
        if let Some(token) = self.verified.get(&fingerprint) {
            let now = Utc::now().timestamp().saturating_sub_unsigned(self.leeway);
            if token.expires_at.and_utc().timestamp() < now {
                return Err(TokenError::Expired);
            }
            return Ok(token);
        }
        let token = Arc::new(self.verify(raw)?);
        // Refresh tokens are used once (rotation): caching them only churns.
        if token.token_type.as_deref() == Some(TokenType::Access.as_str()) {
            self.verified.insert(fingerprint, token.clone());
        }
        Ok(token)
    }

    fn verify(&self, raw: &str) -> Result<ValidatedToken, TokenError> {
        let (kid, algorithm) = check_header(raw)?;
        let key = self
            .keys
            .verification(kid.as_deref())
            .filter(|key| key.algorithm == algorithm)
            .ok_or(TokenError::Invalid)?;
        let validation = self
            .validations
            .iter()
            .find(|(candidate, _)| *candidate == algorithm)
            .map(|(_, validation)| validation)
            .ok_or(TokenError::Invalid)?;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(raw, &key.decoding, validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?
            .claims;

        // RFC 7519 §4.1.3: a recipient that does not identify itself with the
        // audience must reject the token. With no audience configured, this
        // service identifies with none, so any `aud` is someone else's token.
        if self.audience.is_none() && claims.contains_key("aud") {
            return Err(TokenError::Invalid);
        }
        let now = Utc::now().timestamp();
        let expires_at = match claims.get("exp") {
            None => return Err(TokenError::NoExp),
            Some(exp) => exp.as_i64().map(timestamp).ok_or(TokenError::Invalid)?,
        };
        let issued_at = match claims.get("iat") {
            None => None,
            Some(iat) => {
                let iat = iat.as_i64().ok_or(TokenError::Invalid)?;
                if iat > now.saturating_add_unsigned(self.leeway) {
                    return Err(TokenError::Invalid);
                }
                Some(timestamp(iat))
            }
        };
        let jti = match claims.get(&self.jti_claim) {
            None => return Err(TokenError::NoId),
            Some(Value::String(jti)) if !jti.is_empty() => jti.clone(),
            Some(_) => return Err(TokenError::Invalid),
        };
        let token_type = match claims.get(&self.token_type_claim) {
            None => None,
            Some(Value::String(kind)) => Some(kind.clone()),
            Some(_) => return Err(TokenError::Invalid),
        };
        Ok(ValidatedToken {
            claims,
            jti,
            token_type,
            expires_at,
            issued_at,
        })
    }

    /// [`Self::decode`] plus the type check of a token class.
    pub fn decode_as(
        &self,
        raw: &str,
        expected: TokenType,
    ) -> Result<Arc<ValidatedToken>, TokenError> {
        let token = self.decode(raw)?;
        match token.token_type.as_deref() {
            None => Err(TokenError::NoType),
            Some(kind) if kind == expected.as_str() => Ok(token),
            Some(_) => Err(TokenError::WrongType),
        }
    }

    /// The session the token belongs to; tokens from before sessions (and
    /// adopted Simple JWT tokens) have none.
    pub fn session<'a>(&self, token: &'a ValidatedToken) -> Option<&'a str> {
        token.claims.get(SESSION_CLAIM).and_then(Value::as_str)
    }

    pub fn user_claim(&self, token: &ValidatedToken) -> UserClaim {
        match token.claims.get(&self.user_id_claim) {
            None | Some(Value::Null) => UserClaim::Missing,
            // Simple JWT writes a string; versions before 5.0 wrote a number.
            Some(Value::String(id)) => id.parse().map_or(UserClaim::Unrecognized, UserClaim::Id),
            Some(Value::Number(id)) => id.as_i64().map_or(UserClaim::Unrecognized, UserClaim::Id),
            Some(_) => UserClaim::Unrecognized,
        }
    }
}

/// The header checks jsonwebtoken leaves to us: only `alg`, `typ` and `kid`,
/// each a string. Returns the `kid` and the algorithm named.
fn check_header(raw: &str) -> Result<(Option<String>, Algorithm), TokenError> {
    let encoded = raw.split('.').next().ok_or(TokenError::Invalid)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::Invalid)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| TokenError::Invalid)?;
    if header
        .keys()
        .any(|name| !ALLOWED_HEADER_PARAMS.contains(&name.as_str()))
    {
        return Err(TokenError::Invalid);
    }
    let algorithm = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(parse_algorithm)
        .ok_or(TokenError::Invalid)?;
    if header
        .get("typ")
        .is_some_and(|typ| !typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT")))
    {
        return Err(TokenError::Invalid);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(TokenError::Invalid),
    };
    Ok((kid, algorithm))
}

/// Seconds since the epoch as a UTC timestamp, clamped to chrono's range.
pub fn timestamp(seconds: i64) -> NaiveDateTime {
    DateTime::from_timestamp(seconds, 0)
        .unwrap_or(if seconds < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
        .naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn service() -> TokenService {
        let settings = Settings::defaults();
        let keys = KeySet::hmac(SECRET, Algorithm::HS256, None).expect("keys");
        TokenService::new(&settings.jwt, keys)
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
        let (refresh, access) = service.issue_pair(42, "family", &stamp, now);
        let decoded = service
            .decode_as(&access.token, TokenType::Access)
            .expect("valid");
        let names: Vec<&str> = decoded.claims.keys().map(String::as_str).collect();
        assert_eq!(names, ["token_type", "exp", "iat", "jti", "user_id", "sid"]);
        assert_eq!(service.session(&decoded), Some("family"));
        let parent = service.decode(&refresh.token).expect("valid");
        let again = service.issue_from(TokenType::Refresh, &parent, "family", &stamp);
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
        assert_eq!(service.user_claim(&decoded), UserClaim::Id(42));
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
            service.user_claim(&token)
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
}

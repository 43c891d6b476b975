//! Checking an incoming token. [`validation`] spells out what jsonwebtoken
//! checks; [`TokenService::decode`] adds what it does not (header
//! allow-list, `kid`, `iat` in the future, size, claim types).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::algorithms::parse_algorithm;
use super::claims::{TokenError, TokenType, TypeClaim, UserClaim, ValidatedToken, timestamp};
use super::{ActiveKeys, MAX_TOKEN_BYTES, TokenRules, TokenService, cache};

/// Header parameters we accept; anything else (`crit`, `jku`, `x5u`, `jwk`,
/// `x5c`, ...) makes the token invalid.
const ALLOWED_HEADER_PARAMS: [&str; 3] = ["alg", "typ", "kid"];

/// Everything jsonwebtoken checks for a token signed with `algorithm`.
/// `exp` is checked when present; its absence is reported separately, as
/// Simple JWT does, by [`TokenService::decode`].
pub(super) fn validation(rules: &TokenRules, algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.algorithms = vec![algorithm];
    validation.leeway = rules.leeway_seconds;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.required_spec_claims.clear();
    validation.validate_aud = rules.audience.is_some();
    if let Some(audience) = &rules.audience {
        validation.set_audience(&[audience]);
        validation.required_spec_claims.insert("aud".to_owned());
    }
    if let Some(issuer) = &rules.issuer {
        validation.set_issuer(&[issuer]);
        validation.required_spec_claims.insert("iss".to_owned());
    }
    validation
}

impl TokenService {
    /// Checks a token's header, signature and claims; the caller checks the
    /// type it expects and the token's standing (the session service). A token
    /// seen before is answered from the cache, its expiry checked again.
    pub fn decode(&self, raw: &str) -> Result<Arc<ValidatedToken>, TokenError> {
        if raw.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let fingerprint = cache::VerifiedTokens::fingerprint(raw);
        // One key set for the whole check, and only cache entries it made.
        let keys = self.keys.load();
        if let Some(token) = self.verified.get(&fingerprint, keys.version) {
            self.metrics.verified_token_cache_hits.inc();
            let now = Utc::now()
                .timestamp()
                .saturating_sub_unsigned(self.rules.leeway_seconds);
            if token.expires_at.and_utc().timestamp() < now {
                return Err(TokenError::Expired);
            }
            return Ok(token);
        }
        let token = Arc::new(self.verify(raw, &keys)?);
        // Refresh tokens are used once (rotation): caching them only churns.
        if token.is(TokenType::Access) || token.is(TokenType::Sliding) {
            self.metrics.verified_token_cache_misses.inc();
            self.verified
                .insert(fingerprint, keys.version, token.clone());
        }
        Ok(token)
    }

    /// [`Self::decode`] plus the type check of a token class.
    pub fn decode_as(
        &self,
        raw: &str,
        expected: TokenType,
    ) -> Result<Arc<ValidatedToken>, TokenError> {
        let token = self.decode(raw)?;
        match token.token_type {
            TypeClaim::Missing => Err(TokenError::NoType),
            TypeClaim::Is(kind) if kind == expected => Ok(token),
            TypeClaim::Is(_) | TypeClaim::Other => Err(TokenError::WrongType),
        }
    }

    fn verify(&self, raw: &str, keys: &ActiveKeys) -> Result<ValidatedToken, TokenError> {
        let (kid, algorithm) = check_header(raw)?;
        let key = keys
            .verification(kid.as_deref())
            .filter(|key| key.algorithm == algorithm)
            .ok_or(TokenError::Invalid)?;
        let validation = keys
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
        if self.rules.audience.is_none() && claims.contains_key("aud") {
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
                if iat > now.saturating_add_unsigned(self.rules.leeway_seconds) {
                    return Err(TokenError::Invalid);
                }
                Some(timestamp(iat))
            }
        };
        let jti = match claims.get(&self.rules.jti_claim) {
            None => return Err(TokenError::NoId),
            Some(Value::String(jti)) if !jti.is_empty() => jti.clone(),
            Some(_) => return Err(TokenError::Invalid),
        };
        let token_type = match claims.get(&self.rules.token_type_claim) {
            None => TypeClaim::Missing,
            Some(Value::String(kind)) => TypeClaim::from_name(kind),
            Some(_) => return Err(TokenError::Invalid),
        };
        let user = UserClaim::read(claims.get(&self.rules.user_id_claim));
        Ok(ValidatedToken {
            claims,
            jti,
            token_type,
            user,
            expires_at,
            issued_at,
        })
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

//! Signing: fresh stamps, a login's pair, and tokens carried over from a
//! refresh token, with Simple JWT's claims in Simple JWT's order.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::TokenService;
use super::claims::{
    IssuedToken, REFRESH_EXP_CLAIM, SESSION_CLAIM, Stamp, TokenType, ValidatedToken, timestamp,
};

impl TokenService {
    /// A fresh stamp for a token of `kind` issued at `now`.
    pub fn stamp(&self, kind: TokenType, now: DateTime<Utc>) -> Stamp {
        let lifetime = match kind {
            TokenType::Access => self.rules.access_lifetime,
            TokenType::Refresh => self.rules.refresh_lifetime,
            TokenType::Sliding => self.rules.sliding_lifetime,
        };
        let iat = now.timestamp();
        Stamp {
            jti: uuid::Uuid::new_v4().simple().to_string(),
            issued_at: timestamp(iat),
            expires_at: timestamp(iat + lifetime.num_seconds()),
        }
    }

    /// A refresh and an access token for a fresh login in session `sid`,
    /// sharing `iat`; the access token also carries `user_claims`.
    pub fn issue_pair(
        &self,
        user_id: i64,
        sid: &str,
        refresh: &Stamp,
        now: DateTime<Utc>,
        user_claims: &Map<String, Value>,
    ) -> (IssuedToken, IssuedToken) {
        let mut carried = Map::new();
        // Simple JWT writes the id as a string.
        carried.insert(
            self.rules.user_id_claim.clone(),
            Value::String(user_id.to_string()),
        );
        carried.insert(SESSION_CLAIM.to_owned(), Value::from(sid));
        let refresh = self.sign(TokenType::Refresh, &carried, refresh);
        carried.extend(user_claims.clone());
        let access = self.sign(
            TokenType::Access,
            &carried,
            &self.stamp(TokenType::Access, now),
        );
        (refresh, access)
    }

    /// A sliding token for a fresh login in session `sid`, refreshable
    /// until `refresh_exp`, with Simple JWT's claims in its order
    /// (`refresh_exp` before the user) and then `user_claims`.
    pub fn issue_sliding(
        &self,
        user_id: i64,
        sid: &str,
        stamp: &Stamp,
        refresh_exp: DateTime<Utc>,
        user_claims: &Map<String, Value>,
    ) -> IssuedToken {
        let mut carried = Map::new();
        carried.insert(
            REFRESH_EXP_CLAIM.to_owned(),
            Value::from(refresh_exp.timestamp()),
        );
        carried.insert(
            self.rules.user_id_claim.clone(),
            Value::String(user_id.to_string()),
        );
        carried.insert(SESSION_CLAIM.to_owned(), Value::from(sid));
        carried.extend(user_claims.clone());
        self.sign(TokenType::Sliding, &carried, stamp)
    }

    /// A token of `kind` in session `sid` carrying `from`'s claims except the
    /// ones every token gets afresh (type, exp, iat, jti), as Simple JWT's
    /// refresh does, and `user_claims` (their values as of now win).
    pub fn issue_from(
        &self,
        kind: TokenType,
        from: &ValidatedToken,
        sid: &str,
        stamp: &Stamp,
        user_claims: &Map<String, Value>,
    ) -> IssuedToken {
        let fresh = [
            self.rules.token_type_claim.as_str(),
            self.rules.jti_claim.as_str(),
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
        carried.extend(user_claims.clone());
        self.sign(kind, &carried, stamp)
    }

    fn sign(&self, kind: TokenType, carried: &Map<String, Value>, stamp: &Stamp) -> IssuedToken {
        let (iat, exp) = (
            stamp.issued_at.and_utc().timestamp(),
            stamp.expires_at.and_utc().timestamp(),
        );
        // Simple JWT's claim order: token_type, exp, iat, jti, then the rest.
        let mut claims = Map::new();
        claims.insert(
            self.rules.token_type_claim.clone(),
            Value::from(kind.as_str()),
        );
        claims.insert("exp".to_owned(), Value::from(exp));
        claims.insert("iat".to_owned(), Value::from(iat));
        claims.insert(
            self.rules.jti_claim.clone(),
            Value::from(stamp.jti.as_str()),
        );
        // What is carried never replaces the stamp's own claims.
        for (name, value) in carried {
            if !claims.contains_key(name) {
                claims.insert(name.clone(), value.clone());
            }
        }
        if let Some(audience) = &self.rules.audience {
            claims.insert("aud".to_owned(), Value::from(audience.as_str()));
        }
        if let Some(issuer) = &self.rules.issuer {
            claims.insert("iss".to_owned(), Value::from(issuer.as_str()));
        }
        let keys = self.keys.load();
        let signing = keys.signing();
        let payload = serde_json::to_vec(&claims).expect("a JSON map serializes");
        let message = format!(
            "{}.{}",
            signing.header_b64(),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = signing.sign(message.as_bytes());
        crate::metrics::Metrics::count(&self.metrics.tokens_issued, "token_type", kind.as_str());
        IssuedToken {
            token: format!("{message}.{signature}"),
            stamp: stamp.clone(),
        }
    }
}

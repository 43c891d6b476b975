//! `[jwt]`: what tokens carry, how long they live, and the keys that sign
//! and verify them.

use std::path::Path;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::values::{algorithm, hmac_algorithm, list_or_json, profile_claims, strings_or_json};
use crate::tokens::TokenRules;
use crate::tokens::algorithms::{MIN_HMAC_SECRET_BYTES, algorithm_name, is_hmac};
use crate::tokens::keys::loading::{KeyConfig, KeyMaterial, KeySource};
use crate::users::ProfileClaim;

/// Longest key id accepted in configuration.
pub const MAX_KID_BYTES: usize = 128;

#[derive(Clone, Deserialize)]
pub struct JwtSettings {
    /// The algorithm of `signing_key`.
    #[serde(deserialize_with = "hmac_algorithm")]
    pub algorithm: Algorithm,
    pub signing_key: String,
    pub key_id: String,
    pub access_token_lifetime_seconds: i64,
    pub refresh_token_lifetime_seconds: i64,
    pub rotate_refresh_tokens: bool,
    pub blacklist_after_rotation: bool,
    pub update_last_login: bool,
    pub issuer: String,
    pub audience: String,
    pub leeway_seconds: u64,
    #[serde(deserialize_with = "strings_or_json")]
    pub auth_header_types: Vec<String>,
    pub user_id_claim: String,
    pub token_type_claim: String,
    pub jti_claim: String,
    pub check_user_is_active: bool,
    pub adopt_unknown_refresh_tokens: bool,
    pub verified_token_cache_capacity: usize,
    pub signing_kid: String,
    #[serde(deserialize_with = "list_or_json")]
    pub keys: Vec<KeySettings>,
    /// What access tokens carry of their user, in order.
    #[serde(deserialize_with = "profile_claims")]
    pub user_claims: Vec<ProfileClaim>,
    pub jwks_max_age_seconds: u64,
}

/// One entry of `jwt.keys`: a named key with exactly one algorithm and
/// exactly one source of key material.
#[derive(Clone, Deserialize)]
pub struct KeySettings {
    pub kid: String,
    #[serde(deserialize_with = "algorithm")]
    pub algorithm: Algorithm,
    /// A PEM file: a PKCS#8 private key (the key can sign) or a public key
    /// (verify only).
    #[serde(default)]
    pub file: String,
    /// The same PEM text inline.
    #[serde(default)]
    pub pem: String,
    /// An HMAC secret (HS256/384/512 only).
    #[serde(default)]
    pub secret: String,
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySettings")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("algorithm", &self.algorithm)
            .field("signing_key", &"<redacted>")
            .field("key_id", &self.key_id)
            .field(
                "access_token_lifetime_seconds",
                &self.access_token_lifetime_seconds,
            )
            .field(
                "refresh_token_lifetime_seconds",
                &self.refresh_token_lifetime_seconds,
            )
            .field("signing_kid", &self.signing_kid)
            .field("keys", &self.keys)
            .field("user_claims", &self.user_claims)
            .finish_non_exhaustive()
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

impl JwtSettings {
    /// The names of the user, type and id claims as configured: claims of
    /// the token's own, which a user's claims object may not use.
    pub fn configured_claim_names(&self) -> Vec<String> {
        vec![
            self.user_id_claim.clone(),
            self.token_type_claim.clone(),
            self.jti_claim.clone(),
        ]
    }

    /// `leeway_seconds` as a duration, saturated far beyond any real setting.
    pub fn leeway(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.leeway_seconds).unwrap_or(i64::MAX / 4_000))
    }

    /// What the token service needs of these settings.
    pub fn token_rules(&self, sliding: &super::SlidingSettings) -> TokenRules {
        TokenRules {
            access_lifetime: chrono::Duration::seconds(self.access_token_lifetime_seconds),
            refresh_lifetime: chrono::Duration::seconds(self.refresh_token_lifetime_seconds),
            sliding_lifetime: chrono::Duration::seconds(sliding.lifetime_seconds),
            issuer: non_empty(&self.issuer),
            audience: non_empty(&self.audience),
            leeway_seconds: self.leeway_seconds,
            user_id_claim: self.user_id_claim.clone(),
            token_type_claim: self.token_type_claim.clone(),
            jti_claim: self.jti_claim.clone(),
            verified_cache_capacity: self.verified_token_cache_capacity,
        }
    }

    /// The keys these settings name, for `KeySet::load`; the development key
    /// lives under `data_dir`.
    pub fn key_config(&self, data_dir: &Path) -> KeyConfig {
        let shared_secret = (!self.signing_key.is_empty()).then(|| KeySource {
            kid: non_empty(&self.key_id),
            algorithm: self.algorithm,
            material: KeyMaterial::Secret(self.signing_key.as_bytes().to_vec()),
        });
        let keys = self
            .keys
            .iter()
            .map(|key| KeySource {
                kid: Some(key.kid.clone()),
                algorithm: key.algorithm,
                material: if !key.secret.is_empty() {
                    KeyMaterial::Secret(key.secret.as_bytes().to_vec())
                } else if !key.pem.is_empty() {
                    KeyMaterial::Pem(key.pem.as_bytes().to_vec())
                } else {
                    KeyMaterial::File(key.file.clone().into())
                },
            })
            .collect();
        KeyConfig {
            shared_secret,
            keys,
            signing_kid: non_empty(&self.signing_kid),
            data_dir: data_dir.to_owned(),
            development_kid: non_empty(&self.key_id),
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if !self.signing_key.is_empty() && self.signing_key.len() < MIN_HMAC_SECRET_BYTES {
            return Err(format!(
                "jwt.signing_key is {} bytes; an HMAC secret must be at least {MIN_HMAC_SECRET_BYTES} bytes (generate one with `openssl rand -base64 48`)",
                self.signing_key.len()
            ));
        }
        if !is_hmac(self.algorithm) {
            return Err(format!(
                "jwt.algorithm is {:?}; the shared secret in jwt.signing_key is for HS256, HS384 or HS512 (asymmetric keys go in jwt.keys)",
                algorithm_name(self.algorithm)
            ));
        }
        self.validate_keys()?;
        if self.jwks_max_age_seconds > 86_400 {
            return Err(
                "jwt.jwks_max_age_seconds must be at most 86400: verifiers must see a new key before it signs"
                    .to_owned(),
            );
        }
        if self.access_token_lifetime_seconds <= 0 || self.refresh_token_lifetime_seconds <= 0 {
            return Err("jwt token lifetimes must be positive numbers of seconds".to_owned());
        }
        if self.auth_header_types.iter().all(|t| t.trim().is_empty()) {
            return Err(
                "jwt.auth_header_types is empty; list at least one scheme, e.g. [\"Bearer\"]"
                    .to_owned(),
            );
        }
        let mut listed = std::collections::HashSet::new();
        if let Some(twice) = self
            .user_claims
            .iter()
            .find(|claim| !listed.insert(**claim))
        {
            return Err(format!("jwt.user_claims lists {:?} twice", twice.name()));
        }
        if let Some(clash) = self.user_claims.iter().find(|claim| {
            [&self.user_id_claim, &self.token_type_claim, &self.jti_claim]
                .iter()
                .any(|name| name.as_str() == claim.name())
        }) {
            return Err(format!(
                "jwt.user_claims lists {:?}, which is also the name of the user, type or id claim; rename that claim or leave it out",
                clash.name()
            ));
        }
        let claims = [&self.user_id_claim, &self.token_type_claim, &self.jti_claim];
        if claims.iter().any(|c| c.is_empty())
            || claims[0] == claims[1]
            || claims[0] == claims[2]
            || claims[1] == claims[2]
        {
            return Err(
                "jwt.user_id_claim, jwt.token_type_claim and jwt.jti_claim must be distinct, non-empty names"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// Checks `jwt.keys` and `jwt.signing_kid` without reading any key material.
    fn validate_keys(&self) -> Result<(), String> {
        let legacy_kid = (!self.signing_key.is_empty() && !self.key_id.is_empty())
            .then_some(self.key_id.as_str());
        let mut seen = std::collections::HashSet::new();
        for key in &self.keys {
            let kid = &key.kid;
            if kid.is_empty() || kid.len() > MAX_KID_BYTES || kid.chars().any(char::is_control) {
                return Err(format!(
                    "jwt.keys: every key needs a kid of 1 to {MAX_KID_BYTES} printable characters (got {kid:?})"
                ));
            }
            if !seen.insert(kid.as_str()) || legacy_kid == Some(kid.as_str()) {
                return Err(format!("jwt.keys: the kid {kid:?} is used twice"));
            }
            let sources = [&key.file, &key.pem, &key.secret]
                .iter()
                .filter(|source| !source.is_empty())
                .count();
            if sources != 1 {
                return Err(format!(
                    "jwt.keys[{kid}]: give exactly one of file, pem or secret"
                ));
            }
            if is_hmac(key.algorithm) == key.secret.is_empty() {
                return Err(format!(
                    "jwt.keys[{kid}]: {} takes {}",
                    algorithm_name(key.algorithm),
                    if is_hmac(key.algorithm) {
                        "a secret"
                    } else {
                        "a PEM key (file or pem), never a secret"
                    }
                ));
            }
            if !key.secret.is_empty() && key.secret.len() < MIN_HMAC_SECRET_BYTES {
                return Err(format!(
                    "jwt.keys[{kid}]: an HMAC secret must be at least {MIN_HMAC_SECRET_BYTES} bytes"
                ));
            }
        }
        if self.signing_kid.is_empty() {
            if !self.keys.is_empty() && self.signing_key.is_empty() {
                return Err(
                    "jwt.keys is set but no key signs; set jwt.signing_kid to one of their kids"
                        .to_owned(),
                );
            }
        } else if !seen.contains(self.signing_kid.as_str())
            && legacy_kid != Some(self.signing_kid.as_str())
        {
            return Err(format!(
                "jwt.signing_kid is {:?}, which no key in jwt.keys has",
                self.signing_kid
            ));
        }
        Ok(())
    }
}

//! Access and refresh tokens: the claims Simple JWT writes ([`claims`]),
//! signing them ([`issue`]), and the one place every incoming token is
//! checked ([`verify`]), with a cache of tokens already verified
//! ([`cache`]) and the keys ([`keys`]). The service knows nothing of
//! sessions' state or of storage: whether a valid token is still live is
//! the session service's question.

pub mod algorithms;
pub mod cache;
pub mod claims;
mod issue;
pub mod keys;
mod verify;

use jsonwebtoken::{Algorithm, Validation};

pub use algorithms::{ALGORITHM_NAMES, algorithm_name, parse_algorithm};
pub use claims::{
    IssuedToken, SESSION_CLAIM, Stamp, TokenError, TokenType, TypeClaim, UserClaim, ValidatedToken,
    timestamp,
};
pub use keys::KeySet;

/// Tokens longer than this are refused unparsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What tokens carry and how they are checked, from `jwt.*`.
#[derive(Clone, Debug)]
pub struct TokenRules {
    pub access_lifetime: chrono::Duration,
    pub refresh_lifetime: chrono::Duration,
    /// `iss` written and required, when set.
    pub issuer: Option<String>,
    /// `aud` written and required, when set.
    pub audience: Option<String>,
    pub leeway_seconds: u64,
    pub user_id_claim: String,
    pub token_type_claim: String,
    pub jti_claim: String,
    /// Access tokens kept verified at most (0: every signature is checked).
    pub verified_cache_capacity: usize,
}

pub struct TokenService {
    keys: KeySet,
    rules: TokenRules,
    /// Built once per algorithm: building one per token showed up in profiles.
    validations: Vec<(Algorithm, Validation)>,
    verified: cache::VerifiedTokens,
}

impl TokenService {
    pub fn new(rules: TokenRules, keys: KeySet) -> Self {
        let validations = keys
            .algorithms()
            .into_iter()
            .map(|algorithm| (algorithm, verify::validation(&rules, algorithm)))
            .collect();
        Self {
            verified: cache::VerifiedTokens::new(rules.verified_cache_capacity),
            keys,
            rules,
            validations,
        }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }
}

#[cfg(test)]
mod tests;

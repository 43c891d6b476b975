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

use std::sync::Arc;

use arc_swap::ArcSwap;
use jsonwebtoken::{Algorithm, Validation};

use crate::metrics::Metrics;

pub use algorithms::{ALGORITHM_NAMES, algorithm_name, parse_algorithm};
pub use claims::{
    IssuedToken, REFRESH_EXP_CLAIM, SESSION_CLAIM, Stamp, TokenError, TokenType, TypeClaim,
    UserClaim, ValidatedToken, timestamp,
};
pub use keys::KeySet;

/// Tokens longer than this are refused unparsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What tokens carry and how they are checked, from `jwt.*`.
#[derive(Clone, Debug)]
pub struct TokenRules {
    pub access_lifetime: chrono::Duration,
    pub refresh_lifetime: chrono::Duration,
    /// Each sliding token's lifetime (`sliding.lifetime_seconds`).
    pub sliding_lifetime: chrono::Duration,
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
    /// The key set in use, swapped whole by [`Self::replace_keys`]: a token
    /// is signed or checked with one key set from start to end.
    keys: ArcSwap<ActiveKeys>,
    rules: TokenRules,
    verified: cache::VerifiedTokens,
    metrics: Arc<Metrics>,
}

/// A key set in use and what is derived from it.
pub struct ActiveKeys {
    set: KeySet,
    /// Built once per algorithm: building one per token showed up in profiles.
    validations: Vec<(Algorithm, Validation)>,
    /// 1 for the key set read at start, one more for each replacement.
    pub version: u64,
}

impl std::ops::Deref for ActiveKeys {
    type Target = KeySet;

    fn deref(&self) -> &KeySet {
        &self.set
    }
}

impl ActiveKeys {
    fn new(set: KeySet, rules: &TokenRules, version: u64) -> Self {
        let validations = set
            .algorithms()
            .into_iter()
            .map(|algorithm| (algorithm, verify::validation(rules, algorithm)))
            .collect();
        Self {
            set,
            validations,
            version,
        }
    }
}

impl TokenService {
    pub fn new(rules: TokenRules, keys: KeySet, metrics: Arc<Metrics>) -> Self {
        Self {
            verified: cache::VerifiedTokens::new(rules.verified_cache_capacity),
            keys: ArcSwap::from_pointee(ActiveKeys::new(keys, &rules, 1)),
            rules,
            metrics,
        }
    }

    /// The key set in use now.
    pub fn keys(&self) -> Arc<ActiveKeys> {
        self.keys.load_full()
    }

    /// Puts `keys` in use from now on; returns the new version. Tokens
    /// checked with the previous set are checked again (a key it had may
    /// be gone).
    pub fn replace_keys(&self, keys: KeySet) -> u64 {
        // One version per key set, however many replacements race.
        let previous = self.keys.rcu(|current| {
            Arc::new(ActiveKeys::new(
                keys.clone(),
                &self.rules,
                current.version + 1,
            ))
        });
        self.verified.clear();
        previous.version + 1
    }
}

#[cfg(test)]
mod tests;

//! The user service: who users are to the applications around latchkey
//! ([`profile`]: profile fields, groups, a claims object and which of them
//! access tokens carry), and every change to them that is not a login:
//! the admin API ([`admin`]), a user's own password change
//! ([`password_change`]) and self-signup ([`signup`]). Input is checked here
//! ([`checks`]), with Django's messages, field by field; storage is
//! `crate::db`, on the blocking pool; password hashes and strength checks
//! run on the hashing pool. Whatever a change ends (sessions, cached users)
//! is enforced on this instance at once through the session service, and on
//! the others through the change feed.

pub mod admin;
mod checks;
mod password_change;
pub mod profile;
mod signup;

use crate::audit::Audit;
use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::db::{Database, DbError};
use crate::error::FieldErrors;
use crate::passwords::{HashingPool, Password, PasswordHasher, PasswordRules, UserAttributes};
use crate::sessions::{SessionError, Sessions};
use crate::throttle::{Throttle, Wait};
pub use admin::{PasswordInput, UserDraft, UserEdit};
pub use password_change::PasswordChange;
pub use profile::{
    ClaimsError, MAX_CLAIMS_BYTES, Profile, ProfileClaim, RESERVED_CLAIMS, TokenClaims,
    check_claims, check_email, check_name, parse_claims,
};
pub use signup::{Registration, SignedUp};

/// A username as it is stored (NFKC-normalized, as Django stores it), or
/// every reason it cannot be one, in Django's words: for the command line,
/// which takes names outside the API's field checks.
pub fn checked_username(name: String) -> Result<String, Vec<String>> {
    let name = checks::normalized_username(name);
    if name.is_empty() {
        return Err(vec!["This field may not be blank.".to_owned()]);
    }
    let mut problems = checks::Problems::default();
    checks::username(&name, &mut problems);
    if problems.is_empty() {
        Ok(name)
    } else {
        Err(problems.messages())
    }
}

/// Why a change to a user did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The input breaks a rule; each field says which, as DRF words it.
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("no such user")]
    NotFound,
    #[error("throttled for {0:?}")]
    Throttled(Wait),
    /// No password-hashing slot came free in time.
    #[error("hashing busy")]
    HashingBusy,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl UserError {
    fn field(name: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![(name, vec![message.into()])])
    }
}

impl From<crate::passwords::HashingBusy> for UserError {
    fn from(_: crate::passwords::HashingBusy) -> Self {
        Self::HashingBusy
    }
}

/// A user as the admin API shows them: never the password hash.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub is_active: bool,
    pub date_joined: NaiveDateTime,
    pub last_login: Option<NaiveDateTime>,
    /// Whether a password can log them in (not Django's unusable `!` marker).
    pub has_usable_password: bool,
    pub profile: Profile,
}

impl UserRecord {
    fn new(user: crate::db::users::User, groups: Vec<String>) -> Self {
        Self {
            id: user.id,
            is_active: user.is_active,
            date_joined: user.date_joined,
            last_login: user.last_login,
            has_usable_password: crate::passwords::is_usable(&user.password),
            profile: Profile::of(&user, groups),
            username: user.username,
        }
    }
}

pub struct Users {
    db: Database,
    sessions: Arc<Sessions>,
    throttle: Arc<Throttle>,
    hasher: PasswordHasher,
    hashing: Arc<HashingPool>,
    rules: Arc<PasswordRules>,
    /// The configured names of the user, type and id claims, which a claims
    /// object may not use either.
    configured_claims: Vec<String>,
    audit: Arc<Audit>,
}

/// What a user service is built from.
pub struct UserParts {
    pub db: Database,
    pub sessions: Arc<Sessions>,
    pub throttle: Arc<Throttle>,
    pub hasher: PasswordHasher,
    pub hashing: Arc<HashingPool>,
    pub rules: PasswordRules,
    pub configured_claims: Vec<String>,
    pub audit: Arc<Audit>,
}

impl Users {
    pub fn new(parts: UserParts) -> Self {
        Self {
            db: parts.db,
            sessions: parts.sessions,
            throttle: parts.throttle,
            hasher: parts.hasher,
            hashing: parts.hashing,
            rules: Arc::new(parts.rules),
            configured_claims: parts.configured_claims,
            audit: parts.audit,
        }
    }
}

/// The words a new password is checked against (the user's own), owned so
/// the check can run on the hashing pool.
#[derive(Default)]
struct Words {
    username: String,
    email: String,
    first_name: String,
    last_name: String,
}

impl Users {
    /// Checks a new password against the rules (`passwords.*`) and, when it
    /// passes and `hash` is asked, hashes it, both on the hashing pool.
    /// `Err` has every rule it breaks, in Django's words.
    async fn checked_hash(
        &self,
        password: Password,
        words: Words,
        hash: bool,
    ) -> Result<Result<Option<String>, Vec<String>>, UserError> {
        let rules = self.rules.clone();
        let hasher = self.hasher.clone();
        let outcome = self
            .hashing
            .run(move || {
                let attributes = UserAttributes {
                    username: &words.username,
                    email: &words.email,
                    first_name: &words.first_name,
                    last_name: &words.last_name,
                };
                let problems = rules.problems(password.expose(), &attributes);
                if !problems.is_empty() {
                    Err(problems)
                } else {
                    Ok(hash.then(|| hasher.hash(&password)))
                }
            })
            .await?;
        Ok(outcome)
    }
}

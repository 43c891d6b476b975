//! What a token says: its type, its user, its session, and the stamp
//! (jti, issued-at, expiry) that makes one token that token.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

/// The token classes latchkey issues, by the value of their type claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Access,
    Refresh,
    /// Simple JWT's sliding token (`sliding.enabled`): the Bearer credential
    /// and what is refreshed, in one.
    Sliding,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
            Self::Sliding => "sliding",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::Access, Self::Refresh, Self::Sliding]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// What a token's type claim says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeClaim {
    Missing,
    Is(TokenType),
    /// A type latchkey does not issue.
    Other,
}

impl TypeClaim {
    pub fn from_name(name: &str) -> Self {
        TokenType::parse(name).map_or(Self::Other, Self::Is)
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
    /// A sliding token without its refresh deadline.
    #[error("Token has no 'refresh_exp' claim")]
    NoRefreshExp,
    /// A sliding token past its refresh deadline: it still authenticates
    /// until its `exp`, but cannot slide.
    #[error("Token 'refresh_exp' claim has expired")]
    RefreshExpired,
}

/// The claims that make one token that token: set afresh for every token,
/// recorded in the store for refresh tokens, and taken back from it to sign
/// a recorded token again, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub jti: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// A token just signed.
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    pub stamp: Stamp,
}

// The token text stays out of logs.
impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("jti", &self.stamp.jti)
            .field("expires_at", &self.stamp.expires_at)
            .finish_non_exhaustive()
    }
}

/// The claim naming the session a token belongs to, as OpenID Connect
/// names a session.
pub const SESSION_CLAIM: &str = "sid";

/// The claim of a sliding token past which it cannot be refreshed
/// (Simple JWT's `SLIDING_TOKEN_REFRESH_EXP_CLAIM`).
pub const REFRESH_EXP_CLAIM: &str = "refresh_exp";

/// How a token names its user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserClaim {
    Missing,
    Id(i64),
    /// Present but not an id any user can have (non-numeric, out of range).
    Unrecognized,
}

impl UserClaim {
    /// Reads a user claim: Simple JWT writes a string; versions before 5.0
    /// wrote a number.
    pub fn read(value: Option<&Value>) -> Self {
        match value {
            None | Some(Value::Null) => Self::Missing,
            Some(Value::String(id)) => id.parse().map_or(Self::Unrecognized, Self::Id),
            Some(Value::Number(id)) => id.as_i64().map_or(Self::Unrecognized, Self::Id),
            Some(_) => Self::Unrecognized,
        }
    }
}

/// A token whose signature and claims passed every check.
#[derive(Clone, Debug)]
pub struct ValidatedToken {
    pub claims: Map<String, Value>,
    pub jti: String,
    pub token_type: TypeClaim,
    pub user: UserClaim,
    pub expires_at: NaiveDateTime,
    pub issued_at: Option<NaiveDateTime>,
}

impl ValidatedToken {
    pub fn is(&self, kind: TokenType) -> bool {
        self.token_type == TypeClaim::Is(kind)
    }

    /// The session the token belongs to; tokens from before sessions (and
    /// adopted Simple JWT tokens) have none.
    pub fn session(&self) -> Option<&str> {
        self.claims.get(SESSION_CLAIM).and_then(Value::as_str)
    }
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

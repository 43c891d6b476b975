//! Whether a validly signed token is live right now: its session not ended,
//! its user present (and active, where that is asked) and not having voided
//! it since (a password change, deactivation or logout everywhere), and for
//! a refresh token, still usable in the store. Bearer authentication,
//! verify and introspection each answer from the same [`Standing`], in
//! their own words; a [`Check`] says what the caller needs, so nothing is
//! read from the database that cannot change its answer.

use std::sync::Arc;

use super::directory::DirectoryUser;
use super::{SessionError, Sessions};
use crate::db::DbError;
use crate::db::refresh_tokens::{self, Status};
use crate::tokens::{TokenType, UserClaim, ValidatedToken};

/// Everything that decides whether a validly signed token is still live.
#[derive(Debug)]
pub struct Standing {
    pub user: UserStanding,
    /// Its session ended, or its user voided it since it was issued.
    pub ended: bool,
    /// A refresh token's state in the store; `None` for other tokens, and
    /// when `ended` or a missing user already settles it.
    pub stored: Option<StoredStanding>,
}

/// What the caller needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The user, whatever the session: Bearer authentication reports an
    /// inactive or missing user before an ended session.
    UserFirst,
    /// Whether the token is live: an ended session settles it, unread user.
    SessionFirst,
}

#[derive(Debug)]
pub enum UserStanding {
    Found(Arc<DirectoryUser>),
    /// Not looked up: the session had ended ([`Check::SessionFirst`]).
    Unchecked,
    /// The token names a user id no user has (any more).
    Missing,
    /// The token names no user id: the claim is missing or unrecognizable.
    Unnamed(UserClaim),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredStanding {
    Usable,
    /// Rotated out, blacklisted, or its session ended.
    Retired,
    /// Never recorded here; would be adopted on first use (migration mode).
    Adoptable,
    /// Never recorded here.
    Unknown,
}

impl Standing {
    /// The user, when the token names one that exists and, if
    /// `require_active`, is active.
    pub fn allowed_user(&self, require_active: bool) -> Option<&Arc<DirectoryUser>> {
        match &self.user {
            UserStanding::Found(user) if user.is_active || !require_active => Some(user),
            _ => None,
        }
    }
}

impl Sessions {
    /// Whether a refresh token is retired: rotated out, blacklisted, or
    /// its session ended (what Simple JWT's blacklist check finds, which
    /// its `SlidingToken` makes before the type check).
    pub async fn is_retired_refresh(&self, token: &ValidatedToken) -> Result<bool, SessionError> {
        let standing = self.standing(token, Check::SessionFirst).await?;
        Ok(standing.ended || matches!(standing.stored, Some(StoredStanding::Retired)))
    }

    /// The standing of `token`, checked from memory for access tokens once
    /// their user is cached; a refresh token's row is read from the store.
    pub async fn standing(
        &self,
        token: &ValidatedToken,
        check: Check,
    ) -> Result<Standing, SessionError> {
        let session_ended = |memory: &super::memory::Memory| {
            token
                .session()
                .is_some_and(|session| memory.is_ended(session))
        };
        if check == Check::SessionFirst && session_ended(&self.memory) {
            return Ok(Standing {
                user: UserStanding::Unchecked,
                ended: true,
                stored: None,
            });
        }
        let user = match token.user {
            UserClaim::Id(id) => match self.find_user(id).await? {
                Some(user) => UserStanding::Found(user),
                None => UserStanding::Missing,
            },
            unnamed => UserStanding::Unnamed(unnamed),
        };
        // Read after the user: a session ended while the user was read is
        // seen ended.
        let voided = matches!(&user, UserStanding::Found(user) if user.voids(token));
        let ended = voided || session_ended(&self.memory);
        let settled = ended || matches!(user, UserStanding::Missing);
        let stored = if token.is(TokenType::Refresh) && !settled {
            let jti = token.jti.clone();
            let status = self
                .db
                .run(move |conn| refresh_tokens::status(conn, &jti).map_err(DbError::from))
                .await?;
            Some(match status {
                Some(Status::Usable) => StoredStanding::Usable,
                Some(Status::Blacklisted) => StoredStanding::Retired,
                None if self.policy.adopt_unknown => StoredStanding::Adoptable,
                None => StoredStanding::Unknown,
            })
        } else {
            None
        };
        Ok(Standing {
            user,
            ended,
            stored,
        })
    }
}

//! Whether a validly signed token is live right now: its session not ended,
//! its user present (and active, where that is asked) and not having voided
//! it since (a password change, deactivation or logout everywhere), and for
//! a refresh token, still usable in the store. Bearer authentication,
//! verify and introspection each answer from the same [`Standing`], in
//! their own words.

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
    /// when `ended` already settles it.
    pub stored: Option<StoredStanding>,
}

#[derive(Debug)]
pub enum UserStanding {
    Found(Arc<DirectoryUser>),
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
    /// The standing of `token`, checked from memory for access tokens once
    /// their user is cached; a refresh token's row is read from the store.
    pub async fn standing(&self, token: &ValidatedToken) -> Result<Standing, SessionError> {
        let session_ended = token
            .session()
            .is_some_and(|session| self.memory.is_ended(session));
        let user = match token.user {
            UserClaim::Id(id) => match self.find_user(id).await? {
                Some(user) => UserStanding::Found(user),
                None => UserStanding::Missing,
            },
            unnamed => UserStanding::Unnamed(unnamed),
        };
        let voided = matches!(&user, UserStanding::Found(user) if user.voids(token));
        let ended = session_ended || voided;
        let stored = if token.is(TokenType::Refresh) && !ended {
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

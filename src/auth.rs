//! Authentication for protected routes, answering for every way the
//! `Authorization` header can be wrong as Django REST framework's classes
//! do, in their order: Simple JWT's `JWTAuthentication` (access tokens, and
//! sliding tokens when `sliding.enabled`), then DRF's `TokenAuthentication`
//! (`Token <key>`, when `drf_token.enabled`). In cookie mode, a request
//! without the header may use the access cookie (`crate::cookies`),
//! CSRF-checked.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use crate::db::users::Kept;
use crate::error::{ApiError, DrfKeyError};
use crate::sessions::key_directory::KeyDigest;
use crate::sessions::{Check, DirectoryUser, UserStanding};
use crate::state::AppState;
use crate::tokens::{TokenError, TokenType, TypeClaim, UserClaim, ValidatedToken};

/// The user a request authenticated as, and with what.
#[derive(Debug)]
pub struct Authenticated {
    pub user: Arc<DirectoryUser>,
    pub credential: Credential,
}

/// What a request authenticated with.
#[derive(Debug)]
pub enum Credential {
    /// A live access (or sliding) token.
    Token(Arc<ValidatedToken>),
    /// A DRF token key, by its digest.
    DrfKey(KeyDigest),
}

impl Authenticated {
    /// The session the credential belongs to; a DRF key belongs to none.
    pub fn session(&self) -> Option<&str> {
        match &self.credential {
            Credential::Token(token) => token.session(),
            Credential::DrfKey(_) => None,
        }
    }

    /// What a password change by this caller keeps: the credential used.
    pub fn kept(&self) -> Kept {
        match &self.credential {
            Credential::Token(token) => token
                .session()
                .map_or(Kept::Nothing, |id| Kept::Session(id.to_owned())),
            Credential::DrfKey(digest) => Kept::DrfKey(crate::passwords::hex(digest)),
        }
    }
}

/// Why no token class accepted a Bearer token: one message per class
/// tried, as Simple JWT lists them (access first; sliding when on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BearerRefusal {
    pub access: TokenError,
    pub sliding: Option<TokenError>,
}

impl BearerRefusal {
    /// The same reason from every class tried.
    fn every(reason: TokenError, sliding: bool) -> Self {
        Self {
            access: reason,
            sliding: sliding.then_some(reason),
        }
    }
}

/// The header split as Python's `bytes.split()` splits it.
fn parts(header: &[u8]) -> Vec<&[u8]> {
    header
        .split(|b| b.is_ascii_whitespace())
        .filter(|part| !part.is_empty())
        .collect()
}

/// What the `Authorization` header holds for `JWTAuthentication`: the
/// scheme case-sensitive. `None`: not a JWT header (another class may
/// take it).
fn raw_token<'a>(parts: &[&'a [u8]], schemes: &[String]) -> Option<Result<&'a [u8], ApiError>> {
    let scheme = parts.first()?;
    if !schemes.iter().any(|s| s.as_bytes() == *scheme) {
        return None;
    }
    Some(match parts {
        [_, token] => Ok(token),
        _ => Err(ApiError::BadAuthorizationHeader),
    })
}

/// What the header holds for `TokenAuthentication`: the keyword in any
/// case. `None`: not a `Token` header.
fn drf_key<'a>(parts: &[&'a [u8]]) -> Option<Result<&'a str, ApiError>> {
    let keyword = parts.first()?;
    if !keyword.eq_ignore_ascii_case(b"token") {
        return None;
    }
    Some(match parts {
        [_] => Err(DrfKeyError::NoCredentials.into()),
        [_, key] => std::str::from_utf8(key).map_err(|_| DrfKeyError::InvalidCharacters.into()),
        _ => Err(DrfKeyError::Spaces.into()),
    })
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            match authenticate(&state, &req, true).await? {
                Some(authenticated) => Ok(authenticated),
                None => Err(ApiError::NotAuthenticated),
            }
        })
    }
}

/// A request that may carry credentials, and must not carry bad ones: DRF
/// authenticates every request to `obtain_auth_token`, so a wrong header
/// is refused there even with the right password.
pub struct MaybeAuthenticated;

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            authenticate(&state, &req, false).await.map(|_| Self)
        })
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("application state missing".to_owned()))
}

/// The request's credentials, checked; `None` when it carries none any
/// class reads. `cookie`: whether the access cookie may stand in for a
/// missing header.
async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    cookie: bool,
) -> Result<Option<Authenticated>, ApiError> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        // No header: in cookie mode, the access cookie, once the request
        // passes the CSRF checks.
        if !cookie {
            return Ok(None);
        }
        let Some(raw) = crate::cookies::access_cookie(state, req)? else {
            return Ok(None);
        };
        crate::cookies::check_csrf(state, req)?;
        return bearer(state, &raw).await.map(Some);
    };
    let parts = parts(header.as_bytes());
    if let Some(raw) = raw_token(&parts, &state.settings.jwt.auth_header_types) {
        let sliding = state.settings.sliding.enabled;
        let raw = std::str::from_utf8(raw?).map_err(|_| {
            ApiError::BearerTokenInvalid(BearerRefusal::every(TokenError::Invalid, sliding))
        })?;
        return bearer(state, raw).await.map(Some);
    }
    if state.settings.drf_token.enabled
        && let Some(key) = drf_key(&parts)
    {
        return by_drf_key(state, key?).await.map(Some);
    }
    Ok(None)
}

/// `JWTAuthentication`: a live access token, or sliding token when on.
async fn bearer(state: &AppState, raw: &str) -> Result<Authenticated, ApiError> {
    let sliding = state.settings.sliding.enabled;
    let token = state
        .tokens
        .decode(raw)
        .map_err(|reason| ApiError::BearerTokenInvalid(BearerRefusal::every(reason, sliding)))?;
    let accepted = match token.token_type {
        TypeClaim::Is(TokenType::Access) => true,
        TypeClaim::Is(TokenType::Sliding) => sliding,
        _ => false,
    };
    if !accepted {
        return Err(ApiError::BearerTokenInvalid(
            refused_type(state, &token, sliding).await?,
        ));
    }
    let standing = state.sessions.standing(&token, Check::UserFirst).await?;
    let user = match standing.user {
        UserStanding::Unnamed(UserClaim::Missing) => {
            return Err(ApiError::NoUserIdentification);
        }
        UserStanding::Unnamed(_) | UserStanding::Missing | UserStanding::Unchecked => {
            return Err(ApiError::UserNotFound);
        }
        UserStanding::Found(user) => user,
    };
    if state.sessions.policy().require_active_user && !user.is_active {
        return Err(ApiError::UserInactive);
    }
    // After the user checks: a deactivated user (whose sessions ended with
    // the deactivation) hears "User is inactive". The class that took the
    // token says it is blacklisted; the other, that it has the wrong type.
    if standing.ended {
        let (blacklisted, other) = (TokenError::Blacklisted, TokenError::WrongType);
        return Err(ApiError::BearerTokenInvalid(
            if token.is(TokenType::Access) {
                BearerRefusal {
                    access: blacklisted,
                    sliding: sliding.then_some(other),
                }
            } else {
                BearerRefusal {
                    access: other,
                    sliding: Some(blacklisted),
                }
            },
        ));
    }
    Ok(Authenticated {
        user,
        credential: Credential::Token(token),
    })
}

/// What each class says of a validly signed token of a type it does not
/// take. Simple JWT's `SlidingToken` looks the token up in the blacklist
/// before it checks the type, so a retired refresh token is "blacklisted"
/// to it (one store lookup, on this error path only).
async fn refused_type(
    state: &AppState,
    token: &ValidatedToken,
    sliding: bool,
) -> Result<BearerRefusal, ApiError> {
    let wrong = match token.token_type {
        TypeClaim::Missing => TokenError::NoType,
        _ => TokenError::WrongType,
    };
    if !sliding {
        return Ok(BearerRefusal::every(wrong, false));
    }
    let blacklisted =
        token.is(TokenType::Refresh) && state.sessions.is_retired_refresh(token).await?;
    Ok(BearerRefusal {
        access: wrong,
        sliding: Some(if blacklisted {
            TokenError::Blacklisted
        } else {
            wrong
        }),
    })
}

/// `TokenAuthentication`: a DRF key of an active user.
async fn by_drf_key(state: &AppState, key: &str) -> Result<Authenticated, ApiError> {
    let (user, digest) = state.sessions.authenticate_key(key).await?;
    Ok(Authenticated {
        user,
        credential: Credential::DrfKey(digest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str) -> Option<Result<&[u8], ApiError>> {
        raw_token(&parts(header.as_bytes()), &["Bearer".to_owned()])
    }

    fn drf(header: &[u8]) -> Option<Result<String, ApiError>> {
        let parts = parts(header);
        drf_key(&parts).map(|read| read.map(str::to_owned))
    }

    #[test]
    fn jwt_header_forms() {
        for not_jwt in ["", "bearer abc", "Token abc", "abc"] {
            assert!(jwt(not_jwt).is_none(), "{not_jwt}");
        }
        for bad in ["Bearer", "Bearer a b"] {
            assert!(
                matches!(jwt(bad), Some(Err(ApiError::BadAuthorizationHeader))),
                "{bad}"
            );
        }
        assert_eq!(jwt("Bearer  abc").and_then(Result::ok), Some(&b"abc"[..]));
        assert_eq!(jwt("Bearer\tabc").and_then(Result::ok), Some(&b"abc"[..]));
    }

    #[test]
    fn drf_header_forms() {
        assert!(drf(b"Bearer abc").is_none());
        assert!(drf(b"").is_none());
        for keyword in ["Token", "token", "TOKEN"] {
            let header = format!("{keyword}  abc");
            assert_eq!(
                drf(header.as_bytes()).and_then(Result::ok).as_deref(),
                Some("abc")
            );
        }
        assert!(matches!(
            drf(b"Token"),
            Some(Err(ApiError::DrfKey(DrfKeyError::NoCredentials)))
        ));
        assert!(matches!(
            drf(b"Token a b"),
            Some(Err(ApiError::DrfKey(DrfKeyError::Spaces)))
        ));
        assert!(matches!(
            drf(b"Token \xff\xfe"),
            Some(Err(ApiError::DrfKey(DrfKeyError::InvalidCharacters)))
        ));
    }
}

//! Bearer authentication for protected routes, with Simple JWT's
//! `JWTAuthentication` answers for every way the header can be wrong; in
//! cookie mode, a request without the header may use the access cookie
//! (`crate::cookies`), CSRF-checked.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use std::sync::Arc;

use crate::error::ApiError;
use crate::sessions::{Check, DirectoryUser, UserStanding};
use crate::state::AppState;
use crate::tokens::{TokenError, TokenType, UserClaim, ValidatedToken};

/// The user a live access token names (`crate::sessions::Sessions::standing`).
#[derive(Debug)]
pub struct Authenticated {
    pub user: Arc<DirectoryUser>,
    pub token: Arc<ValidatedToken>,
}

/// What the `Authorization` header holds, read as Simple JWT reads it: split
/// on whitespace, the scheme case-sensitive.
fn raw_token<'a>(header: Option<&'a [u8]>, schemes: &[String]) -> Result<&'a [u8], ApiError> {
    let mut parts = header
        .unwrap_or_default()
        .split(|b| b.is_ascii_whitespace())
        .filter(|part| !part.is_empty());
    let scheme = parts.next().ok_or(ApiError::NotAuthenticated)?;
    if !schemes.iter().any(|s| s.as_bytes() == scheme) {
        return Err(ApiError::NotAuthenticated);
    }
    match (parts.next(), parts.next()) {
        (Some(token), None) => Ok(token),
        _ => Err(ApiError::BadAuthorizationHeader),
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        let req = req.clone();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Internal("application state missing".to_owned()))?;
            // No header: in cookie mode, the access cookie, once the request
            // passes the CSRF checks.
            let from_cookie = match header {
                Some(_) => None,
                None => crate::cookies::access_cookie(&state, &req)?,
            };
            let raw = match &from_cookie {
                Some(cookie) => {
                    crate::cookies::check_csrf(&state, &req)?;
                    cookie.as_str()
                }
                None => {
                    let raw = raw_token(header.as_deref(), &state.settings.jwt.auth_header_types)?;
                    std::str::from_utf8(raw)
                        .map_err(|_| ApiError::BearerTokenInvalid(TokenError::Invalid))?
                }
            };
            let token = state
                .tokens
                .decode_as(raw, TokenType::Access)
                .map_err(ApiError::BearerTokenInvalid)?;
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
            // After the user checks: a deactivated user (whose sessions
            // ended with the deactivation) hears "User is inactive".
            if standing.ended {
                return Err(ApiError::BearerTokenInvalid(TokenError::Blacklisted));
            }
            Ok(Self { user, token })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(header: &str) -> Result<&[u8], ApiError> {
        raw_token(Some(header.as_bytes()), &["Bearer".to_owned()])
    }

    #[test]
    fn header_forms() {
        assert!(matches!(read(""), Err(ApiError::NotAuthenticated)));
        assert!(matches!(
            read("bearer abc"),
            Err(ApiError::NotAuthenticated)
        ));
        assert!(matches!(read("Token abc"), Err(ApiError::NotAuthenticated)));
        assert!(matches!(read("abc"), Err(ApiError::NotAuthenticated)));
        assert!(matches!(
            read("Bearer"),
            Err(ApiError::BadAuthorizationHeader)
        ));
        assert!(matches!(
            read("Bearer a b"),
            Err(ApiError::BadAuthorizationHeader)
        ));
        assert_eq!(read("Bearer  abc").ok(), Some(&b"abc"[..]));
        assert_eq!(read("Bearer\tabc").ok(), Some(&b"abc"[..]));
        assert!(matches!(
            raw_token(None, &["Bearer".to_owned()]),
            Err(ApiError::NotAuthenticated)
        ));
    }
}

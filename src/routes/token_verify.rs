//! `POST /api/token/verify/`: is this token (of any type) valid? Access tokens
//! of a cached user, or of an ended session, are checked without touching
//! the database; refresh tokens are also looked up in the allow-list
//! (`crate::sessions::Sessions::standing`).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::sessions::{Check, StoredStanding, UserStanding};
use crate::state::AppState;
use crate::tokens::{TokenError, TokenType, ValidatedToken};

#[tracing::instrument(name = "verify", skip_all)]
pub async fn verify(
    state: web::Data<AppState>,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [raw] = fields.strings(["token"])?;
    let token = state.tokens.decode(&raw)?;
    let standing = state.sessions.standing(&token, Check::SessionFirst).await?;
    // Its session ended, or a password change, deactivation, logout
    // everywhere or deletion since it was issued voided it.
    if standing.ended {
        return Err(blacklisted(&token));
    }
    if matches!(standing.user, UserStanding::Missing) {
        return Err(TokenError::Invalid.into());
    }
    match standing.stored {
        None | Some(StoredStanding::Usable) => {}
        Some(StoredStanding::Retired) => return Err(ApiError::VerifyBlacklisted),
        // A token we would adopt on first use verifies; any other stranger does not.
        Some(StoredStanding::Adoptable) => {}
        Some(StoredStanding::Unknown) => return Err(TokenError::Invalid.into()),
    }
    Ok(HttpResponse::Ok().json(json!({})))
}

/// Simple JWT answers a blacklisted refresh token with a 400 here; an access
/// token revoked with its session gets the token error.
fn blacklisted(token: &ValidatedToken) -> ApiError {
    if token.is(TokenType::Refresh) {
        ApiError::VerifyBlacklisted
    } else {
        TokenError::Blacklisted.into()
    }
}

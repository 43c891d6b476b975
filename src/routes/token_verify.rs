//! `POST /api/token/verify/`: is this token (of any type) valid? Access tokens
//! are checked without touching the database (their session against the
//! in-memory revoked set); refresh tokens are also looked up in the allow-list.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth::find_user;
use crate::db::refresh_tokens::{self, Status};
use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::state::AppState;
use crate::tokens::{TokenError, TokenType, UserClaim, ValidatedToken};

#[tracing::instrument(name = "verify", skip_all)]
pub async fn verify(
    state: web::Data<AppState>,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [raw] = fields.strings(["token"])?;
    let token = state.tokens.decode(&raw)?;
    if state
        .tokens
        .session(&token)
        .is_some_and(|sid| state.revoked.is_revoked(sid))
    {
        return Err(blacklisted(&token));
    }
    // The user's mark: a password change, deactivation, logout everywhere or
    // deletion since the token was issued voids it. From the user directory,
    // like Bearer authentication: no query once the user is cached.
    if let UserClaim::Id(user_id) = state.tokens.user_claim(&token) {
        match find_user(&state, user_id).await? {
            None => return Err(TokenError::Invalid.into()),
            Some(user) if user.voids(&token) => return Err(blacklisted(&token)),
            Some(_) => {}
        }
    }
    if token.token_type.as_deref() == Some(TokenType::Refresh.as_str()) {
        let jti = token.jti.clone();
        let status = state
            .db
            .run(move |conn| refresh_tokens::status(conn, &jti).map_err(ApiError::from))
            .await?;
        match status {
            Some(Status::Usable) => {}
            Some(Status::Blacklisted) => return Err(ApiError::VerifyBlacklisted),
            // A token we would adopt on first use verifies; any other stranger does not.
            None if state.settings.jwt.adopt_unknown_refresh_tokens => {}
            None => return Err(TokenError::Invalid.into()),
        }
    }
    Ok(HttpResponse::Ok().json(json!({})))
}

/// Simple JWT answers a blacklisted refresh token with a 400 here; an access
/// token revoked with its session gets the token error.
fn blacklisted(token: &ValidatedToken) -> ApiError {
    match token.token_type.as_deref() {
        Some(kind) if kind == TokenType::Refresh.as_str() => ApiError::VerifyBlacklisted,
        _ => TokenError::Blacklisted.into(),
    }
}

//! `POST /api/token/blacklist/`: logout. Retires the refresh token and ends
//! its session: every token of the family, access tokens included.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::db::refresh_tokens;
use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::state::AppState;
use crate::tokens::TokenType;

#[tracing::instrument(name = "blacklist", skip_all)]
pub async fn blacklist(
    state: web::Data<AppState>,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [raw] = fields.strings(["refresh"])?;
    let token = state.tokens.decode_as(&raw, TokenType::Refresh)?;
    let now = Utc::now();
    // In migration mode a Simple JWT token is recorded so its logout sticks.
    let adopt = super::adoption(&state, &token, now);
    let jti = token.jti.clone();
    let logout = state
        .db
        .run(move |conn| {
            refresh_tokens::blacklist(conn, &jti, adopt.as_ref(), now.naive_utc())
                .map_err(ApiError::from)
        })
        .await?;
    if let Some(family) = logout.revoked_family {
        // Enforced here at once; on other instances within the sync interval.
        state.revoked.insert(family, now.naive_utc());
    }
    match logout.refusal {
        Some(refusal) => Err(refusal.into()),
        None => Ok(HttpResponse::Ok().json(json!({}))),
    }
}

//! `POST /api/token/blacklist/`: logout. Retires the refresh token and ends
//! its session: every token of the family, access tokens included.

use actix_web::{HttpResponse, web};
use chrono::{Duration, Utc};
use serde_json::json;

use crate::db::refresh_tokens::{self, Adoption};
use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::state::AppState;
use crate::tokens::{TokenType, UserClaim};

#[tracing::instrument(name = "blacklist", skip_all)]
pub async fn blacklist(
    state: web::Data<AppState>,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [raw] = fields.strings(["refresh"])?;
    let token = state.tokens.decode_as(&raw, TokenType::Refresh)?;
    let now = Utc::now();
    // In migration mode a Simple JWT token is recorded so its logout sticks.
    let adopt = match state.tokens.user_claim(&token) {
        UserClaim::Id(user_id) if state.settings.jwt.adopt_unknown_refresh_tokens => {
            Some(Adoption {
                user_id,
                issued_at: token.issued_at.unwrap_or_else(|| now.naive_utc()),
                expires_at: token.expires_at,
                family_expires_at: now.naive_utc()
                    + Duration::seconds(state.settings.sessions.absolute_lifetime_seconds),
            })
        }
        _ => None,
    };
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

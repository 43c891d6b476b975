//! `POST /api/token/refresh/`: a refresh token for a new access token and,
//! with rotation on, a new refresh token that replaces it.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::db::refresh_tokens::{self, ChildToken, Refresh, Rotation};
use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::state::AppState;
use crate::tokens::{TokenType, UserClaim};

#[tracing::instrument(name = "refresh", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [raw] = fields.strings(["refresh"])?;
    let presented = state.tokens.decode_as(&raw, TokenType::Refresh)?;
    let claimed_user = match state.tokens.user_claim(&presented) {
        UserClaim::Id(id) => Some(id),
        UserClaim::Missing | UserClaim::Unrecognized => None,
    };

    let settings = &state.settings.jwt;
    let now = Utc::now();
    let access = state.tokens.issue_from(TokenType::Access, &presented, now);
    let rotated = settings
        .rotate_refresh_tokens
        .then(|| state.tokens.issue_from(TokenType::Refresh, &presented, now));
    let adopt = match claimed_user {
        Some(user_id) if settings.adopt_unknown_refresh_tokens => Some(refresh_tokens::Adoption {
            user_id,
            issued_at: presented.issued_at.unwrap_or_else(|| now.naive_utc()),
            expires_at: presented.expires_at,
        }),
        _ => None,
    };
    let request = Refresh {
        parent_jti: presented.jti.clone(),
        claimed_user,
        child: rotated.as_ref().map(|token| ChildToken {
            jti: token.jti.clone(),
            issued_at: token.issued_at,
            expires_at: token.expires_at,
        }),
        retire_parent: settings.rotate_refresh_tokens && settings.blacklist_after_rotation,
        require_active_user: settings.check_user_is_active,
        adopt,
    };
    match (&state.rotations, &request.child) {
        // The default on PostgreSQL: batched with concurrent rotations.
        (Some(batcher), Some(child)) if request.retire_parent && request.adopt.is_none() => {
            let rotation = Rotation {
                parent_jti: request.parent_jti.clone(),
                child: child.clone(),
                require_active_user: request.require_active_user,
            };
            if !batcher.rotate(rotation).await? {
                let refusal = state
                    .db
                    .run(move |conn| {
                        refresh_tokens::refusal_after_failed_claim(conn, &request)
                            .map_err(ApiError::from)
                    })
                    .await?;
                return Err(refusal.into());
            }
        }
        _ => {
            state
                .db
                .run(move |conn| {
                    refresh_tokens::refresh(conn, &request, now.naive_utc()).map_err(ApiError::from)
                })
                .await?;
        }
    }

    let body = match rotated {
        Some(refresh) => json!({ "access": access.token, "refresh": refresh.token }),
        None => json!({ "access": access.token }),
    };
    Ok(HttpResponse::Ok().json(body))
}

//! `POST /api/token/refresh/`: a refresh token for a new access token and,
//! with rotation on, a new refresh token that replaces it. The store decides
//! (rotate, replay within the grace window, or refuse) before anything is
//! signed, because the new token's expiry and session come from it.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, Utc};
use serde_json::json;

use crate::db::refresh_tokens::{self, ChildToken, Refresh, Refreshed, Rotation};
use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::state::AppState;
use crate::tokens::{Stamp, TokenType, UserClaim};

#[tracing::instrument(name = "refresh", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    request: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    state
        .throttle
        .before_refresh(super::client_ip(&state, &request))
        .map_err(|throttled| ApiError::Throttled(throttled.0))?;
    let [raw] = fields.strings(["refresh"])?;
    let presented = state.tokens.decode_as(&raw, TokenType::Refresh)?;
    let claimed_user = match state.tokens.user_claim(&presented) {
        UserClaim::Id(id) => Some(id),
        UserClaim::Missing | UserClaim::Unrecognized => None,
    };

    let settings = &state.settings;
    let now = Utc::now();
    let child = settings
        .jwt
        .rotate_refresh_tokens
        .then(|| state.tokens.stamp(TokenType::Refresh, now));
    let adopt = super::adoption(&state, &presented, now);
    let request = Refresh {
        parent_jti: presented.jti.clone(),
        claimed_user,
        child: child.as_ref().map(|stamp| ChildToken {
            jti: stamp.jti.clone(),
            issued_at: stamp.issued_at,
            expires_at: stamp.expires_at,
        }),
        retire_parent: settings.jwt.rotate_refresh_tokens && settings.jwt.blacklist_after_rotation,
        require_active_user: settings.jwt.check_user_is_active,
        adopt,
        grace: Duration::seconds(settings.sessions.reuse_grace_seconds),
    };

    let outcome = match (&state.rotations, &request.child) {
        // The default on PostgreSQL: batched with concurrent rotations. What
        // the batch did not claim is settled (grace, reuse, refusal) below.
        (Some(batcher), Some(child)) if request.retire_parent && request.adopt.is_none() => {
            let rotation = Rotation {
                parent_jti: request.parent_jti.clone(),
                child: child.clone(),
                require_active_user: request.require_active_user,
            };
            match batcher.rotate(rotation).await? {
                Some(recorded) => Refreshed::Rotated {
                    family_id: recorded.family_id,
                    child_expires_at: Some(recorded.expires_at),
                },
                None => settle(&state, request, now).await?,
            }
        }
        _ => settle(&state, request, now).await?,
    };

    let (sid, refresh) = match outcome {
        Refreshed::Refused(refusal) => return Err(refusal.into()),
        Refreshed::ReuseDetected { family_id } => {
            // Enforced here at once; on other instances within the sync interval.
            state.revoked.insert(family_id, now.naive_utc());
            return Err(refresh_tokens::Refusal::Blacklisted.into());
        }
        Refreshed::Rotated {
            family_id,
            child_expires_at,
        } => {
            let refresh = child
                .zip(child_expires_at)
                .map(|(stamp, expires_at)| Stamp {
                    expires_at,
                    ..stamp
                });
            (family_id, refresh)
        }
        Refreshed::Replayed {
            family_id,
            child_jti,
            child_issued_at,
            child_expires_at,
        } => (
            family_id,
            Some(Stamp {
                jti: child_jti,
                issued_at: child_issued_at,
                expires_at: child_expires_at,
            }),
        ),
    };
    let access = state.tokens.issue_from(
        TokenType::Access,
        &presented,
        &sid,
        &state.tokens.stamp(TokenType::Access, now),
    );
    let body = match refresh {
        Some(stamp) => {
            let refresh = state
                .tokens
                .issue_from(TokenType::Refresh, &presented, &sid, &stamp);
            json!({ "access": access.token, "refresh": refresh.token })
        }
        None => json!({ "access": access.token }),
    };
    Ok(HttpResponse::Ok().json(body))
}

async fn settle(
    state: &AppState,
    request: Refresh,
    now: chrono::DateTime<Utc>,
) -> Result<Refreshed, ApiError> {
    state
        .db
        .run(move |conn| {
            refresh_tokens::refresh(conn, &request, now.naive_utc()).map_err(ApiError::from)
        })
        .await
}

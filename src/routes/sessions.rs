//! `GET /api/sessions/`: the Bearer token's user's live sessions (logins);
//! `DELETE /api/sessions/{id}/`: ends one of them.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::auth::Authenticated;
use crate::db::families::{self, Reason};
use crate::db::write_transaction;
use crate::error::ApiError;
use crate::state::AppState;

/// Longer path ids are not looked up.
const MAX_SESSION_ID: usize = 64;

pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.user.id;
    let now = Utc::now().naive_utc();
    let live = state
        .db
        .run(move |conn| families::live_for_user(conn, user_id, now).map_err(ApiError::from))
        .await?;
    let current = state.tokens.session(&auth.token);
    let sessions: Vec<_> = live
        .into_iter()
        .filter(|family| !state.revoked.is_revoked(&family.id))
        .map(|family| {
            json!({
                "id": family.id,
                "created_at": family.created_at.and_utc().to_rfc3339(),
                "last_used_at": family.last_used_at.and_utc().to_rfc3339(),
                "expires_at": family.expires_at.and_utc().to_rfc3339(),
                "client_ip": family.client_ip,
                "user_agent": family.user_agent,
                "current": current == Some(family.id.as_str()),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(sessions))
}

pub async fn delete(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    // Session ids are 32 hex characters; anything else (a NUL byte would even
    // be refused by PostgreSQL) names no session.
    if id.len() > MAX_SESSION_ID || id.contains('\0') {
        return Err(ApiError::NotFound);
    }
    let user_id = auth.user.id;
    let now = Utc::now().naive_utc();
    let family = id.clone();
    let revoked = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                // Another user's session is as unknown as one that never was.
                match families::find(conn, &family)? {
                    Some(found) if found.user_id == user_id && found.expires_at > now => {
                        families::revoke(conn, &family, Reason::SessionDeleted, now)
                            .map_err(ApiError::from)
                    }
                    _ => Ok(false),
                }
            })
        })
        .await?;
    if !revoked {
        return Err(ApiError::NotFound);
    }
    state.revoked.insert(id, now);
    Ok(HttpResponse::NoContent().finish())
}

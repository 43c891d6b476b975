//! `GET /api/sessions/`: the Bearer token's user's live sessions (logins);
//! `DELETE /api/sessions/{id}/`: ends one of them.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::state::AppState;

/// Longer path ids are not looked up.
const MAX_SESSION_ID: usize = 64;

pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.sessions.list(auth.user.id, auth.session()).await?;
    let body: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            json!({
                "id": session.id,
                "created_at": session.created_at.and_utc().to_rfc3339(),
                "last_used_at": session.last_used_at.and_utc().to_rfc3339(),
                "expires_at": session.expires_at.and_utc().to_rfc3339(),
                "client_ip": session.client_ip,
                "user_agent": session.user_agent,
                "current": session.current,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
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
    state.sessions.end(auth.user.id, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! `POST /api/token/logout-all/`: ends every session of the Bearer token's
//! user, on every device, access tokens included, and voids every token of
//! theirs issued before it (those of no session too).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::state::AppState;

#[tracing::instrument(name = "logout_all", skip_all, fields(user_id = auth.user.id))]
pub async fn logout_all(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    state.sessions.logout_all(auth.user.id).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

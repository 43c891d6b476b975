//! `POST /api/token/blacklist/`: logout. Retires the refresh token and ends
//! its session: every token of the session, access tokens included.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::state::AppState;

#[tracing::instrument(name = "blacklist", skip_all)]
pub async fn blacklist(
    state: web::Data<AppState>,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [raw] = fields.strings(["refresh"])?;
    state.sessions.logout(&raw).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

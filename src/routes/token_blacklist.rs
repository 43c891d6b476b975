//! `POST /api/token/blacklist/`: logout. Retires the refresh token and ends
//! its session: every token of the session, access tokens included. In
//! cookie mode the token may come from its cookie, and the cookies are
//! cleared.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::state::AppState;

#[tracing::instrument(name = "blacklist", skip_all)]
pub async fn blacklist(
    state: web::Data<AppState>,
    request: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let (raw, source) = super::refresh_token(&state, &request, fields)?;
    state.sessions.logout(&raw).await?;
    let mut response = HttpResponse::Ok();
    // Only the cookies of the session that ended.
    if source == super::TokenSource::Cookie {
        crate::cookies::clear(&mut response, &state.settings.cookies);
    }
    Ok(response.json(json!({})))
}

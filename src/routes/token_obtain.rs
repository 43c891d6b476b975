//! `POST /api/token/`: username and password for a refresh and an access token.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::sessions::LoginAttempt;
use crate::state::AppState;

#[tracing::instrument(name = "obtain", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn obtain(
    state: web::Data<AppState>,
    request: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [username, password] = fields.strings(["username", "password"])?;
    let pair = state
        .sessions
        .login(LoginAttempt {
            username,
            password,
            client_ip: super::client_ip(&state, &request),
            user_agent: super::user_agent(&request),
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "refresh": pair.refresh, "access": pair.access })))
}

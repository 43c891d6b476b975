//! `POST /api/token/`: username and password for a refresh and an access token.

use actix_web::http::header::USER_AGENT;
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
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .map(|agent| String::from_utf8_lossy(agent.as_bytes()).into_owned());
    let pair = state
        .sessions
        .login(LoginAttempt {
            username,
            password,
            client_ip: super::client_ip(&state, &request),
            user_agent,
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "refresh": pair.refresh, "access": pair.access })))
}

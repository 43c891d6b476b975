//! `POST /api/token/sliding/` and `POST /api/token/sliding/refresh/`
//! (`sliding.enabled`): Simple JWT's `TokenObtainSlidingView` and
//! `TokenRefreshSlidingView` (`crate::sessions::Sessions::login_sliding`,
//! `refresh_sliding`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::sessions::LoginAttempt;
use crate::state::AppState;

#[tracing::instrument(name = "obtain_sliding", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn obtain(
    state: web::Data<AppState>,
    request: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [username, password] = fields.strings(["username", "password"])?;
    let token = state
        .sessions
        .login_sliding(LoginAttempt {
            username,
            password,
            client_ip: super::client_ip(&state, &request),
            user_agent: super::user_agent(&request),
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "token": token })))
}

#[tracing::instrument(name = "refresh_sliding", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    request: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .admit_refresh(super::client_ip(&state, &request))
        .await?;
    let [raw] = fields.strings(["token"])?;
    let token = state.sessions.refresh_sliding(&raw).await?;
    Ok(HttpResponse::Ok().json(json!({ "token": token })))
}

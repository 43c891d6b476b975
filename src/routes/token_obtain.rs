//! `POST /api/token/`: username and password for a refresh and an access
//! token; in cookie mode, the refresh token (and CSRF token) as cookies too,
//! after the page's origin is checked (login CSRF).

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
    let cookies = &state.settings.cookies;
    if cookies.enabled {
        crate::cookies::check_origin(&state, &request)?;
    }
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
    let mut response = HttpResponse::Ok();
    if !cookies.enabled {
        return Ok(response.json(json!({ "refresh": pair.refresh, "access": pair.access })));
    }
    crate::cookies::set_tokens(&mut response, cookies, Some(&pair.refresh), &pair.access);
    Ok(if cookies.refresh_in_body {
        response.json(json!({ "refresh": pair.refresh, "access": pair.access }))
    } else {
        response.json(json!({ "access": pair.access }))
    })
}

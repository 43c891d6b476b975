//! `POST /api/token/refresh/`: a refresh token for a new access token and,
//! with rotation on, a new refresh token that replaces it
//! (`crate::sessions::Sessions::refresh`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::state::AppState;

#[tracing::instrument(name = "refresh", skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    request: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .admit_refresh(super::client_ip(&state, &request))
        .await?;
    let (raw, source) = super::refresh_token(&state, &request, fields)?;
    let refreshed = state.sessions.refresh(&raw).await?;
    let cookies = &state.settings.cookies;
    let mut response = HttpResponse::Ok();
    // A token from the body gets Simple JWT's answer, whatever the mode: a
    // page of another site could otherwise plant its session's cookies.
    let by_cookie = source == super::TokenSource::Cookie;
    if by_cookie {
        crate::cookies::set_tokens(
            &mut response,
            cookies,
            refreshed.refresh.as_deref(),
            &refreshed.access,
        );
    }
    let body = match refreshed.refresh {
        Some(refresh) if !by_cookie || cookies.refresh_in_body => {
            json!({ "access": refreshed.access, "refresh": refresh })
        }
        _ => json!({ "access": refreshed.access }),
    };
    Ok(response.json(body))
}

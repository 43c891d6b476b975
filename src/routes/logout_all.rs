//! `POST /api/token/logout-all/`: ends every session of the Bearer token's
//! user (in cookie mode, of the refresh cookie's user), on every device,
//! access tokens included, and voids every token of theirs issued before it
//! (those of no session too).

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::state::AppState;

#[tracing::instrument(name = "logout_all", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn logout_all(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Without an Authorization header, in cookie mode, the refresh cookie
    // says whose sessions end (CSRF-checked); otherwise the Bearer token.
    let no_header = request.headers().get(AUTHORIZATION).is_none();
    let from_cookie = if no_header {
        crate::cookies::refresh_cookie(&state, &request)?
    } else {
        None
    };
    let user_id = match from_cookie {
        Some(raw) => {
            crate::cookies::check_csrf(&state, &request)?;
            state.sessions.owner_of_refresh(&raw).await?
        }
        None => {
            let authenticated = Authenticated::extract(&request).await?;
            authenticated.user.id
        }
    };
    tracing::Span::current().record("user_id", user_id);
    state.sessions.logout_all(user_id).await?;
    let mut response = HttpResponse::Ok();
    // The cookies, when cookies authenticated the request (no header): they
    // are this user's.
    if state.settings.cookies.enabled && no_header {
        crate::cookies::clear(&mut response, &state.settings.cookies);
    }
    Ok(response.json(json!({})))
}

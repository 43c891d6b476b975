//! `POST /api-token-auth/` (`drf_token.enabled`): Django REST framework's
//! `obtain_auth_token`: a username and password for the user's key
//! (`crate::sessions::Sessions::login_drf`), with DRF's serializer: the
//! username trimmed, the password as sent, and a failed login a 400.

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::auth::MaybeAuthenticated;
use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::sessions::{LoginAttempt, SessionError};
use crate::state::AppState;

/// `AuthTokenSerializer`'s answer to credentials that do not log in.
const UNABLE_TO_LOG_IN: &str = "Unable to log in with provided credentials.";

#[tracing::instrument(name = "obtain_drf_token", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn obtain(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // DRF authenticates this view's request: a bad header is refused
    // before the body is looked at, whatever the body.
    MaybeAuthenticated::extract(&request).await?;
    let fields = RequestFields::from_request(&request, &mut body.into_inner()).await?;
    let mut reader = fields.reader();
    let username = reader.string("username");
    let password = reader.untrimmed_string("password");
    reader.finish()?;
    let key = state
        .sessions
        .login_drf(LoginAttempt {
            username,
            password,
            client_ip: super::client_ip(&state, &request),
            user_agent: super::user_agent(&request),
        })
        .await
        .map_err(|error| match error {
            SessionError::BadCredentials => ApiError::NonField(vec![UNABLE_TO_LOG_IN.to_owned()]),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(json!({ "token": key })))
}

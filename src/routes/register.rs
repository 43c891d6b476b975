//! `POST /api/register/`: self-signup (dj-rest-auth's fields), when
//! `signup.enabled`; 201 with the new user's first token pair.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::passwords::Password;
use crate::routes::input::RequestFields;
use crate::state::AppState;
use crate::users::Registration;

/// Admits the request only while signup is on; runs before the body is
/// read, so a closed endpoint answers 404 whatever is sent.
pub struct SignupOpen;

impl actix_web::FromRequest for SignupOpen {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let open = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| state.settings.signup.enabled);
        std::future::ready(if open {
            Ok(Self)
        } else {
            Err(ApiError::NotFound)
        })
    }
}

#[tracing::instrument(name = "register", skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    _open: SignupOpen,
    req: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let cookies = &state.settings.cookies;
    // Like a login: no other site may sign a visitor up and in.
    if cookies.enabled {
        crate::cookies::check_origin(&state, &req)?;
    }
    let mut fields = fields.reader();
    let username = fields.string("username");
    let email = fields.optional_text("email").unwrap_or_default();
    let password1 = fields.string("password1");
    let password2 = fields.string("password2");
    fields.finish()?;
    let registration = Registration {
        username,
        email,
        password1: Password::new(password1),
        password2: Password::new(password2),
        client_ip: super::client_ip(&state, &req),
        user_agent: super::user_agent(&req),
    };
    let signed_up = state.users.register(registration).await?;
    let mut response = HttpResponse::Created();
    if cookies.enabled {
        crate::cookies::set_tokens(
            &mut response,
            cookies,
            Some(&signed_up.tokens.refresh),
            &signed_up.tokens.access,
        );
    }
    // dj-rest-auth's JWT answer: the pair and the user's details.
    let mut body = serde_json::Map::new();
    if !cookies.enabled || cookies.refresh_in_body {
        body.insert("refresh".to_owned(), json!(signed_up.tokens.refresh));
    }
    body.insert("access".to_owned(), json!(signed_up.tokens.access));
    body.insert(
        "user".to_owned(),
        json!({
            "pk": signed_up.user_id,
            "username": signed_up.username,
            "email": signed_up.email,
            "first_name": "",
            "last_name": "",
        }),
    );
    Ok(response.json(body))
}

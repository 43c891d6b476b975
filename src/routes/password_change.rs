//! `POST /api/password/change/`: the Bearer token's user changes their own
//! password (dj-rest-auth's fields and answer); every other session of
//! theirs ends, the caller's stays.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::passwords::Password;
use crate::routes::input::RequestFields;
use crate::state::AppState;
use crate::users::PasswordChange;

#[tracing::instrument(name = "password_change", skip_all, fields(user_id = auth.user.id))]
pub async fn change(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [old_password, new_password1, new_password2] =
        fields.strings(["old_password", "new_password1", "new_password2"])?;
    let change = PasswordChange {
        old_password: Password::new(old_password),
        new_password1: Password::new(new_password1),
        new_password2: Password::new(new_password2),
        kept: auth.kept(),
        client_ip: super::client_ip(&state, &req),
    };
    state.users.change_password(&auth.user, change).await?;
    Ok(HttpResponse::Ok().json(json!({ "detail": "New password has been saved." })))
}

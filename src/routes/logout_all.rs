//! `POST /api/token/logout-all/`: ends every session of the Bearer token's
//! user, on every device, access tokens included, and voids every token of
//! theirs issued before it (those of no session too).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth::Authenticated;
use crate::db::families::Reason;
use crate::db::users;
use crate::error::ApiError;
use crate::state::AppState;

#[tracing::instrument(name = "logout_all", skip_all, fields(user_id = auth.user.id))]
pub async fn logout_all(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.user.id;
    let (revoked, now) = state
        .db
        .run(move |conn| {
            users::end_all_sessions(conn, user_id, Reason::LogoutAll).map_err(ApiError::from)
        })
        .await?;
    // Enforced here at once; on other instances within the sync interval.
    for family in revoked {
        state.revoked.insert(family, now);
    }
    // The user's new mark voids the tokens that belong to no session.
    state.directory.invalidate([user_id]);
    Ok(HttpResponse::Ok().json(json!({})))
}

//! `POST /api/token/logout-all/`: ends every session of the Bearer token's
//! user, on every device, access tokens included.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::auth::Authenticated;
use crate::db::families::{self, Reason};
use crate::db::write_transaction;
use crate::error::ApiError;
use crate::state::AppState;

#[tracing::instrument(name = "logout_all", skip_all, fields(user_id = auth.user.id))]
pub async fn logout_all(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.user.id;
    let now = Utc::now().naive_utc();
    let revoked = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                families::revoke_all_for_user(conn, user_id, Reason::LogoutAll, now)
                    .map_err(ApiError::from)
            })
        })
        .await?;
    // Enforced here at once; on other instances within the sync interval.
    for family in revoked {
        state.revoked.insert(family, now);
    }
    Ok(HttpResponse::Ok().json(json!({})))
}

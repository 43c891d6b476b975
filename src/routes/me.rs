//! `GET /api/me/`: the user the Bearer token belongs to.

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Authenticated;

pub async fn me(auth: Authenticated) -> HttpResponse {
    let user = auth.user;
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "username": user.username,
        "date_joined": user.date_joined.and_utc().to_rfc3339(),
    }))
}

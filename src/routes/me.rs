//! `GET /api/me/`: the user the Bearer token belongs to, with their profile
//! (never the password hash).

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Authenticated;

pub async fn me(auth: Authenticated) -> HttpResponse {
    let user = auth.user;
    let profile = &user.profile;
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "username": user.username,
        "email": profile.email,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "date_joined": user.date_joined.and_utc().to_rfc3339(),
        "is_staff": profile.is_staff,
        "is_superuser": profile.is_superuser,
        "groups": profile.groups,
        "claims": profile.claims,
    }))
}

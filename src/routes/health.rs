//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database answers too).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // Within a second whatever the database does: a health checker's
    // timeout is often not much longer.
    match state
        .sessions
        .storage_ready(std::time::Duration::from_millis(900))
        .await
    {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" })),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "unavailable",
                "database": "unreachable",
                "detail": "The database is not reachable.",
            }))
        }
    }
}

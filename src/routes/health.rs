//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database answers too).

use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = state
        .db
        .run(|conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map_err(ApiError::from)
        })
        .await;
    match ping {
        Ok(_) => HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" })),
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

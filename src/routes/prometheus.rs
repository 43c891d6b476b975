//! `GET /metrics`: the Prometheus exposition (`crate::metrics`), on the
//! API's listener or, with `metrics.bind`, only on a listener of its own.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;

/// Marks the app on `metrics.bind`'s listener.
#[derive(Clone, Copy)]
pub struct MetricsListener;

pub async fn metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.metrics;
    let here = if settings.bind.is_empty() {
        true
    } else {
        req.app_data::<MetricsListener>().is_some()
    };
    if !settings.enabled || !here {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, metrics::CONTENT_TYPE))
        .body(state.metrics.render(&state.readings())))
}

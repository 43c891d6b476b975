//! `GET /metrics`: the Prometheus exposition (`crate::metrics`), on the
//! API's listener or, with `metrics.bind`, only on a listener of its own.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::metrics::{self, Readings};
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
    let (connections_in_use, connections_idle) = state.db.connections();
    let (revoked_sessions, cached_users, lag) = state.sessions.readings();
    let (hashes_waiting, hashes_running) = state.hashing.load();
    let readings = Readings {
        connections_in_use,
        connections_idle,
        database_unreachable: state.db.is_unreachable(),
        change_feed_lag_seconds: lag.as_secs_f64(),
        revoked_sessions,
        cached_users,
        hashes_running,
        hashes_waiting,
        key_set_version: state.tokens.keys().version,
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, metrics::CONTENT_TYPE))
        .body(state.metrics.render(&readings)))
}

//! The API description: `openapi.yaml` as committed, compiled into the
//! binary and served at `GET /api/schema/` (drf-spectacular's path, so
//! Simple JWT users' tooling finds it) and `GET /openapi.yaml`. YAML unless
//! the caller asks for JSON (`Accept: application/json`,
//! `application/vnd.oai.openapi+json`, or `?format=json`; `?format=yaml`
//! forces YAML, any other format is a 404).

use std::sync::OnceLock;

use actix_web::http::header::{ACCEPT, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

/// The committed description, byte for byte.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

const YAML_TYPE: &str = "application/vnd.oai.openapi; charset=utf-8";
const JSON_TYPE: &str = "application/vnd.oai.openapi+json; charset=utf-8";

/// The same description as JSON, converted once.
fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let document: serde_json::Value =
            yaml_serde::from_str(OPENAPI_YAML).expect("openapi.yaml is valid YAML (tested)");
        document.to_string()
    })
}

/// Whether to answer in JSON; `None` for a `?format=` we do not serve (DRF
/// answers an unknown format with 404).
fn wants_json(request: &HttpRequest) -> Option<bool> {
    let format = form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(name, _)| name == "format")
        .map(|(_, value)| value.into_owned());
    match format.as_deref() {
        Some("json") => return Some(true),
        Some("yaml") | None => {}
        Some(_) => return None,
    }
    let accept_asks = request
        .headers()
        .get(ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| {
            accept.split(',').any(|kind| {
                let kind = kind.split(';').next().unwrap_or_default().trim();
                kind.eq_ignore_ascii_case("application/json")
                    || kind.eq_ignore_ascii_case("application/vnd.oai.openapi+json")
            })
        });
    Some(format.is_none() && accept_asks)
}

pub async fn schema(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Ok(match wants_json(&request).ok_or(ApiError::NotFound)? {
        true => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, JSON_TYPE))
            .body(openapi_json()),
        false => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, YAML_TYPE))
            .body(OPENAPI_YAML),
    })
}

//! The API description: `openapi.yaml` as committed, compiled into the
//! binary and served at `GET /api/schema/` (drf-spectacular's path, so
//! Simple JWT users' tooling finds it) and `GET /openapi.yaml`. YAML unless
//! the caller asks for JSON (`Accept: application/json`,
//! `application/vnd.oai.openapi+json`, or `?format=json`).

use std::sync::OnceLock;

use actix_web::http::header::{ACCEPT, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse};

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

fn wants_json(request: &HttpRequest) -> bool {
    let query_asks = form_urlencoded::parse(request.query_string().as_bytes())
        .any(|(name, value)| name == "format" && value == "json");
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
    query_asks || accept_asks
}

pub async fn schema(request: HttpRequest) -> HttpResponse {
    if wants_json(&request) {
        HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, JSON_TYPE))
            .body(openapi_json())
    } else {
        HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, YAML_TYPE))
            .body(OPENAPI_YAML)
    }
}

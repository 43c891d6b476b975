//! `/.well-known/jwks.json` (the public keys, RFC 7517) and
//! `/.well-known/openid-configuration` (where to find them), so gateways and
//! services verify tokens locally.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::state::AppState;
use crate::tokens::algorithm_name;

/// Both documents may be cached as long as the JWKS (verifiers refetch them
/// together) when their URLs come from configuration.
fn cache_control(state: &AppState) -> (actix_web::http::header::HeaderName, String) {
    (
        CACHE_CONTROL,
        format!(
            "public, max-age={}",
            state.settings.jwt.jwks_max_age_seconds
        ),
    )
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header(cache_control(&state))
        .body(state.tokens.keys().jwks().to_owned())
}

pub async fn openid_configuration(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    let base = super::base_url(&state, &req);
    if state.settings.server.public_url.is_empty() {
        // The URLs follow the request: the answer is for this caller alone,
        // so no cache can hand one caller's URLs to another.
        response.insert_header((CACHE_CONTROL, "no-store"));
    } else {
        response.insert_header(cache_control(&state));
    }
    let issuer = match state.settings.jwt.issuer.as_str() {
        "" => base.clone(),
        issuer => issuer.to_owned(),
    };
    let algorithms: Vec<&str> = state
        .tokens
        .keys()
        .published_algorithms()
        .into_iter()
        .map(algorithm_name)
        .collect();
    response.json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "token_endpoint": format!("{base}/api/token/"),
        "introspection_endpoint": format!("{base}/api/token/introspect/"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "id_token_signing_alg_values_supported": algorithms,
        "subject_types_supported": ["public"],
        "response_types_supported": ["token"],
    }))
}

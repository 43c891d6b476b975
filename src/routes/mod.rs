//! HTTP routes, one file per endpoint. Routes parse, call the domain and shape
//! the response; errors become responses in `crate::error`.

mod health;
pub mod input;
mod logout_all;
mod me;
mod sessions;
mod token_blacklist;
mod token_introspect;
mod token_obtain;
mod token_refresh;
mod token_verify;
mod well_known;

use actix_web::http::Method;
use actix_web::http::header::{ALLOW, CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

const POST_ONLY: &str = "POST, OPTIONS";
const GET_ONLY: &str = "GET, HEAD, OPTIONS";
const DELETE_ONLY: &str = "DELETE, OPTIONS";

/// Registers every route. Each endpoint answers with and without its
/// trailing slash (Simple JWT redirects and loses the body), 405 for other
/// methods and its description for OPTIONS. Each spelling is its own static
/// resource: a resource with several patterns is matched by regex, which
/// showed up in profiles of the verify path.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(get_endpoint(
            "/.well-known/jwks.json",
            "JWKS",
            well_known::jwks,
        ))
        .service(get_endpoint(
            "/.well-known/openid-configuration",
            "OpenID Configuration",
            well_known::openid_configuration,
        ))
        .service(
            web::scope("/api")
                .wrap(
                    middleware::DefaultHeaders::new()
                        .add((CACHE_CONTROL, "no-store"))
                        .add((PRAGMA, "no-cache")),
                )
                .configure(api_routes),
        );
}

fn api_routes(api: &mut web::ServiceConfig) {
    for path in ["/token/", "/token"] {
        api.service(post_endpoint(
            path,
            "Token Obtain Pair",
            token_obtain::obtain,
        ));
    }
    for path in ["/token/refresh/", "/token/refresh"] {
        api.service(post_endpoint(path, "Token Refresh", token_refresh::refresh));
    }
    for path in ["/token/verify/", "/token/verify"] {
        api.service(post_endpoint(path, "Token Verify", token_verify::verify));
    }
    for path in ["/token/blacklist/", "/token/blacklist"] {
        api.service(post_endpoint(
            path,
            "Token Blacklist",
            token_blacklist::blacklist,
        ));
    }
    for path in ["/token/introspect/", "/token/introspect"] {
        api.service(post_endpoint(
            path,
            "Token Introspect",
            token_introspect::introspect,
        ));
    }
    for path in ["/token/logout-all/", "/token/logout-all"] {
        api.service(post_endpoint(path, "Logout All", logout_all::logout_all));
    }
    for path in ["/sessions/", "/sessions"] {
        api.service(get_endpoint(path, "Sessions", sessions::list));
    }
    for path in ["/sessions/{id}/", "/sessions/{id}"] {
        api.service(
            web::resource(path)
                .route(web::delete().to(sessions::delete))
                .route(
                    web::method(Method::OPTIONS).to(|| async { options("Session", DELETE_ONLY) }),
                )
                .default_service(web::to(|req: HttpRequest| async move {
                    not_allowed(&req, DELETE_ONLY)
                })),
        );
    }
    for path in ["/me/", "/me"] {
        api.service(get_endpoint(path, "Me", me::me));
    }
}

fn post_endpoint<F, Args>(path: &str, name: &'static str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .route(web::method(Method::OPTIONS).to(move || async move { options(name, POST_ONLY) }))
        .default_service(web::to(|req: HttpRequest| async move {
            not_allowed(&req, POST_ONLY)
        }))
}

fn get_endpoint<F, Args>(path: &str, name: &'static str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .route(web::method(Method::OPTIONS).to(move || async move { options(name, GET_ONLY) }))
        .default_service(web::to(|req: HttpRequest| async move {
            not_allowed(&req, GET_ONLY)
        }))
}

fn not_allowed(req: &HttpRequest, allow: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allow,
    })
}

/// DRF's OPTIONS answer: what the view is and what it accepts.
fn options(name: &str, allow: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((ALLOW, allow))
        .json(json!({
            "name": name,
            "renders": ["application/json"],
            "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
        }))
}

/// The request's client address, resolved through the trusted proxies.
fn client_ip(state: &AppState, request: &HttpRequest) -> std::net::IpAddr {
    let peer = request
        .peer_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |peer| peer.ip());
    state.proxies.client_ip(peer, request.headers())
}

fn rate_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    crate::client_ip::rate_key(ip)
}

/// Answers every unknown path with DRF's JSON 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

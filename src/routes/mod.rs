//! HTTP routes, one file per endpoint. Routes parse, call a service
//! (`crate::sessions`, `crate::tokens`) and shape the response; errors become
//! responses in `crate::error`. No route reaches storage.

mod admin_audit;
mod admin_users;
mod drf_token;
mod health;
pub mod input;
mod listing;
mod logout_all;
mod me;
mod password_change;
mod prometheus;
mod register;
mod schema;
mod sessions;
mod token_blacklist;
mod token_introspect;
mod token_obtain;
mod token_refresh;
mod token_sliding;
mod token_verify;
mod well_known;

use actix_web::http::Method;
use actix_web::http::header::{ALLOW, CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
pub use prometheus::{MetricsListener, metrics};

const POST_ONLY: &str = "POST, OPTIONS";
const GET_ONLY: &str = "GET, HEAD, OPTIONS";
const DELETE_ONLY: &str = "DELETE, OPTIONS";
const LIST_AND_CREATE: &str = "GET, POST, HEAD, OPTIONS";
const READ_CHANGE_DELETE: &str = "GET, PATCH, DELETE, HEAD, OPTIONS";

/// Every operation the service serves, as `openapi.yaml` lists it: method
/// and path (`/api/` paths with their trailing slash; each is served without
/// it too). [`configure`] registers exactly these, one [`resource`] per path,
/// so this list is the app's side of the drift test in `tests/api/schema.rs`.
/// OPTIONS (every path) and HEAD (every GET path) are answered and not listed.
pub const ROUTES: [(&str, &str); 28] = [
    ("POST", "/api/token/"),
    ("POST", "/api/token/refresh/"),
    ("POST", "/api/token/sliding/"),
    ("POST", "/api/token/sliding/refresh/"),
    ("POST", "/api-token-auth/"),
    ("POST", "/api/token/verify/"),
    ("POST", "/api/token/blacklist/"),
    ("POST", "/api/token/introspect/"),
    ("POST", "/api/token/logout-all/"),
    ("GET", "/api/sessions/"),
    ("DELETE", "/api/sessions/{id}/"),
    ("GET", "/api/me/"),
    ("POST", "/api/password/change/"),
    ("POST", "/api/register/"),
    ("GET", "/api/admin/users/"),
    ("POST", "/api/admin/users/"),
    ("GET", "/api/admin/users/{id}/"),
    ("PATCH", "/api/admin/users/{id}/"),
    ("DELETE", "/api/admin/users/{id}/"),
    ("POST", "/api/admin/users/{id}/logout-all/"),
    ("GET", "/api/admin/audit/"),
    ("GET", "/api/schema/"),
    ("GET", "/openapi.yaml"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
];

/// The paths most requests take, in the order they are matched first.
const BUSIEST: [&str; 4] = [
    "/api/token/verify/",
    "/api/me/",
    "/api/token/refresh/",
    "/api/token/",
];

/// The routes of opt-in modes, and whether each mode is on: a route of a
/// mode that is off is not registered at all, so it answers 404 to every
/// method, as if it were not there.
#[derive(Clone, Copy, Debug)]
pub struct Served {
    pub sliding: bool,
    pub drf_token: bool,
}

/// DRF's `obtain_auth_token`, where DRF's documentation mounts it.
const DRF_TOKEN_PATH: &str = "/api-token-auth/";

impl Served {
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        Self {
            sliding: settings.sliding.enabled,
            drf_token: settings.drf_token.enabled,
        }
    }

    fn serves(self, path: &str) -> bool {
        match path {
            "/api/token/sliding/" | "/api/token/sliding/refresh/" => self.sliding,
            DRF_TOKEN_PATH => self.drf_token,
            _ => true,
        }
    }
}

/// Registers every route in [`ROUTES`] that `served` serves. Each `/api/`
/// endpoint (and `/api-token-auth/`) answers with and without its trailing
/// slash (Simple JWT redirects and loses the body), 405 for other methods
/// and its description for OPTIONS. Each spelling is its own static
/// resource: a resource with several patterns is matched by regex, which
/// showed up in profiles of the verify path.
pub fn configure(config: &mut web::ServiceConfig, served: Served) {
    // actix tries resources in registration order, comparing static paths
    // byte for byte and running a regex for a templated one: the busiest
    // paths go first and templated ones last, so verify and Bearer calls
    // match after a few comparisons and never run a regex (the one for
    // `/api/sessions/{id}/` was 3% of verify's profile).
    let mut paths: Vec<&'static str> = Vec::new();
    for (_, path) in ROUTES {
        if served.serves(path) && !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths.sort_by_key(|path| {
        let busiest = BUSIEST.iter().position(|busy| busy == path);
        (path.contains('{'), busiest.unwrap_or(BUSIEST.len()))
    });
    let (api, root): (Vec<_>, Vec<_>) = paths.into_iter().partition(|p| p.starts_with("/api/"));
    for path in root {
        if path == DRF_TOKEN_PATH {
            // Token answers are not to be cached, as under /api/.
            let bare = path.trim_end_matches('/');
            config.service(
                web::scope(bare)
                    .wrap(no_store())
                    .service(resource(path, "/"))
                    .service(resource(path, "")),
            );
        } else {
            config.service(resource(path, path));
        }
    }
    config.service(web::scope("/api").wrap(no_store()).configure(move |scope| {
        for path in api {
            let inner = &path["/api".len()..];
            scope.service(resource(path, inner));
            scope.service(resource(path, inner.trim_end_matches('/')));
        }
    }));
}

/// Token answers must not be cached (RFC 6749 §5.1).
fn no_store() -> middleware::DefaultHeaders {
    middleware::DefaultHeaders::new()
        .add((CACHE_CONTROL, "no-store"))
        .add((PRAGMA, "no-cache"))
}

/// The resource serving `path` (as [`ROUTES`] names it), mounted at `at`,
/// labelled with `path` for the metrics.
fn resource(path: &'static str, at: &str) -> actix_web::Resource {
    handlers(path, at).app_data(RouteLabel(path))
}

/// The route template a request was routed to, as [`ROUTES`] names it (so
/// both spellings of an `/api/` path count as one): read by the request
/// metrics after the request ran, at no cost to routing.
#[derive(Clone, Copy, Debug)]
pub struct RouteLabel(pub &'static str);

fn handlers(path: &str, at: &str) -> actix_web::Resource {
    match path {
        "/api/token/" => post_endpoint(at, "Token Obtain Pair", token_obtain::obtain),
        "/api/token/refresh/" => post_endpoint(at, "Token Refresh", token_refresh::refresh),
        "/api/token/sliding/" => post_endpoint(at, "Token Obtain Sliding", token_sliding::obtain),
        "/api/token/sliding/refresh/" => {
            post_endpoint(at, "Token Refresh Sliding", token_sliding::refresh)
        }
        DRF_TOKEN_PATH => post_endpoint(at, "Obtain Auth Token", drf_token::obtain),
        "/api/token/verify/" => post_endpoint(at, "Token Verify", token_verify::verify),
        "/api/token/blacklist/" => post_endpoint(at, "Token Blacklist", token_blacklist::blacklist),
        "/api/token/introspect/" => {
            post_endpoint(at, "Token Introspect", token_introspect::introspect)
        }
        "/api/token/logout-all/" => post_endpoint(at, "Logout All", logout_all::logout_all),
        "/api/sessions/" => get_endpoint(at, "Sessions", sessions::list),
        "/api/sessions/{id}/" => web::resource(at)
            .route(web::delete().to(sessions::delete))
            .route(web::method(Method::OPTIONS).to(|| async { options("Session", DELETE_ONLY) }))
            .default_service(web::to(|req: HttpRequest| async move {
                not_allowed(&req, DELETE_ONLY)
            })),
        "/api/me/" => get_endpoint(at, "Me", me::me),
        "/api/password/change/" => post_endpoint(at, "Password Change", password_change::change),
        "/api/register/" => post_endpoint(at, "Register", register::register),
        "/api/admin/users/" => web::resource(at)
            .route(web::get().to(admin_users::list))
            .route(web::head().to(admin_users::list))
            .route(web::post().to(admin_users::create))
            .route(web::method(Method::OPTIONS).to(|| async { options("Users", LIST_AND_CREATE) }))
            .default_service(web::to(|req: HttpRequest| async move {
                not_allowed(&req, LIST_AND_CREATE)
            })),
        "/api/admin/users/{id}/" => web::resource(at)
            .route(web::get().to(admin_users::show))
            .route(web::head().to(admin_users::show))
            .route(web::patch().to(admin_users::update))
            .route(web::delete().to(admin_users::delete))
            .route(
                web::method(Method::OPTIONS).to(|| async { options("User", READ_CHANGE_DELETE) }),
            )
            .default_service(web::to(|req: HttpRequest| async move {
                not_allowed(&req, READ_CHANGE_DELETE)
            })),
        "/api/admin/users/{id}/logout-all/" => {
            post_endpoint(at, "User Logout All", admin_users::logout_all)
        }
        "/api/admin/audit/" => get_endpoint(at, "Audit Events", admin_audit::list),
        "/api/schema/" | "/openapi.yaml" => get_endpoint(at, "Schema", schema::schema),
        "/.well-known/jwks.json" => get_endpoint(at, "JWKS", well_known::jwks),
        "/.well-known/openid-configuration" => {
            get_endpoint(at, "OpenID Configuration", well_known::openid_configuration)
        }
        "/healthz" => get_endpoint(at, "Health", health::healthz),
        "/readyz" => get_endpoint(at, "Ready", health::readyz),
        "/metrics" => get_endpoint(at, "Metrics", prometheus::metrics),
        other => unreachable!("ROUTES lists {other}, which has no handler"),
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
    crate::throttle::client_ip::ResolvedClient::of(request, &state.proxies)
}

/// Where a refresh or logout's refresh token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenSource {
    /// The body: Simple JWT's contract, answered exactly so (no cookies).
    Body,
    /// The refresh cookie (cookie mode), after the CSRF checks passed: the
    /// answer sets or clears the cookies.
    Cookie,
}

/// The refresh token a refresh or logout presents: the body's `refresh`
/// when the body has one (no CSRF check); else, in cookie mode, the refresh
/// cookie, once the request passes the CSRF checks; else the body's field
/// error.
fn refresh_token(
    state: &AppState,
    request: &HttpRequest,
    fields: input::RequestFields,
) -> Result<(String, TokenSource), ApiError> {
    if !fields.contains("refresh")
        && let Some(cookie) = crate::cookies::refresh_cookie(state, request)?
    {
        crate::cookies::check_csrf(state, request)?;
        return Ok((cookie, TokenSource::Cookie));
    }
    let [raw] = fields.strings(["refresh"])?;
    Ok((raw, TokenSource::Body))
}

/// The request's `User-Agent`, as text.
fn user_agent(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .map(|agent| String::from_utf8_lossy(agent.as_bytes()).into_owned())
}

/// Where this service is reached, for the URLs an answer carries:
/// `server.public_url` when set; otherwise (development only: production
/// requires it) the request's scheme and host, believing forwarding
/// headers only from a trusted proxy.
pub(crate) fn base_url(state: &AppState, request: &HttpRequest) -> String {
    let configured = state.settings.server.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let peer = request
        .peer_addr()
        .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |peer| peer.ip());
    let origin = state.proxies.origin(peer, request.headers());
    let host = origin
        .host
        .unwrap_or_else(|| request.app_config().local_addr().to_string());
    format!("{}://{host}", origin.scheme)
}

/// Answers every unknown path with DRF's JSON 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

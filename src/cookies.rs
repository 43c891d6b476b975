//! Cookie mode for browser apps (`[cookies]`): the cookies a token answer
//! sets and a logout clears (the refresh token `HttpOnly` and scoped to
//! `/api/token/`, optionally the access token scoped to `/api/`, and a
//! CSRF token the page can read), tokens read back from them, and the
//! checks a request authenticated by a cookie must pass: the CSRF token
//! echoed in a header (double submit, compared in constant time) and an
//! `Origin` (or `Referer`) this service or `cors.allowed_origins` names.
//! Requests that carry their token in the body or the `Authorization`
//! header are never asked for either.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::Method;
use actix_web::http::header::{ORIGIN, REFERER};
use actix_web::{HttpRequest, HttpResponseBuilder};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::ApiError;
use crate::settings::CookieSettings;
use crate::state::AppState;

/// Where the refresh cookie travels: the token endpoints only.
pub const REFRESH_PATH: &str = "/api/token/";
/// Where the access cookie travels: the API.
pub const ACCESS_PATH: &str = "/api/";

/// The cookies' names, with the prefix a browser enforces for them: a
/// secure cookie is `__Secure-` (sent over HTTPS only, set only by a secure
/// page); the CSRF cookie, host-only and at `/`, is `__Host-`, so no other
/// subdomain can plant one. (`__Host-` demands `Path=/`, which the refresh
/// cookie must not have.)
pub struct CookieNames {
    pub refresh: String,
    pub access: String,
    pub csrf: String,
}

impl CookieNames {
    pub fn of(settings: &CookieSettings) -> Self {
        let secure = |name: &str| {
            if settings.secure {
                format!("__Secure-{name}")
            } else {
                name.to_owned()
            }
        };
        let csrf = if settings.secure && settings.domain.is_empty() {
            format!("__Host-{}", settings.csrf_name)
        } else {
            secure(&settings.csrf_name)
        };
        Self {
            refresh: secure(&settings.refresh_name),
            access: secure(&settings.access_name),
            csrf,
        }
    }
}

fn same_site(settings: &CookieSettings) -> SameSite {
    match settings.same_site.as_str() {
        "Lax" => SameSite::Lax,
        "None" => SameSite::None,
        _ => SameSite::Strict,
    }
}

fn cookie(
    settings: &CookieSettings,
    name: String,
    value: String,
    path: &'static str,
    http_only: bool,
    max_age: i64,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path(path)
        .http_only(http_only)
        .secure(settings.secure)
        .same_site(same_site(settings))
        .max_age(time::Duration::seconds(max_age.max(0)))
        .finish();
    if !settings.domain.is_empty() {
        cookie.set_domain(settings.domain.clone());
    }
    cookie
}

/// Seconds until a token latchkey just signed expires (its `exp`).
fn remaining_life(token: &str) -> i64 {
    let exp = token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|claims| claims["exp"].as_i64())
        .unwrap_or(0);
    exp - chrono::Utc::now().timestamp()
}

/// A fresh CSRF token: 32 random bytes.
fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Sets the token cookies on a login's or refresh's answer: the refresh
/// token (when one was issued), the access token (when configured), and a
/// CSRF token living as long as the refresh token, also sent in the CSRF
/// header for pages that cannot read this site's cookies.
pub fn set_tokens(
    response: &mut HttpResponseBuilder,
    settings: &CookieSettings,
    refresh: Option<&str>,
    access: &str,
) {
    let names = CookieNames::of(settings);
    if let Some(refresh) = refresh {
        let life = remaining_life(refresh);
        let csrf = new_csrf_token();
        // Also in a header, for a page on another site, which cannot read
        // this site's cookies (CORS exposes the header to allowed origins).
        response.insert_header((settings.csrf_header.as_str(), csrf.clone()));
        response.cookie(cookie(
            settings,
            names.refresh,
            refresh.to_owned(),
            REFRESH_PATH,
            true,
            life,
        ));
        response.cookie(cookie(settings, names.csrf, csrf, "/", false, life));
    }
    if settings.access_cookie {
        response.cookie(cookie(
            settings,
            names.access,
            access.to_owned(),
            ACCESS_PATH,
            true,
            remaining_life(access),
        ));
    }
}

/// Clears every token cookie (a logout): the same attributes, empty, gone now.
pub fn clear(response: &mut HttpResponseBuilder, settings: &CookieSettings) {
    let names = CookieNames::of(settings);
    for (name, path, http_only) in [
        (names.refresh, REFRESH_PATH, true),
        (names.access, ACCESS_PATH, true),
        (names.csrf, "/", false),
    ] {
        response.cookie(cookie(settings, name, String::new(), path, http_only, 0));
    }
}

/// The refresh token's cookie, in cookie mode.
pub fn refresh_cookie(state: &AppState, request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let settings = &state.settings.cookies;
    if !settings.enabled {
        return Ok(None);
    }
    only_cookie(request, &CookieNames::of(settings).refresh)
}

/// The access token's cookie, when cookie mode sets one.
pub fn access_cookie(state: &AppState, request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let settings = &state.settings.cookies;
    if !(settings.enabled && settings.access_cookie) {
        return Ok(None);
    }
    only_cookie(request, &CookieNames::of(settings).access)
}

/// The one cookie of that name the request sends. Two of them mean one was
/// planted (by a sibling subdomain, with another domain or path), and which
/// is which cannot be told: refused.
fn only_cookie(request: &HttpRequest, name: &str) -> Result<Option<String>, ApiError> {
    let Ok(cookies) = request.cookies() else {
        return Ok(None);
    };
    let mut named = cookies.iter().filter(|cookie| cookie.name() == name);
    let first = named.next().map(|cookie| cookie.value().to_owned());
    if named.next().is_some() {
        return Err(ApiError::Csrf(format!(
            "more than one {name} cookie was sent."
        )));
    }
    Ok(first.filter(|value| !value.is_empty()))
}

/// What a request authenticated by a cookie must pass, on a method that
/// changes something: the CSRF token in its header equal to its cookie,
/// and an allowed origin.
pub fn check_csrf(state: &AppState, request: &HttpRequest) -> Result<(), ApiError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(());
    }
    check_origin(state, request)?;
    let settings = &state.settings.cookies;
    let cookie = only_cookie(request, &CookieNames::of(settings).csrf)?;
    let header = request
        .headers()
        .get(settings.csrf_header.as_str())
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty());
    let (Some(cookie), Some(header)) = (cookie, header) else {
        return Err(ApiError::Csrf("CSRF token missing.".to_owned()));
    };
    // Equal lengths are compared in constant time; a different length is
    // wrong whatever its content.
    if verify_slices_are_equal(cookie.as_bytes(), header.as_bytes()).is_err() {
        return Err(ApiError::Csrf("CSRF token incorrect.".to_owned()));
    }
    Ok(())
}

/// The request's `Origin` (or, without one, its `Referer`'s origin) is this
/// service's or one of `cors.allowed_origins`. A request with neither comes
/// from no browser page, which is what CSRF needs.
pub fn check_origin(state: &AppState, request: &HttpRequest) -> Result<(), ApiError> {
    let allowed = |origin: &str| {
        origin == crate::routes::base_url(state, request)
            || state
                .settings
                .cors
                .allowed_origins
                .iter()
                .any(|o| o == origin)
    };
    let header = |name| {
        request
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    if let Some(origin) = header(ORIGIN) {
        if allowed(&origin) {
            return Ok(());
        }
        return Err(ApiError::Csrf(format!(
            "Origin checking failed - {origin} does not match any trusted origins."
        )));
    }
    if let Some(referer) = header(REFERER) {
        let origin = origin_of(&referer);
        if origin.as_deref().is_some_and(allowed) {
            return Ok(());
        }
        return Err(ApiError::Csrf(format!(
            "Referer checking failed - {referer} does not match any trusted origins."
        )));
    }
    // Neither: no browser page sent it, unless the browser says the request
    // crossed sites (Fetch Metadata), as some send neither header then.
    let crossed = header(actix_web::http::header::HeaderName::from_static(
        "sec-fetch-site",
    ))
    .is_some_and(|site| site == "cross-site" || site == "same-site");
    if crossed {
        return Err(ApiError::Csrf(
            "Origin checking failed - a cross-site request without an Origin.".to_owned(),
        ));
    }
    Ok(())
}

/// A URL's origin as a browser writes it: lowercase, no default port.
pub fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|url| url.origin().ascii_serialization())
        .filter(|origin| origin != "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secure: bool, domain: &str) -> CookieSettings {
        CookieSettings {
            enabled: true,
            refresh_name: "refresh".to_owned(),
            access_name: "access".to_owned(),
            csrf_name: "csrftoken".to_owned(),
            csrf_header: "X-CSRFToken".to_owned(),
            refresh_in_body: true,
            access_cookie: false,
            same_site: "Strict".to_owned(),
            secure,
            domain: domain.to_owned(),
        }
    }

    #[test]
    fn secure_cookies_take_the_prefix_browsers_enforce() {
        let names = CookieNames::of(&settings(true, ""));
        assert_eq!(
            (
                names.refresh.as_str(),
                names.access.as_str(),
                names.csrf.as_str()
            ),
            ("__Secure-refresh", "__Secure-access", "__Host-csrftoken")
        );
        let shared = CookieNames::of(&settings(true, "example.com"));
        assert_eq!(shared.csrf, "__Secure-csrftoken");
        let plain = CookieNames::of(&settings(false, ""));
        assert_eq!(
            (plain.refresh.as_str(), plain.csrf.as_str()),
            ("refresh", "csrftoken")
        );
    }

    #[test]
    fn csrf_tokens_are_random_and_url_safe() {
        let (a, b) = (new_csrf_token(), new_csrf_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}

//! `[cookies]` and `[cors]`: what browser apps need. Cookie mode (off by
//! default) keeps the refresh token in an `HttpOnly` cookie with CSRF
//! protection; CORS lets pages on listed origins call the API with
//! credentials. Both are refused at start when configured unsafely.

use serde::Deserialize;

use super::values::strings_or_json;

#[derive(Clone, Debug, Deserialize)]
pub struct CookieSettings {
    pub enabled: bool,
    /// Names, before the `__Secure-`/`__Host-` prefix a secure cookie takes.
    pub refresh_name: String,
    pub access_name: String,
    pub csrf_name: String,
    /// The header a cookie-authenticated request echoes the CSRF token in.
    pub csrf_header: String,
    /// Whether token bodies still carry `refresh` (false: the cookie only).
    pub refresh_in_body: bool,
    /// Also set the access token in a cookie, accepted by Bearer routes when
    /// no `Authorization` header is sent.
    pub access_cookie: bool,
    /// `Strict`, `Lax` or `None` (only with `secure`).
    pub same_site: String,
    pub secure: bool,
    /// Empty: a host-only cookie.
    pub domain: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example.com`) whose pages may call the
    /// API with credentials.
    #[serde(deserialize_with = "strings_or_json")]
    pub allowed_origins: Vec<String>,
    pub max_age_seconds: u32,
}

impl CookieSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        if !matches!(self.same_site.as_str(), "Strict" | "Lax" | "None") {
            return Err(format!(
                "cookies.same_site is {:?}; choose \"Strict\", \"Lax\" or \"None\"",
                self.same_site
            ));
        }
        if self.same_site == "None" && !self.secure {
            return Err(
                "cookies.same_site = \"None\" needs cookies.secure = true: browsers refuse a SameSite=None cookie that is not Secure"
                    .to_owned(),
            );
        }
        let token = |name: &str| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        for (setting, name) in [
            ("cookies.refresh_name", &self.refresh_name),
            ("cookies.access_name", &self.access_name),
            ("cookies.csrf_name", &self.csrf_name),
            ("cookies.csrf_header", &self.csrf_header),
        ] {
            if !token(name) {
                return Err(format!(
                    "{setting} is {name:?}; use letters, digits, - and _"
                ));
            }
        }
        if self
            .domain
            .chars()
            .any(|c| c.is_whitespace() || c == ';' || c == ',')
        {
            return Err(format!("cookies.domain {:?} is not a domain", self.domain));
        }
        Ok(())
    }
}

impl CorsSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        for origin in &self.allowed_origins {
            if origin == "*" || origin.contains('*') {
                return Err(
                    "cors.allowed_origins lists \"*\": credentials are allowed, so every origin must be named exactly"
                        .to_owned(),
                );
            }
            let parsed = url::Url::parse(origin)
                .map_err(|e| format!("cors.allowed_origins: {origin:?} is not an origin ({e})"))?;
            let exact = matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some()
                && parsed.path() == "/"
                && parsed.query().is_none()
                && parsed.fragment().is_none()
                && !origin.ends_with('/')
                && parsed.username().is_empty();
            if !exact {
                return Err(format!(
                    "cors.allowed_origins: {origin:?} is not an origin; write scheme://host[:port], no path or trailing slash"
                ));
            }
            // Compared byte for byte with what browsers send.
            let written = parsed.origin().ascii_serialization();
            if &written != origin {
                return Err(format!(
                    "cors.allowed_origins: write {origin:?} as browsers send it: {written:?}"
                ));
            }
        }
        Ok(())
    }
}

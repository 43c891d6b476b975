//! Services that call latchkey as themselves, with HTTP Basic: the
//! introspection clients (`introspection.clients`, RFC 7662) and the admin
//! clients (`admin.clients`, user management). Each extractor admits only
//! its own list, and runs before the body is read, so an unauthenticated
//! caller learns nothing from body errors.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::ApiError;
use crate::settings::{ClientSettings, Settings};
use crate::state::AppState;

/// A caller listed in `introspection.clients`.
#[derive(Debug)]
pub struct IntrospectionClient;

/// A caller listed in `admin.clients`.
#[derive(Debug)]
pub struct AdminClient;

impl actix_web::FromRequest for IntrospectionClient {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(authenticate(req, |s| &s.introspection.clients).map(|()| Self))
    }
}

impl actix_web::FromRequest for AdminClient {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(authenticate(req, |s| &s.admin.clients).map(|()| Self))
    }
}

/// [`authenticate_client`] against the list `clients` picks from the settings.
fn authenticate(
    req: &actix_web::HttpRequest,
    clients: fn(&Settings) -> &Vec<ClientSettings>,
) -> Result<(), ApiError> {
    let clients = req
        .app_data::<actix_web::web::Data<AppState>>()
        .map(|state| clients(&state.settings).as_slice())
        .unwrap_or_default();
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    authenticate_client(clients, header)
}

/// Checks the caller's `Authorization: Basic` credentials against the
/// configured clients. Secrets are compared as SHA-256 digests in constant
/// time, so the comparison leaks neither a secret's content nor its length.
pub fn authenticate_client(
    clients: &[ClientSettings],
    header: Option<&[u8]>,
) -> Result<(), ApiError> {
    let header = header.ok_or(ApiError::ClientNotAuthenticated)?;
    let header = std::str::from_utf8(header).map_err(|_| ApiError::ClientBadHeader)?;
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or(ApiError::ClientNotAuthenticated)?;
    // RFC 7617: the scheme name is case-insensitive.
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::ClientNotAuthenticated);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError::ClientBadHeader)?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::ClientBadHeader)?;
    let (id, secret) = decoded.split_once(':').ok_or(ApiError::ClientBadHeader)?;
    let presented = digest(&SHA256, secret.as_bytes());
    let expected = clients
        .iter()
        .find(|client| client.id == id)
        .map(|client| digest(&SHA256, client.secret.as_bytes()));
    // An unknown id costs the same comparison as a known one.
    let expected = expected.unwrap_or_else(|| digest(&SHA256, b"\0unknown client"));
    let matches = verify_slices_are_equal(presented.as_ref(), expected.as_ref()).is_ok();
    if matches && clients.iter().any(|client| client.id == id) {
        Ok(())
    } else {
        Err(ApiError::ClientBadCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients() -> Vec<ClientSettings> {
        vec![ClientSettings {
            id: "gateway".to_owned(),
            secret: "s".repeat(32),
        }]
    }

    fn basic(credentials: &str) -> String {
        format!("Basic {}", STANDARD.encode(credentials))
    }

    #[test]
    fn only_a_listed_client_with_its_secret_passes() {
        let clients = clients();
        let check = |header: Option<&str>| {
            authenticate_client(&clients, header.map(str::as_bytes)).map_err(|e| e.to_string())
        };
        let right = format!("gateway:{}", "s".repeat(32));
        assert!(check(Some(&basic(&right))).is_ok());
        assert!(check(Some(&basic(&right).replace("Basic", "basic"))).is_ok());
        let refused = [
            None,
            Some("Bearer abc".to_owned()),
            Some("Basic !!!".to_owned()),
            Some(basic("gateway")),
            Some(basic("gateway:wrong")),
            Some(basic(&format!("gateway:{}", "s".repeat(31)))),
            Some(basic(&format!("other:{}", "s".repeat(32)))),
            Some(basic(&format!("gateway:{}x", "s".repeat(32)))),
        ];
        for header in refused {
            assert!(check(header.as_deref()).is_err(), "{header:?}");
        }
        assert!(authenticate_client(&[], Some(basic(&right).as_bytes())).is_err());
    }
}

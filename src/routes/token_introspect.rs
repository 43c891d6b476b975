//! `POST /api/token/introspect/` (RFC 7662): `{"active": true, ...claims}` or
//! `{"active": false}`, for configured clients only.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use crate::clients::IntrospectionClient;
use crate::error::ApiError;
use crate::routes::input::RequestFields;
use crate::sessions::{Check, StoredStanding};
use crate::state::AppState;

#[tracing::instrument(name = "introspect", skip_all)]
pub async fn introspect(
    state: web::Data<AppState>,
    _client: IntrospectionClient,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [raw] = fields.exact_strings(["token"])?;
    let body = match active_claims(&state, &raw).await? {
        Some(claims) => {
            let mut body = Map::with_capacity(claims.len() + 1);
            body.insert("active".to_owned(), Value::Bool(true));
            body.extend(claims.into_iter().filter(|(name, _)| name != "active"));
            Value::Object(body)
        }
        None => json!({ "active": false }),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// The token's claims when it is active: validly signed, unexpired, its
/// session not ended, a refresh token still usable in the store, and its
/// user present, (when `check_user_is_active`) active, and not having voided
/// it. `None` otherwise; RFC 7662 gives an inactive token no reason.
async fn active_claims(
    state: &AppState,
    raw: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let Ok(token) = state.tokens.decode(raw) else {
        return Ok(None);
    };
    let standing = state.sessions.standing(&token, Check::SessionFirst).await?;
    let stored_usable = matches!(
        standing.stored,
        None | Some(StoredStanding::Usable | StoredStanding::Adoptable)
    );
    if standing.ended || !stored_usable {
        return Ok(None);
    }
    let require_active = state.sessions.policy().require_active_user;
    let Some(user) = standing.allowed_user(require_active) else {
        return Ok(None);
    };
    let mut claims = token.claims.clone();
    claims
        .entry("username")
        .or_insert_with(|| Value::from(user.username.as_str()));
    Ok(Some(claims))
}

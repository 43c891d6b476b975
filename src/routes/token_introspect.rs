//! `POST /api/token/introspect/` (RFC 7662): `{"active": true, ...claims}` or
//! `{"active": false}`, for configured clients only.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::introspection::{self, IntrospectionClient};
use crate::routes::input::RequestFields;
use crate::state::AppState;

#[tracing::instrument(name = "introspect", skip_all)]
pub async fn introspect(
    state: web::Data<AppState>,
    _client: IntrospectionClient,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [raw] = fields.exact_strings(["token"])?;
    let body = match introspection::introspect(&state, &raw).await? {
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

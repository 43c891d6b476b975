//! `GET /api/admin/audit/`: the stored audit events (`audit.store`), for
//! the application's backend (`admin.clients`, HTTP Basic), newest first,
//! with DRF's limit/offset pagination and `user_id`, `event` and `since`
//! filters.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::audit::Kind;
use crate::clients::AdminClient;
use crate::db::audit::AuditFilter;
use crate::error::ApiError;
use crate::routes::listing::Listing;
use crate::state::AppState;

pub async fn list(
    state: web::Data<AppState>,
    _client: AdminClient,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut listing = Listing::read(&req);
    // Unlike the users list's text filters, these have a format: empty is
    // not "any", it is not a value.
    let user_id = listing
        .get("user_id")
        .and_then(|text| match text.trim().parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                listing.problem("user_id", "A valid integer is required.");
                None
            }
        });
    let event = listing.get("event");
    if let Some(name) = &event
        && Kind::from_name(name).is_none()
    {
        listing.problem(
            "event",
            &format!("Select a valid choice. {name} is not one of the available choices."),
        );
    }
    let since = listing.get("since").and_then(|text| {
        match chrono::DateTime::parse_from_rfc3339(text.trim()) {
            Ok(time) => Some(time.naive_utc()),
            Err(_) => {
                listing.problem(
                    "since",
                    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
                );
                None
            }
        }
    });
    if !listing.problems.is_empty() {
        return Err(ApiError::Fields(listing.problems));
    }
    let filter = AuditFilter {
        user_id,
        event,
        since,
    };
    let (rows, count) = state
        .audit
        .stored(filter, listing.limit, listing.offset)
        .await?;
    let results = rows
        .iter()
        .map(|row| {
            json!({
                "id": row.id,
                "at": row.at.and_utc().to_rfc3339(),
                "event": row.event,
                "user_id": row.user_id,
                "session_id": row.session_id,
                "client_ip": row.client_ip,
                "detail": row.detail,
            })
        })
        .collect();
    Ok(listing.answer(&state, &req, count, results))
}

//! `/api/admin/users/`: the admin API, for the application's backend
//! (`admin.clients`, HTTP Basic). Create and list (with DRF's limit/offset
//! pagination and filters) on the collection; read, change (PATCH) and
//! delete one user; end all of a user's sessions.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::clients::AdminClient;
use crate::error::ApiError;
use crate::passwords::Password;
use crate::routes::input::{FieldReader, RequestFields, parse_bool};
use crate::routes::listing::Listing;
use crate::state::AppState;
use crate::users::admin::{UserFilter, UserPage};
use crate::users::{PasswordInput, UserDraft, UserEdit, UserRecord};

pub async fn list(
    state: web::Data<AppState>,
    _client: AdminClient,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut listing = Listing::read(&req);
    let is_active = listing.get("is_active").and_then(|text| {
        let flag = parse_bool(&text);
        if flag.is_none() {
            listing.problem("is_active", "Must be a valid boolean.");
        }
        flag
    });
    let filter = UserFilter {
        username: listing.text("username"),
        email: listing.text("email"),
        is_active,
        group: listing.text("group"),
    };
    if !listing.problems.is_empty() {
        return Err(ApiError::Fields(listing.problems));
    }
    let UserPage { count, users } = state
        .users
        .list(filter, listing.limit, listing.offset)
        .await?;
    let results = users.iter().map(user_json).collect();
    Ok(listing.answer(&state, &req, count, results))
}

pub async fn create(
    state: web::Data<AppState>,
    _client: AdminClient,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let mut fields = fields.reader();
    let username = fields.string("username");
    let password = password_input(&mut fields);
    let draft = UserDraft {
        username,
        password,
        email: fields.optional_text("email").unwrap_or_default(),
        first_name: fields.optional_text("first_name").unwrap_or_default(),
        last_name: fields.optional_text("last_name").unwrap_or_default(),
        is_active: fields.optional_bool("is_active").unwrap_or(true),
        is_staff: fields.optional_bool("is_staff").unwrap_or(false),
        is_superuser: fields.optional_bool("is_superuser").unwrap_or(false),
        groups: fields.optional_names("groups").unwrap_or_default(),
        claims: fields.optional_object("claims").unwrap_or_default(),
    };
    fields.finish()?;
    let created = state.users.create(draft).await?;
    Ok(HttpResponse::Created().json(user_json(&created)))
}

pub async fn show(
    state: web::Data<AppState>,
    _client: AdminClient,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.users.get(user_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

pub async fn update(
    state: web::Data<AppState>,
    _client: AdminClient,
    path: web::Path<String>,
    req: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&path)?;
    let mut fields = fields.reader();
    let end_sessions = Listing::read(&req).get("end_sessions");
    let end_sessions = match end_sessions.as_deref() {
        None => false,
        Some(text) => parse_bool(text).unwrap_or_else(|| {
            fields.fail("end_sessions", "Must be a valid boolean.");
            false
        }),
    };
    let edit = UserEdit {
        username: fields.optional_string("username"),
        password: password_input(&mut fields),
        email: fields.optional_text("email"),
        first_name: fields.optional_text("first_name"),
        last_name: fields.optional_text("last_name"),
        is_active: fields.optional_bool("is_active"),
        is_staff: fields.optional_bool("is_staff"),
        is_superuser: fields.optional_bool("is_superuser"),
        groups: fields.optional_names("groups"),
        claims: fields.optional_object("claims"),
        end_sessions,
    };
    fields.finish()?;
    let user = state.users.update(id, edit).await?;
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

pub async fn delete(
    state: web::Data<AppState>,
    _client: AdminClient,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.users.delete(user_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn logout_all(
    state: web::Data<AppState>,
    _client: AdminClient,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.users.logout_all(user_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A user as every admin answer shows them; never the password hash.
fn user_json(user: &UserRecord) -> Value {
    let profile = &user.profile;
    json!({
        "id": user.id,
        "username": user.username,
        "email": profile.email,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "is_active": user.is_active,
        "is_staff": profile.is_staff,
        "is_superuser": profile.is_superuser,
        "groups": profile.groups,
        "claims": profile.claims,
        "has_usable_password": user.has_usable_password,
        "date_joined": user.date_joined.and_utc().to_rfc3339(),
        "last_login": user.last_login.map(|at| at.and_utc().to_rfc3339()),
    })
}

/// `password` (plain text) or `password_hash` (as Django stores it), not
/// both; `None` when neither is given.
fn password_input(fields: &mut FieldReader) -> Option<PasswordInput> {
    let plain = fields.optional_string("password");
    let hash = fields.optional_string("password_hash");
    match (plain, hash) {
        (Some(_), Some(_)) => {
            fields.fail(
                "non_field_errors",
                "Give either password or password_hash, not both.",
            );
            None
        }
        (Some(plain), None) => Some(PasswordInput::Plain(Password::new(plain))),
        (None, Some(hash)) => Some(PasswordInput::Hash(hash)),
        (None, None) => None,
    }
}

/// A user id from the path; anything else names no user.
fn user_id(path: &str) -> Result<i64, ApiError> {
    path.parse::<i64>().map_err(|_| ApiError::NotFound)
}

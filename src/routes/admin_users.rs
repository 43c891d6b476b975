//! `/api/admin/users/`: the admin API, for the application's backend
//! (`admin.clients`, HTTP Basic). Create and list (with DRF's limit/offset
//! pagination and filters) on the collection; read, change (PATCH) and
//! delete one user; end all of a user's sessions.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::clients::AdminClient;
use crate::error::{ApiError, FieldErrors};
use crate::passwords::Password;
use crate::routes::input::{FieldReader, RequestFields, parse_bool};
use crate::state::AppState;
use crate::users::admin::{UserFilter, UserPage};
use crate::users::{PasswordInput, UserDraft, UserEdit, UserRecord};

/// DRF's `PAGE_SIZE` here, and the most one page may hold (`max_limit`).
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub async fn list(
    state: web::Data<AppState>,
    _client: AdminClient,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = query_pairs(&req);
    let get = |name: &str| {
        query
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let mut problems: FieldErrors = Vec::new();
    let mut problem = |name: &'static str, message: &str| {
        problems.push((name, vec![message.to_owned()]));
    };
    let is_active = get("is_active").and_then(|text| {
        let flag = parse_bool(&text);
        if flag.is_none() {
            problem("is_active", "Must be a valid boolean.");
        }
        flag
    });
    // A limit above the maximum is the maximum, as DRF's
    // LimitOffsetPagination has it; what is not a number in range is an
    // error rather than silently the default.
    let limit = match get("limit").map(|text| parse_count(&text)) {
        None => DEFAULT_LIMIT,
        Some(Some(limit)) if limit >= 1 => limit.min(MAX_LIMIT),
        Some(Some(_)) => {
            problem("limit", "Ensure this value is greater than or equal to 1.");
            DEFAULT_LIMIT
        }
        Some(None) => {
            problem("limit", "A valid integer is required.");
            DEFAULT_LIMIT
        }
    };
    let offset = match get("offset").map(|text| parse_count(&text)) {
        None => 0,
        Some(Some(offset)) if offset >= 0 => offset,
        Some(Some(_)) => {
            problem("offset", "Ensure this value is greater than or equal to 0.");
            0
        }
        Some(None) => {
            problem("offset", "A valid integer is required.");
            0
        }
    };
    for name in ["username", "email", "group"] {
        if get(name).is_some_and(|value| value.contains('\0')) {
            // PostgreSQL refuses them in text; no name or address has one.
            problem(name, "Null characters are not allowed.");
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Fields(problems));
    }
    // Empty text filters match nothing in particular, as django-filter
    // leaves them out.
    let text = |name: &str| get(name).filter(|value| !value.is_empty());
    let filter = UserFilter {
        username: text("username"),
        email: text("email"),
        is_active,
        group: text("group"),
    };
    let UserPage { count, users } = state.users.list(filter, limit, offset).await?;
    let here = page_url(&state, &req, &query);
    let next = (offset.saturating_add(limit) < count).then(|| here(limit, Some(offset + limit)));
    let previous = (offset > 0).then(|| {
        let back = offset - limit;
        here(limit, (back > 0).then_some(back))
    });
    Ok(HttpResponse::Ok().json(json!({
        "count": count,
        "next": next,
        "previous": previous,
        "results": users.iter().map(user_json).collect::<Vec<_>>(),
    })))
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
    let end_sessions = query_pairs(&req)
        .into_iter()
        .rev()
        .find(|(key, _)| key == "end_sessions")
        .map(|(_, value)| value);
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

/// An integer as a query parameter gives it; one beyond the 64-bit range
/// counts as the largest (or smallest) there is, since a page cannot tell
/// them apart.
fn parse_count(text: &str) -> Option<i64> {
    let text = text.trim();
    match text.parse::<i64>() {
        Ok(number) => Some(number),
        Err(error) => match error.kind() {
            std::num::IntErrorKind::PosOverflow => Some(i64::MAX),
            std::num::IntErrorKind::NegOverflow => Some(i64::MIN),
            _ => None,
        },
    }
}

/// A user id from the path; anything else names no user.
fn user_id(path: &str) -> Result<i64, ApiError> {
    path.parse::<i64>().map_err(|_| ApiError::NotFound)
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// The URL of this listing at another page: the same filters, with `limit`
/// and `offset` (left out when `None`), as DRF builds `next` and `previous`.
fn page_url<'a>(
    state: &AppState,
    req: &HttpRequest,
    query: &'a [(String, String)],
) -> impl Fn(i64, Option<i64>) -> String + 'a {
    let base = format!("{}{}", super::base_url(state, req), req.path());
    move |limit, offset| {
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (key, value) in query {
            if key != "limit" && key != "offset" {
                url.append_pair(key, value);
            }
        }
        url.append_pair("limit", &limit.to_string());
        if let Some(offset) = offset {
            url.append_pair("offset", &offset.to_string());
        }
        format!("{base}?{}", url.finish())
    }
}

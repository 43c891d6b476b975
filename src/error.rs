//! Every error the API can answer with, and the one `ResponseError` impl that
//! decides its status, body and headers. Bodies follow Simple JWT / Django REST
//! framework word for word, because clients parse them.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use crate::auth::BearerRefusal;
use crate::db::DbError;
use crate::db::refresh_tokens::Refusal;
use crate::sessions::SessionError;
use crate::throttle::Wait;
use crate::tokens::TokenError;
use crate::users::UserError;

/// Field name and its messages, in the serializer's field order
/// (`non_field_errors` for what concerns several).
pub type FieldErrors = Vec<(&'static str, Vec<String>)>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid fields")]
    Fields(FieldErrors),
    #[error("invalid data: {0:?}")]
    NonField(Vec<String>),
    #[error("JSON parse error - {0}")]
    JsonParse(String),
    #[error("Multipart form parse error - {0}")]
    MultipartParse(String),
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    #[error("Method \"{method}\" not allowed.")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("Not found.")]
    NotFound,
    #[error("request body too large")]
    PayloadTooLarge { limit: usize },
    /// The body did not arrive within `server.body_timeout_ms`.
    #[error("The request body did not arrive in time.")]
    BodyTimeout,
    /// A connection beyond `server.max_connections_per_address`.
    #[error("Request was throttled. Expected available in 1 second.")]
    TooManyConnections,
    #[error("No active account found with the given credentials")]
    BadCredentials,
    #[error("No active account found for the given token.")]
    NoActiveAccountForToken,
    /// A token refused by the token endpoints (refresh, verify, blacklist).
    #[error("{0}")]
    Token(TokenError),
    /// Verify's blacklisted-token answer: a 400, as Simple JWT gives it.
    #[error("Token is blacklisted")]
    VerifyBlacklisted,
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated,
    #[error("Authorization header must contain two space-delimited values")]
    BadAuthorizationHeader,
    /// A Bearer token that no token class accepts.
    #[error("Given token not valid for any token type")]
    BearerTokenInvalid(BearerRefusal),
    /// `Authorization: Token ...` refused (`drf_token.enabled`), in DRF's
    /// words and without a `code`.
    #[error("{0}")]
    DrfKey(DrfKeyError),
    #[error("Token contained no recognizable user identification")]
    NoUserIdentification,
    #[error("User not found")]
    UserNotFound,
    #[error("User is inactive")]
    UserInactive,
    /// A call to a client-authenticated endpoint (introspection, admin)
    /// without Basic credentials.
    #[error("Authentication credentials were not provided.")]
    ClientNotAuthenticated,
    #[error("Invalid basic header. Credentials not correctly base64 encoded.")]
    ClientBadHeader,
    #[error("Invalid username/password.")]
    ClientBadCredentials,
    /// A request authenticated by a cookie without the CSRF token echoed in
    /// its header, or from an origin that is not allowed.
    #[error("CSRF Failed: {0}")]
    Csrf(String),
    /// Over a rate limit: Django REST framework's throttle answer.
    #[error("Request was throttled. Expected available in {} second{}.", .0.seconds(), if .0.seconds() == 1 { "" } else { "s" })]
    Throttled(Wait),
    /// Every password-hashing slot stayed busy for the whole wait.
    #[error("Too many logins at once; try again shortly.")]
    HashingBusy,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Django REST framework's `TokenAuthentication` refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DrfKeyError {
    #[error("Invalid token.")]
    Invalid,
    #[error("Invalid token header. No credentials provided.")]
    NoCredentials,
    #[error("Invalid token header. Token string should not contain spaces.")]
    Spaces,
    #[error("Invalid token header. Token string should not contain invalid characters.")]
    InvalidCharacters,
    #[error("User inactive or deleted.")]
    UserInactive,
}

impl From<DrfKeyError> for ApiError {
    fn from(error: DrfKeyError) -> Self {
        Self::DrfKey(error)
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(e) => Self::Unavailable(e),
            DbError::Query(e) => Self::from(e),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Token(error) => Self::Token(error),
            SessionError::Refused(refusal) => Self::from(refusal),
            SessionError::Throttled(wait) => Self::Throttled(wait),
            SessionError::BadCredentials => Self::BadCredentials,
            SessionError::HashingBusy => Self::HashingBusy,
            SessionError::UnknownSession | SessionError::UnknownUser => Self::NotFound,
            SessionError::DrfKey(crate::sessions::drf_keys::KeyRefusal::UserInactive) => {
                Self::DrfKey(DrfKeyError::UserInactive)
            }
            SessionError::DrfKey(_) => Self::DrfKey(DrfKeyError::Invalid),
            SessionError::Storage(error) => Self::from(error),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::Invalid(fields) => Self::Fields(fields),
            UserError::NotFound => Self::NotFound,
            UserError::Throttled(wait) => Self::Throttled(wait),
            UserError::HashingBusy => Self::HashingBusy,
            UserError::Session(error) => Self::from(error),
            UserError::Storage(error) => Self::from(error),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        match &error {
            // SQLite's write lock stayed taken for the whole busy timeout:
            // the database is busy, not broken; the client may retry.
            diesel::result::Error::DatabaseError(_, info)
                if info.message() == crate::db::DATABASE_LOCKED =>
            {
                Self::Unavailable(format!("database error: {error}"))
            }
            // PostgreSQL chose this transaction as a deadlock's victim, or
            // could not serialize it: nothing was written, and the same
            // request may simply be tried again.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::SerializationFailure,
                _,
            ) => Self::Unavailable(format!("database error: {error}")),
            diesel::result::Error::DatabaseError(_, info)
                if info.message().starts_with("deadlock detected") =>
            {
                Self::Unavailable(format!("database error: {error}"))
            }
            // The server went away mid-request: retriable once it is back.
            _ if crate::db::circuit::is_connection_loss(&error) => {
                Self::Unavailable(format!("database error: {error}"))
            }
            _ => Self::Internal(format!("database error: {error}")),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unknown => Self::Token(TokenError::Invalid),
            Refusal::Blacklisted => Self::Token(TokenError::Blacklisted),
            Refusal::SessionExpired => Self::Token(TokenError::Expired),
            Refusal::NoActiveUser => Self::NoActiveAccountForToken,
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        Self::Token(error)
    }
}

fn detail(message: impl std::fmt::Display) -> Value {
    json!({ "detail": message.to_string() })
}

fn detail_with_code(message: impl std::fmt::Display, code: &str) -> Value {
    json!({ "detail": message.to_string(), "code": code })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Fields(_)
            | Self::NonField(_)
            | Self::JsonParse(_)
            | Self::MultipartParse(_)
            | Self::VerifyBlacklisted => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BadCredentials
            | Self::NoActiveAccountForToken
            | Self::Token(_)
            | Self::NotAuthenticated
            | Self::BadAuthorizationHeader
            | Self::BearerTokenInvalid(_)
            | Self::DrfKey(_)
            | Self::NoUserIdentification
            | Self::UserNotFound
            | Self::UserInactive
            | Self::ClientNotAuthenticated
            | Self::ClientBadHeader
            | Self::ClientBadCredentials => StatusCode::UNAUTHORIZED,
            Self::Csrf(_) => StatusCode::FORBIDDEN,
            Self::Throttled(_) | Self::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::HashingBusy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let body = match self {
            Self::Fields(fields) => {
                let map: Map<String, Value> = fields
                    .iter()
                    .map(|(field, messages)| ((*field).to_owned(), json!(messages)))
                    .collect();
                Value::Object(map)
            }
            Self::NonField(messages) => json!({ "non_field_errors": messages }),
            Self::VerifyBlacklisted => json!({ "non_field_errors": [self.to_string()] }),
            Self::Token(_) | Self::NoUserIdentification => {
                detail_with_code(self, "token_not_valid")
            }
            Self::BadAuthorizationHeader => detail_with_code(self, "bad_authorization_header"),
            Self::UserNotFound => detail_with_code(self, "user_not_found"),
            Self::UserInactive => detail_with_code(self, "user_inactive"),
            Self::BearerTokenInvalid(refusal) => {
                let mut messages = vec![json!({
                    "token_class": "AccessToken",
                    "token_type": "access",
                    "message": refusal.access.to_string(),
                })];
                if let Some(sliding) = refusal.sliding {
                    messages.push(json!({
                        "token_class": "SlidingToken",
                        "token_type": "sliding",
                        "message": sliding.to_string(),
                    }));
                }
                json!({
                    "detail": self.to_string(),
                    "code": "token_not_valid",
                    "messages": messages,
                })
            }
            Self::PayloadTooLarge { limit } => detail(format!(
                "Request body is larger than the limit of {limit} bytes."
            )),
            Self::Unavailable(reason) => {
                // While the database is known to be away every request that
                // needs it says so: that is logged once, where it was found.
                if reason.contains("unreachable") {
                    tracing::debug!(%reason, "answering 503");
                } else {
                    tracing::warn!(%reason, "answering 503");
                }
                detail("Service temporarily unavailable, try again later.")
            }
            Self::Internal(reason) => {
                tracing::error!(%reason, "answering 500");
                detail("A server error occurred.")
            }
            _ => detail(self),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a Bearer token that was sent and refused says why;
            // a request without credentials gets the bare challenge. The
            // realm stays first, where Simple JWT clients look for it.
            let challenge = match self {
                Self::ClientNotAuthenticated
                | Self::ClientBadHeader
                | Self::ClientBadCredentials => r#"Basic realm="api""#,
                Self::BearerTokenInvalid(_)
                | Self::NoUserIdentification
                | Self::UserNotFound
                | Self::UserInactive => r#"Bearer realm="api", error="invalid_token""#,
                Self::BadAuthorizationHeader => r#"Bearer realm="api", error="invalid_request""#,
                _ => r#"Bearer realm="api""#,
            };
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        if let Self::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if let Self::Throttled(wait) = self {
            response.insert_header((header::RETRY_AFTER, wait.seconds()));
        }
        // The rest of a late body, or another request on a connection over
        // the cap, is not waited for: the connection closes.
        if matches!(self, Self::BodyTimeout | Self::TooManyConnections) {
            response.force_close();
        }
        if let Self::TooManyConnections = self {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        response.json(body)
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_transaction_the_database_gave_up_on_may_be_retried_and_is_no_500() {
        for retriable in [
            database_error(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access",
            ),
            database_error(DatabaseErrorKind::Unknown, "deadlock detected"),
            database_error(DatabaseErrorKind::Unknown, crate::db::DATABASE_LOCKED),
            database_error(DatabaseErrorKind::ClosedConnection, "connection closed"),
            database_error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
        ] {
            let answer = ApiError::from(retriable);
            assert_eq!(answer.status_code(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(
                answer
                    .error_response()
                    .headers()
                    .contains_key(header::RETRY_AFTER)
            );
        }
        let broken = ApiError::from(database_error(DatabaseErrorKind::Unknown, "syntax error"));
        assert_eq!(broken.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

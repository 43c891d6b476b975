//! `POST /api/token/`: username and password for a refresh and an access token.

use actix_web::http::header::USER_AGENT;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::db::families::{self, NewFamily};
use crate::db::refresh_tokens::{self, NewRefreshToken};
use crate::db::{users, write_transaction};
use crate::error::ApiError;
use crate::passwords::{Password, Verification};
use crate::routes::input::RequestFields;
use crate::state::AppState;
use crate::tokens::TokenType;

/// User agents are kept for the sessions list; longer ones are cut.
const MAX_USER_AGENT: usize = 512;

#[tracing::instrument(name = "obtain", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn obtain(
    state: web::Data<AppState>,
    request: HttpRequest,
    fields: RequestFields,
) -> Result<HttpResponse, ApiError> {
    let [username, password] = fields.strings(["username", "password"])?;
    let client_ip = super::client_ip(&state, &request);
    let account = state.throttle.account(&username);
    // Counts as a failure until the password proves right; given back on
    // success and on any answer that decided nothing (503, database error).
    let reservation = state
        .throttle
        .before_login(client_ip, account)
        .map_err(|throttled| ApiError::Throttled(throttled.0))?;
    let user = state
        .db
        .run(move |conn| users::find_by_username(conn, &username).map_err(ApiError::from))
        .await?;

    // The hash runs whether or not the user exists, so timing does not tell.
    // It runs on the hashing pool: a login flood queues there (then gets 503)
    // instead of taking the CPU from every other endpoint.
    let hasher = state.hasher.clone();
    let stored_hash = user.as_ref().map(|u| u.password.clone());
    let verification = state
        .hashing
        .run(move || {
            let password = Password::new(password);
            match stored_hash {
                Some(stored) => hasher.verify(&password, &stored),
                None => {
                    hasher.burn(&password);
                    Verification::Mismatch
                }
            }
        })
        .await
        .map_err(|_| ApiError::HashingBusy)?;

    // Django's ModelBackend refuses inactive users whatever CHECK_USER_IS_ACTIVE says.
    let user = match user {
        Some(user) if verification.is_match() && user.is_active => user,
        _ => {
            reservation.failed();
            tracing::info!(%client_ip, "login failed");
            return Err(ApiError::BadCredentials);
        }
    };
    tracing::Span::current().record("user_id", user.id);

    let now = Utc::now();
    let family_id = uuid::Uuid::new_v4().simple().to_string();
    let stamp = state.tokens.stamp(TokenType::Refresh, now);
    let family = NewFamily {
        id: family_id.clone(),
        user_id: user.id,
        created_at: now.naive_utc(),
        last_used_at: now.naive_utc(),
        expires_at: now.naive_utc()
            + chrono::Duration::seconds(state.settings.sessions.absolute_lifetime_seconds),
        client_ip: Some(client_ip.to_string()),
        user_agent: request.headers().get(USER_AGENT).map(|agent| {
            String::from_utf8_lossy(agent.as_bytes())
                .chars()
                .take(MAX_USER_AGENT)
                .collect()
        }),
    };
    let record = NewRefreshToken {
        jti: stamp.jti.clone(),
        user_id: user.id,
        family_id: family_id.clone(),
        parent_jti: None,
        issued_at: stamp.issued_at,
        expires_at: stamp.expires_at,
    };
    let last_login = state
        .settings
        .jwt
        .update_last_login
        .then(|| now.naive_utc());
    let upgraded_hash = match verification {
        Verification::MatchNeedsUpgrade(hash) => Some(hash),
        _ => None,
    };
    let user_id = user.id;
    let verified_hash = user.password.clone();
    let recorded = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                // First, so the user's row is locked before the session is
                // written (see `users::record_login`).
                let unchanged = users::record_login(
                    conn,
                    user_id,
                    &verified_hash,
                    last_login,
                    upgraded_hash.as_deref(),
                )?;
                if unchanged {
                    families::create(conn, &family)?;
                    refresh_tokens::record(conn, &record)?;
                }
                Ok::<_, ApiError>(unchanged)
            })
        })
        .await?;
    if !recorded {
        // The password changed, or the user was deactivated or deleted,
        // while this login was hashing: the password checked is no longer
        // the user's, and nothing was written.
        reservation.failed();
        tracing::info!(%client_ip, user_id, "login lost a race with a change to the user");
        return Err(ApiError::BadCredentials);
    }
    drop(reservation);

    let (refresh, access) = state.tokens.issue_pair(user.id, &family_id, &stamp, now);
    Ok(HttpResponse::Ok().json(json!({ "refresh": refresh.token, "access": access.token })))
}

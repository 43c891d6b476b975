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
    // success and when no hash ran (503). A login abandoned midway (the
    // client hung up while its hash ran) stays counted.
    let reservation = state
        .throttle
        .before_login(client_ip, account)
        .map_err(|throttled| ApiError::Throttled(throttled.0))?;
    let user = state
        .db
        .run(move |conn| users::find_by_username(conn, &username).map_err(ApiError::from))
        .await;
    // Nothing was hashed: the guess did not happen.
    let user = match user {
        Ok(user) => user,
        Err(error) => {
            reservation.release();
            return Err(error);
        }
    };

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
        .await;
    let Ok(verification) = verification else {
        // No hashing slot: nothing was hashed.
        reservation.release();
        return Err(ApiError::HashingBusy);
    };

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

    let basis = users::LoginBasis {
        user_id: user.id,
        verified_hash: user.password.clone(),
        tokens_valid_after: user.tokens_valid_after,
    };
    let upgraded_hash = match verification {
        Verification::MatchNeedsUpgrade(hash) => Some(hash),
        _ => None,
    };
    let client = Some(client_ip.to_string());
    let user_agent = request.headers().get(USER_AGENT).map(|agent| {
        String::from_utf8_lossy(agent.as_bytes())
            .chars()
            .take(MAX_USER_AGENT)
            .collect()
    });
    let tokens = state.tokens.clone();
    let update_last_login = state.settings.jwt.update_last_login;
    let session_lifetime =
        chrono::Duration::seconds(state.settings.sessions.absolute_lifetime_seconds);
    let recorded = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let last_login = update_last_login.then(|| Utc::now().naive_utc());
                // First, so the user's row is locked before the session is
                // written (see `users::record_login`).
                if !users::record_login(conn, &basis, last_login, upgraded_hash.as_deref())? {
                    return Ok::<_, ApiError>(None);
                }
                // The clock is read once the user's row is locked, so a
                // session written after a logout everywhere is issued after
                // its mark, never before.
                let now = Utc::now();
                let family_id = uuid::Uuid::new_v4().simple().to_string();
                let stamp = tokens.stamp(TokenType::Refresh, now);
                families::create(
                    conn,
                    &NewFamily {
                        id: family_id.clone(),
                        user_id: basis.user_id,
                        created_at: now.naive_utc(),
                        last_used_at: now.naive_utc(),
                        expires_at: now.naive_utc() + session_lifetime,
                        client_ip: client,
                        user_agent,
                    },
                )?;
                refresh_tokens::record(
                    conn,
                    &NewRefreshToken {
                        jti: stamp.jti.clone(),
                        user_id: basis.user_id,
                        family_id: family_id.clone(),
                        parent_jti: None,
                        issued_at: stamp.issued_at,
                        expires_at: stamp.expires_at,
                    },
                )?;
                Ok(Some((family_id, stamp, now)))
            })
        })
        .await?;
    let Some((family_id, stamp, now)) = recorded else {
        // The password changed, or the user was deactivated, deleted or
        // logged out everywhere, while this login was hashing: the check no
        // longer stands, and nothing was written.
        reservation.failed();
        tracing::info!(%client_ip, user_id = user.id, "login lost a race with a change to the user");
        return Err(ApiError::BadCredentials);
    };
    reservation.release();

    let (refresh, access) = state.tokens.issue_pair(user.id, &family_id, &stamp, now);
    Ok(HttpResponse::Ok().json(json!({ "refresh": refresh.token, "access": access.token })))
}

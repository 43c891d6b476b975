//! Login: a username and password for a new session. The limits are
//! reserved before the password is hashed, the hash runs on its own pool
//! whether or not the user exists, and the session is written only if
//! nothing changed about the user while the hash ran.

use std::net::IpAddr;

use chrono::Utc;

use super::{SessionError, Sessions, TokenPair};
use crate::db::refresh_tokens::{self, NewRefreshToken};
use crate::db::sessions::{self as stored_sessions, NewSession};
use crate::db::{DbError, users, write_transaction};
use crate::passwords::{Password, Verification};
use crate::tokens::{TokenType, UserClaim};

/// User agents are kept for the sessions list; longer ones are cut.
const MAX_USER_AGENT: usize = 512;

/// A login as the client sent it.
pub struct LoginAttempt {
    pub username: String,
    pub password: String,
    /// The client's address, resolved through the trusted proxies.
    pub client_ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Sessions {
    pub async fn login(&self, attempt: LoginAttempt) -> Result<TokenPair, SessionError> {
        let LoginAttempt {
            username,
            password,
            client_ip,
            user_agent,
        } = attempt;
        let account = self.throttle.account(&username);
        // Counts as a failure until the password proves right; given back on
        // success and when no hash ran (503). A login abandoned midway (the
        // client hung up while its hash ran) stays counted.
        let reservation = self
            .throttle
            .before_login(client_ip, account)
            .map_err(|throttled| SessionError::Throttled(throttled.0))?;
        let user = self
            .db
            .run(move |conn| users::find_by_username(conn, &username).map_err(DbError::from))
            .await;
        // Nothing was hashed: the guess did not happen.
        let user = match user {
            Ok(user) => user,
            Err(error) => {
                reservation.release();
                return Err(error.into());
            }
        };

        // The hash runs whether or not the user exists, so timing does not
        // tell. It runs on the hashing pool: a login flood queues there (then
        // gets 503) instead of taking the CPU from every other endpoint.
        let hasher = self.hasher.clone();
        let stored_hash = user.as_ref().map(|u| u.password.clone());
        let verification = self
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
            return Err(SessionError::HashingBusy);
        };

        // Django's ModelBackend refuses inactive users whatever CHECK_USER_IS_ACTIVE says.
        let user = match user {
            Some(user) if verification.is_match() && user.is_active => user,
            _ => {
                reservation.failed();
                tracing::info!(%client_ip, "login failed");
                return Err(SessionError::BadCredentials);
            }
        };
        tracing::Span::current().record("user_id", user.id);

        // Read before the session is written, so a lookup that fails leaves
        // none behind.
        let claims = match self.user_claims(UserClaim::Id(user.id)).await {
            Ok(claims) => claims,
            Err(error) => {
                // The password was right: the guess did not fail.
                reservation.release();
                return Err(error);
            }
        };
        let basis = users::LoginBasis {
            user_id: user.id,
            verified_hash: user.password.clone(),
            tokens_valid_after: user.tokens_valid_after,
        };
        let upgraded_hash = match verification {
            Verification::MatchNeedsUpgrade(hash) => Some(hash),
            _ => None,
        };
        let user_agent =
            user_agent.map(|agent| agent.chars().take(MAX_USER_AGENT).collect::<String>());
        let client = Some(client_ip.to_string());
        let tokens = self.tokens.clone();
        let update_last_login = self.policy.update_last_login;
        let session_lifetime = self.policy.session_lifetime;
        let recorded = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let last_login = update_last_login.then(|| Utc::now().naive_utc());
                    // First, so the user's row is locked before the session is
                    // written (see `users::record_login`).
                    if !users::record_login(conn, &basis, last_login, upgraded_hash.as_deref())? {
                        return Ok::<_, DbError>(None);
                    }
                    // The clock is read once the user's row is locked, so a
                    // session written after a logout everywhere is issued after
                    // its mark, never before.
                    let now = Utc::now();
                    let session_id = uuid::Uuid::new_v4().simple().to_string();
                    let stamp = tokens.stamp(TokenType::Refresh, now);
                    stored_sessions::create(
                        conn,
                        &NewSession {
                            id: session_id.clone(),
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
                        &NewRefreshToken::new(&stamp, basis.user_id, &session_id, None),
                    )?;
                    Ok(Some((session_id, stamp, now)))
                })
            })
            .await?;
        let Some((session_id, stamp, now)) = recorded else {
            // The password changed, or the user was deactivated, deleted or
            // logged out everywhere, while this login was hashing: the check
            // no longer stands, and nothing was written.
            reservation.failed();
            tracing::info!(%client_ip, user_id = user.id, "login lost a race with a change to the user");
            return Err(SessionError::BadCredentials);
        };
        reservation.release();

        let (refresh, access) = self
            .tokens
            .issue_pair(user.id, &session_id, &stamp, now, &claims);
        Ok(TokenPair {
            refresh: refresh.token,
            access: access.token,
        })
    }
}

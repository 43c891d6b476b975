//! Login: a username and password for a new session. The limits are
//! reserved before the password is hashed, the hash runs on its own pool
//! whether or not the user exists, and the session is written only if
//! nothing changed about the user while the hash ran.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use serde_json::{Map, Value};

use super::{SessionError, Sessions, TokenPair, drf_keys};
use crate::audit::{AuditEvent, Kind};
use crate::db::refresh_tokens::{self, NewRefreshToken};
use crate::db::sessions::{self as stored_sessions, NewSession};
use crate::db::{DbConnection, DbError, users, write_transaction};
use crate::metrics::Metrics;
use crate::passwords::{Password, Verification};
use crate::tokens::{Stamp, TokenType};
use crate::users::{Profile, TokenClaims};

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
    /// A login for a refresh and an access token, in a new session.
    pub async fn login(&self, attempt: LoginAttempt) -> Result<TokenPair, SessionError> {
        let opening = self.opening(attempt.client_ip, attempt.user_agent.clone());
        let token_claims = self.policy.token_claims.clone();
        let (user_id, (opened, claims)) = self
            .log_in(
                attempt,
                self.policy.update_last_login,
                move |conn, user_id| {
                    let opened = opening.write(conn, user_id)?;
                    let claims = claims_of(&token_claims, conn, user_id)?;
                    Ok((Some(opened.session_id.clone()), (opened, claims)))
                },
            )
            .await?;
        Ok(self.pair(user_id, &opened, &claims))
    }

    /// A login for a sliding token (`sliding.enabled`), in a new session
    /// that lasts until the token's `refresh_exp` and the life of a token
    /// slid just before it.
    pub async fn login_sliding(&self, attempt: LoginAttempt) -> Result<String, SessionError> {
        let opening = self.opening(attempt.client_ip, attempt.user_agent.clone());
        let token_claims = self.policy.token_claims.clone();
        let refresh_lifetime = self.policy.sliding_refresh_lifetime;
        let leeway = self.upkeep.leeway;
        let (user_id, ((opened, refresh_exp), claims)) = self
            .log_in(
                attempt,
                self.policy.update_last_login,
                move |conn, user_id| {
                    let written = opening.write_sliding(conn, user_id, refresh_lifetime, leeway)?;
                    let claims = claims_of(&token_claims, conn, user_id)?;
                    Ok((Some(written.0.session_id.clone()), (written, claims)))
                },
            )
            .await?;
        Ok(self
            .tokens
            .issue_sliding(
                user_id,
                &opened.session_id,
                &opened.stamp,
                refresh_exp,
                &claims,
            )
            .token)
    }

    /// A login for the user's DRF token key (`drf_token.enabled`): the same
    /// key at every login, as DRF's `get_or_create`. `last_login` is left
    /// as it is, as DRF's `obtain_auth_token` leaves it.
    pub async fn login_drf(&self, attempt: LoginAttempt) -> Result<String, SessionError> {
        let Some(mint) = self.drf_keys.clone() else {
            return Err(SessionError::DrfKey(drf_keys::KeyRefusal::Unknown));
        };
        let (_, key) = self
            .log_in(attempt, false, move |conn, user_id| {
                Ok((None, mint.key_for(conn, user_id, false)?))
            })
            .await?;
        Ok(key)
    }

    /// Checks a login's password against the limits, then, if it proved
    /// right and nothing changed about the user meanwhile, runs `write` in
    /// the transaction that records the login (its user's row locked):
    /// what the login gives. `write` names the session it opened, for the
    /// audit. Returns the user's id and what `write` gave.
    async fn log_in<T, W>(
        &self,
        attempt: LoginAttempt,
        update_last_login: bool,
        write: W,
    ) -> Result<(i64, T), SessionError>
    where
        T: Send + 'static,
        W: FnOnce(&mut DbConnection, i64) -> Result<(Option<String>, T), DbError> + Send + 'static,
    {
        let LoginAttempt {
            username,
            password,
            client_ip,
            user_agent: _,
        } = attempt;
        let account = self.throttle.account(&username);
        // Counts as a failure until the password proves right; given back on
        // success and when no hash ran (503). A login abandoned midway (the
        // client hung up while its hash ran) stays counted.
        let reservation = self
            .throttle
            .before_login(client_ip, account)
            .await
            .map_err(|throttled| {
                Metrics::count(&self.metrics.logins, "outcome", "throttled");
                SessionError::Throttled(throttled.0)
            })?;
        let user = self
            .db
            .run(move |conn| users::find_by_username(conn, &username).map_err(DbError::from))
            .await;
        // Nothing was hashed: the guess did not happen.
        let user = match user {
            Ok(user) => user,
            Err(error) => {
                reservation.release().await;
                return Err(error.into());
            }
        };

        // The hash runs whether or not the user exists, so timing does not
        // tell. It runs on the hashing pool: a login flood queues there (then
        // gets 503) instead of taking the CPU from every other endpoint.
        let hasher = self.hasher.clone();
        let stored = user.as_ref().map(|u| (u.password.clone(), u.is_active));
        let verification = self
            .hashing
            .run(move || {
                let password = Password::new(password);
                match stored {
                    Some((stored, is_active)) => {
                        let verification = hasher.verify(&password, &stored);
                        // Rehashed only for a login that will succeed: an
                        // inactive user's right password must take no longer
                        // than a wrong one.
                        let upgrade = (verification == Verification::MatchNeedsUpgrade
                            && is_active)
                            .then(|| hasher.hash(&password));
                        (verification, upgrade)
                    }
                    None => {
                        hasher.burn(&password);
                        (Verification::Mismatch, None)
                    }
                }
            })
            .await;
        let Ok((verification, upgraded_hash)) = verification else {
            // No hashing slot: nothing was hashed.
            reservation.release().await;
            Metrics::count(&self.metrics.logins, "outcome", "busy");
            self.metrics.hashes_refused.inc();
            return Err(SessionError::HashingBusy);
        };

        // Django's ModelBackend refuses inactive users whatever CHECK_USER_IS_ACTIVE says.
        let user = match user {
            Some(user) if verification.is_match() && user.is_active => user,
            other => {
                reservation.failed().await;
                let failed = AuditEvent::new(Kind::LoginFailed).client(client_ip);
                // The username is not logged: a password typed in its field
                // would be.
                let failed = match other {
                    None => failed.detail("unknown_user"),
                    Some(user) if !verification.is_match() => {
                        failed.user(user.id).detail("wrong_password")
                    }
                    Some(user) => failed.user(user.id).detail("inactive_user"),
                };
                self.login_failed(failed);
                return Err(SessionError::BadCredentials);
            }
        };
        tracing::Span::current().record("user_id", user.id);

        let basis = users::LoginBasis {
            user_id: user.id,
            verified_hash: user.password.clone(),
            tokens_valid_after: user.tokens_valid_after,
        };
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
                    write(conn, basis.user_id).map(Some)
                })
            })
            .await;
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(error) => {
                // The password was right: the guess did not fail.
                reservation.release().await;
                return Err(error.into());
            }
        };
        let Some((session, given)) = recorded else {
            // The password changed, or the user was deactivated, deleted or
            // logged out everywhere, while this login was hashing: the check
            // no longer stands, and nothing was written.
            reservation.failed().await;
            self.login_failed(
                AuditEvent::new(Kind::LoginFailed)
                    .client(client_ip)
                    .user(user.id)
                    .detail("user_changed_during_login"),
            );
            return Err(SessionError::BadCredentials);
        };
        reservation.release().await;
        Metrics::count(&self.metrics.logins, "outcome", "succeeded");
        let succeeded = AuditEvent::new(Kind::LoginSucceeded)
            .client(client_ip)
            .user(user.id);
        self.audit.record(match session {
            Some(session) => succeeded.session(session),
            None => succeeded.detail("drf_token"),
        });
        Ok((user.id, given))
    }

    /// Creates `user` and opens their first session, in one transaction:
    /// self-signup. A taken username surfaces as diesel's `UniqueViolation`,
    /// and nothing is written.
    pub async fn register(
        &self,
        user: NewAccount,
        client_ip: IpAddr,
        user_agent: Option<String>,
    ) -> Result<Registered, SessionError> {
        let opening = self.opening(client_ip, user_agent);
        let token_claims = self.policy.token_claims.clone();
        let (user_id, opened, claims) = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let created = users::insert(conn, &user.as_new_user())?;
                    let opened = opening.write(conn, created.id)?;
                    let claims = claims_of(&token_claims, conn, created.id)?;
                    Ok::<_, DbError>((created.id, opened, claims))
                })
            })
            .await?;
        self.audit.record(
            AuditEvent::new(Kind::UserCreated)
                .client(client_ip)
                .user(user_id)
                .session(opened.session_id.clone())
                .detail("signup"),
        );
        Ok(Registered {
            user_id,
            tokens: self.pair(user_id, &opened, &claims),
        })
    }

    fn login_failed(&self, event: AuditEvent) {
        Metrics::count(&self.metrics.logins, "outcome", "failed");
        self.audit.record(event);
    }

    /// What a session about to be written for this client needs.
    fn opening(&self, client_ip: IpAddr, user_agent: Option<String>) -> Opening {
        Opening {
            tokens: self.tokens.clone(),
            lifetime: self.policy.session_lifetime,
            client_ip: Some(client_ip.to_string()),
            user_agent: user_agent.map(|agent| agent.chars().take(MAX_USER_AGENT).collect()),
        }
    }

    /// The token pair of a session just written.
    fn pair(&self, user_id: i64, opened: &Opened, claims: &Map<String, Value>) -> TokenPair {
        let (refresh, access) = self.tokens.issue_pair(
            user_id,
            &opened.session_id,
            &opened.stamp,
            opened.at,
            claims,
        );
        TokenPair {
            refresh: refresh.token,
            access: access.token,
        }
    }
}

/// What access tokens carry of the user (`jwt.user_claims`), read inside
/// the transaction that writes their session: a change to the user either
/// committed before (and shows) or waits for this one (and ends or
/// outlives the session as it would any other). Nothing is read when no
/// claim is configured.
fn claims_of(
    claims: &TokenClaims,
    conn: &mut DbConnection,
    user_id: i64,
) -> QueryResult<Map<String, Value>> {
    if claims.is_empty() {
        return Ok(Map::new());
    }
    Ok(match users::find_with_groups(conn, user_id)? {
        Some((user, groups)) => claims.of(&user.username, &Profile::of(&user, groups)),
        None => Map::new(),
    })
}

/// A user created by self-signup, and their first tokens.
pub struct Registered {
    pub user_id: i64,
    pub tokens: TokenPair,
}

/// A user to create by self-signup, with their password hash.
pub struct NewAccount {
    pub username: String,
    pub email: String,
    /// In Django's format.
    pub password_hash: String,
}

impl NewAccount {
    fn as_new_user(&self) -> users::NewUser<'_> {
        users::NewUser {
            email: &self.email,
            ..users::NewUser::named(
                &self.username,
                &self.password_hash,
                true,
                Utc::now().naive_utc(),
            )
        }
    }
}

/// A session about to be written.
struct Opening {
    tokens: std::sync::Arc<crate::tokens::TokenService>,
    lifetime: chrono::Duration,
    client_ip: Option<String>,
    user_agent: Option<String>,
}

/// A session written, with its first token's stamp.
struct Opened {
    session_id: String,
    stamp: Stamp,
    at: DateTime<Utc>,
}

impl Opening {
    /// Writes the session and its first refresh token; call in a write
    /// transaction that has locked the user's row (or created it).
    fn write(self, conn: &mut DbConnection, user_id: i64) -> QueryResult<Opened> {
        // The clock is read once the user's row is locked, so a session
        // written after a logout everywhere is issued after its mark, never
        // before.
        let now = Utc::now();
        let stamp = self.tokens.stamp(TokenType::Refresh, now);
        let expires_at = now.naive_utc() + self.lifetime;
        let session_id = self.create_session(conn, user_id, now, expires_at)?;
        refresh_tokens::record(
            conn,
            &NewRefreshToken::new(&stamp, user_id, &session_id, None),
        )?;
        Ok(Opened {
            session_id,
            stamp,
            at: now,
        })
    }

    /// Writes a sliding session: no refresh token, its newest sliding
    /// token's `iat` recorded instead (the reuse rule), and an end past
    /// which none of its tokens can be valid. Also returns the token's
    /// refresh deadline (`refresh_exp`).
    fn write_sliding(
        self,
        conn: &mut DbConnection,
        user_id: i64,
        refresh_lifetime: chrono::Duration,
        leeway: chrono::Duration,
    ) -> QueryResult<(Opened, DateTime<Utc>)> {
        // Read once the user's row is locked, as in `write`.
        let now = Utc::now();
        let stamp = self.tokens.stamp(TokenType::Sliding, now);
        let refresh_exp = stamp.issued_at.and_utc() + refresh_lifetime;
        // A token slid just before its refresh deadline (and its leeway)
        // lives one more lifetime; the session (and its row) lasts as long.
        let lifetime = stamp.expires_at - stamp.issued_at;
        let expires_at = refresh_exp.naive_utc() + lifetime + leeway;
        let session_id = self.create_session(conn, user_id, now, expires_at)?;
        stored_sessions::start_sliding(conn, &session_id, stamp.issued_at)?;
        let opened = Opened {
            session_id,
            stamp,
            at: now,
        };
        Ok((opened, refresh_exp))
    }

    /// The session's row, under a new id.
    fn create_session(
        self,
        conn: &mut DbConnection,
        user_id: i64,
        now: DateTime<Utc>,
        expires_at: chrono::NaiveDateTime,
    ) -> QueryResult<String> {
        let session_id = uuid::Uuid::new_v4().simple().to_string();
        stored_sessions::create(
            conn,
            &NewSession {
                id: session_id.clone(),
                user_id,
                created_at: now.naive_utc(),
                last_used_at: now.naive_utc(),
                expires_at,
                client_ip: self.client_ip,
                user_agent: self.user_agent,
            },
        )?;
        Ok(session_id)
    }
}

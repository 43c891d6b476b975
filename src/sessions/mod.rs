//! The session service: everything that starts, uses, lists or ends a
//! session (one login's chain of refresh tokens and the access tokens issued
//! from it), and whether a token is still live ([`Sessions::standing`]).
//! Routes call this; it calls storage (`crate::db`) on the blocking pool, the
//! token service to sign, and keeps this instance's memory of ended sessions
//! and users ([`memory`]) in step with the change feed ([`sync`]).
//!
//! Where things happen: [`login`] checks a password and writes a session;
//! [`refresh`] rotates a refresh token (the store decides, through
//! `crate::db::refresh_tokens`, batched on PostgreSQL); [`standing`] answers
//! "is this token live"; logout, logout-all, listing and ending one session
//! are below.

mod cleanup;
pub mod directory;
pub mod drf_keys;
pub mod key_directory;
mod login;
pub mod memory;
pub mod policy;
mod refresh;
pub mod revoked;
mod sliding;
mod standing;
pub mod sync;

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::audit::{Audit, AuditEvent, Kind};
use crate::db::refresh_tokens::Adoption;
use crate::db::refresh_tokens::batch::RotationBatcher;
use crate::db::refresh_tokens::{self, Refusal};
use crate::db::sessions::{self as stored_sessions, Reason};
use crate::db::users::{UserChange, UserKey};
use crate::db::{self, Backend, Database, DbError, users, write_transaction};
use crate::metrics::Metrics;
use crate::passwords::{HashingPool, PasswordHasher};
use crate::throttle::{Throttle, Wait};
use crate::tokens::{TokenError, TokenService, TokenType, UserClaim, ValidatedToken};
pub use directory::DirectoryUser;
pub use login::{LoginAttempt, NewAccount, Registered};
use memory::Memory;
pub use policy::{SessionPolicy, Upkeep};
pub use refresh::RefreshedTokens;
pub use standing::{Check, Standing, StoredStanding, UserStanding};

/// Why a session operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The token presented is not a valid token of the expected type.
    #[error("{0}")]
    Token(#[from] TokenError),
    /// The store refused the refresh token.
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error("throttled for {0:?}")]
    Throttled(Wait),
    /// Wrong password, unknown or inactive user, or a change to the user
    /// while the password was checked.
    #[error("bad credentials")]
    BadCredentials,
    /// No password-hashing slot came free in time.
    #[error("hashing busy")]
    HashingBusy,
    /// No live session of this user has that id.
    #[error("no such session")]
    UnknownSession,
    /// No user has that id.
    #[error("no such user")]
    UnknownUser,
    /// A DRF token key that does not authenticate.
    #[error("DRF key refused: {0:?}")]
    DrfKey(drf_keys::KeyRefusal),
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl From<diesel::result::Error> for SessionError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Storage(error.into())
    }
}

/// A signed refresh and access token.
#[derive(Clone)]
pub struct TokenPair {
    pub refresh: String,
    pub access: String,
}

/// One live session as its user sees it.
#[derive(Clone, Debug)]
pub struct SessionSummary {
    pub id: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the token that asked.
    pub current: bool,
}

pub struct Sessions {
    db: Database,
    tokens: Arc<TokenService>,
    memory: Arc<Memory>,
    /// Group commit for plain rotations, on PostgreSQL.
    rotations: Option<Arc<RotationBatcher>>,
    policy: SessionPolicy,
    upkeep: Upkeep,
    throttle: Arc<Throttle>,
    hasher: PasswordHasher,
    /// Where login password hashes run, a few at a time.
    hashing: Arc<HashingPool>,
    audit: Arc<Audit>,
    metrics: Arc<Metrics>,
    /// Derives DRF token keys, when `drf_token.enabled`.
    drf_keys: Option<drf_keys::KeyMint>,
}

/// What a session service is built from.
pub struct SessionParts {
    pub db: Database,
    pub tokens: Arc<TokenService>,
    pub throttle: Arc<Throttle>,
    pub hasher: PasswordHasher,
    pub hashing: Arc<HashingPool>,
    pub policy: SessionPolicy,
    pub upkeep: Upkeep,
    /// Writer threads for batched rotations (PostgreSQL).
    pub rotation_writers: usize,
    pub audit: Arc<Audit>,
    pub metrics: Arc<Metrics>,
    /// `Some` when `drf_token.enabled`.
    pub drf_keys: Option<drf_keys::KeyMint>,
}

impl Sessions {
    pub fn new(parts: SessionParts) -> Self {
        let (policy, upkeep) = (parts.policy, parts.upkeep);
        // Batching pays where a round trip costs: PostgreSQL, for the
        // default rotation (a child recorded, the parent retired).
        let batch = parts.db.backend() == Backend::Postgres && policy.retire_rotated;
        Self {
            rotations: batch
                .then(|| RotationBatcher::start(parts.db.clone(), parts.rotation_writers)),
            memory: Arc::new(Memory::new(
                revoked::RevokedSessions::new(upkeep.token_lifetime_seconds, upkeep.leeway),
                directory::UserDirectory::new(upkeep.users_capacity),
                key_directory::KeyDirectory::new(upkeep.users_capacity),
            )),
            db: parts.db,
            tokens: parts.tokens,
            throttle: parts.throttle,
            hasher: parts.hasher,
            hashing: parts.hashing,
            audit: parts.audit,
            metrics: parts.metrics,
            drf_keys: parts.drf_keys,
            policy,
            upkeep,
        }
    }

    /// Reads the ended sessions that still matter, then keeps memory in step
    /// with the change feed and, when configured, deletes expired rows.
    /// Call once, inside the runtime, before serving.
    pub fn start(&self) -> anyhow::Result<()> {
        let position = self
            .db
            .with_connection(|conn| sync::warm_start(conn, &self.memory))?;
        sync::spawn(
            self.db.clone(),
            self.memory.clone(),
            position,
            self.upkeep.sync_interval,
        );
        if let Some(interval) = self.upkeep.cleanup_interval {
            cleanup::spawn(self.db.clone(), interval, self.upkeep.leeway);
        }
        Ok(())
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Whether the database answers within `wait`: at once "no" while it
    /// is known to be unreachable.
    pub async fn storage_ready(&self, wait: std::time::Duration) -> Result<(), SessionError> {
        if self.db.is_unreachable() {
            return Err(DbError::Unavailable("the database is unreachable".to_owned()).into());
        }
        let db = self.db.clone();
        let ping = actix_web::web::block(move || {
            db.with_connection_within(wait, |conn| db::ping(conn).map_err(DbError::from))
        });
        // A ping on a connection whose server went silent waits for TCP to
        // give up: the answer may not.
        match tokio::time::timeout(wait + std::time::Duration::from_millis(50), ping).await {
            Ok(pinged) => pinged.map_err(|e| DbError::Task(e.to_string()))??,
            Err(_) => {
                return Err(DbError::Unavailable(format!(
                    "the database did not answer within {wait:?}"
                ))
                .into());
            }
        }
        Ok(())
    }

    /// This instance's memory and change-feed state, for the metrics.
    pub fn readings(&self) -> (usize, usize, std::time::Duration) {
        let (revoked, users) = self.memory.sizes();
        (revoked, users, self.memory.sync_lag())
    }

    /// The refresh limit of the client's address, before anything is read.
    pub async fn admit_refresh(&self, client: IpAddr) -> Result<(), SessionError> {
        self.throttle
            .before_refresh(client)
            .await
            .map_err(|throttled| {
                Metrics::count(&self.metrics.refreshes, "outcome", "throttled");
                SessionError::Throttled(throttled.0)
            })
    }

    /// Logout: retires the refresh token and ends its session, access tokens
    /// included.
    pub async fn logout(&self, raw: &str) -> Result<(), SessionError> {
        let token = self.tokens.decode_as(raw, TokenType::Refresh)?;
        let now = Utc::now();
        // In migration mode a Simple JWT token is recorded so its logout sticks.
        let adopt = self.adoption(&token, now.naive_utc());
        let jti = token.jti.clone();
        let logout = self
            .db
            .run(move |conn| {
                refresh_tokens::blacklist(conn, &jti, adopt.as_ref(), now.naive_utc())
                    .map_err(DbError::from)
            })
            .await?;
        if let Some(session_id) = &logout.ended_session {
            Metrics::count(
                &self.metrics.sessions_ended,
                "reason",
                Reason::Logout.as_str(),
            );
            let event = AuditEvent::new(Kind::Logout).session(session_id.clone());
            self.audit.record(match token.user {
                UserClaim::Id(user_id) => event.user(user_id),
                _ => event,
            });
        }
        // Enforced here at once; on other instances within the sync interval.
        self.memory
            .sessions_ended(logout.ended_session, now.naive_utc());
        match logout.refusal {
            Some(refusal) => Err(SessionError::Refused(refusal)),
            None => Ok(()),
        }
    }

    /// Ends every session of the user, on every device, and voids every
    /// token of theirs of no session issued before now.
    /// [`SessionError::UnknownUser`]: no such user.
    pub async fn logout_all(&self, user_id: i64) -> Result<(), SessionError> {
        let change = self
            .db
            .run(move |conn| {
                users::end_all_sessions(conn, UserKey::Id(user_id), Reason::LogoutAll)
                    .map_err(DbError::from)
            })
            .await?
            .ok_or(SessionError::UnknownUser)?;
        self.audit.record(
            AuditEvent::new(Kind::LogoutAll)
                .user(user_id)
                .detail(format!("{} session(s) ended", change.ended_sessions.len())),
        );
        self.user_changed(change, Reason::LogoutAll);
        Ok(())
    }

    /// The user a live refresh token belongs to: logout-all by the refresh
    /// cookie, where no access token is sent.
    pub async fn owner_of_refresh(&self, raw: &str) -> Result<i64, SessionError> {
        let token = self.tokens.decode_as(raw, TokenType::Refresh)?;
        let standing = self.standing(&token, Check::SessionFirst).await?;
        let usable = matches!(
            standing.stored,
            Some(StoredStanding::Usable | StoredStanding::Adoptable)
        );
        if standing.ended || !usable {
            return Err(SessionError::Token(TokenError::Blacklisted));
        }
        match standing.allowed_user(self.policy.require_active_user) {
            Some(user) => Ok(user.id),
            None => Err(SessionError::Refused(Refusal::NoActiveUser)),
        }
    }

    /// Enforces a change to a user on this instance at once (other
    /// instances read it from the change feed within the sync interval):
    /// the sessions it ended, and the user as cached.
    pub fn user_changed(&self, change: UserChange, reason: Reason) {
        if !change.ended_sessions.is_empty() {
            self.metrics
                .sessions_ended
                .get_or_create(&[("reason", reason.as_str())])
                .inc_by(change.ended_sessions.len() as u64);
        }
        self.memory.sessions_ended(change.ended_sessions, change.at);
        self.memory.users_changed([change.user_id]);
    }

    /// The user's live sessions, newest first; `current` is the session of
    /// the token that asks.
    pub async fn list(
        &self,
        user_id: i64,
        current: Option<&str>,
    ) -> Result<Vec<SessionSummary>, SessionError> {
        let now = Utc::now().naive_utc();
        let live = self
            .db
            .run(move |conn| {
                stored_sessions::live_for_user(conn, user_id, now).map_err(DbError::from)
            })
            .await?;
        Ok(live
            .into_iter()
            .filter(|session| !self.memory.is_ended(&session.id))
            .map(|session| SessionSummary {
                current: current == Some(session.id.as_str()),
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                expires_at: session.expires_at,
                client_ip: session.client_ip,
                user_agent: session.user_agent,
            })
            .collect())
    }

    /// Ends one of the user's live sessions; another user's session is as
    /// unknown as one that never was.
    pub async fn end(&self, user_id: i64, session_id: String) -> Result<(), SessionError> {
        let now = Utc::now().naive_utc();
        let id = session_id.clone();
        let ended = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| match stored_sessions::find(conn, &id)? {
                    Some(found) if found.user_id == user_id && found.expires_at > now => {
                        stored_sessions::end(conn, &id, Reason::SessionDeleted, now)
                    }
                    _ => Ok(false),
                })
                .map_err(DbError::from)
            })
            .await?;
        if !ended {
            return Err(SessionError::UnknownSession);
        }
        Metrics::count(
            &self.metrics.sessions_ended,
            "reason",
            Reason::SessionDeleted.as_str(),
        );
        self.audit.record(
            AuditEvent::new(Kind::SessionEnded)
                .user(user_id)
                .session(session_id.clone())
                .detail(Reason::SessionDeleted.as_str()),
        );
        self.memory.sessions_ended([session_id], now);
        Ok(())
    }

    /// The user with `user_id`, from the directory or, on a miss, the
    /// database (then remembered).
    pub async fn find_user(
        &self,
        user_id: i64,
    ) -> Result<Option<Arc<DirectoryUser>>, SessionError> {
        if let Some(user) = self.memory.user(user_id) {
            return Ok(Some(user));
        }
        let seen = self.memory.epoch();
        let user = self
            .db
            .run(move |conn| {
                let found = users::find_with_groups(conn, user_id)?;
                Ok::<_, DbError>(found.map(|(user, groups)| DirectoryUser::new(user, groups)))
            })
            .await?
            .map(Arc::new);
        if let Some(user) = &user {
            self.memory.remember(user.clone(), seen);
        }
        Ok(user)
    }

    /// What an access token issued now carries of its user beyond Simple
    /// JWT's claims (`jwt.user_claims`); nothing, and no lookup, by default.
    async fn user_claims(&self, user: UserClaim) -> Result<Map<String, Value>, SessionError> {
        if self.policy.token_claims.is_empty() {
            return Ok(Map::new());
        }
        let UserClaim::Id(user_id) = user else {
            return Ok(Map::new());
        };
        Ok(match self.find_user(user_id).await? {
            Some(user) => self.policy.token_claims.of(&user.username, &user.profile),
            None => Map::new(),
        })
    }

    /// In migration mode (`jwt.adopt_unknown_refresh_tokens`), what the store
    /// needs to adopt `token` should it be one latchkey never issued: a
    /// refresh token of the Simple JWT deployment being replaced.
    fn adoption(&self, token: &ValidatedToken, now: NaiveDateTime) -> Option<Adoption> {
        let UserClaim::Id(user_id) = token.user else {
            return None;
        };
        self.policy.adopt_unknown.then(|| Adoption {
            user_id,
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            session_expires_at: now + self.policy.session_lifetime,
        })
    }
}

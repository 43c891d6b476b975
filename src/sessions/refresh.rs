//! Refresh: a refresh token for a new access token and, with rotation on, a
//! new refresh token that replaces it. The store decides (rotate, replay
//! within the grace window, or refuse) before anything is signed, because
//! the new token's expiry and session come from it. The conditional UPDATE
//! that claims the parent is in `crate::db::refresh_tokens` (one request)
//! and `crate::db::refresh_tokens::batch` (many at once, on PostgreSQL).

use chrono::Utc;
use serde_json::Map;

use super::{SessionError, Sessions};
use crate::audit::{AuditEvent, Kind};
use crate::db::DbError;
use crate::db::refresh_tokens::{self, Refresh, Refreshed, Refusal};
use crate::db::sessions::Reason;
use crate::metrics::Metrics;
use crate::tokens::{TokenType, UserClaim};

/// What a refresh signed: an access token and, with rotation, the refresh
/// token that replaces the one presented.
pub struct RefreshedTokens {
    pub access: String,
    pub refresh: Option<String>,
}

impl Sessions {
    /// What follows the store's finding that a retired token came back
    /// and ended its session (a refresh token's rotation, or a sliding
    /// token's, `detail` saying which): counted, audited, and enforced
    /// here at once (on other instances within the sync interval).
    pub(super) fn reuse_detected(
        &self,
        session_id: String,
        user: UserClaim,
        detail: Option<&str>,
        at: chrono::NaiveDateTime,
    ) {
        Metrics::count(&self.metrics.refreshes, "outcome", "refused");
        self.metrics.refresh_reuse.inc();
        Metrics::count(
            &self.metrics.sessions_ended,
            "reason",
            Reason::ReuseDetected.as_str(),
        );
        let reused = AuditEvent::new(Kind::RefreshReuseDetected).session(session_id.clone());
        let reused = match detail {
            Some(detail) => reused.detail(detail),
            None => reused,
        };
        self.audit.record(match user {
            UserClaim::Id(user_id) => reused.user(user_id),
            _ => reused,
        });
        self.memory.sessions_ended([session_id], at);
    }

    pub async fn refresh(&self, raw: &str) -> Result<RefreshedTokens, SessionError> {
        let presented = self.tokens.decode_as(raw, TokenType::Refresh)?;
        let now = Utc::now();
        let request = Refresh {
            parent_jti: presented.jti.clone(),
            claimed_user: match presented.user {
                UserClaim::Id(id) => Some(id),
                UserClaim::Missing | UserClaim::Unrecognized => None,
            },
            child: self
                .policy
                .rotate
                .then(|| self.tokens.stamp(TokenType::Refresh, now)),
            retire_parent: self.policy.retire_rotated,
            require_active_user: self.policy.require_active_user,
            adopt: self.adoption(&presented, now.naive_utc()),
            grace: self.policy.reuse_grace,
        };

        // The user's claims as of now, read before the parent is used up: a
        // lookup that fails then leaves the token usable. Refresh tokens
        // stay minimal.
        let claims = self.user_claims(presented.user).await?;

        // The batch claims what it can; what it did not claim is settled
        // (grace, reuse, refusal) one by one.
        let batched = match &self.rotations {
            Some(batcher) => batcher.try_rotate(&request).await?,
            None => None,
        };
        let outcome = match batched {
            Some(rotated) => rotated,
            None => {
                self.db
                    .run(move |conn| {
                        refresh_tokens::refresh(conn, &request, now.naive_utc())
                            .map_err(DbError::from)
                    })
                    .await?
            }
        };

        let (session_id, child) = match outcome {
            Refreshed::Refused(refusal) => {
                Metrics::count(&self.metrics.refreshes, "outcome", "refused");
                return Err(SessionError::Refused(refusal));
            }
            Refreshed::ReuseDetected { session_id } => {
                self.reuse_detected(session_id, presented.user, None, now.naive_utc());
                return Err(SessionError::Refused(Refusal::Blacklisted));
            }
            Refreshed::Rotated { session_id, child } => {
                Metrics::count(&self.metrics.refreshes, "outcome", "rotated");
                (session_id, child)
            }
            Refreshed::Replayed { session_id, child } => {
                Metrics::count(&self.metrics.refreshes, "outcome", "replayed");
                (session_id, Some(child))
            }
        };
        let access = self.tokens.issue_from(
            TokenType::Access,
            &presented,
            &session_id,
            &self.tokens.stamp(TokenType::Access, now),
            &claims,
        );
        let refresh = child.map(|stamp| {
            self.tokens
                .issue_from(
                    TokenType::Refresh,
                    &presented,
                    &session_id,
                    &stamp,
                    &Map::new(),
                )
                .token
        });
        Ok(RefreshedTokens {
            access: access.token,
            refresh,
        })
    }
}

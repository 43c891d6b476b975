//! Sliding refresh (`sliding.enabled`): a sliding token for the same token
//! with a new `exp` and `iat`, as Simple JWT slides it, until its
//! `refresh_exp`. Beyond Simple JWT, a sliding token belongs to a session:
//! a token of an ended session does not slide, and the store records the
//! newest token of each session, so a superseded one presented after the
//! reuse grace ends the session (`crate::db::sessions::slide`).

use chrono::Utc;
use serde_json::Value;

use super::{Check, SessionError, Sessions};
use crate::db::refresh_tokens::Refusal;
use crate::db::sessions::{self as stored_sessions, Slide};
use crate::db::{DbError, write_transaction};
use crate::metrics::Metrics;
use crate::tokens::{REFRESH_EXP_CLAIM, Stamp, TokenError, TokenType, TypeClaim, timestamp};

impl Sessions {
    pub async fn refresh_sliding(&self, raw: &str) -> Result<String, SessionError> {
        let presented = self.tokens.decode(raw)?;
        match presented.token_type {
            TypeClaim::Is(TokenType::Sliding) => {}
            // Simple JWT looks a token up in its blacklist before it checks
            // the type: a retired refresh token is "blacklisted" here.
            TypeClaim::Is(TokenType::Refresh) => {
                return Err(if self.is_retired_refresh(&presented).await? {
                    TokenError::Blacklisted
                } else {
                    TokenError::WrongType
                }
                .into());
            }
            TypeClaim::Missing => return Err(TokenError::NoType.into()),
            TypeClaim::Is(_) | TypeClaim::Other => return Err(TokenError::WrongType.into()),
        }
        let now = Utc::now();
        let leeway = self.upkeep.leeway.num_seconds();
        match presented.claims.get(REFRESH_EXP_CLAIM) {
            None => return Err(TokenError::NoRefreshExp.into()),
            Some(Value::Number(deadline)) => {
                let deadline = deadline.as_f64().ok_or(TokenError::Invalid)?;
                // Simple JWT's check_exp: expired at the deadline itself.
                if deadline <= (now.timestamp_millis() as f64) / 1000.0 - leeway as f64 {
                    return Err(TokenError::RefreshExpired.into());
                }
            }
            Some(_) => return Err(TokenError::Invalid.into()),
        }
        let (Some(session_id), Some(issued_at)) =
            (presented.session().map(str::to_owned), presented.issued_at)
        else {
            // Not a token this service issued: every sliding token it
            // signs names its session and when it was issued.
            return Err(TokenError::Invalid.into());
        };

        // Simple JWT never looks at the user here; latchkey does, because a
        // deactivation or deletion ends the user's sessions.
        let standing = self.standing(&presented, Check::UserFirst).await?;
        if standing
            .allowed_user(self.policy.require_active_user)
            .is_none()
        {
            return Err(SessionError::Refused(Refusal::NoActiveUser));
        }
        if standing.ended {
            return Err(TokenError::Blacklisted.into());
        }
        // The user's claims as of now, as an access token issued now gets them.
        let claims = self.user_claims(presented.user).await?;

        // Whole seconds, as tokens carry them.
        let at = timestamp(now.timestamp());
        let grace = self.policy.reuse_grace;
        let session = session_id.clone();
        let slide = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    stored_sessions::slide(conn, &session, issued_at, at, grace)
                })
                .map_err(DbError::from)
            })
            .await?;
        let issued_at = match slide {
            Slide::Slid(at) => {
                Metrics::count(&self.metrics.refreshes, "outcome", "rotated");
                at
            }
            Slide::Replay(newest) => {
                Metrics::count(&self.metrics.refreshes, "outcome", "replayed");
                newest
            }
            Slide::Ended => {
                Metrics::count(&self.metrics.refreshes, "outcome", "refused");
                return Err(TokenError::Blacklisted.into());
            }
            Slide::ReuseDetected => {
                self.reuse_detected(session_id, presented.user, Some("sliding"), at);
                return Err(TokenError::Blacklisted.into());
            }
        };
        let fresh = self.tokens.stamp(TokenType::Sliding, issued_at.and_utc());
        // The same token slid: its id stays.
        let stamp = Stamp {
            jti: presented.jti.clone(),
            ..fresh
        };
        Ok(self
            .tokens
            .issue_from(TokenType::Sliding, &presented, &session_id, &stamp, &claims)
            .token)
    }
}

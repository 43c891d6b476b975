//! A user's own password change (`POST /api/password/change/`, as
//! dj-rest-auth names its fields): the old password proves who asks, and
//! counts against the login limits as a login would; the new one passes the
//! password rules; every other session of the user ends, the caller's stays.

use crate::audit::{AuditEvent, Kind};
use crate::db::sessions::Reason;
use std::net::IpAddr;

use super::{UserError, Users};
use crate::db::DbError;
use crate::db::users::{self, Kept, LoginBasis};
use crate::passwords::{Password, UserAttributes};
use crate::sessions::DirectoryUser;

/// Django's `SetPasswordForm` message (with its typographic apostrophe).
const MISMATCH: &str = "The two password fields didn\u{2019}t match.";
const WRONG_OLD_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";

/// A password change as the user sent it.
#[derive(Debug)]
pub struct PasswordChange {
    pub old_password: Password,
    pub new_password1: Password,
    pub new_password2: Password,
    /// The caller's credential (its token's session, or its DRF key), which
    /// stays.
    pub kept: Kept,
    pub client_ip: IpAddr,
}

/// What the hashing pool found.
enum Checked {
    WrongOldPassword,
    Mismatch,
    Refused(Vec<String>),
    Accepted(String),
}

impl Users {
    pub async fn change_password(
        &self,
        user: &DirectoryUser,
        change: PasswordChange,
    ) -> Result<(), UserError> {
        // A stolen access token must not become a way to guess the password.
        let reservation = self
            .throttle
            .before_login(change.client_ip, self.throttle.account(&user.username))
            .await
            .map_err(|throttled| UserError::Throttled(throttled.0))?;
        let user_id = user.id;
        let stored = self
            .db
            .run(move |conn| users::find_by_id(conn, user_id).map_err(DbError::from))
            .await;
        let stored = match stored {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                reservation.release().await;
                return Err(UserError::NotFound);
            }
            Err(error) => {
                reservation.release().await;
                return Err(error.into());
            }
        };
        let basis = LoginBasis {
            user_id,
            verified_hash: stored.password.clone(),
            tokens_valid_after: stored.tokens_valid_after,
        };
        let (hasher, rules) = (self.hasher.clone(), self.rules.clone());
        let PasswordChange {
            old_password,
            new_password1,
            new_password2,
            kept,
            client_ip,
        } = change;
        let checked = self
            .hashing
            .run(move || {
                if !hasher.verify(&old_password, &stored.password).is_match() {
                    return Checked::WrongOldPassword;
                }
                if new_password1.expose() != new_password2.expose() {
                    return Checked::Mismatch;
                }
                let attributes = UserAttributes {
                    username: &stored.username,
                    email: &stored.email,
                    first_name: &stored.first_name,
                    last_name: &stored.last_name,
                };
                let problems = rules.problems(new_password2.expose(), &attributes);
                if problems.is_empty() {
                    Checked::Accepted(hasher.hash(&new_password2))
                } else {
                    Checked::Refused(problems)
                }
            })
            .await;
        let checked = match checked {
            Ok(checked) => checked,
            Err(busy) => {
                reservation.release().await;
                return Err(busy.into());
            }
        };
        if let Checked::WrongOldPassword = checked {
            reservation.failed().await;
            tracing::info!(%client_ip, user_id, "password change with a wrong old password");
            return Err(UserError::field("old_password", WRONG_OLD_PASSWORD));
        }
        // The old password was right: the guess did not fail.
        reservation.release().await;
        match checked {
            Checked::Accepted(hash) => self.store(basis, hash, kept).await,
            Checked::Mismatch => Err(UserError::field("new_password2", MISMATCH)),
            Checked::Refused(messages) => {
                Err(UserError::Invalid(vec![("new_password2", messages)]))
            }
            Checked::WrongOldPassword => Err(UserError::field("old_password", WRONG_OLD_PASSWORD)),
        }
    }

    /// Stores the new hash if the password is still the one checked.
    async fn store(
        &self,
        basis: LoginBasis,
        new_hash: String,
        keep: Kept,
    ) -> Result<(), UserError> {
        let change = self
            .db
            .run(move |conn| {
                users::change_password(conn, &basis, &new_hash, &keep).map_err(DbError::from)
            })
            .await?;
        match change {
            Some(change) => {
                self.audit.record(
                    AuditEvent::new(Kind::PasswordChanged)
                        .user(change.user_id)
                        .detail(format!(
                            "by the user; {} other session(s) ended",
                            change.ended_sessions.len()
                        )),
                );
                self.sessions.user_changed(change, Reason::PasswordChanged);
                Ok(())
            }
            // The password changed (or the user was deactivated) while this
            // one was checked: the old password no longer proves anything.
            None => Err(UserError::field("old_password", WRONG_OLD_PASSWORD)),
        }
    }
}

//! Self-signup (`POST /api/register/`, as dj-rest-auth names its fields),
//! off unless `signup.enabled`: a new active user and their first session.
//! Every registration counts against the address's failed-login budget.

use std::net::IpAddr;

use super::checks::{self, Problems};
use super::{UserError, Users, Words};
use crate::db::DbError;
use crate::db::users;
use crate::passwords::Password;
use crate::sessions::{NewAccount, SessionError, TokenPair};

/// dj-rest-auth's message (with a straight apostrophe, unlike Django's).
const MISMATCH: &str = "The two password fields didn't match.";
const USERNAME_TAKEN: &str = "A user with that username already exists.";
const FIELD_ORDER: [&str; 4] = ["username", "email", "password1", "non_field_errors"];

/// A registration as the client sent it.
#[derive(Debug)]
pub struct Registration {
    pub username: String,
    /// Empty: none given.
    pub email: String,
    pub password1: Password,
    pub password2: Password,
    pub client_ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Users {
    pub async fn register(&self, registration: Registration) -> Result<TokenPair, UserError> {
        if !self.signup_enabled {
            return Err(UserError::SignupDisabled);
        }
        self.throttle
            .before_signup(registration.client_ip)
            .map_err(|throttled| UserError::Throttled(throttled.0))?;
        let Registration {
            username,
            email,
            password1,
            password2,
            client_ip,
            user_agent,
        } = registration;
        let mut problems = Problems::default();
        checks::username(&username, &mut problems);
        checks::email("email", &email, &mut problems);
        let name = username.clone();
        let taken = self
            .db
            .run(move |conn| users::find_by_username(conn, &name).map_err(DbError::from))
            .await?
            .is_some();
        if taken {
            problems.add("username", USERNAME_TAKEN);
        }
        let matching = password1.expose() == password2.expose();
        let words = Words {
            username: username.clone(),
            email: email.clone(),
            first_name: String::new(),
            last_name: String::new(),
        };
        // Hashed only for a registration that will be written.
        let hash_it = problems.is_empty() && matching;
        let password_hash = match self.checked_hash(password1, words, hash_it).await? {
            Ok(hash) => hash,
            Err(messages) => {
                problems.add_all("password1", messages);
                None
            }
        };
        // Compared once every field is valid, as the serializer's validate().
        if problems.is_empty() && !matching {
            problems.add("non_field_errors", MISMATCH);
        }
        problems.into_result(&FIELD_ORDER)?;
        // Every field valid and the two passwords equal: it was hashed.
        let Some(password_hash) = password_hash else {
            return Err(UserError::field(
                "password1",
                "The password could not be hashed.",
            ));
        };
        let account = NewAccount {
            username,
            email,
            password_hash,
        };
        match self.sessions.register(account, client_ip, user_agent).await {
            Ok(pair) => Ok(pair),
            // Taken between the check and the write.
            Err(SessionError::Storage(error)) if super::admin::is_unique_violation(&error) => {
                Err(UserError::field("username", USERNAME_TAKEN))
            }
            Err(error) => Err(error.into()),
        }
    }
}

//! Self-signup (`POST /api/register/`, as dj-rest-auth names its fields;
//! the route answers 404 unless `signup.enabled`): a new active user and
//! their first session. Registrations are limited per address
//! (`throttle.signups`).

use std::net::IpAddr;

use super::checks::{self, Problems};
use super::{UserError, Users, Words};
use crate::db::DbError;
use crate::db::users;
use crate::passwords::Password;
use crate::sessions::{NewAccount, Registered, SessionError, TokenPair};

/// dj-rest-auth's message (with a straight apostrophe, unlike Django's).
const MISMATCH: &str = "The two password fields didn't match.";
const USERNAME_TAKEN: &str = "A user with that username already exists.";
/// django-allauth's message, which dj-rest-auth's registration uses.
const EMAIL_TAKEN: &str = "A user is already registered with this email address.";
const FIELD_ORDER: [&str; 4] = ["username", "email", "password1", "non_field_errors"];

/// A user created by self-signup, as stored, and their first tokens.
pub struct SignedUp {
    pub user_id: i64,
    pub username: String,
    pub email: String,
    pub tokens: TokenPair,
}

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
    pub async fn register(&self, registration: Registration) -> Result<SignedUp, UserError> {
        self.throttle
            .before_signup(registration.client_ip)
            .await
            .map_err(|throttled| UserError::Throttled(throttled.0))?;
        let Registration {
            username,
            email,
            password1,
            password2,
            client_ip,
            user_agent,
        } = registration;
        let username = checks::normalized_username(username);
        let mut problems = Problems::default();
        checks::username(&username, &mut problems);
        checks::email("email", &email, &mut problems);
        let (name, address) = (username.clone(), email.clone());
        let (name_taken, address_taken) = self
            .db
            .run(move |conn| {
                let name_taken = users::find_by_username(conn, &name)?.is_some();
                let address_taken = !address.is_empty() && users::email_in_use(conn, &address)?;
                Ok::<_, DbError>((name_taken, address_taken))
            })
            .await?;
        if name_taken {
            problems.add("username", USERNAME_TAKEN);
        }
        // An address given here is not verified: one that is somebody's
        // already would let a stranger pass for them wherever it is trusted.
        if address_taken {
            problems.add("email", EMAIL_TAKEN);
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
            username: username.clone(),
            email: email.clone(),
            password_hash,
        };
        match self.sessions.register(account, client_ip, user_agent).await {
            Ok(Registered { user_id, tokens }) => Ok(SignedUp {
                user_id,
                username,
                email,
                tokens,
            }),
            // Taken between the check and the write.
            Err(SessionError::Storage(error)) if super::admin::is_unique_violation(&error) => {
                Err(UserError::field("username", USERNAME_TAKEN))
            }
            Err(error) => Err(error.into()),
        }
    }
}

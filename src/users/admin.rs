//! The admin API's operations, for the application's backend: create a
//! user (with a password, a Django hash as stored, or none), list and filter
//! them a page at a time, read, change and delete one, end their sessions.
//! A password change, a deactivation or a deletion ends every session of
//! the user; any other change does when asked (`end_sessions`).

use crate::audit::{AuditEvent, Kind};
use chrono::Utc;
use serde_json::{Map, Value};

use super::checks::{self, Problems};
use super::{UserError, UserRecord, Users, Words};
use crate::db::DbError;
use crate::db::groups;
use crate::db::sessions::Reason;
pub use crate::db::users::UserFilter;
use crate::db::users::{self, NewUser, Updated, UserChanges, UserKey};
use crate::passwords::{Password, PasswordHasher};
use crate::sessions::SessionError;

/// The order fields are reported in, as the admin serializer declares them.
const FIELD_ORDER: [&str; 12] = [
    "non_field_errors",
    "username",
    "password",
    "password_hash",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "claims",
];

const USERNAME_TAKEN: &str = "A user with that username already exists.";

/// How a user's password is given: in plain text (checked against the
/// password rules, then hashed) or as a hash in Django's format, as another
/// system stored it.
#[derive(Debug)]
pub enum PasswordInput {
    Plain(Password),
    Hash(String),
}

/// A user to create.
#[derive(Debug)]
pub struct UserDraft {
    pub username: String,
    /// None: the user has an unusable password and cannot log in with one.
    pub password: Option<PasswordInput>,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub groups: Vec<String>,
    pub claims: Map<String, Value>,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserEdit {
    pub username: Option<String>,
    pub password: Option<PasswordInput>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
    pub groups: Option<Vec<String>>,
    pub claims: Option<Map<String, Value>>,
    /// End every session of the user even if the change would not.
    pub end_sessions: bool,
}

/// One page of a listing.
#[derive(Debug)]
pub struct UserPage {
    /// How many users the filter matches in all.
    pub count: i64,
    pub users: Vec<UserRecord>,
}

impl Users {
    pub async fn create(&self, mut draft: UserDraft) -> Result<UserRecord, UserError> {
        draft.username = checks::normalized_username(draft.username);
        let mut problems = Problems::default();
        checks::username(&draft.username, &mut problems);
        checks::email("email", &draft.email, &mut problems);
        checks::name("first_name", &draft.first_name, &mut problems);
        checks::name("last_name", &draft.last_name, &mut problems);
        let claims = checks::claims(draft.claims, &self.configured_claims, &mut problems);
        let words = Words {
            username: draft.username.clone(),
            email: draft.email.clone(),
            first_name: draft.first_name.clone(),
            last_name: draft.last_name.clone(),
        };
        let hash = match draft.password {
            Some(password) => self.new_hash(password, words, &mut problems).await?,
            None => Some(PasswordHasher::unusable()),
        };
        problems.into_result(&FIELD_ORDER)?;
        let hash = hash.unwrap_or_else(PasswordHasher::unusable);
        let created = self
            .db
            .run(move |conn| {
                let user = NewUser {
                    email: &draft.email,
                    first_name: &draft.first_name,
                    last_name: &draft.last_name,
                    is_staff: draft.is_staff,
                    is_superuser: draft.is_superuser,
                    claims: &claims,
                    ..NewUser::named(
                        &draft.username,
                        &hash,
                        draft.is_active,
                        Utc::now().naive_utc(),
                    )
                };
                users::insert_with_groups(conn, &user, &draft.groups).map_err(DbError::from)
            })
            .await;
        match created {
            Ok(Ok((user, groups))) => {
                self.audit.record(
                    AuditEvent::new(Kind::UserCreated)
                        .user(user.id)
                        .detail("admin_api"),
                );
                Ok(UserRecord::new(user, groups))
            }
            Ok(Err(group)) => Err(unknown_group(&group)),
            Err(error) if is_unique_violation(&error) => {
                Err(UserError::field("username", USERNAME_TAKEN))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The users `filter` matches, by id, from `offset`, at most `limit`.
    pub async fn list(
        &self,
        filter: UserFilter,
        limit: i64,
        offset: i64,
    ) -> Result<UserPage, UserError> {
        let (count, found) = self
            .db
            .run(move |conn| {
                let (count, found) = users::page(conn, &filter, limit, offset)?;
                let ids: Vec<i64> = found.iter().map(|user| user.id).collect();
                let mut memberships = groups::of_users(conn, &ids)?;
                let found: Vec<_> = found
                    .into_iter()
                    .map(|user| {
                        let groups = memberships.remove(&user.id).unwrap_or_default();
                        (user, groups)
                    })
                    .collect();
                Ok::<_, DbError>((count, found))
            })
            .await?;
        Ok(UserPage {
            count,
            users: found
                .into_iter()
                .map(|(user, groups)| UserRecord::new(user, groups))
                .collect(),
        })
    }

    pub async fn get(&self, id: i64) -> Result<UserRecord, UserError> {
        self.db
            .run(move |conn| {
                let found = users::find_with_groups(conn, id)?;
                Ok::<_, DbError>(found.map(|(user, groups)| UserRecord::new(user, groups)))
            })
            .await?
            .ok_or(UserError::NotFound)
    }

    pub async fn update(&self, id: i64, mut edit: UserEdit) -> Result<UserRecord, UserError> {
        edit.username = edit.username.map(checks::normalized_username);
        let mut problems = Problems::default();
        if let Some(username) = &edit.username {
            checks::username(username, &mut problems);
        }
        if let Some(email) = &edit.email {
            checks::email("email", email, &mut problems);
        }
        for (field, value) in [
            ("first_name", &edit.first_name),
            ("last_name", &edit.last_name),
        ] {
            if let Some(value) = value {
                checks::name(field, value, &mut problems);
            }
        }
        let claims = edit
            .claims
            .map(|claims| checks::claims(claims, &self.configured_claims, &mut problems));
        let hash = match edit.password {
            // Checked against the user's own words, as they will be: the
            // one case that needs the stored user read first.
            Some(PasswordInput::Plain(password)) => {
                let current = self.get(id).await?;
                let profile = &current.profile;
                let words = Words {
                    username: edit.username.clone().unwrap_or(current.username.clone()),
                    email: edit.email.clone().unwrap_or(profile.email.clone()),
                    first_name: edit
                        .first_name
                        .clone()
                        .unwrap_or(profile.first_name.clone()),
                    last_name: edit.last_name.clone().unwrap_or(profile.last_name.clone()),
                };
                self.new_hash(PasswordInput::Plain(password), words, &mut problems)
                    .await?
            }
            Some(hash) => self.new_hash(hash, Words::default(), &mut problems).await?,
            None => None,
        };
        // An unknown user is not found before their input is judged, as DRF
        // finds the object first.
        if !problems.is_empty() {
            self.get(id).await?;
        }
        problems.into_result(&FIELD_ORDER)?;

        // Whoever held the old password may hold a token; a deactivated
        // user's tokens must stop; anything else when asked.
        let revoke = if edit.is_active == Some(false) {
            Some(Reason::UserDeactivated)
        } else if hash.is_some() {
            Some(Reason::PasswordChanged)
        } else if edit.end_sessions {
            Some(Reason::ProfileChanged)
        } else {
            None
        };
        let password_changed = hash.is_some();
        let changed_fields: Vec<&str> = [
            ("username", edit.username.is_some()),
            ("email", edit.email.is_some()),
            ("first_name", edit.first_name.is_some()),
            ("last_name", edit.last_name.is_some()),
            ("is_staff", edit.is_staff.is_some()),
            ("is_superuser", edit.is_superuser.is_some()),
            ("groups", edit.groups.is_some()),
            ("claims", claims.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
        let groups = edit.groups;
        let (username, email) = (edit.username, edit.email);
        let (first_name, last_name) = (edit.first_name, edit.last_name);
        let (is_active, is_staff, is_superuser) =
            (edit.is_active, edit.is_staff, edit.is_superuser);
        let updated = self
            .db
            .run(move |conn| {
                let changes = UserChanges {
                    username: username.as_deref(),
                    password: hash.as_deref(),
                    is_active,
                    email: email.as_deref(),
                    first_name: first_name.as_deref(),
                    last_name: last_name.as_deref(),
                    is_staff,
                    is_superuser,
                    claims: claims.as_deref(),
                };
                users::update(conn, id, &changes, groups.as_deref(), revoke).map_err(DbError::from)
            })
            .await;
        match updated {
            Ok(Updated::User {
                user,
                groups,
                change,
            }) => {
                if password_changed {
                    self.audit.record(
                        AuditEvent::new(Kind::PasswordChanged)
                            .user(id)
                            .detail("admin_api"),
                    );
                }
                match is_active {
                    Some(false) => self.audit.record(
                        AuditEvent::new(Kind::UserDeactivated)
                            .user(id)
                            .detail("admin_api"),
                    ),
                    Some(true) => self.audit.record(
                        AuditEvent::new(Kind::UserActivated)
                            .user(id)
                            .detail("admin_api"),
                    ),
                    None => {}
                }
                if !changed_fields.is_empty() {
                    self.audit.record(
                        AuditEvent::new(Kind::UserChanged)
                            .user(id)
                            .detail(format!("admin_api: {}", changed_fields.join(", "))),
                    );
                }
                self.sessions
                    .user_changed(change, revoke.unwrap_or(Reason::ProfileChanged));
                Ok(UserRecord::new(*user, groups))
            }
            Ok(Updated::NoSuchUser) => Err(UserError::NotFound),
            Ok(Updated::UnknownGroup(group)) => Err(unknown_group(&group)),
            Err(error) if is_unique_violation(&error) => {
                Err(UserError::field("username", USERNAME_TAKEN))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes the user; their sessions end first, so every instance refuses
    /// their tokens.
    pub async fn delete(&self, id: i64) -> Result<(), UserError> {
        let change = self
            .db
            .run(move |conn| users::delete(conn, UserKey::Id(id)).map_err(DbError::from))
            .await?
            .ok_or(UserError::NotFound)?;
        self.audit.record(
            AuditEvent::new(Kind::UserDeleted)
                .user(id)
                .detail("admin_api"),
        );
        self.sessions.user_changed(change, Reason::UserDeleted);
        Ok(())
    }

    /// Ends every session of the user, on every device.
    pub async fn logout_all(&self, id: i64) -> Result<(), UserError> {
        match self.sessions.logout_all(id).await {
            Err(SessionError::UnknownUser) => Err(UserError::NotFound),
            other => Ok(other?),
        }
    }

    /// The hash to store for a password given in plain text (checked against
    /// the rules first, on the hashing pool) or as a hash (in a format
    /// latchkey can check). `None` when a problem was found.
    async fn new_hash(
        &self,
        password: PasswordInput,
        words: Words,
        problems: &mut Problems,
    ) -> Result<Option<String>, UserError> {
        match password {
            PasswordInput::Hash(hash) => match self.hasher.accepts(&hash) {
                Ok(()) => Ok(Some(hash)),
                Err(refusal) => {
                    problems.add("password_hash", refusal.to_string());
                    Ok(None)
                }
            },
            PasswordInput::Plain(password) => match self.checked_hash(password, words, true).await?
            {
                Ok(hash) => Ok(hash),
                Err(messages) => {
                    problems.add_all("password", messages);
                    Ok(None)
                }
            },
        }
    }
}

/// DRF's `SlugRelatedField` answer for a name no group has.
fn unknown_group(name: &str) -> UserError {
    UserError::field("groups", format!("Object with name={name} does not exist."))
}

pub(super) fn is_unique_violation(error: &DbError) -> bool {
    matches!(
        error,
        DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))
    )
}

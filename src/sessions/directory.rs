//! The user directory: what Bearer authentication needs to know of a user
//! (name, active flag, mark), cached in memory so an authenticated request
//! does not query the database. Changes made anywhere (another instance, the
//! CLI) reach every instance through the `auth_events` feed, which
//! [`super::sync`] polls; they are enforced within `cache.sync_interval_ms`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::NaiveDateTime;

use crate::db::users::User;
use crate::tokens::ValidatedToken;
use crate::users::Profile;

/// What the directory keeps of a user: never the password hash.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectoryUser {
    pub id: i64,
    pub username: String,
    pub is_active: bool,
    pub date_joined: NaiveDateTime,
    /// Tokens issued before this instant are void, but those of the kept
    /// session (`crate::db::users::voids`).
    pub tokens_valid_after: Option<NaiveDateTime>,
    pub kept_session: Option<String>,
    pub profile: Profile,
}

impl DirectoryUser {
    /// Whether the user voided `token` by a password change, deactivation
    /// or logout everywhere since it was issued. Answered from memory: the
    /// mark comes with the cached user and changes reach the cache through
    /// the feed.
    pub fn voids(&self, token: &ValidatedToken) -> bool {
        crate::db::users::voids(
            self.tokens_valid_after,
            self.kept_session.as_deref(),
            token.issued_at,
            token.session(),
        )
    }
}

impl DirectoryUser {
    /// The user's row and the names of their groups.
    pub fn new(user: User, groups: Vec<String>) -> Self {
        Self {
            id: user.id,
            is_active: user.is_active,
            date_joined: user.date_joined,
            tokens_valid_after: user.tokens_valid_after,
            profile: Profile::of(&user, groups),
            kept_session: user.kept_session_id,
            username: user.username,
        }
    }
}

pub struct UserDirectory {
    entries: RwLock<HashMap<i64, Arc<DirectoryUser>>>,
    /// Bumped by every invalidation, so a lookup that raced one does not
    /// store what it read before it.
    epoch: AtomicU64,
    capacity: usize,
}

/// A lookup's position in time: take one before reading the database.
#[derive(Clone, Copy, Debug)]
pub struct Epoch(u64);

impl Epoch {
    pub(super) fn at(value: u64) -> Self {
        Self(value)
    }

    pub(super) fn value(self) -> u64 {
        self.0
    }
}

impl UserDirectory {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    pub fn get(&self, id: i64) -> Option<Arc<DirectoryUser>> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Acquire))
    }

    /// Caches `user` unless an invalidation happened since `seen`.
    pub fn insert(&self, user: Arc<DirectoryUser>, seen: Epoch) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) != seen.0 {
            return;
        }
        // Memory stays bounded: a full directory starts over.
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(user.id, user);
    }

    /// How many users are held.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn invalidate(&self, ids: impl IntoIterator<Item = i64>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for id in ids {
            entries.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, active: bool) -> Arc<DirectoryUser> {
        Arc::new(DirectoryUser {
            id,
            username: format!("user{id}"),
            is_active: active,
            date_joined: NaiveDateTime::default(),
            tokens_valid_after: None,
            kept_session: None,
            profile: Profile::default(),
        })
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_cached() {
        let directory = UserDirectory::new(10);
        let before_read = directory.epoch();
        directory.invalidate([1]);
        directory.insert(user(1, true), before_read);
        assert_eq!(directory.get(1), None);

        directory.insert(user(1, false), directory.epoch());
        assert_eq!(directory.get(1).map(|u| u.is_active), Some(false));
    }

    #[test]
    fn invalidation_drops_the_users_it_names() {
        let directory = UserDirectory::new(10);
        directory.insert(user(1, true), directory.epoch());
        directory.insert(user(2, true), directory.epoch());
        directory.invalidate([2]);
        assert!(directory.get(1).is_some());
        assert!(directory.get(2).is_none());
    }

    #[test]
    fn the_directory_never_outgrows_its_capacity() {
        let directory = UserDirectory::new(3);
        for id in 0..10 {
            directory.insert(user(id, true), directory.epoch());
        }
        assert!(directory.entries.read().expect("lock").len() <= 3);
    }
}

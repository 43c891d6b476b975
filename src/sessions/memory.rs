//! What this instance keeps in memory about sessions and users: the
//! sessions ended recently and the user directory. Every change to either
//! goes through [`Memory::sessions_ended`] and [`Memory::users_changed`],
//! whether it was made here or read from the change feed.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::directory::{DirectoryUser, Epoch, UserDirectory};
use super::revoked::RevokedSessions;

pub struct Memory {
    revoked: RevokedSessions,
    directory: UserDirectory,
}

impl Memory {
    pub fn new(revoked: RevokedSessions, directory: UserDirectory) -> Self {
        Self { revoked, directory }
    }

    /// Sessions that ended at `at`: their access tokens are refused from now on.
    pub fn sessions_ended(&self, ids: impl IntoIterator<Item = String>, at: NaiveDateTime) {
        for id in ids {
            self.revoked.insert(id, at);
        }
    }

    /// Users whose name, password, active flag, mark or existence changed:
    /// the next lookup reads them again.
    pub fn users_changed(&self, ids: impl IntoIterator<Item = i64>) {
        self.directory.invalidate(ids);
    }

    pub fn is_ended(&self, session: &str) -> bool {
        self.revoked.is_revoked(session)
    }

    pub fn user(&self, id: i64) -> Option<Arc<DirectoryUser>> {
        self.directory.get(id)
    }

    /// A lookup's position in time: take one before reading a user.
    pub fn epoch(&self) -> Epoch {
        self.directory.epoch()
    }

    /// Caches a user read from the database, unless it changed since `seen`.
    pub fn remember(&self, user: Arc<DirectoryUser>, seen: Epoch) {
        self.directory.insert(user, seen);
    }

    /// The earliest end of a session that still matters at `now`.
    pub fn horizon(&self, now: NaiveDateTime) -> NaiveDateTime {
        self.revoked.horizon(now)
    }

    /// Forgets ended sessions no unexpired access token can belong to.
    pub fn prune(&self, now: NaiveDateTime) {
        self.revoked.prune(now);
    }
}

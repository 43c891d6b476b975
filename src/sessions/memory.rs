//! What this instance keeps in memory about sessions and users: the
//! sessions ended recently, the user directory and the DRF token keys seen.
//! Every change to them
//! goes through [`Memory::sessions_ended`] and [`Memory::users_changed`],
//! whether it was made here or read from the change feed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::directory::{DirectoryUser, Epoch, UserDirectory};
use super::key_directory::{KeyDigest, KeyDirectory, KeyOwner};
use super::revoked::RevokedSessions;

pub struct Memory {
    revoked: RevokedSessions,
    directory: UserDirectory,
    keys: KeyDirectory,
    /// When the change feed was last read in full.
    synced_at: parking_lot::Mutex<Instant>,
}

impl Memory {
    pub fn new(revoked: RevokedSessions, directory: UserDirectory, keys: KeyDirectory) -> Self {
        Self {
            revoked,
            directory,
            keys,
            synced_at: parking_lot::Mutex::new(Instant::now()),
        }
    }

    /// The change feed was read up to its end just now.
    pub fn synced(&self) {
        *self.synced_at.lock() = Instant::now();
    }

    /// How long ago the change feed was last read: how stale this
    /// instance's view of changes made elsewhere may be.
    pub fn sync_lag(&self) -> Duration {
        self.synced_at.lock().elapsed()
    }

    /// Ended sessions held, and users cached.
    pub fn sizes(&self) -> (usize, usize) {
        (self.revoked.len(), self.directory.len())
    }

    /// Sessions that ended at `at`: their access tokens are refused from now on.
    pub fn sessions_ended(&self, ids: impl IntoIterator<Item = String>, at: NaiveDateTime) {
        for id in ids {
            self.revoked.insert(id, at);
        }
    }

    /// Users whose name, password, active flag, mark, keys or existence
    /// changed: the next lookup reads them (and their keys) again.
    pub fn users_changed(&self, ids: impl IntoIterator<Item = i64>) {
        let ids: Vec<i64> = ids.into_iter().collect();
        self.keys.invalidate(ids.iter().copied());
        self.directory.invalidate(ids);
    }

    /// What is held of the DRF token key with this digest: `Some(None)`
    /// when it was looked up and not found.
    pub fn key_owner(&self, digest: &KeyDigest) -> Option<Option<KeyOwner>> {
        self.keys.owner(digest)
    }

    /// A key lookup's position in time: take one before reading a key.
    pub fn key_epoch(&self) -> Epoch {
        self.keys.epoch()
    }

    /// Holds what a key lookup found (`None`: no such key), unless a user
    /// changed since `seen`.
    pub fn remember_key(&self, digest: KeyDigest, owner: Option<KeyOwner>, seen: Epoch) {
        self.keys.insert(digest, owner, seen);
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

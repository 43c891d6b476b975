//! DRF token keys already seen, by digest, so `Authorization: Token <key>`
//! costs no database query once a key has been used on this instance. A
//! change to a user (a key rotated, logout everywhere, a password change,
//! deactivation, deletion) drops that user's keys here, whether it was made
//! on this instance or read from the change feed; the next use reads the
//! key again.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::directory::Epoch;

/// A key's SHA-256 digest.
pub type KeyDigest = [u8; 32];

#[derive(Default)]
struct Entries {
    owners: HashMap<KeyDigest, i64>,
    by_user: HashMap<i64, Vec<KeyDigest>>,
}

pub struct KeyDirectory {
    entries: RwLock<Entries>,
    /// Bumped by every invalidation, so a lookup that raced one does not
    /// store what it read before it.
    epoch: AtomicU64,
    capacity: usize,
}

impl KeyDirectory {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(Entries::default()),
            epoch: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    /// The user whose key has this digest, if it is held.
    pub fn owner(&self, digest: &KeyDigest) -> Option<i64> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .owners
            .get(digest)
            .copied()
    }

    pub fn epoch(&self) -> Epoch {
        Epoch::at(self.epoch.load(Ordering::Acquire))
    }

    /// Holds a key read from the database, unless an invalidation happened
    /// since `seen`.
    pub fn insert(&self, digest: KeyDigest, user_id: i64, seen: Epoch) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) != seen.value() {
            return;
        }
        // Memory stays bounded: a full directory starts over.
        if entries.owners.len() >= self.capacity {
            *entries = Entries::default();
        }
        entries.owners.insert(digest, user_id);
        entries.by_user.entry(user_id).or_default().push(digest);
    }

    /// Drops the keys of these users.
    pub fn invalidate(&self, users: impl IntoIterator<Item = i64>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for user in users {
            for digest in entries.by_user.remove(&user).unwrap_or_default() {
                entries.owners.remove(&digest);
            }
        }
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .owners
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_held() {
        let keys = KeyDirectory::new(10);
        let before_read = keys.epoch();
        keys.invalidate([1]);
        keys.insert([1; 32], 1, before_read);
        assert_eq!(keys.owner(&[1; 32]), None);
        keys.insert([1; 32], 1, keys.epoch());
        assert_eq!(keys.owner(&[1; 32]), Some(1));
    }

    #[test]
    fn invalidation_drops_every_key_of_the_users_it_names_only() {
        let keys = KeyDirectory::new(10);
        keys.insert([1; 32], 1, keys.epoch());
        keys.insert([2; 32], 1, keys.epoch());
        keys.insert([3; 32], 2, keys.epoch());
        keys.invalidate([1]);
        assert_eq!(keys.owner(&[1; 32]), None);
        assert_eq!(keys.owner(&[2; 32]), None);
        assert_eq!(keys.owner(&[3; 32]), Some(2));
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn the_directory_never_outgrows_its_capacity() {
        let keys = KeyDirectory::new(3);
        for id in 0..10u8 {
            keys.insert([id; 32], i64::from(id), keys.epoch());
        }
        assert!(keys.len() <= 3);
    }
}

//! DRF token keys already looked up, by digest, so `Authorization: Token
//! <key>` costs no database query once a key has been used on this
//! instance: the keys found (with their user and when they were made), and
//! the keys not found. A change to a user (a key rotated or imported,
//! logout everywhere, a password change, deactivation, deletion) drops that
//! user's keys and every key not found, whether it was made on this
//! instance or read from the change feed; the next use reads them again.
//! (A key not found can only come to exist by an import or a rotation,
//! which publish a change: the keys a login derives cannot be guessed.)

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDateTime;

use super::directory::Epoch;

/// A key's SHA-256 digest.
pub type KeyDigest = [u8; 32];

/// The user a key belongs to, and when it was made.
pub type KeyOwner = (i64, NaiveDateTime);

#[derive(Default)]
struct Entries {
    owners: HashMap<KeyDigest, KeyOwner>,
    by_user: HashMap<i64, Vec<KeyDigest>>,
    unknown: HashSet<KeyDigest>,
}

pub struct KeyDirectory {
    entries: RwLock<Entries>,
    /// Bumped by every invalidation, so a lookup that raced one does not
    /// store what it read before it.
    epoch: AtomicU64,
    capacity: usize,
}

/// Unknown keys held at most: a spray of random keys starts this set over,
/// never the known keys'.
const UNKNOWN_CAPACITY: usize = 10_000;

impl KeyDirectory {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(Entries::default()),
            epoch: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    /// What is known of the key with this digest: `Some(None)` when it was
    /// looked up and not found.
    pub fn owner(&self, digest: &KeyDigest) -> Option<Option<KeyOwner>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if let Some(owner) = entries.owners.get(digest) {
            return Some(Some(*owner));
        }
        entries.unknown.contains(digest).then_some(None)
    }

    pub fn epoch(&self) -> Epoch {
        Epoch::at(self.epoch.load(Ordering::Acquire))
    }

    /// Holds what a lookup in the database found (`None`: no such key),
    /// unless an invalidation happened since `seen`.
    pub fn insert(&self, digest: KeyDigest, owner: Option<KeyOwner>, seen: Epoch) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) != seen.value() {
            return;
        }
        // Memory stays bounded: a full set starts over.
        match owner {
            Some(owner) => {
                if entries.owners.len() >= self.capacity {
                    entries.owners.clear();
                    entries.by_user.clear();
                }
                if entries.owners.insert(digest, owner).map(|old| old.0) != Some(owner.0) {
                    entries.by_user.entry(owner.0).or_default().push(digest);
                }
            }
            None => {
                if entries.unknown.len() >= UNKNOWN_CAPACITY.min(self.capacity) {
                    entries.unknown.clear();
                }
                entries.unknown.insert(digest);
            }
        }
    }

    /// Drops the keys of these users, and every key not found.
    pub fn invalidate(&self, users: impl IntoIterator<Item = i64>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.unknown.clear();
        for user in users {
            for digest in entries.by_user.remove(&user).unwrap_or_default() {
                entries.owners.remove(&digest);
            }
        }
    }

    /// How many keys are held (found or not).
    pub fn len(&self) -> usize {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.owners.len() + entries.unknown.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(user: i64) -> Option<KeyOwner> {
        Some((user, NaiveDateTime::default()))
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_held() {
        let keys = KeyDirectory::new(10);
        let before_read = keys.epoch();
        keys.invalidate([1]);
        keys.insert([1; 32], owner(1), before_read);
        assert_eq!(keys.owner(&[1; 32]), None);
        keys.insert([1; 32], owner(1), keys.epoch());
        assert_eq!(keys.owner(&[1; 32]), Some(owner(1)));
    }

    #[test]
    fn invalidation_drops_every_key_of_the_users_it_names_and_every_unknown_key() {
        let keys = KeyDirectory::new(10);
        keys.insert([1; 32], owner(1), keys.epoch());
        keys.insert([2; 32], owner(1), keys.epoch());
        keys.insert([3; 32], owner(2), keys.epoch());
        keys.insert([4; 32], None, keys.epoch());
        assert_eq!(keys.owner(&[4; 32]), Some(None));
        keys.invalidate([1]);
        assert_eq!(keys.owner(&[1; 32]), None);
        assert_eq!(keys.owner(&[2; 32]), None);
        assert_eq!(keys.owner(&[3; 32]), Some(owner(2)));
        assert_eq!(keys.owner(&[4; 32]), None);
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn the_directory_never_outgrows_its_capacity() {
        let keys = KeyDirectory::new(3);
        for id in 0..10u8 {
            let found = (id % 2 == 0).then(|| (i64::from(id), NaiveDateTime::default()));
            keys.insert([id; 32], found, keys.epoch());
        }
        assert!(keys.len() <= 6);
    }

    #[test]
    fn a_spray_of_unknown_keys_never_pushes_out_the_known_ones() {
        let keys = KeyDirectory::new(100);
        keys.insert([0; 32], owner(1), keys.epoch());
        for id in 1..=250u8 {
            keys.insert([id; 32], None, keys.epoch());
        }
        assert_eq!(keys.owner(&[0; 32]), Some(owner(1)));
    }
}

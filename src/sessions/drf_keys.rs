//! Django REST framework token keys (`drf_token`): a login's key
//! ([`KeyMint::key_for`], DRF's `get_or_create`: the same key at every
//! login) and `Authorization: Token <key>` ([`Sessions::authenticate_key`],
//! from memory once the key has been seen). A key is never stored: it is
//! derived from `drf_token.secret` and a random nonce kept with its digest,
//! so a copy of the database holds nothing that authenticates.

use std::sync::Arc;

use diesel::QueryResult;
use ring::digest::{SHA256, digest};
use ring::hmac;

use super::key_directory::KeyDigest;
use super::{DirectoryUser, SessionError, Sessions};
use crate::db::drf_keys::{self, StoredKey};
use crate::db::{DbConnection, DbError};
use crate::passwords::hex;

/// Characters in a key: 40 lowercase hex digits, as DRF writes its keys.
const KEY_CHARS: usize = 40;

/// The longest key DRF stores (`Token.key` is a 40-character field); a
/// longer one is unknown without a lookup.
const MAX_KEY_BYTES: usize = 40;

/// After this many sync intervals without a full read of the change feed,
/// keys are looked up in the store instead of memory.
const STALE_AFTER_INTERVALS: u32 = 20;

/// Why a DRF key did not authenticate, in DRF's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No such key (or its user is gone).
    Unknown,
    UserInactive,
}

/// Derives keys from the secret: the same nonce, the same key.
#[derive(Clone)]
pub struct KeyMint {
    secret: hmac::Key,
}

impl std::fmt::Debug for KeyMint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMint").finish_non_exhaustive()
    }
}

/// A key's digest as stored (lowercase hex).
pub fn stored_digest(key: &str) -> String {
    hex(&key_digest(key))
}

/// A key's digest as held in memory.
pub fn key_digest(key: &str) -> KeyDigest {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, key.as_bytes()).as_ref());
    out
}

impl KeyMint {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn derive(&self, nonce: &str) -> String {
        let tag = hmac::sign(
            &self.secret,
            format!("latchkey drf key\0{nonce}").as_bytes(),
        );
        let mut key = hex(tag.as_ref());
        key.truncate(KEY_CHARS);
        key
    }

    /// The user's key: the one given before (derived again from its nonce)
    /// or, when there is none this secret derives, a new one, recorded.
    /// `rotate` deletes every key of the user first; the caller then
    /// publishes the change, so instances drop the old keys. Call in a
    /// write transaction that holds the user's row lock.
    pub fn key_for(
        &self,
        conn: &mut DbConnection,
        user_id: i64,
        rotate: bool,
    ) -> QueryResult<String> {
        let mark =
            crate::db::users::find_by_id(conn, user_id)?.and_then(|user| user.tokens_valid_after);
        if rotate {
            drf_keys::delete_for_user(conn, user_id, None)?;
        } else {
            // Keys ended by a change to the user go now.
            drf_keys::delete_voided(conn, user_id, mark)?;
            for stored in drf_keys::of_user(conn, user_id)? {
                if let Some(nonce) = &stored.nonce {
                    let key = self.derive(nonce);
                    if stored_digest(&key) == stored.digest {
                        return Ok(key);
                    }
                }
            }
        }
        let mut nonce = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| diesel::result::Error::RollbackTransaction)?;
        let nonce = hex(&nonce);
        let now = chrono::Utc::now().naive_utc();
        let key = self.derive(&nonce);
        drf_keys::insert(
            conn,
            &StoredKey {
                digest: stored_digest(&key),
                user_id,
                nonce: Some(nonce),
                // Never before the user's mark (set by an instance whose
                // clock is ahead of this one's): it would be born void.
                created_at: mark.map_or(now, |mark| now.max(mark)),
            },
        )?;
        Ok(key)
    }
}

impl Sessions {
    /// The key's owner and date, read from the store, and remembered.
    async fn look_up_key(
        &self,
        digest: KeyDigest,
    ) -> Result<Option<(i64, chrono::NaiveDateTime)>, SessionError> {
        let seen = self.memory.key_epoch();
        let stored = hex(&digest);
        let owner = self
            .db
            .run(move |conn| drf_keys::owner(conn, &stored).map_err(DbError::from))
            .await?;
        self.memory.remember_key(digest, owner, seen);
        Ok(owner)
    }

    /// The active user a DRF key belongs to, answered as DRF's
    /// `TokenAuthentication` answers: an unknown key first, then an
    /// inactive user; then a key a change to the user ended (logout
    /// everywhere, a password change, deactivation) is unknown. A key seen
    /// before is answered from memory (its user from the directory), and so
    /// is a key looked up and not found, until the next change to any user;
    /// another unknown key costs one indexed lookup. While the change feed
    /// has not been read for a while, memory is not trusted with keys (which
    /// never expire) and the store is asked.
    /// Returns the user and the key's digest (hashed once per request).
    pub async fn authenticate_key(
        &self,
        key: &str,
    ) -> Result<(Arc<DirectoryUser>, KeyDigest), SessionError> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(SessionError::DrfKey(KeyRefusal::Unknown));
        }
        let digest = key_digest(key);
        let trusted = self.memory.sync_lag() <= self.upkeep.sync_interval * STALE_AFTER_INTERVALS;
        let cached = if trusted {
            self.memory.key_owner(&digest)
        } else {
            None
        };
        let from_memory = cached.is_some();
        let owner = match cached {
            Some(known) => known,
            None => self.look_up_key(digest).await?,
        };
        let Some((owner, created_at)) = owner else {
            return Err(SessionError::DrfKey(KeyRefusal::Unknown));
        };
        let user = if trusted {
            self.find_user(owner).await?
        } else {
            // The directory may not have heard of a deactivation either.
            self.db
                .run(move |conn| {
                    let found = crate::db::users::find_with_groups(conn, owner)?;
                    Ok::<_, DbError>(
                        found.map(|(user, groups)| Arc::new(DirectoryUser::new(user, groups))),
                    )
                })
                .await?
        }
        .ok_or(SessionError::DrfKey(KeyRefusal::Unknown))?;
        // DRF refuses an inactive user's key whatever else is configured.
        if !user.is_active {
            return Err(SessionError::DrfKey(KeyRefusal::UserInactive));
        }
        if drf_keys::voided(created_at, user.tokens_valid_after) {
            // A key a password change kept was dated anew: memory may hold
            // its old date until the change arrives here. (An error path:
            // only a real, ended key gets this far.)
            if from_memory
                && let Some((again, dated)) = self.look_up_key(digest).await?
                && again == owner
                && !drf_keys::voided(dated, user.tokens_valid_after)
            {
                return Ok((user, digest));
            }
            return Err(SessionError::DrfKey(KeyRefusal::Unknown));
        }
        Ok((user, digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_look_like_drf_keys_and_depend_on_secret_and_nonce() {
        let mint = KeyMint::new(&[7; 32]);
        let key = mint.derive("00ff");
        assert_eq!(key.len(), 40);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(key, mint.derive("00ff"));
        assert_ne!(key, mint.derive("00fe"));
        assert_ne!(key, KeyMint::new(&[8; 32]).derive("00ff"));
        assert_eq!(stored_digest(&key).len(), 64);
    }
}

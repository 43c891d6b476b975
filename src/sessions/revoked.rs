//! Sessions ended recently, in memory, so checking an access token's `sid`
//! costs no database query. An entry is kept until every access token issued
//! in its session has expired (the access lifetime plus
//! leeway and a margin), which bounds the set by the revocation rate, not by
//! the number of sessions.

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::NaiveDateTime;

/// Kept beyond the access lifetime for a token signed just as its session
/// ended elsewhere.
const MARGIN_SECONDS: i64 = 60;

pub struct RevokedSessions {
    entries: RwLock<HashMap<String, NaiveDateTime>>,
    retention: chrono::Duration,
}

impl RevokedSessions {
    pub fn new(access_lifetime_seconds: i64, leeway: chrono::Duration) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            retention: chrono::Duration::seconds(access_lifetime_seconds + MARGIN_SECONDS) + leeway,
        }
    }

    /// The earliest revocation that still matters at `now` (the distant
    /// past for a leeway set absurdly large).
    pub fn horizon(&self, now: NaiveDateTime) -> NaiveDateTime {
        now.checked_sub_signed(self.retention)
            .unwrap_or(NaiveDateTime::MIN)
    }

    pub fn is_revoked(&self, sid: &str) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        !entries.is_empty() && entries.contains_key(sid)
    }

    pub fn insert(&self, sid: String, revoked_at: NaiveDateTime) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sid, revoked_at);
    }

    /// How many ended sessions are held.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets revocations no unexpired access token can be affected by.
    pub fn prune(&self, now: NaiveDateTime) {
        let horizon = self.horizon(now);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.values().any(|at| *at < horizon) {
            entries.retain(|_, at| *at >= horizon);
            entries.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_as_long_as_the_access_tokens_they_stop() {
        let revoked = RevokedSessions::new(300, chrono::Duration::zero());
        let now = chrono::Utc::now().naive_utc();
        revoked.insert("old".to_owned(), now - chrono::Duration::seconds(400));
        revoked.insert("recent".to_owned(), now - chrono::Duration::seconds(100));
        assert!(revoked.is_revoked("old") && revoked.is_revoked("recent"));
        revoked.prune(now);
        assert!(!revoked.is_revoked("old"));
        assert!(revoked.is_revoked("recent"));
        assert!(!revoked.is_revoked("never"));
    }
}

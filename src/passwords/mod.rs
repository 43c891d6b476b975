//! Django-compatible password hashes: `pbkdf2_sha256$<iterations>$<salt>$<base64>`,
//! so a Django user table can be imported as it is. PBKDF2 runs on aws-lc-rs
//! (the fastest implementation measured here, see BENCHMARKS.md); salts come
//! from ring's system random source. Every call here is CPU-bound for a
//! noticeable time: logins run it on the [`HashingPool`] ([`pool`]), the CLI
//! on its own thread, never an async worker.

pub mod pool;
pub mod validation;

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};

pub use pool::{HashingBusy, HashingPool};
pub use validation::{PasswordRules, UserAttributes};

const ALGORITHM: &str = "pbkdf2_sha256";
const SALT_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Django's salt length: 22 characters of a 62-letter alphabet, about 131 bits.
const SALT_LENGTH: usize = 22;
const HASH_LENGTH: usize = 32;
/// Django's `UNUSABLE_PASSWORD_PREFIX`.
const UNUSABLE_PREFIX: &str = "!";

/// A plaintext password. Its `Debug` prints nothing of it.
pub struct Password(String);

impl Password {
    pub fn new(plaintext: String) -> Self {
        Self(plaintext)
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The plaintext, for the checks a new password goes through.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Why a hash cannot be stored as it is.
#[derive(Debug, PartialEq, Eq)]
pub enum HashRefusal {
    /// Not a format this hasher checks.
    Unknown,
    /// More iterations than a login can afford.
    TooCostly { max: u32 },
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match,
    /// Correct, but hashed with another iteration count: here is the rehash.
    MatchNeedsUpgrade(String),
}

impl Verification {
    pub fn is_match(&self) -> bool {
        !matches!(self, Self::Mismatch)
    }
}

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    iterations: NonZeroU32,
    /// Stands in for a missing user's hash so an unknown username costs the
    /// same time as a wrong password.
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(iterations: u32) -> Self {
        let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
        let dummy_hash = encode(iterations, "latchkeydummysalt00000", &[0; HASH_LENGTH]);
        Self {
            iterations,
            dummy_hash,
        }
    }

    pub fn iterations(&self) -> u32 {
        self.iterations.get()
    }

    /// Hashes with a fresh random salt and the configured iteration count.
    pub fn hash(&self, password: &Password) -> String {
        let salt = random_salt();
        let mut derived = [0u8; HASH_LENGTH];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            self.iterations,
            salt.as_bytes(),
            password.as_bytes(),
            &mut derived,
        );
        encode(self.iterations, &salt, &derived)
    }

    /// Checks `password` against a stored hash in constant time. Hashes in
    /// any other format (another algorithm, Django's unusable `!` marker)
    /// never match. Every check costs at least the configured iteration
    /// count, whatever the stored hash asks for, so timing does not tell a
    /// user with an old, cheaper hash from an unknown username.
    pub fn verify(&self, password: &Password, stored: &str) -> Verification {
        self.verify_counting(password, stored, &mut 0)
    }

    /// [`Self::verify`], adding the PBKDF2 iterations it ran to `spent`.
    fn verify_counting(&self, password: &Password, stored: &str, spent: &mut u64) -> Verification {
        let Some((iterations, salt, expected)) = decode(stored) else {
            self.harden(password, 0, spent);
            return Verification::Mismatch;
        };
        let matches = pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            salt.as_bytes(),
            password.as_bytes(),
            &expected,
        )
        .is_ok();
        *spent += u64::from(iterations.get());
        self.harden(password, iterations.get(), spent);
        match (matches, iterations == self.iterations) {
            (false, _) => Verification::Mismatch,
            (true, true) => Verification::Match,
            (true, false) => Verification::MatchNeedsUpgrade(self.hash(password)),
        }
    }

    /// Runs the iterations a check of `done` iterations fell short of the
    /// configured count (Django's `harden_runtime`), on a throwaway salt.
    fn harden(&self, password: &Password, done: u32, spent: &mut u64) {
        let Some(missing) = self
            .iterations
            .get()
            .checked_sub(done)
            .and_then(NonZeroU32::new)
        else {
            return;
        };
        let mut derived = [0u8; HASH_LENGTH];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            missing,
            b"latchkeyhardensalt0000",
            password.as_bytes(),
            &mut derived,
        );
        *spent += u64::from(missing.get());
    }

    /// Whether `stored` may be stored as a user's hash as it is (an import):
    /// Django's marker of an unusable password (`!`, which never matches),
    /// or a hash this hasher can check whose iterations a login can afford
    /// (at most [`Self::max_imported_iterations`]: every login of that user
    /// would hold a hashing slot that long, and a few would take them all).
    pub fn accepts(&self, stored: &str) -> Result<(), HashRefusal> {
        if stored.starts_with(UNUSABLE_PREFIX) {
            return Ok(());
        }
        let (iterations, _, _) = decode(stored).ok_or(HashRefusal::Unknown)?;
        let max = self.max_imported_iterations();
        if iterations.get() > max {
            return Err(HashRefusal::TooCostly { max });
        }
        Ok(())
    }

    /// Twice the configured iterations, and at least 2,000,000 (twice
    /// Django 5.2's count).
    pub fn max_imported_iterations(&self) -> u32 {
        self.iterations.get().saturating_mul(2).max(2_000_000)
    }

    /// A password hash no password matches, in Django's form (`!` and 40
    /// random characters), for a user who logs in by other means.
    pub fn unusable() -> String {
        let mut marker = String::from(UNUSABLE_PREFIX);
        marker.push_str(&random_string(40));
        marker
    }

    /// Spends one hash's time for a login whose user does not exist.
    pub fn burn(&self, password: &Password) {
        let _ = self.verify(password, &self.dummy_hash.clone());
    }
}

fn encode(iterations: NonZeroU32, salt: &str, derived: &[u8]) -> String {
    format!(
        "{ALGORITHM}${iterations}${salt}${}",
        STANDARD.encode(derived)
    )
}

fn decode(stored: &str) -> Option<(NonZeroU32, &str, Vec<u8>)> {
    let mut parts = stored.split('$');
    let (algorithm, iterations, salt, hash) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if algorithm != ALGORITHM || parts.next().is_some() || salt.is_empty() {
        return None;
    }
    let iterations = iterations.parse::<NonZeroU32>().ok()?;
    let expected = STANDARD.decode(hash).ok()?;
    // Django's PBKDF2-SHA256 hashes are the digest's 32 bytes: a shorter
    // one would compare only its few bytes, and match a guess too easily.
    (expected.len() == HASH_LENGTH).then_some((iterations, salt, expected))
}

fn random_salt() -> String {
    random_string(SALT_LENGTH)
}

/// `length` characters of Django's salt alphabet, from the system's random
/// source.
fn random_string(length: usize) -> String {
    let rng = SystemRandom::new();
    let mut salt = String::with_capacity(length);
    let mut byte = [0u8; 1];
    while salt.len() < length {
        rng.fill(&mut byte).expect("the system random source works");
        // Rejection sampling keeps the alphabet uniform: 248 = 4 * 62.
        if byte[0] < 248 {
            salt.push(SALT_ALPHABET[usize::from(byte[0] % 62)] as char);
        }
    }
    salt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password::new(text.to_owned())
    }

    #[test]
    fn only_checkable_affordable_hashes_and_unusable_markers_are_accepted() {
        let hasher = PasswordHasher::new(1000);
        let unusable = PasswordHasher::unusable();
        assert!(unusable.starts_with('!') && unusable.len() == 41);
        assert_ne!(unusable, PasswordHasher::unusable());
        assert_eq!(hasher.accepts(&unusable), Ok(()));
        assert_eq!(hasher.accepts("!"), Ok(()));
        assert_eq!(
            hasher.verify(&password(""), &unusable),
            Verification::Mismatch
        );
        assert_eq!(hasher.accepts(&hasher.hash(&password("pw"))), Ok(()));
        let digest = STANDARD.encode([7u8; HASH_LENGTH]);
        for unknown in [
            "".to_owned(),
            "plain".to_owned(),
            "md5$$abc".to_owned(),
            format!("pbkdf2_sha256$0$salt${digest}"),
            format!("pbkdf2_sha256$10$${digest}"),
            // One byte of hash would match one password in 256.
            "pbkdf2_sha256$1000$salt$AA==".to_owned(),
        ] {
            assert_eq!(
                hasher.accepts(&unknown),
                Err(HashRefusal::Unknown),
                "{unknown}"
            );
            assert_eq!(
                hasher.verify(&password("x"), &unknown),
                Verification::Mismatch
            );
        }
        assert_eq!(
            hasher.accepts(&format!("pbkdf2_sha256$2000001$salt${digest}")),
            Err(HashRefusal::TooCostly { max: 2_000_000 })
        );
        assert_eq!(
            hasher.accepts(&format!("pbkdf2_sha256$2000000$salt${digest}")),
            Ok(())
        );
    }

    #[test]
    fn verifies_hashes_computed_as_django_computes_them() {
        // Both made with Python's hashlib.pbkdf2_hmac, which is what Django's
        // PBKDF2PasswordHasher calls; the second uses Django 5.0's count and a
        // non-ASCII password (UTF-8 encoded, as Django does).
        let hasher = PasswordHasher::new(1000);
        let stored = "pbkdf2_sha256$1000$seasalt$aZOLUDnbVq4qfmIhIFCkAqvDNHspRzj9l43SgVe7GOM=";
        assert_eq!(
            hasher.verify(&password("hunter2"), stored),
            Verification::Match
        );
        assert_eq!(
            hasher.verify(&password("hunter3"), stored),
            Verification::Mismatch
        );
        let django_5_0 = "pbkdf2_sha256$870000$aB3dE6gH9jK2mN5pQ8sT1v$AR5GEpU9mxTRWNM8knnMZAXVySHBGwSJJQ5xiGVamMc=";
        assert!(hasher.verify(&password("pässwörd"), django_5_0).is_match());
    }

    #[test]
    fn new_hashes_use_djangos_format() {
        let hasher = PasswordHasher::new(1000);
        let stored = hasher.hash(&password("hunter2"));
        assert!(stored.starts_with("pbkdf2_sha256$1000$"));
        assert_eq!(stored.split('$').nth(2).map(str::len), Some(SALT_LENGTH));
        assert_eq!(
            hasher.verify(&password("hunter2"), &stored),
            Verification::Match
        );
    }

    #[test]
    fn matches_the_rfc_7914_pbkdf2_sha256_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256("passwd", "salt", c=1, dkLen=64), first 32 bytes.
        let expected = "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc";
        let bytes: Vec<u8> = (0..expected.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&expected[i..i + 2], 16).expect("hex"))
            .collect();
        let stored = encode(NonZeroU32::MIN, "salt", &bytes);
        let hasher = PasswordHasher::new(1);
        assert_eq!(
            hasher.verify(&password("passwd"), &stored),
            Verification::Match
        );
    }

    #[test]
    fn another_iteration_count_matches_and_asks_for_an_upgrade() {
        let old = PasswordHasher::new(500).hash(&password("s3cret"));
        let current = PasswordHasher::new(1000);
        match current.verify(&password("s3cret"), &old) {
            Verification::MatchNeedsUpgrade(new_hash) => {
                assert!(new_hash.starts_with("pbkdf2_sha256$1000$"));
                assert_eq!(
                    current.verify(&password("s3cret"), &new_hash),
                    Verification::Match
                );
            }
            other => panic!("expected an upgrade, got {other:?}"),
        }
    }

    #[test]
    fn other_formats_never_match() {
        let hasher = PasswordHasher::new(10);
        for stored in [
            "",
            "!unusable",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA",
            "pbkdf2_sha256$0$salt$aGFzaA==",
            "pbkdf2_sha256$abc$salt$aGFzaA==",
            "pbkdf2_sha256$10$$aGFzaA==",
            "pbkdf2_sha256$10$salt$not base64",
            "pbkdf2_sha256$10$salt$aGFzaA==$extra",
        ] {
            assert_eq!(
                hasher.verify(&password("x"), stored),
                Verification::Mismatch,
                "{stored}"
            );
        }
    }

    #[test]
    fn finding_6_every_check_costs_the_configured_iterations() {
        // A user whose hash has fewer iterations than configured must cost as
        // much as an unknown user, or timing tells which usernames exist.
        let hasher = PasswordHasher::new(2000);
        let cheap = PasswordHasher::new(300).hash(&password("s3cret"));
        let spent = |candidate: &str, stored: &str| {
            let mut spent = 0;
            let outcome = hasher.verify_counting(&password(candidate), stored, &mut spent);
            (outcome.is_match(), spent)
        };
        assert_eq!(spent("wrong", &cheap), (false, 2000), "low-iteration hash");
        assert_eq!(
            spent("wrong", &hasher.dummy_hash.clone()),
            (false, 2000),
            "unknown user"
        );
        assert_eq!(spent("wrong", "!unusable"), (false, 2000), "unusable hash");
        assert_eq!(
            spent("wrong", &hasher.hash(&password("s3cret"))),
            (false, 2000),
            "current hash"
        );
        // A stored count above the configured one is not cut short.
        let dear = PasswordHasher::new(3000).hash(&password("s3cret"));
        assert_eq!(spent("wrong", &dear), (false, 3000));
        // The match itself is unaffected by the extra work.
        assert!(spent("s3cret", &cheap).0);
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(format!("{:?}", password("hunter2")), "Password(<redacted>)");
    }
}

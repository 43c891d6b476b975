//! Django-compatible password hashes. Every hasher Django has shipped is
//! checked ([`stored`]: `pbkdf2_sha256`, `pbkdf2_sha1`, `argon2`,
//! `bcrypt_sha256`, `bcrypt`, `scrypt`, `md5`), so a Django user table can be
//! imported as it is; new hashes are written by the configured scheme
//! (`passwords.hasher`: `pbkdf2_sha256` on aws-lc-rs, the fastest
//! implementation measured here, or Argon2id), in Django's format, so they
//! can also go back to Django unchanged. A user whose hash was written by
//! another hasher or with other parameters is rehashed at their next
//! successful login, as Django's `must_update` has it. Salts come from
//! ring's system random source. Every call here is CPU-bound for a
//! noticeable time: logins run it on the [`HashingPool`] ([`pool`]), the CLI
//! on its own thread, never an async worker.

pub mod pool;
mod stored;
pub mod validation;

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::pbkdf2;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};

pub use pool::{HashingBusy, HashingPool};
pub use stored::hex;
use stored::{Argon2Params, Pbkdf2Digest, Stored, Unreadable};
pub use validation::{PasswordRules, UserAttributes};

const SALT_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Django's salt length: 22 characters of a 62-letter alphabet, about 131 bits.
const SALT_LENGTH: usize = 22;
const HASH_LENGTH: usize = 32;
/// Argon2's salt, in bytes (argon2-cffi's default, which Django uses).
const ARGON2_SALT_LENGTH: usize = 16;
/// Django's `UNUSABLE_PASSWORD_PREFIX`.
const UNUSABLE_PREFIX: &str = "!";
/// PBKDF2 iterations per step when a check is topped up to the reference
/// time: a fraction of a millisecond each.
const HARDEN_STEP: NonZeroU32 = NonZeroU32::new(1000).expect("non-zero");

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

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match,
    /// Correct, but hashed by another hasher or with other parameters: the
    /// caller rehashes it ([`PasswordHasher::hash`]) if the login succeeds.
    MatchNeedsUpgrade,
}

impl Verification {
    pub fn is_match(&self) -> bool {
        !matches!(self, Self::Mismatch)
    }
}

/// Whether a stored hash can be matched by some password: not Django's
/// unusable marker (`!`).
pub fn is_usable(stored: &str) -> bool {
    !stored.starts_with(UNUSABLE_PREFIX)
}

/// How new hashes are written (`passwords.hasher`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Django's default `PBKDF2PasswordHasher`.
    Pbkdf2Sha256 { iterations: NonZeroU32 },
    /// Django's `Argon2PasswordHasher` (Argon2id, version 0x13).
    Argon2id {
        memory_kib: u32,
        time_cost: u32,
        parallelism: u32,
    },
}

impl Scheme {
    fn argon2_params(self) -> Option<Argon2Params> {
        match self {
            Self::Argon2id {
                memory_kib,
                time_cost,
                parallelism,
            } => Some(Argon2Params {
                variant: argon2::Algorithm::Argon2id,
                version: argon2::Version::V0x13,
                memory_kib,
                time_cost,
                parallelism,
            }),
            Self::Pbkdf2Sha256 { .. } => None,
        }
    }
}

/// Why a hash cannot be stored as it is.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashRefusal {
    /// Not a format any Django hasher writes.
    #[error(
        "Unknown password hashing algorithm or format: give the hash as one of Django's hashers stores it (pbkdf2_sha256$..., argon2$..., bcrypt_sha256$$..., scrypt$..., ...), or ! for an unusable password."
    )]
    Unknown,
    /// More PBKDF2 iterations than a login can afford.
    #[error("This hash has more iterations than a login can afford; at most {max}.")]
    TooManyIterations { max: u32 },
    /// More memory, time or parallelism than a login can afford.
    #[error("This hash asks more memory or time than a login can afford.")]
    TooCostly,
}

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    scheme: Scheme,
    /// Stands in for a missing user's hash so an unknown username costs the
    /// same time as a wrong password.
    dummy_hash: String,
    /// How long a check at the configured parameters takes, in nanoseconds
    /// (0: not measured yet): what a check of a hash written otherwise is
    /// topped up to.
    reference: Arc<AtomicU64>,
}

impl PasswordHasher {
    /// PBKDF2-SHA256 with `iterations`.
    pub fn new(iterations: u32) -> Self {
        let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
        Self::with_scheme(Scheme::Pbkdf2Sha256 { iterations })
    }

    pub fn with_scheme(scheme: Scheme) -> Self {
        let dummy_hash = match scheme {
            Scheme::Pbkdf2Sha256 { iterations } => {
                encode_pbkdf2(iterations, "latchkeydummysalt00000", &[0; HASH_LENGTH])
            }
            Scheme::Argon2id { .. } => encode_argon2(
                scheme.argon2_params().as_ref(),
                &[0; ARGON2_SALT_LENGTH],
                &[0; HASH_LENGTH],
            ),
        };
        Self {
            scheme,
            dummy_hash,
            reference: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Hashes with a fresh random salt and the configured parameters.
    pub fn hash(&self, password: &Password) -> String {
        match self.scheme {
            Scheme::Pbkdf2Sha256 { iterations } => {
                let salt = random_salt();
                let mut derived = [0u8; HASH_LENGTH];
                pbkdf2::derive(
                    pbkdf2::PBKDF2_HMAC_SHA256,
                    iterations,
                    salt.as_bytes(),
                    password.as_bytes(),
                    &mut derived,
                );
                encode_pbkdf2(iterations, &salt, &derived)
            }
            Scheme::Argon2id { .. } => {
                let mut salt = [0u8; ARGON2_SALT_LENGTH];
                SystemRandom::new()
                    .fill(&mut salt)
                    .expect("the system random source works");
                let params = self.scheme.argon2_params();
                let derived = derive_argon2(params.as_ref(), password.as_bytes(), &salt);
                encode_argon2(params.as_ref(), &salt, &derived)
            }
        }
    }

    /// Checks `password` against a stored hash, in constant time, whichever
    /// Django hasher wrote it. Unusable (`!`) and unknown hashes never match
    /// (an unknown format is logged once). Every check costs at least what
    /// a check at the configured parameters costs (an unknown user's),
    /// whatever the stored hash asks for, so timing does not tell a user
    /// with an older or cheaper hash from an unknown username: a PBKDF2-SHA256
    /// hash with fewer iterations is topped up with the missing iterations
    /// (Django's `harden_runtime`); any other with PBKDF2 work until the
    /// check has taken the configured check's measured time.
    pub fn verify(&self, password: &Password, stored: &str) -> Verification {
        self.verify_counting(password, stored, &mut 0)
    }

    /// [`Self::verify`], adding the PBKDF2 iterations it ran to `spent`.
    fn verify_counting(&self, password: &Password, stored: &str, spent: &mut u64) -> Verification {
        let started = Instant::now();
        let read = stored::read(stored);
        let matches = match &read {
            Ok(hash) => hash.matches(password.as_bytes()),
            Err(unreadable) => {
                if !stored.starts_with(UNUSABLE_PREFIX) {
                    note_unreadable(unreadable);
                }
                false
            }
        };
        match &read {
            // Unusable or unknown: nothing was checked; the configured
            // check's work is done instead.
            Err(_) => self.spend_configured(password, spent),
            Ok(Stored::Pbkdf2 {
                digest: Pbkdf2Digest::Sha256,
                iterations,
                ..
            }) if matches!(self.scheme, Scheme::Pbkdf2Sha256 { .. }) => {
                *spent += u64::from(iterations.get());
                self.harden_iterations(password, iterations.get(), spent);
                // A configured check's cost, whatever the count stored: the
                // reference follows the machine's load.
                if Some(iterations.get()) <= self.pbkdf2_iterations() {
                    self.observe(started.elapsed());
                }
            }
            Ok(hash) if self.is_current(hash) => self.observe(started.elapsed()),
            Ok(_) => self.harden_to(started, password, spent),
        }
        match read {
            Ok(hash) if matches && self.is_current(&hash) => Verification::Match,
            Ok(hash) if matches => {
                tracing::debug!(
                    from = hash.algorithm(),
                    "the password matched a hash of another hasher or parameters"
                );
                Verification::MatchNeedsUpgrade
            }
            _ => Verification::Mismatch,
        }
    }

    /// Whether a hash is as the configured scheme writes it now (Django's
    /// `must_update` is false).
    fn is_current(&self, hash: &Stored) -> bool {
        match (self.scheme, hash) {
            (
                Scheme::Pbkdf2Sha256 { iterations },
                Stored::Pbkdf2 {
                    digest: Pbkdf2Digest::Sha256,
                    iterations: stored,
                    ..
                },
            ) => iterations == *stored,
            (Scheme::Argon2id { .. }, Stored::Argon2 { params, .. }) => {
                self.scheme.argon2_params().as_ref() == Some(params)
            }
            _ => false,
        }
    }

    /// The work of one check at the configured parameters, on a throwaway
    /// salt.
    fn spend_configured(&self, password: &Password, spent: &mut u64) {
        match self.scheme {
            Scheme::Pbkdf2Sha256 { .. } => self.harden_iterations(password, 0, spent),
            Scheme::Argon2id { .. } => {
                let started = Instant::now();
                let params = self.scheme.argon2_params();
                derive_argon2(
                    params.as_ref(),
                    password.as_bytes(),
                    b"latchkeyhardensalt0000",
                );
                self.observe(started.elapsed());
            }
        }
    }

    /// Runs the iterations a check of `done` iterations fell short of the
    /// configured count (Django's `harden_runtime`), on a throwaway salt.
    fn harden_iterations(&self, password: &Password, done: u32, spent: &mut u64) {
        let Scheme::Pbkdf2Sha256 { iterations } = self.scheme else {
            return;
        };
        let Some(missing) = iterations.get().checked_sub(done).and_then(NonZeroU32::new) else {
            return;
        };
        run_pbkdf2(password, missing);
        *spent += u64::from(missing.get());
    }

    fn pbkdf2_iterations(&self) -> Option<u32> {
        match self.scheme {
            Scheme::Pbkdf2Sha256 { iterations } => Some(iterations.get()),
            Scheme::Argon2id { .. } => None,
        }
    }

    /// Adds PBKDF2 work until the check begun at `started` has taken as long
    /// as a check at the configured parameters.
    fn harden_to(&self, started: Instant, password: &Password, spent: &mut u64) {
        let mut reference = self.reference.load(Ordering::Relaxed);
        if reference == 0 {
            // Measured once, by doing it.
            let measuring = Instant::now();
            self.spend_configured(password, spent);
            reference = duration_nanos(measuring.elapsed());
            self.reference.store(reference, Ordering::Relaxed);
        }
        let target = Duration::from_nanos(reference);
        while started.elapsed() < target {
            run_pbkdf2(password, HARDEN_STEP);
            *spent += u64::from(HARDEN_STEP.get());
        }
    }

    /// Folds a check at the configured parameters into the reference time;
    /// a sample over twice the reference (a paused machine) counts as twice.
    fn observe(&self, took: Duration) {
        let took = duration_nanos(took);
        let before = self.reference.load(Ordering::Relaxed);
        let after = if before == 0 {
            took
        } else {
            let took = took.min(before.saturating_mul(2));
            (before.saturating_mul(7).saturating_add(took)) / 8
        };
        self.reference.store(after.max(1), Ordering::Relaxed);
    }

    /// Whether `stored` may be stored as a user's hash as it is (an import):
    /// Django's marker of an unusable password (`!`, which never matches),
    /// or a hash of one of Django's hashers whose cost a login can afford
    /// (PBKDF2: at most [`Self::max_imported_iterations`]; every login of
    /// that user would hold a hashing slot that long, and a few would take
    /// them all).
    pub fn accepts(&self, stored: &str) -> Result<(), HashRefusal> {
        if stored.starts_with(UNUSABLE_PREFIX) {
            return Ok(());
        }
        match stored::read(stored) {
            Err(Unreadable::Unknown(_)) => Err(HashRefusal::Unknown),
            Err(Unreadable::TooCostly) => Err(HashRefusal::TooCostly),
            Ok(Stored::Pbkdf2 { iterations, .. })
                if iterations.get() > self.max_imported_iterations() =>
            {
                Err(HashRefusal::TooManyIterations {
                    max: self.max_imported_iterations(),
                })
            }
            Ok(_) => Ok(()),
        }
    }

    /// Twice the configured PBKDF2 iterations, and at least 2,000,000 (twice
    /// Django 5.2's count).
    pub fn max_imported_iterations(&self) -> u32 {
        match self.scheme {
            Scheme::Pbkdf2Sha256 { iterations } => {
                iterations.get().saturating_mul(2).max(2_000_000)
            }
            Scheme::Argon2id { .. } => 2_000_000,
        }
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

fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// PBKDF2-SHA256 work on a throwaway salt, for its time.
fn run_pbkdf2(password: &Password, iterations: NonZeroU32) {
    let mut derived = [0u8; HASH_LENGTH];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        b"latchkeyhardensalt0000",
        password.as_bytes(),
        &mut derived,
    );
}

fn derive_argon2(params: Option<&Argon2Params>, password: &[u8], salt: &[u8]) -> [u8; HASH_LENGTH] {
    let mut derived = [0u8; HASH_LENGTH];
    if let Some(params) = params
        && let Some(argon2_params) = stored::argon2_params(params, HASH_LENGTH)
    {
        let hasher = argon2::Argon2::new(params.variant, params.version, argon2_params);
        // Only a salt shorter than 8 bytes or a password over 4 GiB fail.
        let _ = hasher.hash_password_into(password, salt, &mut derived);
    }
    derived
}

/// Logs each unknown hash format once: a table imported from elsewhere may
/// hold many, and each login of theirs would otherwise log.
fn note_unreadable(unreadable: &Unreadable) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let name = match unreadable {
        Unreadable::Unknown(name) => name.as_str(),
        Unreadable::TooCostly => "(too costly)",
    };
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.len() < 64 && seen.insert(name.to_owned()) {
        tracing::warn!(
            format = name,
            "a stored password hash is in a format no Django hasher writes (or asks too much): it never matches"
        );
    }
}

fn encode_pbkdf2(iterations: NonZeroU32, salt: &str, derived: &[u8]) -> String {
    format!(
        "pbkdf2_sha256${iterations}${salt}${}",
        STANDARD.encode(derived)
    )
}

/// Django's `argon2$` followed by argon2's own encoding.
fn encode_argon2(params: Option<&Argon2Params>, salt: &[u8], derived: &[u8]) -> String {
    let (m, t, p) = params.map_or((0, 0, 0), |params| {
        (params.memory_kib, params.time_cost, params.parallelism)
    });
    format!(
        "argon2$argon2id$v=19$m={m},t={t},p={p}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(derived)
    )
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
            Err(HashRefusal::TooManyIterations { max: 2_000_000 })
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
        let stored = encode_pbkdf2(NonZeroU32::MIN, "salt", &bytes);
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
        assert_eq!(
            current.verify(&password("s3cret"), &old),
            Verification::MatchNeedsUpgrade
        );
        let new_hash = current.hash(&password("s3cret"));
        assert!(new_hash.starts_with("pbkdf2_sha256$1000$"));
        assert_eq!(
            current.verify(&password("s3cret"), &new_hash),
            Verification::Match
        );
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
    fn other_hashers_match_and_are_rehashed_into_the_configured_scheme() {
        let pbkdf2 = PasswordHasher::new(1000);
        let bcrypt = "bcrypt$$2b$04$/pwPashT6MNqA9Q6MaHm2ODkRGrDHwAx8Zd/9gbph6qALiVaF57We";
        assert_eq!(
            pbkdf2.verify(&password("pässwörd 1"), bcrypt),
            Verification::MatchNeedsUpgrade
        );
        let rehashed = pbkdf2.hash(&password("pässwörd 1"));
        assert!(rehashed.starts_with("pbkdf2_sha256$1000$"), "{rehashed}");
        assert_eq!(
            pbkdf2.verify(&password("pässwörd 1"), &rehashed),
            Verification::Match
        );
        assert_eq!(
            pbkdf2.verify(&password("wrong"), bcrypt),
            Verification::Mismatch
        );

        let scheme = Scheme::Argon2id {
            memory_kib: 1024,
            time_cost: 1,
            parallelism: 1,
        };
        let argon2 = PasswordHasher::with_scheme(scheme);
        let made = argon2.hash(&password("pw"));
        assert!(
            made.starts_with("argon2$argon2id$v=19$m=1024,t=1,p=1$"),
            "{made}"
        );
        assert_eq!(argon2.verify(&password("pw"), &made), Verification::Match);
        assert_eq!(
            argon2.verify(&password("px"), &made),
            Verification::Mismatch
        );
        // Other parameters, or another hasher: rehashed with these.
        let heavier = PasswordHasher::with_scheme(Scheme::Argon2id {
            memory_kib: 2048,
            time_cost: 1,
            parallelism: 1,
        });
        assert_eq!(
            heavier.verify(&password("pw"), &made),
            Verification::MatchNeedsUpgrade
        );
        assert!(
            heavier
                .hash(&password("pw"))
                .starts_with("argon2$argon2id$v=19$m=2048,t=1,p=1$")
        );
        assert_eq!(
            argon2.verify(&password("pw"), &pbkdf2.hash(&password("pw"))),
            Verification::MatchNeedsUpgrade
        );
        // An unknown user costs an argon2 check; the dummy never matches.
        argon2.burn(&password("pw"));
    }

    #[test]
    fn a_cheaper_hash_of_another_hasher_is_topped_up_with_configured_work() {
        let hasher = PasswordHasher::new(100_000);
        let md5 = "md5$$ce74b892da441b00f4b61523872bc6b4";
        // The first check also measures what a configured check takes.
        let mut first = 0;
        let _ = hasher.verify_counting(&password("wrong"), md5, &mut first);
        assert!(first >= 100_000, "{first}");
        // Later ones run PBKDF2 until they have taken that long: an MD5 alone
        // takes microseconds, so most of a configured check's work is added.
        let mut later = 0;
        let outcome = hasher.verify_counting(&password("pässwörd 1"), md5, &mut later);
        assert_eq!(outcome, Verification::MatchNeedsUpgrade);
        assert!(later >= 10_000, "{later}");
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(format!("{:?}", password("hunter2")), "Password(<redacted>)");
    }
}

//! Django's stored password formats, read and checked, one per hasher in
//! `django.contrib.auth.hashers`: `pbkdf2_sha256` and `pbkdf2_sha1`
//! (aws-lc-rs), `argon2` (RustCrypto's argon2: the `argon2id` form and the
//! older `argon2i`, with or without `v=`), `bcrypt_sha256` and `bcrypt` (the
//! bcrypt crate), `scrypt` (RustCrypto's scrypt) and salted `md5` (RustCrypto's
//! md-5, accepted only so its users can log in once and be rehashed).
//! Every comparison of derived bytes is constant-time.

use std::num::NonZeroU32;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::pbkdf2;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use md5::Digest;

// What a stored hash may ask of one check, about four times Django 5.2's
// defaults: a row that asks more is refused rather than run, since every
// login attempt of that username (anyone's to make) would hold a hashing
// slot and the memory that long.
/// Argon2: memory in KiB, and memory times passes (Django: 102400 x 2).
const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_WORK: u64 = 4 * 102_400 * 2;
const MAX_ARGON2_TIME_COST: u32 = 16;
const MAX_PARALLELISM: u32 = 64;
/// bcrypt's cost is a power of two: Django's is 12.
const MAX_BCRYPT_COST: u32 = 14;
/// scrypt: bytes of memory (`128 r (N + p)`) and `N r p` (Django: 16384, 8, 5).
const MAX_SCRYPT_MEMORY_BYTES: u64 = 256 << 20;
const MAX_SCRYPT_WORK: u64 = 4 * 16_384 * 8 * 5;
const MAX_SCRYPT_PARALLELISM: u32 = 16;

/// A hash as Django stores it, read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Stored<'a> {
    Pbkdf2 {
        digest: Pbkdf2Digest,
        iterations: NonZeroU32,
        salt: &'a str,
        hash: Vec<u8>,
    },
    Argon2 {
        params: Argon2Params,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Bcrypt {
        /// `bcrypt_sha256`: the password's SHA-256, in hex, is what bcrypt saw.
        prehashed: bool,
        /// The bcrypt string itself (`$2b$12$...`).
        encoded: &'a str,
    },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: &'a str,
        hash: Vec<u8>,
    },
    Md5 {
        salt: &'a str,
        hex: &'a str,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pbkdf2Digest {
    Sha256,
    Sha1,
}

impl Pbkdf2Digest {
    fn algorithm(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
        }
    }

    /// Django's `dklen`: the digest's size.
    fn length(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha1 => 20,
        }
    }
}

/// Argon2's parameters as a stored hash names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    pub variant: argon2::Algorithm,
    pub version: argon2::Version,
    pub memory_kib: u32,
    pub time_cost: u32,
    pub parallelism: u32,
}

/// Why a stored hash is never checked.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unreadable {
    /// No Django hasher writes this (or it is malformed); the name is the
    /// part before the first `$`, for the log.
    Unknown(String),
    /// It asks more of one check than is allowed.
    TooCostly,
}

/// Reads a stored hash by its algorithm prefix, as Django's
/// `identify_hasher` does.
pub(super) fn read(stored: &str) -> Result<Stored<'_>, Unreadable> {
    let (algorithm, rest) = stored.split_once('$').unwrap_or((stored, ""));
    // Only a name a hasher could have is named (in logs): a row that is a
    // bare digest or a plain password must not be written out.
    let named = stored.contains('$')
        && (1..=32).contains(&algorithm.len())
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let unknown = || {
        Unreadable::Unknown(if named {
            algorithm.to_owned()
        } else {
            "(unrecognized)".to_owned()
        })
    };
    let read = match algorithm {
        "pbkdf2_sha256" => read_pbkdf2(Pbkdf2Digest::Sha256, rest),
        "pbkdf2_sha1" => read_pbkdf2(Pbkdf2Digest::Sha1, rest),
        "argon2" => return read_argon2(rest).map_err(|refusal| refusal.unwrap_or_else(unknown)),
        "bcrypt_sha256" => read_bcrypt(true, rest),
        "bcrypt" => read_bcrypt(false, rest),
        "scrypt" => return read_scrypt(rest).map_err(|refusal| refusal.unwrap_or_else(unknown)),
        "md5" => read_md5(rest),
        _ => None,
    };
    match read {
        Some(Ok(hash)) => Ok(hash),
        Some(Err(refusal)) => Err(refusal),
        None => Err(unknown()),
    }
}

type Reading<'a> = Option<Result<Stored<'a>, Unreadable>>;

fn read_pbkdf2(digest: Pbkdf2Digest, rest: &str) -> Reading<'_> {
    let mut parts = rest.split('$');
    let (iterations, salt, hash) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || salt.is_empty() {
        return None;
    }
    let count = iterations.parse::<NonZeroU32>().ok()?;
    // Django compares what it would write: no sign, no leading zeros.
    if count.to_string() != iterations {
        return None;
    }
    let iterations = count;
    let hash = STANDARD.decode(hash).ok()?;
    // A shorter hash would compare only its few bytes, and match a guess
    // too easily.
    (hash.len() == digest.length()).then_some(Ok(Stored::Pbkdf2 {
        digest,
        iterations,
        salt,
        hash,
    }))
}

/// `argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>`, or the older
/// `argon2i$m=512,t=2,p=2$<salt>$<hash>` (no `v=`: version 1.0), salt and
/// hash in unpadded base64. `Err(None)`: not one of these.
fn read_argon2(rest: &str) -> Result<Stored<'_>, Option<Unreadable>> {
    let parts: Vec<&str> = rest.split('$').collect();
    let (variant, version, params, salt, hash) = match parts.as_slice() {
        [variant, version, params, salt, hash] => (*variant, Some(*version), *params, *salt, *hash),
        [variant, params, salt, hash] => (*variant, None, *params, *salt, *hash),
        _ => return Err(None),
    };
    let variant = match variant {
        "argon2id" => argon2::Algorithm::Argon2id,
        "argon2i" => argon2::Algorithm::Argon2i,
        "argon2d" => argon2::Algorithm::Argon2d,
        _ => return Err(None),
    };
    let version = match version {
        None => argon2::Version::V0x10,
        Some("v=19") => argon2::Version::V0x13,
        Some("v=16") => argon2::Version::V0x10,
        Some(_) => return Err(None),
    };
    let (mut memory_kib, mut time_cost, mut parallelism) = (None, None, None);
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=').ok_or(None)?;
        let value = value.parse::<u32>().map_err(|_| None)?;
        match name {
            "m" => memory_kib = Some(value),
            "t" => time_cost = Some(value),
            "p" => parallelism = Some(value),
            _ => return Err(None),
        }
    }
    let params = Argon2Params {
        variant,
        version,
        memory_kib: memory_kib.ok_or(None)?,
        time_cost: time_cost.ok_or(None)?,
        parallelism: parallelism.ok_or(None)?,
    };
    let salt = STANDARD_NO_PAD.decode(salt).map_err(|_| None)?;
    let hash = STANDARD_NO_PAD.decode(hash).map_err(|_| None)?;
    if hash.len() < 16 || argon2_params(&params, hash.len()).is_none() {
        return Err(None);
    }
    if params.memory_kib > MAX_ARGON2_MEMORY_KIB
        || u64::from(params.memory_kib) * u64::from(params.time_cost) > MAX_ARGON2_WORK
        || params.time_cost > MAX_ARGON2_TIME_COST
        || params.parallelism > MAX_PARALLELISM
    {
        return Err(Some(Unreadable::TooCostly));
    }
    Ok(Stored::Argon2 { params, salt, hash })
}

pub(super) fn argon2_params(params: &Argon2Params, length: usize) -> Option<argon2::Params> {
    argon2::Params::new(
        params.memory_kib,
        params.time_cost,
        params.parallelism,
        Some(length),
    )
    .ok()
}

/// `$2b$12$<22 salt><31 hash>`, the bcrypt string itself, after the
/// algorithm's name and `$` (so `bcrypt$$2b$...`).
fn read_bcrypt(prehashed: bool, rest: &str) -> Reading<'_> {
    let encoded = rest;
    let mut parts = encoded.split('$');
    let (empty, variant, cost, body) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if !empty.is_empty()
        || parts.next().is_some()
        || !matches!(variant, "2a" | "2b" | "2y")
        || body.len() != 53
    {
        return None;
    }
    // Two digits, from bcrypt's smallest cost.
    let cost = cost
        .parse::<u32>()
        .ok()
        .filter(|value| cost.len() == 2 && *value >= 4)?;
    if cost > MAX_BCRYPT_COST {
        return Some(Err(Unreadable::TooCostly));
    }
    Some(Ok(Stored::Bcrypt { prehashed, encoded }))
}

/// `<N>$<salt>$<r>$<p>$<hash>` (Django's `ScryptPasswordHasher`, 64 bytes).
fn read_scrypt(rest: &str) -> Result<Stored<'_>, Option<Unreadable>> {
    let parts: Vec<&str> = rest.split('$').collect();
    let [n, salt, r, p, hash] = parts.as_slice() else {
        return Err(None);
    };
    let n = n.parse::<u64>().map_err(|_| None)?;
    let r = r.parse::<u32>().map_err(|_| None)?;
    let p = p.parse::<u32>().map_err(|_| None)?;
    let hash = STANDARD.decode(hash).map_err(|_| None)?;
    if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 || salt.is_empty() || hash.len() != 64 {
        return Err(None);
    }
    // scrypt holds 128 r N bytes, and 128 r p more up front.
    let memory = n
        .checked_add(u64::from(p))
        .and_then(|blocks| blocks.checked_mul(128 * u64::from(r)));
    let work = n
        .checked_mul(u64::from(r))
        .and_then(|work| work.checked_mul(u64::from(p)));
    let affordable = memory.is_some_and(|bytes| bytes <= MAX_SCRYPT_MEMORY_BYTES)
        && work.is_some_and(|work| work <= MAX_SCRYPT_WORK)
        && p <= MAX_SCRYPT_PARALLELISM;
    if !affordable {
        return Err(Some(Unreadable::TooCostly));
    }
    Ok(Stored::Scrypt {
        log_n: u8::try_from(n.trailing_zeros()).map_err(|_| None)?,
        r,
        p,
        salt,
        hash,
    })
}

/// `<salt>$<32 hex>` (Django's `MD5PasswordHasher`; an empty salt is the
/// `md5$$<hex>` form Django's older `UnsaltedMD5PasswordHasher` wrote).
fn read_md5(rest: &str) -> Reading<'_> {
    let (salt, hex) = rest.split_once('$')?;
    let lowercase_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    (hex.len() == 32 && hex.bytes().all(lowercase_hex) && !salt.contains('$'))
        .then_some(Ok(Stored::Md5 { salt, hex }))
}

impl Stored<'_> {
    /// Django's name of the hasher that wrote it.
    pub(super) fn algorithm(&self) -> &'static str {
        match self {
            Self::Pbkdf2 {
                digest: Pbkdf2Digest::Sha256,
                ..
            } => "pbkdf2_sha256",
            Self::Pbkdf2 {
                digest: Pbkdf2Digest::Sha1,
                ..
            } => "pbkdf2_sha1",
            Self::Argon2 { .. } => "argon2",
            Self::Bcrypt {
                prehashed: true, ..
            } => "bcrypt_sha256",
            Self::Bcrypt {
                prehashed: false, ..
            } => "bcrypt",
            Self::Scrypt { .. } => "scrypt",
            Self::Md5 { .. } => "md5",
        }
    }

    /// Whether `password` is the one this hash was made from.
    pub(super) fn matches(&self, password: &[u8]) -> bool {
        match self {
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => pbkdf2::verify(
                digest.algorithm(),
                *iterations,
                salt.as_bytes(),
                password,
                hash,
            )
            .is_ok(),
            Self::Argon2 { params, salt, hash } => {
                let Some(argon2_params) = argon2_params(params, hash.len()) else {
                    return false;
                };
                let hasher = argon2::Argon2::new(params.variant, params.version, argon2_params);
                let mut derived = vec![0u8; hash.len()];
                hasher
                    .hash_password_into(password, salt, &mut derived)
                    .is_ok()
                    && verify_slices_are_equal(&derived, hash).is_ok()
            }
            Self::Bcrypt { prehashed, encoded } => {
                let prehash;
                let input = if *prehashed {
                    prehash = hex(digest(&SHA256, password).as_ref());
                    prehash.as_bytes()
                } else {
                    password
                };
                // Django (with bcrypt 5) refuses a password bcrypt would cut
                // at 72 bytes rather than compare its first 72.
                input.len() <= 72 && bcrypt::verify(input, encoded).unwrap_or(false)
            }
            Self::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => {
                let Ok(params) = scrypt::Params::new(*log_n, *r, *p, hash.len()) else {
                    return false;
                };
                let mut derived = vec![0u8; hash.len()];
                scrypt::scrypt(password, salt.as_bytes(), &params, &mut derived).is_ok()
                    && verify_slices_are_equal(&derived, hash).is_ok()
            }
            Self::Md5 { salt, hex: stored } => {
                let mut md5 = md5::Md5::new();
                md5.update(salt.as_bytes());
                md5.update(password);
                let computed = hex(&md5.finalize());
                verify_slices_are_equal(computed.as_bytes(), stored.as_bytes()).is_ok()
            }
        }
    }
}

/// Lowercase hex, as Python's `hexdigest()` writes it.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &[u8] = "pässwörd 1".as_bytes();

    /// Made by Django 5.2's own `make_password` (argon2-cffi 25.1, bcrypt
    /// 5.0), with cheap parameters; the two argon2i forms by argon2-cffi
    /// (version 1.0, with and without `v=`); `md5$$` as Django's older
    /// `UnsaltedMD5PasswordHasher` wrote it.
    const DJANGO_MADE: [(&str, &str); 10] = [
        (
            "pbkdf2_sha256",
            "pbkdf2_sha256$1000$8l545lyilHS47btonEWyGv$O5/l8oPVVikDeuU1pvnrU9jlboD6KgHnQQd+FazxOKY=",
        ),
        (
            "pbkdf2_sha1",
            "pbkdf2_sha1$1000$hClNumroDbtZ2jQF7IfDUL$ZPlkOYUOr4UmnGUwDzv/e5E4FKM=",
        ),
        (
            "argon2",
            "argon2$argon2id$v=19$m=1024,t=1,p=1$cG5CdHdHcDdqMVExQkRPcWhVYWVMNA$m5FyB6hmhchRS7RZokx3HKvKXqjWZnBjkEtHyPZVND4",
        ),
        (
            "argon2",
            "argon2$argon2i$v=16$m=512,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$N+eP+W7mN8zRM5rTiqUhtQ",
        ),
        (
            "argon2",
            "argon2$argon2i$m=512,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$N+eP+W7mN8zRM5rTiqUhtQ",
        ),
        (
            "bcrypt_sha256",
            "bcrypt_sha256$$2b$04$sFwVZvDCt13Wri6oDV.3cupNMLEIpuAzPCkufnmW7uDfM9oFqwGQS",
        ),
        (
            "bcrypt",
            "bcrypt$$2b$04$/pwPashT6MNqA9Q6MaHm2ODkRGrDHwAx8Zd/9gbph6qALiVaF57We",
        ),
        (
            "scrypt",
            "scrypt$1024$8wlmImRHlq9FV1iz4tBj1v$8$5$A+VUnjJ937Mh+XJA2dStQ1e3U/nxCBi2q3DHqiqSa14yd5PuDsnZOtYl6XTqgBzzAejOSf2p21ANt/ZPfM2dWQ==",
        ),
        (
            "md5",
            "md5$p0zdZ1nmxpK0beL6M1osNf$81381a44fb24997eebbbfc149e1512b9",
        ),
        ("md5", "md5$$ce74b892da441b00f4b61523872bc6b4"),
    ];

    #[test]
    fn every_django_hasher_is_read_and_checked() {
        for (algorithm, stored) in DJANGO_MADE {
            let hash = read(stored).unwrap_or_else(|e| panic!("{stored}: {e:?}"));
            assert_eq!(hash.algorithm(), algorithm, "{stored}");
            assert!(hash.matches(PASSWORD), "{stored}");
            assert!(!hash.matches("pässwörd 2".as_bytes()), "{stored}");
            assert!(!hash.matches(b""), "{stored}");
        }
    }

    #[test]
    fn a_password_bcrypt_would_cut_never_matches_and_unknown_rows_are_not_logged_whole() {
        let long = "x".repeat(73);
        let made = bcrypt::hash_with_result(&long[..72], 4)
            .expect("hashes")
            .format_for_version(bcrypt::Version::TwoB);
        let stored = format!("bcrypt${made}");
        let hash = read(&stored).expect("reads");
        assert!(hash.matches(&long.as_bytes()[..72]));
        assert!(!hash.matches(long.as_bytes()));
        assert_eq!(
            read("5f4dcc3b5aa765d61d8327deb882cf99"),
            Err(Unreadable::Unknown("(unrecognized)".to_owned()))
        );
        assert_eq!(
            read("hunter2"),
            Err(Unreadable::Unknown("(unrecognized)".to_owned()))
        );
        assert_eq!(
            read("sha1$salt$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"),
            Err(Unreadable::Unknown("sha1".to_owned()))
        );
    }

    #[test]
    fn unknown_malformed_and_too_costly_hashes_are_never_checked() {
        for unknown in [
            "",
            "plain",
            "sha1$salt$0123",
            "crypt$$abc",
            "pbkdf2_sha256$1000$salt$AA==",
            "argon2$argon2x$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "argon2$argon2id$v=19$m=8,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "bcrypt$$2b$04$short",
            "bcrypt$2b$04$/pwPashT6MNqA9Q6MaHm2ODkRGrDHwAx8Zd/9gbph6qALiVaF57We",
            "scrypt$1000$salt$8$1$AA==",
            "md5$salt$nothex",
            "md5$salt$81381A44FB24997EEBBBFC149E1512B9",
            "pbkdf2_sha256$01000$8l545lyilHS47btonEWyGv$O5/l8oPVVikDeuU1pvnrU9jlboD6KgHnQQd+FazxOKY=",
            "pbkdf2_sha256$+1000$8l545lyilHS47btonEWyGv$O5/l8oPVVikDeuU1pvnrU9jlboD6KgHnQQd+FazxOKY=",
            "bcrypt$$2b$4$/pwPashT6MNqA9Q6MaHm2ODkRGrDHwAx8Zd/9gbph6qALiVaF57We",
            "bcrypt$$2b$03$/pwPashT6MNqA9Q6MaHm2ODkRGrDHwAx8Zd/9gbph6qALiVaF57We",
        ] {
            assert!(
                matches!(read(unknown), Err(Unreadable::Unknown(_))),
                "{unknown}: {:?}",
                read(unknown)
            );
        }
        let digest = "A".repeat(86) + "==";
        for costly in [
            "argon2$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA"
                .to_owned(),
            "bcrypt$$2b$31$/pwPashT6MNqA9Q6MaHm2ODkRGrDHwAx8Zd/9gbph6qALiVaF57We".to_owned(),
            format!("scrypt$1048576$salt$16$1${digest}"),
        ] {
            assert_eq!(read(&costly), Err(Unreadable::TooCostly), "{costly}");
        }
    }
}

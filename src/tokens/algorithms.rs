//! The signing algorithms latchkey knows, by their JOSE names, and the key
//! sizes it accepts for them.

use jsonwebtoken::Algorithm;

/// Smallest HMAC secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// RSA keys shorter than this are refused (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// Every algorithm a key can have, by its JOSE name.
pub const ALGORITHMS: [(&str, Algorithm); 12] = [
    ("HS256", Algorithm::HS256),
    ("HS384", Algorithm::HS384),
    ("HS512", Algorithm::HS512),
    ("EdDSA", Algorithm::EdDSA),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
];

pub const ALGORITHM_NAMES: [&str; 12] = {
    let mut names = [""; 12];
    let mut i = 0;
    while i < ALGORITHMS.len() {
        names[i] = ALGORITHMS[i].0;
        i += 1;
    }
    names
};

/// The algorithm a JOSE name stands for, matched exactly ("none" is not one).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    ALGORITHMS
        .iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, algorithm)| *algorithm)
}

/// The JOSE name of an algorithm.
pub fn algorithm_name(algorithm: Algorithm) -> &'static str {
    ALGORITHMS
        .iter()
        .find(|(_, candidate)| *candidate == algorithm)
        .map_or("", |(name, _)| name)
}

/// Whether `algorithm` signs with a shared secret.
pub fn is_hmac(algorithm: Algorithm) -> bool {
    use Algorithm::{HS256, HS384, HS512};
    matches!(algorithm, HS256 | HS384 | HS512)
}

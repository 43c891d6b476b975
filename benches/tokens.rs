//! Cost of issuing and checking tokens, per operation, for the hot paths
//! (verify, Bearer authentication, refresh), for each kind of key.
//! Run: `cargo bench --bench tokens`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use latchkey::settings::Settings;
use latchkey::tokens::keys::{self, LoadedKey};
use latchkey::tokens::{KeySet, TokenService, TokenType, algorithm_name};
use serde_json::Map;

/// Each sample runs about this long; the median of five is reported.
const SAMPLE: Duration = Duration::from_millis(300);

fn per_op(label: &str, mut operation: impl FnMut()) {
    // Calibrate: how many operations fill one sample.
    let started = Instant::now();
    let mut calibration = 0u32;
    while started.elapsed() < SAMPLE / 10 {
        operation();
        calibration += 1;
    }
    let operations = calibration * 10;
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..operations {
            operation();
        }
        samples.push(started.elapsed().as_secs_f64() * 1e9 / f64::from(operations));
    }
    samples.sort_by(f64::total_cmp);
    println!("{label:<36} median {:>9.0} ns/op", samples[2]);
}

fn key_set(algorithm: Algorithm) -> KeySet {
    if algorithm == Algorithm::HS256 {
        return KeySet::hmac(
            b"benchmark-secret-benchmark-secret-benchmark",
            algorithm,
            None,
        )
        .expect("keys");
    }
    let generated = keys::generate(algorithm).expect("generated");
    let key =
        LoadedKey::from_pem(generated.kid, algorithm, generated.pem.as_bytes()).expect("loaded");
    KeySet::new(vec![key], 0, None).expect("keys")
}

/// Two services over the same keys: one with the verified-token cache, one
/// without (every decode checks the signature).
fn services(settings: &Settings, algorithm: Algorithm) -> (TokenService, TokenService) {
    let keys = key_set(algorithm);
    let mut uncached = settings.jwt.clone();
    uncached.verified_token_cache_capacity = 0;
    (
        TokenService::new(
            settings.jwt.token_rules(&settings.sliding),
            keys.clone(),
            Default::default(),
        ),
        TokenService::new(
            uncached.token_rules(&settings.sliding),
            keys,
            Default::default(),
        ),
    )
}

fn main() {
    let settings = Settings::defaults();
    for algorithm in [
        Algorithm::HS256,
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
    ] {
        let name = algorithm_name(algorithm);
        let (service, uncached) = services(&settings, algorithm);
        let now = chrono::Utc::now();
        let (refresh, access) = service.issue_pair(
            1,
            "session",
            &service.stamp(TokenType::Refresh, now),
            now,
            &Map::new(),
        );
        let validated = service.decode(&refresh.token).expect("valid");

        per_op(&format!("issue pair ({name})"), || {
            let now = chrono::Utc::now();
            let stamp = service.stamp(TokenType::Refresh, now);
            black_box(service.issue_pair(black_box(1), "session", &stamp, now, &Map::new()));
        });
        per_op(&format!("issue from refresh ({name})"), || {
            let stamp = service.stamp(TokenType::Access, chrono::Utc::now());
            black_box(service.issue_from(
                TokenType::Access,
                &validated,
                "session",
                &stamp,
                &Map::new(),
            ));
        });
        per_op(&format!("decode access, uncached ({name})"), || {
            black_box(
                uncached
                    .decode_as(black_box(&access.token), TokenType::Access)
                    .expect("valid"),
            );
        });
        per_op(&format!("decode access, cached ({name})"), || {
            black_box(
                service
                    .decode_as(black_box(&access.token), TokenType::Access)
                    .expect("valid"),
            );
        });
    }
}

//! Cost of issuing and checking tokens, per operation, for the hot paths
//! (verify, Bearer authentication, refresh). Run: `cargo bench --bench tokens`.

use std::hint::black_box;
use std::time::Instant;

use latchkey::settings::Settings;
use latchkey::tokens::{KeySet, TokenService, TokenType};

const OPERATIONS: u32 = 200_000;

fn per_op(label: &str, mut operation: impl FnMut()) {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..OPERATIONS {
            operation();
        }
        samples.push(started.elapsed().as_secs_f64() * 1e9 / f64::from(OPERATIONS));
    }
    samples.sort_by(f64::total_cmp);
    println!("{label:<32} median {:>7.0} ns/op", samples[2]);
}

fn main() {
    let settings = Settings::defaults();
    let keys = KeySet::hmac(
        b"benchmark-secret-benchmark-secret-benchmark",
        jsonwebtoken::Algorithm::HS256,
        None,
    )
    .expect("keys");
    let service = TokenService::new(&settings.jwt, keys);
    let mut uncached_settings = settings.jwt.clone();
    uncached_settings.verified_token_cache_capacity = 0;
    let uncached = TokenService::new(
        &uncached_settings,
        KeySet::hmac(
            b"benchmark-secret-benchmark-secret-benchmark",
            jsonwebtoken::Algorithm::HS256,
            None,
        )
        .expect("keys"),
    );
    let now = chrono::Utc::now();
    let (refresh, access) =
        service.issue_pair(1, "session", &service.stamp(TokenType::Refresh, now), now);
    let validated = service.decode(&refresh.token).expect("valid");

    per_op("issue pair (HS256)", || {
        let now = chrono::Utc::now();
        let stamp = service.stamp(TokenType::Refresh, now);
        black_box(service.issue_pair(black_box(1), "session", &stamp, now));
    });
    per_op("issue from refresh (HS256)", || {
        let stamp = service.stamp(TokenType::Access, chrono::Utc::now());
        black_box(service.issue_from(TokenType::Access, &validated, "session", &stamp));
    });
    per_op("decode access, uncached (HS256)", || {
        black_box(
            uncached
                .decode_as(black_box(&access.token), TokenType::Access)
                .expect("valid"),
        );
    });
    per_op("decode access, cached (HS256)", || {
        black_box(
            service
                .decode_as(black_box(&access.token), TokenType::Access)
                .expect("valid"),
        );
    });
}

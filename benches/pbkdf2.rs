//! Compares the PBKDF2-HMAC-SHA256 implementations available to latchkey at
//! Django's default cost, so the password module can use the fastest one.
//!
//! Run with `cargo bench --bench pbkdf2`. Each candidate derives the same key
//! (checked below), and the samples are interleaved so machine noise hits all
//! of them alike.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

const ITERATIONS: u32 = 1_000_000;
const SAMPLES: usize = 9;
const PASSWORD: &[u8] = b"correct horse battery staple";
const SALT: &[u8] = b"tZZ0v1hWlqLqbnCNyv4Y9h";

type Derive = fn(&mut [u8; 32]);

fn with_ring(out: &mut [u8; 32]) {
    let iterations = NonZeroU32::new(ITERATIONS).expect("non-zero");
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        SALT,
        PASSWORD,
        out,
    );
}

fn with_aws_lc(out: &mut [u8; 32]) {
    let iterations = NonZeroU32::new(ITERATIONS).expect("non-zero");
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        SALT,
        PASSWORD,
        out,
    );
}

fn with_rustcrypto(out: &mut [u8; 32]) {
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(PASSWORD, SALT, ITERATIONS, out);
}

fn main() {
    let candidates: [(&str, Derive); 3] = [
        ("ring 0.17", with_ring),
        ("aws-lc-rs", with_aws_lc),
        ("pbkdf2 + sha2 (RustCrypto)", with_rustcrypto),
    ];

    let mut reference = [0u8; 32];
    with_ring(&mut reference);
    let mut timings: Vec<Vec<Duration>> = vec![Vec::new(); candidates.len()];
    for _ in 0..SAMPLES {
        for (index, (name, derive)) in candidates.iter().enumerate() {
            let mut out = [0u8; 32];
            let started = Instant::now();
            derive(&mut out);
            timings[index].push(started.elapsed());
            assert_eq!(out, reference, "{name} derived a different key");
        }
    }

    println!("PBKDF2-HMAC-SHA256, {ITERATIONS} iterations, {SAMPLES} interleaved samples");
    let baseline = median(&mut timings[0]);
    for ((name, _), samples) in candidates.iter().zip(timings.iter_mut()) {
        let median = median(samples);
        println!(
            "{name:<28} median {:>7.1} ms   ({:.2}x ring)",
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "aws-lc-rs on {cores} cores at once: {:.1} hashes/s",
        parallel_throughput(cores)
    );
}

/// Hashes per second with one aws-lc-rs derivation running on every core at
/// once: what login throughput can reach, as opposed to cores / one hash.
fn parallel_throughput(cores: usize) -> f64 {
    const PER_THREAD: usize = 6;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                for _ in 0..PER_THREAD {
                    let mut out = [0u8; 32];
                    with_aws_lc(&mut out);
                }
            });
        }
    });
    (cores * PER_THREAD) as f64 / started.elapsed().as_secs_f64()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

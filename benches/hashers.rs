//! What a login costs per Django hasher at Django 5.2's default parameters:
//! one password check through latchkey's `PasswordHasher::verify`, as a
//! login runs it (on the hashing pool), for a hash each hasher wrote
//! (Django's own `make_password`). With the configured hasher the
//! PBKDF2-SHA256 default, a hash of another hasher is checked and then
//! topped up to the configured check's time (so its first login costs at
//! least a PBKDF2 login), then rehashed; Argon2id is also measured as the
//! configured hasher (`passwords.hasher = "argon2"`).
//!
//! The wrong-password column is what an attacker guessing times: it should
//! not be below the unknown user's.
//!
//! Run with `cargo bench --bench hashers`. Samples are interleaved so
//! machine noise hits every hasher alike; each figure is the median of
//! `SAMPLES`. Logins per second are what the hashing pool can do on this
//! machine's cores, one check per core at a time.

use std::time::{Duration, Instant};

use latchkey::passwords::{Password, PasswordHasher, Scheme, Verification};

const SAMPLES: usize = 7;
const PASSWORD: &str = "correct horse battery staple";

/// Made by Django 5.2.19's `make_password`, each hasher at its defaults.
const DJANGO_MADE: [(&str, &str); 7] = [
    (
        "pbkdf2_sha256 (1,000,000)",
        "pbkdf2_sha256$1000000$AG7jf7E77PAY7i1eu58v2E$SZ4qHTXCnpHu8ordBUgvf1IuvtBfaCBM7toQX9Wvvv4=",
    ),
    (
        "pbkdf2_sha1 (1,000,000)",
        "pbkdf2_sha1$1000000$ZCQK0i0gDsYBULR9w8wuEB$IsZUilO3bk+iecMIecTW1UD/4pM=",
    ),
    (
        "argon2 (argon2id, 100 MiB, t=2, p=8)",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$cEpReEM3cFBuQ3BVV3IzQnZ3bHBxTQ$Fsia+Iy9StyryzSpUu4HRXCTN0CvM7R8bKNVfLbwZac",
    ),
    (
        "bcrypt_sha256 (cost 12)",
        "bcrypt_sha256$$2b$12$hl45ZebrY8MxUaI.iG4Dr.EeCN7aC4a5T9j6euviyciVVGOcrYASG",
    ),
    (
        "bcrypt (cost 12)",
        "bcrypt$$2b$12$DuAIzrT1ua0Bh1LJAf09lujX2avmE6F1oqJsi0o03n.Y.YLpSQpzi",
    ),
    (
        "scrypt (N=16384, r=8, p=5)",
        "scrypt$16384$CVDuYdBdQ86tI6RBe6dfBO$8$5$JZhXeZ8DKKHAQxZpyzsgbAXj3OLn3qRKzorG+t7kCFnMh1apYtxhyuFADN1J0riHX3nfcFGAVdXjCD6OJVqRkQ==",
    ),
    (
        "md5 (salted)",
        "md5$ulgY7kxqfDbRnyHKjNLFB2$a126747c31329ab98ea6f0f566757c0d",
    ),
];

struct Case {
    name: String,
    hasher: PasswordHasher,
    stored: String,
}

fn main() {
    let pbkdf2 = PasswordHasher::new(1_000_000);
    let argon2 = PasswordHasher::with_scheme(Scheme::Argon2id {
        memory_kib: 102_400,
        time_cost: 2,
        parallelism: 8,
    });
    let password = Password::new(PASSWORD.to_owned());
    let mut cases: Vec<Case> = DJANGO_MADE
        .iter()
        .map(|(name, stored)| Case {
            name: format!("{name}, configured pbkdf2_sha256"),
            hasher: pbkdf2.clone(),
            stored: (*stored).to_owned(),
        })
        .collect();
    cases.push(Case {
        name: "argon2 (Django's defaults), configured argon2".to_owned(),
        hasher: argon2.clone(),
        stored: argon2.hash(&password),
    });
    // What a login of a username nobody has costs (`burn`).
    cases.push(Case {
        name: "unknown user, configured pbkdf2_sha256".to_owned(),
        hasher: pbkdf2.clone(),
        stored: String::new(),
    });

    // Every hash really is the password's; a wrong one is refused.
    for case in cases.iter().filter(|case| !case.stored.is_empty()) {
        let right = case.hasher.verify(&password, &case.stored);
        assert!(right.is_match(), "{}", case.name);
        let wrong = case
            .hasher
            .verify(&Password::new("wrong".to_owned()), &case.stored);
        assert_eq!(wrong, Verification::Mismatch, "{}", case.name);
    }

    let wrong = Password::new("not the password".to_owned());
    let mut right_timings: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let mut wrong_timings: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for _ in 0..SAMPLES {
        for (index, case) in cases.iter().enumerate() {
            // A login's check, and the rehash a match of another hasher gets.
            let started = Instant::now();
            if case.stored.is_empty() {
                case.hasher.burn(&password);
            } else if case.hasher.verify(&password, &case.stored) == Verification::MatchNeedsUpgrade
            {
                let _ = case.hasher.hash(&password);
            }
            right_timings[index].push(started.elapsed());
            let started = Instant::now();
            if case.stored.is_empty() {
                case.hasher.burn(&wrong);
            } else {
                let _ = case.hasher.verify(&wrong, &case.stored);
            }
            wrong_timings[index].push(started.elapsed());
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("{cores} cores; median of {SAMPLES} checks each, interleaved\n");
    println!(
        "| hash (Django 5.2 defaults), latchkey's hasher | right password (with its rehash) | logins/s on {cores} cores | wrong password |"
    );
    println!("|---|---|---|---|");
    let median = |samples: &mut Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    for ((case, right), wrong) in cases.iter().zip(&mut right_timings).zip(&mut wrong_timings) {
        let (right, wrong) = (median(right), median(wrong));
        println!(
            "| {} | {:.1} ms | {:.1} | {:.1} ms |",
            case.name,
            right.as_secs_f64() * 1000.0,
            cores as f64 / right.as_secs_f64(),
            wrong.as_secs_f64() * 1000.0
        );
    }
}

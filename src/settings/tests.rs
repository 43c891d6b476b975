//! Loading and validating settings.

use std::path::Path;

use super::*;

#[test]
fn defaults_are_valid() {
    Settings::defaults().validate().expect("defaults validate");
}

#[test]
fn short_secret_is_refused_with_the_fix() {
    let mut settings = Settings::defaults();
    settings.jwt.signing_key = "too-short".to_owned();
    let message = settings.validate().expect_err("refused").to_string();
    assert!(message.contains("at least 32 bytes"), "{message}");
}

#[test]
fn production_requires_secret_and_database() {
    let mut settings = Settings::defaults();
    settings.environment = "production".to_owned();
    let message = settings.validate().expect_err("refused").to_string();
    assert!(message.contains("LATCHKEY_DATABASE__URL"), "{message}");
    settings.database.url = Some(postgres());
    settings.server.public_url = "https://auth.example.com".to_owned();
    let message = settings.validate().expect_err("refused").to_string();
    assert!(message.contains("LATCHKEY_JWT__SIGNING_KEY"), "{message}");
    settings.jwt.signing_key = "kR7vQ2xW9pL4mN8sT1yB6cF3hJ5dG0aZ".to_owned();
    settings
        .validate()
        .expect("complete production settings validate");
}

/// A production configuration that passes, to break one setting at a time.
fn production() -> Settings {
    let mut settings = Settings::defaults();
    settings.environment = "production".to_owned();
    settings.database.url = Some(postgres());
    settings.server.public_url = "https://auth.example.com".to_owned();
    settings.jwt.signing_key = "kR7vQ2xW9pL4mN8sT1yB6cF3hJ5dG0aZ".to_owned();
    settings.validate().expect("the baseline validates");
    settings
}

#[test]
fn finding_8_production_refuses_unsafe_settings_and_names_them() {
    type Weaken = fn(&mut Settings);
    let cases: [(&str, Weaken); 9] = [
        ("throttle.trusted_proxies", |s| {
            s.throttle.trusted_proxies = vec![net("10.0.0.0/8"), net("::/0")]
        }),
        ("passwords.iterations", |s| s.passwords.iterations = 1),
        ("passwords.iterations", |s| s.passwords.iterations = 599_999),
        ("jwt.leeway_seconds", |s| s.jwt.leeway_seconds = 99_999_999),
        ("jwt.access_token_lifetime_seconds", |s| {
            s.jwt.access_token_lifetime_seconds = 365 * 86_400;
            s.jwt.refresh_token_lifetime_seconds = 365 * 86_400;
            s.sessions.absolute_lifetime_seconds = 365 * 86_400;
        }),
        ("jwt.signing_key", |s| s.jwt.signing_key = "a".repeat(32)),
        ("jwt.signing_key", |s| {
            s.jwt.signing_key = "password".repeat(4)
        }),
        ("introspection.clients[gw].secret", |s| {
            s.introspection.clients = vec![ClientSettings {
                id: "gw".to_owned(),
                secret: "x".repeat(40),
            }]
        }),
        ("server.public_url", |s| s.server.public_url.clear()),
    ];
    for (setting, weaken) in cases {
        let mut settings = production();
        weaken(&mut settings);
        let message = settings.validate().expect_err(setting).to_string();
        assert!(message.contains(setting), "{setting}: {message}");
        // Development starts, and says what it would refuse.
        settings.environment = "development".to_owned();
        settings.validate().expect("development only warns");
        if setting != "server.public_url" {
            assert!(
                settings.weaknesses().iter().any(|w| w.contains(setting)),
                "{setting}"
            );
        }
    }
    // The edges that pass: the floors themselves and a random hex secret.
    let mut settings = production();
    settings.passwords.iterations = MIN_PRODUCTION_ITERATIONS;
    settings.jwt.leeway_seconds = MAX_PRODUCTION_LEEWAY_SECONDS;
    settings.jwt.access_token_lifetime_seconds = MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS;
    settings.jwt.signing_key =
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned();
    settings.validate().expect("at the limits");
    assert!(settings.weaknesses().is_empty());
}

fn postgres() -> crate::db::DatabaseUrl {
    "postgres://localhost/latchkey".parse().expect("a URL")
}

fn net(text: &str) -> ipnet::IpNet {
    text.parse().expect("a network")
}

fn networks(list: &[ipnet::IpNet]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn load_from_env(variables: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let variables = variables
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    Settings::load_with(Path::new("/nonexistent"), Some(variables))
}

#[test]
fn key_lists_come_from_the_environment_as_json() {
    let settings = load_from_env(&[
        (
            "LATCHKEY_JWT__KEYS",
            r#"[{"kid":"Key-1","algorithm":"EdDSA","file":"/run/secrets/k1.pem"},
                {"kid":"old","algorithm":"HS256","secret":"0123456789abcdef0123456789abcdef"}]"#,
        ),
        ("LATCHKEY_JWT__SIGNING_KID", "Key-1"),
        (
            "LATCHKEY_INTROSPECTION__CLIENTS",
            r#"[{"id":"gateway","secret":"0123456789abcdef0123456789abcdef"}]"#,
        ),
        ("LATCHKEY_JWT__AUTH_HEADER_TYPES", "Bearer,JWT"),
    ])
    .expect("valid");
    assert_eq!(settings.jwt.keys.len(), 2);
    assert_eq!(settings.jwt.keys[0].kid, "Key-1", "kid keeps its case");
    assert_eq!(settings.jwt.keys[1].secret.len(), 32);
    assert_eq!(settings.introspection.clients[0].id, "gateway");
    assert_eq!(settings.jwt.auth_header_types, ["Bearer", "JWT"]);
    // Every list setting also takes a JSON array.
    let settings = load_from_env(&[
        ("LATCHKEY_JWT__AUTH_HEADER_TYPES", r#"["Bearer", "JWT"]"#),
        (
            "LATCHKEY_THROTTLE__TRUSTED_PROXIES",
            r#"["10.0.0.0/8","fd00::/8"]"#,
        ),
    ])
    .expect("valid");
    assert_eq!(settings.jwt.auth_header_types, ["Bearer", "JWT"]);
    assert_eq!(
        networks(&settings.throttle.trusted_proxies),
        ["10.0.0.0/8", "fd00::/8"]
    );
    let settings = load_from_env(&[(
        "LATCHKEY_THROTTLE__TRUSTED_PROXIES",
        "10.0.0.0/8, 127.0.0.1",
    )])
    .expect("valid");
    assert_eq!(
        networks(&settings.throttle.trusted_proxies),
        ["10.0.0.0/8", "127.0.0.1/32"],
        "an address is its own network"
    );
    let settings = load_from_env(&[("LATCHKEY_JWT__AUTH_HEADER_TYPES", "true")]).expect("valid");
    assert_eq!(
        settings.jwt.auth_header_types,
        ["true"],
        "a value that reads as a flag"
    );
    let error = load_from_env(&[("LATCHKEY_THROTTLE__TRUSTED_PROXIES", "[10.0.0.0/8")])
        .expect_err("refused");
    assert!(error.to_string().contains("JSON array"), "{error}");
    for (name, value) in [
        ("LATCHKEY_THROTTLE__TRUSTED_PROXIES", "10.0.0.0/33"),
        ("LATCHKEY_THROTTLE__FORWARDING_HEADER", "X-Real-IP"),
    ] {
        let error = load_from_env(&[(name, value)]).expect_err(value);
        assert!(error.to_string().contains(value), "{error}");
    }
    let error = load_from_env(&[("LATCHKEY_JWT__KEYS", "[{\"kid\":")]).expect_err("refused");
    assert!(error.to_string().contains("JSON array"), "{error}");
}

#[test]
fn key_settings_are_checked_before_any_file_is_read() {
    let cases: [(&str, &str, &str); 6] = [
        (
            r#"[{"kid":"a","algorithm":"EdDSA","file":"x.pem"}]"#,
            "",
            "signing_kid",
        ),
        (
            r#"[{"kid":"a","algorithm":"none","file":"x.pem"}]"#,
            "a",
            "not one of",
        ),
        (
            r#"[{"kid":"a","algorithm":"EdDSA","file":"x.pem","pem":"y"}]"#,
            "a",
            "exactly one",
        ),
        (
            r#"[{"kid":"a","algorithm":"RS256","secret":"0123456789abcdef0123456789abcdef"}]"#,
            "a",
            "never a secret",
        ),
        (
            r#"[{"kid":"a","algorithm":"EdDSA","file":"x"},{"kid":"a","algorithm":"EdDSA","file":"y"}]"#,
            "a",
            "used twice",
        ),
        (
            r#"[{"kid":"a","algorithm":"EdDSA","file":"x.pem"}]"#,
            "b",
            "no key in jwt.keys",
        ),
    ];
    for (keys, signing_kid, expected) in cases {
        let error = load_from_env(&[
            ("LATCHKEY_JWT__KEYS", keys),
            ("LATCHKEY_JWT__SIGNING_KID", signing_kid),
        ])
        .expect_err(keys)
        .to_string();
        assert!(error.contains(expected), "{keys}: {error}");
    }
}

#[test]
fn unknown_database_scheme_is_refused() {
    let message = load_from_env(&[("LATCHKEY_DATABASE__URL", "mysql://localhost/db")])
        .expect_err("refused")
        .to_string();
    assert!(message.contains("mysql"), "{message}");
}

#[test]
fn user_claims_name_profile_fields_once_each() {
    let settings =
        load_from_env(&[("LATCHKEY_JWT__USER_CLAIMS", "username, groups,claims")]).expect("valid");
    assert_eq!(
        settings.jwt.user_claims,
        [
            crate::users::ProfileClaim::Username,
            crate::users::ProfileClaim::Groups,
            crate::users::ProfileClaim::Claims
        ]
    );
    let settings = load_from_env(&[("LATCHKEY_JWT__USER_CLAIMS", r#"["email"]"#)]).expect("valid");
    assert_eq!(
        settings.jwt.user_claims,
        [crate::users::ProfileClaim::Email]
    );
    for (value, expected) in [
        (
            "username,password",
            "\"password\" is not one of username, email",
        ),
        ("exp", "\"exp\" is not one of"),
        ("groups,groups", "lists \"groups\" twice"),
        ("email", "also the name of the user, type or id claim"),
    ] {
        let error = load_from_env(&[
            ("LATCHKEY_JWT__USER_CLAIMS", value),
            ("LATCHKEY_JWT__USER_ID_CLAIM", "email"),
        ])
        .expect_err(value);
        assert!(error.to_string().contains(expected), "{value}: {error}");
    }
}

#[test]
fn the_opt_in_modes_are_checked_when_on_and_change_nothing_when_off() {
    // Off, a relation that would be refused when on is not looked at.
    let mut settings = Settings::defaults();
    settings.sessions.absolute_lifetime_seconds = 3600;
    settings.jwt.refresh_token_lifetime_seconds = 3600;
    settings
        .validate()
        .expect("sliding off: its lifetimes do not matter");
    settings.sliding.enabled = true;
    let refused = settings.validate().expect_err("refresh beyond the session");
    assert!(
        refused
            .to_string()
            .contains("sliding.refresh_lifetime_seconds")
    );

    // Lifetimes that would overflow are refused either way.
    let mut settings = Settings::defaults();
    settings.sliding.lifetime_seconds = i64::MAX;
    assert!(settings.validate().is_err());

    let mut settings = Settings::defaults();
    settings.drf_token.enabled = true;
    settings.drf_token.secret = "short".to_owned();
    assert!(settings.validate().is_err());
    settings.drf_token.enabled = false;
    settings.validate().expect("off: the secret is not read");
    let mut shown = Settings::defaults().drf_token;
    shown.secret = "do-not-print-this-secret-anywhere-at-all".to_owned();
    assert!(!format!("{shown:?}").contains("do-not-print"));
}

#[test]
fn production_needs_a_drf_secret_and_short_sliding_tokens() {
    let mut settings = production();
    settings.drf_token.enabled = true;
    let refused = settings.validate().expect_err("no secret").to_string();
    assert!(refused.contains("drf_token.secret"), "{refused}");
    settings.drf_token.secret = "x".repeat(40);
    let refused = settings.validate().expect_err("a typed secret").to_string();
    assert!(refused.contains("drf_token.secret"), "{refused}");
    settings.drf_token.secret =
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned();
    settings.validate().expect("a random secret");
    assert!(
        settings
            .drf_token
            .secret_bytes(std::path::Path::new("/nonexistent"), true)
            .is_ok()
    );
    settings.drf_token.secret.clear();
    settings.environment = "development".to_owned();
    assert!(
        settings
            .drf_token
            .secret_bytes(std::path::Path::new("/nonexistent"), true)
            .is_err(),
        "production never generates a secret"
    );

    let mut settings = production();
    settings.sliding.enabled = true;
    settings.sliding.lifetime_seconds = 2 * 86_400;
    let refused = settings
        .validate()
        .expect_err("a two-day Bearer token")
        .to_string();
    assert!(refused.contains("sliding.lifetime_seconds"), "{refused}");
}

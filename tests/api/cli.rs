//! The `latchkey` command, run as a user would run it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TestDatabase, latchkey, latchkey_with, spawn_app, text};

#[tokio::test]
async fn users_are_managed_from_the_command_line() {
    let app = spawn_app().await;
    let url = app.database_url();

    let created = latchkey(
        &url,
        &["users", "create", "carol", "--password-stdin"],
        "s3cret pass\n",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert_eq!(app.obtain("carol", "s3cret pass").await.status(), 200);

    let duplicate = latchkey(
        &url,
        &["users", "create", "carol", "--password-stdin"],
        "other\n",
    );
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(
        text(&duplicate.stderr).contains("already exists"),
        "{}",
        text(&duplicate.stderr)
    );

    let changed = latchkey(
        &url,
        &["users", "set-password", "carol", "--password-stdin"],
        "n3w pass\n",
    );
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    assert_eq!(app.obtain("carol", "s3cret pass").await.status(), 401);
    assert_eq!(app.obtain("carol", "n3w pass").await.status(), 200);

    assert!(
        latchkey(&url, &["users", "deactivate", "carol"], "")
            .status
            .success()
    );
    assert_eq!(app.obtain("carol", "n3w pass").await.status(), 401);
    assert!(
        latchkey(&url, &["users", "activate", "carol"], "")
            .status
            .success()
    );
    assert_eq!(app.obtain("carol", "n3w pass").await.status(), 200);

    let listed = latchkey(&url, &["users", "list"], "");
    assert!(
        text(&listed.stdout).contains("carol"),
        "{}",
        text(&listed.stdout)
    );

    let owner = app
        .with_db(|conn| latchkey::db::users::find_by_username(conn, "carol").expect("query"))
        .await
        .expect("carol");
    let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(2);
    app.with_db(move |conn| {
        let family = latchkey::db::sessions::NewSession {
            id: "old-family".to_owned(),
            user_id: owner.id,
            created_at: long_ago,
            last_used_at: long_ago,
            expires_at: long_ago + chrono::Duration::days(1),
            client_ip: None,
            user_agent: None,
        };
        latchkey::db::sessions::create(conn, &family).expect("family");
        for n in 0..3 {
            let token = latchkey::db::refresh_tokens::NewRefreshToken {
                jti: format!("expired-{n}"),
                user_id: owner.id,
                session_id: "old-family".to_owned(),
                parent_jti: None,
                issued_at: long_ago,
                expires_at: long_ago + chrono::Duration::days(1),
            };
            latchkey::db::refresh_tokens::record(conn, &token).expect("recorded");
        }
    })
    .await;
    let flushed = latchkey(&url, &["flush-expired"], "");
    assert!(
        text(&flushed.stdout).contains("deleted 3 expired refresh token(s), 1 expired session(s)"),
        "{}",
        text(&flushed.stdout)
    );
    let flushed = latchkey(&url, &["flush-expired"], "");
    assert!(
        text(&flushed.stdout).contains("deleted 0 expired refresh token(s), 0 expired session(s)"),
        "{}",
        text(&flushed.stdout)
    );

    assert!(
        latchkey(&url, &["users", "delete", "carol"], "")
            .status
            .success()
    );
    assert_eq!(app.obtain("carol", "n3w pass").await.status(), 401);

    for args in [
        &["users", "delete", "carol"][..],
        &["users", "deactivate", "nobody"][..],
        &["users", "set-password", "nobody", "--password-stdin"][..],
    ] {
        let missing = latchkey(&url, args, "pw\n");
        assert_eq!(missing.status.code(), Some(1), "{args:?}");
        assert!(
            text(&missing.stderr).contains("no user named"),
            "{}",
            text(&missing.stderr)
        );
    }
}

#[test]
fn passwords_that_could_never_log_in_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDatabase::create(dir.path());
    for password in ["\n", " padded \n"] {
        let output = latchkey(
            &database.url,
            &["users", "create", "dave", "--password-stdin"],
            password,
        );
        assert_eq!(output.status.code(), Some(1), "{password:?}");
    }
    let no_terminal = latchkey(&database.url, &["users", "create", "dave"], "");
    assert!(
        text(&no_terminal.stderr).contains("--password-stdin"),
        "{}",
        text(&no_terminal.stderr)
    );
}

#[test]
fn unusable_settings_are_refused_with_the_fix() {
    let output = latchkey("mysql://localhost/db", &["migrate"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("unsupported database URL scheme"),
        "{}",
        text(&output.stderr)
    );

    let output = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .env("LATCHKEY_ENVIRONMENT", "production")
        .env("LATCHKEY_DATABASE__URL", "postgres://127.0.0.1/none")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("LATCHKEY_JWT__SIGNING_KEY"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn with_no_configuration_it_serves_a_development_setup() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .current_dir(dir.path())
        .env("LATCHKEY_SERVER__BIND", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .expect("latchkey runs");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    let port = loop {
        assert!(Instant::now() < deadline, "no startup line in:\n{log}");
        let line = lines.next().expect("a log line").expect("utf-8");
        log.push_str(&line);
        log.push('\n');
        if let Some(port) = line.split("serving on port ").nth(1) {
            break port.trim().to_owned();
        }
    };

    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    let jwks = reqwest::get(format!("http://127.0.0.1:{port}/.well-known/jwks.json")).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health.expect("answers").status(), 200);
    assert!(log.contains("DEVELOPMENT SETUP"), "{log}");
    assert!(dir.path().join("data/latchkey.sqlite3").exists());
    assert!(dir.path().join("data/signing_key.pem").exists());
    let jwks: serde_json::Value = jwks.expect("answers").json().await.expect("JSON");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "the development key is published: {jwks}");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[0]["kty"], "OKP");
}

#[tokio::test]
async fn keys_generate_writes_a_private_key_the_service_then_signs_with() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("new.pem");
    let path_arg = path.display().to_string();
    let args = ["keys", "generate", "--alg", "ES256", "--out", &path_arg];
    let output = latchkey("sqlite://unused", &args, "");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let kid = stdout
        .lines()
        .find_map(|line| line.strip_prefix("kid: "))
        .expect("the kid is printed")
        .to_owned();
    assert!(stdout.contains("[[jwt.keys]]"), "{stdout}");
    assert!(
        stdout.contains(&format!("LATCHKEY_JWT__SIGNING_KID={kid}")),
        "{stdout}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads the key");
    }

    let again = latchkey("sqlite://unused", &args, "");
    assert!(
        !again.status.success(),
        "an existing key is never overwritten"
    );
    let refused = latchkey(
        "sqlite://unused",
        &["keys", "generate", "--alg", "none"],
        "",
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("EdDSA"),
        "{}",
        text(&refused.stderr)
    );

    let (kid_, file) = (kid.clone(), path_arg.clone());
    let app = crate::helpers::spawn_app_with(move |s| {
        s.jwt.signing_key.clear();
        s.jwt.signing_kid = kid_.clone();
        s.jwt.keys = vec![latchkey::settings::KeySettings {
            kid: kid_,
            algorithm: jsonwebtoken::Algorithm::ES256,
            file,
            pem: String::new(),
            secret: String::new(),
        }];
    })
    .await;
    let user = app.create_user("alice", "pw").await;
    let pair = app.obtain_pair(&user).await;
    assert_eq!(crate::helpers::header_of(&pair.access)["kid"], kid.as_str());
    assert_eq!(app.me(&pair.access).await.status(), 200);
}

#[tokio::test]
async fn profiles_groups_and_claims_are_set_from_the_command_line() {
    let app = spawn_app().await;
    let url = app.database_url();
    let run = |args: &[&str], stdin: &str| latchkey(&url, args, stdin);

    let unknown_group = run(
        &[
            "users",
            "create",
            "bob",
            "--group",
            "admins",
            "--password-stdin",
        ],
        "lunar module descent 1969\n",
    );
    assert_eq!(unknown_group.status.code(), Some(1));
    assert!(
        text(&unknown_group.stderr).contains("no group named \"admins\""),
        "{}",
        text(&unknown_group.stderr)
    );
    assert_eq!(
        app.obtain("bob", "pw").await.status(),
        401,
        "nothing was written"
    );

    for (arg, expected) in [
        ("--claim=exp=1", "\"exp\" is a reserved claim name"),
        ("--claim=groups=[]", "\"groups\" is a reserved claim name"),
        ("--claim=tenant", "write it as key=value"),
        ("--email=not-an-address", "Enter a valid email address."),
    ] {
        let refused = run(
            &["users", "create", "bob", arg, "--password-stdin"],
            "lunar module descent 1969\n",
        );
        assert_eq!(refused.status.code(), Some(1), "{arg}");
        assert!(
            text(&refused.stderr).contains(expected),
            "{arg}: {}",
            text(&refused.stderr)
        );
    }
    for name in ["bob smith", " bob", "bob/1"] {
        let refused = run(
            &["users", "create", name, "--password-stdin"],
            "lunar module descent 1969\n",
        );
        assert_eq!(refused.status.code(), Some(1), "{name}");
        assert!(
            text(&refused.stderr).contains("Enter a valid username."),
            "{name}: {}",
            text(&refused.stderr)
        );
    }
    // Stored as Django stores it: NFKC-normalized.
    let wide = run(
        &["users", "create", "ｗｉｄｅ", "--password-stdin"],
        "lunar module descent 1969\n",
    );
    assert!(
        text(&wide.stdout).contains("created user \"wide\""),
        "{}",
        text(&wide.stderr)
    );

    let group = run(&["groups", "create", "admins"], "");
    assert!(group.status.success(), "{}", text(&group.stderr));
    let again = run(&["groups", "create", "admins"], "");
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    let created = run(
        &[
            "users",
            "create",
            "bob",
            "--email",
            "bob@example.com",
            "--first-name",
            "Bob",
            "--staff",
            "--group",
            "admins",
            "--claim",
            "tenant=acme",
            "--claim",
            "seats=3",
            "--password-stdin",
        ],
        "lunar module descent 1969\n",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));

    let shown = run(&["users", "show", "bob"], "");
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(shown["email"], "bob@example.com");
    assert_eq!(shown["first_name"], "Bob");
    assert_eq!(shown["is_staff"], true);
    assert_eq!(shown["is_superuser"], false);
    assert_eq!(shown["groups"], serde_json::json!(["admins"]));
    assert_eq!(
        shown["claims"],
        serde_json::json!({"tenant": "acme", "seats": 3})
    );
    assert!(!shown.to_string().contains("pbkdf2"), "never the hash");

    let listed = run(&["groups", "list"], "");
    assert!(
        text(&listed.stdout)
            .lines()
            .any(|line| line.split_whitespace().eq(["admins", "1"])),
        "{}",
        text(&listed.stdout)
    );
    let deleted = run(&["groups", "delete", "admins"], "");
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    let shown = run(&["users", "show", "bob"], "");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(shown["groups"], serde_json::json!([]));
    let missing = run(&["groups", "delete", "admins"], "");
    assert!(
        text(&missing.stderr).contains("no group named"),
        "{}",
        text(&missing.stderr)
    );

    // Groups and claims change after creation too.
    assert!(run(&["groups", "create", "ops"], "").status.success());
    let moved = run(&["users", "set-groups", "bob", "--group", "ops"], "");
    assert!(moved.status.success(), "{}", text(&moved.stderr));
    let unknown = run(&["users", "set-groups", "bob", "--group", "nope"], "");
    assert!(
        text(&unknown.stderr).contains("no group named \"nope\""),
        "{}",
        text(&unknown.stderr)
    );
    let claimed = run(&["users", "set-claims", "bob", "--claim", "plan=pro"], "");
    assert!(claimed.status.success(), "{}", text(&claimed.stderr));
    let reserved = run(&["users", "set-claims", "bob", "--claim", "sub=1"], "");
    assert!(
        text(&reserved.stderr).contains("\"sub\" is a reserved claim name"),
        "{}",
        text(&reserved.stderr)
    );
    let nobody = run(
        &["users", "set-claims", "nobody", "--claim", "plan=pro"],
        "",
    );
    assert!(
        text(&nobody.stderr).contains("no user named"),
        "{}",
        text(&nobody.stderr)
    );
    let shown = run(&["users", "show", "bob"], "");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(shown["groups"], serde_json::json!(["ops"]));
    assert_eq!(shown["claims"], serde_json::json!({"plan": "pro"}));
}

#[tokio::test]
async fn passwords_are_validated_with_djangos_messages() {
    let app = spawn_app().await;
    let url = app.database_url();
    let refusal = |env: &[(&str, &str)], args: &[&str], password: &str| {
        let output = latchkey_with(&url, env, args, &format!("{password}\n"));
        assert_eq!(output.status.code(), Some(1), "{password:?} was accepted");
        let stderr = text(&output.stderr);
        let mut lines: Vec<String> = stderr
            .trim()
            .trim_start_matches("latchkey: ")
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    let create = [
        "users",
        "create",
        "margaret",
        "--email",
        "mh@apollo.example",
        "--password-stdin",
    ];
    // Only the strength estimate, then each other rule on its own.
    let weak_only: &[(&str, &str)] = &[];
    let no_strength: &[(&str, &str)] = &[("LATCHKEY_PASSWORDS__MIN_STRENGTH", "0")];
    assert_eq!(
        refusal(weak_only, &create, "password123"),
        ["This password is too common."]
    );
    assert_eq!(
        refusal(no_strength, &create, "Xk2!vq"),
        ["This password is too short. It must contain at least 8 characters."]
    );
    assert_eq!(
        refusal(no_strength, &create, "93847261503847"),
        ["This password is entirely numeric."]
    );
    assert_eq!(
        refusal(no_strength, &create, "Margaret!"),
        ["The password is too similar to the username."]
    );
    assert_eq!(
        refusal(no_strength, &create, "apollo.example"),
        ["The password is too similar to the email address."]
    );
    // Every reason at once, one per line.
    assert_eq!(
        refusal(weak_only, &create, "1234"),
        [
            "This password is entirely numeric.",
            "This password is too common.",
            "This password is too short. It must contain at least 8 characters.",
        ]
    );
    // Nothing was created; a strong password is taken.
    assert_eq!(app.obtain("margaret", "1234").await.status(), 401);
    let created = latchkey(&url, &create, "lunar module descent 1969\n");
    assert!(created.status.success(), "{}", text(&created.stderr));
    // set-password checks the new password against the user's own words too.
    let set = ["users", "set-password", "margaret", "--password-stdin"];
    assert_eq!(
        refusal(no_strength, &set, "margaret1"),
        ["The password is too similar to the username."]
    );
    // Every rule can be turned off.
    let off: &[(&str, &str)] = &[
        ("LATCHKEY_PASSWORDS__MIN_LENGTH", "0"),
        ("LATCHKEY_PASSWORDS__REFUSE_NUMERIC", "false"),
        ("LATCHKEY_PASSWORDS__MAX_SIMILARITY", "0"),
        ("LATCHKEY_PASSWORDS__MIN_STRENGTH", "0"),
    ];
    let changed = latchkey_with(&url, off, &set, "1\n");
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    assert_eq!(app.obtain("margaret", "1").await.status(), 200);
}

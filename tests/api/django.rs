//! Moving from Django: a project whose users Django itself made (each of
//! Django's hashers at Django 5.2's default parameters, groups, staff, an
//! inactive user, an unusable password) is imported from its SQLite file,
//! from PostgreSQL and from `dumpdata`; every password logs in and is
//! rehashed exactly once; a re-import changes nothing; a refresh token
//! Simple JWT minted is adopted onto the same user id; and a DRF token key
//! (`rest_framework.authtoken`) keeps working.

use std::path::{Path, PathBuf};

use diesel::{Connection, RunQueryDsl};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, claims_of, latchkey, run_python, spawn_app_with, text, within_sync_interval,
};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/verifiers/django_project.py"
);

/// What the Django project made: its users (id, username, password,
/// hasher), its `SECRET_KEY` and a Simple JWT refresh token of `staff`.
struct DjangoProject {
    made: Value,
    dump: PathBuf,
}

impl DjangoProject {
    async fn make(database: String, dir: &Path) -> Self {
        let dump = dir.join("dump.json");
        let output = run_script(vec![
            "make".to_owned(),
            database,
            dump.display().to_string(),
        ])
        .await;
        let made = serde_json::from_str(&output).expect("the script prints JSON");
        Self { made, dump }
    }

    fn users(&self) -> &Vec<Value> {
        self.made["users"].as_array().expect("users")
    }

    fn secret_key(&self) -> String {
        self.made["secret_key"].as_str().expect("secret").to_owned()
    }
}

async fn run_script(args: Vec<String>) -> String {
    run_python(SCRIPT, args, "the Django project").await
}

/// `latchkey users import-django ARGS` on the app's database; its output.
async fn import(app: &TestApp, args: &[&str]) -> String {
    let url = app.database_url();
    let args: Vec<String> = ["users", "import-django"]
        .iter()
        .chain(args)
        .map(|arg| (*arg).to_owned())
        .collect();
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        latchkey(&url, &args, "")
    })
    .await
    .expect("blocking task");
    assert!(
        output.status.success(),
        "import failed: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

async fn stored_hash(app: &TestApp, username: &str) -> String {
    let name = username.to_owned();
    app.with_db(move |conn| {
        latchkey::db::users::find_by_username(conn, &name)
            .expect("read")
            .expect("imported")
            .password
    })
    .await
}

async fn migrating_app(project: &DjangoProject) -> TestApp {
    let secret = project.secret_key();
    spawn_app_with(move |settings| {
        // Simple JWT signs with Django's SECRET_KEY.
        settings.jwt.signing_key = secret;
        settings.jwt.adopt_unknown_refresh_tokens = true;
        settings.drf_token.enabled = true;
    })
    .await
}

#[tokio::test]
async fn a_django_sqlite_project_moves_over_with_every_hasher_and_no_password_reset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let django_db = dir.path().join("django.sqlite3");
    let project = DjangoProject::make(format!("sqlite:{}", django_db.display()), dir.path()).await;
    let app = migrating_app(&project).await;
    let from = django_db.display().to_string();
    let drf_key = project.made["drf_key"].as_str().expect("a DRF key");
    let key_header = format!("Token {drf_key}");
    let by_key = || app.me_with_header(Some(&key_header));
    // Unknown before the import (and remembered as unknown until it).
    assert_eq!(by_key().await.status(), 401);

    let dry = import(&app, &["--from", &from, "--dry-run"]).await;
    assert!(
        dry.contains("dry run, nothing written: users: 10 created"),
        "{dry}"
    );
    assert_eq!(app.obtain("staff", "staff passphrase").await.status(), 401);
    let first = import(&app, &["--from", &from]).await;
    assert!(
        first.contains(
            "users: 10 created, 0 updated, 0 unchanged, 0 skipped; groups: 2 created; DRF keys: 1 brought"
        ),
        "{first}"
    );
    let stored_keys: Vec<String> = app
        .with_db(|conn| {
            use diesel::QueryDsl;
            latchkey::db::schema::drf_token_keys::table
                .select(latchkey::db::schema::drf_token_keys::digest)
                .load(conn)
                .expect("read")
        })
        .await;
    assert_eq!(
        stored_keys,
        [latchkey::sessions::drf_keys::stored_digest(drf_key)],
        "only the digest is kept"
    );
    // Once the import's change reached this instance (the key was
    // remembered as unknown until then).
    within_sync_interval(&app, || async { by_key().await.status() == 200 }).await;
    assert_eq!(
        by_key().await.json::<Value>().await.expect("json")["username"],
        "staff"
    );

    for user in project.users() {
        let username = user["username"].as_str().expect("username");
        let Some(password) = user["password"].as_str() else {
            assert_eq!(app.obtain(username, "!").await.status(), 401, "{username}");
            continue;
        };
        let hasher = user["hasher"].as_str().expect("hasher");
        assert_eq!(
            app.obtain(username, "not the password").await.status(),
            401,
            "{hasher}"
        );
        if user["inactive"] == true {
            assert_eq!(
                app.obtain(username, password).await.status(),
                401,
                "inactive"
            );
            continue;
        }
        let response = app.obtain(username, password).await;
        assert_eq!(response.status(), 200, "{hasher}: {username}");
        let pair: Value = response.json().await.expect("json");
        let access = pair["access"].as_str().expect("access");
        // The id Django gave, which tokens in the wild carry.
        assert_eq!(
            claims_of(access)["user_id"],
            user["id"].to_string(),
            "{hasher}"
        );
        // Rehashed into the configured hasher, exactly once.
        let rehashed = stored_hash(&app, username).await;
        assert!(
            rehashed.starts_with("pbkdf2_sha256$1000$"),
            "{hasher}: {rehashed}"
        );
        assert_eq!(app.obtain(username, password).await.status(), 200);
        assert_eq!(
            stored_hash(&app, username).await,
            rehashed,
            "{hasher}: rehashed again"
        );
    }

    // Profile and groups came along.
    let staff = app.obtain("staff", "staff passphrase").await;
    let access = staff.json::<Value>().await.expect("json")["access"]
        .as_str()
        .expect("access")
        .to_owned();
    let me: Value = app.me(&access).await.json().await.expect("json");
    assert_eq!(
        (
            &me["is_staff"],
            &me["is_superuser"],
            &me["groups"],
            &me["email"]
        ),
        (
            &json!(true),
            &json!(true),
            &json!(["editors", "ops"]),
            &json!("staff@example.com")
        )
    );

    // Logins here rehashed: a re-import still changes nothing.
    let again = import(&app, &["--from", &from]).await;
    assert!(
        again.contains("0 created, 0 updated, 10 unchanged")
            && again.contains("DRF keys: 0 brought"),
        "{again}"
    );
    // A change made in Django is taken.
    run_script(vec![
        "change".to_owned(),
        format!("sqlite:{}", django_db.display()),
        "user-md5".to_owned(),
        "new@example.com".to_owned(),
    ])
    .await;
    let changed = import(&app, &["--from", &from]).await;
    assert!(
        changed.contains("0 created, 1 updated, 9 unchanged"),
        "{changed}"
    );

    // A refresh token Django's Simple JWT minted is adopted onto the same user.
    let refreshed = app
        .refresh(project.made["refresh"].as_str().expect("refresh"))
        .await;
    assert_eq!(refreshed.status(), 200);
    let body: Value = refreshed.json().await.expect("json");
    let staff_id = project
        .users()
        .iter()
        .find(|user| user["username"] == "staff")
        .map(|user| user["id"].to_string())
        .expect("staff");
    assert_eq!(
        claims_of(body["access"].as_str().expect("access"))["user_id"],
        staff_id
    );

    // A key ended here (logout everywhere) stays ended at the next import.
    let ended = app
        .client
        .post(app.url("/api/token/logout-all/"))
        .header("authorization", format!("Token {drf_key}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ended.status(), 200);
    import(&app, &["--from", &from]).await;
    assert_eq!(
        app.me_with_header(Some(&format!("Token {drf_key}")))
            .await
            .status(),
        401
    );
}

/// A PostgreSQL schema for the Django project, dropped with it.
struct DjangoSchema {
    base: String,
    name: String,
}

impl Drop for DjangoSchema {
    fn drop(&mut self) {
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.base) {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
                .execute(&mut admin);
        }
    }
}

#[tokio::test]
async fn a_django_postgresql_database_is_imported_with_its_tables_named_and_ids_kept() {
    // The PostgreSQL the tests use, or the one every machine runs.
    let base = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let base = base.split('?').next().unwrap_or_default().to_owned() + "?sslmode=disable";
    let parsed = url::Url::parse(&base).expect("a URL");
    let schema = DjangoSchema {
        base: base.clone(),
        name: format!("django_{}", uuid::Uuid::new_v4().simple()),
    };
    let database = format!(
        "postgres:{}:{}:{}:{}:{}",
        parsed.host_str().expect("a host"),
        parsed.port().unwrap_or(5432),
        parsed.username(),
        parsed.path().trim_start_matches('/'),
        schema.name
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let project = DjangoProject::make(database, dir.path()).await;
    let app = migrating_app(&project).await;

    let table = |name: &str| format!("{}.{name}", schema.name);
    let (users, groups, members) = (
        table("auth_user"),
        table("auth_group"),
        table("auth_user_groups"),
    );
    let args = [
        "--from",
        base.as_str(),
        "--user-table",
        &users,
        "--group-table",
        &groups,
        "--membership-table",
        &members,
    ];
    let first = import(&app, &args).await;
    assert!(first.contains("users: 10 created"), "{first}");
    let again = import(&app, &args).await;
    assert!(again.contains("10 unchanged"), "{again}");
    assert_eq!(
        app.obtain("user-argon2", "argon2 passphrase ünïcode")
            .await
            .status(),
        200
    );
    // Users created afterwards take ids past the largest imported one.
    let created = app.admin_create(&json!({"username": "newcomer"})).await;
    assert_eq!(created["id"], 11);
}

#[tokio::test]
async fn a_dumpdata_file_is_imported_as_the_database_would_be() {
    let dir = tempfile::tempdir().expect("temp dir");
    let django_db = dir.path().join("django.sqlite3");
    let project = DjangoProject::make(format!("sqlite:{}", django_db.display()), dir.path()).await;
    let app = migrating_app(&project).await;
    let dump = project.dump.display().to_string();

    let first = import(&app, &["--dumpdata", &dump]).await;
    assert!(
        first.contains(
            "users: 10 created, 0 updated, 0 unchanged, 0 skipped; groups: 2 created; DRF keys: 1 brought"
        ),
        "{first}"
    );
    let drf_key = project.made["drf_key"].as_str().expect("a DRF key");
    assert_eq!(
        app.me_with_header(Some(&format!("Token {drf_key}")))
            .await
            .status(),
        200
    );
    for (username, password) in [
        ("user-bcrypt_sha256", "bcrypt_sha256 passphrase ünïcode"),
        ("user-scrypt", "scrypt passphrase ünïcode"),
        ("user-pbkdf2_sha1", "pbkdf2_sha1 passphrase ünïcode"),
    ] {
        assert_eq!(
            app.obtain(username, password).await.status(),
            200,
            "{username}"
        );
    }
    // The same users from the database: nothing to change.
    let from_database = import(&app, &["--from", &django_db.display().to_string()]).await;
    assert!(
        from_database.contains("10 unchanged") && from_database.contains("DRF keys: 0 brought"),
        "{from_database}"
    );
    // Deleting a key in Django (how DRF ends one) ends it here at the next
    // import.
    run_script(vec![
        "drop-token".to_owned(),
        format!("sqlite:{}", django_db.display()),
        "staff".to_owned(),
    ])
    .await;
    let dropped = import(&app, &["--from", &django_db.display().to_string()]).await;
    assert!(
        dropped.contains("DRF keys: 0 brought, 1 ended"),
        "{dropped}"
    );
    within_sync_interval(&app, || async {
        app.me_with_header(Some(&format!("Token {drf_key}")))
            .await
            .status()
            == 401
    })
    .await;
}

#[tokio::test]
async fn an_import_never_overwrites_a_user_made_here_nor_undoes_a_change_made_here() {
    let app = crate::helpers::spawn_app().await;
    // Made here before the import: id 1.
    app.create_user("native", "native passphrase").await;
    let hash = crate::helpers::password_hash(1000, "imported passphrase");
    let user = |pk: i64, username: &str| {
        json!({"model": "auth.user", "pk": pk, "fields": {
            "password": hash, "last_login": null, "is_superuser": false, "username": username,
            "first_name": "", "last_name": "", "email": "", "is_staff": false, "is_active": true,
            "date_joined": "2024-01-01T00:00:00Z", "groups": [], "user_permissions": []}})
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("dump.json");
    let write = |users: Value| std::fs::write(&dump, users.to_string()).expect("written");
    write(json!([
        user(1, "django-one"),
        user(2, "django-two"),
        user(3, "django-three")
    ]));
    let path = dump.display().to_string();

    let first = import(&app, &["--dumpdata", &path]).await;
    assert!(
        first.contains("2 created, 0 updated, 0 unchanged, 1 skipped"),
        "{first}"
    );
    assert!(
        first.contains("skipped \"django-one\": id 1 belongs to \"native\", a user created here"),
        "{first}"
    );
    assert_eq!(
        app.obtain("native", "native passphrase").await.status(),
        200
    );

    // Deactivated here; Django did not change: the re-import leaves it so.
    app.deactivate("django-two").await;
    write(json!([user(2, "django-two")]));
    let again = import(&app, &["--dumpdata", &path]).await;
    assert!(
        again.contains("0 created, 0 updated, 1 unchanged"),
        "{again}"
    );
    assert!(
        again.contains("1 user(s) an earlier import brought are no longer in Django"),
        "{again}"
    );
    assert_eq!(
        app.obtain("django-two", "imported passphrase")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.obtain("django-three", "imported passphrase")
            .await
            .status(),
        200
    );
}

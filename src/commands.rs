//! What each CLI command does. They run synchronously against the database:
//! no server, no async runtime, except `serve`.

use std::io::{BufRead, IsTerminal};

use chrono::Utc;

use crate::db::{self, Pool, users};
use crate::passwords::{Password, PasswordHasher};
use crate::settings::Settings;
use crate::startup::Application;
use crate::tokens::{self, keys};

pub fn serve(settings: Settings) -> anyhow::Result<()> {
    // Production refused these at load; development runs, and says so.
    for weakness in settings.weaknesses() {
        tracing::warn!("unsafe for production: {weakness}");
    }
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(settings).await?;
        tracing::info!("latchkey is serving on port {}", application.port());
        application.run_until_stopped().await?;
        Ok(())
    })
}

fn open(settings: &Settings) -> anyhow::Result<Pool> {
    db::build_pool(
        &settings.database_url(),
        1,
        std::time::Duration::from_secs(settings.database.connect_timeout_seconds),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))
}

/// Opens the database, migrated, for the user commands.
fn connect(settings: &Settings) -> anyhow::Result<db::PooledConnection> {
    let mut conn = open(settings)?.get()?;
    db::run_migrations(&mut conn)?;
    Ok(conn)
}

pub fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let applied = db::run_migrations(&mut *open(settings)?.get()?)?;
    println!("applied {applied} migration(s)");
    Ok(())
}

pub fn create_user(
    settings: &Settings,
    name: &str,
    password_stdin: bool,
    inactive: bool,
) -> anyhow::Result<()> {
    let name = checked_username(name)?;
    let password = read_password(password_stdin, true)?;
    let hash = PasswordHasher::new(settings.passwords.iterations).hash(&password);
    let mut conn = connect(settings)?;
    match users::create(&mut conn, name, &hash, !inactive, Utc::now().naive_utc()) {
        Ok(user) => {
            println!("created user {:?} (id {})", user.username, user.id);
            Ok(())
        }
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            anyhow::bail!("user {name:?} already exists")
        }
        Err(e) => Err(e.into()),
    }
}

pub fn set_password(settings: &Settings, name: &str, password_stdin: bool) -> anyhow::Result<()> {
    let password = read_password(password_stdin, true)?;
    let hash = PasswordHasher::new(settings.passwords.iterations).hash(&password);
    let mut conn = connect(settings)?;
    require_user(users::set_password(&mut conn, name, &hash)?, name, settings)?;
    println!("password of {name:?} changed");
    Ok(())
}

pub fn set_active(settings: &Settings, name: &str, active: bool) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    require_user(users::set_active(&mut conn, name, active)?, name, settings)?;
    println!(
        "user {name:?} {}",
        if active { "activated" } else { "deactivated" }
    );
    Ok(())
}

pub fn delete_user(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    require_user(users::delete(&mut conn, name)?, name, settings)?;
    println!("user {name:?} deleted");
    Ok(())
}

pub fn list_users(settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    println!(
        "{:>6}  {:<32}  {:<8}  {:<20}  last login",
        "id", "username", "active", "joined"
    );
    for user in users::list(&mut conn)? {
        println!(
            "{:>6}  {:<32}  {:<8}  {:<20}  {}",
            user.id,
            user.username,
            if user.is_active { "yes" } else { "no" },
            user.date_joined.format("%Y-%m-%d %H:%M:%S"),
            user.last_login
                .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "never".to_owned()),
        );
    }
    Ok(())
}

pub fn flush_expired(settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let flushed = db::flush_expired(&mut conn, Utc::now().naive_utc(), settings.jwt.leeway())?;
    println!(
        "deleted {} expired refresh token(s), {} expired session(s) and {} old change event(s)",
        flushed.refresh_tokens, flushed.sessions, flushed.events
    );
    Ok(())
}

/// Checks the user existed, then waits until every running instance has read
/// the change from the feed, so that when the command returns it is in force.
fn require_user(existed: bool, name: &str, settings: &Settings) -> anyhow::Result<()> {
    anyhow::ensure!(existed, "no user named {name:?}");
    std::thread::sleep(settings.cache.sync_interval() * 2);
    Ok(())
}

/// Logins strip surrounding whitespace from the username (as Simple JWT
/// does), so a name that has any could never log in.
fn checked_username(name: &str) -> anyhow::Result<&str> {
    anyhow::ensure!(
        !name.trim().is_empty() && name.trim() == name && !name.contains('\0'),
        "the username must be non-empty, without surrounding whitespace or NUL characters"
    );
    Ok(name)
}

/// Reads a password from one line of stdin, or prompts twice on a terminal.
fn read_password(from_stdin: bool, confirm: bool) -> anyhow::Result<Password> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        anyhow::ensure!(
            std::io::stdin().is_terminal(),
            "no terminal to prompt on: pipe the password in with --password-stdin"
        );
        let first = rpassword::prompt_password("Password: ")?;
        if confirm {
            let second = rpassword::prompt_password("Password (again): ")?;
            anyhow::ensure!(first == second, "the passwords do not match");
        }
        first
    };
    anyhow::ensure!(!password.is_empty(), "the password is empty");
    // Logins strip surrounding whitespace, as Simple JWT does.
    anyhow::ensure!(
        password.trim() == password,
        "the password has leading or trailing whitespace, which logins strip; choose another"
    );
    anyhow::ensure!(
        !password.contains('\0'),
        "the password contains a NUL character"
    );
    Ok(Password::new(password))
}

pub fn generate_key(
    settings: &Settings,
    algorithm: &str,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let parsed = tokens::parse_algorithm(algorithm).ok_or_else(|| {
        anyhow::anyhow!(
            "--alg {algorithm:?} is not one of {}",
            tokens::ALGORITHM_NAMES.join(", ")
        )
    })?;
    let key = keys::generate(parsed)?;
    let path = out.unwrap_or_else(|| {
        settings
            .data_dir
            .join("keys")
            .join(format!("{}.pem", key.kid))
    });
    keys::generation::write_private_file(&path, key.pem.as_bytes())?;
    let path = std::fs::canonicalize(&path)?;
    let entry = serde_json::json!({"kid": key.kid, "algorithm": algorithm, "file": path});
    println!(
        "kid: {kid}\nwrote: {path}\n\n\
         Add it to config/<environment>.toml; it verifies as soon as it is listed:\n\n\
         [[jwt.keys]]\nkid = {kid_toml}\nalgorithm = \"{algorithm}\"\nfile = {path_toml}\n\n\
         or as an entry of LATCHKEY_JWT__KEYS: {entry}\n\n\
         Once verifiers have fetched the new JWKS (jwt.jwks_max_age_seconds), make it sign:\n\
         signing_kid = {kid_toml} (under [jwt]), or LATCHKEY_JWT__SIGNING_KID={kid}",
        kid = key.kid,
        path = path.display(),
        kid_toml = serde_json::Value::from(key.kid.as_str()),
        path_toml = serde_json::Value::from(path.display().to_string()),
    );
    Ok(())
}

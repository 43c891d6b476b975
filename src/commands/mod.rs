//! What each CLI command does. They run synchronously against the database:
//! no server, no async runtime, except `serve`. User commands are in
//! [`users`] (importing from Django in [`import_django`]), group commands in
//! [`groups`].

pub mod groups;
pub mod import_django;
pub mod operations;
pub mod users;

use chrono::Utc;

use crate::db::{self, Pool};
use crate::settings::Settings;
use crate::startup::Application;
use crate::tokens::{self, keys};

pub fn serve(settings: Settings) -> anyhow::Result<()> {
    // Production refused these at load; development runs, and says so.
    for weakness in settings.weaknesses() {
        tracing::warn!("unsafe for production: {weakness}");
    }
    let system = actix_web::rt::System::new();
    let served = system.block_on(async move {
        let application = Application::build(settings).await?;
        tracing::info!("latchkey is serving on port {}", application.port());
        application.run_until_stopped().await?;
        tracing::info!("latchkey stopped: requests in flight finished, audit events stored");
        Ok(())
    });
    // Dropping the runtime would wait for every blocking thread, and one
    // may be stuck on a connection to a database that went silent. What
    // had to finish has (requests, the audit events); the process exits.
    std::mem::forget(system);
    served
}

/// Opens the database as it is (no migrations: for commands that only read).
pub(crate) fn open(settings: &Settings) -> anyhow::Result<Pool> {
    db::build_pool(
        &settings.database_url(),
        1,
        std::time::Duration::from_secs(settings.database.connect_timeout_seconds),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))
}

/// Opens the database, migrated, for the user commands.
pub(crate) fn connect(settings: &Settings) -> anyhow::Result<db::PooledConnection> {
    let mut conn = open(settings)?.get()?;
    db::run_migrations(&mut conn)?;
    Ok(conn)
}

pub fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let applied = db::run_migrations(&mut *open(settings)?.get()?)?;
    println!("applied {applied} migration(s)");
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

//! What the server does on signals besides stopping (SIGTERM stops it
//! gracefully, SIGINT at once: see `crate::startup`): SIGHUP reads the key
//! configuration again and puts the new key set in use, without a restart.

use crate::audit::{AuditEvent, Kind};
use crate::metrics::Metrics;
use crate::settings::{Settings, SettingsError};
use crate::state::AppState;
use crate::tokens::KeySet;

/// Reads the key configuration again (the configuration files and the key
/// files they name; the environment is the process's, as at start), checks
/// it as at start, and swaps the new key set in whole. A configuration
/// that does not load is refused with its reason, and the key set in use
/// stays. Returns the new key set's version. Blocking: reads files.
pub fn reload_keys(state: &AppState) -> Result<u64, String> {
    let outcome = read_keys(&state.settings).map(|keys| {
        let described = keys.describe();
        (state.tokens.replace_keys(keys), described)
    });
    match outcome {
        Ok((version, described)) => {
            Metrics::count(&state.metrics.key_set_reloads, "outcome", "reloaded");
            state.audit.record(
                AuditEvent::new(Kind::KeySetReloaded)
                    .detail(format!("version {version}; {described}")),
            );
            Ok(version)
        }
        Err(reason) => {
            Metrics::count(&state.metrics.key_set_reloads, "outcome", "refused");
            tracing::error!(%reason, "the new key configuration was refused; the key set in use stays");
            state
                .audit
                .record(AuditEvent::new(Kind::KeySetReloadRefused).detail(reason.clone()));
            Err(reason)
        }
    }
}

fn read_keys(current: &Settings) -> Result<KeySet, String> {
    let reread;
    let settings = match &current.config_dir {
        Some(dir) => {
            reread = Settings::load(dir).map_err(|error| match error {
                // latchkey's own checks name the setting, never a secret.
                SettingsError::Invalid(reason) => format!("invalid configuration: {reason}"),
                // A parser's message quotes the line it stopped at, which
                // may hold a secret: this reason is logged and stored.
                SettingsError::Load(_) => "the configuration could not be read: a file does not parse or a value has the wrong type; run any latchkey command with the same configuration (e.g. `latchkey users list`) to see where".to_owned(),
            })?;
            &reread
        }
        None => current,
    };
    KeySet::load(&settings.jwt.key_config(&settings.data_dir)).map_err(|error| format!("{error:#}"))
}

/// Reloads the key set on every SIGHUP, for as long as the runtime runs.
#[cfg(unix)]
pub fn reload_on_hangup(state: AppState) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the key set");
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || reload_keys(&state)).await;
        }
    });
    Ok(())
}

#[cfg(not(unix))]
pub fn reload_on_hangup(_state: AppState) -> std::io::Result<()> {
    Ok(())
}

//! What the server does on signals besides stopping (SIGTERM and SIGINT
//! stop it gracefully: see `crate::startup`): SIGHUP reads the key
//! configuration again and puts the new key set in use, without a restart.

use crate::audit::{Event, Kind};
use crate::metrics::Metrics;
use crate::settings::Settings;
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
                Event::new(Kind::KeySetReloaded).detail(format!("version {version}; {described}")),
            );
            Ok(version)
        }
        Err(reason) => {
            Metrics::count(&state.metrics.key_set_reloads, "outcome", "refused");
            tracing::error!(%reason, "the new key configuration was refused; the key set in use stays");
            state
                .audit
                .record(Event::new(Kind::KeySetReloadRefused).detail(reason.clone()));
            Err(reason)
        }
    }
}

fn read_keys(current: &Settings) -> Result<KeySet, String> {
    let reread;
    let settings = match &current.config_dir {
        Some(dir) => {
            reread = Settings::load(dir).map_err(|error| error.to_string())?;
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

//! Configuration and process lifecycle shared by every orchestrator-rs binary.
//!
//! It owns [`Config`] (orchestrator's JSON keys accepted as they are, plus
//! ours; unknown keys reported, never silently ignored; validated at
//! start-up), the exit code for bad configuration ([`EXIT_BAD_CONFIG`]),
//! logging and telemetry set-up ([`init_tracing`], [`init_telemetry`]) and the shutdown token that SIGTERM and
//! SIGINT cancel ([`shutdown_on_signals`]), configuration reload on SIGHUP
//! ([`reload`], [`reload_on_sighup`]), TLS material ([`tls`]), host name
//! resolution of discovered keys ([`resolve`]) and the discovery filters
//! ([`filters`]). It must not know any service.

pub mod config;
pub mod consul;
pub mod filters;
pub mod reload;
pub mod resolve;
pub mod tls;

pub use config::{AuthMethod, Config, LoadReport, parse_listen_address, read_credentials_file};

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

/// Exit status for a configuration that cannot be used (`EX_USAGE`).
pub const EXIT_BAD_CONFIG: u8 = 64;

/// Runtime failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable.
    #[error("bad configuration{}: {reason}", path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Config {
        /// The file, when one was read.
        path: Option<PathBuf>,
        /// What is wrong, naming the key.
        reason: String,
    },
}

/// Logs to stderr in plain text, filtered by `RUST_LOG` (default `info`),
/// coloured only on a terminal: for commands that read no configuration.
/// Servers call [`init_telemetry`] once their configuration is read.
pub fn init_tracing() {
    let _ = orc_telemetry::init(&orc_telemetry::Settings::default());
}

/// Sets up logs (`LogFormat`), metrics and trace export (`OtlpEndpoint`)
/// for a process running `service`.
pub fn init_telemetry(
    config: &Config,
    service: &str,
) -> Result<orc_telemetry::Telemetry, orc_telemetry::Error> {
    orc_telemetry::init(&orc_telemetry::Settings {
        log_format: config.log_format.parse().unwrap_or_default(),
        default_filter: String::new(),
        otlp_endpoint: (!config.otlp_endpoint.is_empty()).then(|| config.otlp_endpoint.clone()),
        service_name: service.to_string(),
    })
}

/// A token cancelled on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        t.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        t.cancel();
    });
    token
}

/// Reloads the configuration on every SIGHUP until `shutdown`.
pub fn reload_on_sighup(reloader: std::sync::Arc<reload::Reloader>, shutdown: CancellationToken) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP: configuration reload only through the API");
            return;
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                got = hup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    tracing::info!("SIGHUP: reloading the configuration");
                    if let Err(e) = reloader.reload() {
                        tracing::error!(error = %e, "configuration not reloaded; the previous one stays in force");
                    }
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (reloader, shutdown);
}

#[cfg(test)]
mod tests;

/// The wall clock as a model timestamp (the edges read clocks; the core takes `now`).
pub fn wall_clock() -> orc_model::Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    orc_model::Timestamp::from_millis(ms)
}

//! Running roles: every role in one process (`serve`) or one role per
//! process (`prober`, `analyzer`, `recovery`, `gateway`), over the
//! in-process bus or NATS.

use std::sync::Arc;
use std::time::Duration;

use orc_bus::{Bus, LocalBus, NatsBus};
use orc_runtime::reload::{ConfigSource, Reloader};
use orc_runtime::{Config, parse_listen_address};
use orc_store::{BackendConfig, Store};
use tokio_util::sync::CancellationToken;

/// Which roles to run.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    /// Probe servers.
    pub prober: bool,
    /// Fold snapshots, keep the registry, persist.
    pub analyzer: bool,
    /// Change topologies: failovers, takeovers, hooks, audit.
    pub recovery: bool,
    /// Serve the APIs.
    pub gateway: bool,
}

impl Roles {
    /// Every role.
    pub const ALL: Roles = Roles {
        prober: true,
        analyzer: true,
        recovery: true,
        gateway: true,
    };
}

/// Why the process stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus could not be reached.
    #[error(transparent)]
    Bus(#[from] orc_bus::Error),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] orc_store::Error),
    /// A listen address could not be bound.
    #[error("cannot listen on {address}: {reason}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// A role needs NATS but none was given.
    #[error("the {0} role runs over NATS: give --nats URL or NatsUrl in the configuration")]
    NeedsNats(&'static str),
    /// A role failed.
    #[error("{role}: {reason}")]
    Role {
        /// Which role.
        role: &'static str,
        /// Why.
        reason: String,
    },
}

/// Where the gateway ended up listening (port 0 resolved).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// HTTP API address.
    pub http: std::net::SocketAddr,
    /// gRPC address.
    pub grpc: std::net::SocketAddr,
}

/// The backend the configuration names.
pub fn backend(c: &Config) -> BackendConfig {
    if c.uses_sqlite() {
        BackendConfig::Sqlite {
            path: c.sqlite_path(),
        }
    } else {
        BackendConfig::Mysql {
            host: c.mysql_orchestrator_host.clone(),
            port: c.mysql_orchestrator_port,
            database: c.mysql_orchestrator_database.clone(),
            user: c.mysql_orchestrator_user.clone(),
            password: c.mysql_orchestrator_password.clone(),
            tls: orc_runtime::tls::ClientTls::backend(c).map(Box::new),
        }
    }
}

async fn bind(address: &str) -> Result<tokio::net::TcpListener, Error> {
    let addr = parse_listen_address(address).map_err(|reason| Error::Bind {
        address: address.to_string(),
        reason,
    })?;
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Bind {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

/// Runs `roles` until `shutdown`; `on_bound` is told where the gateway listens.
pub async fn run(
    config: Config,
    roles: Roles,
    nats: Option<String>,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(Bound),
) -> Result<(), Error> {
    run_from(config, None, roles, nats, shutdown, on_bound).await
}

/// As [`run`], for a configuration read from `source`: SIGHUP and
/// `/api/reload-configuration` read it again.
pub async fn run_from(
    config: Config,
    source: Option<ConfigSource>,
    roles: Roles,
    nats: Option<String>,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(Bound),
) -> Result<(), Error> {
    let reloader = source.map(|s| {
        let r = Reloader::new(s, config.clone());
        orc_runtime::reload_on_sighup(r.clone(), shutdown.clone());
        r
    });
    let nats = nats.or_else(|| (!config.nats_url.is_empty()).then(|| config.nats_url.clone()));
    let bus: Arc<dyn Bus> = match &nats {
        Some(url) => {
            // A prober alone never consumes what it publishes: spare it the
            // echo of its own heartbeats and snapshots.
            let prober_only = roles.prober && !roles.analyzer && !roles.recovery && !roles.gateway;
            let name = if prober_only {
                "orchestrator-prober"
            } else {
                "orchestrator"
            };
            let tls = orc_runtime::tls::ClientTls::nats(&config);
            Arc::new(
                NatsBus::connect_with_tls(
                    url,
                    name,
                    Duration::from_secs(5),
                    !prober_only,
                    tls.as_ref(),
                )
                .await?
                .with_replicas(config.nats_replicas as usize),
            )
        }
        None => {
            let all = roles.prober && roles.analyzer && roles.recovery && roles.gateway;
            if !all {
                let role = if roles.prober {
                    "prober"
                } else if roles.analyzer {
                    "analyzer"
                } else if roles.recovery {
                    "recovery"
                } else {
                    "gateway"
                };
                return Err(Error::NeedsNats(role));
            }
            Arc::new(LocalBus::new())
        }
    };
    let timeout = Duration::from_secs_f64(config.mysql_orchestrator_read_timeout_seconds);
    let store = if roles.analyzer || roles.recovery || roles.gateway {
        Some(Store::open(&backend(&config), timeout).await?)
    } else {
        None
    };
    let listeners = if roles.gateway {
        let http = bind(&config.listen_address).await?;
        let grpc = bind(&config.grpc_listen_address).await?;
        let bound = Bound {
            http: http.local_addr().map_err(|e| Error::Bind {
                address: config.listen_address.clone(),
                reason: e.to_string(),
            })?,
            grpc: grpc.local_addr().map_err(|e| Error::Bind {
                address: config.grpc_listen_address.clone(),
                reason: e.to_string(),
            })?,
        };
        on_bound(bound);
        Some(gateway::Listeners { http, grpc })
    } else {
        None
    };

    let mut tasks = tokio::task::JoinSet::new();
    // The gateway serves /metrics on its own port; a process without it
    // serves them on MetricsListenAddress when one is set.
    if !roles.gateway && !config.metrics_listen_address.is_empty() {
        let listener = bind(&config.metrics_listen_address).await?;
        let address = listener.local_addr().ok();
        tracing::info!(address = ?address, "metrics on /metrics");
        let stop = shutdown.clone();
        tasks.spawn(async move {
            (
                "metrics",
                orc_telemetry::serve(listener, async move { stop.cancelled().await })
                    .await
                    .map_err(|e| e.to_string()),
            )
        });
    }
    if roles.analyzer
        && let Some(store) = store.clone()
    {
        let (cfg, bus, stop) = (
            analyzer::AnalyzerConfig::from_config(&config),
            bus.clone(),
            shutdown.clone(),
        );
        tasks.spawn(async move {
            (
                "analyzer",
                analyzer::run(cfg, bus, store, stop)
                    .await
                    .map_err(|e| e.to_string()),
            )
        });
    }
    if roles.recovery
        && let Some(store) = store.clone()
    {
        let (cfg, bus, stop) = (
            recovery::RecoveryConfig::from_config(&config),
            bus.clone(),
            shutdown.clone(),
        );
        tasks.spawn(async move {
            (
                "recovery",
                recovery::run(cfg, bus, store, stop)
                    .await
                    .map_err(|e| e.to_string()),
            )
        });
    }
    if roles.prober {
        let (cfg, bus, stop) = (
            prober::ProberConfig::from_config(&config),
            bus.clone(),
            shutdown.clone(),
        );
        let probe = async move { prober::run(cfg, bus, stop).await.map_err(|e| e.to_string()) };
        if roles.analyzer || roles.recovery || roles.gateway {
            // Beside other roles, probing gets a thread of its own: its
            // thousands of sockets and timers wake one thread, not every
            // worker, and its CPU shows apart (thread `orc-prober`).
            tasks.spawn(async move { ("prober", on_own_thread("orc-prober", probe).await) });
        } else {
            tasks.spawn(async move { ("prober", probe.await) });
        }
    }
    if let (Some(listeners), Some(store)) = (listeners, store.clone()) {
        let cfg = gateway::GatewayConfig::from_config(&config).map_err(|e| Error::Role {
            role: "gateway",
            reason: e.to_string(),
        })?;
        let cfg = match &reloader {
            Some(r) => cfg.with_reloader(r.clone()),
            None => cfg,
        };
        let (bus, stop) = (bus.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "gateway",
                gateway::run(cfg, bus, store, listeners, stop)
                    .await
                    .map_err(|e| e.to_string()),
            )
        });
    }
    let mut failure = None;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((_, Ok(()))) => {}
            Ok((role, Err(reason))) => {
                tracing::error!(role, error = %reason, "role failed; stopping");
                failure.get_or_insert(Error::Role { role, reason });
                shutdown.cancel();
            }
            Err(e) => {
                failure.get_or_insert(Error::Role {
                    role: "task",
                    reason: e.to_string(),
                });
                shutdown.cancel();
            }
        }
    }
    if let Some(store) = store {
        store.close().await;
    }
    failure.map_or(Ok(()), Err)
}

/// Runs `work` on a new thread with a single-threaded runtime of its own;
/// resolves when it ends.
async fn on_own_thread<F>(name: &str, work: F) -> Result<(), String>
where
    F: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let done = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(work),
                Err(e) => Err(format!("cannot start a runtime: {e}")),
            };
            let _ = tx.send(done);
        })
        .map_err(|e| format!("cannot start thread {name}: {e}"))?;
    rx.await
        .unwrap_or_else(|_| Err(format!("thread {name} ended without a result")))
}

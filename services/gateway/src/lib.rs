//! The gateway: orchestrator's HTTP API and a gRPC API over the same read
//! model, plus health. It reads instance state from the store ([`catalog`]),
//! forwards commands to the analyzers and recovery services over the bus
//! ([`commands`]), and writes operator facts (downtime, maintenance,
//! promotion rules, acknowledgements, the global recovery switch) itself;
//! it never talks to MySQL. Every operation both APIs offer is one function
//! in `operations`; HTTP and gRPC only translate. Errors map to HTTP and
//! gRPC in one table ([`error`]). Entry point: [`run`] with already-bound
//! listeners, so tests start it on port 0.

pub mod access;
pub mod catalog;
pub mod commands;
pub mod error;
mod grpc;
mod http;
pub mod leadership;
mod operations;
pub mod routes;
pub mod telemetry;
pub mod tls;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use orc_bus::Bus;
use orc_compat::DisplayPolicy;
use orc_runtime::Config;
use orc_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use catalog::CatalogSettings;

/// What the gateway needs to know.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `URLPrefix`.
    pub url_prefix: String,
    /// How long to wait for an analyzer to answer a command (and for a
    /// recovery service to answer a dry run).
    pub command_timeout: Duration,
    /// How long to wait for a recovery service to carry out a recovery or
    /// takeover (hooks included).
    pub recovery_timeout: Duration,
    /// `CandidateInstanceExpireMinutes`: how long a registered promotion rule lasts.
    pub candidate_expiry: Duration,
    /// `FailureDetectionPeriodBlockMinutes`: how long a detection stays active.
    pub failure_detection_period: Duration,
    /// Read-model settings.
    pub catalog: CatalogSettings,
    /// Who may call what (replaced on reload).
    pub access: access::AccessControl,
    /// TLS of both APIs (`UseSSL`; certificates replaced on reload).
    pub tls: Option<tls::TlsSettings>,
    /// This gateway's advertised address (`HTTPAdvertise`).
    pub advertise: String,
    /// Reloads the process's configuration (`reload-configuration`).
    pub reloader: Option<Arc<orc_runtime::reload::Reloader>>,
    /// `InstancePoolExpiryMinutes`.
    pub pool_expiry: Duration,
    /// Host name resolution as the probers do it (`resolve`).
    pub resolver: Arc<orc_runtime::resolve::Resolver>,
    /// `RecoveryIgnoreHostnameFilters` (shown by `automated-recovery-filters`).
    pub recovery_ignore_hostname_filters: Vec<String>,
    /// Where `submit-masters-to-kv-stores` publishes (`KVClusterMasterPrefix`,
    /// `EtcdAddress`).
    pub kv: orc_kv::Publisher,
    /// `NatsKVBucket`: masters are also published there, over the bus.
    pub nats_kv_bucket: String,
}

impl GatewayConfig {
    /// Derives the gateway's settings from the process configuration;
    /// fails when its TLS material is unusable.
    pub fn from_config(c: &Config) -> Result<Self, orc_runtime::tls::TlsError> {
        let command_timeout = Duration::from_secs_f64(
            c.mysql_connect_timeout_seconds + c.mysql_discovery_read_timeout_seconds + 3.0,
        );
        let tls = orc_runtime::tls::ServerTls::from_config(c)?.map(tls::TlsSettings::new);
        Ok(Self {
            url_prefix: c.url_prefix.clone(),
            command_timeout,
            recovery_timeout: command_timeout.max(MIN_RECOVERY_TIMEOUT),
            candidate_expiry: minutes(c.candidate_instance_expire_minutes),
            failure_detection_period: minutes(c.failure_detection_period_block_minutes),
            catalog: CatalogSettings {
                policy: DisplayPolicy {
                    poll_interval: c.poll_interval(),
                    reasonable_replication_lag_seconds: c.reasonable_replication_lag_seconds,
                    reasonable_maintenance_replication_lag_seconds: c
                        .reasonable_maintenance_replication_lag_seconds,
                },
                cluster_name_to_alias: c
                    .cluster_name_to_alias
                    .iter()
                    .filter_map(|(re, alias)| {
                        regex::Regex::new(re).ok().map(|r| (r, alias.clone()))
                    })
                    .collect(),
                recover_master_cluster_filters: c.recover_master_cluster_filters.clone(),
                recover_intermediate_master_cluster_filters: c
                    .recover_intermediate_master_cluster_filters
                    .clone(),
                default_port: c.default_instance_port,
                analysis: c.analysis_policy(),
            },
            access: access::AccessControl::new(access::Policy::from_config(c)),
            tls,
            advertise: c.http_advertise.clone(),
            reloader: None,
            pool_expiry: minutes(c.instance_pool_expiry_minutes),
            resolver: Arc::new(orc_runtime::resolve::Resolver::from_config(c)),
            recovery_ignore_hostname_filters: c.recovery_ignore_hostname_filters.clone(),
            kv: orc_kv::Publisher::from_validated(
                &c.kv_cluster_master_prefix,
                &c.etcd_address,
                &c.zk_address,
                &c.consul(),
            ),
            nats_kv_bucket: c.nats_kv_bucket.clone(),
        })
    }

    /// Lets `reloader` reload the configuration, and puts what it reloads
    /// (access rules, certificates) in force here.
    pub fn with_reloader(mut self, reloader: Arc<orc_runtime::reload::Reloader>) -> Self {
        let access = self.access.clone();
        let tls = self.tls.clone();
        reloader.on_reload(move |c| {
            access.replace(access::Policy::from_config(c));
            if let Some(tls) = &tls {
                match orc_runtime::tls::ServerTls::from_config(c) {
                    Ok(Some(new)) => tls.replace(new),
                    // UseSSL itself changes only with a restart.
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "certificates not reloaded"),
                }
            }
        });
        self.reloader = Some(reloader);
        self
    }
}

/// The least time a recovery command is given.
const MIN_RECOVERY_TIMEOUT: Duration = Duration::from_secs(600);

fn minutes(m: f64) -> Duration {
    Duration::try_from_secs_f64(m * 60.0).unwrap_or(Duration::ZERO)
}

/// Shared state of the handlers.
pub struct Gateway {
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) store: Store,
    pub(crate) settings: CatalogSettings,
    /// The read model between requests.
    pub(crate) catalog: catalog::CatalogCache,
    pub(crate) command_timeout: Duration,
    pub(crate) recovery_timeout: Duration,
    pub(crate) candidate_expiry: Duration,
    pub(crate) failure_detection_period: Duration,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    pub(crate) leadership: leadership::Leadership,
    pub(crate) reloader: Option<Arc<orc_runtime::reload::Reloader>>,
    pub(crate) pool_expiry: Duration,
    pub(crate) resolver: Arc<orc_runtime::resolve::Resolver>,
    pub(crate) recovery_ignore_hostname_filters: Vec<String>,
    pub(crate) kv: orc_kv::Publisher,
    /// The web UI's change feed.
    pub(crate) ui_feed: tokio::sync::broadcast::Sender<String>,
}

impl Gateway {
    /// The read model now.
    pub(crate) async fn catalog(&self) -> Result<catalog::Catalog, error::ApiError> {
        catalog::Catalog::load(
            &self.catalog,
            &self.store,
            &self.settings,
            orc_runtime::wall_clock(),
        )
        .await
    }
}

/// `kv` with the NATS key-value bucket `bucket` when one is configured.
pub fn with_bus_store(
    kv: orc_kv::Publisher,
    bucket: &str,
    bus: &Arc<dyn Bus>,
) -> orc_kv::Publisher {
    if bucket.is_empty() {
        return kv;
    }
    match orc_kv::NatsKv::new(bus.clone(), bucket) {
        Ok(store) => kv.with_store(Arc::new(store)),
        Err(e) => {
            // Validated with the configuration.
            tracing::error!(error = %e, "masters are not published to NATS KV");
            kv
        }
    }
}

/// Listeners the gateway serves on.
#[derive(Debug)]
pub struct Listeners {
    /// orchestrator's HTTP API.
    pub http: TcpListener,
    /// The gRPC API (with reflection and the health service).
    pub grpc: TcpListener,
}

/// Why the gateway stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A server failed.
    #[error("{server} server: {reason}")]
    Serve {
        /// Which one.
        server: &'static str,
        /// Why.
        reason: String,
    },
}

/// Serves HTTP and gRPC until `shutdown` is cancelled.
pub async fn run(
    cfg: GatewayConfig,
    bus: Arc<dyn Bus>,
    store: Store,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let http_addr = listeners.http.local_addr().ok();
    let grpc_addr = listeners.grpc.local_addr().ok();
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    let advertise = if cfg.advertise.is_empty() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        format!(
            "{scheme}://{host}:{}",
            http_addr.map(|a| a.port()).unwrap_or_default()
        )
    } else {
        cfg.advertise.clone()
    };
    let leadership = leadership::Leadership::new(advertise);
    let gw = Arc::new(Gateway {
        bus: bus.clone(),
        store,
        settings: cfg.catalog.clone(),
        catalog: catalog::CatalogCache::default(),
        command_timeout: cfg.command_timeout,
        recovery_timeout: cfg.recovery_timeout,
        candidate_expiry: cfg.candidate_expiry,
        failure_detection_period: cfg.failure_detection_period,
        tasks: TaskTracker::new(),
        shutdown: shutdown.clone(),
        leadership: leadership.clone(),
        reloader: cfg.reloader.clone(),
        pool_expiry: cfg.pool_expiry,
        resolver: cfg.resolver.clone(),
        recovery_ignore_hostname_filters: cfg.recovery_ignore_hostname_filters.clone(),
        kv: with_bus_store(cfg.kv.clone(), &cfg.nats_kv_bucket, &bus),
        ui_feed: tokio::sync::broadcast::channel(256).0,
    });
    tracing::info!(http = ?http_addr, grpc = ?grpc_addr, tls = cfg.tls.is_some(), "gateway listening");
    let leading = tokio::spawn(leadership.run(bus.clone(), shutdown.clone()));
    gw.tasks.spawn(ui::watch(gw.clone(), bus, shutdown.clone()));

    let api_base = format!("{}/api", cfg.url_prefix.trim_end_matches('/'));
    let router =
        http::router(gw.clone(), &cfg.url_prefix).layer(axum::middleware::from_fn_with_state(
            access::HttpAccess {
                control: cfg.access.clone(),
                api_base,
            },
            access::http_middleware,
        ));
    let app = tower::ServiceExt::map_request(router, http::strip_trailing_slash);
    let http_shutdown = shutdown.clone();
    let http = async {
        match &cfg.tls {
            Some(tls) => {
                let incoming = tls::accept(
                    listeners.http,
                    tls.clone(),
                    tls::Api::Http,
                    shutdown.clone(),
                )
                .map_err(|e| e.to_string())?;
                axum::serve(incoming, tower::make::Shared::new(app))
                    .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
                    .await
                    .map_err(|e| e.to_string())
            }
            None => axum::serve(
                axum::serve::ListenerExt::tap_io(listeners.http, |tcp| {
                    let _ = tcp.set_nodelay(true);
                }),
                tower::make::Shared::new(app),
            )
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
            .await
            .map_err(|e| e.to_string()),
        }
    };

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<orc_proto::v1::orchestrator_server::OrchestratorServer<grpc::GrpcApi>>()
        .await;
    health_reporter
        .set_serving::<orc_proto::v1::recovery_server::RecoveryServer<grpc::GrpcApi>>()
        .await;
    health_reporter
        .set_serving::<orc_proto::v1::topology_server::TopologyServer<grpc::GrpcApi>>()
        .await;
    health_reporter
        .set_serving::<orc_proto::v1::operator_server::OperatorServer<grpc::GrpcApi>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(orc_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Serve {
            server: "grpc",
            reason: e.to_string(),
        })?;
    let api = orc_proto::v1::orchestrator_server::OrchestratorServer::new(grpc::GrpcApi {
        gw: gw.clone(),
    });
    let analysis =
        orc_proto::v1::analysis_server::AnalysisServer::new(grpc::GrpcApi { gw: gw.clone() });
    let recovery =
        orc_proto::v1::recovery_server::RecoveryServer::new(grpc::GrpcApi { gw: gw.clone() });
    let topology =
        orc_proto::v1::topology_server::TopologyServer::new(grpc::GrpcApi { gw: gw.clone() });
    let operator =
        orc_proto::v1::operator_server::OperatorServer::new(grpc::GrpcApi { gw: gw.clone() });
    let grpc_shutdown = shutdown.clone();
    let routes = tonic::transport::Server::builder()
        .layer(telemetry::GrpcTelemetryLayer)
        .layer(access::GrpcAccessLayer {
            control: cfg.access.clone(),
        })
        .add_service(health_service)
        .add_service(reflection)
        .add_service(api)
        .add_service(analysis)
        .add_service(recovery)
        .add_service(topology)
        .add_service(operator);
    let grpc = async {
        match &cfg.tls {
            Some(tls) => {
                let incoming = tls::accept(
                    listeners.grpc,
                    tls.clone(),
                    tls::Api::Grpc,
                    shutdown.clone(),
                )
                .map_err(|e| e.to_string())?;
                routes
                    .serve_with_incoming_shutdown(incoming.into_stream(), async move {
                        grpc_shutdown.cancelled().await
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
            None => routes
                .serve_with_incoming_shutdown(
                    // Small request/response exchanges: no Nagle delay
                    // (it held unary answers ~40 ms).
                    tokio_stream::StreamExt::map(
                        tokio_stream::wrappers::TcpListenerStream::new(listeners.grpc),
                        |accepted| {
                            accepted.inspect(|tcp| {
                                let _ = tcp.set_nodelay(true);
                            })
                        },
                    ),
                    async move { grpc_shutdown.cancelled().await },
                )
                .await
                .map_err(|e| e.to_string()),
        }
    };

    let (h, g) = tokio::join!(http, grpc);
    shutdown.cancel();
    let _ = leading.await;
    gw.tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), gw.tasks.wait()).await;
    h.map_err(|reason| Error::Serve {
        server: "http",
        reason,
    })?;
    g.map_err(|reason| Error::Serve {
        server: "grpc",
        reason,
    })?;
    Ok(())
}

//! Telemetry of orchestrator-rs: logs, Prometheus metrics, OpenTelemetry
//! traces. The only crate that names `metrics-exporter-prometheus`,
//! `opentelemetry*` and `tracing-subscriber`'s layers.
//!
//! - [`init`] sets up a process once: logs on stderr (plain text, coloured
//!   only on a terminal, or one JSON object per line), the Prometheus
//!   recorder, and — when an OTLP endpoint is configured — a tracer
//!   provider exporting spans over OTLP/gRPC through the
//!   `tracing-opentelemetry` layer. The returned [`Telemetry`] flushes the
//!   spans on [`Telemetry::shutdown`].
//! - [`metrics`] names every metric once (the Grafana dashboard and the
//!   alert rules in `deploy/` use these names) and [`render_metrics`]
//!   writes the Prometheus text exposition served at `/metrics`.
//! - [`propagation`] carries a span's trace context across the bus (NATS
//!   headers) and gRPC metadata as a W3C `traceparent`, so a recovery
//!   detected in one process and carried out in another is one trace.

pub mod metrics;
pub mod propagation;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal only).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`
    /// and the fields of the enclosing spans (`spans`).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "" | "text" | "plain" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "LogFormat must be \"text\" or \"json\", got {other:?}"
            )),
        }
    }
}

/// What [`init`] sets up.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Log line format.
    pub log_format: LogFormat,
    /// Filter used when `RUST_LOG` is unset (`info` when empty).
    pub default_filter: String,
    /// OTLP/gRPC endpoint (`http://host:4317`) spans are exported to; none:
    /// no export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

/// Telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OTLP exporter could not be built.
    #[error("OTLP exporter for {endpoint}: {reason}")]
    Otlp {
        /// The endpoint configured.
        endpoint: String,
        /// Why.
        reason: String,
    },
}

/// A process's telemetry; keep it for the process's life and call
/// [`Telemetry::shutdown`] before exiting so that pending spans are sent.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends pending spans and stops the exporter. Blocking: call it from a
    /// blocking thread or after the runtime stopped.
    pub fn shutdown(self) {
        if let Some(p) = self.provider {
            let _ = p.force_flush();
            let _ = p.shutdown();
        }
    }
}

/// Sets up logs, metrics and (when configured) trace export for this
/// process. A second call changes nothing for logs and traces (the first
/// subscriber stays) and returns a handle that exports nothing. Must run
/// inside a Tokio runtime when an OTLP endpoint is given.
pub fn init(settings: &Settings) -> Result<Telemetry, Error> {
    use std::io::IsTerminal as _;
    install_metrics();
    let directive = if settings.default_filter.is_empty() {
        "info"
    } else {
        settings.default_filter.as_str()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directive));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();

    let provider = match &settings.otlp_endpoint {
        Some(endpoint) if !endpoint.is_empty() => Some(tracer_provider(endpoint, settings)?),
        _ => None,
    };
    let otel = provider.as_ref().map(|p| {
        use opentelemetry::trace::TracerProvider as _;
        tracing_opentelemetry::layer().with_tracer(p.tracer("orchestrator-rs"))
    });
    let (text, json) = match settings.log_format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(colour)
                    .with_writer(std::io::stderr),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(otel)
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        Ok(Telemetry { provider })
    } else {
        if let Some(p) = provider {
            let _ = p.shutdown();
        }
        Ok(Telemetry { provider: None })
    }
}

fn tracer_provider(
    endpoint: &str,
    settings: &Settings,
) -> Result<opentelemetry_sdk::trace::SdkTracerProvider, Error> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| Error::Otlp {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        })?;
    let name = if settings.service_name.is_empty() {
        "orchestrator"
    } else {
        settings.service_name.as_str()
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(name.to_string())
        .build();
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return
/// the same handle). `None` when another recorder was installed first.
pub fn install_metrics() -> Option<&'static PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for (name, buckets) in metrics::HISTOGRAM_BUCKETS {
                builder = builder
                    .set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full((*name).to_string()),
                        buckets,
                    )
                    .ok()?;
            }
            let handle = builder.install_recorder().ok()?;
            metrics::describe();
            Some(handle)
        })
        .as_ref()
}

/// The Prometheus text exposition of every metric of this process.
pub fn render_metrics() -> String {
    match install_metrics() {
        Some(h) => {
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;

/// Serves `GET /metrics` (and `GET /health`, `200 OK` while the process
/// runs) on `listener` until `shutdown` completes: the endpoint of a
/// process without the gateway (probers, analyzers, recovery services).
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(|| async {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    render_metrics(),
                )
            }),
        )
        .route("/health", get(|| async { "OK\n" }));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

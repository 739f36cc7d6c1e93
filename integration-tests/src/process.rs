//! The product as separate operating-system processes: the `orchestrator`
//! binary started with one role (or `serve`), its configuration in a file,
//! its log in a file, stopped with SIGTERM. And an OTLP/gRPC receiver that
//! keeps every span it is sent.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde_json::Value;

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A detached `orchestrator <role>` process for benchmarks (its output
/// discarded unless `ORC_BENCH_TRACE` is set), killed when dropped.
pub struct Role(pub std::process::Child);

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `orchestrator <role>` with `config`, written under `dir` as
/// `<name>.conf.json`.
pub fn role(dir: &Path, name: &str, role: &str, config: &Value) -> anyhow::Result<Role> {
    use anyhow::Context as _;
    let conf = dir.join(format!("{name}.conf.json"));
    std::fs::write(&conf, config.to_string())?;
    let child = std::process::Command::new(crate::workspace_binary("orchestrator"))
        .arg("--config")
        .arg(&conf)
        .arg(role)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(if std::env::var_os("ORC_BENCH_TRACE").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        })
        .spawn()
        .with_context(|| format!("starting orchestrator {role}"))?;
    Ok(Role(child))
}

/// One `orchestrator <role>` process.
pub struct RoleProcess {
    child: tokio::process::Child,
    /// Its log (stderr).
    pub log: PathBuf,
    /// `http://host:port/api` when it serves the gateway.
    pub api: Option<String>,
    _dir: tempfile::TempDir,
}

impl RoleProcess {
    /// Starts `orchestrator <role>` (`serve`, `prober`, `analyzer`,
    /// `recovery`, `gateway`) with `config`; waits for the HTTP API's
    /// announcement when the role serves it.
    pub async fn start(role: &str, config: &Value, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("orchestrator.conf.json");
        std::fs::write(&path, config.to_string())?;
        let log = dir.path().join("stderr.log");
        let mut cmd = tokio::process::Command::new(crate::workspace_binary("orchestrator"));
        cmd.arg("--config")
            .arg(&path)
            .arg(role)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let api = if matches!(role, "serve" | "http" | "gateway") {
            Some(announced_api(&mut child).await?)
        } else {
            None
        };
        Ok(Self {
            child,
            log,
            api,
            _dir: dir,
        })
    }

    /// GETs `path` under the API: (status, body).
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let api = self.api.as_ref().ok_or_else(|| anyhow::anyhow!("no API"))?;
        let url = format!("{api}/{}", path.trim_start_matches('/'));
        let resp = orc_client::fetch::get(&url, &[], Duration::from_secs(30)).await?;
        Ok((resp.status, serde_json::from_slice(&resp.body)?))
    }

    /// Its process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// kill -9, then waits for the process to end.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then waits (up to 20 s) for the process to end.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn announced_api(child: &mut tokio::process::Child) -> anyhow::Result<String> {
    use tokio::io::AsyncBufReadExt as _;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("orchestrator: HTTP API on ") {
                return Some(rest.to_string());
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    // Keep reading stdout so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found.ok_or_else(|| anyhow::anyhow!("the process announced no HTTP API within 20 s"))
}

/// GETs `http://addr/metrics` and returns the exposition.
pub async fn scrape(addr: &str) -> anyhow::Result<String> {
    let resp = orc_client::fetch::get(
        &format!("http://{addr}/metrics"),
        &[],
        Duration::from_secs(10),
    )
    .await?;
    anyhow::ensure!(resp.status == 200, "/metrics answered {}", resp.status);
    Ok(String::from_utf8_lossy(&resp.body).into_owned())
}

/// The value of the sample `series` (name with its labels as written, e.g.
/// `orchestrator_findings_total{code="DeadMaster"}`) in an exposition; 0
/// when absent.
pub fn sample(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
        .unwrap_or(0.0)
}

/// One span received.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of the process that sent it.
    pub service: String,
    /// Its name.
    pub name: String,
    /// Trace id, hex.
    pub trace: String,
    /// Span id, hex.
    pub id: String,
    /// Parent span id, hex (empty for a root).
    pub parent: String,
    /// Its string attributes.
    pub attributes: Vec<(String, String)>,
}

/// An OTLP/gRPC trace receiver on a loopback port.
pub struct OtlpReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    _task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Collect(Arc<Mutex<Vec<ReceivedSpan>>>);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl TraceService for Collect {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
        let text = |v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| match v
            .as_ref()
            .and_then(|v| v.value.as_ref())
        {
            Some(V::StringValue(s)) => s.clone(),
            Some(V::IntValue(i)) => i.to_string(),
            Some(V::BoolValue(b)) => b.to_string(),
            Some(V::DoubleValue(d)) => d.to_string(),
            _ => String::new(),
        };
        let mut got = Vec::new();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .map(|a| text(&a.value))
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for s in ss.spans {
                    got.push(ReceivedSpan {
                        service: service.clone(),
                        name: s.name.clone(),
                        trace: hex(&s.trace_id),
                        id: hex(&s.span_id),
                        parent: hex(&s.parent_span_id),
                        attributes: s
                            .attributes
                            .iter()
                            .map(|a| (a.key.clone(), text(&a.value)))
                            .collect(),
                    });
                }
            }
        }
        if let Ok(mut spans) = self.0.lock() {
            spans.extend(got);
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl OtlpReceiver {
    /// Starts a receiver on 127.0.0.1.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let spans = Arc::new(Mutex::new(Vec::new()));
        let service = TraceServiceServer::new(Collect(spans.clone()));
        let task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await;
        });
        Ok(Self {
            addr,
            spans,
            _task: task,
        })
    }

    /// `http://addr`, for `OtlpEndpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

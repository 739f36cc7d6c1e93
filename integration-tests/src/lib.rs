//! End-to-end tests and benchmarks of orchestrator-rs.
//!
//! The tests in `tests/` start real `mariadbd` topologies and a real
//! `nats-server` through `orc-testkit` and drive the product as users do:
//! through orchestrator-client, the HTTP API and gRPC. The benchmarks in
//! `benches/` print figures (`cargo bench -p integration-tests`); they never
//! assert on time. This library holds what they share: [`Orc`], the product
//! running in-process on port 0, and small measuring helpers.

pub mod fleet;
pub mod pki;
pub mod process;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestrator::roles::{self, Roles};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Median, minimum and maximum of a sample, for benchmark reports.
pub fn summarize(samples: &[Duration]) -> (Duration, Duration, Duration) {
    let mut v = samples.to_vec();
    v.sort();
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    }
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2
    };
    (median, v[0], v[v.len() - 1])
}

/// Resident set size of a process in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// CPU time (user + system, every thread) this process has used so far,
/// from the scheduler's precise accounting (`CLOCK_PROCESS_CPUTIME_ID`), not
/// the 10 ms ticks of `/proc/self/stat`.
pub fn process_cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(|t| Duration::new(t.tv_sec().max(0) as u64, t.tv_nsec().max(0) as u32))
        .unwrap_or_default()
}

/// Logs the product's decisions into the test's captured output, shown
/// when a test fails (`RUST_LOG` overrides the default filter).
pub fn init_test_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,recovery=info,analyzer=info,gateway=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// The configuration tests start the product with: the sandbox's topology
/// user, port 0 listeners, a private SQLite file, keys as probed.
pub fn test_config(sqlite: &std::path::Path, poll_seconds: f64) -> Value {
    json!({
        "MySQLTopologyUser": orchestrator::sandbox::TOPOLOGY_USER,
        "MySQLTopologyPassword": orchestrator::sandbox::TOPOLOGY_PASSWORD,
        "InstancePollSeconds": poll_seconds,
        "MySQLConnectTimeoutSeconds": 1,
        "MySQLDiscoveryReadTimeoutSeconds": 2,
        "ListenAddress": "127.0.0.1:0",
        "GrpcListenAddress": "127.0.0.1:0",
        "BackendDB": "sqlite",
        "SQLite3DataFile": sqlite.display().to_string(),
        "MySQLHostnameResolveMethod": "none",
    })
}

/// The product running in this process (all roles, or some over NATS).
pub struct Orc {
    /// HTTP API address.
    pub http: SocketAddr,
    /// gRPC address.
    pub grpc: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), roles::Error>>,
    _dir: Option<tempfile::TempDir>,
    /// Who the test harness calls as (the configured user, or a power
    /// user under proxy authentication).
    pub identity: Identity,
}

/// How the harness authenticates to an API it started.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// HTTP basic credentials.
    pub basic: Option<(String, String)>,
    /// A `Header: value` naming the user to an API behind a proxy.
    pub header: Option<(String, String)>,
}

impl Identity {
    /// The identity with full rights in a configuration.
    pub fn for_config(config: &Value) -> Self {
        let text = |k: &str| config[k].as_str().unwrap_or_default().to_string();
        match text("AuthenticationMethod").to_ascii_lowercase().as_str() {
            "basic" | "multi" => Identity {
                basic: Some((text("HTTPAuthUser"), text("HTTPAuthPassword"))),
                header: None,
            },
            "proxy" => {
                let header = match text("AuthUserHeader") {
                    h if h.is_empty() => "X-Forwarded-User".to_string(),
                    h => h,
                };
                let user = config["PowerAuthUsers"]
                    .as_array()
                    .and_then(|a| a.iter().filter_map(Value::as_str).find(|u| *u != "*"))
                    .unwrap_or("anyone")
                    .to_string();
                Identity {
                    basic: None,
                    header: Some((header, user)),
                }
            }
            _ => Identity::default(),
        }
    }

    /// As HTTP headers.
    pub fn headers(&self) -> Vec<(String, String)> {
        use base64::Engine as _;
        let mut h = Vec::new();
        if let Some((u, p)) = &self.basic {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            h.push(("Authorization".to_string(), format!("Basic {token}")));
        }
        if let Some((k, v)) = &self.header {
            h.push((k.clone(), v.clone()));
        }
        h
    }
}

impl Orc {
    /// Starts every role on the in-process bus (or over `nats`).
    pub async fn start(nats: Option<&str>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let config = test_config(&dir.path().join("orc.sqlite3"), 1.0);
        Self::start_with(config, Roles::ALL, nats, Some(dir)).await
    }

    /// Starts `roles` with a JSON configuration.
    pub async fn start_with(
        config: Value,
        roles: Roles,
        nats: Option<&str>,
        dir: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Self> {
        init_test_tracing();
        let identity = Identity::for_config(&config);
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(file.path(), config.to_string())?;
        let (config, _) = orc_runtime::Config::load(Some(file.path()), &[])?;
        let shutdown = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stop = shutdown.clone();
        let nats = nats.map(str::to_string);
        let task = tokio::spawn(async move {
            roles::run(config, roles, nats, stop, move |b| {
                let _ = tx.send(b);
            })
            .await
        });
        let bound = if roles.gateway {
            match tokio::time::timeout(Duration::from_secs(10), rx).await {
                Ok(Ok(b)) => Some(b),
                _ => None,
            }
        } else {
            None
        };
        let (http, grpc) = match bound {
            Some(b) => (b.http, b.grpc),
            None if !roles.gateway => ("0.0.0.0:0".parse()?, "0.0.0.0:0".parse()?),
            None => anyhow::bail!("orchestrator did not start: {:?}", task.await),
        };
        Ok(Self {
            http,
            grpc,
            shutdown,
            task,
            _dir: dir,
            identity,
        })
    }

    /// `http://<addr>/api`.
    pub fn api(&self) -> String {
        format!("http://{}/api", self.http)
    }

    /// Runs orchestrator-client against this API: (status, stdout, stderr).
    pub async fn client(&self, args: &[&str]) -> (i32, String, String) {
        let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env = orc_client::Env {
            api: Some(self.api()),
            retries: Some(0),
            auth_user: self.identity.basic.as_ref().map(|(u, _)| u.clone()),
            auth_password: self.identity.basic.as_ref().map(|(_, p)| p.clone()),
            auth_header: self
                .identity
                .header
                .as_ref()
                .map(|(k, v)| format!("{k}: {v}")),
            ..Default::default()
        };
        run_client(&argv, &env).await
    }

    /// GETs an API path and returns (HTTP status, JSON).
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}/{}", self.api(), path.trim_start_matches('/'));
        let resp =
            orc_client::fetch::get(&url, &self.identity.headers(), Duration::from_secs(30)).await?;
        Ok((resp.status, serde_json::from_slice(&resp.body)?))
    }

    /// `audit-recovery`: every recovery, newest first.
    pub async fn recoveries(&self) -> Vec<Value> {
        match self.get("audit-recovery").await {
            Ok((_, Value::Array(list))) => list,
            _ => Vec::new(),
        }
    }

    /// The recoveries once at least one has ended (within 5 s), else what
    /// there is.
    pub async fn ended_recoveries(&self) -> Vec<Value> {
        eventually(Duration::from_secs(5), || async {
            let list = self.recoveries().await;
            list.iter()
                .any(|r| r["RecoveryEndTimestamp"] != "")
                .then_some(list)
        })
        .await
        .unwrap_or_default()
    }

    /// Stops every role and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await??;
        Ok(())
    }

    /// Aborts the roles as a crash would (no goodbye).
    pub fn crash(self) {
        self.task.abort();
    }
}

/// Runs orchestrator-client with `env`: (status, stdout, stderr).
pub async fn run_client(argv: &[String], env: &orc_client::Env) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = orc_client::run(argv, env, &mut out, &mut err).await;
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// The configuration keys of a MySQL backend on the sandbox server
/// `backend` (database `orchestrator`, user root).
pub fn mysql_backend(backend: &orc_testkit::Sandbox) -> Value {
    json!({
        "BackendDB": "mysql",
        "MySQLOrchestratorHost": "127.0.0.1",
        "MySQLOrchestratorPort": backend.instance("backend").map(|i| i.port()).unwrap_or(0),
        "MySQLOrchestratorUser": "root",
        "MySQLOrchestratorPassword": "",
        "MySQLOrchestratorDatabase": "orchestrator",
    })
}

/// `config` with every key of `extra` set (replaced).
pub fn merged(mut config: Value, extra: Value) -> Value {
    if let Some(extra) = extra.as_object() {
        for (k, v) in extra {
            config[k] = v.clone();
        }
    }
    config
}

/// Starts every role (polling every 0.5 s, `extra` configuration on top of
/// [`test_config`]), discovers the sandbox through `master` with
/// orchestrator-client, and waits until every instance is known and
/// healthy.
pub async fn orc_on(sb: &orc_testkit::Sandbox, master: &str, extra: Value) -> anyhow::Result<Orc> {
    orc_on_with(sb, master, extra, None).await
}

/// As [`orc_on`], over NATS when `nats` is given.
pub async fn orc_on_with(
    sb: &orc_testkit::Sandbox,
    master: &str,
    extra: Value,
    nats: Option<&str>,
) -> anyhow::Result<Orc> {
    let dir = tempfile::tempdir()?;
    let mut config = test_config(&dir.path().join("o.sqlite3"), 0.5);
    if let Some(extra) = extra.as_object() {
        for (k, v) in extra {
            config[k] = v.clone();
        }
    }
    let orc = Orc::start_with(config, Roles::ALL, nats, Some(dir)).await?;
    let (code, _, err) = orc.client(&["-c", "discover", "-i", master]).await;
    anyhow::ensure!(code == 0, "discover {master}: {err}");
    let n = sb.instances().len();
    let last_seen = std::sync::Mutex::new(Vec::new());
    eventually(Duration::from_secs(10), || async {
        let (_, all) = orc.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        if let Ok(mut seen) = last_seen.lock() {
            *seen = all
                .iter()
                .map(|i| {
                    format!(
                        "{}:{} valid={} master={}:{}",
                        i["Key"]["Hostname"],
                        i["Key"]["Port"],
                        i["IsLastCheckValid"],
                        i["MasterKey"]["Hostname"],
                        i["MasterKey"]["Port"]
                    )
                })
                .collect();
        }
        (all.len() == n && all.iter().all(|i| i["IsLastCheckValid"] == true)).then_some(())
    })
    .await
    .ok_or_else(|| {
        let seen = last_seen.lock().map(|s| s.clone()).unwrap_or_default();
        anyhow::anyhow!("topology of {n} not known and healthy within 10 s; last seen: {seen:?}")
    })?;
    let (_, analysis) = orc.get("replication-analysis").await?;
    // Structure warnings (no GTID, mixed binlog formats, ...) describe a
    // topology a test may build on purpose; they are not problems.
    let problems: Vec<&Value> = analysis["Details"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["Analysis"] != "NoProblem").collect())
        .unwrap_or_default();
    anyhow::ensure!(
        problems.is_empty(),
        "not healthy before the fault: {analysis}"
    );
    Ok(orc)
}

/// How a server replicates now: (source port, IO running, SQL running).
pub async fn source_of(sb: &orc_testkit::Sandbox, name: &str) -> Option<(u16, bool, bool)> {
    let row = sb.replica_status(name).await.ok()??;
    Some((
        row.get("Master_Port")?.parse().ok()?,
        row.get("Slave_IO_Running") == Some("Yes"),
        row.get("Slave_SQL_Running") == Some("Yes"),
    ))
}

/// Whether a server is read-only.
pub async fn read_only(sb: &orc_testkit::Sandbox, name: &str) -> Option<bool> {
    let rows = sb.sql(name, "SELECT @@global.read_only").await.ok()?;
    Some(rows.first()?.at(0)? == "1")
}

/// The name of the writable server every other live server replicates from.
pub async fn settled_master(sb: &orc_testkit::Sandbox, live: &[&str]) -> Option<String> {
    for candidate in live {
        if read_only(sb, candidate).await? || sb.replica_status(candidate).await.ok()?.is_some() {
            continue;
        }
        let port = sb.instance(candidate).ok()?.port();
        let mut all = true;
        for other in live.iter().filter(|o| *o != candidate) {
            if source_of(sb, other).await != Some((port, true, true)) {
                all = false;
                break;
            }
        }
        if all {
            return Some((*candidate).to_string());
        }
    }
    None
}

/// Polls `check` every 10 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Only the prober role (for tests that run probers on their own runtimes).
pub const PROBER_ONLY: Roles = Roles {
    prober: true,
    analyzer: false,
    recovery: false,
    gateway: false,
};

/// Prints the figure `scripts/chaos` tabulates for the scenario a test
/// plays (seconds, e.g. fault → every replica on the new master).
pub fn chaos_figure(took: Duration) {
    eprintln!("chaos-figure: {:.3}", took.as_secs_f64());
}

/// A firewall rule on this host (nftables), removed when dropped: drops
/// outgoing TCP to `addr:port`, as a network partition between the
/// probers and one server would.
pub struct Firewall {
    table: String,
}

impl Firewall {
    /// Blocks outgoing TCP to `addr:port` (needs root and `nft`).
    pub fn block(addr: std::net::Ipv4Addr, port: u16) -> anyhow::Result<Self> {
        Self::rules(addr, port, &["daddr"])
    }

    /// Cuts the server at `addr:port` off from everyone on this host: TCP to
    /// it and from it is dropped, established connections included, as a
    /// partition around that server would (needs root and `nft`).
    pub fn isolate(addr: std::net::Ipv4Addr, port: u16) -> anyhow::Result<Self> {
        Self::rules(addr, port, &["daddr", "saddr"])
    }

    fn rules(addr: std::net::Ipv4Addr, port: u16, sides: &[&str]) -> anyhow::Result<Self> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let table = format!("orc_test_{}_{n}", std::process::id());
        let nft = |args: &[&str]| -> anyhow::Result<()> {
            let out = std::process::Command::new("nft").args(args).output()?;
            anyhow::ensure!(
                out.status.success(),
                "nft {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(())
        };
        nft(&["add", "table", "inet", &table])?;
        let guard = Self {
            table: table.clone(),
        };
        nft(&[
            "add",
            "chain",
            "inet",
            &table,
            "out",
            "{ type filter hook output priority 0; policy accept; }",
        ])?;
        for side in sides {
            let port_side = if *side == "daddr" { "dport" } else { "sport" };
            nft(&[
                "add",
                "rule",
                "inet",
                &table,
                "out",
                "ip",
                side,
                &addr.to_string(),
                "tcp",
                port_side,
                &port.to_string(),
                "drop",
            ])?;
        }
        Ok(guard)
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .output();
    }
}

/// Follows the findings the product publishes, over its gRPC API.
pub async fn follow_findings(
    orc: &Orc,
) -> anyhow::Result<tonic::Streaming<orc_proto::v1::Finding>> {
    let mut client =
        orc_proto::v1::analysis_client::AnalysisClient::connect(format!("http://{}", orc.grpc))
            .await?;
    let stream = client
        .stream_findings(orc_proto::v1::StreamFindingsRequest { from_start: false })
        .await?
        .into_inner();
    Ok(stream)
}

/// Every server of a sandbox read directly, in the shape the planner
/// predicts (`Predicted` of a dry run): `host:port` → its source (or
/// null), whether both replication threads run, read-only, detached.
pub async fn observed_shape(
    sb: &orc_testkit::Sandbox,
) -> std::collections::BTreeMap<String, Value> {
    let mut out = std::collections::BTreeMap::new();
    for inst in sb.instances() {
        if !inst.is_running() {
            continue;
        }
        let name = inst.name();
        let Ok(status) = sb.replica_status(name).await else {
            continue;
        };
        let (source, replicating, detached) = match status {
            Some(r) => {
                let host = r.get("Master_Host").unwrap_or_default().to_string();
                let port = r.get("Master_Port").unwrap_or("0").to_string();
                let detached = host.starts_with("//");
                let source = (!host.is_empty() && host != "_" && !detached && port != "0")
                    .then(|| format!("{host}:{port}"));
                let running = r.get("Slave_IO_Running") == Some("Yes")
                    && r.get("Slave_SQL_Running") == Some("Yes");
                (source, running, detached)
            }
            None => (None, false, false),
        };
        let ro = read_only(sb, name).await.unwrap_or(false);
        out.insert(
            inst.key(),
            json!({"Source": source, "Replicating": replicating, "ReadOnly": ro, "Detached": detached}),
        );
    }
    out
}

/// Builds the release `orchestrator` and `fleet-sim` binaries the
/// benchmarks start (with cargo from the benchmark's environment; always
/// the same set, so features unify the same way and nothing is rebuilt
/// between benchmarks).
pub fn build_release_binaries() -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "--release"])
        .args(["-p", "orchestrator", "--bin", "orchestrator"])
        .args(["-p", "fleet-sim", "--bin", "fleet-sim"])
        .status()?;
    anyhow::ensure!(
        built.success(),
        "building orchestrator and fleet-sim failed"
    );
    Ok(())
}

/// Where a workspace binary was built (beside this test's own binary).
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    dir.join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_the_middle_of_a_sorted_sample() {
        let ms = Duration::from_millis;
        assert_eq!(summarize(&[ms(3), ms(1), ms(2)]), (ms(2), ms(1), ms(3)));
        assert_eq!(
            summarize(&[ms(4), ms(1), ms(2), ms(3)]).0,
            Duration::from_micros(2500)
        );
    }
}

/// Which of `names` answer, each within 300 ms (a frozen, dead or cut-off
/// server does not count), as writable masters: `read_only` off and no
/// replication configured. Asked as a client would, over TCP on
/// 127.0.0.1 with a fresh connection (a server cut off by the firewall is
/// cut off from this sampler too; the unix socket would not be).
pub async fn writable_masters(sb: &orc_testkit::Sandbox, names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        let Ok(instance) = sb.instance(name) else {
            continue;
        };
        let mut opts = instance.tcp_options(
            std::net::Ipv4Addr::LOCALHOST,
            orchestrator::sandbox::TOPOLOGY_USER,
            orchestrator::sandbox::TOPOLOGY_PASSWORD,
        );
        opts.connect_timeout = Duration::from_millis(300);
        opts.read_timeout = Duration::from_millis(300);
        let probe = async {
            let mut s = orc_mysql::Session::connect(&opts).await.ok()?;
            let ro = s.query_value("SELECT @@global.read_only").await.ok()??;
            let replica = !s.query("SHOW SLAVE STATUS").await.ok()?.is_empty();
            Some(ro.trim() == "0" && !replica)
        };
        if let Ok(Some(true)) = tokio::time::timeout(Duration::from_millis(300), probe).await {
            out.push((*name).to_string());
        }
    }
    out
}

/// Moments (when the sample ended) at which two or more servers answered
/// as writable masters, with their names.
pub type SplitBrains = Vec<(Instant, Vec<String>)>;

/// Samples servers of a sandbox every 100 ms, with fresh connections, for
/// two writable masters at once, until [`SplitBrain::finish`].
#[derive(Debug)]
pub struct SplitBrain {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<SplitBrains>,
}

impl SplitBrain {
    /// Starts sampling `names` of `sb`.
    pub fn sample(sb: Arc<orc_testkit::Sandbox>, names: &[&str]) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let names: Vec<String> = names.iter().map(|n| (*n).to_string()).collect();
        let task = tokio::spawn(async move {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut bad = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let w = writable_masters(&sb, &names).await;
                if w.len() > 1 {
                    bad.push((Instant::now(), w));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            bad
        });
        Self { stop, task }
    }

    /// Stops sampling; returns the samples that found two or more.
    pub async fn finish(self) -> SplitBrains {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

//! A real `nats-server` with JetStream on a free port, plain or TLS-only,
//! or a cluster of them on loopback ([`NatsCluster`]).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::{binaries, ports, process};

/// TLS of a test's `nats-server`: every client must speak TLS; with
/// `verify`, every client must also present a certificate signed by `ca`.
#[derive(Debug, Clone)]
pub struct NatsTls {
    /// PEM authority client certificates must chain to.
    pub ca: PathBuf,
    /// PEM server certificate.
    pub cert: PathBuf,
    /// PEM private key of the server certificate.
    pub key: PathBuf,
    /// Require client certificates (mutual TLS).
    pub verify: bool,
}

/// A `nats-server -js` owned by a test; killed and its store removed on drop.
#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    tls: Option<NatsTls>,
    name: String,
    dir: PathBuf,
    binary: PathBuf,
    child: Mutex<Option<Child>>,
    guardian: Mutex<Option<Child>>,
    cluster: Option<ClusterArgs>,
}

/// A node's place in a cluster: its route port, its peers' route ports,
/// and its monitoring port (for `/healthz`).
#[derive(Debug, Clone)]
struct ClusterArgs {
    port: u16,
    routes: Vec<u16>,
    monitor: u16,
}

impl NatsServer {
    /// Starts the newest `nats-server` found (see [`binaries::nats_server`]).
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(binaries::nats_server()?).await
    }

    /// Starts the newest `nats-server` accepting TLS clients only.
    pub async fn start_tls(tls: NatsTls) -> Result<Self, Error> {
        Self::start_configured(binaries::nats_server()?, Some(tls)).await
    }

    /// Starts a given `nats-server` binary.
    pub async fn start_with(binary: PathBuf) -> Result<Self, Error> {
        Self::start_configured(binary, None).await
    }

    /// A server not yet spawned, with its own directory and guardian.
    fn prepare(binary: PathBuf, tls: Option<NatsTls>, tag: &str) -> Result<Self, Error> {
        let dir = process::scratch_dir("orcnats", tag, "")?;
        let guardian = process::spawn_guardian(std::process::id(), &dir)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "orcnats".into());
        Ok(Self {
            port: 0,
            tls,
            name,
            dir,
            binary,
            child: Mutex::new(None),
            guardian: Mutex::new(Some(guardian)),
            cluster: None,
        })
    }

    async fn start_configured(binary: PathBuf, tls: Option<NatsTls>) -> Result<Self, Error> {
        let mut server = Self::prepare(binary, tls, "")?;
        let mut last = String::new();
        for _ in 0..5 {
            server.port = ports::free_port(&[])?;
            match server.spawn().await {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(Error::Startup {
            name: "nats-server".into(),
            reason: last,
            log: server.log(),
            log_tail: process::tail(&server.log(), 20),
        })
    }

    /// The configuration file of a TLS server (`None` without TLS).
    fn write_tls_config(&self) -> Result<Option<PathBuf>, String> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let quoted = |p: &PathBuf| format!("{:?}", p.display().to_string());
        let conf = format!(
            "tls {{\n  cert_file: {}\n  key_file: {}\n  ca_file: {}\n  verify: {}\n  timeout: 2\n}}\n",
            quoted(&tls.cert),
            quoted(&tls.key),
            quoted(&tls.ca),
            tls.verify,
        );
        let path = self.dir.join("nats.conf");
        std::fs::write(&path, conf).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(Some(path))
    }

    async fn spawn(&self) -> Result<(), String> {
        let mut command = Command::new(&self.binary);
        if let Some(conf) = self.write_tls_config()? {
            command.arg("-c").arg(conf);
        }
        if let Some(c) = &self.cluster {
            let routes: Vec<String> = c
                .routes
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect();
            command
                .args(["--cluster_name", "orc-test", "--cluster"])
                .arg(format!("nats://127.0.0.1:{}", c.port))
                .arg("--routes")
                .arg(routes.join(","))
                .args(["-m", &c.monitor.to_string()]);
        }
        let child = command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-n",
                &self.name,
            ])
            .arg("-sd")
            .arg(self.dir.join("store"))
            .arg("-l")
            .arg(self.log())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        let started = Instant::now();
        loop {
            let exited = {
                let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
                guard.as_mut().and_then(|c| c.try_wait().ok().flatten())
            };
            if let Some(status) = exited {
                return Err(format!("nats-server exited with {status}"));
            }
            match self.server_name_on_port().await {
                Some(name) if name == self.name => return Ok(()),
                Some(other) => {
                    return Err(format!("port {} is taken by server {other}", self.port));
                }
                None => {}
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err("no connection after 10s".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The `server_name` announced in the INFO line of whatever listens on our port.
    async fn server_name_on_port(&self) -> Option<String> {
        use tokio::io::AsyncBufReadExt as _;
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        let mut reader = tokio::io::BufReader::new(stream);
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(2), reader.read_line(&mut line))
            .await
            .ok()?
            .ok()?;
        let json = line.strip_prefix("INFO ")?;
        let value: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
        value.get("server_name")?.as_str().map(str::to_string)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("nats.log")
    }

    /// `nats://127.0.0.1:<port>` (`tls://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "tls" } else { "nats" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's version.
    pub fn version(&self) -> Option<(u32, u32, u32)> {
        binaries::version_of(&self.binary)
    }

    /// kill -9 (the JetStream store survives for [`NatsServer::restart`]).
    pub fn kill(&self) {
        if let Some(mut c) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            process::kill_child(&mut c);
        }
    }

    /// Starts the server again on the same port and store.
    pub async fn restart(&self) -> Result<(), Error> {
        self.kill();
        self.spawn().await.map_err(|reason| Error::Startup {
            name: "nats-server".into(),
            reason,
            log: self.log(),
            log_tail: process::tail(&self.log(), 20),
        })
    }
}

/// Several `nats-server -js` on loopback forming one cluster (JetStream
/// clustered: streams with replicas survive the loss of a node). Killed
/// and their stores removed on drop.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `size` nodes of the newest `nats-server` and waits until
    /// JetStream is healthy on every one (a meta leader elected).
    pub async fn start(size: usize) -> Result<Self, Error> {
        let binary = binaries::nats_server()?;
        let mut taken = Vec::new();
        let mut fresh = || -> Result<u16, Error> {
            loop {
                let p = ports::free_port(&[])?;
                if !taken.contains(&p) {
                    taken.push(p);
                    return Ok(p);
                }
            }
        };
        let mut plan = Vec::new();
        for _ in 0..size {
            plan.push((fresh()?, fresh()?, fresh()?));
        }
        let mut nodes = Vec::new();
        for (i, (client, route, monitor)) in plan.iter().enumerate() {
            let mut node = NatsServer::prepare(binary.clone(), None, &format!("-c{i}"))?;
            node.port = *client;
            node.cluster = Some(ClusterArgs {
                port: *route,
                routes: plan
                    .iter()
                    .filter(|(_, r, _)| r != route)
                    .map(|(_, r, _)| *r)
                    .collect(),
                monitor: *monitor,
            });
            nodes.push(node);
        }
        let cluster = Self { nodes };
        for node in &cluster.nodes {
            node.spawn()
                .await
                .map_err(|reason| node.startup_error(reason))?;
        }
        cluster.wait_healthy(Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    /// Waits until every running node answers `/healthz` with JetStream
    /// healthy.
    pub async fn wait_healthy(&self, within: Duration) -> Result<(), Error> {
        let started = Instant::now();
        for node in &self.nodes {
            if !node.is_running() {
                continue;
            }
            loop {
                if node.healthy().await {
                    break;
                }
                if started.elapsed() > within {
                    return Err(
                        node.startup_error(format!("JetStream not healthy after {within:?}"))
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Every node's URL, comma-separated (what clients are given).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &NatsServer {
        &self.nodes[i]
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NatsServer {
    fn startup_error(&self, reason: String) -> Error {
        Error::Startup {
            name: "nats-server".into(),
            reason,
            log: self.log(),
            log_tail: process::tail(&self.log(), 20),
        }
    }

    /// Whether the process runs (not killed).
    pub fn is_running(&self) -> bool {
        self.child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Whether a cluster node's `/healthz` says JetStream is healthy.
    async fn healthy(&self) -> bool {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let Some(c) = &self.cluster else {
            return true;
        };
        let ask = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", c.monitor))
                .await
                .ok()?;
            s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                .await
                .ok()?;
            let mut body = String::new();
            s.read_to_string(&mut body).await.ok()?;
            Some(body.starts_with("HTTP/1.1 200") || body.starts_with("HTTP/1.0 200"))
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), ask).await,
            Ok(Some(true))
        )
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        if let Some(mut g) = self
            .guardian
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            process::kill_child(&mut g);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! A real `nats-server` with JetStream on a free port, plain or TLS-only.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, io};
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

    async fn start_configured(binary: PathBuf, tls: Option<NatsTls>) -> Result<Self, Error> {
        let dir = std::env::temp_dir().join(format!(
            "orcnats-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() & 0xffffff)
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let guardian = process::spawn_guardian(std::process::id(), &dir)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "orcnats".into());
        let server = Self {
            port: 0,
            tls,
            name,
            dir,
            binary,
            child: Mutex::new(None),
            guardian: Mutex::new(Some(guardian)),
        };
        let mut last = String::new();
        let mut server = server;
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

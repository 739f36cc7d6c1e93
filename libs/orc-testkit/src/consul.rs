//! A real Consul agent in development mode (one in-memory server) on free
//! loopback ports, when a `consul` binary exists (env `ORC_CONSUL`, else
//! `consul` on `PATH`). No Debian package or other allowed registry ships
//! one, so tests built on it say so and skip where it is missing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, io};
use crate::{ports, process};

/// A `consul agent -dev` owned by a test; killed and its files removed on
/// drop.
#[derive(Debug)]
pub struct ConsulServer {
    http_port: u16,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
    guardian: Mutex<Option<Child>>,
}

/// Where the `consul` binary is, if anywhere.
pub fn consul_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ORC_CONSUL") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("consul"))
            .find(|p| p.is_file())
    })
}

impl ConsulServer {
    /// Starts the agent and waits until it has elected itself leader.
    pub async fn start() -> Result<Self, Error> {
        let binary = consul_binary().ok_or(Error::MissingBinary {
            program: "consul",
            looked_in: "ORC_CONSUL and PATH".into(),
            env: "ORC_CONSUL",
        })?;
        let dir = process::scratch_dir("orcconsul", "", "")?;
        let guardian = process::spawn_guardian(std::process::id(), &dir)?;
        let mut taken: Vec<u16> = Vec::new();
        while taken.len() < 4 {
            let p = ports::free_port(&[])?;
            if !taken.contains(&p) {
                taken.push(p);
            }
        }
        let (http, serf_lan, serf_wan, server) = (taken[0], taken[1], taken[2], taken[3]);
        let log = dir.join("consul.log");
        let log_file =
            std::fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let child = Command::new(&binary)
            .args(["agent", "-dev", "-node", "orc-test"])
            .args(["-bind", "127.0.0.1", "-client", "127.0.0.1"])
            .args(["-http-port", &http.to_string()])
            .args(["-serf-lan-port", &serf_lan.to_string()])
            .args(["-serf-wan-port", &serf_wan.to_string()])
            .args(["-server-port", &server.to_string()])
            .args(["-dns-port", "-1", "-grpc-port", "-1"])
            .stdin(Stdio::null())
            .stdout(
                log_file
                    .try_clone()
                    .map_err(io("duplicating the log handle".to_string()))?,
            )
            .stderr(log_file)
            .spawn()
            .map_err(io(format!("starting {}", binary.display())))?;
        let agent = Self {
            http_port: http,
            dir,
            child: Mutex::new(Some(child)),
            guardian: Mutex::new(Some(guardian)),
        };
        let started = Instant::now();
        while !agent.led().await {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(Error::Startup {
                    name: "consul".into(),
                    reason: "no leader after 30s".into(),
                    log: log.clone(),
                    log_tail: process::tail(&log, 20),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(agent)
    }

    /// Whether `/v1/status/leader` names a leader.
    async fn led(&self) -> bool {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let ask = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.http_port))
                .await
                .ok()?;
            s.write_all(b"GET /v1/status/leader HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                .await
                .ok()?;
            let mut answer = String::new();
            s.read_to_string(&mut answer).await.ok()?;
            let body = answer.split("\r\n\r\n").nth(1)?.trim().to_string();
            Some(answer.starts_with("HTTP/1.0 200") && body.len() > 2)
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), ask).await,
            Ok(Some(true))
        )
    }

    /// `127.0.0.1:<port>` (`ConsulAddress`).
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }
}

impl Drop for ConsulServer {
    fn drop(&mut self) {
        process::stop_and_clean([&self.child, &self.guardian], &self.dir);
    }
}

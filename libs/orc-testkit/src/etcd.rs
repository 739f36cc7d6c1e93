//! A real single-member etcd on free loopback ports.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, io};
use crate::{ports, process};

/// An `etcd` owned by a test; killed and its data removed on drop.
#[derive(Debug)]
pub struct EtcdServer {
    client_port: u16,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
    guardian: Mutex<Option<Child>>,
}

impl EtcdServer {
    /// Starts `etcd` (env `ORC_ETCD` or `/usr/bin/etcd`, Debian's
    /// `etcd-server`) and waits until it answers `/health`.
    pub async fn start() -> Result<Self, Error> {
        let binary = std::env::var_os("ORC_ETCD")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/etcd"));
        if !binary.is_file() {
            return Err(Error::MissingBinary {
                program: "etcd",
                looked_in: binary.display().to_string(),
                env: "ORC_ETCD",
            });
        }
        let dir = process::scratch_dir("orcetcd", "", "")?;
        let guardian = process::spawn_guardian(std::process::id(), &dir)?;
        let client_port = ports::free_port(&[])?;
        let mut peer_port = ports::free_port(&[])?;
        while peer_port == client_port {
            peer_port = ports::free_port(&[])?;
        }
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = dir.join("etcd.log");
        let log_file =
            std::fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let child = Command::new(&binary)
            .arg("--name")
            .arg("orc-test")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("orc-test={peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                log_file
                    .try_clone()
                    .map_err(io("duplicating the log handle".to_string()))?,
            )
            .spawn()
            .map_err(io(format!("starting {}", binary.display())))?;
        let server = Self {
            client_port,
            dir,
            child: Mutex::new(Some(child)),
            guardian: Mutex::new(Some(guardian)),
        };
        let started = Instant::now();
        while !server.healthy().await {
            if started.elapsed() > Duration::from_secs(20) {
                return Err(Error::Startup {
                    name: "etcd".into(),
                    reason: "not healthy after 20s".into(),
                    log: log.clone(),
                    log_tail: process::tail(&log, 20),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    async fn healthy(&self) -> bool {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let ask = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.client_port))
                .await
                .ok()?;
            s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                .await
                .ok()?;
            let mut body = String::new();
            s.read_to_string(&mut body).await.ok()?;
            Some(body.contains("\"health\":\"true\""))
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), ask).await,
            Ok(Some(true))
        )
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        process::stop_and_clean([&self.child, &self.guardian], &self.dir);
    }
}

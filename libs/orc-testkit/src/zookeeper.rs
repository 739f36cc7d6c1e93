//! A real standalone ZooKeeper (Debian's `zookeeper` package) on a free
//! loopback port.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, io};
use crate::{ports, process};

/// A ZooKeeper owned by a test; killed and its data removed on drop.
#[derive(Debug)]
pub struct ZooKeeperServer {
    port: u16,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
    guardian: Mutex<Option<Child>>,
}

impl ZooKeeperServer {
    /// Starts `org.apache.zookeeper.server.ZooKeeperServerMain` from
    /// `ORC_ZOOKEEPER_JAR` or `/usr/share/java/zookeeper.jar` with `java`,
    /// and waits until it accepts connections and answers a session.
    pub async fn start() -> Result<Self, Error> {
        let jar = std::env::var_os("ORC_ZOOKEEPER_JAR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/share/java/zookeeper.jar"));
        if !jar.is_file() {
            return Err(Error::MissingBinary {
                program: "zookeeper",
                looked_in: jar.display().to_string(),
                env: "ORC_ZOOKEEPER_JAR",
            });
        }
        let dir = process::scratch_dir("orczk", "", "data")?;
        let guardian = process::spawn_guardian(std::process::id(), &dir)?;
        let port = ports::free_port(&[])?;
        let conf = dir.join("zoo.cfg");
        std::fs::write(
            &conf,
            format!(
                "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxSessionTimeout=20000\n",
                dir.join("data").display()
            ),
        )
        .map_err(io(format!("writing {}", conf.display())))?;
        let log = dir.join("zookeeper.log");
        let log_file =
            std::fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let child = Command::new("java")
            .arg("-Xmx128m")
            .arg("-cp")
            .arg(&jar)
            .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(
                log_file
                    .try_clone()
                    .map_err(io("duplicating the log handle".to_string()))?,
            )
            .stderr(log_file)
            .spawn()
            .map_err(io("starting java (ZooKeeper)".to_string()))?;
        let server = Self {
            port,
            dir,
            child: Mutex::new(Some(child)),
            guardian: Mutex::new(Some(guardian)),
        };
        let started = Instant::now();
        while !server.answers().await {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(Error::Startup {
                    name: "zookeeper".into(),
                    reason: "no session within 30s".into(),
                    log: log.clone(),
                    log_tail: process::tail(&log, 20),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// Whether it answers a session request (a ConnectRequest gets a
    /// ConnectResponse: ZooKeeper serves clients).
    async fn answers(&self) -> bool {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let ask = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .ok()?;
            // protocolVersion 0, lastZxidSeen 0, timeOut 4000, sessionId 0,
            // password: 16 zero bytes (length-prefixed).
            let mut body = Vec::new();
            body.extend_from_slice(&0i32.to_be_bytes());
            body.extend_from_slice(&0i64.to_be_bytes());
            body.extend_from_slice(&4000i32.to_be_bytes());
            body.extend_from_slice(&0i64.to_be_bytes());
            body.extend_from_slice(&16i32.to_be_bytes());
            body.extend_from_slice(&[0u8; 16]);
            let mut frame = (i32::try_from(body.len()).ok()?).to_be_bytes().to_vec();
            frame.extend_from_slice(&body);
            s.write_all(&frame).await.ok()?;
            let mut len = [0u8; 4];
            s.read_exact(&mut len).await.ok()?;
            Some(i32::from_be_bytes(len) > 0)
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), ask).await,
            Ok(Some(true))
        )
    }

    /// `127.0.0.1:<port>` (`ZkAddress`).
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for ZooKeeperServer {
    fn drop(&mut self) {
        process::stop_and_clean([&self.child, &self.guardian], &self.dir);
    }
}

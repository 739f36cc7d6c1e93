//! A running replication topology of real `mariadbd` processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use orc_mysql::Row;
use serde::{Deserialize, Serialize};

use crate::error::{Error, io};
use crate::instance::{Instance, InstanceInfo};
use crate::spec::SandboxBuilder;
use crate::{process, template};

/// What `orchestrator sandbox up` leaves behind for `status` and `down`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxState {
    /// The sandbox directory.
    pub dir: PathBuf,
    /// Its servers.
    pub instances: Vec<InstanceInfo>,
}

const STATE_FILE: &str = "sandbox.json";

/// How long a persistent sandbox's servers get to shut down cleanly on
/// SIGTERM before they are SIGKILLed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A replication topology of real `mariadbd` processes on free ports.
///
/// Dropping it (also while a test panics) kills every process and removes
/// its directory. If the owning process dies without unwinding (SIGKILL), a
/// guardian process does the same within a fraction of a second.
#[derive(Debug)]
pub struct Sandbox {
    dir: PathBuf,
    instances: Vec<Instance>,
    guardian: Mutex<Option<Child>>,
    persistent: bool,
    file_positions: bool,
}

fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("ORC_SANDBOX_ROOT") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let probe = shm.join(format!(".orc-probe-{}", std::process::id()));
    if std::fs::create_dir(&probe).is_ok() {
        let _ = std::fs::remove_dir(&probe);
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

fn unique_dir(root: &Path) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    root.join(format!(
        "orcsb-{}-{n}-{:x}",
        std::process::id(),
        nanos & 0xfff
    ))
}

impl SandboxBuilder {
    /// Starts every server in parallel from the template datadir, sets up
    /// MariaDB GTID replication as described, and returns once every replica
    /// replicates.
    pub async fn start(self) -> Result<Sandbox, Error> {
        self.validate()?;
        let root = self.root.clone().unwrap_or_else(default_root);
        std::fs::create_dir_all(&root).map_err(io(format!("creating {}", root.display())))?;
        let template = template::template_datadir(&root)?;
        let dir = self.exact_dir.clone().unwrap_or_else(|| unique_dir(&root));
        if dir.join(STATE_FILE).exists() {
            return Err(Error::Spec(format!(
                "a sandbox already runs in {} (stop it first)",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let guardian = if self.persistent {
            None
        } else {
            Some(process::spawn_guardian(std::process::id(), &dir)?)
        };
        let instances: Vec<Instance> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Instance::new(
                    &n.name,
                    u32::try_from(i + 1).unwrap_or(u32::MAX),
                    n.source.clone(),
                    n.writable,
                    dir.join(&n.name),
                    self.options_of(n),
                    self.extra_addresses.clone(),
                    self.persistent,
                )
            })
            .collect();
        let sandbox = Sandbox {
            dir,
            instances,
            guardian: Mutex::new(guardian),
            persistent: self.persistent,
            file_positions: self.file_positions,
        };
        sandbox.copy_datadirs(&template)?;
        let starts = sandbox.instances.iter().map(|i| i.start(false));
        for result in join_all(starts).await {
            result?;
        }
        if let Some(requirement) = self.topology_user_requires {
            sandbox.require_tls_of_topology_user(requirement).await?;
        }
        sandbox.configure_replication().await?;
        sandbox.wait_replicating(Duration::from_secs(30)).await?;
        if sandbox.persistent {
            sandbox.write_state()?;
        }
        Ok(sandbox)
    }
}

/// Polls futures concurrently on the current task and collects their outputs in order.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, fut) in out.iter_mut().zip(pinned.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

impl Sandbox {
    /// Shorthand for [`SandboxBuilder::new`].
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::new()
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every server, in declaration order.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// A server by name.
    pub fn instance(&self, name: &str) -> Result<&Instance, Error> {
        self.instances
            .iter()
            .find(|i| i.name() == name)
            .ok_or_else(|| Error::Spec(format!("no node named {name:?} in this sandbox")))
    }

    /// `127.0.0.1:<port>` of a server.
    pub fn key(&self, name: &str) -> Result<String, Error> {
        Ok(self.instance(name)?.key())
    }

    /// Runs a statement as root over the unix socket and returns its rows.
    pub async fn sql(&self, name: &str, sql: &str) -> Result<Vec<Row>, Error> {
        let inst = self.instance(name)?;
        let mut s = inst.session().await?;
        let rows = s.query(sql).await.map_err(|source| Error::Sql {
            name: name.into(),
            source,
        });
        s.close().await;
        rows
    }

    /// Runs statements that return nothing.
    pub async fn exec(&self, name: &str, sql: &str) -> Result<(), Error> {
        let inst = self.instance(name)?;
        let mut s = inst.session().await?;
        let r = s.exec(sql).await.map_err(|source| Error::Sql {
            name: name.into(),
            source,
        });
        s.close().await;
        r
    }

    /// The `SHOW SLAVE STATUS` row of a replica.
    pub async fn replica_status(&self, name: &str) -> Result<Option<Row>, Error> {
        Ok(self
            .sql(name, "SHOW SLAVE STATUS")
            .await?
            .into_iter()
            .next())
    }

    /// kill -9.
    pub fn kill(&self, name: &str) -> Result<(), Error> {
        self.instance(name)?.kill();
        Ok(())
    }

    /// SIGSTOP.
    pub fn freeze(&self, name: &str) -> Result<(), Error> {
        self.instance(name)?.freeze();
        Ok(())
    }

    /// SIGCONT.
    pub fn thaw(&self, name: &str) -> Result<(), Error> {
        self.instance(name)?.thaw();
        Ok(())
    }

    /// Kills (if running) and starts a server again on the same port and datadir.
    pub async fn restart(&self, name: &str) -> Result<(), Error> {
        let inst = self.instance(name)?;
        inst.kill();
        inst.start(true).await
    }

    /// Waits until every replica has applied everything its writable
    /// upstream has written (`MASTER_GTID_WAIT`).
    pub async fn wait_replicated(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        for inst in &self.instances {
            if inst.writable() || inst.source().is_none() {
                continue;
            }
            let upstream = self.writable_upstream(inst)?;
            let pos = self
                .sql(upstream.name(), "SELECT @@gtid_binlog_pos")
                .await?
                .first()
                .and_then(|r| r.at(0).map(str::to_string))
                .unwrap_or_default();
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64();
            let sql = format!("SELECT MASTER_GTID_WAIT('{pos}', {left:.3})");
            let got = self.sql(inst.name(), &sql).await?;
            if got.first().and_then(|r| r.at(0)) != Some("0") {
                return Err(Error::Timeout {
                    what: format!("{} to apply {pos}", inst.name()),
                    after: timeout,
                });
            }
        }
        Ok(())
    }

    fn writable_upstream<'a>(&'a self, inst: &'a Instance) -> Result<&'a Instance, Error> {
        let mut cur = inst;
        for _ in 0..self.instances.len() {
            if cur.writable() {
                return Ok(cur);
            }
            match cur.source() {
                Some(s) => cur = self.instance(s)?,
                None => return Ok(cur),
            }
        }
        Ok(cur)
    }

    /// `ALTER USER ... REQUIRE ...` of the topology user on every server,
    /// outside the binary log (no transaction of its own on any server).
    async fn require_tls_of_topology_user(
        &self,
        requirement: crate::TlsRequirement,
    ) -> Result<(), Error> {
        let sql = format!(
            "SET SESSION sql_log_bin=0; ALTER USER '{}'@'%' {}",
            template::TOPOLOGY_USER,
            requirement.clause()
        );
        for inst in &self.instances {
            self.exec(inst.name(), &sql).await?;
        }
        Ok(())
    }

    async fn configure_replication(&self) -> Result<(), Error> {
        // Without GTID every replica starts at its source's current binary
        // log position, read before anything is written anywhere.
        let mut positions = std::collections::HashMap::new();
        if self.file_positions {
            for inst in &self.instances {
                let rows = self.sql(inst.name(), "SHOW MASTER STATUS").await?;
                if let Some(r) = rows.first() {
                    positions.insert(
                        inst.name().to_string(),
                        (
                            r.get("File").unwrap_or_default().to_string(),
                            r.get("Position").unwrap_or("4").to_string(),
                        ),
                    );
                }
            }
        }
        let setups = self.instances.iter().filter_map(|inst| {
            let source = self.instance(inst.source()?).ok()?;
            let read_only = if inst.writable() { 0 } else { 1 };
            let position = match positions.get(source.name()) {
                Some((file, pos)) => {
                    format!("MASTER_USE_GTID=no, MASTER_LOG_FILE='{file}', MASTER_LOG_POS={pos}")
                }
                None => "MASTER_USE_GTID=slave_pos".to_string(),
            };
            let sql = format!(
                "SET GLOBAL read_only={read_only}; CHANGE MASTER TO MASTER_HOST='127.0.0.1', \
                 MASTER_PORT={}, MASTER_USER='repl', MASTER_PASSWORD='repl', \
                 {position}, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1; \
                 START SLAVE",
                source.port()
            );
            Some(async move {
                let mut s = inst.session().await?;
                let r = s.exec(&sql).await.map_err(|source| Error::Sql {
                    name: inst.name().into(),
                    source,
                });
                s.close().await;
                r
            })
        });
        for r in join_all(setups).await {
            r?;
        }
        Ok(())
    }

    /// Waits until every replica's IO and SQL threads say `Yes`.
    pub async fn wait_replicating(&self, timeout: Duration) -> Result<(), Error> {
        let waits = self
            .instances
            .iter()
            .filter(|i| i.source().is_some())
            .map(|inst| async move {
                let deadline = Instant::now() + timeout;
                let mut s = inst.session().await?;
                loop {
                    let rows = s
                        .query("SHOW SLAVE STATUS")
                        .await
                        .map_err(|source| Error::Sql {
                            name: inst.name().into(),
                            source,
                        })?;
                    let running = rows.first().is_some_and(|r| {
                        r.get("Slave_IO_Running") == Some("Yes")
                            && r.get("Slave_SQL_Running") == Some("Yes")
                    });
                    if running {
                        s.close().await;
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        return Err(Error::Timeout {
                            what: format!("{} to replicate", inst.name()),
                            after: timeout,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        for r in join_all(waits).await {
            r?;
        }
        Ok(())
    }

    fn copy_datadirs(&self, template: &Path) -> Result<(), Error> {
        let mut children = Vec::new();
        for inst in &self.instances {
            std::fs::create_dir_all(inst.dir())
                .map_err(io(format!("creating {}", inst.dir().display())))?;
            let child = Command::new("cp")
                .arg("-a")
                .arg(template)
                .arg(inst.dir().join("data"))
                .stdin(Stdio::null())
                .spawn()
                .map_err(io("copying template datadir"))?;
            children.push((inst.name().to_string(), child));
        }
        for (name, mut child) in children {
            let status = child.wait().map_err(io("waiting for cp"))?;
            if !status.success() {
                return Err(Error::Spec(format!(
                    "copying the template for {name} failed: {status}"
                )));
            }
        }
        Ok(())
    }

    fn write_state(&self) -> Result<(), Error> {
        let state = SandboxState {
            dir: self.dir.clone(),
            instances: self.instances.iter().map(Instance::info).collect(),
        };
        let path = self.dir.join(STATE_FILE);
        let json = serde_json::to_string_pretty(&state).map_err(|e| Error::State {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&path, json).map_err(io(format!("writing {}", path.display())))
    }

    /// Reads the state a persistent sandbox left in `dir`.
    pub fn load_state(dir: &Path) -> Result<SandboxState, Error> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::State {
            path: path.clone(),
            reason: format!("{e} (is a sandbox running here?)"),
        })?;
        serde_json::from_str(&text).map_err(|e| Error::State {
            path,
            reason: e.to_string(),
        })
    }

    /// Stops a persistent sandbox and removes `dir`; returns once every one
    /// of its processes has exited (SIGTERM, then SIGKILL for those still
    /// running after [`STOP_GRACE`]).
    pub fn stop_persisted(dir: &Path) -> Result<SandboxState, Error> {
        Self::stop_persisted_within(dir, STOP_GRACE)
    }

    /// As [`Sandbox::stop_persisted`], with `grace` between SIGTERM and
    /// SIGKILL.
    pub fn stop_persisted_within(dir: &Path, grace: Duration) -> Result<SandboxState, Error> {
        let state = Self::load_state(dir)?;
        let needle = format!("{}/", state.dir.display());
        let procs: Vec<process::Process> = process::pids_mentioning(&needle)
            .into_iter()
            .filter_map(process::Process::of)
            .collect();
        let kill_wait = Duration::from_secs(5);
        let left = process::terminate(&procs, grace, kill_wait);
        if !left.is_empty() {
            return Err(Error::Timeout {
                what: format!(
                    "processes {left:?} of {} to exit (SIGKILLed)",
                    state.dir.display()
                ),
                after: grace + kill_wait,
            });
        }
        std::fs::remove_dir_all(&state.dir)
            .map_err(io(format!("removing {}", state.dir.display())))?;
        Ok(state)
    }

    /// `kill -9` of one server of a persistent sandbox, named by node name
    /// or `host:port`; returns it.
    pub fn kill_persisted(dir: &Path, who: &str) -> Result<InstanceInfo, Error> {
        let state = Self::load_state(dir)?;
        let port = who
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok());
        let inst = state
            .instances
            .into_iter()
            .find(|i| i.name == who || Some(i.port) == port)
            .ok_or_else(|| Error::Spec(format!("no server {who:?} in this sandbox")))?;
        if !process::is_alive(inst.pid) {
            return Err(Error::Spec(format!("{who} is not running")));
        }
        process::signal(inst.pid, nix::sys::signal::Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while process::is_alive(inst.pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(inst)
    }

    /// Every process of this sandbox still alive (servers and guardian excluded).
    pub fn live_pids(&self) -> Vec<u32> {
        process::pids_mentioning(&format!("{}/", self.dir.display()))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.persistent {
            return;
        }
        for inst in &self.instances {
            // A frozen process must be able to die.
            inst.thaw();
            inst.kill();
        }
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

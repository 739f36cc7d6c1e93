//! One `mariadbd` process of a sandbox.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use orc_mysql::{ConnectOptions, Session};
use serde::{Deserialize, Serialize};

use crate::error::{Error, io};
use crate::{binaries, ports, process};

/// How long one server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What is needed to find a server again (also written to the state file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Node name.
    pub name: String,
    /// TCP port on every listen address.
    pub port: u16,
    /// `server_id`.
    pub server_id: u32,
    /// The node it replicates from.
    pub source: Option<String>,
    /// Whether it is writable.
    pub writable: bool,
    /// Its directory.
    pub dir: PathBuf,
    /// Process id of the last start.
    pub pid: u32,
}

/// A running (or killed) `mariadbd` of a sandbox.
#[derive(Debug)]
pub struct Instance {
    name: String,
    server_id: u32,
    source: Option<String>,
    writable: bool,
    dir: PathBuf,
    options: Vec<(String, String)>,
    addresses: Vec<Ipv4Addr>,
    detach: bool,
    port: AtomicU16,
    pid: AtomicU32,
    child: Mutex<Option<Child>>,
}

impl Instance {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: &str,
        server_id: u32,
        source: Option<String>,
        writable: bool,
        dir: PathBuf,
        options: Vec<(String, String)>,
        addresses: Vec<Ipv4Addr>,
        detach: bool,
    ) -> Self {
        Self {
            name: name.into(),
            server_id,
            source,
            writable,
            dir,
            options,
            addresses,
            detach,
            port: AtomicU16::new(0),
            pid: AtomicU32::new(0),
            child: Mutex::new(None),
        }
    }

    /// Node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    /// `127.0.0.1:<port>`, the key orchestrator knows it by.
    pub fn key(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// `server_id`.
    pub fn server_id(&self) -> u32 {
        self.server_id
    }

    /// The node it replicates from, if any.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Whether it is writable.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unix socket (the control channel: keeps working under TCP faults).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("s.sock")
    }

    /// The error log.
    pub fn error_log(&self) -> PathBuf {
        self.dir.join("err.log")
    }

    /// Process id of the last start.
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    /// Whether the process is alive.
    pub fn is_running(&self) -> bool {
        let pid = self.pid();
        pid != 0 && process::is_alive(pid)
    }

    /// Root over the unix socket.
    pub fn admin_options(&self) -> ConnectOptions {
        let mut o = ConnectOptions::socket(self.socket(), "root", "");
        o.connect_timeout = Duration::from_secs(5);
        o.read_timeout = Duration::from_secs(30);
        o
    }

    /// A user over TCP on `addr`.
    pub fn tcp_options(&self, addr: Ipv4Addr, user: &str, password: &str) -> ConnectOptions {
        ConnectOptions::tcp(&addr.to_string(), self.port(), user, password)
    }

    pub(crate) fn info(&self) -> InstanceInfo {
        InstanceInfo {
            name: self.name.clone(),
            port: self.port(),
            server_id: self.server_id,
            source: self.source.clone(),
            writable: self.writable,
            dir: self.dir.clone(),
            pid: self.pid(),
        }
    }

    fn write_config(&self, port: u16) -> Result<PathBuf, Error> {
        // A private tmpdir: a starting mariadbd deletes every `#sql*` file
        // in its tmpdir as stale, so servers sharing /tmp delete each
        // other's internal temporary tables (queries then fail with
        // "Error on delete of '/tmp/#sql-temptable-...'").
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        let d = self.dir.display();
        let binds: Vec<String> = std::iter::once(Ipv4Addr::LOCALHOST)
            .chain(self.addresses.iter().copied())
            .map(|a| a.to_string())
            .collect();
        let mut cnf = format!(
            "[mariadbd]\nuser=root\ndatadir={d}/data\nport={port}\nbind-address={binds}\n\
             socket={d}/s.sock\npid-file={d}/m.pid\nlog-error={d}/err.log\nskip-name-resolve\n\
             tmpdir={d}/tmp\n\
             server_id={id}\nlog_bin=mysql-bin\nlog_slave_updates=ON\nbinlog_format=ROW\n\
             gtid_strict_mode=ON\nrelay_log=relay-bin\nreport_host=127.0.0.1\nreport_port={port}\n\
             slave_net_timeout=2\ninnodb_buffer_pool_size=8M\ninnodb_log_file_size=8M\n\
             innodb_log_buffer_size=2M\nkey_buffer_size=1M\naria_pagecache_buffer_size=2M\n\
             performance_schema=OFF\nmax_connections=100\ntable_open_cache=64\n\
             innodb_flush_log_at_trx_commit=2\nsync_binlog=0\ninnodb_doublewrite=0\n",
            binds = binds.join(","),
            id = self.server_id,
        );
        for (k, v) in &self.options {
            if k == "skip-log-bin" {
                cnf = cnf
                    .replace("log_bin=mysql-bin\n", "")
                    .replace("log_slave_updates=ON\n", "");
            }
            let _ = if v.is_empty() {
                writeln!(cnf, "{k}")
            } else {
                writeln!(cnf, "{k}={v}")
            };
        }
        let path = self.dir.join("my.cnf");
        std::fs::write(&path, cnf).map_err(io(format!("writing {}", path.display())))?;
        Ok(path)
    }

    /// Starts the process on a free port (the current one when restarting)
    /// and waits until it accepts connections, retrying on port clashes.
    pub(crate) async fn start(&self, keep_port: bool) -> Result<(), Error> {
        let mut port = if keep_port && self.port() != 0 {
            self.port()
        } else {
            ports::free_port(&self.addresses)?
        };
        for attempt in 0..5 {
            self.port.store(port, Ordering::SeqCst);
            let cnf = self.write_config(port)?;
            let _ = std::fs::remove_file(self.error_log());
            let mut cmd = Command::new(binaries::mariadbd()?);
            cmd.arg(format!("--defaults-file={}", cnf.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if self.detach {
                use std::os::unix::process::CommandExt as _;
                cmd.process_group(0);
            }
            let child = cmd
                .spawn()
                .map_err(io(format!("starting mariadbd for {}", self.name)))?;
            self.pid.store(child.id(), Ordering::SeqCst);
            *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
            match self.wait_ready().await {
                Ok(()) => return Ok(()),
                Err(reason) => {
                    self.kill();
                    let log = process::tail(&self.error_log(), 20);
                    let clash = log.contains("Address already in use")
                        || log.contains("another server running");
                    if clash && !keep_port && attempt < 4 {
                        port = ports::free_port(&self.addresses)?;
                        continue;
                    }
                    return Err(Error::Startup {
                        name: self.name.clone(),
                        reason,
                        log: self.error_log(),
                        log_tail: log,
                    });
                }
            }
        }
        Err(Error::Spec(format!("{}: no usable port", self.name)))
    }

    async fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        let socket = self.socket();
        loop {
            if let Some(status) = self.try_exit_status() {
                return Err(format!("mariadbd exited with {status}"));
            }
            if tokio::net::UnixStream::connect(&socket).await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!("no connection after {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn try_exit_status(&self) -> Option<std::process::ExitStatus> {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL, and reap.
    pub fn kill(&self) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        match child {
            Some(mut c) => process::kill_child(&mut c),
            None => {
                let pid = self.pid();
                if pid != 0 && process::cmdline_contains(pid, &self.dir.display().to_string()) {
                    process::signal(pid, Signal::SIGKILL);
                }
            }
        }
    }

    /// SIGSTOP: the process hangs with its sockets open.
    /// Returns once every thread of the process is stopped.
    pub fn freeze(&self) {
        process::stop_and_wait(self.pid());
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        process::signal(self.pid(), Signal::SIGCONT);
    }

    /// Opens an administrative session over the unix socket.
    pub async fn session(&self) -> Result<Session, Error> {
        Session::connect(&self.admin_options())
            .await
            .map_err(|source| Error::Sql {
                name: self.name.clone(),
                source,
            })
    }
}

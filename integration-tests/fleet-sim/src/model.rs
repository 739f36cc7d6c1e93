//! The simulated fleet: servers, their replication, and the faults applied to them.
//!
//! Pure state: nothing here touches the network. [`Fleet::execute`] answers
//! one SQL statement as the server at an index would, and changes the state
//! when the statement changes a server (`CHANGE MASTER TO`, `STOP SLAVE`,
//! `SET GLOBAL read_only`, ...). [`Fleet::tick`] advances time: writable
//! masters commit transactions, replicas receive and apply them.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// The server software a simulated instance answers as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MariaDB 10.11: `SHOW ALL SLAVES STATUS`, domain-server-sequence GTIDs.
    MariaDb,
    /// MySQL 5.7: `SHOW SLAVE STATUS`, `Slave_*` / `Master_*` columns.
    MySql57,
    /// MySQL 8.0.36: `SHOW REPLICA STATUS`, `Replica_*` / `Source_*` columns.
    MySql80,
    /// MySQL 8.4: as 8.0, and `SHOW BINARY LOG STATUS`.
    MySql84,
}

impl Dialect {
    /// Every dialect, in the order `--dialects all` cycles through them.
    pub const ALL: [Dialect; 4] = [Self::MariaDb, Self::MySql57, Self::MySql80, Self::MySql84];

    /// Parses `mariadb`, `mysql57`, `mysql80` or `mysql84`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mariadb" => Some(Self::MariaDb),
            "mysql57" => Some(Self::MySql57),
            "mysql80" => Some(Self::MySql80),
            "mysql84" => Some(Self::MySql84),
            _ => None,
        }
    }

    /// `@@version`.
    pub fn version(self) -> &'static str {
        match self {
            Self::MariaDb => "10.11.19-MariaDB-log",
            Self::MySql57 => "5.7.44-log",
            Self::MySql80 => "8.0.36",
            Self::MySql84 => "8.4.3",
        }
    }

    /// `@@version_comment`.
    pub fn version_comment(self) -> &'static str {
        match self {
            Self::MariaDb => "mariadb.org binary distribution",
            Self::MySql57 => "MySQL Community Server (GPL)",
            Self::MySql80 | Self::MySql84 => "MySQL Community Server - GPL",
        }
    }

    pub(crate) fn is_mariadb(self) -> bool {
        self == Self::MariaDb
    }

    /// 8.0.22 and later name replication columns `Source_*` / `Replica_*`.
    pub(crate) fn new_names(self) -> bool {
        matches!(self, Self::MySql80 | Self::MySql84)
    }
}

/// Whether a server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Accepts connections and answers.
    Up,
    /// Refuses connections; open ones are closed.
    Dead,
    /// Accepts connections and never answers (open ones stop answering).
    Hung,
}

/// The shape of a simulated fleet.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    /// Number of servers.
    pub instances: usize,
    /// Servers per cluster: one master and `cluster_size - 1` replicas.
    pub cluster_size: usize,
    /// The TCP port every server listens on (each on its own address).
    pub port: u16,
    /// Dialects, assigned to clusters in turn.
    pub dialects: Vec<Dialect>,
    /// Transactions a writable master commits per second.
    pub writes_per_second: u64,
    /// The fleet-wide number of the first server: several simulator
    /// processes serve one fleet, each its own range (a multiple of
    /// `cluster_size`), so no process needs more open files than allowed.
    pub first: usize,
}

impl Default for FleetSpec {
    fn default() -> Self {
        Self {
            instances: 8,
            cluster_size: 4,
            port: 13306,
            dialects: vec![Dialect::MariaDb],
            writes_per_second: 10,
            first: 0,
        }
    }
}

/// The address of the server at `index`: `127.1.0.1`, `127.1.0.2`, ...
/// 250 per /24, up to 62,500 servers.
pub fn address(index: usize) -> Ipv4Addr {
    let i = u32::try_from(index).unwrap_or(u32::MAX);
    Ipv4Addr::new(
        127,
        1,
        u8::try_from(i / 250).unwrap_or(u8::MAX),
        u8::try_from(i % 250 + 1).unwrap_or(u8::MAX),
    )
}

/// The most servers [`address`] can number.
pub const MAX_INSTANCES: usize = 250 * 250;

/// How a replica's I/O thread fails when its source is gone.
const CONNECT_ERRNO: u32 = 2003;

#[derive(Debug, Clone)]
pub(crate) struct Server {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) server_id: u32,
    pub(crate) uuid: String,
    pub(crate) dialect: Dialect,
    pub(crate) liveness: Liveness,
    pub(crate) read_only: bool,
    pub(crate) super_read_only: bool,
    /// The configured source: a fleet index, or a host:port outside the fleet.
    pub(crate) source: Option<Source>,
    pub(crate) io_running: bool,
    pub(crate) sql_running: bool,
    /// A replication error injected by `break`.
    pub(crate) sql_error: Option<String>,
    pub(crate) io_error: Option<String>,
    /// Simulated apply lag.
    pub(crate) lag_seconds: u64,
    pub(crate) delay_seconds: u64,
    /// Transactions of the cluster's stream received (relay log) and applied.
    pub(crate) received: u64,
    pub(crate) applied: u64,
    /// The server id the cluster's transactions carry (MariaDB GTIDs).
    pub(crate) origin_id: u32,
    /// The UUID the cluster's transactions carry (MySQL GTIDs).
    pub(crate) origin_uuid: String,
    /// Transactions this server committed that its cluster does not have.
    pub(crate) errant: u64,
    pub(crate) started: Instant,
    /// When a probe last read this server's status.
    pub(crate) last_probe: Option<Instant>,
    /// The longest time between two probes since the gaps were reset.
    pub(crate) max_gap: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Index(usize),
    Unknown { host: String, port: u16 },
}

/// What a statement answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A result set.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Rows of text values (`None` is NULL).
        rows: Vec<Vec<Option<String>>>,
    },
    /// An OK packet.
    Ok,
    /// An error: code and message.
    Error(u16, String),
    /// OK after waiting (`DO SLEEP(n)`).
    Sleep(Duration),
}

impl Reply {
    fn one(columns: &[&str], row: Vec<Option<String>>) -> Self {
        Self::Rows {
            columns: columns.iter().map(|c| (*c).to_string()).collect(),
            rows: vec![row],
        }
    }

    fn table(columns: &[&str], rows: Vec<Vec<Option<String>>>) -> Self {
        Self::Rows {
            columns: columns.iter().map(|c| (*c).to_string()).collect(),
            rows,
        }
    }
}

/// Per-connection session state (user variables).
#[derive(Debug, Default)]
pub struct SessionVars {
    vars: HashMap<String, String>,
}

/// The whole simulated fleet.
#[derive(Debug)]
pub struct Fleet {
    pub(crate) servers: Vec<Server>,
    by_key: HashMap<(String, u16), usize>,
    /// Servers whose configured source is the index.
    children: Vec<Vec<usize>>,
    writes_per_second: u64,
    /// Fractional transactions carried between ticks.
    carry: f64,
    last_tick: Instant,
    /// Statements answered since start.
    pub(crate) statements: u64,
    /// Since when probe gaps are measured.
    gaps_since: Instant,
}

fn some(s: impl Into<String>) -> Option<String> {
    Some(s.into())
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

impl Fleet {
    /// Builds the fleet: clusters of one writable master and read-only replicas.
    pub fn new(spec: &FleetSpec) -> Self {
        let now = Instant::now();
        let size = spec.cluster_size.max(1);
        let mut servers = Vec::with_capacity(spec.instances);
        for i in 0..spec.instances {
            let cluster = i / size;
            let master = cluster * size;
            let dialect = spec
                .dialects
                .get(cluster % spec.dialects.len().max(1))
                .copied()
                .unwrap_or(Dialect::MariaDb);
            let global = spec.first + i;
            let id = u32::try_from(global + 1).unwrap_or(u32::MAX);
            let is_master = i == master;
            servers.push(Server {
                host: address(global).to_string(),
                port: spec.port,
                server_id: id,
                uuid: uuid(global),
                dialect,
                liveness: Liveness::Up,
                read_only: !is_master,
                super_read_only: false,
                source: (!is_master).then_some(Source::Index(master)),
                io_running: !is_master,
                sql_running: !is_master,
                sql_error: None,
                io_error: None,
                lag_seconds: 0,
                delay_seconds: 0,
                received: 1000,
                applied: 1000,
                origin_id: u32::try_from(spec.first + master + 1).unwrap_or(u32::MAX),
                origin_uuid: uuid(spec.first + master),
                errant: 0,
                started: now,
                last_probe: None,
                max_gap: Duration::ZERO,
            });
        }
        let by_key = servers
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.host.clone(), s.port), i))
            .collect();
        let mut fleet = Self {
            children: vec![Vec::new(); servers.len()],
            servers,
            by_key,
            writes_per_second: spec.writes_per_second,
            carry: 0.0,
            last_tick: now,
            statements: 0,
            gaps_since: now,
        };
        for i in 0..fleet.servers.len() {
            if let Some(Source::Index(m)) = fleet.servers[i].source {
                fleet.children[m].push(i);
            }
        }
        fleet
    }

    /// Number of servers.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether the fleet has no server.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Statements answered so far.
    pub fn statements(&self) -> u64 {
        self.statements
    }

    /// Starts measuring probe gaps afresh.
    pub fn reset_gaps(&mut self) {
        self.gaps_since = Instant::now();
        for s in &mut self.servers {
            s.max_gap = Duration::ZERO;
        }
    }

    /// For every server that is up, the longest time it went unprobed
    /// since the gaps were reset, the time since its last probe included
    /// (a server no prober reads any more shows a growing gap).
    pub fn probe_gaps(&self) -> Vec<Duration> {
        let now = Instant::now();
        self.servers
            .iter()
            .filter(|s| s.liveness == Liveness::Up)
            .map(|s| {
                let open = now
                    .duration_since(s.last_probe.unwrap_or(self.gaps_since).max(self.gaps_since));
                s.max_gap.max(open)
            })
            .collect()
    }

    fn probed(&mut self, index: usize) {
        let now = Instant::now();
        let since = self.gaps_since;
        let s = &mut self.servers[index];
        if let Some(t) = s.last_probe {
            s.max_gap = s.max_gap.max(now.duration_since(t.max(since)));
        }
        s.last_probe = Some(now);
    }

    /// `host:port` of the server at `index`.
    pub fn key(&self, index: usize) -> Option<String> {
        self.servers
            .get(index)
            .map(|s| format!("{}:{}", s.host, s.port))
    }

    /// The index of `host:port` or of a plain index.
    pub fn resolve(&self, what: &str) -> Option<usize> {
        if let Ok(i) = what.parse::<usize>() {
            return (i < self.servers.len()).then_some(i);
        }
        let (host, port) = what.rsplit_once(':')?;
        self.by_key
            .get(&(host.to_string(), port.parse().ok()?))
            .copied()
    }

    /// Indexes of the servers that replicate from nobody (cluster masters).
    pub fn masters(&self) -> Vec<usize> {
        (0..self.servers.len())
            .filter(|&i| self.servers[i].source.is_none())
            .collect()
    }

    /// Liveness of the server at `index`.
    pub fn liveness(&self, index: usize) -> Option<Liveness> {
        self.servers.get(index).map(|s| s.liveness)
    }

    /// The index of the server at `index`'s source, when in the fleet.
    pub fn source_of(&self, index: usize) -> Option<usize> {
        match self.servers.get(index)?.source {
            Some(Source::Index(m)) => Some(m),
            _ => None,
        }
    }

    /// Whether `index` is writable.
    pub fn is_writable(&self, index: usize) -> bool {
        self.servers.get(index).is_some_and(|s| !s.read_only)
    }

    /// Advances time: masters commit, replicas receive and apply.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last_tick).as_secs_f64();
        self.last_tick = now;
        let due = elapsed * self.writes_per_second as f64 + self.carry;
        let commits = due.floor() as u64;
        self.carry = due - commits as f64;
        for s in &mut self.servers {
            if s.source.is_none() && s.liveness == Liveness::Up && !s.read_only {
                s.applied += commits;
                s.received = s.applied;
            }
        }
        // Sources before replicas would need an order; a chain of depth d
        // catches up within d ticks, as real replication does.
        for i in 0..self.servers.len() {
            let Some(Source::Index(m)) = self.servers[i].source else {
                continue;
            };
            let (m_live, m_applied) = {
                let m = &self.servers[m];
                (m.liveness, m.applied)
            };
            let lag = self.servers[i].lag_seconds * self.writes_per_second;
            let s = &mut self.servers[i];
            if s.liveness == Liveness::Dead {
                continue;
            }
            if s.io_running && s.io_error.is_none() && m_live != Liveness::Dead {
                s.received = s.received.max(m_applied);
            }
            if s.sql_running && s.sql_error.is_none() {
                let target = if m_live == Liveness::Dead || !s.io_running {
                    s.received
                } else {
                    s.received.saturating_sub(lag)
                };
                s.applied = s.applied.max(target);
            }
        }
    }

    /// Whether the I/O thread of `i` is connected to a live source.
    fn io_connected(&self, i: usize) -> bool {
        let s = &self.servers[i];
        s.io_running
            && s.io_error.is_none()
            && match s.source {
                Some(Source::Index(m)) => self.servers[m].liveness != Liveness::Dead,
                _ => false,
            }
    }

    fn gtid_mariadb(&self, s: &Server) -> String {
        let mut g = format!("0-{}-{}", s.origin_id, s.applied);
        if s.errant > 0 {
            g.push_str(&format!(",1-{}-{}", s.server_id, s.errant));
        }
        g
    }

    fn gtid_mysql(s: &Server) -> String {
        let mut g = format!("{}:1-{}", s.origin_uuid, s.applied);
        if s.errant > 0 {
            g.push_str(&format!(",\n{}:1-{}", s.uuid, s.errant));
        }
        g
    }

    fn gtid_executed(&self, s: &Server) -> String {
        if s.dialect.is_mariadb() {
            self.gtid_mariadb(s)
        } else {
            Self::gtid_mysql(s)
        }
    }

    fn variable(&self, i: usize, name: &str) -> Result<Option<String>, Reply> {
        let s = &self.servers[i];
        let maria = s.dialect.is_mariadb();
        let v = match name {
            "hostname" | "report_host" => some(s.host.clone()),
            "port" => some(s.port.to_string()),
            "server_id" => some(s.server_id.to_string()),
            "version" => some(s.dialect.version()),
            "version_comment" => some(s.dialect.version_comment()),
            "read_only" => some(flag(s.read_only)),
            "super_read_only" if !maria => some(flag(s.super_read_only)),
            "binlog_format" => some("ROW"),
            "binlog_row_image" => some("FULL"),
            "log_bin" | "log_slave_updates" => some("1"),
            "log_replica_updates" if s.dialect.new_names() => some("1"),
            "gtid_binlog_pos" | "gtid_current_pos" if maria => some(self.gtid_mariadb(s)),
            "gtid_slave_pos" if maria => some(if s.source.is_some() {
                format!("0-{}-{}", s.origin_id, s.applied)
            } else {
                String::new()
            }),
            "server_uuid" if !maria => some(s.uuid.clone()),
            "gtid_mode" if !maria => some("ON"),
            "gtid_executed" if !maria => some(Self::gtid_mysql(s)),
            "gtid_purged" if !maria => some(""),
            "max_allowed_packet" => some("16777216"),
            "wait_timeout" => some("28800"),
            "socket" => None,
            "time_zone" => some("SYSTEM"),
            "system_time_zone" => some("UTC"),
            "sql_mode" => some("STRICT_TRANS_TABLES"),
            _ => {
                return Err(Reply::Error(
                    1193,
                    format!("Unknown system variable '{name}'"),
                ));
            }
        };
        Ok(v)
    }

    /// Answers one statement as the server at `index`.
    pub fn execute(&mut self, index: usize, session: &mut SessionVars, sql: &str) -> Reply {
        self.statements += 1;
        let stmt = crate::sql::normalize(sql);
        let upper = stmt.to_ascii_uppercase();
        let dialect = self.servers[index].dialect;
        match () {
            () if upper.starts_with("DO SLEEP(") => {
                let secs = crate::sql::parenthesised(&stmt)
                    .and_then(|a| a.trim().parse::<f64>().ok())
                    .unwrap_or(0.0);
                Reply::Sleep(Duration::from_secs_f64(secs.max(0.0)))
            }
            () if upper.starts_with("SELECT MASTER_GTID_WAIT(")
                || upper.starts_with("SELECT WAIT_FOR_EXECUTED_GTID_SET(") =>
            {
                Reply::one(&["result"], vec![some("0")])
            }
            () if upper.starts_with("SELECT SUBSTRING_INDEX(HOST") => {
                let rows = self.children[index]
                    .iter()
                    .filter(|&&c| self.io_connected(c))
                    .map(|&c| vec![some(self.servers[c].host.clone())])
                    .collect();
                Reply::table(&["host"], rows)
            }
            () if upper.starts_with("SELECT @@") || upper.starts_with("SELECT @") => {
                self.select_variables(index, session, &stmt)
            }
            () if upper == "SELECT 1" => Reply::one(&["1"], vec![some("1")]),
            () if upper.starts_with("SHOW GLOBAL STATUS") => {
                // Every probe reads the status once.
                self.probed(index);
                self.status(index)
            }
            () if upper.starts_with("SHOW GLOBAL VARIABLES") => self.semi_sync_variables(index),
            () if upper == "SHOW MASTER STATUS" || upper == "SHOW BINARY LOG STATUS" => {
                if upper == "SHOW BINARY LOG STATUS" && dialect != Dialect::MySql84 {
                    return parse_error(&stmt);
                }
                self.binlog_status(index)
            }
            () if upper == "SHOW ALL SLAVES STATUS"
                || upper == "SHOW SLAVE STATUS"
                || upper == "SHOW REPLICA STATUS" =>
            {
                let understood = match upper.as_str() {
                    "SHOW ALL SLAVES STATUS" => dialect.is_mariadb(),
                    "SHOW REPLICA STATUS" => !matches!(dialect, Dialect::MySql57),
                    _ => dialect != Dialect::MySql84,
                };
                if !understood {
                    return parse_error(&stmt);
                }
                self.replica_status(index, upper.starts_with("SHOW ALL"))
            }
            () if upper == "SHOW SLAVE HOSTS" || upper == "SHOW REPLICAS" => {
                self.replica_hosts(index, upper == "SHOW REPLICAS")
            }
            () if upper.starts_with("STOP SLAVE") || upper.starts_with("STOP REPLICA") => {
                let s = &mut self.servers[index];
                let (io, sql) = threads(&upper);
                if io {
                    s.io_running = false;
                }
                if sql {
                    s.sql_running = false;
                }
                Reply::Ok
            }
            () if upper.starts_with("START SLAVE") || upper.starts_with("START REPLICA") => {
                self.start_replication(index, &upper)
            }
            () if upper.starts_with("RESET SLAVE ALL")
                || upper.starts_with("RESET REPLICA ALL") =>
            {
                let s = &self.servers[index];
                if s.io_running || s.sql_running {
                    return must_stop();
                }
                self.set_source(index, None);
                Reply::Ok
            }
            () if upper.starts_with("CHANGE MASTER TO")
                || upper.starts_with("CHANGE REPLICATION SOURCE TO") =>
            {
                self.change_source(index, &stmt)
            }
            () if upper.starts_with("SET @ORC_WAS_READ_ONLY") => {
                let was = flag(self.servers[index].read_only).to_string();
                session.vars.insert("orc_was_read_only".into(), was);
                self.servers[index].read_only = true;
                Reply::Ok
            }
            () if upper.starts_with("SET GLOBAL ") => self.set_global(index, &stmt),
            () if upper.starts_with("SET ")
                || upper == "BEGIN"
                || upper == "COMMIT"
                || upper.starts_with("FLUSH ")
                || upper.starts_with("KILL ") =>
            {
                Reply::Ok
            }
            () => parse_error(&stmt),
        }
    }

    fn select_variables(&self, index: usize, session: &SessionVars, stmt: &str) -> Reply {
        let list = stmt[6..].trim();
        let mut columns = Vec::new();
        let mut row = Vec::new();
        for item in crate::sql::split_top_level(list, ',') {
            let (expr, alias) = crate::sql::alias(item);
            let value = if let Some(var) = expr.strip_prefix("@@") {
                let name = var
                    .strip_prefix("global.")
                    .or_else(|| var.strip_prefix("GLOBAL."))
                    .or_else(|| var.strip_prefix("session."))
                    .unwrap_or(var)
                    .to_ascii_lowercase();
                match self.variable(index, &name) {
                    Ok(v) => v,
                    Err(e) => return e,
                }
            } else if let Some(user) = expr.strip_prefix('@') {
                session.vars.get(&user.to_ascii_lowercase()).cloned()
            } else {
                return parse_error(stmt);
            };
            columns.push(alias.unwrap_or(expr).to_string());
            row.push(value);
        }
        Reply::Rows {
            columns,
            rows: vec![row],
        }
    }

    fn status(&self, index: usize) -> Reply {
        let s = &self.servers[index];
        let mut rows = vec![vec![
            some("Uptime"),
            some(s.started.elapsed().as_secs().to_string()),
        ]];
        if s.dialect.is_mariadb() {
            rows.push(vec![some("Rpl_semi_sync_master_clients"), some("0")]);
            rows.push(vec![some("Rpl_semi_sync_master_status"), some("OFF")]);
            rows.push(vec![some("Rpl_semi_sync_slave_status"), some("OFF")]);
        }
        Reply::table(&["Variable_name", "Value"], rows)
    }

    fn semi_sync_variables(&self, index: usize) -> Reply {
        let rows = if self.servers[index].dialect.is_mariadb() {
            vec![
                vec![some("rpl_semi_sync_master_enabled"), some("OFF")],
                vec![some("rpl_semi_sync_master_timeout"), some("10000")],
                vec![some("rpl_semi_sync_slave_enabled"), some("OFF")],
            ]
        } else {
            Vec::new()
        };
        Reply::table(&["Variable_name", "Value"], rows)
    }

    fn binlog_status(&self, index: usize) -> Reply {
        let s = &self.servers[index];
        let pos = binlog_pos(s.applied + s.errant).to_string();
        if s.dialect.is_mariadb() {
            Reply::one(
                &["File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB"],
                vec![some("mysql-bin.000001"), some(pos), some(""), some("")],
            )
        } else {
            Reply::one(
                &[
                    "File",
                    "Position",
                    "Binlog_Do_DB",
                    "Binlog_Ignore_DB",
                    "Executed_Gtid_Set",
                ],
                vec![
                    some("mysql-bin.000001"),
                    some(pos),
                    some(""),
                    some(""),
                    some(Self::gtid_mysql(s)),
                ],
            )
        }
    }

    fn replica_status(&self, index: usize, all: bool) -> Reply {
        let s = &self.servers[index];
        let Some(source) = &s.source else {
            return Reply::Rows {
                columns: crate::sql::replica_columns(s.dialect, all),
                rows: Vec::new(),
            };
        };
        let (m_host, m_port, m_id, m_uuid, m_live) = match source {
            Source::Index(m) => {
                let m = &self.servers[*m];
                (
                    m.host.clone(),
                    m.port,
                    m.server_id,
                    m.uuid.clone(),
                    m.liveness != Liveness::Dead,
                )
            }
            Source::Unknown { host, port } => (host.clone(), *port, 0, String::new(), false),
        };
        let connected = s.io_running && s.io_error.is_none() && m_live;
        let io_state = match (s.io_running, connected) {
            (false, _) => "No",
            (true, true) => "Yes",
            (true, false) => "Connecting",
        };
        let (io_errno, io_error) = match (&s.io_error, s.io_running && !m_live) {
            (Some(e), _) => (1236, e.clone()),
            (None, true) => (
                CONNECT_ERRNO,
                format!(
                    "error reconnecting to master 'repl@{m_host}:{m_port}' - retry-time: 60  maximum-retries: 86400  message: Can't connect to server on '{m_host}' (111 \"Connection refused\")"
                ),
            ),
            (None, false) => (0, String::new()),
        };
        let sql_ok = s.sql_running && s.sql_error.is_none();
        let (sql_errno, sql_error) = match &s.sql_error {
            Some(e) => (1062, e.clone()),
            None => (0, String::new()),
        };
        let behind = (connected && sql_ok).then(|| s.lag_seconds.to_string());
        let read = binlog_pos(s.received).to_string();
        let exec = binlog_pos(s.applied).to_string();
        let gtid_io = format!("0-{}-{}", s.origin_id, s.received);
        let executed = self.gtid_executed(s);
        let retrieved = format!("{}:1-{}", s.origin_uuid, s.received);
        let values: Vec<(&str, Option<String>)> = vec![
            (
                "io_state",
                some(if connected {
                    "Waiting for master to send event"
                } else {
                    ""
                }),
            ),
            ("host", some(m_host)),
            ("user", some("repl")),
            ("port", some(m_port.to_string())),
            ("log_file", some("mysql-bin.000001")),
            ("read_pos", some(read)),
            ("relay_file", some("relay-bin.000002")),
            ("relay_pos", some("4")),
            ("exec_file", some("mysql-bin.000001")),
            ("io_running", some(io_state)),
            ("sql_running", some(yes_no(sql_ok))),
            ("exec_pos", some(exec)),
            ("ssl", some("No")),
            ("behind", behind),
            ("io_errno", some(io_errno.to_string())),
            ("io_error", some(io_error)),
            ("sql_errno", some(sql_errno.to_string())),
            ("sql_error", some(sql_error)),
            ("source_id", some(m_id.to_string())),
            ("source_uuid", some(m_uuid)),
            ("delay", some(s.delay_seconds.to_string())),
            ("using_gtid", some("Slave_Pos")),
            ("gtid_io_pos", some(gtid_io)),
            ("retrieved", some(retrieved)),
            ("executed", some(executed)),
            ("auto_position", some("1")),
            ("channel", some("")),
        ];
        let columns = crate::sql::replica_columns(s.dialect, all);
        let row = crate::sql::replica_row(s.dialect, all, &values);
        Reply::Rows {
            columns,
            rows: vec![row],
        }
    }

    fn replica_hosts(&self, index: usize, new_names: bool) -> Reply {
        let maria = self.servers[index].dialect.is_mariadb();
        let rows: Vec<Vec<Option<String>>> = self.children[index]
            .iter()
            .filter(|&&c| self.io_connected(c))
            .map(|&c| {
                let r = &self.servers[c];
                let mut row = vec![
                    some(r.server_id.to_string()),
                    some(r.host.clone()),
                    some(r.port.to_string()),
                    some(self.servers[index].server_id.to_string()),
                ];
                if !maria {
                    row.push(some(r.uuid.clone()));
                }
                row
            })
            .collect();
        let columns: &[&str] = match (maria, new_names) {
            (true, _) => &["Server_id", "Host", "Port", "Master_id"],
            (false, false) => &["Server_id", "Host", "Port", "Master_id", "Slave_UUID"],
            (false, true) => &["Server_Id", "Host", "Port", "Source_Id", "Replica_UUID"],
        };
        Reply::table(columns, rows)
    }

    fn start_replication(&mut self, index: usize, upper: &str) -> Reply {
        if self.servers[index].source.is_none() {
            return Reply::Error(
                1200,
                "Misconfigured slave: MASTER_HOST was not set; Fix in config file or with CHANGE MASTER TO".into(),
            );
        }
        let until = upper.contains(" UNTIL ");
        let (io, sql) = threads(upper.split(" UNTIL ").next().unwrap_or(upper));
        let s = &mut self.servers[index];
        if io {
            s.io_running = true;
            s.io_error = None;
        }
        if sql {
            s.sql_running = !until;
            if until {
                s.applied = s.received;
            }
        }
        Reply::Ok
    }

    fn change_source(&mut self, index: usize, stmt: &str) -> Reply {
        let options = crate::sql::change_options(stmt);
        let host = options
            .iter()
            .find(|(k, _)| k == "MASTER_HOST" || k == "SOURCE_HOST")
            .map(|(_, v)| v.clone());
        let port = options
            .iter()
            .find(|(k, _)| k == "MASTER_PORT" || k == "SOURCE_PORT")
            .and_then(|(_, v)| v.parse::<u16>().ok());
        let delay = options
            .iter()
            .find(|(k, _)| k == "MASTER_DELAY" || k == "SOURCE_DELAY")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        let s = &self.servers[index];
        if (host.is_some() || port.is_some()) && (s.io_running || s.sql_running) {
            return must_stop();
        }
        if let Some(d) = delay {
            if s.sql_running {
                return must_stop();
            }
            self.servers[index].delay_seconds = d;
        }
        if host.is_some() || port.is_some() {
            let (old_host, old_port) = match &self.servers[index].source {
                Some(Source::Index(m)) => (self.servers[*m].host.clone(), self.servers[*m].port),
                Some(Source::Unknown { host, port }) => (host.clone(), *port),
                None => (String::new(), 3306),
            };
            let host = host.unwrap_or(old_host);
            let port = port.unwrap_or(old_port);
            let target = match self.by_key.get(&(host.clone(), port)) {
                Some(&m) if m == index => {
                    return Reply::Error(1234, "a server cannot replicate from itself".into());
                }
                Some(&m) => Source::Index(m),
                None => Source::Unknown { host, port },
            };
            self.set_source(index, Some(target));
        }
        Reply::Ok
    }

    fn set_global(&mut self, index: usize, stmt: &str) -> Reply {
        for part in crate::sql::split_top_level(&stmt[4..], ',') {
            let part = part.trim();
            let part = part
                .strip_prefix("GLOBAL ")
                .or_else(|| part.strip_prefix("global "))
                .unwrap_or(part);
            let Some((name, value)) = part.split_once('=') else {
                return parse_error(stmt);
            };
            let name = name.trim().to_ascii_lowercase();
            let on = matches!(
                value
                    .trim()
                    .trim_matches('\'')
                    .to_ascii_uppercase()
                    .as_str(),
                "1" | "ON" | "TRUE"
            );
            let s = &mut self.servers[index];
            match name.as_str() {
                "read_only" => {
                    s.read_only = on;
                    if !on {
                        s.super_read_only = false;
                    }
                }
                "super_read_only" if !s.dialect.is_mariadb() => {
                    s.super_read_only = on;
                    if on {
                        s.read_only = true;
                    }
                }
                "sql_slave_skip_counter" | "sql_replica_skip_counter" => {
                    s.sql_error = None;
                }
                "gtid_slave_pos" if s.dialect.is_mariadb() => {}
                n if n.starts_with("rpl_semi_sync") || n.starts_with("slave_") => {}
                _ => {
                    return Reply::Error(1193, format!("Unknown system variable '{name}'"));
                }
            }
        }
        Reply::Ok
    }

    fn set_source(&mut self, index: usize, source: Option<Source>) {
        if let Some(Source::Index(old)) = self.servers[index].source {
            self.children[old].retain(|&c| c != index);
        }
        if let Some(Source::Index(new)) = source {
            self.children[new].push(index);
            // A new source: the cluster's stream is the new source's.
            let (id, uuid) = (
                self.servers[new].origin_id,
                self.servers[new].origin_uuid.clone(),
            );
            let s = &mut self.servers[index];
            s.origin_id = id;
            s.origin_uuid = uuid;
        }
        self.servers[index].source = source;
    }

    /// Applies a fault or a change by command; see [`crate::Command`].
    pub fn apply(&mut self, command: &crate::Command) -> Result<(), String> {
        use crate::Command as C;
        let len = self.servers.len();
        let check = move |i: usize| {
            if i < len {
                Ok(i)
            } else {
                Err(format!("no server {i}: the fleet has {len}"))
            }
        };
        match command {
            C::Die(i) => self.servers[check(*i)?].liveness = Liveness::Dead,
            C::Hang(i) => self.servers[check(*i)?].liveness = Liveness::Hung,
            C::Up(i) => {
                let i = check(*i)?;
                let s = &mut self.servers[i];
                if s.liveness == Liveness::Dead {
                    s.started = Instant::now();
                }
                s.liveness = Liveness::Up;
            }
            C::Lag(i, secs) => self.servers[check(*i)?].lag_seconds = *secs,
            C::Break(i, thread) => {
                let s = &mut self.servers[check(*i)?];
                if s.source.is_none() {
                    return Err(format!("server {i} is not a replica"));
                }
                match thread {
                    crate::Thread::Io => {
                        s.io_error = Some(
                            "Got fatal error 1236 from master when reading data from binary log: 'Could not find GTID state requested by slave in any binlog files'".into(),
                        );
                    }
                    crate::Thread::Sql => {
                        s.sql_error = Some(
                            "Could not execute Write_rows_v1 event on table app.t; Duplicate entry '1' for key 'PRIMARY', Error_code: 1062".into(),
                        );
                    }
                }
            }
            C::Repair(i) => {
                let s = &mut self.servers[check(*i)?];
                s.io_error = None;
                s.sql_error = None;
            }
            C::Master(i, m) => {
                let (i, m) = (check(*i)?, check(*m)?);
                if i == m {
                    return Err("a server cannot replicate from itself".into());
                }
                self.set_source(i, Some(Source::Index(m)));
                let s = &mut self.servers[i];
                s.io_running = true;
                s.sql_running = true;
            }
            C::Errant(i, n) => self.servers[check(*i)?].errant += *n,
        }
        Ok(())
    }
}

fn threads(upper: &str) -> (bool, bool) {
    let io = upper.contains("IO_THREAD");
    let sql = upper.contains("SQL_THREAD");
    if io || sql { (io, sql) } else { (true, true) }
}

fn must_stop() -> Reply {
    Reply::Error(
        1198,
        "This operation cannot be performed as you have a running slave; run STOP SLAVE first"
            .into(),
    )
}

fn parse_error(stmt: &str) -> Reply {
    let near: String = stmt.chars().take(80).collect();
    Reply::Error(
        1064,
        format!(
            "You have an error in your SQL syntax (the fleet simulator does not answer this statement) near '{near}'"
        ),
    )
}

fn binlog_pos(transactions: u64) -> u64 {
    4 + transactions * 256
}

fn uuid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{:012x}", i + 1)
}

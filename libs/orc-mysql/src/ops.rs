//! The statements that change a topology, in each server's dialect, and a
//! connection that runs them ([`Operator`]).
//!
//! Builders are plain functions of a [`Dialect`] so they can be checked
//! without a server; [`Operator`] adds a connection and answers.

use std::time::Duration;

use orc_model::{InstanceKey, ReplicationStatus};

use crate::probe::{Dialect, replication_status};
use crate::{ConnectOptions, Error, Session};

/// Where a replica starts reading from its new source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    /// MariaDB: from `gtid_slave_pos` (what it has applied as a replica).
    MariadbSlavePos,
    /// MariaDB: from `gtid_current_pos` (includes its own writes; for a
    /// former master).
    MariadbCurrentPos,
    /// MySQL: GTID auto-positioning.
    AutoPosition,
    /// A binary log file and position of the new source.
    File {
        /// File name.
        file: String,
        /// Position.
        pos: u64,
    },
}

/// A `CHANGE MASTER TO` / `CHANGE REPLICATION SOURCE TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSource {
    /// The new source.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Where to start.
    pub position: StartPosition,
    /// User and password, when they must be set.
    pub credentials: Option<(String, String)>,
}

/// Quotes a string literal for SQL.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn mysql_at_least(d: Dialect, v: (u32, u32, u32)) -> bool {
    d.flavor != orc_model::Flavor::Mariadb && d.version >= v
}

fn replica_word(d: Dialect) -> &'static str {
    if mysql_at_least(d, (8, 0, 22)) {
        "REPLICA"
    } else {
        "SLAVE"
    }
}

/// Stops both replication threads.
pub fn stop_replica(d: Dialect) -> String {
    format!("STOP {}", replica_word(d))
}

/// Stops the IO thread only.
pub fn stop_io_thread(d: Dialect) -> String {
    format!("STOP {} IO_THREAD", replica_word(d))
}

/// Starts both replication threads.
pub fn start_replica(d: Dialect) -> String {
    format!("START {}", replica_word(d))
}

/// Forgets the replication configuration entirely.
pub fn reset_replica_all(d: Dialect) -> String {
    format!("RESET {} ALL", replica_word(d))
}

/// Makes the server read-only or writable (`super_read_only` too on MySQL
/// when asked).
pub fn set_read_only(d: Dialect, read_only: bool, use_super: bool) -> String {
    let mysql_super = use_super && d.flavor != orc_model::Flavor::Mariadb;
    match (read_only, mysql_super) {
        (true, true) => "SET GLOBAL read_only = 1; SET GLOBAL super_read_only = 1".into(),
        (true, false) => "SET GLOBAL read_only = 1".into(),
        (false, true) => "SET GLOBAL super_read_only = 0; SET GLOBAL read_only = 0".into(),
        (false, false) => "SET GLOBAL read_only = 0".into(),
    }
}

/// Makes a server read-only in the statement's first round trip and keeps
/// whether it was, in `@orc_was_read_only`, for [`WAS_READ_ONLY`] to read
/// afterwards: fencing a returning old master must not wait on a read.
pub fn fence_read_only(d: Dialect, use_super: bool) -> String {
    let first = "SET @orc_was_read_only = @@global.read_only, GLOBAL read_only = 1";
    if use_super && d.flavor != orc_model::Flavor::Mariadb {
        format!("{first}; SET GLOBAL super_read_only = 1")
    } else {
        first.into()
    }
}

/// Reads what [`fence_read_only`] kept.
pub const WAS_READ_ONLY: &str = "SELECT @orc_was_read_only";

/// Points a (stopped) replica at a new source.
pub fn change_source(d: Dialect, c: &ChangeSource) -> String {
    let modern = mysql_at_least(d, (8, 0, 23));
    let (verb, p) = if modern {
        ("CHANGE REPLICATION SOURCE TO", "SOURCE")
    } else {
        ("CHANGE MASTER TO", "MASTER")
    };
    let mut parts = vec![
        format!("{p}_HOST = {}", quote(&c.host)),
        format!("{p}_PORT = {}", c.port),
    ];
    if let Some((user, password)) = &c.credentials {
        parts.push(format!("{p}_USER = {}", quote(user)));
        parts.push(format!("{p}_PASSWORD = {}", quote(password)));
    }
    match &c.position {
        StartPosition::MariadbSlavePos => parts.push("MASTER_USE_GTID = slave_pos".into()),
        StartPosition::MariadbCurrentPos => parts.push("MASTER_USE_GTID = current_pos".into()),
        StartPosition::AutoPosition => parts.push(format!("{p}_AUTO_POSITION = 1")),
        StartPosition::File { file, pos } => {
            if d.flavor == orc_model::Flavor::Mariadb {
                parts.push("MASTER_USE_GTID = no".into());
            } else {
                parts.push(format!("{p}_AUTO_POSITION = 0"));
            }
            parts.push(format!("{p}_LOG_FILE = {}", quote(file)));
            parts.push(format!("{p}_LOG_POS = {pos}"));
        }
    }
    format!("{verb} {}", parts.join(", "))
}

/// Breaks a replica's link to its source without forgetting it:
/// orchestrator's `detach-replica-master-host` (`//host`).
pub fn detach_source(d: Dialect, host: &str) -> String {
    let (verb, p) = if mysql_at_least(d, (8, 0, 23)) {
        ("CHANGE REPLICATION SOURCE TO", "SOURCE")
    } else {
        ("CHANGE MASTER TO", "MASTER")
    };
    let detached = if host.starts_with("//") {
        host.to_string()
    } else {
        format!("//{host}")
    };
    format!("{verb} {p}_HOST = {}", quote(&detached))
}

/// Starts the SQL thread only.
pub fn start_sql_thread(d: Dialect) -> String {
    format!("START {} SQL_THREAD", replica_word(d))
}

/// Starts replication until the SQL thread reaches `file:pos` of the source.
pub fn start_replica_until(d: Dialect, file: &str, pos: u64) -> String {
    if mysql_at_least(d, (8, 0, 22)) {
        format!(
            "START REPLICA UNTIL SOURCE_LOG_FILE = {}, SOURCE_LOG_POS = {pos}",
            quote(file)
        )
    } else {
        format!(
            "START SLAVE UNTIL MASTER_LOG_FILE = {}, MASTER_LOG_POS = {pos}",
            quote(file)
        )
    }
}

/// Changes only the source host (and, without GTID, keeps the executed
/// position explicitly: changing the host would otherwise reset it).
pub fn change_host(d: Dialect, host: &str, keep: Option<(&str, u64)>) -> String {
    let (verb, p) = if mysql_at_least(d, (8, 0, 23)) {
        ("CHANGE REPLICATION SOURCE TO", "SOURCE")
    } else {
        ("CHANGE MASTER TO", "MASTER")
    };
    let mut parts = vec![format!("{p}_HOST = {}", quote(host))];
    if let Some((file, pos)) = keep {
        parts.push(format!("{p}_LOG_FILE = {}", quote(file)));
        parts.push(format!("{p}_LOG_POS = {pos}"));
    }
    format!("{verb} {}", parts.join(", "))
}

/// Skips the next event group on the SQL thread (file:pos, MariaDB).
pub fn skip_counter(d: Dialect) -> &'static str {
    if mysql_at_least(d, (8, 0, 26)) {
        "SET GLOBAL sql_replica_skip_counter = 1"
    } else {
        "SET GLOBAL sql_slave_skip_counter = 1"
    }
}

/// `CHANGE MASTER TO MASTER_DELAY`.
pub fn change_delay(d: Dialect, seconds: u32) -> String {
    if mysql_at_least(d, (8, 0, 23)) {
        format!("CHANGE REPLICATION SOURCE TO SOURCE_DELAY = {seconds}")
    } else {
        format!("CHANGE MASTER TO MASTER_DELAY = {seconds}")
    }
}

/// Enables or disables a semi-sync role (`master`: true for the source side).
pub fn set_semi_sync(d: Dialect, master: bool, enabled: bool) -> String {
    let new_names = mysql_at_least(d, (8, 0, 26));
    let var = match (master, new_names) {
        (true, false) => "rpl_semi_sync_master_enabled",
        (false, false) => "rpl_semi_sync_slave_enabled",
        (true, true) => "rpl_semi_sync_source_enabled",
        (false, true) => "rpl_semi_sync_replica_enabled",
    };
    format!("SET GLOBAL {var} = {}", u8::from(enabled))
}

/// `PURGE BINARY LOGS TO`.
pub fn purge_binary_logs(file: &str) -> String {
    format!("PURGE BINARY LOGS TO {}", quote(file))
}

/// The GTID position a server applied as a replica: MariaDB
/// `gtid_slave_pos`, MySQL `gtid_executed`.
pub fn applied_gtid_position(d: Dialect) -> &'static str {
    if d.flavor == orc_model::Flavor::Mariadb {
        "SELECT @@global.gtid_slave_pos"
    } else {
        "SELECT @@global.gtid_executed"
    }
}

/// One empty transaction with a given GTID (MySQL).
pub fn empty_transaction(gtid: &str) -> String {
    format!(
        "SET GTID_NEXT = {}; BEGIN; COMMIT; SET GTID_NEXT = 'AUTOMATIC'",
        quote(gtid)
    )
}

/// Waits until the server has applied a GTID position; answers 0 when it
/// has, something else on timeout.
pub fn wait_for_gtid(d: Dialect, position: &str, timeout: Duration) -> String {
    let secs = timeout.as_secs_f64();
    if d.flavor == orc_model::Flavor::Mariadb {
        format!("SELECT MASTER_GTID_WAIT({}, {secs:.3})", quote(position))
    } else {
        format!(
            "SELECT WAIT_FOR_EXECUTED_GTID_SET({}, {secs:.3})",
            quote(position)
        )
    }
}

/// The server's own GTID position: MariaDB `gtid_binlog_pos`, MySQL `gtid_executed`.
pub fn own_gtid_position(d: Dialect) -> &'static str {
    if d.flavor == orc_model::Flavor::Mariadb {
        "SELECT @@global.gtid_binlog_pos"
    } else {
        "SELECT @@global.gtid_executed"
    }
}

/// One row of `SHOW BINLOG EVENTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogEventRow {
    /// `Log_name`.
    pub log_file: String,
    /// `Pos`.
    pub pos: u64,
    /// `Event_type`.
    pub event_type: String,
    /// `Server_id`.
    pub server_id: u32,
    /// `End_log_pos`.
    pub end_log_pos: u64,
    /// `Info`.
    pub info: String,
}

/// What a step's preconditions are checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerState {
    /// `@@read_only`.
    pub read_only: bool,
    /// `@@log_bin`.
    pub log_bin: bool,
    /// `@@log_slave_updates`.
    pub log_replica_updates: bool,
    /// The default channel, when configured.
    pub replication: Option<ReplicationStatus>,
}

/// A connection for changing one server, with its dialect.
#[derive(Debug)]
pub struct Operator {
    key: InstanceKey,
    session: Session,
    dialect: Dialect,
}

impl Operator {
    /// Connects to `key` and detects its dialect.
    pub async fn connect(key: InstanceKey, opts: &ConnectOptions) -> Result<Self, Error> {
        let mut session = Session::connect(opts).await?;
        let rows = session
            .query("SELECT @@global.version AS v, @@global.version_comment AS c")
            .await?;
        let row = rows.first();
        let dialect = Dialect::detect(
            row.and_then(|r| r.get("v")).unwrap_or_default(),
            row.and_then(|r| r.get("c")).unwrap_or_default(),
        );
        Ok(Self {
            key,
            session,
            dialect,
        })
    }

    /// An operator on an open session whose dialect is known.
    pub fn from_session(key: InstanceKey, session: Session, dialect: Dialect) -> Self {
        Self {
            key,
            session,
            dialect,
        }
    }

    /// The server.
    pub fn key(&self) -> &InstanceKey {
        &self.key
    }

    /// Changes the bound on every later statement (a connection opened for
    /// reading facts goes on to change the server).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.session.set_read_timeout(timeout);
    }

    /// Its dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether it is MariaDB.
    pub fn is_mariadb(&self) -> bool {
        self.dialect.flavor == orc_model::Flavor::Mariadb
    }

    /// Runs statements that return nothing.
    pub async fn exec(&mut self, sql: &str) -> Result<(), Error> {
        self.session.exec(sql).await
    }

    /// Runs statements within `timeout`.
    pub async fn exec_within(&mut self, sql: &str, timeout: Duration) -> Result<(), Error> {
        self.session.exec_within(sql, timeout).await
    }

    /// The first value of a query.
    pub async fn value(&mut self, sql: &str) -> Result<Option<String>, Error> {
        self.session.query_value(sql).await
    }

    /// Rows of a query.
    pub async fn rows(&mut self, sql: &str) -> Result<Vec<crate::Row>, Error> {
        self.session.query(sql).await
    }

    /// `STOP SLAVE`.
    pub async fn stop_replica(&mut self) -> Result<(), Error> {
        let sql = stop_replica(self.dialect);
        self.exec(&sql).await
    }

    /// `STOP SLAVE IO_THREAD`.
    pub async fn stop_io_thread(&mut self) -> Result<(), Error> {
        let sql = stop_io_thread(self.dialect);
        self.exec(&sql).await
    }

    /// `START SLAVE`.
    pub async fn start_replica(&mut self) -> Result<(), Error> {
        let sql = start_replica(self.dialect);
        self.exec(&sql).await
    }

    /// `RESET SLAVE ALL`.
    pub async fn reset_replica_all(&mut self) -> Result<(), Error> {
        let sql = reset_replica_all(self.dialect);
        self.exec(&sql).await
    }

    /// `read_only` (and `super_read_only`).
    pub async fn set_read_only(&mut self, read_only: bool, use_super: bool) -> Result<(), Error> {
        let sql = set_read_only(self.dialect, read_only, use_super);
        self.exec(&sql).await
    }

    /// Makes the server read-only at once ([`fence_read_only`]); returns
    /// whether it was writable until then.
    pub async fn fence_read_only(&mut self, use_super: bool) -> Result<bool, Error> {
        let sql = fence_read_only(self.dialect, use_super);
        self.exec(&sql).await?;
        let was = self.value(WAS_READ_ONLY).await?;
        Ok(was.is_some_and(|v| v.trim() == "0"))
    }

    /// `CHANGE MASTER TO`.
    pub async fn change_source(&mut self, c: &ChangeSource) -> Result<(), Error> {
        let sql = change_source(self.dialect, c);
        self.exec(&sql).await
    }

    /// Points the replica at `//host` so it stops trying its old source.
    pub async fn detach_source(&mut self, host: &str) -> Result<(), Error> {
        let sql = detach_source(self.dialect, host);
        self.exec(&sql).await
    }

    /// `START SLAVE SQL_THREAD`.
    pub async fn start_sql_thread(&mut self) -> Result<(), Error> {
        let sql = start_sql_thread(self.dialect);
        self.exec(&sql).await
    }

    /// `START SLAVE UNTIL` the source's `file:pos`.
    pub async fn start_replica_until(&mut self, file: &str, pos: u64) -> Result<(), Error> {
        let sql = start_replica_until(self.dialect, file, pos);
        self.exec(&sql).await
    }

    /// Changes the source host only, keeping the executed position.
    pub async fn change_host(
        &mut self,
        host: &str,
        keep: Option<(&str, u64)>,
    ) -> Result<(), Error> {
        let sql = change_host(self.dialect, host, keep);
        self.exec(&sql).await
    }

    /// Skips one event group (file:pos or MariaDB).
    pub async fn skip_one(&mut self) -> Result<(), Error> {
        let sql = skip_counter(self.dialect);
        self.exec(sql).await
    }

    /// `CHANGE MASTER TO MASTER_DELAY`.
    pub async fn change_delay(&mut self, seconds: u32) -> Result<(), Error> {
        let sql = change_delay(self.dialect, seconds);
        self.exec(&sql).await
    }

    /// Enables or disables a semi-sync role.
    pub async fn set_semi_sync(&mut self, master: bool, enabled: bool) -> Result<(), Error> {
        let sql = set_semi_sync(self.dialect, master, enabled);
        self.exec(&sql).await
    }

    /// The GTID position applied as a replica.
    pub async fn applied_gtid_position(&mut self) -> Result<String, Error> {
        let sql = applied_gtid_position(self.dialect);
        Ok(self.value(sql).await?.unwrap_or_default())
    }

    /// `read_only`, `log_bin`, `log_slave_updates` and the replication
    /// status, read fresh (what preconditions are checked against).
    pub async fn state(&mut self) -> Result<ServerState, Error> {
        // One round trip: the variables, then the default channel's status.
        let status = if self.is_mariadb() {
            "SHOW SLAVE STATUS"
        } else {
            self.dialect.replica_status()
        };
        let sql = format!(
            "SELECT @@global.read_only AS ro, @@global.log_bin AS lb, @@global.{} AS lu; {status}",
            self.dialect.log_replica_updates_var()
        );
        let sets = self.session.query_multi(&sql).await?;
        let vars = sets.first().and_then(|rows| rows.first());
        let flag = |name: &str| {
            vars.and_then(|r| r.get(name))
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("on"))
        };
        let (read_only, log_bin, log_replica_updates) = (flag("ro"), flag("lb"), flag("lu"));
        let replication = sets
            .get(1)
            .and_then(|rows| rows.first())
            .map(replication_status);
        Ok(ServerState {
            read_only,
            log_bin,
            log_replica_updates,
            replication,
        })
    }

    /// `SHOW BINARY LOGS`: every binary log file and its size, oldest first.
    pub async fn binary_logs(&mut self) -> Result<Vec<(String, u64)>, Error> {
        let rows = self.session.query("SHOW BINARY LOGS").await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some((
                    r.get("Log_name")?.to_string(),
                    r.get("File_size").and_then(|v| v.parse().ok()).unwrap_or(0),
                ))
            })
            .collect())
    }

    /// Up to `limit` events of a binary log from `from` (`SHOW BINLOG EVENTS`).
    pub async fn binlog_events(
        &mut self,
        file: &str,
        from: u64,
        limit: u64,
    ) -> Result<Vec<BinlogEventRow>, Error> {
        let sql = format!(
            "SHOW BINLOG EVENTS IN {} FROM {from} LIMIT {limit}",
            quote(file)
        );
        let rows = self.session.query(&sql).await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(BinlogEventRow {
                    log_file: r.get("Log_name")?.to_string(),
                    pos: r.get("Pos")?.parse().ok()?,
                    event_type: r.get("Event_type").unwrap_or_default().to_string(),
                    server_id: r.get("Server_id").and_then(|v| v.parse().ok()).unwrap_or(0),
                    end_log_pos: r.get("End_log_pos")?.parse().ok()?,
                    info: r.get("Info").unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    /// The server's own binary log position (`None` without binary logs).
    pub async fn binlog_coordinates(&mut self) -> Result<Option<(String, u64)>, Error> {
        let sql = self.dialect.binlog_status();
        let rows = self.session.query(sql).await?;
        Ok(rows.first().and_then(|r| {
            Some((
                r.get("File")?.to_string(),
                r.get("Position")?.parse::<u64>().ok()?,
            ))
        }))
    }

    /// The server's own GTID position (empty when it has none).
    pub async fn own_gtid_position(&mut self) -> Result<String, Error> {
        let sql = own_gtid_position(self.dialect);
        Ok(self.value(sql).await?.unwrap_or_default())
    }

    /// Waits until `position` is applied; `Ok(false)` on timeout.
    pub async fn wait_for_gtid(
        &mut self,
        position: &str,
        timeout: Duration,
    ) -> Result<bool, Error> {
        if position.trim().is_empty() {
            return Ok(true);
        }
        let sql = wait_for_gtid(self.dialect, position, timeout);
        let answer = self
            .session
            .query_value_within(&sql, timeout + Duration::from_secs(2))
            .await?;
        Ok(answer.as_deref().map(str::trim) == Some("0"))
    }

    /// Its replication status (default channel), if it replicates.
    pub async fn replication(&mut self) -> Result<Option<ReplicationStatus>, Error> {
        let sql = if self.is_mariadb() {
            "SHOW SLAVE STATUS"
        } else {
            self.dialect.replica_status()
        };
        let rows = self.session.query(sql).await?;
        Ok(rows.first().map(replication_status))
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.session.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mariadb() -> Dialect {
        Dialect::detect("10.11.6-MariaDB-log", "MariaDB Server")
    }

    fn mysql(v: &str) -> Dialect {
        Dialect::detect(v, "MySQL Community Server - GPL")
    }

    #[test]
    fn statements_follow_the_dialect() {
        assert_eq!(stop_replica(mariadb()), "STOP SLAVE");
        assert_eq!(stop_replica(mysql("5.7.44")), "STOP SLAVE");
        assert_eq!(stop_replica(mysql("8.0.36")), "STOP REPLICA");
        assert_eq!(reset_replica_all(mysql("8.4.0")), "RESET REPLICA ALL");
        assert_eq!(stop_io_thread(mariadb()), "STOP SLAVE IO_THREAD");
        assert_eq!(
            set_read_only(mariadb(), true, true),
            "SET GLOBAL read_only = 1"
        );
        assert_eq!(
            set_read_only(mysql("8.0.36"), true, true),
            "SET GLOBAL read_only = 1; SET GLOBAL super_read_only = 1"
        );
    }

    #[test]
    fn change_source_per_flavour() {
        let c = ChangeSource {
            host: "db2".into(),
            port: 3306,
            position: StartPosition::MariadbSlavePos,
            credentials: None,
        };
        assert_eq!(
            change_source(mariadb(), &c),
            "CHANGE MASTER TO MASTER_HOST = 'db2', MASTER_PORT = 3306, MASTER_USE_GTID = slave_pos"
        );
        let c = ChangeSource {
            position: StartPosition::AutoPosition,
            credentials: Some(("repl".into(), "it's".into())),
            ..c
        };
        assert_eq!(
            change_source(mysql("8.0.36"), &c),
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'db2', SOURCE_PORT = 3306, SOURCE_USER = 'repl', SOURCE_PASSWORD = 'it''s', SOURCE_AUTO_POSITION = 1"
        );
        let c = ChangeSource {
            position: StartPosition::File {
                file: "mysql-bin.000002".into(),
                pos: 4,
            },
            credentials: None,
            ..c
        };
        assert_eq!(
            change_source(mysql("5.7.44"), &c),
            "CHANGE MASTER TO MASTER_HOST = 'db2', MASTER_PORT = 3306, MASTER_AUTO_POSITION = 0, MASTER_LOG_FILE = 'mysql-bin.000002', MASTER_LOG_POS = 4"
        );
        assert_eq!(
            detach_source(mariadb(), "db1"),
            "CHANGE MASTER TO MASTER_HOST = '//db1'"
        );
        assert_eq!(
            detach_source(mariadb(), "//db1"),
            "CHANGE MASTER TO MASTER_HOST = '//db1'"
        );
    }

    #[test]
    fn gtid_waits_per_flavour() {
        assert_eq!(
            wait_for_gtid(mariadb(), "0-1-5", Duration::from_secs(2)),
            "SELECT MASTER_GTID_WAIT('0-1-5', 2.000)"
        );
        assert!(
            wait_for_gtid(mysql("8.0.36"), "u:1-5", Duration::from_millis(500))
                .starts_with("SELECT WAIT_FOR_EXECUTED_GTID_SET('u:1-5', 0.500)")
        );
        assert_eq!(quote("a\\b'c"), "'a\\\\b''c'");
    }
}

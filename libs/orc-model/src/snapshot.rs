//! What one probe of one server saw, when, and whether it succeeded.

use serde::{Deserialize, Serialize};

use crate::coordinates::BinlogCoordinates;
use crate::gtid::{GtidFlavor, GtidSet};
use crate::key::InstanceKey;
use crate::promotion::PromotionRule;
use crate::time::Timestamp;

/// The result of probing one server once, from one vantage point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSnapshot {
    /// The server probed.
    pub key: InstanceKey,
    /// Which prober saw it (its id; also its failure domain when configured).
    pub vantage: String,
    /// When the probe started.
    pub started_at: Timestamp,
    /// When the probe ended; the instant the observation is valid for.
    pub observed_at: Timestamp,
    /// Whether the probe succeeded.
    pub outcome: ProbeOutcome,
    /// What the server reported. Present on partial success, and on
    /// success unless unchanged since this vantage's last full snapshot
    /// (probers send the data again at least every few seconds).
    pub data: Option<InstanceData>,
    /// A one-off probe (discover, refresh) by a prober that does not keep
    /// probing this instance: it updates the instance but casts no vantage
    /// vote — a vote that is not renewed would outweigh the owner's
    /// evidence until it went stale.
    #[serde(default)]
    pub one_off: bool,
}

impl InstanceSnapshot {
    /// Whether the server answered its identity query.
    pub fn reached(&self) -> bool {
        !matches!(self.outcome, ProbeOutcome::Failed(_))
    }
}

/// Whether a probe succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProbeOutcome {
    /// Every query answered.
    Ok,
    /// The identity query answered but a later one failed (orchestrator's
    /// "partial success"): the server is up but the data is incomplete.
    Partial(ProbeError),
    /// The server could not be reached or did not answer its identity query.
    Failed(ProbeError),
}

/// Why a probe failed; the kind is evidence the analysis weighs
/// (a refused connection means the server is down, a timeout may mean hung).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeError {
    /// Classification of the failure.
    pub kind: ProbeErrorKind,
    /// The driver's message.
    pub message: String,
}

/// Classification of probe failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProbeErrorKind {
    /// TCP connection refused or reset while connecting: nothing listens.
    Refused,
    /// Connect or read timed out: the host or server may be hung or cut off.
    Timeout,
    /// An established connection closed under us.
    ConnectionLost,
    /// Authentication failed (wrong credentials, missing grant).
    AccessDenied,
    /// The hostname did not resolve.
    Unresolvable,
    /// A query failed on a live server.
    Query,
    /// Anything else.
    Other,
}

/// Server software family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Flavor {
    /// Oracle MySQL.
    #[default]
    Mysql,
    /// Percona Server.
    Percona,
    /// MariaDB.
    Mariadb,
}

impl Flavor {
    /// Infers the flavour from `@@version` and `@@version_comment`.
    pub fn detect(version: &str, version_comment: &str) -> Self {
        let v = version.to_ascii_lowercase();
        let c = version_comment.to_ascii_lowercase();
        if v.contains("mariadb") || c.contains("mariadb") {
            Flavor::Mariadb
        } else if v.contains("percona") || c.contains("percona") {
            Flavor::Percona
        } else {
            Flavor::Mysql
        }
    }

    /// orchestrator's `FlavorName`.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Mysql => "MySQL",
            Flavor::Percona => "Percona",
            Flavor::Mariadb => "MariaDB",
        }
    }

    /// Which GTID implementation the flavour has.
    pub fn gtid_flavor(self) -> GtidFlavor {
        match self {
            Flavor::Mariadb => GtidFlavor::Mariadb,
            Flavor::Mysql | Flavor::Percona => GtidFlavor::Mysql,
        }
    }
}

/// A replication thread's state as `SHOW SLAVE STATUS` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ThreadState {
    /// `Yes`.
    Running,
    /// `No`.
    #[default]
    Stopped,
    /// `Connecting`: the IO thread is trying to (re)connect to its source.
    Connecting,
    /// Any other text.
    Other,
}

impl ThreadState {
    /// Parses `Yes` / `No` / `Connecting` / other.
    pub fn parse(text: &str) -> Self {
        match text.trim() {
            t if t.eq_ignore_ascii_case("yes") => Self::Running,
            t if t.eq_ignore_ascii_case("no") || t.is_empty() => Self::Stopped,
            t if t.eq_ignore_ascii_case("connecting") => Self::Connecting,
            _ => Self::Other,
        }
    }

    /// orchestrator's numeric state: 0 stopped, 1 running, 2 other.
    pub fn code(self) -> i32 {
        match self {
            Self::Stopped => 0,
            Self::Running => 1,
            Self::Connecting | Self::Other => 2,
        }
    }

    /// Whether the thread is `Yes`.
    pub fn is_running(self) -> bool {
        self == Self::Running
    }
}

/// One replication channel of a replica (`SHOW SLAVE STATUS` row).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplicationStatus {
    /// Channel / connection name; empty for the default channel.
    pub channel: String,
    /// `Master_Host` as configured (may be `_`, empty, or `//`-prefixed when detached).
    pub master_host: String,
    /// `Master_Port`.
    pub master_port: u16,
    /// `Master_User`.
    pub master_user: String,
    /// `Master_Server_Id`.
    pub master_server_id: u32,
    /// `Master_UUID` (MySQL).
    pub master_uuid: String,
    /// `Slave_IO_Running`.
    pub io_thread: ThreadState,
    /// `Slave_SQL_Running`.
    pub sql_thread: ThreadState,
    /// `Slave_IO_State` text.
    pub io_state_text: String,
    /// `Master_Log_File` / `Read_Master_Log_Pos`.
    pub read_coordinates: BinlogCoordinates,
    /// `Relay_Master_Log_File` / `Exec_Master_Log_Pos`.
    pub exec_coordinates: BinlogCoordinates,
    /// `Relay_Log_File` / `Relay_Log_Pos`.
    pub relay_coordinates: BinlogCoordinates,
    /// `Last_IO_Errno`.
    pub last_io_errno: u32,
    /// `Last_IO_Error`.
    pub last_io_error: String,
    /// `Last_SQL_Errno`.
    pub last_sql_errno: u32,
    /// `Last_SQL_Error`.
    pub last_sql_error: String,
    /// `Seconds_Behind_Master`; `None` when NULL. Negative values clamp to 0.
    pub seconds_behind_master: Option<i64>,
    /// `SQL_Delay`.
    pub sql_delay: u32,
    /// `Auto_Position` (MySQL GTID auto-positioning).
    pub auto_position: bool,
    /// `Using_Gtid` (MariaDB): `No`, `Slave_Pos` or `Current_Pos`; empty on MySQL.
    pub using_gtid: String,
    /// `Gtid_IO_Pos` (MariaDB).
    pub gtid_io_pos: String,
    /// `Retrieved_Gtid_Set` (MySQL).
    pub retrieved_gtid_set: String,
    /// `Executed_Gtid_Set` (MySQL).
    pub executed_gtid_set: String,
    /// Any `Replicate_*` filter set.
    pub has_filters: bool,
    /// `Master_SSL_Allowed`.
    pub ssl_allowed: bool,
}

impl ReplicationStatus {
    /// Whether the source host is `//`-prefixed (orchestrator's detach).
    pub fn is_detached(&self) -> bool {
        self.master_host.starts_with("//")
    }

    /// The source's key, when one is configured and not detached.
    pub fn master_key(&self) -> Option<InstanceKey> {
        let host = self.master_host.trim();
        if host.is_empty() || host == "_" || self.is_detached() || self.master_port == 0 {
            return None;
        }
        InstanceKey::new(host, self.master_port).ok()
    }

    /// Whether both threads are `Yes`.
    pub fn is_replicating(&self) -> bool {
        self.io_thread.is_running() && self.sql_thread.is_running()
    }

    /// Whether MariaDB GTID is in use on this channel.
    pub fn uses_mariadb_gtid(&self) -> bool {
        !self.using_gtid.is_empty() && !self.using_gtid.eq_ignore_ascii_case("no")
    }

    /// orchestrator's "failing to connect to master": IO not running, SQL
    /// running, and an IO error about connecting.
    pub fn is_failing_to_connect(&self) -> bool {
        !self.io_thread.is_running()
            && self.sql_thread.is_running()
            && self
                .last_io_error
                .to_ascii_lowercase()
                .contains("connecting to master")
    }
}

/// Semi-synchronous replication state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SemiSync {
    /// Both semi-sync roles are available on the server.
    pub available: bool,
    /// `rpl_semi_sync_master_enabled`.
    pub master_enabled: bool,
    /// `rpl_semi_sync_slave_enabled`.
    pub replica_enabled: bool,
    /// `rpl_semi_sync_master_timeout` (ms).
    pub master_timeout_ms: u64,
    /// `rpl_semi_sync_master_wait_for_slave_count`.
    pub master_wait_for_replica_count: u32,
    /// Status `Rpl_semi_sync_master_status`.
    pub master_status: bool,
    /// Status `Rpl_semi_sync_master_clients`.
    pub master_clients: u32,
    /// Status `Rpl_semi_sync_slave_status`.
    pub replica_status: bool,
}

/// Everything a successful probe read from one server.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InstanceData {
    /// `@@server_id`.
    pub server_id: u32,
    /// `@@server_uuid` (MySQL; empty on MariaDB).
    pub server_uuid: String,
    /// `@@hostname`.
    pub hostname: String,
    /// `@@report_host`.
    pub report_host: String,
    /// `@@version`.
    pub version: String,
    /// `@@version_comment`.
    pub version_comment: String,
    /// Software family.
    pub flavor: Flavor,
    /// `@@read_only`.
    pub read_only: bool,
    /// `@@super_read_only` (MySQL).
    pub super_read_only: bool,
    /// `@@log_bin`.
    pub log_bin: bool,
    /// `@@log_slave_updates` / `@@log_replica_updates`.
    pub log_replica_updates: bool,
    /// `@@binlog_format`.
    pub binlog_format: String,
    /// `@@binlog_row_image`.
    pub binlog_row_image: String,
    /// `@@gtid_mode` (MySQL); empty on MariaDB.
    pub gtid_mode: String,
    /// Executed GTIDs: `@@gtid_executed` (MySQL) or `@@gtid_binlog_pos` (MariaDB).
    pub gtid_executed: String,
    /// `@@gtid_purged` (MySQL); empty on MariaDB.
    pub gtid_purged: String,
    /// `@@gtid_current_pos` (MariaDB).
    pub gtid_current_pos: String,
    /// `@@gtid_slave_pos` (MariaDB).
    pub gtid_slave_pos: String,
    /// `SHOW MASTER STATUS` / `SHOW BINARY LOG STATUS`, when binary logging is on.
    pub self_coordinates: Option<BinlogCoordinates>,
    /// The default replication channel; `None` when the server replicates from nothing.
    pub replication: Option<ReplicationStatus>,
    /// Further named channels (multi-source replication).
    pub extra_channels: Vec<ReplicationStatus>,
    /// Replicas the server reports (`SHOW SLAVE HOSTS` or the processlist).
    pub replicas: Vec<InstanceKey>,
    /// Semi-sync state.
    pub semi_sync: SemiSync,
    /// `Uptime` in seconds.
    pub uptime_seconds: u64,
    /// Lag from `ReplicationLagQuery` when configured, else `Seconds_Behind_Master`.
    pub replication_lag_seconds: Option<i64>,
    /// Data centre (query or pattern).
    pub data_center: String,
    /// Region (query or pattern).
    pub region: String,
    /// Physical environment (query or pattern).
    pub physical_environment: String,
    /// `DetectInstanceAliasQuery` result.
    pub instance_alias: String,
    /// `DetectClusterAliasQuery` result.
    pub suggested_cluster_alias: String,
    /// `DetectClusterDomainQuery` result.
    pub cluster_domain: String,
    /// `DetectPromotionRuleQuery` result.
    pub promotion_rule_hint: Option<PromotionRule>,
    /// `DetectSemiSyncEnforcedQuery` result.
    pub semi_sync_priority: u32,
    /// Replication credentials are stored on the server (`mysql.slave_master_info`).
    pub replication_credentials_available: bool,
    /// The server's binary logs carry Pseudo-GTID entries, as another
    /// observer reported it (orchestrator's `UsingPseudoGTID`, replayed
    /// from its documents); probes leave it false and the analysis takes a
    /// configured `PseudoGTIDPattern` instead.
    #[serde(default)]
    pub using_pseudo_gtid: bool,
    /// Errant GTIDs as another observer computed them (orchestrator's
    /// `GtidErrant`, replayed); probes leave it empty and the analysis
    /// computes errant transactions itself.
    #[serde(default)]
    pub reported_gtid_errant: String,
}

impl InstanceData {
    /// Whether `self` and `other` differ at most in the figures that move
    /// on every healthy server (binary log and relay positions, GTID sets,
    /// lag, uptime): what tells an analysis nothing new by itself.
    pub fn same_shape(&self, other: &Self) -> bool {
        fn moving(d: &InstanceData) -> InstanceData {
            let mut d = d.clone();
            d.gtid_executed.clear();
            d.gtid_purged.clear();
            d.gtid_current_pos.clear();
            d.gtid_slave_pos.clear();
            d.self_coordinates = None;
            d.uptime_seconds = 0;
            d.replication_lag_seconds = d.replication_lag_seconds.map(|_| 0);
            for r in d.replication.iter_mut().chain(d.extra_channels.iter_mut()) {
                r.read_coordinates = Default::default();
                r.exec_coordinates = Default::default();
                r.relay_coordinates = Default::default();
                r.seconds_behind_master = r.seconds_behind_master.map(|_| 0);
                r.gtid_io_pos.clear();
                r.retrieved_gtid_set.clear();
                r.executed_gtid_set.clear();
            }
            d
        }
        moving(self) == moving(other)
    }
    /// The default channel's source key, if any.
    pub fn master_key(&self) -> Option<InstanceKey> {
        self.replication
            .as_ref()
            .and_then(ReplicationStatus::master_key)
    }

    /// Whether the default channel is `//`-detached.
    pub fn is_detached(&self) -> bool {
        self.replication
            .as_ref()
            .is_some_and(ReplicationStatus::is_detached)
    }

    /// Whether both replication threads of the default channel are `Yes`.
    pub fn is_replicating(&self) -> bool {
        self.replication
            .as_ref()
            .is_some_and(ReplicationStatus::is_replicating)
    }

    /// Whether this server writes binary logs that its replicas' replicas can
    /// read (log_bin and log_slave_updates): orchestrator's `>>`.
    pub fn is_logging_replica_updates(&self) -> bool {
        self.log_bin && self.log_replica_updates
    }

    /// Major version, e.g. `10.11` of `10.11.19-MariaDB-log`.
    pub fn major_version(&self) -> String {
        let mut parts = self.version.split(['.', '-']);
        match (parts.next(), parts.next()) {
            (Some(a), Some(b)) => format!("{a}.{b}"),
            (Some(a), None) => a.to_string(),
            _ => String::new(),
        }
    }

    /// Executed GTIDs parsed for this flavour, if any and if well formed.
    pub fn executed_gtids(&self) -> Option<GtidSet> {
        if self.gtid_executed.trim().is_empty() {
            return None;
        }
        GtidSet::parse(self.flavor.gtid_flavor(), &self.gtid_executed).ok()
    }

    /// Whether Oracle GTID is on (`gtid_mode=ON`).
    pub fn supports_oracle_gtid(&self) -> bool {
        self.flavor != Flavor::Mariadb && self.gtid_mode.eq_ignore_ascii_case("on")
    }

    /// Whether the default channel uses Oracle auto-positioning.
    pub fn using_oracle_gtid(&self) -> bool {
        self.replication.as_ref().is_some_and(|r| r.auto_position)
    }

    /// Whether the default channel uses MariaDB GTID.
    pub fn using_mariadb_gtid(&self) -> bool {
        self.replication
            .as_ref()
            .is_some_and(ReplicationStatus::uses_mariadb_gtid)
    }

    /// The one GTID predicate of the project: the GTID flavour this
    /// server's default channel replicates with, if any. MariaDB counts when
    /// `Using_Gtid` is `Slave_Pos` or `Current_Pos`; MySQL and Percona when
    /// `Auto_Position` is on. A server of one flavour never counts as using
    /// the other's GTID, whatever its status row says.
    pub fn gtid_replication(&self) -> Option<GtidFlavor> {
        let r = self.replication.as_ref()?;
        match self.flavor {
            Flavor::Mariadb => r.uses_mariadb_gtid().then_some(GtidFlavor::Mariadb),
            Flavor::Mysql | Flavor::Percona => r.auto_position.then_some(GtidFlavor::Mysql),
        }
    }

    /// The GTID flavour replicas of this server can follow it with: MariaDB
    /// servers with binary logs always write GTIDs; MySQL needs
    /// `gtid_mode=ON` as well.
    pub fn serves_gtid(&self) -> Option<GtidFlavor> {
        if !self.log_bin {
            return None;
        }
        match self.flavor {
            Flavor::Mariadb => Some(GtidFlavor::Mariadb),
            Flavor::Mysql | Flavor::Percona => {
                self.supports_oracle_gtid().then_some(GtidFlavor::Mysql)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavour_is_detected_from_version_strings() {
        assert_eq!(
            Flavor::detect("10.11.19-MariaDB-0+deb12u1-log", "Debian 12"),
            Flavor::Mariadb
        );
        assert_eq!(
            Flavor::detect("8.0.36-28", "Percona Server (GPL), Release 28"),
            Flavor::Percona
        );
        assert_eq!(
            Flavor::detect("8.4.0", "MySQL Community Server - GPL"),
            Flavor::Mysql
        );
    }

    #[test]
    fn thread_states_follow_orchestrator_codes() {
        assert_eq!(ThreadState::parse("Yes").code(), 1);
        assert_eq!(ThreadState::parse("No").code(), 0);
        assert_eq!(ThreadState::parse("Connecting").code(), 2);
        assert_eq!(ThreadState::parse("Preparing").code(), 2);
    }

    #[test]
    fn master_key_is_absent_for_reset_and_detached_sources() {
        let mut r = ReplicationStatus {
            master_host: "127.0.0.1".into(),
            master_port: 3306,
            ..Default::default()
        };
        assert_eq!(r.master_key().unwrap().to_string(), "127.0.0.1:3306");
        r.master_host = "//127.0.0.1".into();
        assert!(r.is_detached());
        assert!(r.master_key().is_none());
        r.master_host = "_".into();
        assert!(r.master_key().is_none());
    }

    #[test]
    fn failing_to_connect_needs_the_connect_error() {
        let r = ReplicationStatus {
            io_thread: ThreadState::Connecting,
            sql_thread: ThreadState::Running,
            last_io_error: "error reconnecting to master 'repl@127.0.0.1:3306' - retry-time: 1"
                .into(),
            ..Default::default()
        };
        assert!(r.is_failing_to_connect());
        let quiet = ReplicationStatus {
            last_io_error: String::new(),
            ..r
        };
        assert!(!quiet.is_failing_to_connect());
    }

    #[test]
    fn major_version_takes_two_components() {
        let d = InstanceData {
            version: "10.11.19-MariaDB-log".into(),
            ..Default::default()
        };
        assert_eq!(d.major_version(), "10.11");
    }
}

//! Turning a server's answers into `InstanceData`. Pure: tests replay
//! captured result sets of MariaDB and MySQL 5.7 / 8.0 / 8.4.

use orc_model::{
    BinlogCoordinates, Flavor, InstanceData, InstanceKey, PromotionRule, ReplicationStatus,
    SemiSync, ThreadState,
};

use super::settings::{HostPatterns, ProbeSettings};
use crate::Row;

/// Positions of the result sets in the core probe batch.
pub(crate) mod set {
    pub const IDENTITY: usize = 0;
    pub const STATUS: usize = 1;
    pub const SEMI_SYNC_VARIABLES: usize = 2;
    pub const BINLOG_STATUS: usize = 3;
    pub const REPLICA_STATUS: usize = 4;
    pub const REPLICA_HOSTS: usize = 5;
    pub const PROCESSLIST: usize = 6;
    pub const COUNT: usize = 7;
}

/// Answers of the optional one-cell queries (`ReplicationLagQuery`, `Detect*Query`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectedValues {
    /// `ReplicationLagQuery`.
    pub replication_lag: Option<String>,
    /// `DetectDataCenterQuery`.
    pub data_center: Option<String>,
    /// `DetectRegionQuery`.
    pub region: Option<String>,
    /// `DetectPhysicalEnvironmentQuery`.
    pub physical_environment: Option<String>,
    /// `DetectInstanceAliasQuery`.
    pub instance_alias: Option<String>,
    /// `DetectClusterAliasQuery`.
    pub cluster_alias: Option<String>,
    /// `DetectClusterDomainQuery`.
    pub cluster_domain: Option<String>,
    /// `DetectPromotionRuleQuery`.
    pub promotion_rule: Option<String>,
    /// `DetectSemiSyncEnforcedQuery`.
    pub semi_sync_enforced: Option<String>,
}

fn first<'a>(row: &'a Row, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| row.get(n))
}

fn text(row: &Row, names: &[&str]) -> String {
    first(row, names).unwrap_or_default().to_string()
}

fn number<T: std::str::FromStr + Default>(row: &Row, names: &[&str]) -> T {
    first(row, names)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_default()
}

/// `ON`/`1`/`YES`/`TRUE` → true.
pub(crate) fn truthy(v: Option<&str>) -> bool {
    matches!(
        v.map(|s| s.trim().to_ascii_uppercase()).as_deref(),
        Some("ON" | "1" | "YES" | "TRUE" | "FORCE_PLUS_PERMANENT")
    )
}

/// Parses one `SHOW SLAVE STATUS` / `SHOW REPLICA STATUS` / `SHOW ALL SLAVES STATUS` row.
pub fn replication_status(row: &Row) -> ReplicationStatus {
    let filters = [
        "Replicate_Do_DB",
        "Replicate_Ignore_DB",
        "Replicate_Do_Table",
        "Replicate_Ignore_Table",
        "Replicate_Wild_Do_Table",
        "Replicate_Wild_Ignore_Table",
    ];
    ReplicationStatus {
        channel: text(row, &["Connection_name", "Channel_Name"]),
        master_host: text(row, &["Master_Host", "Source_Host"]),
        master_port: number(row, &["Master_Port", "Source_Port"]),
        master_user: text(row, &["Master_User", "Source_User"]),
        master_server_id: number(row, &["Master_Server_Id", "Source_Server_Id"]),
        master_uuid: text(row, &["Master_UUID", "Source_UUID"]),
        io_thread: ThreadState::parse(
            first(row, &["Slave_IO_Running", "Replica_IO_Running"]).unwrap_or(""),
        ),
        sql_thread: ThreadState::parse(
            first(row, &["Slave_SQL_Running", "Replica_SQL_Running"]).unwrap_or(""),
        ),
        io_state_text: text(row, &["Slave_IO_State", "Replica_IO_State"]),
        read_coordinates: BinlogCoordinates::binary(
            text(row, &["Master_Log_File", "Source_Log_File"]),
            number(row, &["Read_Master_Log_Pos", "Read_Source_Log_Pos"]),
        ),
        exec_coordinates: BinlogCoordinates::binary(
            text(row, &["Relay_Master_Log_File", "Relay_Source_Log_File"]),
            number(row, &["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"]),
        ),
        relay_coordinates: BinlogCoordinates::relay(
            text(row, &["Relay_Log_File"]),
            number(row, &["Relay_Log_Pos"]),
        ),
        last_io_errno: number(row, &["Last_IO_Errno"]),
        last_io_error: text(row, &["Last_IO_Error"]),
        last_sql_errno: number(row, &["Last_SQL_Errno"]),
        last_sql_error: text(row, &["Last_SQL_Error"]),
        seconds_behind_master: first(row, &["Seconds_Behind_Master", "Seconds_Behind_Source"])
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|v| v.max(0)),
        sql_delay: number(row, &["SQL_Delay"]),
        auto_position: truthy(first(row, &["Auto_Position"])),
        using_gtid: text(row, &["Using_Gtid"]),
        gtid_io_pos: text(row, &["Gtid_IO_Pos"]),
        retrieved_gtid_set: text(row, &["Retrieved_Gtid_Set"]),
        executed_gtid_set: text(row, &["Executed_Gtid_Set"]),
        has_filters: filters
            .iter()
            .any(|f| row.get(f).is_some_and(|v| !v.trim().is_empty())),
        ssl_allowed: first(row, &["Master_SSL_Allowed", "Source_SSL_Allowed"])
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
    }
}

fn name_value(rows: &[Row]) -> impl Iterator<Item = (String, &str)> {
    rows.iter().filter_map(|r| {
        let name = r.at(0)?.to_ascii_lowercase();
        Some((name, r.at(1).unwrap_or_default()))
    })
}

fn semi_sync(status: &[Row], variables: &[Row]) -> SemiSync {
    let mut s = SemiSync::default();
    let mut saw_master = false;
    let mut saw_replica = false;
    for (name, value) in name_value(variables) {
        let name = name.replace("source", "master").replace("replica", "slave");
        match name.as_str() {
            "rpl_semi_sync_master_enabled" => {
                saw_master = true;
                s.master_enabled = truthy(Some(value));
            }
            "rpl_semi_sync_master_timeout" => s.master_timeout_ms = value.parse().unwrap_or(0),
            "rpl_semi_sync_master_wait_for_slave_count" => {
                s.master_wait_for_replica_count = value.parse().unwrap_or(0);
            }
            "rpl_semi_sync_slave_enabled" => {
                saw_replica = true;
                s.replica_enabled = truthy(Some(value));
            }
            _ => {}
        }
    }
    s.available = saw_master && saw_replica;
    for (name, value) in name_value(status) {
        let name = name.replace("source", "master").replace("replica", "slave");
        match name.as_str() {
            "rpl_semi_sync_master_status" => s.master_status = truthy(Some(value)),
            "rpl_semi_sync_master_clients" => s.master_clients = value.parse().unwrap_or(0),
            "rpl_semi_sync_slave_status" => s.replica_status = truthy(Some(value)),
            _ => {}
        }
    }
    s
}

fn uptime(status: &[Row]) -> u64 {
    name_value(status)
        .find(|(n, _)| n == "uptime")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Replica keys from `SHOW SLAVE HOSTS` / `SHOW REPLICAS` (rows with a host),
/// else from the processlist's binlog-dump connections, assumed to use
/// `own_port` (orchestrator's rule; imprecise when ports differ).
pub fn replica_keys(hosts: &[Row], processlist: &[Row], own: &InstanceKey) -> Vec<InstanceKey> {
    let mut keys: Vec<InstanceKey> = hosts
        .iter()
        .filter_map(|r| {
            let host = r.get("Host")?.trim();
            let port: u16 = r.get("Port")?.trim().parse().ok()?;
            if host.is_empty() {
                return None;
            }
            InstanceKey::new(host, port).ok()
        })
        .collect();
    if keys.is_empty() {
        keys = processlist
            .iter()
            .filter_map(|r| {
                let host = r.at(0)?.trim();
                if host.is_empty() || host.eq_ignore_ascii_case("localhost") {
                    return None;
                }
                InstanceKey::new(host, own.port()).ok()
            })
            .collect();
    }
    keys.retain(|k| k != own);
    keys.sort();
    keys.dedup();
    keys
}

/// Builds `InstanceData` from the core batch (`sets`, in [`set`] order; sets
/// after a failure may be missing) and the optional values.
pub fn instance_data(
    own: &InstanceKey,
    sets: &[Vec<Row>],
    detected: &DetectedValues,
    settings: &ProbeSettings,
) -> Option<InstanceData> {
    let empty: Vec<Row> = Vec::new();
    let get = |i: usize| sets.get(i).unwrap_or(&empty);
    let id = get(set::IDENTITY).first()?;
    let version = text(id, &["version"]);
    let version_comment = text(id, &["version_comment"]);
    let flavor = Flavor::detect(&version, &version_comment);
    let mut channels: Vec<ReplicationStatus> = get(set::REPLICA_STATUS)
        .iter()
        .map(replication_status)
        .collect();
    let default_index = channels
        .iter()
        .position(|c| c.channel.is_empty())
        .unwrap_or(0);
    let replication = (!channels.is_empty()).then(|| channels.remove(default_index));
    let self_coordinates = get(set::BINLOG_STATUS).first().and_then(|r| {
        let file = r.get("File")?.to_string();
        (!file.is_empty()).then(|| BinlogCoordinates::binary(file, number(r, &["Position"])))
    });
    let hostname = text(id, &["hostname"]);
    let sbm = replication.as_ref().and_then(|r| r.seconds_behind_master);
    let lag = match &detected.replication_lag {
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .map(|f| f.round() as i64)
            .or(sbm),
        None => sbm,
    };
    let pattern = |explicit: &Option<String>, which: fn(&HostPatterns) -> Option<&regex::Regex>| {
        explicit
            .clone()
            .filter(|v| !v.is_empty())
            .or_else(|| {
                let re = which(&settings.patterns)?;
                let caps = re.captures(own.hostname())?;
                caps.get(1).map(|m| m.as_str().to_string())
            })
            .unwrap_or_default()
    };
    Some(InstanceData {
        server_id: number(id, &["server_id"]),
        server_uuid: text(id, &["server_uuid"]),
        hostname,
        report_host: text(id, &["report_host"]),
        version,
        version_comment,
        flavor,
        read_only: truthy(id.get("read_only")),
        super_read_only: truthy(id.get("super_read_only")),
        log_bin: truthy(id.get("log_bin")),
        log_replica_updates: truthy(id.get("log_replica_updates")),
        binlog_format: text(id, &["binlog_format"]),
        binlog_row_image: text(id, &["binlog_row_image"]),
        gtid_mode: text(id, &["gtid_mode"]),
        gtid_executed: text(id, &["gtid_executed"]).replace('\n', ""),
        gtid_purged: text(id, &["gtid_purged"]).replace('\n', ""),
        gtid_current_pos: text(id, &["gtid_current_pos"]),
        gtid_slave_pos: text(id, &["gtid_slave_pos"]),
        self_coordinates,
        replication,
        extra_channels: channels,
        replicas: replica_keys(get(set::REPLICA_HOSTS), get(set::PROCESSLIST), own),
        semi_sync: semi_sync(get(set::STATUS), get(set::SEMI_SYNC_VARIABLES)),
        uptime_seconds: uptime(get(set::STATUS)),
        replication_lag_seconds: lag,
        data_center: pattern(&detected.data_center, |p| p.data_center.as_ref()),
        region: pattern(&detected.region, |p| p.region.as_ref()),
        physical_environment: pattern(&detected.physical_environment, |p| {
            p.physical_environment.as_ref()
        }),
        instance_alias: detected.instance_alias.clone().unwrap_or_default(),
        suggested_cluster_alias: detected.cluster_alias.clone().unwrap_or_default(),
        cluster_domain: detected.cluster_domain.clone().unwrap_or_default(),
        promotion_rule_hint: detected
            .promotion_rule
            .as_deref()
            .and_then(|r| r.parse::<PromotionRule>().ok()),
        semi_sync_priority: detected
            .semi_sync_enforced
            .as_deref()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        replication_credentials_available: false,
        using_pseudo_gtid: false,
        reported_gtid_errant: String::new(),
    })
}

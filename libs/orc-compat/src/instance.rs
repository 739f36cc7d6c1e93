//! orchestrator's `Instance` and `ClusterInfo` JSON.
#![allow(non_snake_case)]

use std::time::Duration;

use orc_model::{
    BinlogCoordinates, InstanceData, InstanceKey, InstanceMetadata, InstanceState, Placement,
    ReplicationStatus, Timestamp,
};
use serde::{Deserialize, Serialize};

/// `{"Hostname": .., "Port": ..}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyJson {
    /// Hostname.
    pub Hostname: String,
    /// Port.
    pub Port: u32,
}

impl KeyJson {
    /// From a model key.
    pub fn from_key(k: &InstanceKey) -> Self {
        Self {
            Hostname: k.hostname().to_string(),
            Port: u32::from(k.port()),
        }
    }

    /// `host:port`, as orchestrator-client prints keys.
    pub fn display(&self) -> String {
        if self.Hostname.contains(':') {
            format!("[{}]:{}", self.Hostname, self.Port)
        } else {
            format!("{}:{}", self.Hostname, self.Port)
        }
    }
}

/// `{"LogFile": .., "LogPos": .., "Type": 0|1}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoordinatesJson {
    /// File name.
    pub LogFile: String,
    /// Position.
    pub LogPos: u64,
    /// 0 binary log, 1 relay log.
    pub Type: u8,
}

impl CoordinatesJson {
    /// From model coordinates.
    pub fn from_coordinates(c: &BinlogCoordinates) -> Self {
        Self {
            LogFile: c.log_file.clone(),
            LogPos: c.log_pos,
            Type: c.kind.code(),
        }
    }

    fn relay_default() -> Self {
        Self {
            Type: 1,
            ..Default::default()
        }
    }
}

/// Go's `sql.NullInt64`: `{"Int64": n, "Valid": bool}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NullInt64 {
    /// Value (0 when invalid).
    pub Int64: i64,
    /// Whether a value is present.
    pub Valid: bool,
}

impl NullInt64 {
    /// From an option.
    pub fn from_option(v: Option<i64>) -> Self {
        Self {
            Int64: v.unwrap_or(0),
            Valid: v.is_some(),
        }
    }

    /// To an option.
    pub fn to_option(self) -> Option<i64> {
        self.Valid.then_some(self.Int64)
    }
}

/// Thresholds that shape derived fields (`IsUpToDate`, `Problems`, ...).
#[derive(Debug, Clone)]
pub struct DisplayPolicy {
    /// `InstancePollSeconds`.
    pub poll_interval: Duration,
    /// `ReasonableReplicationLagSeconds`.
    pub reasonable_replication_lag_seconds: i64,
    /// `ReasonableMaintenanceReplicationLagSeconds`.
    pub reasonable_maintenance_replication_lag_seconds: i64,
}

impl Default for DisplayPolicy {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            reasonable_replication_lag_seconds: 10,
            reasonable_maintenance_replication_lag_seconds: 20,
        }
    }
}

/// Everything known about one instance, as the API shows it.
#[derive(Debug, Clone, Copy)]
pub struct InstanceView<'a> {
    /// Folded probe state.
    pub state: &'a InstanceState,
    /// Place in the topology, when known.
    pub placement: Option<&'a Placement>,
    /// Operator metadata.
    pub metadata: Option<&'a InstanceMetadata>,
    /// Comma-separated server UUIDs of the ancestors.
    pub ancestry_uuids: &'a str,
    /// Errant GTIDs, if computed.
    pub gtid_errant: &'a str,
    /// The instant the view is for.
    pub now: Timestamp,
    /// Thresholds.
    pub policy: &'a DisplayPolicy,
}

impl InstanceView<'_> {
    /// orchestrator's `IsLastCheckValid`.
    pub fn is_last_check_valid(&self) -> bool {
        self.state.last_probe_succeeded()
    }

    fn since_checked(&self) -> Option<Duration> {
        self.state.last_checked.map(|c| self.now.since(c))
    }

    /// orchestrator's `IsUpToDate`: checked within one poll interval (whole seconds).
    pub fn is_up_to_date(&self) -> bool {
        self.since_checked()
            .is_some_and(|d| d <= self.policy.poll_interval + Duration::from_secs(1))
    }

    /// orchestrator's `IsRecentlyChecked`: checked within five poll intervals.
    pub fn is_recently_checked(&self) -> bool {
        self.since_checked()
            .is_some_and(|d| d <= self.policy.poll_interval * 5 + Duration::from_secs(1))
    }

    /// The data of the last full success.
    pub fn data(&self) -> Option<&InstanceData> {
        self.state.data.as_ref()
    }

    /// The default replication channel.
    pub fn replication(&self) -> Option<&ReplicationStatus> {
        self.data().and_then(|d| d.replication.as_ref())
    }

    /// Both replication threads running.
    pub fn is_replicating(&self) -> bool {
        self.replication()
            .is_some_and(ReplicationStatus::is_replicating)
    }

    /// Lag as orchestrator shows it: `ReplicationLagSeconds`.
    pub fn lag_seconds(&self) -> Option<i64> {
        self.data().and_then(|d| d.replication_lag_seconds)
    }

    /// Whether a downtime is active.
    pub fn is_downtimed(&self) -> bool {
        self.metadata.is_some_and(|m| m.is_downtimed(self.now))
    }

    /// orchestrator's `Problems`.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !self.is_last_check_valid() {
            p.push("last_check_invalid".to_string());
        } else if !self.is_recently_checked() {
            p.push("not_recently_checked".to_string());
        } else if self.replication().is_some() && !self.is_replicating() {
            p.push("not_replicating".to_string());
        } else if self
            .lag_seconds()
            .is_some_and(|l| l > self.policy.reasonable_replication_lag_seconds)
        {
            p.push("replication_lag".to_string());
        }
        if !self.gtid_errant.is_empty() {
            p.push("errant_gtid".to_string());
        }
        p
    }
}

/// orchestrator's `Instance` JSON, field by field in its order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceJson {
    pub Key: KeyJson,
    pub InstanceAlias: String,
    pub Uptime: u64,
    pub ServerID: u32,
    pub ServerUUID: String,
    pub Version: String,
    pub VersionComment: String,
    pub FlavorName: String,
    pub ReadOnly: bool,
    pub Binlog_format: String,
    pub BinlogRowImage: String,
    pub LogBinEnabled: bool,
    pub LogSlaveUpdatesEnabled: bool,
    pub LogReplicationUpdatesEnabled: bool,
    pub SelfBinlogCoordinates: CoordinatesJson,
    pub MasterKey: KeyJson,
    pub MasterUUID: String,
    pub AncestryUUID: String,
    pub IsDetachedMaster: bool,
    pub Slave_SQL_Running: bool,
    pub ReplicationSQLThreadRuning: bool,
    pub Slave_IO_Running: bool,
    pub ReplicationIOThreadRuning: bool,
    pub ReplicationSQLThreadState: i32,
    pub ReplicationIOThreadState: i32,
    pub HasReplicationFilters: bool,
    pub GTIDMode: String,
    pub SupportsOracleGTID: bool,
    pub UsingOracleGTID: bool,
    pub UsingMariaDBGTID: bool,
    pub UsingPseudoGTID: bool,
    pub ReadBinlogCoordinates: CoordinatesJson,
    pub ExecBinlogCoordinates: CoordinatesJson,
    pub IsDetached: bool,
    pub RelaylogCoordinates: CoordinatesJson,
    pub LastSQLError: String,
    pub LastIOError: String,
    pub SecondsBehindMaster: NullInt64,
    pub SQLDelay: u32,
    pub ExecutedGtidSet: String,
    pub GtidPurged: String,
    pub GtidErrant: String,
    pub SlaveLagSeconds: NullInt64,
    pub ReplicationLagSeconds: NullInt64,
    pub SlaveHosts: Vec<KeyJson>,
    pub Replicas: Vec<KeyJson>,
    pub ClusterName: String,
    pub SuggestedClusterAlias: String,
    pub DataCenter: String,
    pub Region: String,
    pub PhysicalEnvironment: String,
    pub ReplicationDepth: u32,
    pub IsCoMaster: bool,
    pub HasReplicationCredentials: bool,
    pub ReplicationCredentialsAvailable: bool,
    pub SemiSyncAvailable: bool,
    pub SemiSyncPriority: u32,
    pub SemiSyncMasterEnabled: bool,
    pub SemiSyncReplicaEnabled: bool,
    pub SemiSyncMasterTimeout: u64,
    pub SemiSyncMasterWaitForReplicaCount: u32,
    pub SemiSyncMasterStatus: bool,
    pub SemiSyncMasterClients: u32,
    pub SemiSyncReplicaStatus: bool,
    pub LastSeenTimestamp: String,
    pub IsLastCheckValid: bool,
    pub IsUpToDate: bool,
    pub IsRecentlyChecked: bool,
    pub SecondsSinceLastSeen: NullInt64,
    pub CountMySQLSnapshots: u32,
    pub IsCandidate: bool,
    pub PromotionRule: String,
    pub IsDowntimed: bool,
    pub DowntimeReason: String,
    pub DowntimeOwner: String,
    pub DowntimeEndTimestamp: String,
    pub ElapsedDowntime: u64,
    pub UnresolvedHostname: String,
    pub AllowTLS: bool,
    pub Problems: Vec<String>,
    pub LastDiscoveryLatency: u64,
    pub ReplicationGroupName: String,
    pub ReplicationGroupIsSinglePrimary: bool,
    pub ReplicationGroupMemberState: String,
    pub ReplicationGroupMemberRole: String,
    pub ReplicationGroupMembers: Vec<KeyJson>,
    pub ReplicationGroupPrimaryInstanceKey: KeyJson,
}

impl InstanceJson {
    /// Renders a view the way orchestrator 3.2.6 does.
    pub fn from_view(v: &InstanceView<'_>) -> Self {
        let key = &v.state.key;
        let d = v.data().cloned().unwrap_or_default();
        let repl = d.replication.clone();
        let r = repl.clone().unwrap_or_default();
        let is_replica = repl.is_some();
        let thread_state = |s: orc_model::ThreadState| if is_replica { s.code() } else { -1 };
        let replicas: Vec<KeyJson> = d.replicas.iter().map(KeyJson::from_key).collect();
        let sbm = NullInt64::from_option(repl.as_ref().and_then(|r| r.seconds_behind_master));
        let lag = NullInt64::from_option(d.replication_lag_seconds);
        let metadata = v.metadata.cloned().unwrap_or_default();
        let rule = metadata.promotion_rule(v.now);
        let downtime = metadata.downtime.as_ref().filter(|dt| dt.is_active(v.now));
        // The master's identity when known (it may be configured by address).
        let master_key = match (is_replica, v.placement.and_then(|p| p.master.as_ref())) {
            (true, Some(m)) if !r.is_detached() => KeyJson::from_key(m),
            (true, _) => KeyJson {
                Hostname: r.master_host.clone(),
                Port: u32::from(r.master_port),
            },
            (false, _) => KeyJson::default(),
        };
        Self {
            Key: KeyJson::from_key(key),
            InstanceAlias: d.instance_alias.clone(),
            Uptime: d.uptime_seconds,
            ServerID: d.server_id,
            ServerUUID: d.server_uuid.clone(),
            Version: d.version.clone(),
            VersionComment: d.version_comment.clone(),
            FlavorName: if v.data().is_some() {
                d.flavor.name().to_string()
            } else {
                String::new()
            },
            ReadOnly: d.read_only,
            Binlog_format: d.binlog_format.clone(),
            BinlogRowImage: d.binlog_row_image.clone(),
            LogBinEnabled: d.log_bin,
            LogSlaveUpdatesEnabled: d.log_replica_updates,
            LogReplicationUpdatesEnabled: d.log_replica_updates,
            SelfBinlogCoordinates: d
                .self_coordinates
                .as_ref()
                .map(CoordinatesJson::from_coordinates)
                .unwrap_or_default(),
            MasterKey: master_key,
            MasterUUID: r.master_uuid.clone(),
            AncestryUUID: v.ancestry_uuids.to_string(),
            IsDetachedMaster: r.is_detached(),
            Slave_SQL_Running: r.sql_thread.is_running(),
            ReplicationSQLThreadRuning: r.sql_thread.is_running(),
            Slave_IO_Running: r.io_thread.is_running(),
            ReplicationIOThreadRuning: r.io_thread.is_running(),
            ReplicationSQLThreadState: thread_state(r.sql_thread),
            ReplicationIOThreadState: thread_state(r.io_thread),
            HasReplicationFilters: r.has_filters,
            GTIDMode: d.gtid_mode.clone(),
            SupportsOracleGTID: d.supports_oracle_gtid(),
            UsingOracleGTID: d.using_oracle_gtid(),
            UsingMariaDBGTID: d.using_mariadb_gtid(),
            UsingPseudoGTID: d.using_pseudo_gtid,
            ReadBinlogCoordinates: CoordinatesJson::from_coordinates(&r.read_coordinates),
            ExecBinlogCoordinates: CoordinatesJson::from_coordinates(&r.exec_coordinates),
            IsDetached: r.is_detached(),
            RelaylogCoordinates: if is_replica {
                CoordinatesJson::from_coordinates(&r.relay_coordinates)
            } else {
                CoordinatesJson::relay_default()
            },
            LastSQLError: r.last_sql_error.clone(),
            LastIOError: r.last_io_error.clone(),
            SecondsBehindMaster: sbm,
            SQLDelay: r.sql_delay,
            ExecutedGtidSet: d.gtid_executed.clone(),
            GtidPurged: d.gtid_purged.clone(),
            GtidErrant: v.gtid_errant.to_string(),
            SlaveLagSeconds: lag,
            ReplicationLagSeconds: lag,
            SlaveHosts: replicas.clone(),
            Replicas: replicas,
            ClusterName: v
                .placement
                .map_or_else(|| key.to_string(), |p| p.cluster.to_string()),
            SuggestedClusterAlias: d.suggested_cluster_alias.clone(),
            DataCenter: d.data_center.clone(),
            Region: d.region.clone(),
            PhysicalEnvironment: d.physical_environment.clone(),
            ReplicationDepth: v.placement.map_or(0, |p| p.depth),
            IsCoMaster: v.placement.is_some_and(|p| p.is_co_master),
            HasReplicationCredentials: !r.master_user.is_empty(),
            ReplicationCredentialsAvailable: d.replication_credentials_available,
            SemiSyncAvailable: d.semi_sync.available,
            SemiSyncPriority: d.semi_sync_priority,
            SemiSyncMasterEnabled: d.semi_sync.master_enabled,
            SemiSyncReplicaEnabled: d.semi_sync.replica_enabled,
            SemiSyncMasterTimeout: d.semi_sync.master_timeout_ms,
            SemiSyncMasterWaitForReplicaCount: d.semi_sync.master_wait_for_replica_count,
            SemiSyncMasterStatus: d.semi_sync.master_status,
            SemiSyncMasterClients: d.semi_sync.master_clients,
            SemiSyncReplicaStatus: d.semi_sync.replica_status,
            LastSeenTimestamp: v
                .state
                .last_seen
                .map(Timestamp::to_rfc3339)
                .unwrap_or_default(),
            IsLastCheckValid: v.is_last_check_valid(),
            IsUpToDate: v.is_up_to_date(),
            IsRecentlyChecked: v.is_recently_checked(),
            SecondsSinceLastSeen: NullInt64::from_option(
                v.state
                    .seconds_since_seen(v.now)
                    .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            ),
            CountMySQLSnapshots: 0,
            IsCandidate: rule.is_candidate(),
            PromotionRule: rule.as_str().to_string(),
            IsDowntimed: downtime.is_some(),
            DowntimeReason: downtime.map(|d| d.reason.clone()).unwrap_or_default(),
            DowntimeOwner: downtime.map(|d| d.owner.clone()).unwrap_or_default(),
            DowntimeEndTimestamp: downtime
                .map(|d| d.ends_at.to_datetime())
                .unwrap_or_default(),
            ElapsedDowntime: downtime.map_or(0, |d| {
                u64::try_from(v.now.since(d.begins_at).as_nanos()).unwrap_or(u64::MAX)
            }),
            UnresolvedHostname: String::new(),
            AllowTLS: false,
            Problems: v.problems(),
            LastDiscoveryLatency: u64::try_from(v.state.last_probe_latency.as_nanos())
                .unwrap_or(u64::MAX),
            ReplicationGroupName: String::new(),
            ReplicationGroupIsSinglePrimary: false,
            ReplicationGroupMemberState: String::new(),
            ReplicationGroupMemberRole: String::new(),
            ReplicationGroupMembers: Vec::new(),
            ReplicationGroupPrimaryInstanceKey: KeyJson::default(),
        }
    }
}

/// orchestrator's `ClusterInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterInfoJson {
    pub ClusterName: String,
    pub ClusterAlias: String,
    pub ClusterDomain: String,
    pub CountInstances: u32,
    pub HeuristicLag: i64,
    pub HasAutomatedMasterRecovery: bool,
    pub HasAutomatedIntermediateMasterRecovery: bool,
}

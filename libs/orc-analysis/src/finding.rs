//! What the analysis says about one instance, with its evidence.

use orc_model::{BinlogCoordinates, InstanceKey, ProbeErrorKind, ThreadState, Timestamp};
use serde::{Deserialize, Serialize};

use crate::code::{AnalysisCode, StructureWarning};

/// What one vantage point last saw of the analyzed instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VantageEvidence {
    /// The prober.
    pub vantage: String,
    /// When.
    pub observed_at: Timestamp,
    /// Whether it answered.
    pub reached: bool,
    /// Why not.
    pub error_kind: Option<ProbeErrorKind>,
}

/// What the analyzed instance itself showed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InstanceEvidence {
    /// Last probe end.
    pub last_checked: Option<Timestamp>,
    /// Last full success.
    pub last_seen: Option<Timestamp>,
    /// Start of the current failure streak.
    pub failing_since: Option<Timestamp>,
    /// Classification of the last failure.
    pub error_kind: Option<ProbeErrorKind>,
    /// The last failure's message.
    pub error: String,
    /// Every vantage's last observation.
    pub vantages: Vec<VantageEvidence>,
}

/// What one replica of the analyzed instance showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaEvidence {
    /// The replica.
    pub key: InstanceKey,
    /// Whether its last check is valid (its testimony counts).
    pub valid: bool,
    /// When it was last seen.
    pub last_seen: Option<Timestamp>,
    /// Its IO thread.
    pub io_thread: ThreadState,
    /// Its SQL thread.
    pub sql_thread: ThreadState,
    /// Its IO error, if any.
    pub last_io_error: String,
    /// Whether it is downtimed.
    pub downtimed: bool,
}

/// Counters over the analyzed instance's replicas (orchestrator's names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaCounts {
    /// `CountReplicas`.
    pub replicas: u32,
    /// `CountValidReplicas`.
    pub valid: u32,
    /// `CountValidReplicatingReplicas`.
    pub valid_replicating: u32,
    /// `CountReplicasFailingToConnectToMaster`.
    pub failing_to_connect: u32,
    /// `CountDowntimedReplicas`.
    pub downtimed: u32,
    /// `CountLaggingReplicas`.
    pub lagging: u32,
    /// `CountDelayedReplicas`.
    pub delayed: u32,
    /// `CountLoggingReplicas`.
    pub logging: u32,
    /// `CountStatementBasedLoggingReplicas`.
    pub statement_logging: u32,
    /// `CountMixedBasedLoggingReplicas`.
    pub mixed_logging: u32,
    /// `CountRowBasedLoggingReplicas`.
    pub row_logging: u32,
    /// `CountDistinctMajorVersionsLoggingReplicas`.
    pub distinct_major_versions_logging: u32,
    /// `CountSemiSyncReplicasEnabled`.
    pub semi_sync_enabled: u32,
    /// Valid replicas using Oracle GTID.
    pub oracle_gtid: u32,
    /// Valid replicas using MariaDB GTID.
    pub mariadb_gtid: u32,
}

/// The analysis of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// The analyzed instance.
    pub key: InstanceKey,
    /// Its master, if it replicates.
    pub master_key: Option<InstanceKey>,
    /// Its cluster.
    pub cluster: InstanceKey,
    /// The verdict.
    pub code: AnalysisCode,
    /// Why, in words.
    pub description: String,
    /// Structural risks.
    pub structure: Vec<StructureWarning>,
    /// No master above it.
    pub is_master: bool,
    /// Part of a co-master pair.
    pub is_co_master: bool,
    /// Its last check is valid.
    pub last_check_valid: bool,
    /// Its last probe got past the identity query.
    pub last_check_partial_success: bool,
    /// Replica counters.
    pub counts: ReplicaCounts,
    /// Depth in the tree.
    pub replication_depth: u32,
    /// Its replicas.
    pub replicas: Vec<InstanceKey>,
    /// It cannot connect to its own master.
    pub is_failing_to_connect_to_master: bool,
    /// It is downtimed.
    pub is_downtimed: bool,
    /// Every replica is downtimed and the code concerns replicas only.
    pub is_replicas_downtimed: bool,
    /// When its downtime ends.
    pub downtime_end: Option<Timestamp>,
    /// Automated recovery skips it (downtime).
    pub skippable_due_to_downtime: bool,
    /// Automated recovery would act on it.
    pub is_actionable: bool,
    /// Its own binary log position.
    pub binlog_coordinates: Option<BinlogCoordinates>,
    /// Its data centre.
    pub data_center: String,
    /// Its region.
    pub region: String,
    /// Its physical environment.
    pub physical_environment: String,
    /// It is read-only.
    pub is_read_only: bool,
    /// `gtid_mode`.
    pub gtid_mode: String,
    /// Lowest/highest replica `gtid_mode`.
    pub min_replica_gtid_mode: String,
    /// Highest replica `gtid_mode`.
    pub max_replica_gtid_mode: String,
    /// Largest errant GTID set among non-downtimed replicas.
    pub max_replica_gtid_errant: String,
    /// All valid replicas use Oracle GTID.
    pub oracle_gtid_immediate_topology: bool,
    /// All valid replicas use MariaDB GTID.
    pub mariadb_gtid_immediate_topology: bool,
    /// Semi-sync master enabled.
    pub semi_sync_master_enabled: bool,
    /// Semi-sync master status.
    pub semi_sync_master_status: bool,
    /// Semi-sync acknowledgements waited for.
    pub semi_sync_master_wait_for_replica_count: u32,
    /// Semi-sync clients.
    pub semi_sync_master_clients: u32,
    /// What the instance showed.
    pub evidence: InstanceEvidence,
    /// What each replica showed.
    pub replica_evidence: Vec<ReplicaEvidence>,
}

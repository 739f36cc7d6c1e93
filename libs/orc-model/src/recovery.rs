//! Records of recoveries, their steps and failure detections (the audit trail).

use serde::{Deserialize, Serialize};

use crate::key::InstanceKey;
use crate::time::Timestamp;

/// What kind of server a recovery replaced (orchestrator's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecoveryKind {
    /// A master.
    MasterRecovery,
    /// One of a co-master pair.
    CoMasterRecovery,
    /// An intermediate master.
    IntermediateMasterRecovery,
}

impl RecoveryKind {
    /// orchestrator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MasterRecovery => "MasterRecovery",
            Self::CoMasterRecovery => "CoMasterRecovery",
            Self::IntermediateMasterRecovery => "IntermediateMasterRecovery",
        }
    }
}

/// One recovery: what failed, what was done, who acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryRecord {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// Unique id.
    pub uid: String,
    /// Cluster name.
    pub cluster: String,
    /// Cluster alias.
    pub cluster_alias: String,
    /// The failed instance.
    pub failed: InstanceKey,
    /// The analysis code that triggered it.
    pub analysis: String,
    /// The whole analysis, with evidence (JSON).
    pub analysis_json: String,
    /// Master, co-master or intermediate master.
    pub kind: RecoveryKind,
    /// `MasterRecoveryGTID`, `MasterRecoveryBinlogFile`, ...
    pub recovery_type: String,
    /// `graceful-master-takeover`, `force-master-failover`, ... or empty.
    pub command_hint: String,
    /// Still running.
    pub is_active: bool,
    /// Ended with a successor.
    pub is_successful: bool,
    /// The promoted instance.
    pub successor: Option<InstanceKey>,
    /// Its alias.
    pub successor_alias: String,
    /// Replicas left behind.
    pub lost_replicas: Vec<InstanceKey>,
    /// Every instance the recovery touched.
    pub participating: Vec<InstanceKey>,
    /// Errors met along the way.
    pub errors: Vec<String>,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Option<Timestamp>,
    /// Until when it blocks further automated recoveries of its cluster.
    pub block_until: Timestamp,
    /// Acknowledged by an operator.
    pub acknowledged: bool,
    /// When.
    pub acknowledged_at: Option<Timestamp>,
    /// By whom.
    pub acknowledged_by: String,
    /// Why.
    pub acknowledged_comment: String,
    /// Which recovery service ran it.
    pub processing_node: String,
    /// The lease revision (fencing token) it held when it started.
    pub lease_revision: u64,
    /// The failure detection it answered.
    pub detection_id: String,
    /// The promotion decision with its reasons (JSON), for audit.
    pub decision_json: String,
}

impl RecoveryRecord {
    /// Whether it still blocks automated recoveries of its cluster at `now`.
    pub fn blocks_at(&self, now: Timestamp) -> bool {
        !self.acknowledged && now < self.block_until
    }
}

/// One step of a recovery, with the fencing token it ran under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryStep {
    /// Row id.
    pub id: i64,
    /// The recovery.
    pub recovery_uid: String,
    /// When.
    pub at: Timestamp,
    /// Lease revision at the step.
    pub fencing_token: u64,
    /// What happened.
    pub message: String,
}

/// A registered failure detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionRecord {
    /// Row id.
    pub id: i64,
    /// Detection id (from the analyzer).
    pub detection_id: String,
    /// The instance.
    pub instance: InstanceKey,
    /// Its cluster.
    pub cluster: String,
    /// The analysis code.
    pub analysis: String,
    /// Whether a recovery would act on it.
    pub is_actionable: bool,
    /// When.
    pub detected_at: Timestamp,
    /// The analysis with evidence (JSON).
    pub analysis_json: String,
}

/// An automated recovery refused because of an active one (anti-flapping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedRecovery {
    /// The failed instance.
    pub failed: InstanceKey,
    /// Its cluster.
    pub cluster: String,
    /// The analysis code.
    pub analysis: String,
    /// When it was refused.
    pub blocked_at: Timestamp,
    /// The recovery that blocks it.
    pub blocking_uid: String,
}

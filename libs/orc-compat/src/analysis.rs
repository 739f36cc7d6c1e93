//! orchestrator's `ReplicationAnalysis` JSON, and the text orchestrator-client prints.
#![allow(non_snake_case)]

use orc_analysis::Analysis;
use orc_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::instance::{ClusterInfoJson, CoordinatesJson, KeyJson};

/// One entry of `/api/replication-analysis`, field by field in orchestrator's
/// order, plus our `Evidence` (what the instance, each vantage point and
/// each replica showed) at the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplicationAnalysisJson {
    pub AnalyzedInstanceKey: KeyJson,
    pub AnalyzedInstanceMasterKey: KeyJson,
    pub ClusterDetails: ClusterInfoJson,
    pub AnalyzedInstanceDataCenter: String,
    pub AnalyzedInstanceRegion: String,
    pub AnalyzedInstancePhysicalEnvironment: String,
    pub AnalyzedInstanceBinlogCoordinates: CoordinatesJson,
    pub IsMaster: bool,
    pub IsReplicationGroupMember: bool,
    pub IsCoMaster: bool,
    pub LastCheckValid: bool,
    pub LastCheckPartialSuccess: bool,
    pub CountReplicas: u32,
    pub CountValidReplicas: u32,
    pub CountValidReplicatingReplicas: u32,
    pub CountReplicasFailingToConnectToMaster: u32,
    pub CountDowntimedReplicas: u32,
    pub ReplicationDepth: u32,
    pub Replicas: Vec<KeyJson>,
    pub SlaveHosts: Vec<KeyJson>,
    pub IsFailingToConnectToMaster: bool,
    pub Analysis: String,
    pub Description: String,
    pub StructureAnalysis: Option<Vec<String>>,
    pub IsDowntimed: bool,
    pub IsReplicasDowntimed: bool,
    pub DowntimeEndTimestamp: String,
    pub DowntimeRemainingSeconds: i64,
    pub IsBinlogServer: bool,
    pub PseudoGTIDImmediateTopology: bool,
    pub OracleGTIDImmediateTopology: bool,
    pub MariaDBGTIDImmediateTopology: bool,
    pub BinlogServerImmediateTopology: bool,
    pub SemiSyncMasterEnabled: bool,
    pub SemiSyncMasterStatus: bool,
    pub SemiSyncMasterWaitForReplicaCount: u32,
    pub SemiSyncMasterClients: u32,
    pub CountSemiSyncReplicasEnabled: u32,
    pub CountLoggingReplicas: u32,
    pub CountStatementBasedLoggingReplicas: u32,
    pub CountMixedBasedLoggingReplicas: u32,
    pub CountRowBasedLoggingReplicas: u32,
    pub CountDistinctMajorVersionsLoggingReplicas: u32,
    pub CountDelayedReplicas: u32,
    pub CountLaggingReplicas: u32,
    pub IsActionableRecovery: bool,
    pub ProcessingNodeHostname: String,
    pub ProcessingNodeToken: String,
    pub CountAdditionalAgreeingNodes: u32,
    pub StartActivePeriod: String,
    pub SkippableDueToDowntime: bool,
    pub GTIDMode: String,
    pub MinReplicaGTIDMode: String,
    pub MaxReplicaGTIDMode: String,
    pub MaxReplicaGTIDErrant: String,
    pub CommandHint: String,
    pub IsReadOnly: bool,
    /// Ours: the evidence behind the verdict.
    pub Evidence: Option<serde_json::Value>,
}

impl ReplicationAnalysisJson {
    /// Renders an analysis; `cluster` is its cluster's info, `node` the
    /// answering host, `now` the instant of the answer.
    pub fn from_analysis(
        a: &Analysis,
        cluster: ClusterInfoJson,
        node: &str,
        now: Timestamp,
    ) -> Self {
        let keys: Vec<KeyJson> = a.replicas.iter().map(KeyJson::from_key).collect();
        let c = &a.counts;
        let evidence = serde_json::json!({
            "Instance": a.evidence,
            "Replicas": a.replica_evidence,
        });
        Self {
            AnalyzedInstanceKey: KeyJson::from_key(&a.key),
            AnalyzedInstanceMasterKey: a
                .master_key
                .as_ref()
                .map(KeyJson::from_key)
                .unwrap_or_default(),
            ClusterDetails: cluster,
            AnalyzedInstanceDataCenter: a.data_center.clone(),
            AnalyzedInstanceRegion: a.region.clone(),
            AnalyzedInstancePhysicalEnvironment: a.physical_environment.clone(),
            AnalyzedInstanceBinlogCoordinates: a
                .binlog_coordinates
                .as_ref()
                .map(CoordinatesJson::from_coordinates)
                .unwrap_or_default(),
            IsMaster: a.is_master,
            IsReplicationGroupMember: false,
            IsCoMaster: a.is_co_master,
            LastCheckValid: a.last_check_valid,
            LastCheckPartialSuccess: a.last_check_partial_success,
            CountReplicas: c.replicas,
            CountValidReplicas: c.valid,
            CountValidReplicatingReplicas: c.valid_replicating,
            CountReplicasFailingToConnectToMaster: c.failing_to_connect,
            CountDowntimedReplicas: c.downtimed,
            ReplicationDepth: a.replication_depth,
            Replicas: keys.clone(),
            SlaveHosts: keys,
            IsFailingToConnectToMaster: a.is_failing_to_connect_to_master,
            Analysis: a.code.to_string(),
            Description: a.description.clone(),
            StructureAnalysis: (!a.structure.is_empty())
                .then(|| a.structure.iter().map(ToString::to_string).collect()),
            IsDowntimed: a.is_downtimed,
            IsReplicasDowntimed: a.is_replicas_downtimed,
            DowntimeEndTimestamp: a
                .downtime_end
                .map(Timestamp::to_datetime)
                .unwrap_or_default(),
            DowntimeRemainingSeconds: a
                .downtime_end
                .map_or(0, |end| (end.as_millis() - now.as_millis()) / 1000),
            IsBinlogServer: false,
            PseudoGTIDImmediateTopology: false,
            OracleGTIDImmediateTopology: a.oracle_gtid_immediate_topology,
            MariaDBGTIDImmediateTopology: a.mariadb_gtid_immediate_topology,
            BinlogServerImmediateTopology: false,
            SemiSyncMasterEnabled: a.semi_sync_master_enabled,
            SemiSyncMasterStatus: a.semi_sync_master_status,
            SemiSyncMasterWaitForReplicaCount: a.semi_sync_master_wait_for_replica_count,
            SemiSyncMasterClients: a.semi_sync_master_clients,
            CountSemiSyncReplicasEnabled: c.semi_sync_enabled,
            CountLoggingReplicas: c.logging,
            CountStatementBasedLoggingReplicas: c.statement_logging,
            CountMixedBasedLoggingReplicas: c.mixed_logging,
            CountRowBasedLoggingReplicas: c.row_logging,
            CountDistinctMajorVersionsLoggingReplicas: c.distinct_major_versions_logging,
            CountDelayedReplicas: c.delayed,
            CountLaggingReplicas: c.lagging,
            IsActionableRecovery: a.is_actionable,
            ProcessingNodeHostname: node.to_string(),
            ProcessingNodeToken: String::new(),
            CountAdditionalAgreeingNodes: 0,
            StartActivePeriod: String::new(),
            SkippableDueToDowntime: a.skippable_due_to_downtime,
            GTIDMode: a.gtid_mode.clone(),
            MinReplicaGTIDMode: a.min_replica_gtid_mode.clone(),
            MaxReplicaGTIDMode: a.max_replica_gtid_mode.clone(),
            MaxReplicaGTIDErrant: a.max_replica_gtid_errant.clone(),
            CommandHint: String::new(),
            IsReadOnly: a.is_read_only,
            Evidence: Some(evidence),
        }
    }

    /// orchestrator's line: `host:port (cluster name): Analysis, Structure1,
    /// Structure2` — the analysis (left out when there is no problem), then
    /// every structure warning.
    pub fn client_line(&self) -> String {
        let what = analysis_string(
            &self.Analysis,
            self.StructureAnalysis.as_deref().unwrap_or_default(),
        );
        format!(
            "{} (cluster {}): {what}",
            self.AnalyzedInstanceKey.display(),
            self.ClusterDetails.ClusterName
        )
    }
}

/// orchestrator's `AnalysisString`: the analysis code unless `NoProblem`,
/// then each structure warning, joined by `, `.
pub fn analysis_string(analysis: &str, structure: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if analysis != "NoProblem" {
        parts.push(analysis);
    }
    parts.extend(structure.iter().map(String::as_str));
    parts.join(", ")
}

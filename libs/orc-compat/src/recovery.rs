//! orchestrator's recovery audit JSON: `TopologyRecovery` (Details of
//! takeovers and failovers, rows of `audit-recovery` and, in the same shape,
//! of `audit-failure-detection`), recovery steps, blocked recoveries and
//! maintenance locks.
#![allow(non_snake_case)]

use orc_analysis::Analysis;
use orc_model::{
    BlockedRecovery, DetectionRecord, InstanceKey, Maintenance, RecoveryRecord, RecoveryStep,
    Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::analysis::ReplicationAnalysisJson;
use crate::instance::{ClusterInfoJson, CoordinatesJson, KeyJson};

/// orchestrator's `TopologyRecovery`, field by field in its order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopologyRecoveryJson {
    pub Id: i64,
    pub UID: String,
    pub AnalysisEntry: ReplicationAnalysisJson,
    /// `null` until a successor is promoted.
    pub SuccessorKey: Option<KeyJson>,
    pub SuccessorAlias: String,
    /// Always `null`: the successor's coordinates are not kept.
    pub SuccessorBinlogCoordinates: Option<CoordinatesJson>,
    pub IsActive: bool,
    pub IsSuccessful: bool,
    pub LostReplicas: Vec<KeyJson>,
    pub ParticipatingInstanceKeys: Vec<KeyJson>,
    pub AllErrors: Vec<String>,
    /// `2026-11-26T00:59:22Z`.
    pub RecoveryStartTimestamp: String,
    /// `2026-11-26 00:59:22`, empty while running (orchestrator mixes both styles).
    pub RecoveryEndTimestamp: String,
    pub ProcessingNodeHostname: String,
    /// Ours: the cluster lease revision (fencing token) the recovery ran under.
    pub ProcessingNodeToken: String,
    pub Acknowledged: bool,
    pub AcknowledgedAt: String,
    pub AcknowledgedBy: String,
    pub AcknowledgedComment: String,
    pub LastDetectionId: i64,
    pub RelatedRecoveryId: i64,
    /// `MasterRecovery`, `CoMasterRecovery`, `IntermediateMasterRecovery`.
    pub Type: String,
    /// `MasterRecoveryGTID`, ... or `NotMasterRecovery`.
    pub RecoveryType: String,
}

fn keys(v: &[InstanceKey]) -> Vec<KeyJson> {
    v.iter().map(KeyJson::from_key).collect()
}

/// The analysis entry stored with a recovery or detection (JSON of
/// [`Analysis`]); a minimal entry when it cannot be read.
fn analysis_entry(
    analysis_json: &str,
    failed: &InstanceKey,
    code: &str,
    cluster: ClusterInfoJson,
    node: &str,
    at: Timestamp,
) -> ReplicationAnalysisJson {
    match serde_json::from_str::<Analysis>(analysis_json) {
        Ok(a) => ReplicationAnalysisJson::from_analysis(&a, cluster, node, at),
        Err(_) => ReplicationAnalysisJson {
            AnalyzedInstanceKey: KeyJson::from_key(failed),
            ClusterDetails: cluster,
            Analysis: code.to_string(),
            ProcessingNodeHostname: node.to_string(),
            ..Default::default()
        },
    }
}

impl TopologyRecoveryJson {
    /// Renders a recovery at `now`; `cluster` is its cluster's info,
    /// `last_detection_id` the row id of the detection it answered (0 when
    /// unknown). `IsActive` is orchestrator's "in its active period": still
    /// running, or blocking further automated recoveries.
    pub fn from_record(
        r: &RecoveryRecord,
        cluster: ClusterInfoJson,
        last_detection_id: i64,
        now: Timestamp,
    ) -> Self {
        let mut entry = analysis_entry(
            &r.analysis_json,
            &r.failed,
            &r.analysis,
            cluster,
            &r.processing_node,
            r.started_at,
        );
        entry.CommandHint = r.command_hint.clone();
        entry.ProcessingNodeToken = r.lease_revision.to_string();
        Self {
            Id: r.id,
            UID: r.uid.clone(),
            AnalysisEntry: entry,
            SuccessorKey: r.successor.as_ref().map(KeyJson::from_key),
            SuccessorAlias: r.successor_alias.clone(),
            SuccessorBinlogCoordinates: None,
            IsActive: r.is_active || r.blocks_at(now),
            IsSuccessful: r.is_successful,
            LostReplicas: keys(&r.lost_replicas),
            ParticipatingInstanceKeys: keys(&r.participating),
            AllErrors: r.errors.clone(),
            RecoveryStartTimestamp: r.started_at.to_rfc3339(),
            RecoveryEndTimestamp: r.ended_at.map(Timestamp::to_datetime).unwrap_or_default(),
            ProcessingNodeHostname: r.processing_node.clone(),
            ProcessingNodeToken: r.lease_revision.to_string(),
            Acknowledged: r.acknowledged,
            AcknowledgedAt: r
                .acknowledged_at
                .map(Timestamp::to_datetime)
                .unwrap_or_default(),
            AcknowledgedBy: r.acknowledged_by.clone(),
            AcknowledgedComment: r.acknowledged_comment.clone(),
            LastDetectionId: last_detection_id,
            RelatedRecoveryId: 0,
            Type: r.kind.as_str().to_string(),
            RecoveryType: if r.recovery_type.is_empty() {
                "NotMasterRecovery".to_string()
            } else {
                r.recovery_type.clone()
            },
        }
    }

    /// Renders a failure detection the way orchestrator's
    /// `audit-failure-detection` does (a `TopologyRecovery` with only the
    /// detection's fields filled); `UID` carries our detection id.
    pub fn from_detection(
        d: &DetectionRecord,
        cluster: ClusterInfoJson,
        related_recovery_id: i64,
        is_active: bool,
    ) -> Self {
        let mut entry = analysis_entry(
            &d.analysis_json,
            &d.instance,
            &d.analysis,
            cluster,
            "",
            d.detected_at,
        );
        entry.StartActivePeriod = d.detected_at.to_datetime();
        entry.IsActionableRecovery = d.is_actionable;
        Self {
            Id: d.id,
            UID: d.detection_id.clone(),
            AnalysisEntry: entry,
            IsActive: is_active,
            RecoveryStartTimestamp: d.detected_at.to_datetime(),
            RelatedRecoveryId: related_recovery_id,
            RecoveryType: "NotMasterRecovery".to_string(),
            ..Default::default()
        }
    }
}

/// orchestrator's `TopologyRecoveryStep`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecoveryStepJson {
    pub Id: i64,
    pub RecoveryUID: String,
    /// `2026-11-26 00:59:22`.
    pub AuditAt: String,
    pub Message: String,
}

impl RecoveryStepJson {
    /// Renders a step.
    pub fn from_step(s: &RecoveryStep) -> Self {
        Self {
            Id: s.id,
            RecoveryUID: s.recovery_uid.clone(),
            AuditAt: s.at.to_datetime(),
            Message: s.message.clone(),
        }
    }
}

/// orchestrator's `BlockedTopologyRecovery`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockedRecoveryJson {
    pub FailedInstanceKey: KeyJson,
    pub ClusterName: String,
    pub Analysis: String,
    /// `2026-11-26 00:59:22`.
    pub LastBlockedTimestamp: String,
    pub BlockingRecoveryId: i64,
}

impl BlockedRecoveryJson {
    /// Renders a blocked recovery; `blocking_id` is the row id of the
    /// recovery that blocks it (0 when unknown).
    pub fn from_blocked(b: &BlockedRecovery, blocking_id: i64) -> Self {
        Self {
            FailedInstanceKey: KeyJson::from_key(&b.failed),
            ClusterName: b.cluster.clone(),
            Analysis: b.analysis.clone(),
            LastBlockedTimestamp: b.blocked_at.to_datetime(),
            BlockingRecoveryId: blocking_id,
        }
    }
}

/// orchestrator's `Maintenance` (rows of `/api/maintenance`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MaintenanceJson {
    pub MaintenanceId: i64,
    pub Key: KeyJson,
    /// `2026-11-26 00:59:22`.
    pub BeginTimestamp: String,
    pub SecondsElapsed: u64,
    pub IsActive: bool,
    pub Owner: String,
    pub Reason: String,
}

impl MaintenanceJson {
    /// Renders a maintenance lock of `key` at `now`.
    pub fn from_maintenance(key: &InstanceKey, m: &Maintenance, now: Timestamp) -> Self {
        Self {
            MaintenanceId: m.id,
            Key: KeyJson::from_key(key),
            BeginTimestamp: m.begins_at.to_datetime(),
            SecondsElapsed: now.since(m.begins_at).as_secs(),
            IsActive: m.begins_at <= now && now < m.ends_at,
            Owner: m.owner.clone(),
            Reason: m.reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orc_model::RecoveryKind;

    fn k(port: u16) -> InstanceKey {
        InstanceKey::new("127.0.0.1", port).unwrap()
    }

    fn record() -> RecoveryRecord {
        RecoveryRecord {
            id: 7,
            uid: "u-1".into(),
            cluster: "127.0.0.1:22101".into(),
            cluster_alias: "main".into(),
            failed: k(22101),
            analysis: "DeadMaster".into(),
            analysis_json: "not json".into(),
            kind: RecoveryKind::MasterRecovery,
            recovery_type: String::new(),
            command_hint: "graceful-master-takeover".into(),
            is_active: false,
            is_successful: true,
            successor: Some(k(22104)),
            successor_alias: String::new(),
            lost_replicas: vec![k(22105)],
            participating: vec![k(22101), k(22104)],
            errors: Vec::new(),
            started_at: Timestamp(1_795_654_762_000),
            ended_at: None,
            block_until: Timestamp(1_795_658_362_000),
            acknowledged: false,
            acknowledged_at: None,
            acknowledged_by: String::new(),
            acknowledged_comment: String::new(),
            processing_node: "vm".into(),
            lease_revision: 42,
            detection_id: "d-1".into(),
            decision_json: String::new(),
        }
    }

    #[test]
    fn an_unreadable_analysis_falls_back_to_the_recorded_code() {
        let j = TopologyRecoveryJson::from_record(
            &record(),
            ClusterInfoJson::default(),
            3,
            Timestamp(0),
        );
        assert_eq!(j.AnalysisEntry.Analysis, "DeadMaster");
        assert_eq!(j.AnalysisEntry.AnalyzedInstanceKey.Port, 22101);
        assert_eq!(j.AnalysisEntry.CommandHint, "graceful-master-takeover");
        assert_eq!(j.ProcessingNodeToken, "42");
        assert_eq!(j.RecoveryType, "NotMasterRecovery");
        assert_eq!(j.RecoveryEndTimestamp, "");
        assert_eq!(j.RecoveryStartTimestamp, "2026-11-26T00:59:22Z");
        assert_eq!(j.LastDetectionId, 3);
    }

    #[test]
    fn a_recovery_without_successor_has_a_null_successor_key() {
        let mut r = record();
        r.successor = None;
        r.ended_at = Some(Timestamp(1_795_654_763_000));
        let v = serde_json::to_value(TopologyRecoveryJson::from_record(
            &r,
            ClusterInfoJson::default(),
            0,
            Timestamp(0),
        ))
        .unwrap();
        assert!(v["SuccessorKey"].is_null());
        assert!(v["SuccessorBinlogCoordinates"].is_null());
        assert_eq!(v["RecoveryEndTimestamp"], "2026-11-26 00:59:23");
    }

    #[test]
    fn steps_blocked_recoveries_and_maintenance_use_orchestrators_fields() {
        let step = RecoveryStep {
            id: 1,
            recovery_uid: "u".into(),
            at: Timestamp(0),
            fencing_token: 3,
            message: "m".into(),
        };
        let v = serde_json::to_value(RecoveryStepJson::from_step(&step)).unwrap();
        let names: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(names, ["Id", "RecoveryUID", "AuditAt", "Message"]);
        assert_eq!(v["AuditAt"], "1970-01-01 00:00:00");

        let b = BlockedRecovery {
            failed: k(22102),
            cluster: "c".into(),
            analysis: "DeadMaster".into(),
            blocked_at: Timestamp(0),
            blocking_uid: "u".into(),
        };
        let v = serde_json::to_value(BlockedRecoveryJson::from_blocked(&b, 9)).unwrap();
        let names: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            names,
            [
                "FailedInstanceKey",
                "ClusterName",
                "Analysis",
                "LastBlockedTimestamp",
                "BlockingRecoveryId"
            ]
        );

        let m = Maintenance {
            id: 2,
            owner: "ops".into(),
            reason: "upgrade".into(),
            begins_at: Timestamp(0),
            ends_at: Timestamp(600_000),
        };
        let j = MaintenanceJson::from_maintenance(&k(1), &m, Timestamp(61_000));
        assert_eq!((j.SecondsElapsed, j.IsActive), (61, true));
        let v = serde_json::to_value(j).unwrap();
        let names: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            names,
            [
                "MaintenanceId",
                "Key",
                "BeginTimestamp",
                "SecondsElapsed",
                "IsActive",
                "Owner",
                "Reason"
            ]
        );
    }
}

//! Replication analysis JSON and offline replay against orchestrator's output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orc_analysis::{AnalysisInput, AnalysisPolicy, analyze};
use orc_compat::{ClusterInfoJson, ReplicationAnalysisJson, states_from_instances};
use orc_model::Topology;

fn upstream(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/testdata/upstream/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn policy() -> AnalysisPolicy {
    AnalysisPolicy {
        stale_after: Duration::from_secs(60),
        ..Default::default()
    }
}

fn analyze_json(json: &str) -> Vec<orc_analysis::Analysis> {
    let (states, metadata, now) = states_from_instances(json).unwrap();
    let topology = Topology::from_states(states.values());
    let input = AnalysisInput {
        states: &states,
        topology: &topology,
        metadata: &metadata,
    };
    analyze(&input, &policy(), now)
}

#[test]
fn a_healthy_cluster_replays_to_no_analysis() {
    let entries = analyze_json(&upstream("api-cluster.json"));
    assert!(entries.is_empty(), "{entries:?}");
}

#[test]
fn a_dead_master_replays_to_dead_master() {
    let mut cluster: serde_json::Value =
        serde_json::from_str(&upstream("api-cluster.json")).unwrap();
    for (i, inst) in cluster.as_array_mut().unwrap().iter_mut().enumerate() {
        if i == 0 {
            inst["IsLastCheckValid"] = false.into();
        } else {
            inst["ReplicationIOThreadState"] = 2.into();
            inst["ReplicationIOThreadRuning"] = false.into();
            inst["LastIOError"] =
                "error reconnecting to master 'repl@127.0.0.1:22101' - retry-time: 1".into();
        }
    }
    let entries = analyze_json(&cluster.to_string());
    let master = entries.iter().find(|a| a.key.port() == 22101).unwrap();
    assert_eq!(master.code.to_string(), "DeadMaster");
    assert_eq!(master.counts.replicas, 4);
    assert_eq!(master.counts.valid, 4);
    assert!(master.is_actionable);
}

#[test]
fn malformed_documents_are_refused() {
    assert!(states_from_instances("{}").is_err());
    assert!(states_from_instances("[{\"Key\":{\"Hostname\":\"db 1\",\"Port\":3306}}]").is_err());
    assert!(states_from_instances("[{\"Key\":{\"Hostname\":\"db1\",\"Port\":99999}}]").is_err());
}

#[test]
fn analysis_json_has_orchestrators_fields_in_orchestrators_order() {
    let mut cluster: serde_json::Value =
        serde_json::from_str(&upstream("api-cluster.json")).unwrap();
    cluster[0]["IsLastCheckValid"] = false.into();
    let entries = analyze_json(&cluster.to_string());
    let master = entries.iter().find(|a| a.key.port() == 22101).unwrap();
    assert_eq!(master.code.to_string(), "UnreachableMaster");
    let info = ClusterInfoJson {
        ClusterName: "127.0.0.1:22101".into(),
        ClusterAlias: "127.0.0.1:22101".into(),
        ..Default::default()
    };
    let ours = serde_json::to_value(ReplicationAnalysisJson::from_analysis(
        master,
        info,
        "vm",
        orc_model::Timestamp(0),
    ))
    .unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&upstream(
        "api-replication-analysis-unreachable-master.json",
    ))
    .unwrap();
    let theirs = &theirs["Details"][0];
    let mut our_keys: Vec<&String> = ours.as_object().unwrap().keys().collect();
    assert_eq!(
        our_keys.pop().map(String::as_str),
        Some("Evidence"),
        "ours adds Evidence last"
    );
    let their_keys: Vec<&String> = theirs.as_object().unwrap().keys().collect();
    assert_eq!(our_keys, their_keys);
    for field in [
        "AnalyzedInstanceKey",
        "AnalyzedInstanceMasterKey",
        "IsMaster",
        "LastCheckValid",
        "CountReplicas",
        "CountValidReplicas",
        "CountValidReplicatingReplicas",
        "Replicas",
        "SlaveHosts",
        "Analysis",
        "Description",
        "StructureAnalysis",
        "MariaDBGTIDImmediateTopology",
        "CountLoggingReplicas",
        "CountRowBasedLoggingReplicas",
        "CountDistinctMajorVersionsLoggingReplicas",
        "IsActionableRecovery",
        "SkippableDueToDowntime",
    ] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
    let line = ReplicationAnalysisJson::from_analysis(
        master,
        ClusterInfoJson {
            ClusterName: "127.0.0.1:22101".into(),
            ..Default::default()
        },
        "",
        orc_model::Timestamp(0),
    )
    .client_line();
    assert_eq!(
        line,
        "127.0.0.1:22101 (cluster 127.0.0.1:22101): UnreachableMaster"
    );
}

#[test]
fn topology_recovery_json_has_orchestrators_fields_in_orchestrators_order() {
    let mut cluster: serde_json::Value =
        serde_json::from_str(&upstream("api-cluster.json")).unwrap();
    for (i, inst) in cluster.as_array_mut().unwrap().iter_mut().enumerate() {
        if i == 0 {
            inst["IsLastCheckValid"] = false.into();
        } else {
            inst["ReplicationIOThreadState"] = 2.into();
            inst["ReplicationIOThreadRuning"] = false.into();
        }
    }
    let entries = analyze_json(&cluster.to_string());
    let master = entries.iter().find(|a| a.key.port() == 22101).unwrap();
    let key = |p: u16| orc_model::InstanceKey::new("127.0.0.1", p).unwrap();
    let record = orc_model::RecoveryRecord {
        id: 1,
        uid: "u".into(),
        cluster: "127.0.0.1:22101".into(),
        cluster_alias: "127.0.0.1:22101".into(),
        failed: key(22101),
        analysis: "DeadMaster".into(),
        analysis_json: serde_json::to_string(master).unwrap(),
        kind: orc_model::RecoveryKind::MasterRecovery,
        recovery_type: "MasterRecoveryGTID".into(),
        command_hint: String::new(),
        is_active: true,
        is_successful: true,
        successor: Some(key(22104)),
        successor_alias: String::new(),
        lost_replicas: Vec::new(),
        participating: Vec::new(),
        errors: Vec::new(),
        started_at: orc_model::Timestamp(1_795_654_762_000),
        ended_at: Some(orc_model::Timestamp(1_795_654_762_500)),
        block_until: orc_model::Timestamp(1_795_658_362_000),
        acknowledged: false,
        acknowledged_at: None,
        acknowledged_by: String::new(),
        acknowledged_comment: String::new(),
        processing_node: "vm".into(),
        lease_revision: 7,
        detection_id: "d".into(),
        decision_json: String::new(),
    };
    let info = ClusterInfoJson {
        ClusterName: "127.0.0.1:22101".into(),
        ClusterAlias: "127.0.0.1:22101".into(),
        ..Default::default()
    };
    let ours = serde_json::to_value(orc_compat::TopologyRecoveryJson::from_record(
        &record,
        info,
        1,
        orc_model::Timestamp(0),
    ))
    .unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&upstream("api-audit-recovery-after-failover.json")).unwrap();
    let theirs = &theirs[0];
    let names =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(names(&ours), names(theirs));
    let mut entry_names = names(&ours["AnalysisEntry"]);
    assert_eq!(
        entry_names.pop().as_deref(),
        Some("Evidence"),
        "ours adds Evidence last"
    );
    assert_eq!(entry_names, names(&theirs["AnalysisEntry"]));
    for field in [
        "Id",
        "SuccessorKey",
        "SuccessorAlias",
        "SuccessorBinlogCoordinates",
        "IsActive",
        "IsSuccessful",
        "LostReplicas",
        "ParticipatingInstanceKeys",
        "RecoveryStartTimestamp",
        "ProcessingNodeHostname",
        "Acknowledged",
        "AcknowledgedAt",
        "AcknowledgedBy",
        "AcknowledgedComment",
        "LastDetectionId",
        "RelatedRecoveryId",
    ] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
    assert_eq!(ours["RecoveryEndTimestamp"], theirs["RecoveryEndTimestamp"]);
    for field in [
        "AnalyzedInstanceKey",
        "Analysis",
        "CountReplicas",
        "Replicas",
    ] {
        assert_eq!(
            ours["AnalysisEntry"][field], theirs["AnalysisEntry"][field],
            "AnalysisEntry.{field}"
        );
    }
}

#[test]
fn failure_detections_render_in_the_topology_recovery_shape() {
    let d = orc_model::DetectionRecord {
        id: 4,
        detection_id: "det-1".into(),
        instance: orc_model::InstanceKey::new("127.0.0.1", 22101).unwrap(),
        cluster: "127.0.0.1:22101".into(),
        analysis: "DeadMaster".into(),
        is_actionable: true,
        detected_at: orc_model::Timestamp(1_795_654_762_000),
        analysis_json: String::new(),
    };
    let ours = serde_json::to_value(orc_compat::TopologyRecoveryJson::from_detection(
        &d,
        ClusterInfoJson::default(),
        2,
        true,
    ))
    .unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&upstream("api-audit-recovery-after-failover.json")).unwrap();
    let names =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(names(&ours), names(&theirs[0]));
    assert_eq!(ours["Id"], 4);
    assert_eq!(ours["RelatedRecoveryId"], 2);
    assert_eq!(ours["AnalysisEntry"]["Analysis"], "DeadMaster");
    assert_eq!(ours["AnalysisEntry"]["IsActionableRecovery"], true);
    assert!(ours["SuccessorKey"].is_null());
}

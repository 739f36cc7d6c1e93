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

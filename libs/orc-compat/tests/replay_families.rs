//! Replay of `/api/all-instances` documents for the families where
//! orchestrator's own analysis cases once disagreed with ours: the
//! document's timestamps decide hung-versus-dead, one observation makes a
//! locked semi-sync master a hypothesis, and a replica whose check failed
//! still reports failing to connect to its master.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orc_analysis::{AnalysisInput, AnalysisPolicy, analyze};
use orc_compat::states_from_instances;
use orc_model::Topology;
use serde_json::{Value, json};

fn cluster() -> Vec<Value> {
    let text = std::fs::read_to_string(format!(
        "{}/testdata/upstream/api-cluster.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// What replay reports: (port, analysis) for every entry with a problem.
fn replay(doc: &[Value]) -> Vec<(u64, String)> {
    let (states, metadata, now) = states_from_instances(&json!(doc).to_string()).unwrap();
    let topology = Topology::from_states(states.values());
    let input = AnalysisInput {
        states: &states,
        topology: &topology,
        metadata: &metadata,
    };
    let policy = AnalysisPolicy {
        // As `orchestrator analyze`: the document is a snapshot; nothing
        // in it goes stale by our clock.
        stale_after: std::time::Duration::from_secs(u64::MAX / 4),
        ..AnalysisPolicy::default()
    };
    analyze(&input, &policy, now)
        .into_iter()
        .filter(|a| a.code.to_string() != "NoProblem")
        .map(|a| (u64::from(a.key.port()), a.code.to_string()))
        .collect()
}

/// The master last seen a minute before the document was taken.
fn unseen_master(doc: &mut [Value]) {
    doc[0]["LastSeenTimestamp"] = json!("2026-11-26T00:55:29Z");
    doc[0]["SecondsSinceLastSeen"] = json!({"Int64": 60, "Valid": true});
}

fn lost_master(replica: &mut Value) {
    replica["ReplicationIOThreadState"] = json!(2);
    replica["ReplicationIOThreadRuning"] = json!(false);
    replica["Slave_IO_Running"] = json!(false);
    replica["LastIOError"] = json!(
        "error reconnecting to master 'repl@127.0.0.1:22101' - retry-time: 1  maximum-retries: 86400"
    );
}

#[test]
fn a_master_unseen_for_a_minute_whose_replicas_lost_it_is_dead() {
    let mut doc = cluster();
    unseen_master(&mut doc);
    for r in doc.iter_mut().skip(1) {
        lost_master(r);
    }
    let got = replay(&doc);
    assert_eq!(got[0], (22101, "DeadMaster".to_string()), "{got:?}");
    assert!(
        got[1..]
            .iter()
            .all(|(_, a)| a == "FirstTierReplicaFailingToConnectToMaster"),
        "{got:?}"
    );
}

#[test]
fn a_master_unseen_for_a_minute_while_replicas_replicate_is_unreachable() {
    let mut doc = cluster();
    unseen_master(&mut doc);
    assert_eq!(replay(&doc), vec![(22101, "UnreachableMaster".to_string())]);
}

#[test]
fn a_master_just_seen_is_healthy() {
    let mut doc = cluster();
    doc[0]["SecondsSinceLastSeen"] = json!({"Int64": 3, "Valid": true});
    assert_eq!(replay(&doc), vec![]);
}

#[test]
fn some_replicas_dead_and_the_rest_lost_the_unseen_master() {
    let mut doc = cluster();
    unseen_master(&mut doc);
    doc[1]["IsLastCheckValid"] = json!(false);
    doc[2]["IsLastCheckValid"] = json!(false);
    for r in doc.iter_mut().skip(3) {
        lost_master(r);
    }
    let got = replay(&doc);
    assert_eq!(
        got[0],
        (22101, "DeadMasterAndSomeReplicas".to_string()),
        "{got:?}"
    );
}

#[test]
fn an_unseen_intermediate_master_with_a_single_replica_failing_to_connect() {
    let mut doc = cluster();
    // 22102 becomes an intermediate master of 22103 and stops answering.
    doc[2]["MasterKey"] = json!({"Hostname": "127.0.0.1", "Port": 22102});
    doc[1]["Replicas"] = json!([{"Hostname": "127.0.0.1", "Port": 22103}]);
    doc[1]["LastSeenTimestamp"] = json!("2026-11-26T00:55:29Z");
    doc[1]["SecondsSinceLastSeen"] = json!({"Int64": 60, "Valid": true});
    lost_master(&mut doc[2]);
    doc[2]["LastIOError"] =
        json!("error reconnecting to master 'repl@127.0.0.1:22102' - retry-time: 1");
    let got = replay(&doc);
    assert!(
        got.contains(&(
            22102,
            "DeadIntermediateMasterWithSingleReplicaFailingToConnect".to_string()
        )),
        "{got:?}"
    );
}

#[test]
fn a_locked_semi_sync_master_seen_once_is_a_hypothesis() {
    let mut doc = cluster();
    doc[0]["SemiSyncMasterEnabled"] = json!(true);
    doc[0]["SemiSyncMasterStatus"] = json!(true);
    doc[0]["SemiSyncMasterWaitForReplicaCount"] = json!(1);
    doc[0]["SemiSyncMasterClients"] = json!(0);
    assert_eq!(
        replay(&doc),
        vec![(22101, "LockedSemiSyncMasterHypothesis".to_string())]
    );
}

#[test]
fn a_replica_with_a_failed_check_still_reports_failing_to_connect() {
    let mut doc = cluster();
    unseen_master(&mut doc);
    lost_master(&mut doc[1]);
    doc[1]["IsLastCheckValid"] = json!(false);
    let got = replay(&doc);
    assert!(
        got.contains(&(22101, "UnreachableMaster".to_string())),
        "{got:?}"
    );
    assert!(
        got.contains(&(
            22102,
            "FirstTierReplicaFailingToConnectToMaster".to_string()
        )),
        "{got:?}"
    );
}

/// Structure warnings of the master, as replay reports them.
fn master_structure(doc: &[Value]) -> Vec<String> {
    let (states, metadata, now) = states_from_instances(&json!(doc).to_string()).unwrap();
    let topology = Topology::from_states(states.values());
    let input = AnalysisInput {
        states: &states,
        topology: &topology,
        metadata: &metadata,
    };
    let policy = AnalysisPolicy {
        stale_after: std::time::Duration::from_secs(u64::MAX / 4),
        ..AnalysisPolicy::default()
    };
    analyze(&input, &policy, now)
        .into_iter()
        .find(|a| a.key.port() == 22101)
        .map(|a| a.structure.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

/// The upstream cluster without GTID (file:pos replication).
fn without_gtid() -> Vec<Value> {
    let mut doc = cluster();
    for i in &mut doc {
        i["UsingMariaDBGTID"] = json!(false);
        i["UsingOracleGTID"] = json!(false);
    }
    doc
}

#[test]
fn replicas_that_say_they_use_pseudo_gtid_support_failover() {
    let doc = without_gtid();
    assert!(
        master_structure(&doc).contains(&"NoFailoverSupportStructureWarning".to_string()),
        "{:?}",
        master_structure(&doc)
    );
    let mut doc = without_gtid();
    for i in &mut doc {
        i["UsingPseudoGTID"] = json!(true);
    }
    assert!(
        !master_structure(&doc).contains(&"NoFailoverSupportStructureWarning".to_string()),
        "{:?}",
        master_structure(&doc)
    );
}

#[test]
fn a_replica_reported_with_errant_gtid_warns_its_master() {
    let mut doc = cluster();
    assert!(!master_structure(&doc).contains(&"ErrantGTIDStructureWarning".to_string()));
    doc[3]["GtidErrant"] = json!("0-22104-5");
    assert!(
        master_structure(&doc).contains(&"ErrantGTIDStructureWarning".to_string()),
        "{:?}",
        master_structure(&doc)
    );
}

//! Our JSON and text against what orchestrator 3.2.6 answered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use orc_compat::topology::{ascii, line, tabulated, tree_order};
use orc_compat::{DisplayPolicy, InstanceJson, InstanceView};
use orc_model::{
    BinlogCoordinates, Flavor, InstanceData, InstanceKey, InstanceSnapshot, InstanceState,
    ProbeOutcome, ReplicationStatus, SemiSync, ThreadState, Timestamp, Topology,
};

const VERSION: &str = "10.11.19-MariaDB-0+deb12u1-log";

fn upstream(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/testdata/upstream/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn k(port: u16) -> InstanceKey {
    InstanceKey::new("127.0.0.1", port).unwrap()
}

fn data(port: u16, master: Option<u16>, replicas: &[u16]) -> InstanceData {
    InstanceData {
        server_id: u32::from(port - 22100),
        version: VERSION.into(),
        version_comment: "Debian 12".into(),
        flavor: Flavor::Mariadb,
        read_only: master.is_some(),
        log_bin: true,
        log_replica_updates: true,
        binlog_format: "ROW".into(),
        self_coordinates: Some(BinlogCoordinates::binary("mysql-bin.000001", 1918)),
        replication: master.map(|m| ReplicationStatus {
            master_host: "127.0.0.1".into(),
            master_port: m,
            master_user: "repl".into(),
            io_thread: ThreadState::Running,
            sql_thread: ThreadState::Running,
            read_coordinates: BinlogCoordinates::binary("mysql-bin.000001", 1918),
            exec_coordinates: BinlogCoordinates::binary("mysql-bin.000001", 1918),
            relay_coordinates: BinlogCoordinates::relay("relay-bin.000002", 2217),
            seconds_behind_master: Some(0),
            using_gtid: "Slave_Pos".into(),
            ..Default::default()
        }),
        replicas: replicas.iter().map(|p| k(*p)).collect(),
        semi_sync: SemiSync {
            available: true,
            master_timeout_ms: 10_000,
            ..Default::default()
        },
        uptime_seconds: 52,
        replication_lag_seconds: master.map(|_| 0),
        ..Default::default()
    }
}

fn state(port: u16, master: Option<u16>, replicas: &[u16], now: Timestamp) -> InstanceState {
    let mut s = InstanceState::new(k(port), Timestamp(0));
    s.apply(&InstanceSnapshot {
        key: k(port),
        vantage: "p".into(),
        started_at: now.minus(Duration::from_millis(5)),
        observed_at: now,
        outcome: ProbeOutcome::Ok,
        data: Some(data(port, master, replicas)),
        one_off: false,
    });
    s
}

fn sample_states(now: Timestamp) -> Vec<InstanceState> {
    let mut v = vec![state(22101, None, &[22102, 22103, 22104, 22105], now)];
    for p in 22102..=22105 {
        v.push(state(p, Some(22101), &[], now));
    }
    v
}

fn lines(
    states: &[InstanceState],
    now: Timestamp,
    policy: &DisplayPolicy,
) -> Vec<orc_compat::topology::Line> {
    let topo = Topology::from_states(states);
    tree_order(&topo, &k(22101))
        .into_iter()
        .map(|(depth, key)| {
            let st = states.iter().find(|s| s.key == key).unwrap();
            let view = InstanceView {
                state: st,
                placement: topo.placement(&key),
                metadata: None,
                ancestry_uuids: "",
                gtid_errant: "",
                now,
                policy,
            };
            line(&view, depth)
        })
        .collect()
}

#[test]
fn ascii_topology_matches_orchestrator_byte_for_byte() {
    let now = Timestamp(1_795_654_589_000);
    let policy = DisplayPolicy::default();
    let text = ascii(&lines(&sample_states(now), now, &policy));
    assert_eq!(text, upstream("cli-topology.txt").trim_end());
}

#[test]
fn tabulated_topology_matches_orchestrator_byte_for_byte() {
    let now = Timestamp(1_795_654_589_000);
    let policy = DisplayPolicy::default();
    let text = tabulated(&lines(&sample_states(now), now, &policy));
    assert_eq!(
        text,
        upstream("client-topology-tabulated.txt").trim_end_matches('\n')
    );
}

#[test]
fn a_dead_replica_is_marked_and_shows_unknown_lag() {
    let now = Timestamp(1_795_654_589_000);
    let mut states = sample_states(now);
    let later = now.plus(Duration::from_secs(1));
    states[2].apply(&InstanceSnapshot {
        key: k(22103),
        vantage: "p".into(),
        started_at: later,
        observed_at: later,
        outcome: ProbeOutcome::Failed(orc_model::ProbeError {
            kind: orc_model::ProbeErrorKind::Refused,
            message: "refused".into(),
        }),
        data: None,
        one_off: false,
    });
    let text = ascii(&lines(&states, later, &DisplayPolicy::default()));
    let dead = text.lines().find(|l| l.contains(":22103")).unwrap();
    assert!(dead.starts_with("- 127.0.0.1:22103"), "{dead}");
    assert!(dead.contains("[unknown,invalid,"), "{dead}");
}

fn keys_in_order(json: &serde_json::Value) -> Vec<String> {
    json.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn instance_json_has_orchestrators_fields_in_orchestrators_order() {
    let now = Timestamp(1_795_654_589_000);
    let states = sample_states(now);
    let topo = Topology::from_states(&states);
    let policy = DisplayPolicy::default();
    for (i, file) in [
        (0, "api-instance-master.json"),
        (1, "api-instance-replica.json"),
    ] {
        let st = &states[i];
        let view = InstanceView {
            state: st,
            placement: topo.placement(&st.key),
            metadata: None,
            ancestry_uuids: "",
            gtid_errant: "",
            now,
            policy: &policy,
        };
        let ours = serde_json::to_value(InstanceJson::from_view(&view)).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(&upstream(file)).unwrap();
        assert_eq!(keys_in_order(&ours), keys_in_order(&theirs), "{file}");
        for field in [
            "Key",
            "ServerID",
            "Version",
            "FlavorName",
            "ReadOnly",
            "Binlog_format",
            "LogBinEnabled",
            "MasterKey",
            "ReplicationSQLThreadState",
            "ReplicationIOThreadState",
            "UsingMariaDBGTID",
            "SelfBinlogCoordinates",
            "ReadBinlogCoordinates",
            "RelaylogCoordinates",
            "SecondsBehindMaster",
            "ReplicationLagSeconds",
            "SlaveHosts",
            "Replicas",
            "ClusterName",
            "ReplicationDepth",
            "HasReplicationCredentials",
            "SemiSyncAvailable",
            "SemiSyncMasterTimeout",
            "IsLastCheckValid",
            "IsUpToDate",
            "IsRecentlyChecked",
            "SecondsSinceLastSeen",
            "PromotionRule",
            "Problems",
            "LastSeenTimestamp",
            "Uptime",
        ] {
            assert_eq!(ours[field], theirs[field], "{file}: {field}");
        }
    }
}

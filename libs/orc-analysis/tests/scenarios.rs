//! Data-driven scenarios: one file per situation in `testdata/scenarios/`.
//! Each file describes instances compactly, the policy, and the exact set
//! of analysis entries expected (see `testdata/scenarios/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use orc_analysis::{AnalysisInput, AnalysisPolicy, analyze};
use orc_model::{
    BinlogCoordinates, Downtime, Flavor, InstanceData, InstanceKey, InstanceMetadata,
    InstanceSnapshot, InstanceState, Maintenance, ProbeError, ProbeErrorKind, ProbeOutcome,
    ReplicationStatus, SemiSync, ThreadState, Timestamp, Topology,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    #[serde(default)]
    policy: PolicySpec,
    instances: Vec<Spec>,
    expect: Vec<Expect>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct PolicySpec {
    hung_grace_ms: Option<u64>,
    vantage_quorum: Option<usize>,
    probers_per_instance: Option<usize>,
    recover_non_writeable_master: bool,
    pseudo_gtid: bool,
    enforce_exact_semi_sync_replicas: bool,
    reasonable_replication_lag_seconds: Option<i64>,
    reasonable_locked_semi_sync_master_ms: Option<u64>,
    recovery_ignore_hostname_filters: Vec<String>,
}

#[derive(Deserialize, Clone)]
#[serde(default, deny_unknown_fields)]
struct Spec {
    key: String,
    master: Option<String>,
    reachable: bool,
    error: String,
    failing_for_ms: u64,
    partial: bool,
    never_seen: bool,
    io: String,
    sql: String,
    io_error: String,
    lag: Option<i64>,
    sql_delay: u32,
    read_only: Option<bool>,
    log_bin: bool,
    log_slave_updates: bool,
    binlog_format: String,
    version: String,
    gtid: String,
    gtid_executed: String,
    gtid_mode: String,
    server_id: u32,
    server_uuid: String,
    semi_sync_master_enabled: bool,
    semi_sync_master_status: bool,
    semi_sync_wait: u32,
    semi_sync_clients: u32,
    semi_sync_replica_enabled: bool,
    coordinates_stale_ms: u64,
    using_pseudo_gtid: bool,
    reported_gtid_errant: String,
    downtimed: bool,
    maintenance: bool,
    vantages: Vec<VantageSpec>,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            key: String::new(),
            master: None,
            reachable: true,
            error: "refused".into(),
            failing_for_ms: 1000,
            partial: false,
            never_seen: false,
            io: "Yes".into(),
            sql: "Yes".into(),
            io_error: String::new(),
            lag: None,
            sql_delay: 0,
            read_only: None,
            log_bin: true,
            log_slave_updates: true,
            binlog_format: "ROW".into(),
            version: "10.11.6-MariaDB-log".into(),
            gtid: "mariadb".into(),
            gtid_executed: String::new(),
            gtid_mode: String::new(),
            server_id: 0,
            server_uuid: String::new(),
            semi_sync_master_enabled: false,
            semi_sync_master_status: false,
            semi_sync_wait: 0,
            semi_sync_clients: 0,
            semi_sync_replica_enabled: false,
            coordinates_stale_ms: 0,
            using_pseudo_gtid: false,
            reported_gtid_errant: String::new(),
            downtimed: false,
            maintenance: false,
            vantages: Vec::new(),
        }
    }
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct VantageSpec {
    name: String,
    reached: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default = "recent")]
    age_ms: u64,
}

fn recent() -> u64 {
    100
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    instance: String,
    analysis: String,
    #[serde(default)]
    structure: Option<Vec<String>>,
    #[serde(default)]
    actionable: Option<bool>,
    #[serde(default)]
    skippable: Option<bool>,
    #[serde(default)]
    replicas_downtimed: Option<bool>,
}

const NOW: Timestamp = Timestamp(10_000_000);

fn error_kind(name: &str) -> ProbeErrorKind {
    match name {
        "refused" => ProbeErrorKind::Refused,
        "timeout" => ProbeErrorKind::Timeout,
        "connection_lost" => ProbeErrorKind::ConnectionLost,
        "access_denied" => ProbeErrorKind::AccessDenied,
        "unresolvable" => ProbeErrorKind::Unresolvable,
        "query" => ProbeErrorKind::Query,
        other => panic!("unknown error kind {other}"),
    }
}

fn key(s: &str) -> InstanceKey {
    InstanceKey::parse(s).unwrap()
}

fn data(spec: &Spec, index: u32) -> InstanceData {
    let flavor = if spec.version.contains("MariaDB") {
        Flavor::Mariadb
    } else {
        Flavor::Mysql
    };
    let server_id = if spec.server_id == 0 {
        index + 1
    } else {
        spec.server_id
    };
    InstanceData {
        server_id,
        server_uuid: spec.server_uuid.clone(),
        version: spec.version.clone(),
        flavor,
        read_only: spec.read_only.unwrap_or(spec.master.is_some()),
        log_bin: spec.log_bin,
        log_replica_updates: spec.log_slave_updates,
        binlog_format: spec.binlog_format.clone(),
        gtid_mode: spec.gtid_mode.clone(),
        gtid_executed: spec.gtid_executed.clone(),
        self_coordinates: Some(BinlogCoordinates::binary("mysql-bin.000001", 1000)),
        replication: spec.master.as_ref().map(|m| {
            let mk = key(m);
            ReplicationStatus {
                master_host: mk.hostname().to_string(),
                master_port: mk.port(),
                master_user: "repl".into(),
                io_thread: ThreadState::parse(&spec.io),
                sql_thread: ThreadState::parse(&spec.sql),
                last_io_error: spec.io_error.clone(),
                seconds_behind_master: spec.lag.or(Some(0)),
                sql_delay: spec.sql_delay,
                auto_position: spec.gtid == "oracle",
                using_gtid: if spec.gtid == "mariadb" {
                    "Slave_Pos".into()
                } else {
                    "No".into()
                },
                ..Default::default()
            }
        }),
        replication_lag_seconds: spec.master.as_ref().map(|_| spec.lag.unwrap_or(0)),
        semi_sync: SemiSync {
            available: true,
            master_enabled: spec.semi_sync_master_enabled,
            master_status: spec.semi_sync_master_status,
            master_wait_for_replica_count: spec.semi_sync_wait,
            master_clients: spec.semi_sync_clients,
            replica_enabled: spec.semi_sync_replica_enabled,
            ..Default::default()
        },
        using_pseudo_gtid: spec.using_pseudo_gtid,
        reported_gtid_errant: spec.reported_gtid_errant.clone(),
        ..Default::default()
    }
}

fn snapshot(
    key: &InstanceKey,
    vantage: &str,
    at: Timestamp,
    outcome: ProbeOutcome,
    data: Option<InstanceData>,
) -> InstanceSnapshot {
    InstanceSnapshot {
        key: key.clone(),
        vantage: vantage.to_string(),
        started_at: at,
        observed_at: at,
        outcome,
        data,
        one_off: false,
    }
}

fn failure(kind: &str) -> ProbeOutcome {
    ProbeOutcome::Failed(ProbeError {
        kind: error_kind(kind),
        message: format!("{kind} (scenario)"),
    })
}

fn state(spec: &Spec, index: u32) -> InstanceState {
    let k = key(&spec.key);
    let mut s = InstanceState::new(k.clone(), Timestamp(0));
    if spec.never_seen {
        return s;
    }
    let d = data(spec, index);
    let ms = |v: u64| Duration::from_millis(v);
    let stale_from = NOW.minus(ms(spec.coordinates_stale_ms.max(spec.failing_for_ms) + 2000));
    s.apply(&snapshot(
        &k,
        "p1",
        stale_from,
        ProbeOutcome::Ok,
        Some(d.clone()),
    ));
    if spec.coordinates_stale_ms == 0 {
        // Coordinates moved recently.
        let mut moved = d.clone();
        moved.self_coordinates = Some(BinlogCoordinates::binary("mysql-bin.000001", 2000));
        s.apply(&snapshot(
            &k,
            "p1",
            NOW.minus(ms(spec.failing_for_ms + 500)),
            ProbeOutcome::Ok,
            Some(moved.clone()),
        ));
        s.apply(&snapshot(
            &k,
            "p1",
            NOW.minus(ms(spec.failing_for_ms + 400)),
            ProbeOutcome::Ok,
            Some(d.clone()),
        ));
    }
    if !spec.vantages.is_empty() {
        for v in &spec.vantages {
            let at = NOW.minus(ms(v.age_ms));
            let outcome = if v.reached {
                ProbeOutcome::Ok
            } else {
                failure(v.error.as_deref().unwrap_or("timeout"))
            };
            s.apply(&snapshot(
                &k,
                &v.name,
                at,
                outcome,
                v.reached.then(|| d.clone()),
            ));
        }
        return s;
    }
    if !spec.reachable {
        s.apply(&snapshot(
            &k,
            "p1",
            NOW.minus(ms(spec.failing_for_ms)),
            failure(&spec.error),
            None,
        ));
        s.apply(&snapshot(
            &k,
            "p1",
            NOW.minus(ms(50)),
            failure(&spec.error),
            None,
        ));
    } else if spec.partial {
        let err = ProbeError {
            kind: ProbeErrorKind::Query,
            message: "later query failed".into(),
        };
        s.apply(&snapshot(
            &k,
            "p1",
            NOW.minus(ms(50)),
            ProbeOutcome::Partial(err),
            Some(d),
        ));
    } else {
        s.apply(&snapshot(
            &k,
            "p1",
            NOW.minus(ms(50)),
            ProbeOutcome::Ok,
            Some(d),
        ));
    }
    s
}

fn run(path: &std::path::Path) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let scenario: Scenario = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut states = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for (i, spec) in scenario.instances.iter().enumerate() {
        let st = state(spec, u32::try_from(i).unwrap());
        let mut m = InstanceMetadata::default();
        if spec.downtimed {
            m.downtime = Some(Downtime {
                owner: "ops".into(),
                reason: "scenario".into(),
                begins_at: NOW.minus(Duration::from_secs(60)),
                ends_at: NOW.plus(Duration::from_secs(600)),
            });
        }
        if spec.maintenance {
            m.maintenance = Some(Maintenance {
                id: 1,
                owner: "ops".into(),
                reason: "scenario".into(),
                begins_at: NOW.minus(Duration::from_secs(60)),
                ends_at: NOW.plus(Duration::from_secs(600)),
            });
        }
        metadata.insert(st.key.clone(), m);
        states.insert(st.key.clone(), st);
    }
    let topology = Topology::from_states(states.values());
    let p = &scenario.policy;
    let policy = AnalysisPolicy {
        poll_interval: Duration::from_secs(1),
        stale_after: Duration::from_secs(30),
        hung_grace: Duration::from_millis(p.hung_grace_ms.unwrap_or(10_000)),
        vantage_quorum: p.vantage_quorum,
        // Absent: every vantage a scenario names is a current prober.
        vantages_per_instance: p.probers_per_instance.unwrap_or_else(|| {
            scenario
                .instances
                .iter()
                .map(|i| i.vantages.len())
                .max()
                .unwrap_or(1)
                .max(1)
        }),
        recover_non_writeable_master: p.recover_non_writeable_master,
        enforce_exact_semi_sync_replicas: p.enforce_exact_semi_sync_replicas,
        reasonable_replication_lag_seconds: p.reasonable_replication_lag_seconds.unwrap_or(10),
        reasonable_locked_semi_sync_master: Duration::from_millis(
            p.reasonable_locked_semi_sync_master_ms.unwrap_or(0),
        ),
        recovery_ignore_hostname_filters: p
            .recovery_ignore_hostname_filters
            .iter()
            .map(|r| regex::Regex::new(r).unwrap())
            .collect(),
        include_no_problem: false,
        pseudo_gtid: p.pseudo_gtid,
    };
    let input = AnalysisInput {
        states: &states,
        topology: &topology,
        metadata: &metadata,
    };
    let got = analyze(&input, &policy, NOW);
    let got_pairs: Vec<(String, String)> = got
        .iter()
        .map(|a| (a.key.to_string(), a.code.to_string()))
        .collect();
    let mut want_pairs: Vec<(String, String)> = scenario
        .expect
        .iter()
        .map(|e| (key(&e.instance).to_string(), e.analysis.clone()))
        .collect();
    want_pairs.sort();
    assert_eq!(got_pairs, want_pairs, "{name}: {}", scenario.description);
    for e in &scenario.expect {
        let a = got.iter().find(|a| a.key == key(&e.instance)).unwrap();
        if let Some(structure) = &e.structure {
            let names: Vec<String> = a.structure.iter().map(|w| w.to_string()).collect();
            assert_eq!(&names, structure, "{name}: structure of {}", e.instance);
        }
        if let Some(v) = e.actionable {
            assert_eq!(a.is_actionable, v, "{name}: actionable {}", e.instance);
        }
        if let Some(v) = e.skippable {
            assert_eq!(
                a.skippable_due_to_downtime, v,
                "{name}: skippable {}",
                e.instance
            );
        }
        if let Some(v) = e.replicas_downtimed {
            assert_eq!(
                a.is_replicas_downtimed, v,
                "{name}: replicas downtimed {}",
                e.instance
            );
        }
        assert!(!a.description.is_empty() || a.code == orc_analysis::AnalysisCode::NoProblem);
    }
}

#[test]
fn every_scenario_file_passes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/scenarios");
    match orc_testkit::scenarios::run_all(&dir, run) {
        Ok(n) => eprintln!("{n} scenarios passed"),
        Err(e) => panic!("{e}"),
    }
}

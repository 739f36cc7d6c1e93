//! Data-driven scenarios: one file per promotion constraint in
//! `testdata/scenarios/`. Each file describes the failed master and its
//! replicas compactly, the policy, and the expected decision (see
//! `testdata/scenarios/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use orc_model::{
    BinlogCoordinates, Flavor, InstanceData, InstanceKey, PromotionRule, ReplicationStatus,
};
use orc_promotion::{PromotionPolicy, PromotionRequest, ReplicaFacts, select_candidate};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    #[serde(default)]
    policy: PolicySpec,
    failed_master: MasterSpec,
    #[serde(default)]
    designated: Option<String>,
    replicas: Vec<Spec>,
    expect: Expect,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct PolicySpec {
    prevent_cross_data_center: bool,
    prevent_cross_region: bool,
    fail_on_lag_seconds: Option<u64>,
    fail_if_sql_thread_not_up_to_date: bool,
    ignore_hostname_filters: Vec<String>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MasterSpec {
    key: String,
    known: bool,
    data_center: String,
    region: String,
    physical_environment: String,
}

impl Default for MasterSpec {
    fn default() -> Self {
        Self {
            key: "m:3306".into(),
            known: true,
            data_center: String::new(),
            region: String::new(),
            physical_environment: String::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Spec {
    key: String,
    reachable: bool,
    rule: String,
    version: String,
    gtid: String,
    gtid_executed: String,
    gtid_slave_pos: String,
    gtid_io_pos: String,
    log_bin: bool,
    log_slave_updates: bool,
    binlog_format: String,
    data_center: String,
    region: String,
    physical_environment: String,
    lag: Option<i64>,
    read: Option<String>,
    exec: Option<String>,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            key: String::new(),
            reachable: true,
            rule: "neutral".into(),
            version: "10.11.6-MariaDB-log".into(),
            gtid: "mariadb".into(),
            gtid_executed: String::new(),
            gtid_slave_pos: String::new(),
            gtid_io_pos: String::new(),
            log_bin: true,
            log_slave_updates: true,
            binlog_format: "ROW".into(),
            data_center: String::new(),
            region: String::new(),
            physical_environment: String::new(),
            lag: None,
            read: None,
            exec: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Expect {
    promote: Option<String>,
    ideal: Option<String>,
    eligible: Vec<String>,
    vetoes: BTreeMap<String, Vec<String>>,
    lost: Vec<String>,
    given_up: BTreeMap<String, String>,
    gtid: Option<bool>,
    ranking: Option<Vec<String>>,
    reasons: BTreeMap<String, Vec<String>>,
    no_candidate: Option<String>,
}

fn key(s: &str) -> InstanceKey {
    InstanceKey::parse(s).unwrap()
}

fn data(spec: &Spec) -> InstanceData {
    let flavor = if spec.version.contains("MariaDB") {
        Flavor::Mariadb
    } else {
        Flavor::Mysql
    };
    let exec = spec.exec.as_deref().map_or_else(
        || BinlogCoordinates::binary("mysql-bin.000001", 1000),
        |c| BinlogCoordinates::parse(c).unwrap(),
    );
    let read = spec
        .read
        .as_deref()
        .map_or_else(|| exec.clone(), |c| BinlogCoordinates::parse(c).unwrap());
    InstanceData {
        version: spec.version.clone(),
        flavor,
        read_only: true,
        log_bin: spec.log_bin,
        log_replica_updates: spec.log_slave_updates,
        binlog_format: spec.binlog_format.clone(),
        gtid_mode: if spec.gtid == "oracle" {
            "ON".into()
        } else {
            "OFF".into()
        },
        gtid_executed: spec.gtid_executed.clone(),
        gtid_slave_pos: spec.gtid_slave_pos.clone(),
        replication: Some(ReplicationStatus {
            master_host: "m".into(),
            master_port: 3306,
            read_coordinates: read,
            exec_coordinates: exec,
            auto_position: spec.gtid == "oracle",
            using_gtid: match (flavor, spec.gtid.as_str()) {
                (Flavor::Mariadb, "mariadb") => "Slave_Pos".into(),
                (Flavor::Mariadb, _) => "No".into(),
                _ => String::new(),
            },
            gtid_io_pos: spec.gtid_io_pos.clone(),
            ..Default::default()
        }),
        replication_lag_seconds: spec.lag,
        data_center: spec.data_center.clone(),
        region: spec.region.clone(),
        physical_environment: spec.physical_environment.clone(),
        ..Default::default()
    }
}

fn run(path: &std::path::Path) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let scenario: Scenario = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let ctx = format!("{name}: {}", scenario.description);
    let p = &scenario.policy;
    let policy = PromotionPolicy {
        prevent_cross_data_center: p.prevent_cross_data_center,
        prevent_cross_region: p.prevent_cross_region,
        fail_on_lag: p.fail_on_lag_seconds.map(Duration::from_secs),
        fail_if_sql_thread_not_up_to_date: p.fail_if_sql_thread_not_up_to_date,
        ignore_hostname_filters: p
            .ignore_hostname_filters
            .iter()
            .map(|r| regex::Regex::new(r).unwrap())
            .collect(),
    };
    let m = &scenario.failed_master;
    let master_key = key(&m.key);
    let master_data = InstanceData {
        data_center: m.data_center.clone(),
        region: m.region.clone(),
        physical_environment: m.physical_environment.clone(),
        ..Default::default()
    };
    let keys: Vec<InstanceKey> = scenario.replicas.iter().map(|s| key(&s.key)).collect();
    let datas: Vec<InstanceData> = scenario.replicas.iter().map(data).collect();
    let designated = scenario.designated.as_deref().map(key);
    let req = PromotionRequest {
        failed_master: &master_key,
        failed_master_data: m.known.then_some(&master_data),
        replicas: scenario
            .replicas
            .iter()
            .zip(keys.iter().zip(&datas))
            .map(|(s, (k, d))| ReplicaFacts {
                key: k,
                data: d,
                reachable: s.reachable,
                rule: s.rule.parse::<PromotionRule>().unwrap(),
            })
            .collect(),
        designated: designated.as_ref(),
    };
    let e = &scenario.expect;
    let (ranking, decision) = match select_candidate(&req, &policy) {
        Ok(d) => {
            assert!(
                e.no_candidate.is_none(),
                "{ctx}: expected no candidate, got {d:#?}"
            );
            (d.ranking.clone(), Some(d))
        }
        Err(nc) => {
            let want = e
                .no_candidate
                .as_deref()
                .unwrap_or_else(|| panic!("{ctx}: unexpected NoCandidate: {}", nc.reason));
            assert!(
                nc.reason.contains(want),
                "{ctx}: reason {:?} lacks {want:?}",
                nc.reason
            );
            (nc.ranking, None)
        }
    };
    assert_eq!(
        ranking.len(),
        scenario.replicas.len(),
        "{ctx}: ranking covers all"
    );
    let mut eligible: Vec<String> = ranking
        .iter()
        .filter(|r| r.eligible)
        .map(|r| r.key.to_string())
        .collect();
    eligible.sort();
    let mut want: Vec<String> = e.eligible.iter().map(|k| key(k).to_string()).collect();
    want.sort();
    assert_eq!(eligible, want, "{ctx}: eligible");
    for r in &ranking {
        let got: Vec<&str> = r.vetoes.iter().map(|v| v.code()).collect();
        let want: Vec<&str> = e
            .vetoes
            .iter()
            .find(|(k, _)| key(k) == r.key)
            .map(|(_, v)| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(got, want, "{ctx}: vetoes of {}", r.key);
        assert_eq!(r.eligible, r.vetoes.is_empty(), "{ctx}: {}", r.key);
        assert!(!r.reasons.is_empty(), "{ctx}: {} has no reasons", r.key);
    }
    for (k, wanted) in &e.reasons {
        let r = ranking.iter().find(|r| r.key == key(k)).unwrap();
        for w in wanted {
            assert!(
                r.reasons.iter().any(|s| s.contains(w.as_str())),
                "{ctx}: reasons of {k} lack {w:?}: {:?}",
                r.reasons
            );
        }
    }
    if let Some(order) = &e.ranking {
        let got: Vec<String> = ranking.iter().map(|r| r.key.to_string()).collect();
        let want: Vec<String> = order.iter().map(|k| key(k).to_string()).collect();
        assert_eq!(got, want, "{ctx}: ranking order");
    }
    let Some(d) = decision else {
        return;
    };
    let promote = e.promote.as_deref().map(key);
    assert_eq!(Some(&d.promote), promote.as_ref(), "{ctx}: promote");
    assert_eq!(d.ranking[0].key, d.promote, "{ctx}: promoted ranks first");
    assert_eq!(d.ideal, e.ideal.as_deref().map(key), "{ctx}: ideal");
    let lost: Vec<String> = d.lost.iter().map(|l| l.key.to_string()).collect();
    let mut want_lost: Vec<String> = e.lost.iter().map(|k| key(k).to_string()).collect();
    want_lost.sort();
    assert_eq!(lost, want_lost, "{ctx}: lost ({:?})", d.lost);
    for (k, given) in &e.given_up {
        let l = d.lost.iter().find(|l| l.key == key(k)).unwrap();
        assert_eq!(&l.given_up, given, "{ctx}: given up by {k}");
    }
    if let Some(g) = e.gtid {
        assert_eq!(d.gtid, g, "{ctx}: gtid");
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

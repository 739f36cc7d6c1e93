//! Recovery records cross the wire and come back equal — their analysis
//! and plan typed on the way — and malformed ones are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use orc_model::{RecoveryKind, RecoveryRecord, Timestamp};
use orc_planner::{Intent, Method, Plan};
use orc_proto::Error;
use orc_proto::plan::recorded_json;
use orc_proto::v1 as w;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use support::{dead_master, k, key, text, through_bytes, ts};

fn round_trip(r: &RecoveryRecord) -> Result<RecoveryRecord, Error> {
    RecoveryRecord::try_from(&through_bytes(&w::RecoveryRecord::from(r)))
}

fn plan_text() -> String {
    let mut plan = Plan::new(
        Intent::MasterFailover {
            failed: k("db1:3306"),
            designated: None,
            co_master: false,
            lite: false,
        },
        Method::Gtid,
        "promote db2:3306",
    );
    plan.successor = Some(k("db2:3306"));
    plan.lost = vec![(k("db3:3306"), "no binary logs".into())];
    recorded_json(&plan).to_string()
}

fn record() -> impl Strategy<Value = RecoveryRecord> {
    let who = (
        any::<i64>(),
        text(),
        text(),
        key(),
        option::of(key()),
        vec(key(), 0..3),
        vec(key(), 0..3),
        vec(text(), 0..3),
    );
    let when = (ts(), option::of(ts()), ts(), option::of(ts()));
    let what = (
        prop_oneof![
            Just(RecoveryKind::MasterRecovery),
            Just(RecoveryKind::CoMasterRecovery),
            Just(RecoveryKind::IntermediateMasterRecovery),
        ],
        vec(any::<bool>(), 4),
        any::<u64>(),
        option::of(support::analysis()),
        any::<bool>(),
        vec(text(), 6),
    );
    (who, when, what).prop_map(|(who, when, what)| {
        let (id, uid, cluster, failed, successor, lost_replicas, participating, errors) = who;
        let (kind, flags, lease_revision, analysis, planned, s) = what;
        RecoveryRecord {
            id,
            uid,
            cluster,
            cluster_alias: s[0].clone(),
            failed,
            analysis: s[1].clone(),
            analysis_json: analysis
                .map(|a| serde_json::to_string(&a).unwrap())
                .unwrap_or_default(),
            kind,
            recovery_type: s[2].clone(),
            command_hint: s[3].clone(),
            is_active: flags[0],
            is_successful: flags[1],
            successor,
            successor_alias: s[4].clone(),
            lost_replicas,
            participating,
            errors,
            started_at: when.0,
            ended_at: when.1,
            block_until: when.2,
            acknowledged: flags[2],
            acknowledged_at: when.3,
            acknowledged_by: s[5].clone(),
            acknowledged_comment: String::new(),
            processing_node: "node-1".into(),
            lease_revision,
            detection_id: if flags[3] {
                "det".into()
            } else {
                String::new()
            },
            decision_json: if planned { plan_text() } else { String::new() },
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_record_survives_the_wire(r in record()) {
        prop_assert_eq!(round_trip(&r), Ok(r));
    }
}

fn sample() -> RecoveryRecord {
    RecoveryRecord {
        id: 7,
        uid: "uid-1".into(),
        cluster: "db1:3306".into(),
        cluster_alias: "main".into(),
        failed: k("db1:3306"),
        analysis: "DeadMaster".into(),
        analysis_json: serde_json::to_string(&dead_master()).unwrap(),
        kind: RecoveryKind::MasterRecovery,
        recovery_type: "MasterRecoveryGTID".into(),
        command_hint: String::new(),
        is_active: false,
        is_successful: true,
        successor: Some(k("db2:3306")),
        successor_alias: String::new(),
        lost_replicas: vec![k("db3:3306")],
        participating: vec![k("db2:3306")],
        errors: Vec::new(),
        started_at: Timestamp(1_000),
        ended_at: Some(Timestamp(2_000)),
        block_until: Timestamp(3_601_000),
        acknowledged: false,
        acknowledged_at: None,
        acknowledged_by: String::new(),
        acknowledged_comment: String::new(),
        processing_node: "node-1".into(),
        lease_revision: 5,
        detection_id: "det-1".into(),
        decision_json: plan_text(),
    }
}

#[test]
fn the_record_carries_its_analysis_and_plan_typed() {
    let r = sample();
    let wire = w::RecoveryRecord::from(&r);
    let analysis = wire.analysis_detail.as_ref().unwrap();
    assert_eq!(analysis.code, w::AnalysisCode::DeadMaster as i32);
    let plan = wire.plan.as_ref().unwrap();
    assert_eq!(plan.successor, Some((&k("db2:3306")).into()));
    assert_eq!(plan.lost[0].reason, "no binary logs");
    assert_eq!(round_trip(&r), Ok(r));
}

#[test]
fn unreadable_analysis_or_plan_text_travels_as_absent_and_comes_back_empty() {
    let r = RecoveryRecord {
        analysis_json: "not json".into(),
        decision_json: "{\"refused\": true}".into(),
        ..sample()
    };
    let wire = w::RecoveryRecord::from(&r);
    assert!(wire.analysis_detail.is_none() && wire.plan.is_none());
    let back = RecoveryRecord::try_from(&wire).unwrap();
    assert_eq!(back.analysis_json, "");
    assert_eq!(back.decision_json, "");
    assert_eq!(
        back,
        RecoveryRecord {
            analysis_json: String::new(),
            decision_json: String::new(),
            ..r
        }
    );
}

#[test]
fn malformed_records_are_refused() {
    let good = w::RecoveryRecord::from(&sample());

    let mut wire = good.clone();
    wire.failed = None;
    assert_eq!(
        RecoveryRecord::try_from(&wire),
        Err(Error::MissingField {
            message: "RecoveryRecord",
            field: "failed"
        })
    );

    let mut wire = good.clone();
    wire.kind = 0;
    assert!(matches!(
        RecoveryRecord::try_from(&wire),
        Err(Error::MissingField { field: "kind", .. })
    ));

    let mut wire = good.clone();
    wire.kind = 9;
    assert!(matches!(
        RecoveryRecord::try_from(&wire),
        Err(Error::UnknownValue {
            field: "kind",
            value: 9,
            ..
        })
    ));

    let mut wire = good.clone();
    wire.analysis_detail.as_mut().unwrap().code = 500;
    assert!(matches!(
        RecoveryRecord::try_from(&wire),
        Err(Error::UnknownValue { field: "code", .. })
    ));

    let mut wire = good;
    wire.plan.as_mut().unwrap().intent_detail = None;
    assert!(matches!(
        RecoveryRecord::try_from(&wire),
        Err(Error::MissingField {
            field: "intent_detail",
            ..
        })
    ));
}

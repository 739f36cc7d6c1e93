//! Plans cross the wire whole — every intent, action, condition and veto —
//! and come back equal; malformed ones are refused. The recorded text of a
//! plan reads back to the same plan.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use orc_model::InstanceKey;
use orc_planner::{
    Action, Capture, Condition, Credentials, Intent, Lane, Method, Phase, Plan, Position,
    SemiSyncRole, Step,
};
use orc_promotion::{LostReplica, NoCandidate, PromotionDecision, Ranked, Veto};
use orc_proto::Error;
use orc_proto::plan::{from_recorded, plan_text, recorded_json, recorded_plan};
use orc_proto::v1 as w;
use orc_recovery_fsm::HookStage;
use support::{k, through_bytes};

fn a() -> InstanceKey {
    k("db1:3306")
}

fn b() -> InstanceKey {
    k("db2:3306")
}

/// One of every intent; `intent_index` fails to compile when one is added.
fn every_intent() -> Vec<Intent> {
    let i = a;
    vec![
        Intent::Relocate {
            instance: i(),
            below: b(),
            only: Some(Method::PseudoGtid),
        },
        Intent::Relocate {
            instance: i(),
            below: b(),
            only: None,
        },
        Intent::RelocateReplicas {
            instance: i(),
            below: b(),
            pattern: Some("db[23]".into()),
            only: Some(Method::Gtid),
        },
        Intent::RelocateReplicas {
            instance: i(),
            below: b(),
            pattern: None,
            only: None,
        },
        Intent::MoveUp { instance: i() },
        Intent::MoveUpReplicas {
            instance: i(),
            pattern: Some(String::new()),
        },
        Intent::MoveBelow {
            instance: i(),
            sibling: b(),
        },
        Intent::MoveEquivalent {
            instance: i(),
            below: b(),
        },
        Intent::Repoint {
            instance: i(),
            below: None,
        },
        Intent::Repoint {
            instance: i(),
            below: Some(b()),
        },
        Intent::RepointReplicas {
            instance: i(),
            pattern: None,
        },
        Intent::TakeMaster { instance: i() },
        Intent::TakeSiblings { instance: i() },
        Intent::MakeCoMaster { instance: i() },
        Intent::RegroupReplicas {
            instance: i(),
            only: Some(Method::BinlogFile),
        },
        Intent::DetachReplicaMasterHost { instance: i() },
        Intent::ReattachReplicaMasterHost { instance: i() },
        Intent::SetReadOnly {
            instance: i(),
            read_only: true,
        },
        Intent::StopReplica { instance: i() },
        Intent::StopReplicaNice { instance: i() },
        Intent::StartReplica { instance: i() },
        Intent::RestartReplica { instance: i() },
        Intent::ResetReplica { instance: i() },
        Intent::SkipQuery { instance: i() },
        Intent::EnableGtid { instance: i() },
        Intent::DisableGtid { instance: i() },
        Intent::FlushBinaryLogs { instance: i() },
        Intent::PurgeBinaryLogs {
            instance: i(),
            to: "latest".into(),
            force: true,
        },
        Intent::SetSemiSync {
            instance: i(),
            role: SemiSyncRole::Replica,
            enabled: false,
        },
        Intent::DelayReplication {
            instance: i(),
            seconds: 3600,
        },
        Intent::KillQuery {
            instance: i(),
            process: u64::MAX,
        },
        Intent::GtidErrantResetMaster { instance: i() },
        Intent::GtidErrantInjectEmpty { instance: i() },
        Intent::MasterFailover {
            failed: i(),
            designated: Some(b()),
            co_master: true,
            lite: true,
        },
        Intent::MasterFailover {
            failed: i(),
            designated: None,
            co_master: false,
            lite: false,
        },
        Intent::IntermediateMasterFailover {
            failed: i(),
            lite: true,
        },
        Intent::MakeWritable { instance: i() },
        Intent::GracefulTakeover {
            master: i(),
            designated: None,
            auto: true,
        },
        Intent::HandOver { from: i(), to: b() },
    ]
}

fn intent_index(i: &Intent) -> usize {
    match i {
        Intent::Relocate { .. } => 0,
        Intent::RelocateReplicas { .. } => 1,
        Intent::MoveUp { .. } => 2,
        Intent::MoveUpReplicas { .. } => 3,
        Intent::MoveBelow { .. } => 4,
        Intent::MoveEquivalent { .. } => 5,
        Intent::Repoint { .. } => 6,
        Intent::RepointReplicas { .. } => 7,
        Intent::TakeMaster { .. } => 8,
        Intent::TakeSiblings { .. } => 9,
        Intent::MakeCoMaster { .. } => 10,
        Intent::RegroupReplicas { .. } => 11,
        Intent::DetachReplicaMasterHost { .. } => 12,
        Intent::ReattachReplicaMasterHost { .. } => 13,
        Intent::SetReadOnly { .. } => 14,
        Intent::StopReplica { .. } => 15,
        Intent::StopReplicaNice { .. } => 16,
        Intent::StartReplica { .. } => 17,
        Intent::RestartReplica { .. } => 18,
        Intent::ResetReplica { .. } => 19,
        Intent::SkipQuery { .. } => 20,
        Intent::EnableGtid { .. } => 21,
        Intent::DisableGtid { .. } => 22,
        Intent::FlushBinaryLogs { .. } => 23,
        Intent::PurgeBinaryLogs { .. } => 24,
        Intent::SetSemiSync { .. } => 25,
        Intent::DelayReplication { .. } => 26,
        Intent::KillQuery { .. } => 27,
        Intent::GtidErrantResetMaster { .. } => 28,
        Intent::GtidErrantInjectEmpty { .. } => 29,
        Intent::MasterFailover { .. } => 30,
        Intent::IntermediateMasterFailover { .. } => 31,
        Intent::MakeWritable { .. } => 32,
        Intent::GracefulTakeover { .. } => 33,
        Intent::HandOver { .. } => 34,
    }
}

/// One of every action; `action_index` fails to compile when one is added.
fn every_action() -> Vec<Action> {
    let on = a;
    let mut out = vec![
        Action::StopReplica(on()),
        Action::StopIoThread(on()),
        Action::StartSqlThread(on()),
        Action::StartReplica(on()),
        Action::WaitRelayLogApplied(on()),
        Action::RunUntil {
            on: on(),
            until: "c1".into(),
        },
        Action::SyncSiblings { a: on(), b: b() },
        Action::WaitForGtid {
            on: on(),
            position: "g1".into(),
        },
        Action::DetachSource(on()),
        Action::ReattachSource(on()),
        Action::ResetReplica(on()),
        Action::SetReadOnly {
            on: on(),
            read_only: false,
        },
        Action::Capture {
            name: "c1".into(),
            what: Capture::SelfCoordinates(on()),
        },
        Action::Capture {
            name: "c2".into(),
            what: Capture::ExecCoordinates(on()),
        },
        Action::Capture {
            name: "g1".into(),
            what: Capture::GtidExecuted(on()),
        },
        Action::Capture {
            name: "g2".into(),
            what: Capture::GtidApplied(on()),
        },
        Action::Capture {
            name: "p".into(),
            what: Capture::PseudoGtidMatch {
                replica: on(),
                target: b(),
            },
        },
        Action::SkipQuery(on()),
        Action::FlushBinaryLogs(on()),
        Action::PurgeBinaryLogs {
            on: on(),
            to: "mysql-bin.000009".into(),
        },
        Action::SetSemiSync {
            on: on(),
            role: SemiSyncRole::Master,
            enabled: true,
        },
        Action::DelayReplication {
            on: on(),
            seconds: 0,
        },
        Action::KillQuery {
            on: on(),
            process: 7,
        },
        Action::InjectEmptyTransactions {
            on: on(),
            gtids: "uuid:1-3".into(),
        },
        Action::ResetMasterKeeping {
            on: on(),
            errant: "uuid:4".into(),
        },
        Action::Downtime {
            on: on(),
            reason: "lost in recovery".into(),
        },
        Action::EndDowntime(on()),
        Action::PublishMaster(on()),
    ];
    for position in [
        Position::MariadbSlavePos,
        Position::MariadbCurrentPos,
        Position::AutoPosition,
        Position::Captured("c1".into()),
    ] {
        for credentials in [Credentials::Keep, Credentials::Configured] {
            out.push(Action::ChangeSource {
                on: on(),
                source: b(),
                position: position.clone(),
                credentials,
            });
        }
    }
    for stage in [
        HookStage::OnFailureDetection,
        HookStage::PreGracefulTakeover,
        HookStage::PreFailover,
        HookStage::PostMasterFailover,
        HookStage::PostIntermediateMasterFailover,
        HookStage::PostFailover,
        HookStage::PostUnsuccessfulFailover,
        HookStage::PostGracefulTakeover,
        HookStage::PostTakeMaster,
    ] {
        out.push(Action::Hooks(stage));
    }
    out
}

fn action_index(x: &Action) -> usize {
    match x {
        Action::StopReplica(_) => 0,
        Action::StopIoThread(_) => 1,
        Action::StartSqlThread(_) => 2,
        Action::StartReplica(_) => 3,
        Action::WaitRelayLogApplied(_) => 4,
        Action::RunUntil { .. } => 5,
        Action::SyncSiblings { .. } => 6,
        Action::WaitForGtid { .. } => 7,
        Action::ChangeSource { .. } => 8,
        Action::DetachSource(_) => 9,
        Action::ReattachSource(_) => 10,
        Action::ResetReplica(_) => 11,
        Action::SetReadOnly { .. } => 12,
        Action::Capture { .. } => 13,
        Action::SkipQuery(_) => 14,
        Action::FlushBinaryLogs(_) => 15,
        Action::PurgeBinaryLogs { .. } => 16,
        Action::SetSemiSync { .. } => 17,
        Action::DelayReplication { .. } => 18,
        Action::KillQuery { .. } => 19,
        Action::InjectEmptyTransactions { .. } => 20,
        Action::ResetMasterKeeping { .. } => 21,
        Action::Downtime { .. } => 22,
        Action::EndDowntime(_) => 23,
        Action::Hooks(_) => 24,
        Action::PublishMaster(_) => 25,
    }
}

/// One of every condition; `condition_index` fails to compile when one is added.
fn every_condition() -> Vec<Condition> {
    vec![
        Condition::Reachable(a()),
        Condition::ReplicatesFrom {
            replica: b(),
            source: a(),
        },
        Condition::NoSource(a()),
        Condition::ReplicationStopped(b()),
        Condition::ReplicationRunning(b()),
        Condition::ReadOnly(a()),
        Condition::Writable(b()),
        Condition::LogsReplicaUpdates(b()),
        Condition::Detached(b()),
        Condition::SameExecPosition(a(), b()),
        Condition::ExecutedUpTo {
            on: b(),
            capture: "c1".into(),
        },
    ]
}

fn condition_index(c: &Condition) -> usize {
    match c {
        Condition::Reachable(_) => 0,
        Condition::ReplicatesFrom { .. } => 1,
        Condition::NoSource(_) => 2,
        Condition::ReplicationStopped(_) => 3,
        Condition::ReplicationRunning(_) => 4,
        Condition::ReadOnly(_) => 5,
        Condition::Writable(_) => 6,
        Condition::LogsReplicaUpdates(_) => 7,
        Condition::Detached(_) => 8,
        Condition::SameExecPosition(..) => 9,
        Condition::ExecutedUpTo { .. } => 10,
    }
}

/// One of every veto; `veto_index` fails to compile when one is added.
fn every_veto() -> Vec<Veto> {
    vec![
        Veto::Unreachable,
        Veto::NoBinaryLog,
        Veto::NoLogReplicaUpdates,
        Veto::MustNotRule,
        Veto::IgnoredHostname,
        Veto::NewerMajorVersionThanMost {
            version: "8.4".into(),
            most: "8.0".into(),
        },
        Veto::HigherBinlogFormatThanMost {
            format: "ROW".into(),
            most: "STATEMENT".into(),
        },
        Veto::CrossDataCenter {
            candidate: "dc2".into(),
            failed: "dc1".into(),
        },
        Veto::CrossRegion {
            candidate: String::new(),
            failed: "eu".into(),
        },
        Veto::Lagging { seconds: -5 },
        Veto::SqlThreadNotUpToDate,
        Veto::NotDesignated,
    ]
}

fn veto_index(v: &Veto) -> usize {
    match v {
        Veto::Unreachable => 0,
        Veto::NoBinaryLog => 1,
        Veto::NoLogReplicaUpdates => 2,
        Veto::MustNotRule => 3,
        Veto::IgnoredHostname => 4,
        Veto::NewerMajorVersionThanMost { .. } => 5,
        Veto::HigherBinlogFormatThanMost { .. } => 6,
        Veto::CrossDataCenter { .. } => 7,
        Veto::CrossRegion { .. } => 8,
        Veto::Lagging { .. } => 9,
        Veto::SqlThreadNotUpToDate => 10,
        Veto::NotDesignated => 11,
    }
}

fn covers<T>(all: &[T], index: impl Fn(&T) -> usize, count: usize) {
    let mut seen: Vec<usize> = all.iter().map(index).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        (0..count).collect::<Vec<_>>(),
        "a variant has no sample"
    );
}

fn decision() -> PromotionDecision {
    PromotionDecision {
        promote: b(),
        ideal: Some(k("db3:3306")),
        ranking: vec![
            Ranked {
                key: b(),
                eligible: true,
                vetoes: Vec::new(),
                reasons: vec!["most up to date".into()],
            },
            Ranked {
                key: k("db4:3306"),
                eligible: false,
                vetoes: every_veto(),
                reasons: Vec::new(),
            },
        ],
        lost: vec![LostReplica {
            key: k("db4:3306"),
            reason: "errant GTID".into(),
            given_up: "uuid:7".into(),
        }],
        gtid: true,
    }
}

fn step(action: Action) -> Step {
    Step {
        action,
        preconditions: every_condition(),
        effects: vec![Condition::Writable(b())],
    }
}

/// A plan using every intent (as the follow-up), action, condition and veto.
fn full_plan() -> Plan {
    let mut plan = Plan::new(
        Intent::MasterFailover {
            failed: a(),
            designated: None,
            co_master: false,
            lite: false,
        },
        Method::Gtid,
        "promote db2:3306",
    );
    plan.notes = vec!["GTID on every replica".into()];
    plan.phases = vec![
        Phase {
            label: "empty".into(),
            lanes: Vec::new(),
        },
        Phase {
            label: "promote".into(),
            lanes: vec![
                Lane {
                    label: "candidate".into(),
                    critical: true,
                    background: false,
                    moves: None,
                    steps: every_action().into_iter().map(step).collect(),
                    on_failure: vec![step(Action::StartReplica(b()))],
                },
                Lane {
                    label: "fence".into(),
                    critical: false,
                    background: true,
                    moves: Some(k("db4:3306")),
                    steps: Vec::new(),
                    on_failure: Vec::new(),
                },
            ],
        },
    ];
    plan.on_failure = vec![step(Action::Hooks(HookStage::PostUnsuccessfulFailover))];
    plan.expect = every_condition();
    plan.subject = Some(a());
    plan.successor = Some(b());
    plan.lost = vec![(k("db4:3306"), "errant GTID".into())];
    plan.decision = Some(decision());
    plan.needs_a_moved_replica = true;
    plan.followup = Some(Intent::HandOver {
        from: b(),
        to: k("db3:3306"),
    });
    plan
}

fn round_trip(plan: &Plan) -> Result<Plan, Error> {
    Plan::try_from(&through_bytes(&w::Plan::from(plan)))
}

#[test]
fn the_samples_cover_every_variant() {
    covers(&every_intent(), intent_index, 35);
    covers(&every_action(), action_index, 26);
    covers(&every_condition(), condition_index, 11);
    covers(&every_veto(), veto_index, 12);
}

#[test]
fn every_intent_survives_the_wire() {
    for i in every_intent() {
        let wire = through_bytes(&w::PlanIntent::from(&i));
        assert_eq!(Intent::try_from(&wire), Ok(i));
    }
}

#[test]
fn every_action_survives_the_wire() {
    for x in every_action() {
        let wire = through_bytes(&w::PlanAction::from(&x));
        assert_eq!(Action::try_from(&wire), Ok(x));
    }
}

#[test]
fn every_condition_and_veto_survives_the_wire() {
    for c in every_condition() {
        assert_eq!(
            Condition::try_from(&through_bytes(&w::PlanCondition::from(&c))),
            Ok(c)
        );
    }
    for v in every_veto() {
        let wire = through_bytes(&w::PromotionVeto::from(&v));
        assert_eq!(wire.text, v.to_string());
        assert_eq!(Veto::try_from(&wire), Ok(v));
    }
}

#[test]
fn a_whole_plan_survives_the_wire_with_its_words() {
    let plan = full_plan();
    let wire = w::Plan::from(&plan);
    assert_eq!(wire.method, "GTID");
    assert_eq!(
        wire.phases[1].lanes[0].steps[0].action,
        "stop replication on db1:3306"
    );
    assert_eq!(wire.decision.as_ref().unwrap().promote, Some((&b()).into()));
    assert_eq!(round_trip(&plan), Ok(plan));
}

#[test]
fn an_empty_plan_survives_the_wire() {
    let plan = Plan::new(Intent::MoveUp { instance: a() }, Method::None, "");
    assert_eq!(round_trip(&plan), Ok(plan));
}

#[test]
fn no_candidate_survives_the_wire() {
    let n = NoCandidate {
        reason: "every replica is vetoed".into(),
        ranking: decision().ranking,
    };
    assert_eq!(
        NoCandidate::try_from(&through_bytes(&w::NoCandidate::from(&n))),
        Ok(n)
    );
    let empty = NoCandidate {
        reason: String::new(),
        ranking: Vec::new(),
    };
    assert_eq!(
        NoCandidate::try_from(&w::NoCandidate::from(&empty)),
        Ok(empty)
    );
}

#[test]
fn malformed_plans_are_refused() {
    let good = w::Plan::from(&full_plan());

    let mut wire = good.clone();
    wire.intent_detail = None;
    assert_eq!(
        Plan::try_from(&wire),
        Err(Error::MissingField {
            message: "Plan",
            field: "intent_detail"
        })
    );

    let mut wire = good.clone();
    wire.method_detail = 0;
    assert_eq!(
        Plan::try_from(&wire),
        Err(Error::MissingField {
            message: "Plan",
            field: "method_detail"
        })
    );

    let mut wire = good.clone();
    wire.method_detail = 40;
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::UnknownValue { value: 40, .. })
    ));

    let mut wire = good.clone();
    wire.phases[1].lanes[0].steps[0].action_detail = None;
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::MissingField {
            message: "PlanStep",
            ..
        })
    ));

    let mut wire = good.clone();
    wire.phases[1].lanes[0].steps[0].action_detail = Some(w::PlanAction { kind: None });
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::MissingField {
            message: "PlanAction",
            ..
        })
    ));

    let mut wire = good.clone();
    wire.on_failure_steps[0].action_detail = Some(w::PlanAction {
        kind: Some(w::plan_action::Kind::Hooks(99)),
    });
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::UnknownValue { field: "hooks", .. })
    ));

    let mut wire = good.clone();
    wire.expect_details.push(w::PlanCondition { kind: None });
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::MissingField {
            message: "PlanCondition",
            ..
        })
    ));

    let mut wire = good.clone();
    wire.decision.as_mut().unwrap().ranking[1].vetoes[0].kind = 77;
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::UnknownValue {
            message: "PromotionVeto",
            ..
        })
    ));

    let mut wire = good.clone();
    wire.decision.as_mut().unwrap().promote = None;
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::MissingField {
            field: "promote",
            ..
        })
    ));

    let mut wire = good.clone();
    wire.followup_detail = Some(w::PlanIntent { kind: None });
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::MissingField {
            message: "PlanIntent",
            ..
        })
    ));

    let mut wire = good;
    wire.lost[0].key = None;
    assert!(matches!(
        Plan::try_from(&wire),
        Err(Error::MissingField {
            message: "NotMoved",
            ..
        })
    ));
}

#[test]
fn a_change_source_without_position_or_an_unknown_position_is_refused() {
    let x = Action::ChangeSource {
        on: a(),
        source: b(),
        position: Position::AutoPosition,
        credentials: Credentials::Keep,
    };
    let mut wire = w::PlanAction::from(&x);
    let Some(w::plan_action::Kind::ChangeSource(c)) = wire.kind.as_mut() else {
        unreachable!()
    };
    c.position.as_mut().unwrap().kind = 12;
    assert!(matches!(
        Action::try_from(&wire),
        Err(Error::UnknownValue {
            message: "StartPosition",
            ..
        })
    ));
    let Some(w::plan_action::Kind::ChangeSource(c)) = wire.kind.as_mut() else {
        unreachable!()
    };
    c.position = None;
    assert!(matches!(
        Action::try_from(&wire),
        Err(Error::MissingField {
            field: "position",
            ..
        })
    ));
}

#[test]
fn a_recorded_plan_reads_back_the_same() {
    let plan = full_plan();
    let text = recorded_json(&plan).to_string();
    assert_eq!(from_recorded(&text), Some(plan.clone()));
    let wire = recorded_plan(&text).unwrap();
    assert_eq!(plan_text(&wire).unwrap(), text);

    let v = recorded_json(&plan);
    assert_eq!(
        v["lost"],
        serde_json::json!([{"key": "db4:3306", "reason": "errant GTID"}])
    );
    assert_eq!(v["actions"][0], "2.1.1 stop replication on db1:3306");
    assert_eq!(
        v["decision"]["promote"],
        serde_json::json!({"hostname": "db2", "port": 3306})
    );

    assert_eq!(from_recorded(""), None);
    assert_eq!(from_recorded("{\"refused\": {}}"), None);
    assert_eq!(recorded_plan("not json"), None);
}

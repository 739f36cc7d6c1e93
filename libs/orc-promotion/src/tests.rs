//! Unit tests of the selection as a whole.

use std::time::Duration;

use orc_model::{
    BinlogCoordinates, Flavor, InstanceData, InstanceKey, PromotionRule, ReplicationStatus,
};

use crate::{
    NoCandidate, PromotionDecision, PromotionPolicy, PromotionRequest, ReplicaFacts, Veto,
    select_candidate,
};

struct R {
    key: InstanceKey,
    data: InstanceData,
    reachable: bool,
    rule: PromotionRule,
}

fn key(s: &str) -> InstanceKey {
    InstanceKey::parse(s).unwrap()
}

fn maria(k: &str, gtid: &str) -> R {
    R {
        key: key(k),
        data: InstanceData {
            version: "10.11.6-MariaDB-log".into(),
            flavor: Flavor::Mariadb,
            log_bin: true,
            log_replica_updates: true,
            binlog_format: "ROW".into(),
            gtid_slave_pos: gtid.into(),
            data_center: "dc1".into(),
            region: "eu".into(),
            replication: Some(ReplicationStatus {
                master_host: "m".into(),
                master_port: 3306,
                using_gtid: "Slave_Pos".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        reachable: true,
        rule: PromotionRule::Neutral,
    }
}

fn with(mut r: R, f: impl FnOnce(&mut R)) -> R {
    f(&mut r);
    r
}

fn master() -> InstanceData {
    InstanceData {
        data_center: "dc1".into(),
        region: "eu".into(),
        ..Default::default()
    }
}

fn select(
    replicas: &[R],
    policy: &PromotionPolicy,
    designated: Option<&InstanceKey>,
) -> Result<PromotionDecision, NoCandidate> {
    let m = key("m:3306");
    let md = master();
    let req = PromotionRequest {
        failed_master: &m,
        failed_master_data: Some(&md),
        replicas: replicas
            .iter()
            .map(|r| ReplicaFacts {
                key: &r.key,
                data: &r.data,
                reachable: r.reachable,
                rule: r.rule,
            })
            .collect(),
        designated,
    };
    select_candidate(&req, policy)
}

fn ok(replicas: &[R]) -> PromotionDecision {
    select(replicas, &PromotionPolicy::default(), None).unwrap()
}

#[test]
fn the_most_up_to_date_replica_is_promoted() {
    let d = ok(&[
        maria("r1", "0-1-90"),
        maria("r2", "0-1-100"),
        maria("r3", "0-1-95"),
    ]);
    assert_eq!(d.promote, key("r2"));
    assert_eq!(d.ideal, None);
    assert!(d.lost.is_empty(), "behind replicas catch up: {:?}", d.lost);
    assert!(d.gtid);
    let order: Vec<String> = d.ranking.iter().map(|r| r.key.to_string()).collect();
    assert_eq!(order, ["r2:3306", "r3:3306", "r1:3306"]);
    let r1 = d.ranked(&key("r1")).unwrap();
    assert!(
        r1.reasons
            .iter()
            .any(|s| s == "behind r2:3306 by 10 transactions"),
        "{:?}",
        r1.reasons
    );
}

#[test]
fn prefer_wins_only_when_as_up_to_date() {
    let prefer = |r: &mut R| r.rule = PromotionRule::Prefer;
    let d = ok(&[maria("r1", "0-1-100"), with(maria("r2", "0-1-100"), prefer)]);
    assert_eq!(d.promote, key("r2"));
    assert_eq!(d.ideal, None);
    let why = &d.ranked(&key("r2")).unwrap().reasons;
    assert!(
        why.iter()
            .any(|s| s.contains("chosen by promotion rule prefer over neutral")),
        "{why:?}"
    );

    let d = ok(&[maria("r1", "0-1-100"), with(maria("r2", "0-1-99"), prefer)]);
    assert_eq!(d.promote, key("r1"));
    assert_eq!(d.ideal, Some(key("r2")));
}

#[test]
fn prefer_not_promoted_hands_over_to_a_neutral_one_in_the_same_data_centre() {
    let d = ok(&[
        with(maria("r1", "0-1-100"), |r| {
            r.rule = PromotionRule::PreferNot
        }),
        with(maria("r2", "0-1-90"), |r| r.data.data_center = "dc2".into()),
        maria("r3", "0-1-80"),
    ]);
    assert_eq!(d.promote, key("r1"));
    assert_eq!(d.ideal, Some(key("r3")));
}

#[test]
fn a_prefer_replica_with_errant_transactions_is_lost_not_ideal() {
    let d = ok(&[
        maria("r1", "0-1-100"),
        with(maria("r2", "0-1-90,1-7-3"), |r| {
            r.rule = PromotionRule::Prefer
        }),
    ]);
    assert_eq!(d.promote, key("r1"));
    assert_eq!(d.ideal, None);
    assert_eq!(d.lost.len(), 1);
    assert_eq!(d.lost[0].key, key("r2"));
    assert_eq!(d.lost[0].given_up, "1-7-3");
    assert!(
        d.lost[0].reason.contains("domain 1 seq 1..3"),
        "{}",
        d.lost[0].reason
    );
}

#[test]
fn a_replica_without_binary_log_is_never_promoted_and_lost_when_ahead() {
    let d = ok(&[
        with(maria("r1", "0-1-100"), |r| r.data.log_bin = false),
        maria("r2", "0-1-90"),
    ]);
    assert_eq!(d.promote, key("r2"));
    let r1 = d.ranked(&key("r1")).unwrap();
    assert!(!r1.eligible);
    assert_eq!(r1.vetoes, vec![Veto::NoBinaryLog]);
    assert!(d.is_lost(&key("r1")));
    assert_eq!(d.lost[0].given_up, "0-1-100");
}

#[test]
fn log_slave_updates_is_only_needed_when_others_follow() {
    let nolsu = |r: &mut R| r.data.log_replica_updates = false;
    let d = ok(&[with(maria("r1", "0-1-100"), nolsu)]);
    assert_eq!(d.promote, key("r1"));
    let d = ok(&[with(maria("r1", "0-1-100"), nolsu), maria("r2", "0-1-100")]);
    assert_eq!(d.promote, key("r2"));
    assert_eq!(
        d.ranked(&key("r1")).unwrap().vetoes,
        vec![Veto::NoLogReplicaUpdates]
    );
    // An unreachable second replica does not need to follow it.
    let d = ok(&[
        with(maria("r1", "0-1-100"), nolsu),
        with(maria("r2", "0-1-100"), |r| r.reachable = false),
    ]);
    assert_eq!(d.promote, key("r1"));
    assert_eq!(d.lost[0].reason, "unreachable");
}

#[test]
fn designated_candidates_are_promoted_or_refused() {
    let replicas = [maria("r1", "0-1-100"), maria("r2", "0-1-90")];
    let r2 = key("r2");
    let d = select(&replicas, &PromotionPolicy::default(), Some(&r2)).unwrap();
    assert_eq!(d.promote, r2);
    assert_eq!(
        d.ranked(&key("r1")).unwrap().vetoes,
        vec![Veto::NotDesignated]
    );
    assert!(
        d.is_lost(&key("r1")),
        "r1 is ahead of the designated replica"
    );

    let nobody = key("r9");
    let e = select(&replicas, &PromotionPolicy::default(), Some(&nobody)).unwrap_err();
    assert!(e.reason.contains("not a replica"), "{}", e.reason);

    let replicas = [
        maria("r1", "0-1-100"),
        with(maria("r2", "0-1-90"), |r| r.rule = PromotionRule::MustNot),
    ];
    let e = select(&replicas, &PromotionPolicy::default(), Some(&r2)).unwrap_err();
    assert_eq!(
        e.reason,
        "designated candidate r2:3306 cannot be promoted: promotion rule is must_not"
    );
}

#[test]
fn no_replicas_or_no_eligible_replica_is_no_candidate() {
    let e = select(&[], &PromotionPolicy::default(), None).unwrap_err();
    assert_eq!(e.reason, "failed master m:3306 has no replicas");
    let e = select(
        &[
            with(maria("r1", "0-1-100"), |r| r.data.log_bin = false),
            with(maria("r2", "0-1-90"), |r| r.rule = PromotionRule::MustNot),
        ],
        &PromotionPolicy::default(),
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.reason,
        "no eligible replica of m:3306: r1:3306: no binary log; r2:3306: promotion rule is must_not"
    );
    assert_eq!(e.ranking.len(), 2);
}

#[test]
fn lag_limits_of_zero_and_unknown_lag_do_not_veto() {
    let lagging = |r: &mut R| r.data.replication_lag_seconds = Some(600);
    let zero = PromotionPolicy {
        fail_on_lag: Some(Duration::ZERO),
        ..Default::default()
    };
    let d = select(&[with(maria("r1", "0-1-1"), lagging)], &zero, None).unwrap();
    assert_eq!(d.promote, key("r1"));
    let ten_minutes = PromotionPolicy {
        fail_on_lag: Some(Duration::from_secs(600)),
        ..Default::default()
    };
    let e = select(&[with(maria("r1", "0-1-1"), lagging)], &ten_minutes, None).unwrap_err();
    assert_eq!(e.ranking[0].vetoes, vec![Veto::Lagging { seconds: 600 }]);
    let d = select(&[maria("r1", "0-1-1")], &ten_minutes, None).unwrap();
    assert_eq!(d.promote, key("r1"));
}

#[test]
fn an_older_replica_cannot_follow_a_newer_promoted_one() {
    let old = |r: &mut R| r.data.version = "10.6.16-MariaDB-log".into();
    let d = ok(&[
        maria("r1", "0-1-100"),
        maria("r2", "0-1-90"),
        with(maria("r3", "0-1-100"), old),
    ]);
    assert_eq!(
        d.promote,
        key("r3"),
        "as up to date, lower version wins the tie"
    );
    let d = ok(&[
        maria("r1", "0-1-100"),
        maria("r2", "0-1-90"),
        with(maria("r3", "0-1-80"), old),
    ]);
    assert_eq!(d.promote, key("r1"));
    assert_eq!(d.lost.len(), 1);
    assert!(
        d.lost[0].reason.contains("older than 10.11"),
        "{}",
        d.lost[0].reason
    );
}

#[test]
fn without_gtid_exec_coordinates_order_the_replicas() {
    fn filepos(file: &'static str, pos: u64) -> impl FnOnce(&mut R) {
        move |r: &mut R| {
            if let Some(rep) = r.data.replication.as_mut() {
                rep.using_gtid = "No".into();
                rep.exec_coordinates = BinlogCoordinates::binary(file, pos);
                rep.read_coordinates = rep.exec_coordinates.clone();
            }
        }
    }
    let d = ok(&[
        with(maria("r1", "0-1-100"), filepos("mysql-bin.000009", 9000)),
        with(maria("r2", "0-1-1"), filepos("mysql-bin.000010", 4)),
    ]);
    assert!(!d.gtid);
    assert_eq!(
        d.promote,
        key("r2"),
        "GTID positions are ignored without GTID"
    );
    // Behind without GTID: no way to find its position on r2.
    assert_eq!(d.lost.len(), 1);
    assert_eq!(d.lost[0].key, key("r1"));
}

#[test]
fn decisions_and_vetoes_serialize() {
    let d = ok(&[
        maria("r1", "0-1-100"),
        with(maria("r2", "0-1-90"), |r| r.data.log_bin = false),
    ]);
    let text = serde_json::to_string(&d).unwrap();
    assert!(text.contains("\"no_binary_log\""), "{text}");
    let back: PromotionDecision = serde_json::from_str(&text).unwrap();
    assert_eq!(back, d);
    let v = Veto::CrossDataCenter {
        candidate: "dc2".into(),
        failed: "dc1".into(),
    };
    assert_eq!(v.code(), "cross_data_center");
    assert_eq!(
        v.to_string(),
        "in data centre \"dc2\", the failed master was in \"dc1\""
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["cross_data_center"]["failed"], "dc1");
}

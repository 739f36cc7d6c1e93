//! The gateway's recovery and operator-metadata surface, over real HTTP and
//! gRPC, against a temporary SQLite store and an in-process bus: operator
//! metadata, acknowledgements, the global switch, the audit routes, and
//! recovery commands forwarded to a stand-in recovery service.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use orc_bus::{Bus, subjects};
use orc_model::{BlockedRecovery, DetectionRecord};
use orc_proto::v1 as wire;
use serde_json::{Value, json};
use support::{
    CLUSTER, Gw, MASTER, Responder, failover_plan, k, next_metadata, next_retry, now, promote,
    recovery,
};

fn key_json(port: u16) -> Value {
    json!({"Hostname": "127.0.0.1", "Port": port})
}

fn keys_of(list: &Value) -> Vec<Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["Key"].clone())
        .collect()
}

fn field_names(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Field names of orchestrator 3.2.6's TopologyRecovery.
fn upstream_recovery_fields() -> Vec<String> {
    let text = std::fs::read_to_string(format!(
        "{}/../../libs/orc-compat/testdata/upstream/api-audit-recovery-after-failover.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    field_names(&v[0])
}

fn failing(error: &str, kind: &str) -> wire::RecoveryCommandReply {
    wire::RecoveryCommandReply {
        error: error.into(),
        error_kind: kind.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn downtime_begins_and_ends_in_instance_json_the_store_and_the_analysis() {
    let gw = Gw::start().await;
    let mut changes = gw.bus.subscribe(subjects::METADATA_CHANGED).await.unwrap();
    let body = gw.ok("begin-downtime/127.0.0.1/22102/ops/upgrade/2h").await;
    assert_eq!(body["Details"], key_json(22102));
    let changed = next_metadata(&mut changes).await.unwrap();
    assert_eq!(changed.keys, vec![wire::InstanceKey::from(&k(22102))]);

    let (_, inst) = gw.get("instance/127.0.0.1/22102").await;
    assert_eq!(inst["IsDowntimed"], true);
    assert_eq!(inst["DowntimeOwner"], "ops");
    assert_eq!(inst["DowntimeReason"], "upgrade");
    assert_ne!(inst["DowntimeEndTimestamp"], "");
    let d = gw
        .store
        .metadata()
        .get(&k(22102))
        .await
        .unwrap()
        .downtime
        .unwrap();
    assert_eq!(
        d.ends_at.as_millis() - d.begins_at.as_millis(),
        2 * 3_600_000
    );

    let (_, all) = gw.get("downtimed").await;
    assert_eq!(keys_of(&all), vec![key_json(22102)]);
    let (_, in_cluster) = gw.get("downtimed/127.0.0.1:22101").await;
    assert_eq!(keys_of(&in_cluster), vec![key_json(22102)]);
    let topology = gw.ok("topology/127.0.0.1:22101").await;
    let line = topology["Details"]
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.contains(":22102"))
        .unwrap()
        .to_string();
    assert!(line.contains("downtimed"), "{line}");

    gw.ok("end-downtime/127.0.0.1/22102").await;
    assert!(next_metadata(&mut changes).await.is_some());
    let (_, inst) = gw.get("instance/127.0.0.1/22102").await;
    assert_eq!(inst["IsDowntimed"], false);
    assert!(
        gw.store
            .metadata()
            .get(&k(22102))
            .await
            .unwrap()
            .downtime
            .is_none()
    );
    let (_, all) = gw.get("downtimed").await;
    assert_eq!(all, json!([]));

    for path in [
        "begin-downtime/127.0.0.1/22103/ops/reboot",
        "begin-downtime/127.0.0.1/22103/ops/reboot/0",
    ] {
        gw.ok(path).await;
        let d = gw
            .store
            .metadata()
            .get(&k(22103))
            .await
            .unwrap()
            .downtime
            .unwrap();
        assert_eq!(
            d.ends_at.as_millis() - d.begins_at.as_millis(),
            600_000,
            "{path}"
        );
    }

    // The analysis the gateway computes sees the downtime of a failing master.
    gw.ok("begin-downtime/127.0.0.1/22101/ops/maintenance/1h")
        .await;
    let mut master = gw.store.instances().get(&k(MASTER)).await.unwrap().unwrap();
    let at = now();
    master.state.apply(&orc_model::InstanceSnapshot {
        key: k(MASTER),
        vantage: "p".into(),
        started_at: at,
        observed_at: at,
        outcome: orc_model::ProbeOutcome::Failed(orc_model::ProbeError {
            kind: orc_model::ProbeErrorKind::Refused,
            message: "connection refused".into(),
        }),
        data: None,
        one_off: false,
    });
    gw.store.instances().upsert(&[master]).await.unwrap();
    let analysis = gw.ok("replication-analysis").await;
    let entry = analysis["Details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["AnalyzedInstanceKey"] == key_json(MASTER))
        .cloned()
        .unwrap_or_else(|| panic!("no entry for the master: {analysis}"));
    assert_eq!(entry["IsDowntimed"], true, "{entry}");
    assert_ne!(entry["DowntimeEndTimestamp"], "", "{entry}");
    gw.stop().await;
}

#[tokio::test]
async fn bad_metadata_requests_are_refused_clearly_and_change_nothing() {
    let gw = Gw::start().await;
    let mut changes = gw.bus.subscribe(subjects::METADATA_CHANGED).await.unwrap();
    for (path, needle) in [
        ("begin-downtime/127.0.0.1/notaport/ops/why", "Invalid port"),
        (
            "begin-downtime/bad%20host/3306/ops/why",
            "invalid character",
        ),
        (
            "begin-downtime/127.0.0.1/22102/ops/why/10x",
            "Invalid duration",
        ),
        (
            "begin-downtime/127.0.0.1/22102/ops/why/-5m",
            "Invalid duration",
        ),
        (
            "begin-downtime/127.0.0.1/1/ops/why",
            "Cannot read instance: 127.0.0.1:1",
        ),
        (
            "begin-downtime/127.0.0.1/22102/%20/why",
            "owner must be provided",
        ),
        (
            "begin-downtime/127.0.0.1/22102/ops/%20",
            "reason must be provided",
        ),
        ("end-downtime/127.0.0.1/1", "Cannot read instance"),
        (
            "register-candidate/127.0.0.1/22102/always",
            "Invalid promotion rule",
        ),
        (
            "register-candidate/127.0.0.1/1/prefer",
            "Cannot read instance",
        ),
        (
            "begin-maintenance/127.0.0.1/1/ops/why",
            "Cannot read instance",
        ),
        ("begin-maintenance/127.0.0.1/x/ops/why", "Invalid port"),
        ("in-maintenance/127.0.0.1/1", "Cannot read instance"),
        (
            "downtimed/no-such-cluster",
            "Unable to determine cluster name",
        ),
    ] {
        gw.error(path, needle).await;
    }
    assert!(gw.store.metadata().all().await.unwrap().is_empty());
    assert!(next_metadata(&mut changes).await.is_none());
    let (_, inst) = gw.get("instance/127.0.0.1/22102").await;
    assert_eq!(
        (&inst["IsDowntimed"], &inst["PromotionRule"]),
        (&json!(false), &json!("neutral"))
    );
    gw.stop().await;
}

#[tokio::test]
async fn maintenance_locks_are_exclusive_listed_and_released() {
    let gw = Gw::start().await;
    let body = gw.ok("begin-maintenance/127.0.0.1/22102/ops/backup").await;
    assert_eq!(body["Details"], key_json(22102));
    gw.error(
        "begin-maintenance/127.0.0.1/22102/dba/other",
        "already in maintenance",
    )
    .await;
    let lock = gw
        .store
        .metadata()
        .get(&k(22102))
        .await
        .unwrap()
        .maintenance
        .unwrap();
    assert_eq!(
        (lock.owner.as_str(), lock.reason.as_str()),
        ("ops", "backup")
    );

    let held = gw.ok("in-maintenance/127.0.0.1/22102").await;
    assert_eq!(
        (&held["Message"], &held["Details"]),
        (&json!("true"), &json!("127.0.0.1:22102"))
    );
    let (_, locks) = gw.get("maintenance").await;
    let locks = locks.as_array().unwrap();
    assert_eq!(locks.len(), 1);
    assert_eq!(
        field_names(&locks[0]),
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
    assert_eq!(locks[0]["Key"], key_json(22102));
    assert_eq!(locks[0]["Owner"], "ops");
    assert_eq!(locks[0]["IsActive"], true);

    gw.ok("end-maintenance/127.0.0.1/22102").await;
    let free = gw.ok("in-maintenance/127.0.0.1/22102").await;
    assert_eq!(free["Message"], "false");
    assert_eq!(gw.get("maintenance").await.1, json!([]));
    gw.ok("begin-maintenance/127.0.0.1/22102/dba/other").await;
    let id = gw.get("maintenance").await.1[0]["MaintenanceId"].clone();
    gw.error("end-maintenance/999", "No maintenance with id 999")
        .await;
    let ended = gw.ok(&format!("end-maintenance/{id}")).await;
    assert_eq!(ended["Details"], id);
    assert_eq!(gw.get("maintenance").await.1, json!([]));
    gw.stop().await;
}

#[tokio::test]
async fn candidates_register_with_an_expiry_and_show_as_promotion_rules() {
    let gw = Gw::start().await;
    let body = gw.ok("register-candidate/127.0.0.1/22103/prefer").await;
    assert_eq!(body["Details"], key_json(22103));
    let (_, inst) = gw.get("instance/127.0.0.1/22103").await;
    assert_eq!(
        (&inst["PromotionRule"], &inst["IsCandidate"]),
        (&json!("prefer"), &json!(true))
    );
    let c = gw
        .store
        .metadata()
        .get(&k(22103))
        .await
        .unwrap()
        .candidate
        .unwrap();
    assert_eq!(
        c.expires_at.as_millis() - c.registered_at.as_millis(),
        60 * 60_000,
        "CandidateInstanceExpireMinutes defaults to 60"
    );
    gw.ok("register-candidate/127.0.0.1/22103/must_not").await;
    let (_, inst) = gw.get("instance/127.0.0.1/22103").await;
    assert_eq!(
        (&inst["PromotionRule"], &inst["IsCandidate"]),
        (&json!("must_not"), &json!(false))
    );
    gw.ok("register-candidate/127.0.0.1/22103/must").await;
    let (_, inst) = gw.get("instance/127.0.0.1/22103").await;
    assert_eq!(inst["PromotionRule"], "must");
    gw.stop().await;
}

#[tokio::test]
async fn acknowledgements_set_their_fields_free_blocked_recoveries_and_announce_retries() {
    let gw = Gw::start().await;
    let recs = gw
        .insert(&[
            recovery("a", CLUSTER, MASTER, Some(22102)),
            recovery("b", "127.0.0.1:23001", 23001, Some(23002)),
            // An older cluster whose successor is now in the seeded one.
            recovery("c", "127.0.0.1:29999", 29999, Some(22103)),
        ])
        .await;
    gw.store
        .recoveries()
        .record_blocked(&BlockedRecovery {
            failed: k(22103),
            cluster: CLUSTER.into(),
            analysis: "DeadIntermediateMaster".into(),
            blocked_at: now(),
            blocking_uid: "a".into(),
        })
        .await
        .unwrap();
    let (_, blocked) = gw.get("blocked-recoveries").await;
    assert_eq!(blocked[0]["BlockingRecoveryId"], recs[0].id);
    assert_eq!(blocked[0]["FailedInstanceKey"], key_json(22103));
    let (_, blocked_here) = gw.get("blocked-recoveries/cluster/127.0.0.1:22101").await;
    assert_eq!(blocked_here.as_array().unwrap().len(), 1);

    gw.error(
        "ack-recovery/cluster/127.0.0.1:22101",
        "No acknowledge comment given",
    )
    .await;
    gw.error(
        "ack-recovery/cluster/127.0.0.1:22101?comment=%20",
        "No acknowledge comment given",
    )
    .await;
    assert!(
        !gw.store
            .recoveries()
            .get("a")
            .await
            .unwrap()
            .unwrap()
            .acknowledged
    );

    let mut retries = gw.bus.subscribe(subjects::RECOVERY_RETRY).await.unwrap();
    let (status, body) = gw
        .get_with(
            "ack-recovery/cluster/127.0.0.1:22101?comment=checked%20it",
            &[("Authorization", "Basic YWxpY2U6cHc=")],
        )
        .await;
    assert_eq!((status, &body["Details"]), (200, &json!(2)), "{body}");
    for uid in ["a", "c"] {
        let r = gw.store.recoveries().get(uid).await.unwrap().unwrap();
        assert!(r.acknowledged, "{uid}");
        assert_eq!(r.acknowledged_by, "alice");
        assert_eq!(r.acknowledged_comment, "checked it");
        assert!(r.acknowledged_at.is_some());
    }
    assert!(
        !gw.store
            .recoveries()
            .get("b")
            .await
            .unwrap()
            .unwrap()
            .acknowledged
    );
    let mut announced = vec![
        next_retry(&mut retries).await.unwrap().cluster,
        next_retry(&mut retries).await.unwrap().cluster,
    ];
    announced.sort();
    assert_eq!(announced, [CLUSTER, "127.0.0.1:29999"]);
    assert_eq!(gw.get("blocked-recoveries").await.1, json!([]));
    assert!(
        gw.store
            .recoveries()
            .blocked(None)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, audit) = gw.get("audit-recovery/uid/a").await;
    assert_eq!(audit[0]["Acknowledged"], true);
    assert_eq!(audit[0]["AcknowledgedBy"], "alice");
    assert_eq!(audit[0]["AcknowledgedComment"], "checked it");
    assert_ne!(audit[0]["AcknowledgedAt"], "");

    gw.error("ack-recovery/99999?comment=x", "No recovery with id 99999")
        .await;
    gw.error("ack-recovery/abc?comment=x", "Invalid recovery id")
        .await;
    gw.error(
        "ack-recovery/uid/nope?comment=x",
        "No recovery with uid nope",
    )
    .await;
    gw.error(
        "ack-recovery/instance/127.0.0.1/1?comment=x",
        "Cannot read instance",
    )
    .await;
    gw.error(
        "ack-recovery/cluster/nope?comment=x",
        "Unable to determine cluster name",
    )
    .await;
    gw.error(
        "ack-recovery/cluster/alias/nope?comment=x",
        "Unable to determine cluster name for alias nope",
    )
    .await;
    gw.error("ack-all-recoveries", "No acknowledge comment given")
        .await;
    assert!(
        !gw.store
            .recoveries()
            .get("b")
            .await
            .unwrap()
            .unwrap()
            .acknowledged
    );

    let body = gw.ok("ack-recovery/uid/b?comment=seen").await;
    assert_eq!(body["Details"], 1);
    let b = gw.store.recoveries().get("b").await.unwrap().unwrap();
    assert_eq!(b.acknowledged_by, "orchestrator-rs");
    assert_eq!(
        next_retry(&mut retries).await.unwrap().cluster,
        "127.0.0.1:23001"
    );

    let d = gw
        .insert(&[recovery("d", CLUSTER, MASTER, Some(22102))])
        .await;
    let body = gw
        .ok(&format!("ack-recovery/{}?comment=seen", d[0].id))
        .await;
    assert_eq!(body["Details"], 1);
    gw.insert(&[recovery("e", CLUSTER, MASTER, Some(22102))])
        .await;
    let body = gw
        .ok("ack-recovery/instance/127.0.0.1/22101?comment=seen")
        .await;
    assert_eq!(body["Details"], 1);
    gw.insert(&[recovery("f", CLUSTER, MASTER, Some(22102))])
        .await;
    let body = gw
        .ok("ack-recovery/cluster/alias/127.0.0.1:22101?comment=seen")
        .await;
    assert_eq!(body["Details"], 1);
    gw.insert(&[recovery("g", "127.0.0.1:23001", 23001, None)])
        .await;
    let mut retries = gw.bus.subscribe(subjects::RECOVERY_RETRY).await.unwrap();
    let body = gw.ok("ack-all-recoveries?comment=all%20good").await;
    assert_eq!(body["Details"], 1);
    assert_eq!(next_retry(&mut retries).await.unwrap().cluster, "");
    assert!(
        gw.store
            .recoveries()
            .list(None)
            .await
            .unwrap()
            .iter()
            .all(|r| r.acknowledged)
    );
    gw.stop().await;
}

#[tokio::test]
async fn global_recoveries_switch_off_and_on() {
    let gw = Gw::start().await;
    let check = gw.ok("check-global-recoveries").await;
    assert_eq!(check["Details"], "enabled");
    let off = gw.ok("disable-global-recoveries").await;
    assert_eq!(off["Details"], "disabled");
    assert!(gw.store.recoveries().globally_disabled().await.unwrap());
    assert_eq!(
        gw.ok("check-global-recoveries").await["Details"],
        "disabled"
    );
    let mut retries = gw.bus.subscribe(subjects::RECOVERY_RETRY).await.unwrap();
    let on = gw.ok("enable-global-recoveries").await;
    assert_eq!(on["Details"], "enabled");
    assert_eq!(next_retry(&mut retries).await.unwrap().cluster, "");
    assert!(!gw.store.recoveries().globally_disabled().await.unwrap());
    assert_eq!(gw.ok("check-global-recoveries").await["Details"], "enabled");
    gw.stop().await;
}

#[tokio::test]
async fn audit_routes_render_orchestrators_rows_and_paginate_by_20() {
    let gw = Gw::start().await;
    let mut records: Vec<_> = (0..25)
        .map(|i| recovery(&format!("r{i:02}"), CLUSTER, MASTER, Some(22102)))
        .collect();
    records.extend((0..3).map(|i| recovery(&format!("o{i}"), "127.0.0.1:23001", 23001, None)));
    let stored = gw.insert(&records).await;
    let (_, first) = gw.get("audit-recovery").await;
    let first = first.as_array().unwrap().clone();
    assert_eq!(first.len(), 20);
    assert_eq!(field_names(&first[0]), upstream_recovery_fields());
    assert_eq!(first[0]["UID"], "o2", "newest first");
    assert_eq!(first[0]["SuccessorKey"], Value::Null);
    assert_eq!(
        gw.get("audit-recovery/1").await.1.as_array().unwrap().len(),
        8
    );
    assert_eq!(gw.get("audit-recovery/2").await.1, json!([]));
    let (_, mine) = gw.get("audit-recovery/cluster/127.0.0.1:22101").await;
    assert_eq!(mine.as_array().unwrap().len(), 20);
    assert_eq!(mine[0]["SuccessorKey"], key_json(22102));
    assert_eq!(
        mine[0]["AnalysisEntry"]["AnalyzedInstanceKey"],
        key_json(MASTER)
    );
    assert_eq!(mine[0]["AnalysisEntry"]["Analysis"], "DeadMaster");
    assert_eq!(mine[0]["ProcessingNodeToken"], "5");
    let (_, rest) = gw.get("audit-recovery/cluster/127.0.0.1:22101/1").await;
    assert_eq!(rest.as_array().unwrap().len(), 5);
    let (_, by_alias) = gw.get("audit-recovery/alias/127.0.0.1:22101/1").await;
    assert_eq!(by_alias.as_array().unwrap().len(), 5);
    let (_, by_id) = gw.get(&format!("audit-recovery/id/{}", stored[3].id)).await;
    assert_eq!(by_id[0]["UID"], "r03");
    assert_eq!(gw.get("audit-recovery/id/99999").await.1, json!([]));
    gw.error("audit-recovery/id/abc", "Invalid recovery id")
        .await;
    gw.error("audit-recovery/abc", "Invalid page").await;

    gw.ok("ack-recovery/uid/r24?comment=seen").await;
    let (_, open) = gw
        .get("audit-recovery/cluster/127.0.0.1:22101?unacknowledged=true")
        .await;
    assert_eq!(open[0]["UID"], "r23");

    let repo = gw.store.recoveries();
    repo.add_step("r03", now(), 5, "promoting 127.0.0.1:22102")
        .await
        .unwrap();
    repo.add_step("r03", now(), 5, "promoted 127.0.0.1:22102")
        .await
        .unwrap();
    let (_, steps) = gw.get("audit-recovery-steps/r03").await;
    assert_eq!(steps.as_array().unwrap().len(), 2);
    assert_eq!(
        field_names(&steps[0]),
        ["Id", "RecoveryUID", "AuditAt", "Message"]
    );
    assert_eq!(steps[1]["Message"], "promoted 127.0.0.1:22102");
    assert_eq!(gw.get("audit-recovery-steps/nope").await.1, json!([]));

    repo.register_detection(&DetectionRecord {
        id: 0,
        detection_id: "det-r03".into(),
        instance: k(MASTER),
        cluster: CLUSTER.into(),
        analysis: "DeadMaster".into(),
        is_actionable: true,
        detected_at: now(),
        analysis_json: String::new(),
    })
    .await
    .unwrap();
    let (_, detections) = gw.get("audit-failure-detection").await;
    assert_eq!(detections.as_array().unwrap().len(), 1);
    let detection = &detections[0];
    assert_eq!(field_names(detection), upstream_recovery_fields());
    assert_eq!(detection["RelatedRecoveryId"], stored[3].id);
    assert_eq!(detection["IsActive"], true);
    assert_eq!(detection["AnalysisEntry"]["Analysis"], "DeadMaster");
    let id = detection["Id"].as_i64().unwrap();
    let (_, by_id) = gw.get(&format!("audit-failure-detection/id/{id}")).await;
    assert_eq!(by_id.as_array().unwrap().len(), 1);
    let (_, by_alias) = gw
        .get("audit-failure-detection/alias/127.0.0.1:22101")
        .await;
    assert_eq!(by_alias.as_array().unwrap().len(), 1);
    assert_eq!(gw.get("audit-failure-detection/1").await.1, json!([]));
    let (_, r03) = gw.get("audit-recovery/uid/r03").await;
    assert_eq!(r03[0]["LastDetectionId"], id);

    assert_eq!(
        gw.get("active-cluster-recovery/127.0.0.1:22101").await.1,
        json!([])
    );
    let mut running = recovery("running", CLUSTER, MASTER, None);
    running.is_active = true;
    running.ended_at = None;
    gw.insert(&[running]).await;
    let (_, active) = gw.get("active-cluster-recovery/127.0.0.1:22101").await;
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["IsActive"], true);
    assert_eq!(active[0]["RecoveryEndTimestamp"], "");
    let (_, recent) = gw
        .get("recently-active-cluster-recovery/127.0.0.1:22101")
        .await;
    assert_eq!(recent.as_array().unwrap().len(), 26);
    let (_, recent) = gw
        .get("recently-active-instance-recovery/127.0.0.1/22101")
        .await;
    assert_eq!(recent.as_array().unwrap().len(), 26);
    let (_, other) = gw
        .get("recently-active-instance-recovery/127.0.0.1/23001")
        .await;
    assert_eq!(other.as_array().unwrap().len(), 3);
    gw.stop().await;
}

#[tokio::test]
async fn recovery_routes_forward_the_right_command_and_render_the_reply() {
    let gw = Gw::start().await;
    let responder = Responder::start(&gw.bus, promote).await;
    use wire::RecoveryCommandKind as Kind;

    let body = gw.ok("recover/127.0.0.1/22101").await;
    assert_eq!(body["Details"], key_json(22102));
    let c = responder.last();
    assert_eq!(c.kind(), Kind::Recover);
    assert_eq!(c.instance, Some((&k(MASTER)).into()));
    assert_eq!((c.designated, c.cluster.as_str()), (None, CLUSTER));
    assert_eq!(
        (c.dry_run, c.requested_by.as_str()),
        (false, "orchestrator-rs")
    );

    let body = gw.ok("recover/127.0.0.1/22101/127.0.0.1/22103").await;
    assert_eq!(body["Details"], key_json(22103));
    assert_eq!(responder.last().designated, Some((&k(22103)).into()));
    gw.ok("recover-lite/127.0.0.1/22101").await;
    assert_eq!(responder.last().kind(), Kind::RecoverLite);
    gw.ok("recover-lite/127.0.0.1/22101/127.0.0.1/22103").await;
    assert_eq!(responder.last().designated, Some((&k(22103)).into()));

    let (status, body) = gw
        .get_with(
            "graceful-master-takeover/127.0.0.1:22101/127.0.0.1/22103",
            &[("X-Forwarded-User", "bob")],
        )
        .await;
    assert_eq!((status, &body["Code"]), (200, &json!("OK")), "{body}");
    assert_eq!(
        body["Message"],
        "graceful-master-takeover: successor promoted"
    );
    assert_eq!(field_names(&body["Details"]), upstream_recovery_fields());
    assert_eq!(body["Details"]["SuccessorKey"], key_json(22103));
    assert_eq!(body["Details"]["Id"], 77);
    let c = responder.last();
    assert_eq!(c.kind(), Kind::GracefulMasterTakeover);
    assert_eq!(
        c.instance,
        Some((&k(MASTER)).into()),
        "the master taken over"
    );
    assert_eq!(
        (c.cluster.as_str(), c.requested_by.as_str()),
        (CLUSTER, "bob")
    );

    // The hint may be any member, as host/port.
    gw.ok("graceful-master-takeover/127.0.0.1/22102").await;
    let c = responder.last();
    assert_eq!(
        (c.cluster.as_str(), c.designated.is_none()),
        (CLUSTER, true)
    );
    gw.ok("graceful-master-takeover/127.0.0.1/22102/127.0.0.1/22103")
        .await;
    assert_eq!(responder.last().designated, Some((&k(22103)).into()));
    for path in [
        "graceful-master-takeover-auto/127.0.0.1:22101",
        "graceful-master-takeover-auto/127.0.0.1/22101",
        "graceful-master-takeover-auto/127.0.0.1:22101/127.0.0.1/22103",
        "graceful-master-takeover-auto/127.0.0.1/22101/127.0.0.1/22103",
    ] {
        gw.ok(path).await;
        assert_eq!(
            responder.last().kind(),
            Kind::GracefulMasterTakeoverAuto,
            "{path}"
        );
    }

    for path in [
        "force-master-failover/127.0.0.1:22101",
        "force-master-failover/127.0.0.1/22102",
    ] {
        let body = gw.ok(path).await;
        assert_eq!(body["Message"], "Master failed over");
        assert_eq!(body["Details"]["SuccessorKey"], key_json(22102));
        let c = responder.last();
        assert_eq!(
            (c.kind(), c.cluster.as_str()),
            (Kind::ForceMasterFailover, CLUSTER)
        );
    }
    for path in [
        "force-master-takeover/127.0.0.1:22101/127.0.0.1/22103",
        "force-master-takeover/127.0.0.1/22101/127.0.0.1/22103",
    ] {
        let body = gw.ok(path).await;
        assert_eq!(body["Details"]["SuccessorKey"], key_json(22103));
        let c = responder.last();
        assert_eq!(c.kind(), Kind::ForceMasterTakeover);
        assert_eq!(c.designated, Some((&k(22103)).into()));
    }

    // A dry run shows the plan as the recovery service's record keeps it.
    let body = gw.ok("recover/127.0.0.1/22101?dry_run=true").await;
    assert!(responder.last().dry_run);
    assert_eq!(
        body["Details"],
        orc_proto::plan::recorded_json(&failover_plan(&k(MASTER), &k(22102)))
    );
    assert_eq!(
        body["Details"]["decision"]["promote"],
        json!({"hostname": "127.0.0.1", "port": 22102})
    );
    assert_eq!(body["Details"]["lost"], json!([]));
    let body = gw
        .ok("graceful-master-takeover/127.0.0.1:22101/127.0.0.1/22103?dry_run=true")
        .await;
    assert_eq!(body["Details"]["successor"]["port"], 22103);
    assert!(body["Message"].as_str().unwrap().contains("dry run"));

    // Names that resolve to nothing never reach the recovery service.
    let sent = responder.commands().len();
    gw.error("recover/127.0.0.1/1", "Cannot read instance: 127.0.0.1:1")
        .await;
    gw.error("recover/127.0.0.1/x", "Invalid port").await;
    gw.error(
        "recover/127.0.0.1/22101/127.0.0.1/1",
        "Cannot read instance",
    )
    .await;
    gw.error(
        "graceful-master-takeover/nope",
        "Unable to determine cluster name",
    )
    .await;
    gw.error(
        "force-master-failover/nope",
        "Unable to determine cluster name",
    )
    .await;
    gw.error(
        "force-master-takeover/127.0.0.1:22101/127.0.0.1/22101",
        "is the instance being replaced",
    )
    .await;
    assert_eq!(responder.commands().len(), sent);
    gw.stop().await;
}

#[tokio::test]
async fn recovery_service_refusals_and_failures_come_back_in_orchestrators_words() {
    let gw = Gw::start().await;
    let _responder = Responder::start(&gw.bus, |cmd| {
        use wire::RecoveryCommandKind as Kind;
        match cmd.kind() {
            Kind::Recover => failing("Recovery not attempted: no actionable analysis", "refused"),
            Kind::GracefulMasterTakeover => failing(
                "127.0.0.1:22103 is not a direct replica of the master",
                "invalid",
            ),
            Kind::ForceMasterTakeover => failing("no such cluster", "not_found"),
            Kind::ForceMasterFailover => {
                let mut r = recovery("failed", CLUSTER, MASTER, None);
                r.errors = vec!["cannot reach any replica".into()];
                wire::RecoveryCommandReply {
                    error: "recovery failed: cannot reach any replica".into(),
                    error_kind: "failed".into(),
                    recovery: Some((&r).into()),
                    ..Default::default()
                }
            }
            // A run without error that promoted nobody.
            _ => wire::RecoveryCommandReply::default(),
        }
    })
    .await;
    gw.error("recover/127.0.0.1/22101", "Recovery not attempted")
        .await;
    gw.error(
        "graceful-master-takeover/127.0.0.1:22101/127.0.0.1/22103",
        "not a direct replica",
    )
    .await;
    gw.error(
        "force-master-takeover/127.0.0.1:22101/127.0.0.1/22103",
        "no such cluster",
    )
    .await;
    let body = gw
        .error("force-master-failover/127.0.0.1:22101", "recovery failed")
        .await;
    assert_eq!(
        body["Details"]["AllErrors"],
        json!(["cannot reach any replica"])
    );
    assert_eq!(body["Details"]["SuccessorKey"], Value::Null);
    gw.error(
        "graceful-master-takeover-auto/127.0.0.1:22101",
        "graceful-master-takeover: no successor promoted",
    )
    .await;
    gw.stop().await;
}

#[tokio::test]
async fn recovery_routes_without_a_recovery_service_fail_clearly() {
    let gw = Gw::start().await;
    gw.error("recover/127.0.0.1/22101", "no recovery service is running")
        .await;
    let mut client = wire::recovery_client::RecoveryClient::connect(format!("http://{}", gw.grpc))
        .await
        .unwrap();
    let status = client
        .force_master_failover(wire::ForceMasterFailoverRequest {
            cluster_hint: CLUSTER.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(status.message().contains("no recovery service is running"));
    gw.stop().await;
}

#[tokio::test]
async fn grpc_offers_the_same_operations() {
    let gw = Gw::start().await;
    let url = format!("http://{}", gw.grpc);
    let mut rc = wire::recovery_client::RecoveryClient::connect(url.clone())
        .await
        .unwrap();
    let mut oc = wire::orchestrator_client::OrchestratorClient::connect(url)
        .await
        .unwrap();
    let key = |p: u16| Some(wire::InstanceKey::from(&k(p)));

    let m = rc
        .begin_downtime(wire::BeginDowntimeRequest {
            key: key(22102),
            owner: "ops".into(),
            reason: "upgrade".into(),
            duration_seconds: 120,
        })
        .await
        .unwrap()
        .into_inner();
    let d = m.downtime.unwrap();
    assert_eq!(d.ends_at_ms - d.begins_at_ms, 120_000);
    let listed = rc
        .list_downtimed(wire::ClusterRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.instances.len(), 1);
    assert!(listed.instances[0].is_downtimed);
    let inst = oc
        .get_instance(wire::InstanceRequest { key: key(22102) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inst.metadata.unwrap().downtime.unwrap().owner, "ops");
    let missing_owner = rc
        .begin_downtime(wire::BeginDowntimeRequest {
            key: key(22103),
            reason: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing_owner.code(), tonic::Code::InvalidArgument);
    let m = rc
        .end_downtime(wire::InstanceRequest { key: key(22102) })
        .await
        .unwrap()
        .into_inner();
    assert!(m.downtime.is_none());

    let m = rc
        .register_candidate(wire::RegisterCandidateRequest {
            key: key(22103),
            rule: wire::PromotionRule::Prefer as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.promotion_rule(), wire::PromotionRule::Prefer);
    let inst = oc
        .get_instance(wire::InstanceRequest { key: key(22103) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inst.promotion_rule(), wire::PromotionRule::Prefer);
    let unknown = rc
        .register_candidate(wire::RegisterCandidateRequest {
            key: key(1),
            rule: wire::PromotionRule::Prefer as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let no_rule = rc
        .register_candidate(wire::RegisterCandidateRequest {
            key: key(22103),
            rule: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(no_rule.code(), tonic::Code::InvalidArgument);

    rc.begin_maintenance(wire::BeginMaintenanceRequest {
        key: key(22102),
        owner: "ops".into(),
        reason: "backup".into(),
    })
    .await
    .unwrap();
    let locks = rc
        .list_maintenance(wire::ListMaintenanceRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        locks.instances[0].maintenance.as_ref().unwrap().reason,
        "backup"
    );
    let again = rc
        .begin_maintenance(wire::BeginMaintenanceRequest {
            key: key(22102),
            owner: "x".into(),
            reason: "y".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    rc.end_maintenance(wire::InstanceRequest { key: key(22102) })
        .await
        .unwrap();

    gw.insert(&[recovery("a", CLUSTER, MASTER, Some(22102))])
        .await;
    let no_comment = rc
        .acknowledge_recoveries(wire::AcknowledgeRecoveriesRequest {
            scope: Some(wire::acknowledge_recoveries_request::Scope::All(true)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_comment.code(), tonic::Code::InvalidArgument);
    let listed = rc
        .list_recoveries(wire::ListRecoveriesRequest {
            unacknowledged_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.recoveries.len(), 1);
    assert_eq!(listed.recoveries[0].successor, key(22102));
    let done = rc
        .acknowledge_recoveries(wire::AcknowledgeRecoveriesRequest {
            scope: Some(wire::acknowledge_recoveries_request::Scope::ClusterHint(
                CLUSTER.into(),
            )),
            comment: "seen".into(),
            acknowledged_by: "carol".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.count, 1);
    assert_eq!(done.acknowledged[0].acknowledged_by, "carol");

    rc.set_global_recoveries(wire::SetGlobalRecoveriesRequest { enabled: false })
        .await
        .unwrap();
    let check = rc
        .check_global_recoveries(wire::CheckGlobalRecoveriesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!check.enabled);

    let responder = Responder::start(&gw.bus, promote).await;
    let result = rc
        .recover(wire::RecoverRequest {
            instance: key(MASTER),
            lite: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(result.successor, key(22102));
    assert_eq!(result.recovery.unwrap().id, 77);
    assert_eq!(result.cluster, CLUSTER);
    assert_eq!(
        responder.last().kind(),
        wire::RecoveryCommandKind::RecoverLite
    );
    let plan = rc
        .graceful_master_takeover(wire::GracefulMasterTakeoverRequest {
            cluster_hint: CLUSTER.into(),
            designated: key(22103),
            auto: true,
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(plan.dry_run && plan.recovery.is_none());
    let typed = plan.plan.expect("the plan, typed");
    assert_eq!(typed.successor, key(22103));
    let decision = typed.decision.expect("the promotion decision");
    assert_eq!(decision.promote, key(22103));
    assert_eq!(decision.ranking[0].reasons, ["designated"]);
    assert!(typed.intent_detail.is_some());
    let unknown = rc
        .recover(wire::RecoverRequest {
            instance: key(1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    gw.store
        .recoveries()
        .add_step("a", now(), 5, "done")
        .await
        .unwrap();
    let steps = rc
        .list_recovery_steps(wire::ListRecoveryStepsRequest { uid: "a".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(steps.steps[0].message, "done");
    let blocked = rc
        .list_blocked_recoveries(wire::ListBlockedRecoveriesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(blocked.blocked.is_empty());
    let detections = rc
        .list_failure_detections(wire::ListFailureDetectionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(detections.detections.is_empty());
    gw.stop().await;
}

//! Recoveries of every kind and the operator's commands, on real servers:
//! intermediate masters, co-masters, promotion rules and downtime, forced
//! failovers and takeovers through orchestrator-client, dry runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use integration_tests::{eventually, orc_on, read_only, settled_master, source_of};
use orc_testkit::{Sandbox, SandboxBuilder};
use serde_json::json;

fn port(sb: &Sandbox, name: &str) -> u16 {
    sb.instance(name).unwrap().port()
}

#[tokio::test]
async fn a_dead_intermediate_master_hands_its_replicas_to_its_master() {
    let sb = SandboxBuilder::new()
        .master("m")
        .replica("i", "m")
        .replica("s", "m")
        .replica("r1", "i")
        .replica("r2", "i")
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(
        &sb,
        &master,
        json!({"RecoverIntermediateMasterClusterFilters": ["*"]}),
    )
    .await
    .unwrap();
    sb.kill("i").unwrap();
    let m = port(&sb, "m");
    eventually(Duration::from_secs(15), || async {
        for r in ["r1", "r2", "s"] {
            if source_of(&sb, r).await != Some((m, true, true)) {
                return None;
            }
        }
        Some(())
    })
    .await
    .expect("the intermediate master's replicas replicate from the master");
    let list = orc.ended_recoveries().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["Type"], "IntermediateMasterRecovery");
    assert_eq!(list[0]["IsSuccessful"], true);
    assert_eq!(list[0]["SuccessorKey"]["Port"], m);
    assert_eq!(
        list[0]["AnalysisEntry"]["Analysis"],
        "DeadIntermediateMaster"
    );
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn a_dead_co_master_is_replaced_by_the_other_one() {
    let sb = SandboxBuilder::new()
        .co_masters("a", "b")
        .replica("r", "a")
        .start()
        .await
        .unwrap();
    let active = sb.key("a").unwrap();
    let orc = orc_on(&sb, &active, json!({"RecoverMasterClusterFilters": ["*"]}))
        .await
        .unwrap();
    sb.kill("a").unwrap();
    let promoted = eventually(Duration::from_secs(15), || settled_master(&sb, &["b", "r"]))
        .await
        .expect("a new master with the replica under it");
    assert_eq!(promoted, "b", "the other co-master is promoted");
    let list = orc.ended_recoveries().await;
    assert_eq!(list[0]["Type"], "CoMasterRecovery");
    assert_eq!(list[0]["AnalysisEntry"]["Analysis"], "DeadCoMaster");
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn promotion_rules_and_binlogs_decide_and_a_dry_run_explains_first() {
    let sb = SandboxBuilder::master_with_replicas(4)
        .option("r1", "skip-log-bin", "")
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(&sb, &master, json!({"RecoverMasterClusterFilters": ["*"]}))
        .await
        .unwrap();
    let key = |n: &str| sb.key(n).unwrap();
    for (name, rule) in [("r2", "must_not"), ("r3", "prefer")] {
        let (code, out, err) = orc
            .client(&["-c", "register-candidate", "-i", &key(name), "-R", rule])
            .await;
        assert_eq!((code, out.trim()), (0, key(name).as_str()), "{err}");
    }
    let (code, _, err) = orc
        .client(&[
            "-c",
            "register-candidate",
            "-i",
            &key("r4"),
            "-R",
            "sometimes",
        ])
        .await;
    assert_ne!(code, 0, "an unknown rule is refused");
    assert!(!err.is_empty());

    let (code, _, err) = orc
        .client(&["-c", "begin-maintenance", "-i", &key("r4"), "-r", "backup"])
        .await;
    assert_eq!(code, 0, "{err}");

    // The dry run names the candidate and why, and changes nothing.
    let (status, body) = orc
        .get(&format!("force-master-failover/{master}?dry_run=true"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let plan = &body["Details"];
    let plan = if plan.is_string() {
        serde_json::from_str(plan.as_str().unwrap()).unwrap()
    } else {
        plan.clone()
    };
    let as_json = |n: &str| json!({"hostname": "127.0.0.1", "port": port(&sb, n)});
    assert_eq!(plan["decision"]["promote"], as_json("r3"), "{plan:#}");
    let ranking = plan["decision"]["ranking"].as_array().unwrap();
    let vetoes_of = |k: &str| {
        ranking
            .iter()
            .find(|r| r["key"] == as_json(k))
            .map(|r| r["vetoes"].to_string())
            .unwrap_or_default()
    };
    assert!(vetoes_of("r1").contains("no_binary_log"), "{ranking:?}");
    assert!(vetoes_of("r2").contains("must_not"), "{ranking:?}");
    assert_eq!(plan["decision"]["lost"], json!([]), "{plan:#}");
    assert_eq!(read_only(&sb, "m").await, Some(false));
    assert!(sb.replica_status("r3").await.unwrap().is_some());

    // The real thing, through orchestrator-client, on a live master.
    let (code, out, err) = orc
        .client(&["-c", "force-master-failover", "-i", &master])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), key("r3"));
    assert!(
        plan["notes"].to_string().contains("under maintenance"),
        "{plan:#}"
    );
    let everyone = ["r1", "r2", "r3"];
    assert_eq!(settled_master(&sb, &everyone).await.as_deref(), Some("r3"));
    assert_eq!(
        source_of(&sb, "r4").await.map(|s| s.0),
        Some(port(&sb, "m")),
        "a replica under maintenance is left alone"
    );
    assert_eq!(
        read_only(&sb, "m").await,
        Some(true),
        "the old master no longer takes writes"
    );
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn a_downtimed_master_is_left_alone_until_an_operator_acts() {
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(&sb, &master, json!({"RecoverMasterClusterFilters": ["*"]}))
        .await
        .unwrap();
    let (code, out, err) = orc
        .client(&[
            "-c",
            "begin-downtime",
            "-i",
            &master,
            "-r",
            "hardware swap",
            "-u",
            "1h",
        ])
        .await;
    assert_eq!((code, out.trim()), (0, master.as_str()), "{err}");
    sb.kill("m").unwrap();
    let m = port(&sb, "m");
    let entry = eventually(Duration::from_secs(10), || async {
        let (_, a) = orc.get("replication-analysis").await.ok()?;
        a["Details"]
            .as_array()?
            .iter()
            .find(|e| e["Analysis"] == "DeadMaster")
            .cloned()
    })
    .await
    .expect("the dead master is still reported");
    assert_eq!(entry["IsDowntimed"], true);
    assert_eq!(entry["SkippableDueToDowntime"], true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(orc.recoveries().await.is_empty(), "no automated recovery");
    for r in ["r1", "r2"] {
        assert_eq!(source_of(&sb, r).await.map(|s| s.0), Some(m));
    }

    // The operator takes over with a chosen replica.
    let (code, out, err) = orc
        .client(&[
            "-c",
            "force-master-takeover",
            "-i",
            &master,
            "-d",
            &sb.key("r2").unwrap(),
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), sb.key("r2").unwrap());
    assert_eq!(
        settled_master(&sb, &["r1", "r2"]).await.as_deref(),
        Some("r2")
    );
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn a_preferred_replica_behind_takes_over_once_it_caught_up() {
    let sb = SandboxBuilder::master_with_replicas(3)
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(
        &sb,
        &master,
        json!({"RecoverMasterClusterFilters": ["*"], "ReplicationUser": "repl", "ReplicationPassword": "repl"}),
    )
    .await
    .unwrap();
    let (code, _, err) = orc
        .client(&[
            "-c",
            "register-candidate",
            "-i",
            &sb.key("r3").unwrap(),
            "-R",
            "prefer",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    // r3 falls behind: its SQL thread stops while the master writes.
    sb.exec("r3", "STOP SLAVE SQL_THREAD").await.unwrap();
    sb.exec(
        "m",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1), (2), (3)",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sb.kill("m").unwrap();
    let everyone = ["r1", "r2", "r3"];
    let last = eventually(Duration::from_secs(20), || async {
        (settled_master(&sb, &everyone).await.as_deref() == Some("r3")).then_some(())
    })
    .await;
    let list = orc.ended_recoveries().await;
    assert!(last.is_some(), "r3 ends as the master: {list:#?}");
    let rows = sb.sql("r3", "SELECT COUNT(*) FROM app.t").await.unwrap();
    assert_eq!(rows[0].at(0), Some("3"), "nothing lost on the way");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["SuccessorKey"]["Port"], port(&sb, "r3"));
    let uid = list[0]["UID"].as_str().unwrap().to_string();
    let (_, steps) = orc
        .get(&format!("audit-recovery-steps/{uid}"))
        .await
        .unwrap();
    let text = steps.to_string();
    assert!(text.contains("handed over"), "{steps:#}");
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn recoveries_disabled_globally_wait_and_grpc_drives_the_rest() {
    use orc_proto::v1::recovery_client::RecoveryClient;
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(&sb, &master, json!({"RecoverMasterClusterFilters": ["*"]}))
        .await
        .unwrap();
    let (code, out, err) = orc.client(&["-c", "disable-global-recoveries"]).await;
    assert_eq!(code, 0, "{err}");
    let (_, out2, _) = orc.client(&["-c", "check-global-recoveries"]).await;
    assert_eq!(out2.trim(), "disabled", "{out}");
    let mut grpc = RecoveryClient::connect(format!("http://{}", orc.grpc))
        .await
        .unwrap();
    let state = grpc
        .check_global_recoveries(orc_proto::v1::CheckGlobalRecoveriesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!state.enabled);

    sb.kill("m").unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        orc.recoveries().await.is_empty(),
        "no recovery while disabled"
    );
    let m = port(&sb, "m");
    assert_eq!(source_of(&sb, "r1").await.map(|s| s.0), Some(m));

    // A dry run over gRPC: the plan, nothing changed.
    let dry = grpc
        .recover(orc_proto::v1::RecoverRequest {
            instance: Some(orc_proto::v1::InstanceKey {
                hostname: "127.0.0.1".into(),
                port: u32::from(m),
            }),
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(dry.dry_run && dry.recovery.is_none());
    let plan = dry.plan.as_ref().expect("the plan, typed");
    let decision = plan.decision.as_ref().expect("the promotion decision");
    assert!(decision.promote.is_some(), "{plan:?}");
    assert_eq!(plan.successor, decision.promote, "{plan:?}");
    assert!(!plan.phases.is_empty(), "{plan:?}");
    assert_eq!(
        source_of(&sb, "r1").await.map(|s| s.0),
        Some(m),
        "{:#?}",
        orc.recoveries().await
    );

    // Enabling again lets the waiting recovery run.
    grpc.set_global_recoveries(orc_proto::v1::SetGlobalRecoveriesRequest { enabled: true })
        .await
        .unwrap();
    let new_master = eventually(Duration::from_secs(15), || {
        settled_master(&sb, &["r1", "r2"])
    })
    .await
    .expect("recovered once enabled");
    let list = eventually(Duration::from_secs(5), || {
        let mut grpc = grpc.clone();
        async move {
            let list = grpc
                .list_recoveries(orc_proto::v1::ListRecoveriesRequest::default())
                .await
                .ok()?
                .into_inner();
            (!list.recoveries.is_empty() && list.recoveries.iter().all(|r| r.is_successful))
                .then_some(list)
        }
    })
    .await
    .expect("the recovery recorded");
    assert_eq!(list.recoveries.len(), 1);
    let r = &list.recoveries[0];
    assert_eq!(
        r.successor.as_ref().map(|k| k.port),
        Some(u32::from(port(&sb, &new_master)))
    );
    let steps = grpc
        .list_recovery_steps(orc_proto::v1::ListRecoveryStepsRequest { uid: r.uid.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(!steps.steps.is_empty());
    let token = steps.steps[0].fencing_token;
    assert!(token > 0, "steps carry the lease revision");
    assert!(
        steps.steps.iter().all(|s| s.fencing_token == token),
        "one lease for the whole recovery"
    );
    orc.stop().await.unwrap();
}

//! What refactoring refuses, and says why, without changing anything; the
//! operations around errant GTID and co-masters; Pseudo-GTID relocation
//! without GTID; the typed gRPC plan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use integration_tests::{Orc, eventually, observed_shape, orc_on};
use orc_testkit::{Sandbox, SandboxBuilder};
use serde_json::json;

fn key(sb: &Sandbox, name: &str) -> String {
    sb.key(name).unwrap()
}

/// The client fails with `reason` and no server changes.
async fn refused(orc: &Orc, sb: &Sandbox, client: &[&str], reason: &str) {
    let before = observed_shape(sb).await;
    let (code, out, err) = orc.client(client).await;
    assert_ne!(code, 0, "{client:?} must be refused: {out}");
    assert!(err.contains(reason), "{client:?}: {err:?} lacks {reason:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        observed_shape(sb).await,
        before,
        "{client:?} changed nothing"
    );
}

#[tokio::test]
async fn refused_operations_say_why_and_change_nothing() {
    let sb = SandboxBuilder::new()
        .master("m")
        .replica("r1", "m")
        .replica("r2", "m")
        .replica("c1", "r1")
        .replica("nobin", "m")
        .option("nobin", "skip-log-bin", "")
        .replica("stmt", "m")
        .option("stmt", "binlog_format", "STATEMENT")
        .start()
        .await
        .unwrap();
    let hook_log = tempfile::NamedTempFile::new().unwrap();
    let orc = orc_on(
        &sb,
        &key(&sb, "m"),
        json!({
            "PreFailoverProcesses": [format!("echo start >> {}; sleep 3; exit 1", hook_log.path().display())],
        }),
    )
    .await
    .unwrap();
    let (m, r1, r2, c1) = (
        key(&sb, "m"),
        key(&sb, "r1"),
        key(&sb, "r2"),
        key(&sb, "c1"),
    );
    let (nobin, stmt) = (key(&sb, "nobin"), key(&sb, "stmt"));

    // A loop.
    refused(
        &orc,
        &sb,
        &["-c", "relocate", "-i", &r1, "-d", &c1],
        "replication loop",
    )
    .await;
    // No binary logs on the new source.
    refused(
        &orc,
        &sb,
        &["-c", "relocate", "-i", &r2, "-d", &nobin],
        "has no binary logs",
    )
    .await;
    // A STATEMENT replica cannot log a ROW source's events.
    refused(
        &orc,
        &sb,
        &["-c", "relocate", "-i", &stmt, "-d", &r1],
        "binlog_format",
    )
    .await;
    // Itself, an unknown server, a malformed key.
    refused(
        &orc,
        &sb,
        &["-c", "relocate", "-i", &r1, "-d", &r1],
        "itself",
    )
    .await;
    refused(
        &orc,
        &sb,
        &["-c", "relocate", "-i", &r1, "-d", "127.0.0.1:1"],
        "Cannot read instance",
    )
    .await;
    let (_, body) = orc
        .get("relocate/127.0.0.1/notaport/127.0.0.1/3306")
        .await
        .unwrap();
    assert_eq!(body["Code"], "ERROR");
    assert!(
        body["Message"].as_str().unwrap().contains("Invalid port"),
        "{body}"
    );
    // A master is not relocated.
    refused(
        &orc,
        &sb,
        &["-c", "relocate", "-i", &m, "-d", &r1],
        "is not a replica",
    )
    .await;

    // Errant GTID on r2 (a write in another domain): nothing may be moved
    // below it, it would replicate.
    sb.exec(
        "r2",
        "SET SESSION gtid_domain_id = 7; CREATE DATABASE errant_db",
    )
    .await
    .unwrap();
    let errant = eventually(Duration::from_secs(5), || async {
        let (code, out, _) = orc.client(&["-c", "which-gtid-errant", "-i", &r2]).await;
        (code == 0 && !out.trim().is_empty()).then(|| out.trim().to_string())
    })
    .await
    .expect("r2's errant GTID is shown");
    assert!(errant.starts_with("7-"), "{errant}");
    refused(
        &orc,
        &sb,
        &["-c", "relocate", "-i", &r1, "-d", &r2],
        "errant GTID",
    )
    .await;
    // Where it is, and why MariaDB cannot clean it the MySQL way.
    let (code, out, err) = orc.client(&["-c", "locate-gtid-errant", "-i", &r2]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().starts_with("mysql-bin."), "{out}");
    refused(
        &orc,
        &sb,
        &["-c", "gtid-errant-inject-empty", "-i", &r2],
        "MySQL GTID only",
    )
    .await;
    refused(
        &orc,
        &sb,
        &["-c", "gtid-errant-reset-master", "-i", &r2],
        "MySQL GTID only",
    )
    .await;

    // can-replicate-from answers without changing anything.
    let (code, out, _) = orc
        .client(&["-c", "can-replicate-from", "-i", &r1, "-d", &stmt])
        .await;
    assert_eq!((code, out.trim()), (0, stmt.as_str()));
    let (code, out, _) = orc
        .client(&["-c", "can-replicate-from", "-i", &stmt, "-d", &r1])
        .await;
    assert_eq!(
        (code, out.trim()),
        (0, ""),
        "a STATEMENT replica cannot follow a ROW source"
    );

    // Under maintenance.
    let (code, _, err) = orc
        .client(&[
            "-c",
            "begin-maintenance",
            "-i",
            &r1,
            "-o",
            "dba",
            "-r",
            "disk swap",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    refused(
        &orc,
        &sb,
        &["-c", "stop-replica", "-i", &r1],
        "under maintenance",
    )
    .await;
    refused(
        &orc,
        &sb,
        &["-c", "set-read-only", "-i", &r1],
        "under maintenance",
    )
    .await;
    orc.client(&["-c", "end-maintenance", "-i", &r1]).await;

    // A cluster under a recovery: a forced failover whose PreFailover hook
    // runs for 3 s (and then aborts it, changing nothing) holds the
    // cluster's lease.
    let http = orc.api();
    let hint = m.replace(':', "/");
    let takeover = tokio::spawn(async move {
        orc_client::fetch::get(
            &format!("{http}/force-master-failover/{hint}"),
            &[],
            Duration::from_secs(30),
        )
        .await
    });
    eventually(Duration::from_secs(5), || async {
        let text = std::fs::read_to_string(hook_log.path()).ok()?;
        text.contains("start").then_some(())
    })
    .await
    .expect("the recovery holds the lease");
    refused(&orc, &sb, &["-c", "move-up", "-i", &c1], "under recovery").await;
    let _ = takeover.await;
    // Every refusal is audited.
    let (_, audit) = orc.get("audit").await.unwrap();
    let text = audit.to_string();
    assert!(text.contains("refused"), "{audit:#}");
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn make_co_master_needs_credentials_and_then_replicates_both_ways() {
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let (m, r1) = (key(&sb, "m"), key(&sb, "r1"));
    let orc = orc_on(&sb, &m, json!({})).await.unwrap();
    refused(
        &orc,
        &sb,
        &["-c", "make-co-master", "-i", &r1],
        "replication credentials",
    )
    .await;
    orc.stop().await.unwrap();

    let orc = orc_on(
        &sb,
        &m,
        json!({"ReplicationUser": "repl", "ReplicationPassword": "repl"}),
    )
    .await
    .unwrap();
    let (_, dry) = orc
        .get(&format!(
            "make-co-master/{}?dry_run=true",
            r1.replace(':', "/")
        ))
        .await
        .unwrap();
    let predicted = dry["Details"]["Predicted"].clone();
    let (code, out, err) = orc.client(&["-c", "make-co-master", "-i", &r1]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("{r1}<{m}"));
    eventually(Duration::from_secs(5), || async {
        let now = serde_json::to_value(observed_shape(&sb).await).ok()?;
        (now == predicted).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("co-masters as predicted: {predicted:#}"));
    // Writes on m come back to m through r1 and are skipped; both apply.
    sb.exec(
        "m",
        "CREATE DATABASE co; CREATE TABLE co.t (i INT); INSERT INTO co.t VALUES (1)",
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(5), || async {
        let r = sb.replica_status("m").await.ok()??;
        (r.get("Slave_SQL_Running") == Some("Yes") && r.get("Slave_IO_Running") == Some("Yes"))
            .then_some(())
    })
    .await
    .expect("m replicates from r1");
    let (_, cluster) = orc
        .get(&format!("instance/{}", m.replace(':', "/")))
        .await
        .unwrap();
    eventually(Duration::from_secs(5), || async {
        let (_, i) = orc
            .get(&format!("instance/{}", m.replace(':', "/")))
            .await
            .ok()?;
        (i["IsCoMaster"] == true).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("m is shown as a co-master: {cluster:#}"));
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn pseudo_gtid_relocates_across_branches_without_gtid() {
    // m -> r1 -> c1, m -> r2: c1 below r2 is neither sibling nor
    // grandparent, so binlog coordinates cannot do it; Pseudo-GTID can.
    let sb = SandboxBuilder::new()
        .master("m")
        .replica("r1", "m")
        .replica("r2", "m")
        .replica("c1", "r1")
        .file_positions()
        .start()
        .await
        .unwrap();
    let m = key(&sb, "m");
    let pattern = "drop view if exists `meta`.`_pseudo_gtid_hint__asc:";
    let orc = orc_on(
        &sb,
        &m,
        json!({
            "PseudoGTIDPattern": pattern,
            "PseudoGTIDPatternIsFixedSubstring": true,
            "PseudoGTIDMonotonicHint": "asc:",
        }),
    )
    .await
    .unwrap();
    let (c1, r2) = (key(&sb, "c1"), key(&sb, "r2"));
    sb.exec(
        "m",
        "CREATE DATABASE IF NOT EXISTS meta; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)",
    )
    .await
    .unwrap();
    for n in 1..=3 {
        sb.exec(
            "m",
            &format!(
                "INSERT INTO app.t VALUES ({n}); drop view if exists `meta`.`_pseudo_gtid_hint__asc:{n:08X}`; INSERT INTO app.t VALUES ({})",
                n + 100
            ),
        )
        .await
        .unwrap();
    }
    sb.wait_replicated(Duration::from_secs(5)).await.unwrap();
    let (code, out, err) = orc.client(&["-c", "last-pseudo-gtid", "-i", &c1]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("_pseudo_gtid_hint__asc:00000003"), "{out}");

    let (_, dry) = orc
        .get(&format!(
            "relocate/{}/{}?dry_run=true",
            c1.replace(':', "/"),
            r2.replace(':', "/")
        ))
        .await
        .unwrap();
    assert_eq!(dry["Details"]["Method"], "Pseudo-GTID", "{dry:#}");
    let (code, out, err) = orc.client(&["-c", "relocate", "-i", &c1, "-d", &r2]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("{c1}<{r2}"));
    // Replication goes on from the right place: nothing missing, nothing twice.
    sb.exec("m", "INSERT INTO app.t VALUES (1000)")
        .await
        .unwrap();
    eventually(Duration::from_secs(5), || async {
        let rows = sb
            .sql("c1", "SELECT COUNT(*), MAX(id) FROM app.t")
            .await
            .ok()?;
        let r = rows.first()?;
        (r.at(0)? == "7" && r.at(1)? == "1000").then_some(())
    })
    .await
    .expect("c1 has every row once, through r2");
    let status = sb.replica_status("c1").await.unwrap().unwrap();
    assert_eq!(
        status.get("Master_Port").unwrap(),
        sb.instance("r2").unwrap().port().to_string()
    );
    assert_eq!(status.get("Using_Gtid"), Some("No"));
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn the_grpc_topology_service_answers_typed_plans() {
    use orc_proto::v1::{Operation, OperationRequest, topology_client::TopologyClient};
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let orc = orc_on(&sb, &key(&sb, "m"), json!({})).await.unwrap();
    let mut client = TopologyClient::connect(format!("http://{}", orc.grpc))
        .await
        .unwrap();
    let k = |n: &str| orc_proto::v1::InstanceKey {
        hostname: "127.0.0.1".into(),
        port: u32::from(sb.instance(n).unwrap().port()),
    };
    let dry = client
        .operate(OperationRequest {
            operation: Operation::Relocate as i32,
            instance: Some(k("r1")),
            target: Some(k("r2")),
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let plan = dry.plan.expect("a plan");
    assert_eq!(plan.method, "GTID");
    let steps: Vec<_> = plan
        .phases
        .iter()
        .flat_map(|p| &p.lanes)
        .flat_map(|l| &l.steps)
        .collect();
    let change = steps
        .iter()
        .find(|s| s.action.starts_with("point"))
        .expect("a CHANGE MASTER step");
    assert!(
        change
            .preconditions
            .iter()
            .any(|c| c.contains("replication stopped")),
        "{change:?}"
    );
    assert!(
        dry.predicted
            .iter()
            .any(|e| e.key == Some(k("r1")) && e.source == Some(k("r2")))
    );
    let done = client
        .operate(OperationRequest {
            operation: Operation::Relocate as i32,
            instance: Some(k("r1")),
            target: Some(k("r2")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.error.is_empty(), "{}", done.error);
    assert!(done.fencing_token > 0);
    assert!(
        done.log.iter().any(|l| l.contains("point")),
        "{:?}",
        done.log
    );
    let refused = client
        .operate(OperationRequest {
            operation: Operation::Relocate as i32,
            instance: Some(k("r2")),
            target: Some(k("r1")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("replication loop"),
        "{refused:?}"
    );
    orc.stop().await.unwrap();
}

/// Graceful takeover tried as a new user would, with no replication
/// credentials configured: the demoted master is pointed at the new one but
/// left stopped and downtimed, and the recovery says why.
#[tokio::test]
async fn graceful_takeover_without_credentials_leaves_the_old_master_stopped_and_downtimed() {
    let sb = SandboxBuilder::master_with_replicas(1)
        .start()
        .await
        .unwrap();
    let (m, r1) = (key(&sb, "m"), key(&sb, "r1"));
    let orc = orc_on(&sb, &m, json!({})).await.unwrap();
    let (code, out, err) = orc
        .client(&["-c", "graceful-master-takeover", "-a", &m])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r1);
    let status = sb
        .replica_status("m")
        .await
        .unwrap()
        .expect("m is pointed at r1");
    assert_eq!(
        status.get("Master_Port").unwrap(),
        sb.instance("r1").unwrap().port().to_string()
    );
    assert_eq!(status.get("Slave_IO_Running"), Some("No"));
    assert_eq!(status.get("Slave_SQL_Running"), Some("No"));
    let downtimed = eventually(Duration::from_secs(5), || async {
        let (_, i) = orc
            .get(&format!("instance/{}", m.replace(':', "/")))
            .await
            .ok()?;
        (i["IsDowntimed"] == true).then_some(i)
    })
    .await
    .expect("the old master is downtimed");
    assert_eq!(downtimed["DowntimeReason"], "lost-in-recovery");
    let list = orc.ended_recoveries().await;
    let uid = list[0]["UID"].as_str().unwrap().to_string();
    let (_, steps) = orc
        .get(&format!("audit-recovery-steps/{uid}"))
        .await
        .unwrap();
    assert!(
        steps
            .to_string()
            .contains("no replication credentials are known"),
        "{steps:#}"
    );
    orc.stop().await.unwrap();
}

//! Topology refactoring and replication control on real servers, on
//! MariaDB GTID and on binlog file:pos: every operation is first planned
//! with `?dry_run=true` (the simulator's prediction of the whole cluster),
//! then run through orchestrator-client, and what the servers show
//! afterwards must equal the prediction. Refusals change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::{Orc, eventually, observed_shape, orc_on};
use orc_testkit::{Sandbox, SandboxBuilder};
use serde_json::{Value, json};

/// `127.0.0.1/port` of a node, for API paths.
fn path(sb: &Sandbox, name: &str) -> String {
    format!("127.0.0.1/{}", sb.instance(name).unwrap().port())
}

fn key(sb: &Sandbox, name: &str) -> String {
    sb.key(name).unwrap()
}

/// Plans with a dry run (nothing changes), runs the client command, and
/// checks the servers end exactly as the plan predicted. Returns what the
/// client printed.
async fn step(orc: &Orc, sb: &Sandbox, route: &str, client: &[&str]) -> String {
    // Plans depend on how far each replica got: let replication settle, so
    // the dry run and the run see the same positions.
    let _ = sb.wait_replicated(Duration::from_secs(5)).await;
    let before = observed_shape(sb).await;
    let (_, dry) = orc.get(&format!("{route}?dry_run=true")).await.unwrap();
    assert_eq!(dry["Code"], "OK", "dry run of {route}: {dry:#}");
    // A replica's IO thread may be reconnecting for a moment (the sandbox's
    // short slave_net_timeout under load); what a dry run would have
    // changed does not come back by itself.
    let _ = sb.wait_replicated(Duration::from_secs(5)).await;
    let unchanged = eventually(Duration::from_secs(5), || async {
        (observed_shape(sb).await == before).then_some(())
    })
    .await;
    assert!(
        unchanged.is_some(),
        "a dry run changes nothing ({route}): before {before:?}, now {:?}",
        observed_shape(sb).await
    );
    let predicted: BTreeMap<String, Value> =
        serde_json::from_value(dry["Details"]["Predicted"].clone()).unwrap();
    assert!(!predicted.is_empty(), "{dry:#}");
    let (code, out, err) = orc.client(client).await;
    assert_eq!(code, 0, "{client:?}: {err}\nplan: {:#}", dry["Details"]);
    let seen = eventually(Duration::from_secs(5), || async {
        let now = observed_shape(sb).await;
        let same = predicted.iter().all(|(k, want)| now.get(k) == Some(want));
        same.then_some(now)
    })
    .await;
    if seen.is_none() {
        let now = observed_shape(sb).await;
        panic!(
            "{client:?}: the servers differ from the prediction\npredicted {predicted:#?}\nobserved {now:#?}\nplan {:#}",
            dry["Details"]
        );
    }
    out.trim().to_string()
}

/// Asks for an operation that must be refused: the client fails with the
/// reason and no server changes.
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

/// `m` with replicas r1, r2, r3; `c1` below r1.
async fn cluster(file_positions: bool) -> Sandbox {
    let mut b = SandboxBuilder::new()
        .master("m")
        .replica("r1", "m")
        .replica("r2", "m")
        .replica("r3", "m")
        .replica("c1", "r1");
    if file_positions {
        b = b.file_positions();
    }
    // Nothing here is about failure detection: a slave_net_timeout of 10 s
    // (the sandbox's 2 s is for fast detection) keeps a loaded machine's
    // late heartbeat from reconnecting an IO thread between a dry run and
    // its check.
    for r in ["r1", "r2", "r3", "c1"] {
        b = b.option(r, "slave_net_timeout", "10");
    }
    b.start().await.unwrap()
}

async fn write(sb: &Sandbox, n: u32) {
    sb.exec(
        "m",
        &format!(
            "CREATE DATABASE IF NOT EXISTS app; CREATE TABLE IF NOT EXISTS app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES ({n})"
        ),
    )
    .await
    .unwrap();
}

/// Every relocation operation, one after the other, each checked against
/// its prediction.
async fn relocations(file_positions: bool) {
    let sb = cluster(file_positions).await;
    let orc = orc_on(&sb, &key(&sb, "m"), json!({})).await.unwrap();
    let (m, r1, r2, r3, c1) = (
        key(&sb, "m"),
        key(&sb, "r1"),
        key(&sb, "r2"),
        key(&sb, "r3"),
        key(&sb, "c1"),
    );
    write(&sb, 1).await;

    // move-up: c1 from below r1 to below m (its grandparent).
    let out = step(
        &orc,
        &sb,
        &format!("move-up/{}", path(&sb, "c1")),
        &["-c", "move-up", "-i", &c1],
    )
    .await;
    assert_eq!(out, format!("{c1}<{m}"));
    write(&sb, 2).await;

    // move-below: c1 below its sibling r2.
    let out = step(
        &orc,
        &sb,
        &format!("move-below/{}/{}", path(&sb, "c1"), path(&sb, "r2")),
        &["-c", "move-below", "-i", &c1, "-d", &r2],
    )
    .await;
    assert_eq!(out, format!("{c1}<{r2}"));

    // relocate across branches: GTID does it; binlog file:pos cannot
    // (r1 is neither c1's source, sibling nor grandparent) and refuses.
    if file_positions {
        refused(
            &orc,
            &sb,
            &["-c", "relocate", "-i", &c1, "-d", &r1],
            "cannot move",
        )
        .await;
    } else {
        let out = step(
            &orc,
            &sb,
            &format!("relocate/{}/{}", path(&sb, "c1"), path(&sb, "r1")),
            &["-c", "relocate", "-i", &c1, "-d", &r1],
        )
        .await;
        assert_eq!(out, format!("{c1}<{r1}"));
        // And back below r2 for the rest.
        step(
            &orc,
            &sb,
            &format!("relocate/{}/{}", path(&sb, "c1"), path(&sb, "m")),
            &["-c", "relocate", "-i", &c1, "-d", &m],
        )
        .await;
        step(
            &orc,
            &sb,
            &format!("relocate/{}/{}", path(&sb, "c1"), path(&sb, "r2")),
            &["-c", "relocate", "-i", &c1, "-d", &r2],
        )
        .await;
    }
    write(&sb, 3).await;

    // take-master: c1 swaps with r2 (c1 below m, r2 below c1).
    let out = step(
        &orc,
        &sb,
        &format!("take-master/{}", path(&sb, "c1")),
        &["-c", "take-master", "-i", &c1],
    )
    .await;
    assert_eq!(out, format!("{c1}<{m}"));
    write(&sb, 4).await;

    // take-siblings: r1 and r3 move below c1.
    let out = step(
        &orc,
        &sb,
        &format!("take-siblings/{}", path(&sb, "c1")),
        &["-c", "take-siblings", "-i", &c1],
    )
    .await;
    assert_eq!(out, format!("{c1}<{m}"));

    // move-up-replicas: c1's replicas (r1, r2, r3) back below m.
    let out = step(
        &orc,
        &sb,
        &format!("move-up-replicas/{}", path(&sb, "c1")),
        &["-c", "move-up-replicas", "-i", &c1],
    )
    .await;
    let mut moved: Vec<&str> = out.lines().collect();
    moved.sort_unstable();
    let mut want = vec![r1.as_str(), r2.as_str(), r3.as_str()];
    want.sort_unstable();
    assert_eq!(moved, want);
    write(&sb, 5).await;

    // relocate-replicas: every replica of m but r1 goes below r1.
    let out = step(
        &orc,
        &sb,
        &format!("relocate-replicas/{}/{}", path(&sb, "m"), path(&sb, "r1")),
        &["-c", "relocate-replicas", "-i", &m, "-d", &r1],
    )
    .await;
    assert_eq!(out.lines().count(), 3, "{out}");

    // repoint: r2 restarted on its own source at its position.
    let out = step(
        &orc,
        &sb,
        &format!("repoint/{}", path(&sb, "r2")),
        &["-c", "repoint", "-i", &r2],
    )
    .await;
    assert_eq!(out, format!("{r2}<{r1}"));

    // repoint-replicas: r1's replicas pointed at it again.
    let out = step(
        &orc,
        &sb,
        &format!("repoint-replicas/{}", path(&sb, "r1")),
        &["-c", "repoint-replicas", "-i", &r1],
    )
    .await;
    assert_eq!(out.lines().count(), 3, "{out}");
    write(&sb, 6).await;

    // regroup-replicas: the best replica of r1 becomes its siblings' source.
    let promoted = step(
        &orc,
        &sb,
        &format!("regroup-replicas/{}", path(&sb, "r1")),
        &["-c", "regroup-replicas", "-i", &r1],
    )
    .await;
    assert!([&r2, &r3, &c1].contains(&&promoted), "{promoted}");

    // move-equivalent: the regrouped candidate's replicas back to r1 (by
    // GTID, or as siblings-of-the-source by coordinates).
    let other = [&r2, &r3, &c1]
        .into_iter()
        .find(|k| **k != promoted)
        .unwrap()
        .clone();
    let name = sb
        .instances()
        .iter()
        .find(|i| i.key() == other)
        .unwrap()
        .name()
        .to_string();
    let out = step(
        &orc,
        &sb,
        &format!("move-equivalent/{}/{}", path(&sb, &name), path(&sb, "r1")),
        &["-c", "move-equivalent", "-i", &other, "-d", &r1],
    )
    .await;
    assert_eq!(out, format!("{other}<{r1}"));

    // Everything replicated everywhere, nothing lost on the way.
    write(&sb, 7).await;
    for n in ["r1", "r2", "r3", "c1"] {
        eventually(Duration::from_secs(5), || async {
            let rows = sb.sql(n, "SELECT COUNT(*) FROM app.t").await.ok()?;
            (rows.first()?.at(0)? == "7").then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("{n} has every write"));
    }
    // Every operation is audited.
    let (code, out, err) = orc.client(&["-c", "audit"]).await;
    assert_eq!(code, 0, "{err}");
    for op in [
        "move-up",
        "move-below",
        "take-master",
        "take-siblings",
        "move-up-replicas",
        "relocate-replicas",
        "repoint",
        "repoint-replicas",
        "regroup-replicas",
        "relocate",
    ] {
        assert!(out.contains(&format!("\t{op}\t")), "{op} audited:\n{out}");
    }
    let (_, audit) = orc
        .get(&format!("audit/instance/{}", path(&sb, "c1")))
        .await
        .unwrap();
    assert!(!audit.as_array().unwrap().is_empty(), "{audit:#}");
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn relocations_by_gtid_end_as_predicted() {
    relocations(false).await;
}

#[tokio::test]
async fn relocations_by_binlog_coordinates_end_as_predicted() {
    relocations(true).await;
}

/// Replication control on one replica at a time.
async fn control(file_positions: bool) {
    let sb = cluster(file_positions).await;
    let orc = orc_on(&sb, &key(&sb, "m"), json!({})).await.unwrap();
    let (r1, r2, r3, c1) = (
        key(&sb, "r1"),
        key(&sb, "r2"),
        key(&sb, "r3"),
        key(&sb, "c1"),
    );
    write(&sb, 1).await;
    for (route, command, who, name) in [
        ("stop-replica", "stop-replica", &r2, "r2"),
        ("start-replica", "start-replica", &r2, "r2"),
        ("restart-replica", "restart-replica", &r2, "r2"),
        ("stop-replica-nice", "stop-replica-nice", &r3, "r3"),
        ("start-slave", "start-slave", &r3, "r3"),
        (
            "detach-replica-master-host",
            "detach-replica-master-host",
            &c1,
            "c1",
        ),
        (
            "reattach-replica-master-host",
            "reattach-replica-master-host",
            &c1,
            "c1",
        ),
        ("detach-replica", "detach-replica", &r2, "r2"),
        ("reattach-replica", "reattach-replica", &r2, "r2"),
        ("set-writeable", "set-writeable", &r3, "r3"),
        ("set-read-only", "set-read-only", &r3, "r3"),
        ("flush-binary-logs", "flush-binary-logs", &r1, "r1"),
        (
            "enable-semi-sync-replica",
            "enable-semi-sync-replica",
            &r2,
            "r2",
        ),
        (
            "disable-semi-sync-replica",
            "disable-semi-sync-replica",
            &r2,
            "r2",
        ),
        (
            "enable-semi-sync-master",
            "enable-semi-sync-master",
            &r1,
            "r1",
        ),
        (
            "disable-semi-sync-master",
            "disable-semi-sync-master",
            &r1,
            "r1",
        ),
    ] {
        let out = step(
            &orc,
            &sb,
            &format!("{route}/{}", path(&sb, name)),
            &["-c", command, "-i", who],
        )
        .await;
        assert_eq!(&out, who, "{command}");
    }
    // GTID on and off by the same operations the user would type.
    let (first, second) = if file_positions {
        ("enable-gtid", "disable-gtid")
    } else {
        ("disable-gtid", "enable-gtid")
    };
    for command in [first, second] {
        let out = step(
            &orc,
            &sb,
            &format!("{command}/{}", path(&sb, "r2")),
            &["-c", command, "-i", &r2],
        )
        .await;
        assert_eq!(out, r2);
        let using = sb.replica_status("r2").await.unwrap().unwrap();
        let gtid = using.get("Using_Gtid").unwrap_or_default().to_string();
        assert_eq!(
            gtid != "No",
            command == "enable-gtid",
            "{command}: Using_Gtid {gtid}"
        );
        // Switching resets the relay logs: until the source's first event
        // arrives r2 does not know its position in the source's logs, and
        // an operation that needs it is refused
        // (`known_exec` in the recovery service).
        eventually(Duration::from_secs(5), || async {
            let r = sb.replica_status("r2").await.ok()??;
            let file = r.get("Relay_Master_Log_File").unwrap_or_default();
            (!file.is_empty()).then_some(())
        })
        .await
        .expect("r2 learns its position in the source's logs");
    }
    // delay-replication prints the delay and sets it.
    let out = step(
        &orc,
        &sb,
        &format!("delay-replication/{}/7", path(&sb, "r3")),
        &["-c", "delay-replication", "-i", &r3, "-S", "7"],
    )
    .await;
    assert_eq!(out, "7");
    let delay = sb.replica_status("r3").await.unwrap().unwrap();
    assert_eq!(delay.get("SQL_Delay"), Some("7"));
    step(
        &orc,
        &sb,
        &format!("delay-replication/{}/0", path(&sb, "r3")),
        &["-c", "delay-replication", "-i", &r3, "-S", "0"],
    )
    .await;
    // skip-query: a row written on r2 alone breaks replication; skipping
    // the master's conflicting insert repairs it.
    sb.exec(
        "r2",
        "SET SESSION sql_log_bin=0; INSERT INTO app.t VALUES (50)",
    )
    .await
    .unwrap();
    write(&sb, 50).await;
    eventually(Duration::from_secs(5), || async {
        let r = sb.replica_status("r2").await.ok()??;
        (r.get("Slave_SQL_Running") == Some("No")).then_some(())
    })
    .await
    .expect("r2 broke on the duplicate key");
    let m = key(&sb, "m");
    eventually(Duration::from_secs(5), || async {
        let (code, out, _) = orc.client(&["-c", "which-broken-replicas", "-i", &m]).await;
        (code == 0 && out.trim() == r2).then_some(())
    })
    .await
    .expect("which-broken-replicas names r2");
    let (code, out, err) = orc.client(&["-c", "skip-query", "-i", &r2]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r2);
    eventually(Duration::from_secs(5), || async {
        let r = sb.replica_status("r2").await.ok()??;
        (r.get("Slave_SQL_Running") == Some("Yes")).then_some(())
    })
    .await
    .expect("r2 replicates again");
    let (code, out, _) = orc.client(&["-c", "is-replicating", "-i", &r2]).await;
    assert_eq!((code, out.trim()), (0, r2.as_str()));
    // kill-query ends a long query.
    let mut s = sb.instance("r3").unwrap().session().await.unwrap();
    let long = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let _ = s.query("SELECT SLEEP(30)").await;
        started.elapsed()
    });
    let id = eventually(Duration::from_secs(5), || async {
        let rows = sb
            .sql(
                "r3",
                "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)'",
            )
            .await
            .ok()?;
        rows.first()?.at(0).map(str::to_string)
    })
    .await
    .expect("the long query runs");
    let (_, body) = orc
        .get(&format!("kill-query/{}/{id}", path(&sb, "r3")))
        .await
        .unwrap();
    assert_eq!(body["Code"], "OK", "{body:#}");
    let took = tokio::time::timeout(Duration::from_secs(10), long)
        .await
        .unwrap()
        .unwrap();
    assert!(
        took < Duration::from_secs(20),
        "the query was killed ({took:?})"
    );
    // purge-binary-logs: refused while a replica still needs the file,
    // done with force.
    let logs = sb.sql("r1", "SHOW BINARY LOGS").await.unwrap();
    let latest = logs.last().unwrap().get("Log_name").unwrap().to_string();
    let out = step(
        &orc,
        &sb,
        &format!("purge-binary-logs/{}/{latest}", path(&sb, "r1")),
        &["-c", "purge-binary-logs", "-i", &r1, "-n", &latest],
    )
    .await;
    assert_eq!(out, r1);
    let left = sb.sql("r1", "SHOW BINARY LOGS").await.unwrap();
    assert_eq!(left.len(), 1, "only {latest} is left");
    // reset-replica: r3 forgets its source and is a cluster of its own.
    let out = step(
        &orc,
        &sb,
        &format!("reset-replica/{}", path(&sb, "r3")),
        &["-c", "reset-replica", "-i", &r3],
    )
    .await;
    assert_eq!(out, r3);
    assert!(sb.replica_status("r3").await.unwrap().is_none());
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn replication_control_by_gtid_ends_as_predicted() {
    control(false).await;
}

#[tokio::test]
async fn replication_control_by_binlog_coordinates_ends_as_predicted() {
    control(true).await;
}

const PSEUDO_GTID: &str = "drop view if exists `meta`.`_pseudo_gtid_hint__asc:";

/// A Pseudo-GTID marker written on the master, as orchestrator's injection
/// event writes them.
async fn marker(sb: &Sandbox, n: u32) {
    sb.exec(
        "m",
        &format!("CREATE DATABASE IF NOT EXISTS meta; {PSEUDO_GTID}{n:08X}`"),
    )
    .await
    .unwrap();
}

fn pseudo_gtid_config() -> Value {
    json!({
        "PseudoGTIDPattern": PSEUDO_GTID,
        "PseudoGTIDPatternIsFixedSubstring": true,
        "PseudoGTIDMonotonicHint": "asc:",
        "ReplicationUser": "repl",
        "ReplicationPassword": "repl",
    })
}

/// The method-specific operations (GTID-only, Pseudo-GTID), co-masters,
/// can-replicate-from and take-master's hook, on one replication mode.
async fn methods(file_positions: bool) {
    let sb = cluster(file_positions).await;
    let hook = tempfile::NamedTempFile::new().unwrap();
    let mut config = pseudo_gtid_config();
    config["PostTakeMasterProcesses"] = json!([format!(
        "echo took {{successorHost}}:{{successorPort}} from {{failedHost}}:{{failedPort}} >> {}",
        hook.path().display()
    )]);
    let orc = orc_on(&sb, &key(&sb, "m"), config).await.unwrap();
    let (m, r1, r2, r3, c1) = (
        key(&sb, "m"),
        key(&sb, "r1"),
        key(&sb, "r2"),
        key(&sb, "r3"),
        key(&sb, "c1"),
    );
    write(&sb, 1).await;
    marker(&sb, 1).await;
    write(&sb, 2).await;
    sb.wait_replicated(Duration::from_secs(5)).await.unwrap();

    // can-replicate-from answers from fresh reads.
    let (code, out, err) = orc
        .client(&["-c", "can-replicate-from", "-i", &c1, "-d", &r2])
        .await;
    assert_eq!((code, out.trim()), (0, r2.as_str()), "{err}");

    // GTID-only operations: done by GTID, refused without it.
    if file_positions {
        refused(
            &orc,
            &sb,
            &["-c", "move-gtid", "-i", &c1, "-d", &r2],
            "does not replicate by GTID",
        )
        .await;
        // Nothing can move by GTID: nothing moves, and the answer says so.
        let out = step(
            &orc,
            &sb,
            &format!("move-replicas-gtid/{}/{}", path(&sb, "r1"), path(&sb, "r2")),
            &["-c", "move-replicas-gtid", "-i", &r1, "-d", &r2],
        )
        .await;
        assert_eq!(out, "");
    } else {
        let out = step(
            &orc,
            &sb,
            &format!("move-below-gtid/{}/{}", path(&sb, "c1"), path(&sb, "r2")),
            &["-c", "move-gtid", "-i", &c1, "-d", &r2],
        )
        .await;
        assert_eq!(out, format!("{c1}<{r2}"));
        step(
            &orc,
            &sb,
            &format!("move-replicas-gtid/{}/{}", path(&sb, "r2"), path(&sb, "r1")),
            &["-c", "move-replicas-gtid", "-i", &r2, "-d", &r1],
        )
        .await;
    }
    // c1 is below r1 again here, in both modes.
    write(&sb, 3).await;
    marker(&sb, 2).await;
    write(&sb, 4).await;
    sb.wait_replicated(Duration::from_secs(5)).await.unwrap();

    // Pseudo-GTID: c1 across branches, below r2.
    let out = step(
        &orc,
        &sb,
        &format!("match-below/{}/{}", path(&sb, "c1"), path(&sb, "r2")),
        &["-c", "match", "-i", &c1, "-d", &r2],
    )
    .await;
    assert_eq!(out, format!("{c1}<{r2}"));
    write(&sb, 5).await;
    marker(&sb, 3).await;
    sb.wait_replicated(Duration::from_secs(5)).await.unwrap();
    // match-replicas: r2's replicas (c1) below r3.
    let out = step(
        &orc,
        &sb,
        &format!("match-replicas/{}/{}", path(&sb, "r2"), path(&sb, "r3")),
        &[
            "-c",
            "api",
            "-P",
            &format!("match-replicas/{}/{}", path(&sb, "r2"), path(&sb, "r3")),
        ],
    )
    .await;
    assert!(out.contains("\"Code\": \"OK\""), "{out}");
    // match-up c1 (below m), match-up-replicas of r3 (nothing left below it).
    let out = step(
        &orc,
        &sb,
        &format!("match-up/{}", path(&sb, "c1")),
        &["-c", "match-up", "-i", &c1],
    )
    .await;
    assert_eq!(out, format!("{c1}<{m}"));
    let out = step(
        &orc,
        &sb,
        &format!("match-up-replicas/{}", path(&sb, "r3")),
        &["-c", "match-up-replicas", "-i", &r3],
    )
    .await;
    assert_eq!(out, "", "nothing was below r3");
    write(&sb, 6).await;
    for n in ["r1", "r2", "r3", "c1"] {
        eventually(Duration::from_secs(5), || async {
            let rows = sb.sql(n, "SELECT COUNT(*) FROM app.t").await.ok()?;
            (rows.first()?.at(0)? == "6").then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("{n} has every write exactly once"));
    }

    // take-master runs PostTakeMasterProcesses with orchestrator's
    // placeholders: the instance that took over and its former source.
    step(
        &orc,
        &sb,
        &format!("relocate/{}/{}", path(&sb, "c1"), path(&sb, "r1")),
        &["-c", "relocate", "-i", &c1, "-d", &r1],
    )
    .await;
    let out = step(
        &orc,
        &sb,
        &format!("take-master/{}", path(&sb, "c1")),
        &["-c", "take-master", "-i", &c1],
    )
    .await;
    assert_eq!(out, format!("{c1}<{m}"));
    let line = eventually(Duration::from_secs(5), || async {
        std::fs::read_to_string(hook.path())
            .ok()
            .filter(|t| !t.is_empty())
    })
    .await
    .expect("PostTakeMasterProcesses ran");
    assert_eq!(line.trim(), format!("took {c1} from {r1}"));

    // make-co-master: m replicates from r3 too.
    let out = step(
        &orc,
        &sb,
        &format!("make-co-master/{}", path(&sb, "r3")),
        &["-c", "make-co-master", "-i", &r3],
    )
    .await;
    assert_eq!(out, format!("{r3}<{m}"));
    write(&sb, 7).await;
    eventually(Duration::from_secs(5), || async {
        let r = sb.replica_status("m").await.ok()??;
        (r.get("Slave_IO_Running") == Some("Yes") && r.get("Slave_SQL_Running") == Some("Yes"))
            .then_some(())
    })
    .await
    .expect("m replicates from r3");
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn method_specific_operations_by_gtid() {
    methods(false).await;
}

#[tokio::test]
async fn method_specific_operations_by_binlog_coordinates() {
    methods(true).await;
}

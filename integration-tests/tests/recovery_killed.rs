//! Chaos `recovery-killed`: the recovery process acting on a failover is
//! killed (SIGKILL) in the middle of it. Another recovery process takes the
//! lapsed cluster lease, closes the interrupted recovery in the audit, and
//! recovers the failure itself with the successor the interrupted plan had
//! chosen: the cluster converges on one master, the audit is complete (no
//! recovery left active), and there is no second failover.
//!
//! Killed after the promotion (in `PostMasterFailoverProcesses`, when the
//! successor is master and the replicas are below it), the other service
//! finds nothing left failing: it closes the interrupted recovery and does
//! not fail over again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::process::RoleProcess;
use integration_tests::{Orc, SplitBrain, eventually, settled_master, test_config};
use orc_testkit::{NatsServer, SandboxBuilder};
use orchestrator::roles::Roles;
use serde_json::json;

const PROBE_ANALYZE_SERVE: Roles = Roles {
    prober: true,
    analyzer: true,
    recovery: false,
    gateway: true,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_process_killed_mid_failover_is_taken_over_once() {
    killed_in("PreFailoverProcesses").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_process_killed_after_the_promotion_is_closed_without_a_second_failover() {
    killed_in("PostMasterFailoverProcesses").await;
}

/// Two recovery services; the one acting on a master's kill -9 is itself
/// killed in the `stage` hook; the other takes over.
async fn killed_in(stage: &str) {
    let before_promotion = stage == "PreFailoverProcesses";
    let nats = NatsServer::start().await.unwrap();
    let backend = SandboxBuilder::new()
        .master("backend")
        .start()
        .await
        .unwrap();
    let sb = Arc::new(
        SandboxBuilder::master_with_replicas(3)
            .start()
            .await
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let base = test_config(&dir.path().join("unused.sqlite3"), 0.5);
    let base = integration_tests::merged(base, integration_tests::mysql_backend(&backend));
    let base = integration_tests::merged(
        base,
        json!({
            "RecoverMasterClusterFilters": ["*"],
            "NatsUrl": nats.url(),
            "RecoveryLeaseTtlMilliseconds": 1000,
        }),
    );
    let control = Orc::start_with(base.clone(), PROBE_ANALYZE_SERVE, Some(&nats.url()), None)
        .await
        .unwrap();
    // Two recovery processes; whichever acts writes its pid, then dawdles
    // in a pre-failover hook long enough to be killed there.
    let marker = dir.path().join("acting.pid");
    let mut recoveries = Vec::new();
    for name in ["recovery-a", "recovery-b"] {
        let mut c = base.clone();
        c["RecoveryNodeId"] = name.into();
        c[stage] = json!([format!("echo $PPID >> {}; sleep 2", marker.display())]);
        recoveries.push(RoleProcess::start("recovery", &c, &[]).await.unwrap());
    }
    let master = sb.key("m").unwrap();
    eventually(Duration::from_secs(20), || async {
        let (code, _, _) = control.client(&["-c", "discover", "-i", &master]).await;
        if code != 0 {
            return None;
        }
        let (_, all) = control.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        (all.len() == 4 && all.iter().all(|i| i["IsLastCheckValid"] == true)).then_some(())
    })
    .await
    .expect("topology discovered and healthy");

    let names = ["m", "r1", "r2", "r3"];
    let split_brain = SplitBrain::sample(sb.clone(), &names);
    let killed = Instant::now();
    sb.kill("m").unwrap();
    // The acting service announces itself in the hook: kill it there.
    let first = eventually(Duration::from_secs(15), || async {
        let text = std::fs::read_to_string(&marker).ok()?;
        text.lines().next()?.trim().parse::<i32>().ok()
    })
    .await
    .expect("a recovery service starts the failover");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    let new_master = eventually(Duration::from_secs(40), || {
        settled_master(&sb, &["r1", "r2", "r3"])
    })
    .await
    .expect("the other recovery service converges the cluster");
    integration_tests::chaos_figure(killed.elapsed());
    // Killed before the promotion, the other service recovers the failure
    // (two audit records); killed after it, there is nothing left to
    // recover (one record, closed by the other service).
    let records = if before_promotion { 2 } else { 1 };
    // The audit: the interrupted recovery closed, both ended; and no
    // further failover while we watch.
    let audit = eventually(Duration::from_secs(15), || async {
        let list = control.recoveries().await;
        // Ended: `IsActive` is orchestrator's active (blocking) period.
        (list.len() == records && list.iter().all(|r| r["RecoveryEndTimestamp"] != ""))
            .then_some(list)
    })
    .await;
    let pids: Vec<String> = std::fs::read_to_string(&marker)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        pids.len(),
        records,
        "the hook ran once per recovery: {pids:?}"
    );
    if before_promotion {
        assert_ne!(pids[0], pids[1], "a different service finished the job");
    }
    let Some(audit) = audit else {
        let list: Vec<String> = control
            .recoveries()
            .await
            .iter()
            .map(|r| {
                format!(
                    "{} ended={} ok={} node={} errors={}",
                    r["UID"],
                    r["RecoveryEndTimestamp"],
                    r["IsSuccessful"],
                    r["ProcessingNodeHostname"],
                    r["AllErrors"]
                )
            })
            .collect();
        panic!("not {records} ended recoveries: {list:#?}");
    };
    let successful: Vec<_> = audit.iter().filter(|r| r["IsSuccessful"] == true).collect();
    assert_eq!(successful.len(), records - 1, "{audit:?}");
    let interrupted: Vec<_> = audit
        .iter()
        .filter(|r| r["IsSuccessful"] == false)
        .collect();
    assert_eq!(interrupted.len(), 1, "{audit:?}");
    let errors = interrupted[0]["AllErrors"].to_string();
    assert!(errors.contains("interrupted"), "{errors}");
    if !before_promotion {
        // The closer named the successor that had been promoted.
        let steps = control
            .get(&format!(
                "audit-recovery-steps/{}",
                interrupted[0]["UID"].as_str().unwrap()
            ))
            .await
            .unwrap()
            .1
            .to_string();
        assert!(
            steps.contains("was promoted before the interruption"),
            "{steps}"
        );
    }
    let port = sb.instance(&new_master).unwrap().port();
    // Whoever promoted recorded the successor that is master now.
    let promoter = successful.first().unwrap_or(&interrupted[0]);
    assert_eq!(promoter["SuccessorKey"]["Port"], port, "{audit:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        control.recoveries().await.len(),
        records,
        "no second failover"
    );
    assert_eq!(
        settled_master(&sb, &["r1", "r2", "r3"]).await.as_deref(),
        Some(new_master.as_str())
    );
    let two = split_brain.finish().await;
    assert!(two.is_empty(), "two writable masters: {two:?}");
    for r in recoveries {
        r.stop().await;
    }
    control.stop().await.unwrap();
}

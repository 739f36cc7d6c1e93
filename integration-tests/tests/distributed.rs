//! Distributed mode under faults, roles on separate runtimes over a real
//! nats-server: failover with several probers is as fast as with one, and
//! a restarted bus leaves no role deaf.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use integration_tests::{Orc, PROBER_ONLY, eventually, settled_master, test_config};
use orc_testkit::{NatsServer, Sandbox, SandboxBuilder};
use orchestrator::roles::Roles;

const CONTROL: Roles = Roles {
    prober: false,
    analyzer: true,
    recovery: true,
    gateway: true,
};

/// Analyzer, recovery and gateway on one runtime and `probers` probers,
/// each its own, all over `nats`, with a 1+3 sandbox discovered.
async fn cluster(nats: &NatsServer, probers: usize) -> (Sandbox, Orc, Vec<Orc>) {
    let sb = SandboxBuilder::master_with_replicas(3)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir.path().join("o.sqlite3"), 1.0);
    config["RecoverMasterClusterFilters"] = serde_json::json!(["*"]);
    let control = Orc::start_with(config, CONTROL, Some(&nats.url()), Some(dir))
        .await
        .unwrap();
    let mut ps = Vec::new();
    for i in 0..probers {
        let mut config = test_config(std::path::Path::new("/nonexistent"), 1.0);
        config["ProberId"] = format!("p{i}").into();
        ps.push(
            Orc::start_with(config, PROBER_ONLY, Some(&nats.url()), None)
                .await
                .unwrap(),
        );
    }
    let master = sb.key("m").unwrap();
    eventually(Duration::from_secs(15), || async {
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
    (sb, control, ps)
}

/// kill -9 of the master; returns how long until every survivor replicated
/// from a new writable master.
async fn kill_and_converge(sb: &Sandbox) -> Duration {
    let killed = Instant::now();
    sb.kill("m").unwrap();
    eventually(Duration::from_secs(30), || {
        settled_master(sb, &["r1", "r2", "r3"])
    })
    .await
    .expect("a new master with every survivor replicating from it");
    killed.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_probers_a_dead_master_is_replaced_as_fast_as_with_one() {
    let nats = NatsServer::start().await.unwrap();
    let (sb, control, probers) = cluster(&nats, 2).await;
    // Let ownership settle after both probers joined.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let took = kill_and_converge(&sb).await;
    eprintln!("two probers: every replica on the new master {took:?} after kill -9");
    integration_tests::chaos_figure(took);
    let (_, recoveries) = control.get("audit-recovery").await.unwrap();
    assert_eq!(recoveries.as_array().unwrap().len(), 1, "{recoveries:#}");
    for p in probers {
        p.stop().await.unwrap();
    }
    control.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_bus_restarts_a_dead_master_is_still_replaced() {
    let nats = NatsServer::start().await.unwrap();
    let (sb, control, probers) = cluster(&nats, 1).await;
    nats.restart().await.unwrap();
    // Every role reconnects by itself; the topology is probed again.
    eventually(Duration::from_secs(15), || async {
        let (_, all) = control.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        let fresh = all.iter().all(|i| {
            i["IsLastCheckValid"] == true
                && i["SecondsSinceLastSeen"]["Int64"]
                    .as_i64()
                    .is_some_and(|s| s <= 1)
        });
        (all.len() == 4 && fresh).then_some(())
    })
    .await
    .expect("probing resumes after the bus restart");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let took = kill_and_converge(&sb).await;
    eprintln!("after a bus restart: every replica on the new master {took:?} after kill -9");
    integration_tests::chaos_figure(took);
    for p in probers {
        p.stop().await.unwrap();
    }
    control.stop().await.unwrap();
}

//! Distributed mode under faults, roles on separate runtimes over a real
//! nats-server (or a real 3-node cluster): failover with several probers
//! is as fast as with one, a restarted bus leaves no role deaf, and a lost
//! cluster node changes nothing visible.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::{Orc, PROBER_ONLY, SplitBrain, eventually, settled_master, test_config};
use orc_testkit::{NatsCluster, NatsServer, Sandbox, SandboxBuilder};
use orchestrator::roles::Roles;

const CONTROL: Roles = Roles {
    prober: false,
    analyzer: true,
    recovery: true,
    gateway: true,
};

/// Analyzer, recovery and gateway on one runtime and `probers` probers,
/// each its own, all over `nats`, with a 1+3 sandbox discovered.
async fn cluster(nats: &NatsServer, probers: usize) -> (Arc<Sandbox>, Orc, Vec<Orc>) {
    cluster_on(&nats.url(), 1, probers).await
}

/// [`cluster`] over the NATS servers at `url`, streams and buckets with
/// `replicas`.
async fn cluster_on(url: &str, replicas: u32, probers: usize) -> (Arc<Sandbox>, Orc, Vec<Orc>) {
    let sb = Arc::new(
        SandboxBuilder::master_with_replicas(3)
            .start()
            .await
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir.path().join("o.sqlite3"), 1.0);
    config["RecoverMasterClusterFilters"] = serde_json::json!(["*"]);
    config["NatsReplicas"] = replicas.into();
    let control = Orc::start_with(config, CONTROL, Some(url), Some(dir))
        .await
        .unwrap();
    let mut ps = Vec::new();
    for i in 0..probers {
        let mut config = test_config(std::path::Path::new("/nonexistent"), 1.0);
        config["ProberId"] = format!("p{i}").into();
        config["NatsReplicas"] = replicas.into();
        ps.push(
            Orc::start_with(config, PROBER_ONLY, Some(url), None)
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
/// from a new writable master. Never two writable masters meanwhile.
async fn kill_and_converge(sb: &Arc<Sandbox>) -> Duration {
    let split_brain = SplitBrain::sample(sb.clone(), &["m", "r1", "r2", "r3"]);
    let killed = Instant::now();
    sb.kill("m").unwrap();
    eventually(Duration::from_secs(30), || {
        settled_master(sb, &["r1", "r2", "r3"])
    })
    .await
    .expect("a new master with every survivor replicating from it");
    let took = killed.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let two = split_brain.finish().await;
    assert!(two.is_empty(), "two writable masters: {two:?}");
    took
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
    freshly_probed(&control, Duration::from_secs(15))
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

/// Waits until every instance of the 1+3 sandbox was seen within the last
/// second, through the gateway.
async fn freshly_probed(control: &Orc, within: Duration) -> Option<()> {
    eventually(within, || async {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_nats_cluster_node_changes_nothing_visible() {
    let nats = NatsCluster::start(3).await.unwrap();
    let (sb, control, probers) = cluster_on(&nats.url(), 3, 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lost = Instant::now();
    nats.node(0).kill();
    // Clients on the lost node move to another; probing goes on (seen
    // within the last second, two seconds after the loss).
    tokio::time::sleep(Duration::from_secs(2)).await;
    freshly_probed(&control, Duration::from_secs(5))
        .await
        .expect("the pipeline goes on without the node");
    eprintln!(
        "pipeline fresh {:?} after a NATS node was killed",
        lost.elapsed()
    );
    // No false failover while the cluster re-elects its leaders.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(lost.elapsed())).await;
    let (_, recoveries) = control.get("audit-recovery").await.unwrap();
    assert_eq!(
        recoveries,
        serde_json::json!([]),
        "no failover for a lost NATS node"
    );
    let (_, analysis) = control.get("replication-analysis").await.unwrap();
    assert!(
        analysis["Details"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| !a["Analysis"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Dead")),
        "{analysis:#}"
    );
    // A master that dies now is replaced as it would have been.
    let took = kill_and_converge(&sb).await;
    eprintln!("a NATS node down: every replica on the new master {took:?} after kill -9");
    integration_tests::chaos_figure(took);
    let (_, recoveries) = control.get("audit-recovery").await.unwrap();
    assert_eq!(recoveries.as_array().unwrap().len(), 1, "{recoveries:#}");
    for p in probers {
        p.stop().await.unwrap();
    }
    control.stop().await.unwrap();
}

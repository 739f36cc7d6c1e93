//! Probing scales out: several probers share the instances, and when one
//! dies the others take its instances over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use integration_tests::{Orc, eventually, test_config};
use orc_bus::{Bus, NatsBus, subjects};
use orc_model::{InstanceKey, InstanceSnapshot};
use orc_proto::v1 as wire;
use orc_testkit::{NatsServer, SandboxBuilder};
use orchestrator::roles::Roles;

const PROBER_ONLY: Roles = Roles {
    prober: true,
    analyzer: false,
    gateway: false,
};
const ANALYZER_AND_GATEWAY: Roles = Roles {
    prober: false,
    analyzer: true,
    gateway: true,
};

async fn prober(nats: &str, id: &str) -> Orc {
    let mut config = test_config(std::path::Path::new("/nonexistent"), 0.5);
    config["ProberId"] = id.into();
    Orc::start_with(config, PROBER_ONLY, Some(nats), None)
        .await
        .unwrap()
}

/// Collects, for `window`, which vantages each instance's snapshots came from.
async fn owners(bus: &NatsBus, window: Duration) -> BTreeMap<InstanceKey, BTreeSet<String>> {
    let mut sub = bus.subscribe(subjects::SNAPSHOT).await.unwrap();
    bus.flush().await.unwrap();
    let mut seen: BTreeMap<InstanceKey, BTreeSet<String>> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, sub.next()).await {
        let snap = orc_bus::decode::<wire::InstanceSnapshot>(&msg.subject, &msg.payload).unwrap();
        let snap = InstanceSnapshot::try_from(&snap).unwrap();
        seen.entry(snap.key).or_default().insert(snap.vantage);
    }
    seen
}

#[tokio::test]
async fn when_a_prober_dies_another_probes_its_instances_within_seconds() {
    let sb = SandboxBuilder::master_with_replicas(3)
        .replica("c1", "r1")
        .start()
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let core = Orc::start_with(
        test_config(&dir.path().join("o.sqlite3"), 0.5),
        ANALYZER_AND_GATEWAY,
        Some(&nats.url()),
        Some(dir),
    )
    .await
    .unwrap();
    let p1 = prober(&nats.url(), "p1").await;
    let p2 = prober(&nats.url(), "p2").await;
    let (code, _, err) = core
        .client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    eventually(Duration::from_secs(5), || async {
        let (_, out, _) = core.client(&["-c", "all-instances"]).await;
        (out.lines().count() == 5).then_some(())
    })
    .await
    .expect("all five known");

    let watcher = NatsBus::connect(&nats.url(), "watcher", Duration::from_secs(5))
        .await
        .unwrap();
    // Ownership settles once both probers saw each other's heartbeats.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = owners(&watcher, Duration::from_millis(1200)).await;
    assert_eq!(before.len(), 5, "every instance is probed: {before:?}");
    assert!(
        before.values().all(|v| v.len() == 1),
        "each instance has exactly one owner: {before:?}"
    );
    let count = |id: &str| before.values().filter(|v| v.contains(id)).count();
    assert_eq!(count("p1") + count("p2"), 5);
    let (victim, victim_id, survivor_id, survivor) = if count("p1") > 0 {
        (p1, "p1", "p2", p2)
    } else {
        (p2, "p2", "p1", p1)
    };
    let orphans: BTreeSet<InstanceKey> = before
        .iter()
        .filter(|(_, v)| v.contains(victim_id))
        .map(|(k, _)| k.clone())
        .collect();

    let mut sub = watcher.subscribe(subjects::SNAPSHOT).await.unwrap();
    watcher.flush().await.unwrap();
    victim.crash();
    let killed = Instant::now();
    let mut adopted = BTreeSet::new();
    while adopted != orphans {
        let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("snapshots keep coming")
            .unwrap();
        let snap = InstanceSnapshot::try_from(
            &orc_bus::decode::<wire::InstanceSnapshot>(&msg.subject, &msg.payload).unwrap(),
        )
        .unwrap();
        if snap.vantage == survivor_id && orphans.contains(&snap.key) {
            adopted.insert(snap.key);
        }
    }
    let took = killed.elapsed();
    eprintln!(
        "{} orphaned instances adopted by {survivor_id} in {took:?}",
        orphans.len()
    );
    assert!(took <= Duration::from_secs(5), "took {took:?}");
    survivor.stop().await.unwrap();
    core.stop().await.unwrap();
}

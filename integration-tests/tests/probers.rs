//! Probing scales out: several probers share the instances, and when one
//! dies the others take its instances over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use integration_tests::process::RoleProcess;
use integration_tests::{Orc, PROBER_ONLY, eventually, test_config};
use orc_bus::{Bus, NatsBus, subjects};
use orc_model::{InstanceKey, InstanceSnapshot};
use orc_proto::v1 as wire;
use orc_testkit::{NatsServer, SandboxBuilder};
use orchestrator::roles::Roles;

const ANALYZER_AND_GATEWAY: Roles = Roles {
    prober: false,
    analyzer: true,
    recovery: false,
    gateway: true,
};

async fn prober(nats: &str, id: &str) -> Orc {
    let mut config = test_config(std::path::Path::new("/nonexistent"), 0.5);
    config["ProberId"] = id.into();
    Orc::start_with(config, PROBER_ONLY, Some(nats), None)
        .await
        .unwrap()
}

/// The analyzer and the gateway in one process (SQLite store), on `nats`.
async fn analyzer_and_gateway(nats: &NatsServer) -> Orc {
    let dir = tempfile::tempdir().unwrap();
    Orc::start_with(
        test_config(&dir.path().join("o.sqlite3"), 0.5),
        ANALYZER_AND_GATEWAY,
        Some(&nats.url()),
        Some(dir),
    )
    .await
    .unwrap()
}

/// Collects, for `window`, which vantages each instance's snapshots came from.
async fn owners(bus: &NatsBus, window: Duration) -> BTreeMap<InstanceKey, BTreeSet<String>> {
    let mut sub = bus.subscribe(subjects::SNAPSHOTS).await.unwrap();
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
    let sb = std::sync::Arc::new(
        SandboxBuilder::master_with_replicas(3)
            .replica("c1", "r1")
            .start()
            .await
            .unwrap(),
    );
    let nats = NatsServer::start().await.unwrap();
    let core = analyzer_and_gateway(&nats).await;
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

    let mut sub = watcher.subscribe(subjects::SNAPSHOTS).await.unwrap();
    watcher.flush().await.unwrap();
    let split_brain =
        integration_tests::SplitBrain::sample(sb.clone(), &["m", "r1", "r2", "r3", "c1"]);
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
    integration_tests::chaos_figure(took);
    assert!(took <= Duration::from_secs(5), "took {took:?}");
    let two = split_brain.finish().await;
    assert!(two.is_empty(), "two writable masters: {two:?}");
    survivor.stop().await.unwrap();
    core.stop().await.unwrap();
}

/// kill -9 of a prober process closes its bus connection, and its peers
/// learn of the death from the bus rather than from its heartbeats'
/// silence: with a membership TTL of a minute, the survivor still probes
/// the orphaned instances within seconds.
#[tokio::test]
async fn a_killed_prober_process_is_known_dead_from_the_bus_before_its_ttl() {
    let sb = SandboxBuilder::master_with_replicas(3)
        .start()
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let core = analyzer_and_gateway(&nats).await;
    let ttl = Duration::from_secs(60);
    let config = |id: &str| {
        let mut config = test_config(std::path::Path::new("/nonexistent"), 0.5);
        config["ProberId"] = id.into();
        config["NatsUrl"] = nats.url().into();
        config["ProberMembershipTtlMilliseconds"] = u64::try_from(ttl.as_millis()).unwrap().into();
        config
    };
    let mut probers = BTreeMap::new();
    for id in ["p1", "p2"] {
        let p = RoleProcess::start("prober", &config(id), &[])
            .await
            .unwrap();
        probers.insert(id, p);
    }
    let (code, _, err) = core
        .client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    let watcher = NatsBus::connect(&nats.url(), "watcher", Duration::from_secs(5))
        .await
        .unwrap();
    // Both are heartbeating (so each hears the other, and the survivor
    // will hear the victim leave the bus).
    let mut beats = watcher.subscribe(subjects::PROBER_HEARTBEAT).await.unwrap();
    let mut heard = BTreeSet::new();
    while heard.len() < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(10), beats.next())
            .await
            .expect("both probers heartbeat")
            .unwrap();
        let beat = orc_bus::decode::<wire::ProberHeartbeat>(&msg.subject, &msg.payload).unwrap();
        heard.insert(beat.prober_id);
    }
    drop(beats);
    // Both probe once they saw each other (and every instance is known):
    // each instance is probed by the one prober that rendezvous hashing
    // over both names (the ports are random, so now and then one prober
    // owns all four, and that is a fine victim or survivor too).
    let before = eventually(Duration::from_secs(20), || async {
        let seen = owners(&watcher, Duration::from_millis(1200)).await;
        let as_hashed = seen.iter().all(|(key, v)| {
            let owner = orc_bus::membership::owner(["p1", "p2"], key).unwrap();
            v.len() == 1 && v.contains(owner)
        });
        (seen.len() == 4 && as_hashed).then_some(seen)
    })
    .await
    .expect("four instances, each probed by its owner among two probers");
    let victim_id = before
        .values()
        .next()
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .clone();
    let survivor_id = if victim_id == "p1" { "p2" } else { "p1" };
    let orphans: BTreeSet<InstanceKey> = before
        .iter()
        .filter(|(_, v)| v.contains(&victim_id))
        .map(|(k, _)| k.clone())
        .collect();

    let mut sub = watcher.subscribe(subjects::SNAPSHOTS).await.unwrap();
    watcher.flush().await.unwrap();
    probers.remove(victim_id.as_str()).unwrap().kill().await;
    let killed = Instant::now();
    let mut adopted = BTreeSet::new();
    while adopted != orphans {
        let msg = tokio::time::timeout(ttl / 2, sub.next())
            .await
            .expect("the survivor keeps publishing")
            .unwrap();
        let snap = InstanceSnapshot::try_from(
            &orc_bus::decode::<wire::InstanceSnapshot>(&msg.subject, &msg.payload).unwrap(),
        )
        .unwrap();
        if snap.vantage == survivor_id && orphans.contains(&snap.key) {
            adopted.insert(snap.key);
        }
        assert!(
            killed.elapsed() < ttl / 2,
            "{} of {} orphans adopted after {:?}: the death was not learnt from the bus",
            adopted.len(),
            orphans.len(),
            killed.elapsed()
        );
    }
    eprintln!(
        "{} orphaned instances adopted by {survivor_id} {:?} after the kill",
        orphans.len(),
        killed.elapsed()
    );
    for (_, p) in probers {
        let log = p.log_text();
        assert!(log.contains("peer prober gone from the bus"), "{log}");
        p.stop().await;
    }
    core.stop().await.unwrap();
}

#[tokio::test]
async fn with_two_vantages_every_instance_is_probed_by_both_and_evidence_names_them() {
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let nats = NatsServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut core_config = test_config(&dir.path().join("o.sqlite3"), 0.5);
    core_config["ProbersPerInstance"] = 2.into();
    let core = Orc::start_with(
        core_config,
        ANALYZER_AND_GATEWAY,
        Some(&nats.url()),
        Some(dir),
    )
    .await
    .unwrap();
    let mut probers = Vec::new();
    for (id, vantage) in [("p1", "dc1"), ("p2", "dc2")] {
        let mut config = test_config(std::path::Path::new("/nonexistent"), 0.5);
        config["ProberId"] = id.into();
        config["ProberVantage"] = vantage.into();
        config["ProbersPerInstance"] = 2.into();
        probers.push(
            Orc::start_with(config, PROBER_ONLY, Some(&nats.url()), None)
                .await
                .unwrap(),
        );
    }
    let (code, _, err) = core
        .client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    let watcher = NatsBus::connect(&nats.url(), "watcher", Duration::from_secs(5))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = owners(&watcher, Duration::from_millis(1500)).await;
    assert_eq!(seen.len(), 3);
    for (k, vantages) in &seen {
        assert_eq!(
            vantages.iter().map(String::as_str).collect::<Vec<_>>(),
            vec!["dc1", "dc2"],
            "{k}"
        );
    }
    // A dead master's finding shows what each vantage saw.
    let mut findings = integration_tests::follow_findings(&core).await.unwrap();
    sb.kill("m").unwrap();
    let dead = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let f = findings.message().await.unwrap().unwrap();
            if f.code == "DeadMaster" {
                return f;
            }
        }
    })
    .await
    .expect("DeadMaster");
    let analysis = orc_proto::analysis::finding_analysis(&dead).unwrap();
    let vantages: Vec<(&str, bool)> = analysis
        .evidence
        .vantages
        .iter()
        .map(|v| (v.vantage.as_str(), v.reached))
        .collect();
    assert_eq!(vantages, vec![("dc1", false), ("dc2", false)]);
    for p in probers {
        p.stop().await.unwrap();
    }
    core.stop().await.unwrap();
}

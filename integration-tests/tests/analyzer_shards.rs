//! Sharded analyzers (`AnalyzerShardReplicas`): analyzer processes divide
//! the clusters, each receiving only its clusters' snapshots. When the
//! analyzer holding a cluster is killed (SIGKILL), another takes the
//! cluster over within seconds, and a master crash during the move is still
//! detected and recovered, once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::process::RoleProcess;
use integration_tests::{Orc, SplitBrain, eventually, settled_master, test_config};
use orc_bus::{Bus, NatsBus, subjects};
use orc_proto::v1 as wire;
use orc_testkit::{NatsServer, SandboxBuilder};
use orchestrator::roles::Roles;
use serde_json::json;

const PROBE_RECOVER_SERVE: Roles = Roles {
    prober: true,
    analyzer: false,
    recovery: true,
    gateway: true,
};

/// Which instances each analyzer holds, from the registries every analyzer
/// publishes when one is asked for.
async fn holdings(bus: &NatsBus) -> BTreeMap<String, BTreeSet<String>> {
    let mut sub = bus.subscribe(subjects::REGISTRY).await.unwrap();
    bus.flush().await.unwrap();
    let _ = bus
        .request(
            subjects::REGISTRY_GET,
            orc_bus::encode(&wire::RegistryRequest {}),
            Duration::from_secs(2),
        )
        .await;
    let mut out = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, sub.next()).await {
        let reg = orc_bus::decode::<wire::InstanceRegistry>(&msg.subject, &msg.payload).unwrap();
        assert!(reg.sharded, "a sharded analyzer says so");
        assert_eq!(reg.buckets.len(), reg.keys.len(), "every key has a bucket");
        let keys = reg
            .keys
            .iter()
            .map(|k| format!("{}:{}", k.hostname, k.port))
            .collect();
        out.insert(reg.analyzer_id, keys);
    }
    out
}

/// The control process (probers, recovery and gateway in one) and two
/// sharded analyzer processes, over `nats` and a MySQL backend.
struct Sharded {
    control: Orc,
    analyzers: Vec<RoleProcess>,
    _backend: orc_testkit::Sandbox,
    _dir: tempfile::TempDir,
}

async fn sharded(nats: &NatsServer) -> Sharded {
    let backend = SandboxBuilder::new()
        .master("backend")
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = test_config(&dir.path().join("unused.sqlite3"), 0.5);
    let base = integration_tests::merged(base, integration_tests::mysql_backend(&backend));
    let base = integration_tests::merged(
        base,
        json!({
            "RecoverMasterClusterFilters": ["*"],
            "NatsUrl": nats.url(),
            "AnalyzerShardReplicas": 1,
        }),
    );
    let control = Orc::start_with(base.clone(), PROBE_RECOVER_SERVE, Some(&nats.url()), None)
        .await
        .unwrap();
    let mut analyzers = Vec::new();
    for _ in 0..2 {
        analyzers.push(RoleProcess::start("analyzer", &base, &[]).await.unwrap());
    }
    Sharded {
        control,
        analyzers,
        _backend: backend,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_analyzer_holding_a_cluster_moves_it_and_a_crash_meanwhile_is_recovered_once() {
    let nats = NatsServer::start().await.unwrap();
    let sb = Arc::new(
        SandboxBuilder::master_with_replicas(2)
            .start()
            .await
            .unwrap(),
    );
    // Bound whole: the backend and the directory live as long as the test.
    let mut env = sharded(&nats).await;
    let control = &env.control;
    let master = sb.key("m").unwrap();
    // Until the analyzers have divided the buckets (they listen to each
    // other for a couple of seconds first), a discover is refused.
    eventually(Duration::from_secs(30), || async {
        let (code, _, _) = control.client(&["-c", "discover", "-i", &master]).await;
        if code != 0 {
            return None;
        }
        let (_, all) = control.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        (all.len() == 3 && all.iter().all(|i| i["IsLastCheckValid"] == true)).then_some(())
    })
    .await
    .expect("topology discovered through the sharded analyzers");

    let watcher = NatsBus::connect(&nats.url(), "watcher", Duration::from_secs(5))
        .await
        .unwrap();
    let members: BTreeSet<String> = ["m", "r1", "r2"]
        .iter()
        .map(|n| sb.key(n).unwrap())
        .collect();
    let held = eventually(Duration::from_secs(10), || async {
        let h = holdings(&watcher).await;
        (h.len() == 2 && h.values().any(|keys| *keys == members)).then_some(h)
    })
    .await
    .expect("two analyzers, one of them holding the whole cluster");
    let holder = held
        .iter()
        .find(|(_, keys)| **keys == members)
        .map(|(id, _)| id.clone())
        .unwrap();
    let other = held.keys().find(|id| **id != holder).unwrap().clone();
    assert!(
        held[&other].is_disjoint(&members),
        "the other analyzer holds none of the cluster: {held:?}"
    );
    let victim = env
        .analyzers
        .iter()
        .position(|a| a.pid().is_some_and(|p| holder == format!("analyzer-{p}")))
        .expect("the holder is one of our processes");
    let victim = env.analyzers.remove(victim);

    let mut registries = watcher.subscribe(subjects::REGISTRY).await.unwrap();
    watcher.flush().await.unwrap();
    let split_brain = SplitBrain::sample(sb.clone(), &["m", "r1", "r2"]);
    victim.kill().await;
    let killed = Instant::now();
    sb.kill("m").unwrap();

    // The survivor takes the cluster over.
    let moved = loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), registries.next())
            .await
            .expect("the survivor publishes its registry")
            .unwrap();
        let reg = orc_bus::decode::<wire::InstanceRegistry>(&msg.subject, &msg.payload).unwrap();
        let keys: BTreeSet<String> = reg
            .keys
            .iter()
            .map(|k| format!("{}:{}", k.hostname, k.port))
            .collect();
        if reg.analyzer_id == other && members.is_subset(&keys) {
            break killed.elapsed();
        }
    };
    eprintln!("cluster moved to {other} {moved:?} after its analyzer's kill");
    integration_tests::chaos_figure(moved);
    assert!(moved <= Duration::from_secs(5), "took {moved:?}");

    let new_master = eventually(Duration::from_secs(40), || {
        settled_master(&sb, &["r1", "r2"])
    })
    .await
    .expect("the crash during the move is recovered");
    eprintln!(
        "recovered onto {new_master} {:?} after the kill",
        killed.elapsed()
    );
    let audit = eventually(Duration::from_secs(15), || async {
        let list = control.recoveries().await;
        (list.len() == 1 && list[0]["RecoveryEndTimestamp"] != "").then_some(list)
    })
    .await
    .expect("one recovery, ended");
    assert_eq!(audit[0]["IsSuccessful"], true, "{audit:?}");
    // No second failover while we watch.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(control.recoveries().await.len(), 1);
    let two = split_brain.finish().await;
    assert!(two.is_empty(), "two writable masters: {two:?}");
    for a in env.analyzers {
        a.stop().await;
    }
    env.control.stop().await.unwrap();
}

/// A cluster found in two pieces (a standalone server, held by one
/// analyzer, made a replica of a master another analyzer holds) settles in
/// one bucket: one analyzer ends up holding the whole cluster, still
/// probed and analysed as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_found_in_two_pieces_settles_in_one_analyzer() {
    let nats = NatsServer::start().await.unwrap();
    let sb = SandboxBuilder::master_with_replicas(2)
        .master("s1")
        .master("s2")
        .master("s3")
        .master("s4")
        .start()
        .await
        .unwrap();
    let env = sharded(&nats).await;
    let control = &env.control;
    let names = ["m", "s1", "s2", "s3", "s4"];
    eventually(Duration::from_secs(30), || async {
        for n in names {
            let (code, _, _) = control
                .client(&["-c", "discover", "-i", &sb.key(n).unwrap()])
                .await;
            if code != 0 {
                return None;
            }
        }
        let (_, all) = control.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        (all.len() == 7 && all.iter().all(|i| i["IsLastCheckValid"] == true)).then_some(())
    })
    .await
    .expect("a cluster and four standalone servers discovered");
    let watcher = NatsBus::connect(&nats.url(), "watcher", Duration::from_secs(5))
        .await
        .unwrap();
    let key = |n: &str| sb.key(n).unwrap();
    let held = eventually(Duration::from_secs(10), || async {
        let h = holdings(&watcher).await;
        let all: BTreeSet<String> = h.values().flatten().cloned().collect();
        (h.len() == 2 && all.len() == 7).then_some(h)
    })
    .await
    .expect("both analyzers publish registries naming all seven");
    let holder_of = |k: &str| {
        held.iter()
            .find(|(_, ks)| ks.contains(k))
            .map(|(a, _)| a.clone())
    };
    let cluster_holder = holder_of(&key("m")).unwrap();
    // A standalone server the other analyzer holds, if any (else one in
    // another bucket of the same analyzer: the merge without a hand-over).
    let joiner = names[1..]
        .iter()
        .find(|n| holder_of(&key(n)).as_ref() != Some(&cluster_holder))
        .unwrap_or(&"s1");
    eprintln!(
        "{joiner} held by {:?}, the cluster by {cluster_holder}",
        holder_of(&key(joiner))
    );
    sb.exec(
        joiner,
        &format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, \
             MASTER_USER = 'repl', MASTER_PASSWORD = 'repl', MASTER_USE_GTID = slave_pos; START SLAVE",
            sb.instance("m").unwrap().port()
        ),
    )
    .await
    .unwrap();
    let members: BTreeSet<String> = ["m", "r1", "r2", joiner].iter().map(|n| key(n)).collect();
    let settled = eventually(Duration::from_secs(20), || async {
        let h = holdings(&watcher).await;
        let holders: Vec<&String> = h
            .iter()
            .filter(|(_, ks)| !ks.is_disjoint(&members))
            .map(|(a, _)| a)
            .collect();
        let one = holders.len() == 1 && members.is_subset(&h[holders[0]]);
        one.then(|| holders[0].clone())
    })
    .await;
    assert!(
        settled.is_some(),
        "one analyzer holds the whole cluster: {:?}",
        holdings(&watcher).await
    );
    // Still probed and judged as one cluster of four.
    let master = key("m");
    eventually(Duration::from_secs(15), || async {
        let (_, all) = control.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        let in_cluster = all
            .iter()
            .filter(|i| i["ClusterName"] == master.as_str() && i["IsLastCheckValid"] == true)
            .count();
        (in_cluster == 4).then_some(())
    })
    .await
    .expect("the four are one cluster in the API");
    for a in env.analyzers {
        a.stop().await;
    }
    env.control.stop().await.unwrap();
}

//! A hung master (SIGSTOP) on real servers, replicas with orchestrator's
//! usual `slave_net_timeout` of 4 s: a freeze the replicas do not notice
//! changes nothing; a freeze they notice is a dead master as soon as every
//! replica has lost it, and the old master is read-only once it resumes.
//! Throughout, the servers are sampled every 100 ms: never two writable
//! masters at once. A master cut off from everyone by the network is the
//! same to its replicas: replaced once they lose it, fenced when it returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::{
    Firewall, SplitBrain, eventually, orc_on, settled_master, writable_masters,
};
use orc_testkit::{Sandbox, SandboxBuilder};
use serde_json::json;

const NET_TIMEOUT_S: u64 = 4;

async fn sandbox() -> Sandbox {
    let mut b = SandboxBuilder::master_with_replicas(2);
    for r in ["r1", "r2"] {
        b = b.option(r, "slave_net_timeout", &NET_TIMEOUT_S.to_string());
    }
    b.start().await.unwrap()
}

const NAMES: [&str; 3] = ["m", "r1", "r2"];

/// Orchestrator on the sandbox, recovering every cluster.
async fn recovering(sb: &Sandbox) -> integration_tests::Orc {
    orc_on(
        sb,
        &sb.key("m").unwrap(),
        json!({"RecoverMasterClusterFilters": ["*"]}),
    )
    .await
    .unwrap()
}

/// Waits for a new master with every survivor replicating from it and
/// checks it came within `slave_net_timeout` + 2 s of the fault at `since`.
async fn replaced_in_time(sb: &Sandbox, since: Instant, fault: &str) -> String {
    let new_master = eventually(Duration::from_secs(15), || {
        settled_master(sb, &["r1", "r2"])
    })
    .await
    .expect("a new master with every survivor replicating from it");
    let took = since.elapsed();
    eprintln!("failover complete {took:?} after the {fault} ({new_master})");
    integration_tests::chaos_figure(took);
    assert!(
        took <= Duration::from_secs(NET_TIMEOUT_S + 2),
        "{took:?} > slave_net_timeout + 2 s"
    );
    new_master
}

/// Waits for the old master, back since `since`, to be read-only.
async fn fenced(sb: &Sandbox, since: Instant, within: Duration, back: &str) {
    let fenced = eventually(within, || async {
        let ro = sb.sql("m", "SELECT @@global.read_only").await.ok()?;
        (ro.first()?.at(0)? == "1").then_some(())
    })
    .await;
    assert!(fenced.is_some(), "the old master is still writable");
    eprintln!("old master read-only {:?} after {back}", since.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_the_replicas_do_not_notice_changes_nothing() {
    let sb = Arc::new(sandbox().await);
    let orc = recovering(&sb).await;
    let split_brain = SplitBrain::sample(sb.clone(), &NAMES);
    sb.freeze("m").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sb.thaw("m").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(writable_masters(&sb, &NAMES).await, vec!["m".to_string()]);
    let two = split_brain.finish().await;
    assert!(two.is_empty(), "two writable masters: {two:?}");
    let (_, recoveries) = orc.get("audit-recovery").await.unwrap();
    assert_eq!(recoveries, json!([]), "no failover for a 3 s freeze");
    orc.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_hung_until_its_replicas_lose_it_is_replaced_at_once() {
    let sb = Arc::new(sandbox().await);
    let orc = recovering(&sb).await;
    // A master of some seconds' standing: fencing has its line to it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let split_brain = SplitBrain::sample(sb.clone(), &NAMES);
    let frozen = Instant::now();
    sb.freeze("m").unwrap();
    replaced_in_time(&sb, frozen, "freeze").await;
    // The freeze goes on to 20 s; then the old master resumes and is fenced.
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(frozen.elapsed())).await;
    sb.thaw("m").unwrap();
    let thawed = Instant::now();
    fenced(&sb, thawed, Duration::from_secs(10), "it resumed").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let two_masters = split_brain.finish().await;
    let after_resume: Vec<(Duration, &Vec<String>)> = two_masters
        .iter()
        .map(|(at, w)| (at.saturating_duration_since(thawed), w))
        .collect();
    // Never: not while frozen, not during the failover, and not in the
    // instant it resumes (its fence line's statement runs before any new
    // connection's handshake is done).
    assert!(
        two_masters.is_empty(),
        "two writable masters (time since the resume): {after_resume:?}"
    );
    orc.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_cut_off_from_everyone_is_replaced_and_fenced_when_it_returns() {
    let sb = Arc::new(sandbox().await);
    let orc = recovering(&sb).await;
    let port = sb.instance("m").unwrap().port();
    let split_brain = SplitBrain::sample(sb.clone(), &NAMES);
    let cut = Instant::now();
    let partition = Firewall::isolate(Ipv4Addr::LOCALHOST, port).unwrap();
    let new_master = replaced_in_time(&sb, cut, "partition").await;
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(cut.elapsed())).await;
    // Taken before the rules go: the kernel forgets them before `nft`
    // returns, and a sample may complete in between.
    let healed = Instant::now();
    drop(partition);
    fenced(&sb, healed, Duration::from_secs(15), "the partition healed").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let two = split_brain.finish().await;
    let after_heal: Vec<(Duration, &Vec<String>)> = two
        .iter()
        .map(|(at, w)| (at.saturating_duration_since(healed), w))
        .collect();
    // Never while cut off (the sampler is a client over TCP: cut off too).
    // Once the network heals, a client's new connection can race fencing's
    // (the fence line's statement waits on TCP's retransmission backoff,
    // seconds by then; a fresh attempt starts every 100 ms and fences in
    // ~60 ms): any such sample is reported, and must fall in that window.
    assert!(
        two.iter().all(|(at, _)| *at >= healed),
        "two writable masters before the partition healed: {after_heal:?}"
    );
    assert!(
        after_heal
            .iter()
            .all(|(since, _)| *since <= Duration::from_millis(1500)),
        "two writable masters after fencing's window: {after_heal:?}"
    );
    if !after_heal.is_empty() {
        eprintln!("two writable masters sampled as the partition healed: {after_heal:?}");
    }
    assert_eq!(
        writable_masters(&sb, &NAMES).await,
        vec![new_master.clone()],
        "one writable master once the old one is back"
    );
    let (_, recoveries) = orc.get("audit-recovery").await.unwrap();
    let recoveries = recoveries.as_array().unwrap();
    assert_eq!(recoveries.len(), 1, "one failover: {recoveries:#?}");
    orc.stop().await.unwrap();
}

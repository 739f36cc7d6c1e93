//! Semi-synchronous replication across a failover, on real servers: four
//! writers insert without pause into a 1+3 topology with lossless
//! semi-sync (`AFTER_SYNC`, no fallback to asynchronous); the
//! master is killed (-9) under that load. Every write the master
//! acknowledged must be on the new master, and every survivor must end
//! replicating from it. The figure is kill → every replica on the new
//! master.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use integration_tests::{SplitBrain, eventually, orc_on, settled_master};
use orc_testkit::SandboxBuilder;
use serde_json::json;

const WRITERS: u32 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_across_a_failover_under_load() {
    // The master waits for a replica's acknowledgement before it answers a
    // commit (after syncing its binary log: lossless), and never falls
    // back to asynchronous. Only the master has the master side on: a
    // replica with it on would wait for acknowledgements of its own
    // replicated transactions from replicas it does not have.
    let mut b = SandboxBuilder::master_with_replicas(3)
        .option("m", "rpl_semi_sync_master_enabled", "ON")
        .option("m", "rpl_semi_sync_master_wait_point", "AFTER_SYNC")
        .option("m", "rpl_semi_sync_master_timeout", "600000");
    for name in ["r1", "r2", "r3"] {
        b = b.option(name, "rpl_semi_sync_slave_enabled", "ON");
    }
    let sb = Arc::new(b.start().await.unwrap());
    let master = sb.key("m").unwrap();
    let orc = orc_on(&sb, &master, json!({"RecoverMasterClusterFilters": ["*"]}))
        .await
        .unwrap();
    sb.exec(
        "m",
        "CREATE DATABASE app; CREATE TABLE app.w (writer INT, n INT, PRIMARY KEY (writer, n))",
    )
    .await
    .unwrap();
    sb.wait_replicated(Duration::from_secs(5)).await.unwrap();
    let split_brain = SplitBrain::sample(sb.clone(), &["m", "r1", "r2", "r3"]);

    // Writers: each keeps what the master acknowledged, and stops at the
    // first error (the crash).
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut session = sb.instance("m").unwrap().session().await.unwrap();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sql = format!("INSERT INTO app.w VALUES ({w}, {n})");
                match session.exec(&sql).await {
                    Ok(()) => acknowledged.push(n),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed = Instant::now();
    sb.kill("m").unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged: BTreeSet<(u32, i32)> = BTreeSet::new();
    for (w, task) in writers.into_iter().enumerate() {
        for n in task.await.unwrap() {
            acknowledged.insert((u32::try_from(w).unwrap(), n));
        }
    }
    assert!(
        acknowledged.len() > 50,
        "too few writes to mean anything: {}",
        acknowledged.len()
    );

    let live = ["r1", "r2", "r3"];
    let new_master = eventually(Duration::from_secs(30), || settled_master(&sb, &live))
        .await
        .expect("a new master with every survivor replicating from it");
    let took = killed.elapsed();
    eprintln!(
        "{} acknowledged writes; every replica on the new master {took:?} after kill -9",
        acknowledged.len()
    );
    integration_tests::chaos_figure(took);
    let rows = sb
        .sql(&new_master, "SELECT writer, n FROM app.w")
        .await
        .unwrap();
    let present: BTreeSet<(u32, i32)> = rows
        .iter()
        .map(|r| {
            (
                r.at(0).unwrap().parse().unwrap(),
                r.at(1).unwrap().parse().unwrap(),
            )
        })
        .collect();
    let lost: Vec<_> = acknowledged.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(10)]
    );
    let two = split_brain.finish().await;
    assert!(two.is_empty(), "two writable masters: {two:?}");
    let (_, recoveries) = orc.get("audit-recovery").await.unwrap();
    assert_eq!(recoveries.as_array().unwrap().len(), 1, "{recoveries:#}");
    orc.stop().await.unwrap();
}

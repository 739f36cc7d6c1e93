//! Prints how fast recoveries finish on real servers:
//! - kill -9 of the master of 1 master + 4 replicas → a new writable
//!   master with every other replica replicating from it (both threads
//!   running), measured by polling the servers themselves;
//! - graceful takeover of 1 master + 3 replicas (designated replica named)
//!   → the API's answer, by which time the old master replicates from the
//!   new one.
//!
//! Each run uses a fresh sandbox and a fresh orchestrator (in-process bus,
//! SQLite, InstancePollSeconds 1, RecoverMasterClusterFilters `*`, no hooks).
//!
//! `cargo bench -p integration-tests --bench failover [-- RUNS]`

use std::time::{Duration, Instant};

use integration_tests::{Orc, orc_on, settled_master, summarize};
use orc_testkit::{Sandbox, SandboxBuilder};

async fn start(sb: &Sandbox) -> anyhow::Result<Orc> {
    let orc = orc_on(
        sb,
        &sb.key("m")?,
        serde_json::json!({
            "InstancePollSeconds": 1.0,
            "RecoverMasterClusterFilters": ["*"],
            "ReplicationUser": "repl",
            "ReplicationPassword": "repl",
        }),
    )
    .await?;
    // Let the watch connections settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(orc)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);

    let mut crash = Vec::new();
    for _ in 0..runs {
        let sb = SandboxBuilder::master_with_replicas(4).start().await?;
        let orc = start(&sb).await?;
        let live = ["r1", "r2", "r3", "r4"];
        let killed = Instant::now();
        sb.kill("m")?;
        if std::env::var_os("ORC_BENCH_TRACE").is_some() {
            eprintln!("killed at {}", orc_runtime::wall_clock().to_rfc3339());
        }
        let mut settled = None;
        while killed.elapsed() < Duration::from_secs(30) {
            if settled_master(&sb, &live).await.is_some() {
                settled = Some(killed.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        crash.push(settled.ok_or_else(|| anyhow::anyhow!("not recovered within 30 s"))?);
        orc.stop().await?;
    }
    let (crash_median, crash_max) = (summarize(&crash).0, summarize(&crash).2);
    let (median, min, max) = summarize(&crash);
    println!(
        "kill -9 of the master of 1+4 -> recovered (all replicas replicating from the new master) \
         over {runs} runs: median {median:?}, min {min:?}, max {max:?} \
         (target median <= 1.0 s, max <= 2 s; orchestrator 3.2.6 with 1 s polling: 3.24 s median)"
    );

    let mut takeover = Vec::new();
    for _ in 0..runs {
        let sb = SandboxBuilder::master_with_replicas(3).start().await?;
        let orc = start(&sb).await?;
        let master = sb.key("m")?;
        let port = sb.instance("r2")?.port();
        let started = Instant::now();
        let (status, body) = orc
            .get(&format!(
                "graceful-master-takeover/{master}/127.0.0.1/{port}"
            ))
            .await?;
        let took = started.elapsed();
        anyhow::ensure!(status == 200, "takeover failed: {body}");
        anyhow::ensure!(
            settled_master(&sb, &["m", "r1", "r2", "r3"])
                .await
                .as_deref()
                == Some("r2"),
            "after the takeover everyone, the old master too, replicates from r2"
        );
        takeover.push(took);
        orc.stop().await?;
    }
    let (median, min, max) = summarize(&takeover);
    println!(
        "graceful-master-takeover of 1+3 (old master left replicating) over {runs} runs: \
         median {median:?}, min {min:?}, max {max:?} \
         (target median <= 0.35 s; orchestrator 3.2.6: 0.69 s median, old master left stopped)"
    );
    println!(
        "failover: kill_median_s={:.3} kill_max_s={:.3} takeover_median_s={:.3}",
        crash_median.as_secs_f64(),
        crash_max.as_secs_f64(),
        median.as_secs_f64()
    );
    Ok(())
}

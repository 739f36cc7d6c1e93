//! Prints the time from `discover` of a master to a fully known 1 master +
//! 4 replica topology (every instance probed successfully), over several
//! runs, each with a fresh orchestrator (in-process bus, SQLite).
//!
//! `cargo bench -p integration-tests --bench discover_latency [-- RUNS]`

use std::time::{Duration, Instant};

use integration_tests::{Orc, summarize};
use orc_testkit::SandboxBuilder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    let sb = SandboxBuilder::master_with_replicas(4).start().await?;
    let master = sb.key("m")?;
    let mut samples = Vec::new();
    for _ in 0..runs {
        let orc = Orc::start(None).await?;
        let started = Instant::now();
        let (code, _, err) = orc.client(&["-c", "discover", "-i", &master]).await;
        anyhow::ensure!(code == 0, "discover failed: {err}");
        loop {
            let (_, all) = orc.get("all-instances").await?;
            let ready = all
                .as_array()
                .is_some_and(|a| a.len() == 5 && a.iter().all(|i| i["IsLastCheckValid"] == true));
            if ready {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "topology never fully known"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(started.elapsed());
        orc.stop().await?;
    }
    let (median, min, max) = summarize(&samples);
    println!(
        "discover -> fully known 1+4 topology over {runs} runs: median {median:?}, min {min:?}, max {max:?} \
         (target <= 0.5 s; orchestrator 3.2.6: 2.05 s)"
    );
    println!(
        "discover: median_s={:.3} max_s={:.3}",
        median.as_secs_f64(),
        max.as_secs_f64()
    );
    let _ = min;
    Ok(())
}

//! Prints how long a 1 master + 3 replica sandbox takes to start (until every
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! replica replicates) and the resident memory per server.
//!
//! `cargo bench -p integration-tests --bench sandbox_start [-- RUNS]`

use std::time::{Duration, Instant};

use integration_tests::{rss_kib, summarize};
use orc_testkit::SandboxBuilder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    // The first start may build the template datadir; do it outside the sample.
    drop(SandboxBuilder::master_with_replicas(3).start().await?);
    let mut samples = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let sb = SandboxBuilder::master_with_replicas(3).start().await?;
        samples.push(t.elapsed());
        rss.extend(sb.instances().iter().filter_map(|i| rss_kib(i.pid())));
        drop(sb);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (median, min, max) = summarize(&samples);
    let mean_rss = rss.iter().sum::<u64>() as f64 / rss.len().max(1) as f64 / 1024.0;
    println!(
        "sandbox 1+3 start over {runs} runs: median {median:?}, min {min:?}, max {max:?} (target: median <= 1 s)"
    );
    println!(
        "RSS per mariadbd instance: mean {mean_rss:.1} MiB over {} samples",
        rss.len()
    );
    println!(
        "sandbox_start: median_s={:.3} max_s={:.3} rss_mib={mean_rss:.1}",
        median.as_secs_f64(),
        max.as_secs_f64()
    );
    let _ = min;
    Ok(())
}

//! Prints the CPU time the prober process spends per instance poll.
//!
//! A prober runs in this process against a real 1 master + 4 replica
//! sandbox (then 1 + 19), publishing snapshots to a real nats-server. For several poll
//! intervals, after a warm-up, the process's CPU time (user + system, every
//! thread, from the scheduler's precise accounting) is divided by the
//! number of polls. The process also hosts a subscriber that only counts
//! snapshots, so the figures are upper bounds.
//!
//! On this virtual machine, waking an idle process costs CPU by itself: a
//! bare `SELECT 1` once a second costs about 0.45 ms of CPU, against
//! 0.06 ms at 100 per second. So the per-poll cost falls as the poll rate
//! rises, towards what a probe itself costs; the busy rows predict a prober
//! watching hundreds of servers (1,000 servers at 1 s polling is 1,000
//! polls per second).
//!
//! `cargo bench -p integration-tests --bench probe_cpu [-- SECONDS]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use integration_tests::process_cpu_time;
use orc_bus::{Bus, NatsBus, subjects};
use orc_model::InstanceKey;
use orc_proto::v1 as wire;
use orc_testkit::{NatsServer, SandboxBuilder};
use tokio_util::sync::CancellationToken;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(8);
    let nats = NatsServer::start().await?;
    println!(
        "prober CPU per instance poll (target <= 0.2 ms; orchestrator 3.2.6 on 5 instances at 1 s: 5-6.5 ms):"
    );
    for (replicas, intervals) in [
        (4usize, &[1000u64, 200, 50, 10][..]),
        (19, &[1000, 200][..]),
    ] {
        let sb = SandboxBuilder::master_with_replicas(replicas)
            .start()
            .await?;
        let keys: Vec<InstanceKey> = sb
            .instances()
            .iter()
            .map(|i| InstanceKey::parse(&i.key()))
            .collect::<Result<_, _>>()?;
        for &interval_ms in intervals {
            let (polls, cpu) =
                measure(&nats, &keys, Duration::from_millis(interval_ms), seconds).await?;
            let per_poll = cpu.as_secs_f64() * 1000.0 / polls.max(1) as f64;
            println!(
                "  {:>2} instances, poll every {interval_ms:>4} ms: {per_poll:.3} ms per poll ({polls} polls, {:.1} polls/s, {cpu:.1?} CPU)",
                keys.len(),
                polls as f64 / seconds as f64
            );
        }
    }
    Ok(())
}

async fn measure(
    nats: &NatsServer,
    keys: &[InstanceKey],
    interval: Duration,
    seconds: u64,
) -> anyhow::Result<(u64, Duration)> {
    let bus: Arc<dyn Bus> =
        Arc::new(NatsBus::connect(&nats.url(), "bench-prober", Duration::from_secs(5)).await?);
    let counter_bus =
        NatsBus::connect(&nats.url(), "bench-counter", Duration::from_secs(5)).await?;
    let (config, _) = orc_runtime::Config::load(None, &[])?;
    let mut cfg = prober::ProberConfig::from_config(&config);
    cfg.poll_interval = interval;
    cfg.user = orchestrator::sandbox::TOPOLOGY_USER.into();
    cfg.password = orchestrator::sandbox::TOPOLOGY_PASSWORD.into();
    let stop = CancellationToken::new();
    let prober = tokio::spawn(prober::run(cfg, bus.clone(), stop.clone()));
    let registry = wire::InstanceRegistry {
        analyzer_id: "bench".into(),
        generation: 1,
        keys: keys.iter().map(Into::into).collect(),
        sent_at_ms: 0,
    };
    // Stands in for the analyzer: the registry, once a second.
    let publisher = {
        let (bus, stop) = (bus.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let _ = bus
                    .publish(subjects::REGISTRY, orc_bus::encode(&registry))
                    .await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let count = Arc::new(AtomicU64::new(0));
    let mut sub = counter_bus.subscribe(subjects::SNAPSHOT).await?;
    let counted = count.clone();
    let counter = tokio::spawn(async move {
        while sub.next().await.is_some() {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, n0) = (process_cpu_time(), count.load(Ordering::Relaxed));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (cpu1, n1) = (process_cpu_time(), count.load(Ordering::Relaxed));
    stop.cancel();
    let _ = prober.await;
    counter.abort();
    publisher.abort();
    Ok((n1 - n0, cpu1 - cpu0))
}

//! Prints what a fleet past one analyzer costs, and how a sharded analyzer's
//! death is survived: a simulated fleet (fleet-sim, 30,000 servers by
//! default, clusters of 1 master + 3 replicas, every dialect in turn)
//! probed by 3 `orchestrator prober` processes and analysed by 2
//! `orchestrator analyzer` processes sharded by cluster
//! (`AnalyzerShardReplicas` 1), over a real nats-server, with the store on
//! a real MariaDB server, discovering the fleet from its masters.
//!
//! - discovery: time until the analyzers' registries name every server,
//!   each held by exactly one analyzer, and how the fleet is divided;
//! - per process, over a window of SECONDS: each prober's polls a second
//!   and CPU per poll, each analyzer's CPU per snapshot it received and its
//!   resident memory;
//! - one analyzer is killed (kill -9) and, at once, the master of a cluster
//!   it held crashes (the simulator refuses it): how long until the other
//!   analyzer's registry names every instance of the dead one, and until
//!   the crash is reported (`DeadMaster` on the findings subject), and how
//!   many findings of it there were (one incident expected).
//!
//! The poll interval is 10 s by default (`--poll S`): this 2-core machine
//! cannot also run 30,000 probes a second beside the simulator.
//!
//! The last line:
//! `shards: instances=N probers=3 analyzers=2 poll_s=P discovered_s=D held=A+B prober_cpu_ms_per_poll=X analyzer_cpu_ms_per_snapshot=Y analyzer_rss_mb=R1+R2 prober_rss_mb=Q moved_s=M finding_after_kill_s=F dead_master_findings=K`
//!
//! `cargo bench -p integration-tests --bench shards [-- [N] [--poll S] [--seconds S]]`
//! (builds the release `orchestrator` and `fleet-sim` binaries first).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use integration_tests::fleet::{FleetProcess, process_cpu, rss_mb};
use integration_tests::process::{Role, free_port, role, sample, scrape};
use orc_bus::{Bus, NatsBus, subjects};
use orc_proto::v1 as wire;
use orc_testkit::{NatsServer, SandboxBuilder};

const PROBERS: usize = 3;
const ANALYZERS: usize = 2;
/// The series counting the snapshots an analyzer received.
const SNAPSHOTS_RECEIVED: &str = "orchestrator_bus_lag_seconds_count{stream=\"snapshots\"}";

struct Member {
    process: Role,
    metrics: String,
}

impl Member {
    fn pid(&self) -> u32 {
        self.process.0.id()
    }

    async fn counter(&self, name: &str) -> f64 {
        scrape(&self.metrics)
            .await
            .map(|e| sample(&e, name))
            .unwrap_or(f64::NAN)
    }
}

/// Every analyzer's registry, by analyzer id: the keys it holds.
async fn registries(bus: &NatsBus) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut sub = bus.subscribe(subjects::REGISTRY).await?;
    bus.flush().await?;
    let _ = bus
        .request(
            subjects::REGISTRY_GET,
            orc_bus::encode(&wire::RegistryRequest {}),
            Duration::from_secs(5),
        )
        .await;
    let mut out = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, sub.next()).await {
        let reg = orc_bus::decode::<wire::InstanceRegistry>(&msg.subject, &msg.payload)?;
        let keys = keys_of(&reg);
        out.insert(reg.analyzer_id, keys);
    }
    Ok(out)
}

fn keys_of(reg: &wire::InstanceRegistry) -> BTreeSet<String> {
    reg.keys
        .iter()
        .map(|k| format!("{}:{}", k.hostname, k.port))
        .collect()
}

/// Whether a finding reports `master` dead.
fn is_dead(f: &wire::Finding, master: &str) -> bool {
    f.code == "DeadMaster"
        && f.instance
            .as_ref()
            .is_some_and(|k| format!("{}:{}", k.hostname, k.port) == master)
}

fn arg_after(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |flag: &str, default: u64| -> anyhow::Result<u64> {
        arg_after(&args, flag).map_or(Ok(default), |s| {
            s.parse()
                .with_context(|| format!("{flag} takes a number of seconds"))
        })
    };
    let seconds = number("--seconds", 30)?;
    let poll = number("--poll", 10)?;
    let n: usize = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || !args[i - 1].starts_with("--"))
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(30_000);
    integration_tests::build_release_binaries()?;
    let nats = NatsServer::start().await?;
    let backend = SandboxBuilder::new().master("backend").start().await?;
    let mut fleet = FleetProcess::start(n, 4, "all")?;
    let dir = tempfile::tempdir()?;
    let config = integration_tests::merged(
        serde_json::json!({
            "MySQLTopologyUser": "orchestrator",
            "MySQLTopologyPassword": "simulated",
            "InstancePollSeconds": poll,
            "HostnameResolveMethod": "none",
            "MySQLHostnameResolveMethod": "none",
            "NatsUrl": nats.url(),
            "DiscoverySeeds": fleet.masters,
            "RecoverMasterClusterFilters": [],
            "AnalyzerShardReplicas": 1,
            // 10,000 servers a prober: a standby connection each would pass
            // the open-files limit.
            "ProberStandbyConnections": false,
        }),
        integration_tests::mysql_backend(&backend),
    );
    let start = |name: &str, role_name: &str, extra: serde_json::Value| {
        let metrics = format!("127.0.0.1:{}", free_port());
        let mut c = integration_tests::merged(config.clone(), extra);
        c["MetricsListenAddress"] = metrics.clone().into();
        role(dir.path(), name, role_name, &c).map(|process| Member { process, metrics })
    };
    let mut analyzers = Vec::new();
    for i in 0..ANALYZERS {
        analyzers.push(start(
            &format!("analyzer-{i}"),
            "analyzer",
            serde_json::json!({}),
        )?);
    }
    let mut probers = Vec::new();
    for i in 0..PROBERS {
        probers.push(start(
            &format!("prober-{i}"),
            "prober",
            serde_json::json!({ "ProberId": format!("p{i}") }),
        )?);
    }
    let watcher = NatsBus::connect(&nats.url(), "bench-watcher", Duration::from_secs(5)).await?;

    // Discovery: every server held, each by one analyzer.
    let started = Instant::now();
    let held = loop {
        let regs = registries(&watcher).await?;
        let total: usize = regs.values().map(BTreeSet::len).sum();
        let union: BTreeSet<&String> = regs.values().flatten().collect();
        if regs.len() == ANALYZERS && union.len() == n && total == n {
            break regs;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the fleet was not discovered in 600 s: {} held of {n} ({} in all registries)",
            union.len(),
            total
        );
        eprintln!(
            "shards: {:.0?}: {} of {n} servers held ({:?})",
            started.elapsed(),
            union.len(),
            regs.values().map(BTreeSet::len).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    let discovered = started.elapsed();
    let split: Vec<usize> = held.values().map(BTreeSet::len).collect();
    eprintln!("shards: {n} servers discovered in {discovered:.1?}, held {split:?}");
    // Let a few polls go by before measuring.
    tokio::time::sleep(Duration::from_secs(poll * 2)).await;

    let mut before = Vec::new();
    for m in probers.iter().chain(&analyzers) {
        before.push((
            m.counter("orchestrator_probes_total").await,
            m.counter(SNAPSHOTS_RECEIVED).await,
            process_cpu(m.pid()),
        ));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let mut prober_cpu = Vec::new();
    let mut prober_polls = Vec::new();
    let mut analyzer_cpu = Vec::new();
    for (i, m) in probers.iter().chain(&analyzers).enumerate() {
        let (probes0, snaps0, cpu0) = before[i];
        let cpu = process_cpu(m.pid()).saturating_sub(cpu0).as_secs_f64() * 1000.0;
        if i < PROBERS {
            let polls = m.counter("orchestrator_probes_total").await - probes0;
            prober_polls.push(polls / elapsed);
            prober_cpu.push(cpu / polls.max(1.0));
        } else {
            let snaps = m.counter(SNAPSHOTS_RECEIVED).await - snaps0;
            analyzer_cpu.push(cpu / snaps.max(1.0));
        }
    }
    let analyzer_rss: Vec<f64> = analyzers.iter().map(|a| rss_mb(a.pid())).collect();
    let prober_rss: Vec<f64> = probers.iter().map(|p| rss_mb(p.pid())).collect();
    eprintln!(
        "shards: probers {:?} polls/s, {:?} ms CPU per poll, {:?} MB; analyzers {:?} ms CPU per snapshot, {:?} MB",
        prober_polls.iter().map(|v| v.round()).collect::<Vec<_>>(),
        prober_cpu
            .iter()
            .map(|v| (v * 10_000.0).round() / 10_000.0)
            .collect::<Vec<_>>(),
        prober_rss.iter().map(|v| v.round()).collect::<Vec<_>>(),
        analyzer_cpu
            .iter()
            .map(|v| (v * 10_000.0).round() / 10_000.0)
            .collect::<Vec<_>>(),
        analyzer_rss.iter().map(|v| v.round()).collect::<Vec<_>>(),
    );

    // Kill the analyzer holding the first master's cluster, and crash that
    // master at once.
    let regs = registries(&watcher).await?;
    let master = fleet.masters.first().context("a master")?.clone();
    let (victim_id, orphans) = regs
        .iter()
        .find(|(_, keys)| keys.contains(&master))
        .map(|(id, keys)| (id.clone(), keys.clone()))
        .context("an analyzer holds the first master")?;
    let victim = analyzers
        .iter()
        .position(|a| victim_id == format!("analyzer-{}", a.pid()))
        .context("the holder is one of ours")?;
    let mut victim = analyzers.remove(victim);
    let survivor_rss_before = analyzers.iter().map(|a| rss_mb(a.pid())).sum::<f64>();
    let mut registry_sub = watcher.subscribe(subjects::REGISTRY).await?;
    let mut findings = watcher.subscribe(subjects::FINDINGS).await?;
    watcher.flush().await?;
    victim.process.0.kill()?;
    let killed = Instant::now();
    fleet.command(&format!("die {master}"))?;
    let _ = victim.process.0.wait();
    let mut moved = None;
    let mut found = None;
    let mut incidents = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while (moved.is_none() || found.is_none()) && tokio::time::Instant::now() < deadline {
        tokio::select! {
            m = registry_sub.next() => {
                let Some(m) = m else { break };
                let reg = orc_bus::decode::<wire::InstanceRegistry>(&m.subject, &m.payload)?;
                if reg.analyzer_id != victim_id && moved.is_none() && orphans.is_subset(&keys_of(&reg)) {
                    moved = Some(killed.elapsed());
                }
            }
            m = findings.next() => {
                let Some(m) = m else { break };
                let f = orc_bus::decode::<wire::Finding>(&m.subject, &m.payload)?;
                if is_dead(&f, &master) {
                    incidents.insert(f.incident_id.clone());
                    found.get_or_insert(killed.elapsed());
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    // Late duplicates of the finding, if any, arrive meanwhile.
    let settle = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(m)) = tokio::time::timeout_at(settle, findings.next()).await {
        if let Ok(f) = orc_bus::decode::<wire::Finding>(&m.subject, &m.payload)
            && is_dead(&f, &master)
        {
            incidents.insert(f.incident_id);
        }
    }
    let survivor_rss = analyzers.iter().map(|a| rss_mb(a.pid())).sum::<f64>();
    let secs = |d: Option<Duration>| {
        d.map_or_else(|| "none".to_string(), |d| format!("{:.2}", d.as_secs_f64()))
    };
    eprintln!(
        "shards: analyzer {victim_id} killed with {} servers: held by the other after {} s; the crash of {master} reported after {} s ({} incident(s)); survivor RSS {survivor_rss_before:.0} → {survivor_rss:.0} MB",
        orphans.len(),
        secs(moved),
        secs(found),
        incidents.len()
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let joined = |v: &[f64], digits: usize| {
        v.iter()
            .map(|x| format!("{x:.digits$}"))
            .collect::<Vec<_>>()
            .join("+")
    };
    println!(
        "shards: instances={n} probers={PROBERS} analyzers={ANALYZERS} poll_s={poll} discovered_s={:.1} held={} prober_cpu_ms_per_poll={:.4} analyzer_cpu_ms_per_snapshot={:.4} analyzer_rss_mb={} prober_rss_mb={} moved_s={} finding_after_kill_s={} dead_master_findings={}",
        discovered.as_secs_f64(),
        split
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("+"),
        mean(&prober_cpu),
        mean(&analyzer_cpu),
        joined(&analyzer_rss, 0),
        joined(&prober_rss, 0),
        secs(moved),
        secs(found),
        incidents.len()
    );
    Ok(())
}

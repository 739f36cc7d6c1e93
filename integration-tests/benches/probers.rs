//! Prints what horizontal probing costs and how it survives a prober's
//! death: 1, 2 and 4 `orchestrator prober` processes over a real
//! nats-server share a simulated fleet (fleet-sim, 10,000 servers by
//! default, clusters of 1 master + 3 replicas, every dialect in turn, 1 s
//! poll), with one `orchestrator analyzer` process (embedded SQLite store)
//! discovering the fleet from its masters.
//!
//! For each prober count, once every server is probed at least every 2 s
//! (or after 120 s of trying, reported as `pN_settled=false`):
//! - throughput and CPU: each prober's polls a second
//!   (`orchestrator_probes_total` on its `MetricsListenAddress`) and its
//!   process CPU time per poll, over a window of SECONDS;
//! - with two or more probers, one is killed (kill -9) and, for 15 s,
//!   fleet-sim measures how long each server went unprobed (its own
//!   clock, on the statements it receives, the time since the last probe
//!   included): the longest gap, and how many servers went unprobed for
//!   more than 2 s (the target is none).
//!
//! The last line:
//! `probers: instances=N p1_settled=true p1_polls_s=... p1_cpu_ms_per_poll=... p2_... p2_kill_max_gap_s=... p2_kill_over_2s=K ...`
//!
//! `cargo bench -p integration-tests --bench probers [-- [N] [--probers 1,2,4] [--seconds S]]`
//! (builds the release `orchestrator` and `fleet-sim` binaries first).

use std::time::{Duration, Instant};

use anyhow::Context;
use integration_tests::fleet::{FleetProcess, ProbeGaps, process_cpu};
use integration_tests::process::{Role, free_port, role, sample, scrape};
use orc_testkit::NatsServer;

struct Prober {
    process: Role,
    metrics: String,
}

async fn probes(p: &Prober) -> f64 {
    scrape(&p.metrics)
        .await
        .map(|e| sample(&e, "orchestrator_probes_total"))
        .unwrap_or(f64::NAN)
}

/// What one prober count measured.
struct Figures {
    probers: usize,
    /// Whether every server was probed within 2 s before the window.
    settled: bool,
    /// Polls a second, per prober.
    polls_per_s: Vec<f64>,
    /// CPU per poll, per prober.
    cpu_ms_per_poll: Vec<f64>,
    /// After one prober's death: the longest gap and how many servers went
    /// unprobed over 2 s.
    kill: Option<(Duration, usize)>,
}

/// Waits (at most `within`) until every server has been probed within 2 s,
/// over a 3 s look; returns whether it happened and the last look.
async fn settle(fleet: &mut FleetProcess, within: Duration) -> anyhow::Result<(bool, ProbeGaps)> {
    let started = Instant::now();
    loop {
        fleet.reset_gaps()?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let gaps = fleet.gaps()?;
        if gaps.over_2s == 0 {
            return Ok((true, gaps));
        }
        if started.elapsed() >= within {
            return Ok((false, gaps));
        }
    }
}

async fn run(nats: &NatsServer, n: usize, count: usize, seconds: u64) -> anyhow::Result<Figures> {
    let mut fleet = FleetProcess::start(n, 4, "all")?;
    let dir = tempfile::tempdir()?;
    let config = serde_json::json!({
        "MySQLTopologyUser": "orchestrator",
        "MySQLTopologyPassword": "simulated",
        "InstancePollSeconds": 1,
        "HostnameResolveMethod": "none",
        "MySQLHostnameResolveMethod": "none",
        "NatsUrl": nats.url(),
        "SQLite3DataFile": dir.path().join("orchestrator.sqlite3"),
        "DiscoverySeeds": fleet.masters,
        "RecoverMasterClusterFilters": [],
    });
    let mut probers = Vec::new();
    for i in 0..count {
        let metrics = format!("127.0.0.1:{}", free_port());
        let mut c = config.clone();
        c["ProberId"] = format!("p{i}").into();
        c["MetricsListenAddress"] = metrics.clone().into();
        probers.push(Prober {
            process: role(dir.path(), &format!("prober-{i}"), "prober", &c)?,
            metrics,
        });
    }
    let _analyzer = role(dir.path(), "analyzer", "analyzer", &config)?;
    let started = Instant::now();
    let (settled, gaps) = settle(&mut fleet, Duration::from_secs(120)).await?;
    if settled {
        eprintln!(
            "probers {count}: every one of {n} servers probed within 2 s after {:.1?}",
            started.elapsed()
        );
    } else {
        eprintln!(
            "probers {count}: after {:.1?}, {} of {} servers still go unprobed for over 2 s; measuring anyway",
            started.elapsed(),
            gaps.over_2s,
            gaps.servers
        );
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut before = Vec::new();
    for p in &probers {
        before.push((probes(p).await, process_cpu(p.process.0.id())));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let mut polls_per_s = Vec::new();
    let mut cpu_ms_per_poll = Vec::new();
    for (p, (probes0, cpu0)) in probers.iter().zip(before) {
        let polls = probes(p).await - probes0;
        let cpu = process_cpu(p.process.0.id()).saturating_sub(cpu0);
        polls_per_s.push(polls / elapsed);
        cpu_ms_per_poll.push(cpu.as_secs_f64() * 1000.0 / polls.max(1.0));
    }
    eprintln!(
        "probers {count}: polls/s {:?}, CPU ms per poll {:?}",
        polls_per_s.iter().map(|v| v.round()).collect::<Vec<_>>(),
        cpu_ms_per_poll
            .iter()
            .map(|v| (v * 10_000.0).round() / 10_000.0)
            .collect::<Vec<_>>()
    );

    let kill = if count >= 2 {
        fleet.reset_gaps()?;
        let mut victim = probers.pop().context("a prober")?;
        victim.process.0.kill()?;
        let _ = victim.process.0.wait();
        tokio::time::sleep(Duration::from_secs(15)).await;
        let gaps = fleet.gaps()?;
        eprintln!(
            "probers {count}: one killed: over the next 15 s the longest gap was {:?}; {} of {} servers unprobed for over 2 s",
            gaps.max, gaps.over_2s, gaps.servers
        );
        Some((gaps.max, gaps.over_2s))
    } else {
        None
    };
    Ok(Figures {
        probers: count,
        settled,
        polls_per_s,
        cpu_ms_per_poll,
        kill,
    })
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
    let seconds: u64 = match arg_after(&args, "--seconds") {
        Some(s) => s.parse().context("--seconds takes a number")?,
        None => 20,
    };
    let counts: Vec<usize> = match arg_after(&args, "--probers") {
        Some(s) => s
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .context("--probers takes counts like 1,2,4")
            })
            .collect::<anyhow::Result<_>>()?,
        None => vec![1, 2, 4],
    };
    let n: usize = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || !args[i - 1].starts_with("--"))
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(10_000);
    anyhow::ensure!(
        counts.iter().all(|&c| c >= 1),
        "--probers: every count must be at least 1"
    );
    integration_tests::build_release_binaries()?;
    let nats = NatsServer::start().await?;
    let mut fields = vec![format!("instances={n}")];
    for count in counts {
        let f = run(&nats, n, count, seconds).await?;
        let p = f.probers;
        let total: f64 = f.polls_per_s.iter().sum();
        let cpu = f.cpu_ms_per_poll.iter().copied().fold(0.0, f64::max);
        println!(
            "probers {p}: {total:.0} polls/s in all ({}), worst CPU per poll {cpu:.4} ms",
            f.polls_per_s
                .iter()
                .map(|v| format!("{v:.0}"))
                .collect::<Vec<_>>()
                .join(" + ")
        );
        if !f.settled {
            println!(
                "probers {p}: the fleet was never all probed within 2 s (figures under overload)"
            );
        }
        fields.push(format!("p{p}_settled={}", f.settled));
        fields.push(format!("p{p}_polls_s={total:.0}"));
        fields.push(format!("p{p}_cpu_ms_per_poll={cpu:.4}"));
        if let Some((gap, over)) = f.kill {
            println!(
                "probers {p}: one killed: longest gap {:.2} s, {over} servers unprobed over 2 s (target: none)",
                gap.as_secs_f64()
            );
            fields.push(format!("p{p}_kill_max_gap_s={:.2}", gap.as_secs_f64()));
            fields.push(format!("p{p}_kill_over_2s={over}"));
        }
    }
    println!("probers: {}", fields.join(" "));
    Ok(())
}

//! Prints what one all-in-one `orchestrator serve` costs and how fresh it
//! stays over a simulated fleet of 1,000 and 10,000 servers (fleet-sim:
//! clusters of 1 master + 3 replicas, MariaDB and MySQL 5.7/8.0/8.4 in
//! turn, a 1 s poll interval, the embedded SQLite backend).
//!
//! For each size: the fleet is discovered from its masters
//! (`DiscoverySeeds`), then, after a warm-up, over a window of SECONDS:
//! - staleness: the age of each server's newest snapshot as the analyzer
//!   reads it (its `orchestrator_snapshot_staleness_seconds` histogram,
//!   p99 interpolated within buckets);
//! - CPU per instance poll: CPU time of the process (and of its
//!   `orc-prober` thread alone) divided by the polls it made.
//!
//! Then, over another window (at most 20 s), `/api/cluster/...` latency
//! under that load, about 20 requests a second, and resident memory.
//! Then CRASHES masters, one at a time, are killed (connections refused,
//! open ones closed, their replicas' I/O threads failing, as after
//! kill -9) and `/api/replication-analysis/<cluster>` is polled until it
//! shows `DeadMaster`: simulated crash → finding (a crash not reported
//! within 30 s counts as 30 s).
//!
//! The last line of each size:
//! `scale: instances=N staleness_p99_s=X prober_cpu_ms_per_poll=Y process_cpu_ms_per_poll=P rss_mb=Z finding_p99_ms=W api_p99_ms=V`
//!
//! `cargo bench -p integration-tests --bench scale [-- [N ...] [--seconds S] [--crashes C]]`
//! (builds the release `orchestrator` and `fleet-sim` binaries first).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use integration_tests::fleet::{
    FleetProcess, percentile, process_cpu, quantile_between, rss_mb, thread_cpu,
};
use integration_tests::process::{sample, scrape};

/// How long a crash may go unreported before it counts as missed.
const CRASH_WAIT: Duration = Duration::from_secs(30);

/// The all-in-one process, killed when dropped.
struct Orc {
    child: Child,
    api: String,
}

impl Drop for Orc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_orc(dir: &std::path::Path, config: &serde_json::Value) -> anyhow::Result<Orc> {
    use std::io::BufRead as _;
    let conf = dir.join("orchestrator.conf.json");
    std::fs::write(&conf, config.to_string())?;
    let mut child = Command::new(integration_tests::workspace_binary("orchestrator"))
        .arg("--config")
        .arg(&conf)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("ORC_BENCH_TRACE").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()?;
    let out = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line)?;
    let api = line
        .trim()
        .trim_start_matches("orchestrator: HTTP API on ")
        .trim_end_matches("/api")
        .to_string();
    anyhow::ensure!(
        api.starts_with("http"),
        "orchestrator did not start: {line:?}"
    );
    Ok(Orc { child, api })
}

async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<(u16, String)> {
    let r = http.get(url).send().await?;
    let status = r.status().as_u16();
    Ok((status, r.text().await?))
}

async fn known_instances(http: &reqwest::Client, api: &str) -> usize {
    let Ok((200, body)) = get(http, &format!("{api}/api/clusters-info")).await else {
        return 0;
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["CountInstances"].as_u64().unwrap_or(0) as usize)
                .sum()
        })
        .unwrap_or(0)
}

struct Figures {
    instances: usize,
    discover: Duration,
    staleness_p99: f64,
    prober_ms: f64,
    process_ms: f64,
    rss: f64,
    finding_p99: Duration,
    finding_median: Duration,
    api_p99: Duration,
    api_median: Duration,
    polls_per_s: f64,
}

async fn run(n: usize, seconds: u64, crashes: usize) -> anyhow::Result<Figures> {
    let mut fleet = FleetProcess::start(n, 4, "all")?;
    let dir = tempfile::tempdir()?;
    let config = serde_json::json!({
        "MySQLTopologyUser": "orchestrator",
        "MySQLTopologyPassword": "simulated",
        "InstancePollSeconds": 1,
        "ListenAddress": "127.0.0.1:0",
        "GrpcListenAddress": "127.0.0.1:0",
        "HostnameResolveMethod": "none",
        "MySQLHostnameResolveMethod": "none",
        "SQLite3DataFile": dir.path().join("orchestrator.sqlite3"),
        "DiscoverySeeds": fleet.masters,
        "RecoverMasterClusterFilters": [],
    });
    let orc = start_orc(dir.path(), &config)?;
    let pid = orc.child.id();
    let http = integration_tests::pki::http_client();
    let api = orc.api.clone();

    // Discovered: every server is probed (the prober learns them from the
    // analyzer's registry). Read from /metrics: cheap, unlike the API.
    let metrics = api.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let mut probed = 0.0;
    while probed < n as f64 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {probed} of {n} servers discovered in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        probed = scrape(&metrics)
            .await
            .map(|m| sample(&m, "orchestrator_instances_probed"))
            .unwrap_or(0.0);
    }
    // And stored: what the API shows.
    let mut known = 0;
    while known < n {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "{known} servers in /api/clusters-info, {n} simulated"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        known = known_instances(&http, &api).await;
    }
    let discover = started.elapsed();
    eprintln!("scale {n}: every server known after {discover:.1?}; warming up");
    tokio::time::sleep(Duration::from_secs(10)).await;

    // CPU, polls and staleness over a window with nothing else asked.
    let before = scrape(&metrics).await?;
    let (cpu0, prober0) = (process_cpu(pid), thread_cpu(pid, "orc-prober"));
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = window.elapsed().as_secs_f64();
    let (cpu1, prober1) = (process_cpu(pid), thread_cpu(pid, "orc-prober"));
    let after = scrape(&metrics).await?;
    let polls =
        sample(&after, "orchestrator_probes_total") - sample(&before, "orchestrator_probes_total");
    anyhow::ensure!(polls > 0.0, "no polls counted");
    let per_poll = |d: Duration| d.as_secs_f64() * 1000.0 / polls;
    let staleness_p99 = quantile_between(
        &before,
        &after,
        "orchestrator_snapshot_staleness_seconds",
        0.99,
    )
    .unwrap_or(f64::NAN);

    // Then the API, read as a dashboard would while the fleet is probed.
    let mut api_latencies = Vec::new();
    let reading = Instant::now();
    let mut k = 0usize;
    while reading.elapsed() < Duration::from_secs(seconds.min(20)) {
        let cluster = &fleet.masters[(k * 7919) % fleet.masters.len()];
        k += 1;
        let t = Instant::now();
        let (status, _) = get(&http, &format!("{api}/api/cluster/{cluster}")).await?;
        api_latencies.push(t.elapsed());
        anyhow::ensure!(status == 200, "/api/cluster/{cluster} answered {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss = rss_mb(pid);
    eprintln!(
        "scale {n}: window: {:.0} polls/s, staleness p99 {staleness_p99:.2} s, CPU per poll: prober {:.4} ms, process {:.4} ms, RSS {rss:.0} MB, /api/cluster p99 {:.1} ms",
        polls / elapsed,
        per_poll(prober1.saturating_sub(prober0)),
        per_poll(cpu1.saturating_sub(cpu0)),
        percentile(&mut api_latencies.clone(), 99.0).as_secs_f64() * 1000.0
    );

    let mut findings = Vec::new();
    for c in 0..crashes {
        let master = fleet.masters[(c * 104_729 + 13) % fleet.masters.len()].clone();
        fleet.command(&format!("die {master}"))?;
        let killed = Instant::now();
        let url = format!("{api}/api/replication-analysis/{master}");
        loop {
            let (_, body) = get(&http, &url).await?;
            if body.contains("\"DeadMaster\"") {
                findings.push(killed.elapsed());
                break;
            }
            if killed.elapsed() >= CRASH_WAIT {
                // Counted at the wait, so the percentiles show the miss.
                eprintln!("scale {n}: {master}: no DeadMaster {CRASH_WAIT:?} after its crash");
                findings.push(CRASH_WAIT);
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        fleet.command(&format!("up {master}"))?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    Ok(Figures {
        instances: n,
        discover,
        staleness_p99,
        prober_ms: per_poll(prober1.saturating_sub(prober0)),
        process_ms: per_poll(cpu1.saturating_sub(cpu0)),
        rss,
        finding_p99: percentile(&mut findings.clone(), 99.0),
        finding_median: percentile(&mut findings, 50.0),
        api_p99: percentile(&mut api_latencies.clone(), 99.0),
        api_median: percentile(&mut api_latencies, 50.0),
        polls_per_s: polls / elapsed,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut sizes = Vec::new();
    let (mut seconds, mut crashes) = (30u64, 20usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().context("--seconds N")?.parse()?,
            "--crashes" => crashes = args.next().context("--crashes N")?.parse()?,
            "--bench" => {}
            other => sizes.push(
                other
                    .parse::<usize>()
                    .with_context(|| format!("`{other}`"))?,
            ),
        }
    }
    if sizes.is_empty() {
        sizes = vec![1000, 10_000];
    }
    integration_tests::build_release_binaries()?;
    let limit = fleet_sim::raise_open_files_limit();
    eprintln!("open files limit: {limit}");
    for n in sizes {
        let f = run(n, seconds, crashes).await?;
        println!(
            "scale {}: discovered in {:.1} s; {:.0} polls/s; staleness p99 {:.2} s; CPU per poll: prober {:.4} ms, process {:.4} ms; RSS {:.0} MB; crash -> DeadMaster median {} ms, p99 {} ms; /api/cluster median {:.2} ms, p99 {:.2} ms",
            f.instances,
            f.discover.as_secs_f64(),
            f.polls_per_s,
            f.staleness_p99,
            f.prober_ms,
            f.process_ms,
            f.rss,
            f.finding_median.as_millis(),
            f.finding_p99.as_millis(),
            f.api_median.as_secs_f64() * 1000.0,
            f.api_p99.as_secs_f64() * 1000.0,
        );
        println!(
            "scale: instances={} staleness_p99_s={:.2} prober_cpu_ms_per_poll={:.4} process_cpu_ms_per_poll={:.4} rss_mb={:.0} finding_p99_ms={} api_p99_ms={:.2}",
            f.instances,
            f.staleness_p99,
            f.prober_ms,
            f.process_ms,
            f.rss,
            f.finding_p99.as_millis(),
            f.api_p99.as_secs_f64() * 1000.0,
        );
    }
    Ok(())
}

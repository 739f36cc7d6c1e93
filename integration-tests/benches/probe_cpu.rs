//! Prints the CPU time the prober process spends per instance poll.
//!
//! The prober runs alone in a child process (this binary, started again in
//! prober mode: what `orchestrator prober --nats URL` runs, on the runtime
//! it runs on, and nothing else), against a real
//! 1 master + 4 replica sandbox (then 1 + 19) and a real nats-server. This
//! process plays the analyzer's part on the bus (the instance registry at
//! the analyzer's pace, and at once to a prober that asks) and counts the
//! snapshots. For several poll intervals, after a warm-up, the child's CPU
//! time (user + system, every thread, from the scheduler's precise
//! accounting, read by the child itself when asked) is divided by the
//! number of snapshots it published, in three windows; the median is printed with the range, because a
//! virtual machine's neighbours can slow everything for seconds at a time.
//!
//! On this virtual machine, waking an idle process costs CPU by itself: a
//! bare `SELECT 1` once a second costs about 0.45 ms of CPU, against
//! 0.06 ms at 100 per second. So the per-poll cost falls as the poll rate
//! rises, towards what a probe itself costs; the busy rows predict a prober
//! watching hundreds of servers (1,000 servers at 1 s polling is 1,000
//! polls per second).
//!
//! `cargo bench -p integration-tests --bench probe_cpu [-- SECONDS] [N@MS ...]`
//!
//! `N@MS` runs only the rows of N instances polled every MS milliseconds
//! (`5@1000` is the row orchestrator's figure compares with);
//! `ORC__<Key>=<value>` variables set configuration keys of the measured
//! prober, as they do for `orchestrator`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use integration_tests::process_cpu_time;
use orc_bus::{Bus, NatsBus, subjects};
use orc_model::InstanceKey;
use orc_proto::v1 as wire;
use orc_testkit::{NatsServer, SandboxBuilder};
use tokio_util::sync::CancellationToken;

/// The argument that starts this binary as the measured prober.
const CHILD: &str = "--prober-child";

/// Measurement windows per row; the median one is reported.
const WINDOWS: usize = 3;

// The child runs on a single-threaded runtime, as `orchestrator prober` does.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == CHILD) {
        let url = args.get(at + 1).context("nats url")?;
        let interval_ms: u64 = args.get(at + 2).context("interval")?.parse()?;
        return prober_child(url, Duration::from_millis(interval_ms)).await;
    }
    let seconds: u64 = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    // `N@MS` arguments pick rows: N instances polled every MS milliseconds.
    let picked: Vec<(usize, u64)> = args
        .iter()
        .skip(1)
        .filter_map(|a| {
            let (n, ms) = a.split_once('@')?;
            Some((n.parse().ok()?, ms.parse().ok()?))
        })
        .collect();
    let nats = NatsServer::start().await?;
    println!(
        "prober CPU per instance poll (target <= 0.2 ms; orchestrator 3.2.6 on 5 instances at 1 s: 5-6.5 ms):"
    );
    let mut rows = Vec::new();
    for (replicas, intervals) in [
        (4usize, &[1000u64, 200, 50, 10][..]),
        (19, &[1000, 200][..]),
    ] {
        if !picked.is_empty() && !picked.iter().any(|&(n, _)| n == replicas + 1) {
            continue;
        }
        let sb = SandboxBuilder::master_with_replicas(replicas)
            .start()
            .await?;
        let keys: Vec<InstanceKey> = sb
            .instances()
            .iter()
            .map(|i| InstanceKey::parse(&i.key()))
            .collect::<Result<_, _>>()?;
        for &interval_ms in intervals {
            if !picked.is_empty() && !picked.contains(&(replicas + 1, interval_ms)) {
                continue;
            }
            let mut windows = measure(&nats, &keys, interval_ms, seconds).await?;
            let per_poll =
                |(polls, cpu): (u64, Duration)| cpu.as_secs_f64() * 1000.0 / polls.max(1) as f64;
            windows.sort_by(|a, b| per_poll(*a).total_cmp(&per_poll(*b)));
            let (lo, hi) = (windows[0], windows[WINDOWS - 1]);
            let (polls, cpu) = windows[WINDOWS / 2];
            println!(
                "  {:>2} instances, poll every {interval_ms:>4} ms: {:.3} ms per poll (median of {WINDOWS} windows of {seconds} s, range {:.3}-{:.3}; {polls} polls, {:.1} polls/s, {cpu:.1?} CPU)",
                keys.len(),
                per_poll((polls, cpu)),
                per_poll(lo),
                per_poll(hi),
                polls as f64 / seconds as f64
            );
            rows.push(format!(
                "ms_per_poll_{}at{interval_ms}={:.3}",
                keys.len(),
                per_poll((polls, cpu))
            ));
        }
    }
    println!("probe_cpu: {}", rows.join(" "));
    Ok(())
}

/// The measured process: a prober and nothing else. Each line on stdin asks
/// for the process's CPU time so far (nanoseconds, one line on stdout);
/// end of input stops it.
async fn prober_child(url: &str, interval: Duration) -> anyhow::Result<()> {
    orc_runtime::init_tracing();
    // `ORC__<Key>` variables set configuration keys, as for `orchestrator`.
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (mut config, _) = orc_runtime::Config::load(None, &env)?;
    config.instance_poll_seconds = interval.as_secs_f64();
    config.mysql_topology_user = orchestrator::sandbox::TOPOLOGY_USER.into();
    config.mysql_topology_password = orchestrator::sandbox::TOPOLOGY_PASSWORD.into();
    let stop = CancellationToken::new();
    // What `orchestrator prober --nats URL` runs.
    let prober_only = orchestrator::roles::Roles {
        prober: true,
        analyzer: false,
        recovery: false,
        gateway: false,
    };
    let prober = tokio::spawn(orchestrator::roles::run(
        config,
        prober_only,
        Some(url.to_string()),
        stop.clone(),
        |_| {},
    ));
    // A plain thread blocked on stdin: no wake-ups while it waits.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.is_err() || tx.send(()).is_err() {
                break;
            }
        }
    });
    while rx.recv().await.is_some() {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", process_cpu_time().as_nanos())?;
        out.flush()?;
    }
    stop.cancel();
    let _ = prober.await;
    Ok(())
}

/// The child prober's pipes.
struct ChildProber {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ChildProber {
    fn start(url: &str, interval_ms: u64) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([CHILD, url, &interval_ms.to_string()])
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("child stdout")?);
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// The child's CPU time so far.
    fn cpu(&mut self) -> anyhow::Result<Duration> {
        let stdin = self.stdin.as_mut().context("child stdin")?;
        writeln!(stdin)?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        Ok(Duration::from_nanos(line.trim().parse()?))
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for ChildProber {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls and child CPU time in each of [`WINDOWS`] windows of `seconds`.
async fn measure(
    nats: &NatsServer,
    keys: &[InstanceKey],
    interval_ms: u64,
    seconds: u64,
) -> anyhow::Result<[(u64, Duration); WINDOWS]> {
    let bus = NatsBus::connect(&nats.url(), "bench-analyzer", Duration::from_secs(5)).await?;
    let mut sub = bus.subscribe(subjects::SNAPSHOTS).await?;
    bus.flush().await?;
    let mut child = ChildProber::start(&nats.url(), interval_ms)?;
    let registry = wire::InstanceRegistry {
        analyzer_id: "bench".into(),
        generation: 1,
        keys: keys.iter().map(Into::into).collect(),
        sent_at_ms: 0,
        ..Default::default()
    };
    let stop = CancellationToken::new();
    // Stands in for the analyzer: the registry, at the analyzer's pace.
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (config, _) = orc_runtime::Config::load(None, &env)?;
    let every = analyzer::AnalyzerConfig::from_config(&config).registry_interval;
    let mut asked = bus.subscribe(subjects::REGISTRY_GET).await?;
    bus.flush().await?;
    let publisher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let payload = orc_bus::encode(&registry);
            while !stop.is_cancelled() {
                let _ = bus.publish(subjects::REGISTRY, payload.clone()).await;
                // As the analyzer does: a prober that asks is answered at once.
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    Some(msg) = asked.next() => {
                        let _ = bus.respond(&msg, payload.clone()).await;
                    }
                }
            }
        })
    };
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let counter = tokio::spawn(async move {
        while sub.next().await.is_some() {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut windows = [(0, Duration::ZERO); WINDOWS];
    let (mut cpu0, mut n0) = (child.cpu()?, count.load(Ordering::Relaxed));
    for window in &mut windows {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let (cpu1, n1) = (child.cpu()?, count.load(Ordering::Relaxed));
        *window = (n1 - n0, cpu1.saturating_sub(cpu0));
        (cpu0, n0) = (cpu1, n1);
    }
    stop.cancel();
    child.stop();
    counter.abort();
    publisher.abort();
    Ok(windows)
}

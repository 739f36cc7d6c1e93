//! `fleet-sim --instances N [--first F] [--cluster-size S] [--port P] [--dialects D,...] [--writes-per-second W]`
//!
//! Starts the simulated fleet, prints one JSON line
//! `{"ready":true,"instances":N,"port":P,"masters":["127.1.0.1:P",...]}`,
//! then reads commands on stdin (one per line, see `fleet_sim::Command`)
//! and answers each with `ok` or `error: ...`. `stats` prints
//! `statements=N`; `gaps reset` starts measuring how long servers go
//! unprobed, and `gaps` prints
//! `gaps servers=N max_ms=M p99_ms=P over_2s=K` (servers that are up; a
//! server nobody probes any more counts with its growing gap). It stops at
//! the end of stdin.

use std::io::Write;

use anyhow::{Context, bail};
use fleet_sim::{Command, Dialect, FleetSpec, Simulator};
use tokio::io::AsyncBufReadExt;

/// The simulator shares the machine with what it measures: the cheaper its
/// allocations, the more CPU is left for the measured processes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn parse_args() -> anyhow::Result<FleetSpec> {
    let mut spec = FleetSpec::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--instances" => spec.instances = value()?.parse().context("--instances")?,
            "--cluster-size" => spec.cluster_size = value()?.parse().context("--cluster-size")?,
            "--port" => spec.port = value()?.parse().context("--port")?,
            "--first" => spec.first = value()?.parse().context("--first")?,
            "--writes-per-second" => {
                spec.writes_per_second = value()?.parse().context("--writes-per-second")?;
            }
            "--dialects" => {
                let v = value()?;
                spec.dialects = if v == "all" {
                    Dialect::ALL.to_vec()
                } else {
                    v.split(',')
                        .map(|d| {
                            Dialect::parse(d).with_context(|| {
                                format!(
                                    "`{d}`: dialects are mariadb, mysql57, mysql80, mysql84, all"
                                )
                            })
                        })
                        .collect::<anyhow::Result<_>>()?
                };
            }
            other => bail!("unknown argument `{other}`"),
        }
    }
    if spec.cluster_size == 0 {
        bail!("--cluster-size must be at least 1");
    }
    Ok(spec)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let spec = parse_args()?;
    let sim = Simulator::start(spec).await?;
    let masters: Vec<String> =
        sim.with(|f| f.masters().into_iter().filter_map(|i| f.key(i)).collect());
    let ready = serde_json::json!({
        "ready": true,
        "instances": sim.len(),
        "port": sim.port(),
        "masters": masters,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{ready}")?;
    out.flush()?;
    drop(out);
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let answer = if line == "stats" {
            format!("statements={}", sim.with(fleet_sim::Fleet::statements))
        } else if line == "gaps reset" {
            sim.with_mut(fleet_sim::Fleet::reset_gaps);
            "ok".to_string()
        } else if line == "gaps" {
            let mut gaps = sim.with(|f| f.probe_gaps());
            gaps.sort_unstable();
            let max = gaps.last().copied().unwrap_or_default();
            let p99 = gaps
                .get((gaps.len() * 99 / 100).min(gaps.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default();
            let over = gaps.iter().filter(|g| g.as_secs_f64() > 2.0).count();
            format!(
                "gaps servers={} max_ms={} p99_ms={} over_2s={over}",
                gaps.len(),
                max.as_millis(),
                p99.as_millis()
            )
        } else {
            match sim
                .with(|f| Command::parse(line, f))
                .and_then(|c| sim.command(&c))
            {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("error: {e}"),
            }
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

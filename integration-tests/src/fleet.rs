//! Driving a simulated fleet (`fleet-sim`) and measuring `orchestrator`
//! processes from outside: CPU time, resident memory, histogram quantiles.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

/// Servers one simulator process serves at most: each holds a listener and
/// the probes' connections, under the open-files limit.
const PER_PROCESS: usize = 4000;

/// A simulated fleet served by `fleet-sim` child processes (one per 4,000
/// servers), stopped when dropped.
pub struct FleetProcess {
    shards: Vec<Shard>,
    /// `host:port` of every cluster's master, in fleet order.
    pub masters: Vec<String>,
    /// The port every simulated server listens on.
    pub port: u16,
}

struct Shard {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Fleet-wide numbers of its servers.
    range: std::ops::Range<usize>,
}

impl FleetProcess {
    /// Starts `instances` simulated servers in clusters of `cluster_size`,
    /// cycling through `dialects` (`all`, or e.g. `mariadb,mysql80`).
    pub fn start(instances: usize, cluster_size: usize, dialects: &str) -> anyhow::Result<Self> {
        let port = crate::process::free_port();
        let per = (PER_PROCESS / cluster_size.max(1)).max(1) * cluster_size.max(1);
        let mut shards = Vec::new();
        let mut masters = Vec::new();
        let mut first = 0;
        while first < instances {
            let count = per.min(instances - first);
            let mut child = Command::new(crate::workspace_binary("fleet-sim"))
                .args(["--instances", &count.to_string()])
                .args(["--first", &first.to_string()])
                .args(["--cluster-size", &cluster_size.to_string()])
                .args(["--port", &port.to_string()])
                .args(["--dialects", dialects])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .context("starting fleet-sim (built with `cargo build --release -p fleet-sim`?)")?;
            let stdin = child.stdin.take().context("fleet-sim stdin")?;
            let mut stdout = BufReader::new(child.stdout.take().context("fleet-sim stdout")?);
            let mut line = String::new();
            stdout.read_line(&mut line)?;
            let ready: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("fleet-sim did not start: {line:?}"))?;
            masters.extend(
                ready["masters"]
                    .as_array()
                    .context("fleet-sim: no masters")?
                    .iter()
                    .filter_map(|m| m.as_str().map(str::to_string)),
            );
            shards.push(Shard {
                child,
                stdin,
                stdout,
                range: first..first + count,
            });
            first += count;
        }
        Ok(Self {
            shards,
            masters,
            port,
        })
    }

    /// Process ids of the simulator processes.
    pub fn pids(&self) -> Vec<u32> {
        self.shards.iter().map(|s| s.child.id()).collect()
    }

    /// Sends one command naming a server by `host:port` (`die
    /// 127.1.0.1:PORT`, ...) to the process serving it and waits for `ok`.
    pub fn command(&mut self, command: &str) -> anyhow::Result<()> {
        let server = command
            .split_whitespace()
            .nth(1)
            .and_then(|k| k.rsplit_once(':'))
            .and_then(|(h, _)| h.parse::<std::net::Ipv4Addr>().ok())
            .map(|ip| {
                let o = ip.octets();
                usize::from(o[2]) * 250 + usize::from(o[3]) - 1
            })
            .context("commands name their server by host:port")?;
        let shard = self
            .shards
            .iter_mut()
            .find(|s| s.range.contains(&server))
            .with_context(|| format!("no simulator serves server {server}"))?;
        writeln!(shard.stdin, "{command}")?;
        shard.stdin.flush()?;
        let mut line = String::new();
        shard.stdout.read_line(&mut line)?;
        anyhow::ensure!(
            line.trim() == "ok",
            "fleet-sim: `{command}`: {}",
            line.trim()
        );
        Ok(())
    }
}

/// How long servers went unprobed, over every simulator process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProbeGaps {
    /// Servers that are up.
    pub servers: usize,
    /// The longest gap of any of them.
    pub max: Duration,
    /// How many went unprobed for more than 2 s.
    pub over_2s: usize,
}

impl FleetProcess {
    fn ask(shard: &mut Shard, line: &str) -> anyhow::Result<String> {
        writeln!(shard.stdin, "{line}")?;
        shard.stdin.flush()?;
        let mut answer = String::new();
        shard.stdout.read_line(&mut answer)?;
        Ok(answer.trim().to_string())
    }

    /// Starts measuring probe gaps afresh on every simulator.
    pub fn reset_gaps(&mut self) -> anyhow::Result<()> {
        for shard in &mut self.shards {
            let answer = Self::ask(shard, "gaps reset")?;
            anyhow::ensure!(answer == "ok", "fleet-sim: `gaps reset`: {answer}");
        }
        Ok(())
    }

    /// Probe gaps since the last reset (see fleet-sim's `gaps`).
    pub fn gaps(&mut self) -> anyhow::Result<ProbeGaps> {
        let mut total = ProbeGaps::default();
        for shard in &mut self.shards {
            let answer = Self::ask(shard, "gaps")?;
            let field = |name: &str| -> anyhow::Result<u64> {
                answer
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .and_then(|v| v.parse().ok())
                    .with_context(|| format!("fleet-sim: `gaps` answered {answer:?}"))
            };
            total.servers += usize::try_from(field("servers")?)?;
            total.max = total.max.max(Duration::from_millis(field("max_ms")?));
            total.over_2s += usize::try_from(field("over_2s")?)?;
        }
        Ok(total)
    }
}

impl Drop for FleetProcess {
    fn drop(&mut self) {
        for s in &mut self.shards {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}

fn clock_ticks(ticks: u64) -> Duration {
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// User + system CPU time of a `/proc/.../stat` line.
fn stat_cpu(stat: &str) -> Option<Duration> {
    // The command name is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the whole line: 12th and 13th after the name.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(clock_ticks(user + system))
}

/// CPU time (user + system, every thread) of process `pid`.
pub fn process_cpu(pid: u32) -> Duration {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_cpu(&s))
        .unwrap_or_default()
}

/// CPU time of the threads of `pid` named `name`.
pub fn thread_cpu(pid: u32, name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .filter_map(|s| stat_cpu(&s))
        .sum()
}

/// Resident memory of process `pid`, in MiB.
pub fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The cumulative buckets `(le, count)` of histogram `name` in an exposition.
pub fn buckets(exposition: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut out: Vec<(f64, f64)> = exposition
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (le, rest) = rest.split_once('"')?;
            let count: f64 = rest.rsplit_once(' ')?.1.parse().ok()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Quantile `q` of the observations a histogram gained between two
/// expositions, interpolated linearly inside the bucket that holds it
/// (the bucket's upper bound when it is the last finite one).
pub fn quantile_between(before: &str, after: &str, name: &str, q: f64) -> Option<f64> {
    let b = buckets(before, name);
    let a = buckets(after, name);
    let delta: Vec<(f64, f64)> = a
        .iter()
        .map(|(le, n)| {
            let was = b.iter().find(|(l, _)| l == le).map_or(0.0, |x| x.1);
            (*le, n - was)
        })
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, n) in &delta {
        if n >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let span = n - lower.1;
            let frac = if span > 0.0 {
                (rank - lower.1) / span
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * frac);
        }
        lower = (le, n);
    }
    None
}

/// The `p`-th percentile (0-100) of `samples`, nearest rank.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets_gained_between_two_scrapes() {
        let before = "h_bucket{le=\"1\"} 10\nh_bucket{le=\"2\"} 10\nh_bucket{le=\"+Inf\"} 10\n";
        let after = "h_bucket{le=\"1\"} 60\nh_bucket{le=\"2\"} 110\nh_bucket{le=\"+Inf\"} 110\n";
        // 100 new observations: 50 in (0,1], 50 in (1,2].
        let p50 = quantile_between(before, after, "h", 0.5).unwrap();
        assert!((p50 - 1.0).abs() < 1e-9, "{p50}");
        let p99 = quantile_between(before, after, "h", 0.99).unwrap();
        assert!((p99 - 1.98).abs() < 1e-9, "{p99}");
        assert_eq!(quantile_between(after, after, "h", 0.99), None);
    }

    #[test]
    fn cpu_is_read_past_a_command_name_with_spaces() {
        let stat = "42 (tokio worker 1) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(stat_cpu(stat), Some(Duration::from_secs(3)));
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut s, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&mut s, 50.0), Duration::from_millis(50));
    }
}

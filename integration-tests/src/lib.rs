//! End-to-end tests and benchmarks of orchestrator-rs.
//!
//! The tests in `tests/` start real `mariadbd` topologies and a real
//! `nats-server` through `orc-testkit` and drive the product as users do.
//! The benchmarks in `benches/` print figures (`cargo bench -p integration-tests`);
//! they never assert on time. This library holds small helpers they share.

use std::time::Duration;

/// Median, minimum and maximum of a sample, for benchmark reports.
pub fn summarize(samples: &[Duration]) -> (Duration, Duration, Duration) {
    let mut v = samples.to_vec();
    v.sort();
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    }
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2
    };
    (median, v[0], v[v.len() - 1])
}

/// Resident set size of a process in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_the_middle_of_a_sorted_sample() {
        let ms = Duration::from_millis;
        assert_eq!(summarize(&[ms(3), ms(1), ms(2)]), (ms(2), ms(1), ms(3)));
        assert_eq!(
            summarize(&[ms(4), ms(1), ms(2), ms(3)]).0,
            Duration::from_micros(2500)
        );
    }
}

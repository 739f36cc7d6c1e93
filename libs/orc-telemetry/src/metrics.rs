//! Every metric orchestrator-rs exports, named once. The dashboard and the
//! alert rules in `deploy/` are written against these names (a test checks
//! that each name they use is exported).
//!
//! Per-instance series are kept to a gauge and an error counter (a fleet of
//! thousands of servers must not multiply histogram buckets by instances);
//! latency distributions are fleet-wide histograms.

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

/// Probe round trips, seconds (histogram).
pub const PROBE_DURATION: &str = "orchestrator_probe_duration_seconds";
/// The last probe's round trip per instance, seconds (gauge).
pub const PROBE_LAST_DURATION: &str = "orchestrator_probe_last_duration_seconds";
/// Probes made (counter).
pub const PROBES: &str = "orchestrator_probes_total";
/// Failed probes per instance (counter).
pub const PROBE_ERRORS: &str = "orchestrator_probe_errors_total";
/// Age of each instance's newest snapshot at an analysis pass (histogram).
pub const SNAPSHOT_STALENESS: &str = "orchestrator_snapshot_staleness_seconds";
/// Age of the oldest newest-snapshot at the last analysis pass (gauge).
pub const SNAPSHOT_STALENESS_MAX: &str = "orchestrator_snapshot_staleness_max_seconds";
/// Findings published, by analysis code (counter).
pub const FINDINGS: &str = "orchestrator_findings_total";
/// From the last good probe of the failed server to the finding (histogram).
pub const CRASH_TO_FINDING: &str = "orchestrator_crash_to_finding_seconds";
/// Recoveries ended, by analysis and result (counter).
pub const RECOVERIES: &str = "orchestrator_recoveries_total";
/// From a finding's detection to its recovery's end (histogram).
pub const FINDING_TO_RECOVERED: &str = "orchestrator_finding_to_recovered_seconds";
/// Leases this process took over, by bucket (counter).
pub const LEASE_HOLDER_CHANGES: &str = "orchestrator_lease_holder_changes_total";
/// From publication to receipt on the bus, by stream (histogram).
pub const BUS_LAG: &str = "orchestrator_bus_lag_seconds";
/// HTTP requests answered, by route, method and status (counter).
pub const HTTP_REQUESTS: &str = "orchestrator_http_requests_total";
/// HTTP request durations, by route (histogram).
pub const HTTP_DURATION: &str = "orchestrator_http_request_duration_seconds";
/// gRPC requests answered, by method and status code (counter).
pub const GRPC_REQUESTS: &str = "orchestrator_grpc_requests_total";
/// gRPC request durations, by method (histogram).
pub const GRPC_DURATION: &str = "orchestrator_grpc_request_duration_seconds";
/// Instances this process probes (gauge).
pub const INSTANCES_PROBED: &str = "orchestrator_instances_probed";

/// Every metric name.
pub const ALL: &[&str] = &[
    PROBE_DURATION,
    PROBE_LAST_DURATION,
    PROBES,
    PROBE_ERRORS,
    SNAPSHOT_STALENESS,
    SNAPSHOT_STALENESS_MAX,
    FINDINGS,
    CRASH_TO_FINDING,
    RECOVERIES,
    FINDING_TO_RECOVERED,
    LEASE_HOLDER_CHANGES,
    BUS_LAG,
    HTTP_REQUESTS,
    HTTP_DURATION,
    GRPC_REQUESTS,
    GRPC_DURATION,
    INSTANCES_PROBED,
];

/// Every histogram with its buckets (seconds).
pub const HISTOGRAM_BUCKETS: &[(&str, &[f64])] = &[
    (
        PROBE_DURATION,
        &[
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ],
    ),
    (
        SNAPSHOT_STALENESS,
        &[
            0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
        ],
    ),
    (
        CRASH_TO_FINDING,
        &[
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ],
    ),
    (
        FINDING_TO_RECOVERED,
        &[
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
        ],
    ),
    (
        BUS_LAG,
        &[
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
        ],
    ),
    (
        HTTP_DURATION,
        &[
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
        ],
    ),
    (
        GRPC_DURATION,
        &[
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
        ],
    ),
];

pub(crate) fn describe() {
    describe_histogram!(
        PROBE_DURATION,
        Unit::Seconds,
        "Probe round trips to topology servers."
    );
    describe_gauge!(
        PROBE_LAST_DURATION,
        Unit::Seconds,
        "The last probe's round trip, per instance."
    );
    describe_counter!(PROBES, "Probes made.");
    describe_counter!(PROBE_ERRORS, "Failed probes, per instance.");
    describe_histogram!(
        SNAPSHOT_STALENESS,
        Unit::Seconds,
        "Age of each instance's newest snapshot at an analysis pass."
    );
    describe_gauge!(
        SNAPSHOT_STALENESS_MAX,
        Unit::Seconds,
        "Age of the stalest instance's newest snapshot at the last analysis pass."
    );
    describe_counter!(FINDINGS, "Findings published, by analysis code.");
    describe_histogram!(
        CRASH_TO_FINDING,
        Unit::Seconds,
        "From the failed server's last good probe to the finding."
    );
    describe_counter!(RECOVERIES, "Recoveries ended, by analysis and result.");
    describe_histogram!(
        FINDING_TO_RECOVERED,
        Unit::Seconds,
        "From a finding's detection to the end of its recovery."
    );
    describe_counter!(LEASE_HOLDER_CHANGES, "Leases this process took, by bucket.");
    describe_histogram!(
        BUS_LAG,
        Unit::Seconds,
        "From publication to receipt on the bus, by stream."
    );
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request durations, by route."
    );
    describe_counter!(GRPC_REQUESTS, "gRPC requests answered, by method and code.");
    describe_histogram!(
        GRPC_DURATION,
        Unit::Seconds,
        "gRPC request durations, by method."
    );
    describe_gauge!(INSTANCES_PROBED, "Instances this process probes.");
}

/// A probe of `instance` took `seconds`; `ok` when it read the server.
pub fn probe(instance: &str, seconds: f64, ok: bool) {
    histogram!(PROBE_DURATION).record(seconds);
    counter!(PROBES).increment(1);
    gauge!(PROBE_LAST_DURATION, "instance" => instance.to_string()).set(seconds);
    if !ok {
        counter!(PROBE_ERRORS, "instance" => instance.to_string()).increment(1);
    }
}

/// How many instances this process probes now.
pub fn instances_probed(n: usize) {
    gauge!(INSTANCES_PROBED).set(n as f64);
}

/// An analysis pass found these ages of every instance's newest snapshot.
pub fn snapshot_staleness(ages: impl IntoIterator<Item = f64>) {
    let h = histogram!(SNAPSHOT_STALENESS);
    let mut max = 0.0_f64;
    for age in ages {
        h.record(age);
        max = max.max(age);
    }
    gauge!(SNAPSHOT_STALENESS_MAX).set(max);
}

/// A finding was published; `since_last_good` is the time since the failed
/// server last answered a probe, when known.
pub fn finding(code: &str, since_last_good: Option<f64>) {
    counter!(FINDINGS, "code" => code.to_string()).increment(1);
    if let Some(s) = since_last_good {
        histogram!(CRASH_TO_FINDING).record(s);
    }
}

/// A recovery ended; `since_detection` from its finding's detection.
pub fn recovery_ended(analysis: &str, successful: bool, since_detection: Option<f64>) {
    let result = if successful { "success" } else { "failure" };
    counter!(RECOVERIES, "analysis" => analysis.to_string(), "result" => result).increment(1);
    if let Some(s) = since_detection {
        histogram!(FINDING_TO_RECOVERED).record(s);
    }
}

/// This process took a lease in `bucket`.
pub fn lease_taken(bucket: &str) {
    counter!(LEASE_HOLDER_CHANGES, "bucket" => bucket.to_string()).increment(1);
}

/// A message published `seconds` ago on `stream` was received.
pub fn bus_lag(stream: &'static str, seconds: f64) {
    histogram!(BUS_LAG, "stream" => stream).record(seconds.max(0.0));
}

/// An HTTP request was answered.
pub fn http_request(route: &str, method: &str, status: u16, seconds: f64) {
    counter!(
        HTTP_REQUESTS,
        "route" => route.to_string(),
        "method" => method.to_string(),
        "status" => status.to_string()
    )
    .increment(1);
    histogram!(HTTP_DURATION, "route" => route.to_string()).record(seconds);
}

/// A gRPC request was answered with `code` (tonic's numeric code).
pub fn grpc_request(method: &str, code: &str, seconds: f64) {
    counter!(GRPC_REQUESTS, "method" => method.to_string(), "code" => code.to_string())
        .increment(1);
    histogram!(GRPC_DURATION, "method" => method.to_string()).record(seconds);
}

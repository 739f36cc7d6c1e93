//! Subject names. Every message type has one home here.

/// `InstanceSnapshot`s from probers, on the subject of the instance's shard
/// bucket (see [`snapshot`]).
pub fn snapshot(bucket: u32) -> String {
    format!("orc.snapshot.{bucket}")
}
/// Every bucket's snapshots (an unsharded analyzer, a watcher).
pub const SNAPSHOTS: &str = "orc.snapshot.*";
/// The bucket a snapshot subject names.
pub fn snapshot_bucket(subject: &str) -> Option<u32> {
    subject.strip_prefix("orc.snapshot.")?.parse().ok()
}
/// `AnalyzerHeartbeat`s: analyzer membership.
pub const ANALYZER_HEARTBEAT: &str = "orc.analyzer.heartbeat";
/// A request (`brief`, `discover`, `forget`, `adopt`) answered only by
/// the holders of shard bucket `bucket`: an analyzer asked about a
/// cluster it does not hold passes the request on here.
pub fn shard_request(bucket: u32, verb: &str) -> String {
    format!("orc.analyzer.shard.{bucket}.{verb}")
}
/// Every request to the holders of `bucket`.
pub fn shard_requests(bucket: u32) -> String {
    format!("orc.analyzer.shard.{bucket}.*")
}
/// `ProberHeartbeat`s: prober membership.
pub const PROBER_HEARTBEAT: &str = "orc.prober.heartbeat";
/// Request subject a prober answers while its bus connection lives (empty
/// payloads): peers learn of its death from the bus's "no responders" at
/// once rather than from its heartbeats' silence.
pub fn prober_alive(prober_id: &str) -> String {
    format!("orc.prober.alive.{}", token(prober_id))
}
/// Request subject a sharded analyzer answers while its bus connection
/// lives (as [`prober_alive`] for probers).
pub fn analyzer_alive(analyzer_id: &str) -> String {
    format!("orc.analyzer.alive.{}", token(analyzer_id))
}
/// An id as one subject token.
fn token(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
/// `InstanceRegistry`: every known instance, published by analyzers.
pub const REGISTRY: &str = "orc.registry";
/// Request for the current `InstanceRegistry` (analyzers answer).
pub const REGISTRY_GET: &str = "orc.registry.get";
/// `ProbeRequest`: probe these instances now (owners act).
pub const PROBE_NOW: &str = "orc.probe.now";
/// Request: probe one instance now and reply with its snapshot (any prober).
pub const PROBE_ONE: &str = "orc.probe.one";
/// Request: discover an instance (analyzers answer).
pub const DISCOVER: &str = "orc.analyzer.discover";
/// Request: forget an instance or a cluster (analyzers answer).
pub const FORGET: &str = "orc.analyzer.forget";
/// `ForgetEvent`: every analyzer drops the keys.
pub const FORGOTTEN: &str = "orc.analyzer.forgotten";

/// Request: the current view of one cluster (analyzers answer).
pub const CLUSTER_BRIEF: &str = "orc.analyzer.brief";
/// Request: an operator command to the recovery service.
pub const RECOVERY_COMMAND: &str = "orc.recovery.command";
/// Request: a topology operation (relocate, move-up, ...) to the recovery service.
pub const TOPOLOGY_OPERATION: &str = "orc.recovery.operation";
/// `RecoveryEvent`s.
pub const RECOVERY_EVENTS: &str = "orc.recovery.events";
/// `RecoveryRetry`: blocked recoveries may run now.
pub const RECOVERY_RETRY: &str = "orc.recovery.retry";
/// `MetadataChanged`: downtime, maintenance or promotion rules changed.
pub const METADATA_CHANGED: &str = "orc.metadata.changed";

/// `GatewayHeartbeat`s: gateway membership.
pub const GATEWAY_HEARTBEAT: &str = "orc.gateway.heartbeat";
/// `LeadershipYield`: the leadership should move.
pub const GATEWAY_YIELD: &str = "orc.gateway.yield";

/// Every process forgets its host name resolutions (empty payload).
pub const RESOLVE_RESET: &str = "orc.resolve.reset";

/// Queue group of probers.
pub const PROBERS: &str = "probers";
/// Queue group of analyzers.
pub const ANALYZERS: &str = "analyzers";
/// Queue group of recovery services (commands go to one of them).
pub const RECOVERIES: &str = "recoveries";

/// Leases of clusters: the recovery service acting on a cluster holds it.
pub const CLUSTER_LEASES: &str = "orc_cluster_leases";

/// The gateways' leadership (`leader-check`, `raft-*`): one lease.
pub const GATEWAY_LEADERSHIP: crate::LeaseSpec = crate::LeaseSpec {
    bucket: "orc_gateway_leader",
    ttl: std::time::Duration::from_secs(3),
};

/// Findings of the analysis (durable, de-duplicated by incident).
pub const FINDINGS: &str = "orc.findings";

/// The durable stream of findings.
pub const FINDINGS_STREAM: crate::StreamSpec = crate::StreamSpec {
    name: "ORC_FINDINGS",
    subjects: &[FINDINGS],
    max_age: std::time::Duration::from_secs(7 * 24 * 3600),
    duplicate_window: std::time::Duration::from_secs(120),
};

#[cfg(test)]
mod tests {
    #[test]
    fn a_prober_id_becomes_one_subject_token() {
        assert_eq!(super::prober_alive("p-1_a"), "orc.prober.alive.p-1_a");
        // Dots, wildcards and spaces would change the subject's shape.
        assert_eq!(
            super::prober_alive("db1.dc2 *>"),
            "orc.prober.alive.db1_dc2___"
        );
    }

    #[test]
    fn a_snapshot_subject_names_its_bucket() {
        assert_eq!(super::snapshot_bucket(&super::snapshot(17)), Some(17));
        assert_eq!(super::snapshot_bucket("orc.snapshot.x"), None);
        assert_eq!(super::snapshot_bucket("orc.registry"), None);
    }
}

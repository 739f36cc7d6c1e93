//! The catalogue of orchestrator's HTTP routes (reference §2.2, agent
//! routes left out), in orchestrator's notation, each with what a caller
//! needs to call it and, for the few this build does not serve, why.
//!
//! It is the one place that says which routes change things: the access
//! layer ([`crate::access`]) refuses a [`Need::Change`] route to callers who
//! may not change things, and a route whose name is not here is refused
//! as one that changes things would be (fail closed). A test requests
//! every route listed as served and fails when the router does not know
//! one, and the README shows this table.

use crate::access::Need;

/// One route of orchestrator's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The path below `/api/`, with `:params` and `[optional]` parts.
    pub path: &'static str,
    /// What calling it needs.
    pub need: Need,
    /// Why this build does not serve it (`None`: it does).
    pub absent: Option<&'static str>,
}

const fn read(path: &'static str) -> Route {
    Route {
        path,
        need: Need::Read,
        absent: None,
    }
}

const fn change(path: &'static str) -> Route {
    Route {
        path,
        need: Need::Change,
        absent: None,
    }
}

const fn probe(path: &'static str) -> Route {
    Route {
        path,
        need: Need::Nothing,
        absent: None,
    }
}

const fn absent(path: &'static str, need: Need, why: &'static str) -> Route {
    Route {
        path,
        need,
        absent: Some(why),
    }
}

const NO_UNRESOLVE: &str = "instances are known by the name they are probed at \
    (MySQLHostnameResolveMethod); there is no separate unresolved name to register";
const NO_BINLOG_SERVERS: &str = "binlog servers (MaxScale binlog router) are not supported";
const NO_RAFT_MEMBERSHIP: &str = "membership is dynamic: a gateway joins by connecting to NATS \
    and leaves by stopping; there is no raft peer list to edit";
const NO_RAFT_LOG: &str = "there is no raft log: state lives in the backend database and on NATS";
const METRICS_LATER: &str = "discovery and backend metrics are served as Prometheus metrics \
    and traces by the observability work (issue 12), not in orchestrator's JSON shapes yet";
const NO_MAKE_MASTER: &str = "promoting a replica over its siblings is planned by \
    take-siblings, regroup-replicas and (for a dead master) recover / force-master-failover";
const NO_EQUIVALENT: &str = "master-equivalent coordinates need Pseudo-GTID matching between \
    two masters' binary logs; relocations compute them internally instead";

/// Every route, by family.
pub const ROUTES: &[Route] = &[
    // --- instance & discovery ---
    read("instance/:host/:port"),
    read("instance-replicas/:host/:port"),
    change("discover/:host/:port"),
    change("async-discover/:host/:port"),
    change("refresh/:host/:port"),
    change("forget/:host/:port"),
    change("forget-cluster/:clusterHint"),
    read("resolve/:host/:port"),
    absent(
        "register-hostname-unresolve/:host/:port/:virtualname",
        Need::Change,
        NO_UNRESOLVE,
    ),
    absent(
        "deregister-hostname-unresolve/:host/:port",
        Need::Change,
        NO_UNRESOLVE,
    ),
    read("hostname-resolve-cache"),
    change("reset-hostname-resolve-cache"),
    change("begin-downtime/:host/:port/:owner/:reason[/:duration]"),
    change("end-downtime/:host/:port"),
    read("downtimed[/:clusterHint]"),
    change("begin-maintenance/:host/:port/:owner/:reason"),
    change("end-maintenance/:host/:port"),
    change("end-maintenance/:maintenanceKey"),
    read("in-maintenance/:host/:port"),
    read("maintenance"),
    change("register-candidate/:host/:port/:promotionRule"),
    read("tags/:host/:port"),
    read("tag-value/:host/:port[/:tagName]"),
    change("tag/:host/:port[/:tagName/:tagValue]"),
    change("untag/:host/:port[/:tagName]"),
    change("untag-all[/:tagName/:tagValue]"),
    read("tagged"),
    read("bulk-instances"),
    read("bulk-promotion-rules"),
    read("search[/:searchString]"),
    read("all-instances"),
    read("problems[/:clusterName]"),
    read("audit[/:page]"),
    read("audit/instance/:host/:port[/:page]"),
    // --- clusters ---
    read("clusters"),
    read("clusters-info"),
    read("cluster-info/:clusterHint"),
    read("cluster-info/alias/:clusterAlias"),
    read("cluster/:clusterHint"),
    read("cluster/alias/:clusterAlias"),
    read("cluster/instance/:host/:port"),
    read("masters"),
    read("master/:clusterHint"),
    read("topology/:clusterHint"),
    read("topology/:host/:port"),
    read("topology-tabulated/:clusterHint"),
    read("topology-tabulated/:host/:port"),
    read("topology-tags/:clusterHint"),
    read("topology-tags/:host/:port"),
    change("snapshot-topologies"),
    change("set-cluster-alias/:clusterName"),
    change("reload-cluster-alias"),
    read("cluster-osc-replicas/:clusterHint"),
    change("submit-masters-to-kv-stores[/:clusterHint]"),
    change("submit-pool-instances/:pool"),
    read("cluster-pool-instances/:clusterName[/:pool]"),
    read("heuristic-cluster-pool-instances/:clusterName[/:pool]"),
    read("heuristic-cluster-pool-lag/:clusterName[/:pool]"),
    // --- smart relocation, classic, GTID, Pseudo-GTID ---
    change("relocate/:host/:port/:belowHost/:belowPort"),
    change("relocate-below/:host/:port/:belowHost/:belowPort"),
    change("relocate-replicas/:host/:port/:belowHost/:belowPort"),
    change("relocate-slaves/:host/:port/:belowHost/:belowPort"),
    change("regroup-replicas/:host/:port"),
    change("regroup-slaves/:host/:port"),
    change("move-up/:host/:port"),
    change("move-up-replicas/:host/:port"),
    change("move-up-slaves/:host/:port"),
    change("move-below/:host/:port/:siblingHost/:siblingPort"),
    change("move-equivalent/:host/:port/:belowHost/:belowPort"),
    change("repoint/:host/:port/:belowHost/:belowPort"),
    change("repoint-replicas/:host/:port"),
    change("repoint-slaves/:host/:port"),
    change("make-co-master/:host/:port"),
    change("take-siblings/:host/:port"),
    change("enslave-siblings/:host/:port"),
    change("take-master/:host/:port"),
    change("enslave-master/:host/:port"),
    absent(
        "master-equivalent/:host/:port/:logFile/:logPos",
        Need::Read,
        NO_EQUIVALENT,
    ),
    absent(
        "regroup-replicas-bls/:host/:port",
        Need::Change,
        NO_BINLOG_SERVERS,
    ),
    absent(
        "regroup-slaves-bls/:host/:port",
        Need::Change,
        NO_BINLOG_SERVERS,
    ),
    change("move-below-gtid/:host/:port/:belowHost/:belowPort"),
    change("move-replicas-gtid/:host/:port/:belowHost/:belowPort"),
    change("move-slaves-gtid/:host/:port/:belowHost/:belowPort"),
    change("regroup-replicas-gtid/:host/:port"),
    change("regroup-slaves-gtid/:host/:port"),
    change("enable-gtid/:host/:port"),
    change("disable-gtid/:host/:port"),
    read("locate-gtid-errant/:host/:port"),
    change("gtid-errant-reset-master/:host/:port"),
    change("gtid-errant-inject-empty/:host/:port"),
    change("match/:host/:port/:belowHost/:belowPort"),
    change("match-below/:host/:port/:belowHost/:belowPort"),
    change("match-up/:host/:port"),
    change("match-replicas/:host/:port/:belowHost/:belowPort"),
    change("match-slaves/:host/:port/:belowHost/:belowPort"),
    change("match-up-replicas/:host/:port"),
    change("match-up-slaves/:host/:port"),
    change("regroup-replicas-pgtid/:host/:port"),
    change("regroup-slaves-pgtid/:host/:port"),
    read("last-pseudo-gtid/:host/:port"),
    absent("make-master/:host/:port", Need::Change, NO_MAKE_MASTER),
    absent(
        "make-local-master/:host/:port",
        Need::Change,
        NO_MAKE_MASTER,
    ),
    // --- replication control ---
    change("start-replica/:host/:port"),
    change("start-slave/:host/:port"),
    change("stop-replica/:host/:port"),
    change("stop-slave/:host/:port"),
    change("stop-replica-nice/:host/:port"),
    change("stop-slave-nice/:host/:port"),
    change("restart-replica/:host/:port"),
    change("restart-slave/:host/:port"),
    change("reset-replica/:host/:port"),
    change("reset-slave/:host/:port"),
    change("detach-replica/:host/:port"),
    change("detach-slave/:host/:port"),
    change("detach-replica-master-host/:host/:port"),
    change("detach-slave-master-host/:host/:port"),
    change("reattach-replica/:host/:port"),
    change("reattach-slave/:host/:port"),
    change("reattach-replica-master-host/:host/:port"),
    change("reattach-slave-master-host/:host/:port"),
    change("skip-query/:host/:port"),
    change("flush-binary-logs/:host/:port"),
    change("purge-binary-logs/:host/:port/:logFile"),
    change("restart-replica-statements/:host/:port"),
    change("restart-slave-statements/:host/:port"),
    change("enable-semi-sync-master/:host/:port"),
    change("disable-semi-sync-master/:host/:port"),
    change("enable-semi-sync-replica/:host/:port"),
    change("enable-semi-sync-slave/:host/:port"),
    change("disable-semi-sync-replica/:host/:port"),
    change("disable-semi-sync-slave/:host/:port"),
    change("delay-replication/:host/:port/:seconds"),
    change("set-read-only/:host/:port"),
    change("set-writeable/:host/:port"),
    change("kill-query/:host/:port/:process"),
    read("can-replicate-from/:host/:port/:belowHost/:belowPort"),
    read("can-replicate-from-gtid/:host/:port/:belowHost/:belowPort"),
    // --- recovery ---
    read("replication-analysis"),
    read("replication-analysis/:clusterName"),
    read("replication-analysis/instance/:host/:port"),
    change("recover/:host/:port[/:candidateHost/:candidatePort]"),
    change("recover-lite/:host/:port[/:candidateHost/:candidatePort]"),
    change("graceful-master-takeover/:clusterHint[/:designatedHost/:designatedPort]"),
    change("graceful-master-takeover/:host/:port[/:designatedHost/:designatedPort]"),
    change("graceful-master-takeover-auto/:clusterHint[/:designatedHost/:designatedPort]"),
    change("graceful-master-takeover-auto/:host/:port[/:designatedHost/:designatedPort]"),
    change("force-master-failover/:clusterHint"),
    change("force-master-failover/:host/:port"),
    change("force-master-takeover/:clusterHint/:designatedHost/:designatedPort"),
    change("force-master-takeover/:host/:port/:designatedHost/:designatedPort"),
    read("audit-recovery[/:page]"),
    read("audit-recovery/id/:id"),
    read("audit-recovery/uid/:uid"),
    read("audit-recovery/cluster/:clusterName[/:page]"),
    read("audit-recovery/alias/:clusterAlias[/:page]"),
    read("audit-recovery-steps/:uid"),
    read("audit-failure-detection[/:page]"),
    read("audit-failure-detection/id/:id"),
    read("audit-failure-detection/alias/:clusterAlias[/:page]"),
    read("replication-analysis-changelog"),
    read("active-cluster-recovery/:clusterName"),
    read("recently-active-cluster-recovery/:clusterName"),
    read("recently-active-instance-recovery/:host/:port"),
    change("ack-recovery/cluster/:clusterHint"),
    change("ack-recovery/cluster/alias/:clusterAlias"),
    change("ack-recovery/instance/:host/:port"),
    change("ack-recovery/:recoveryId"),
    change("ack-recovery/uid/:uid"),
    change("ack-all-recoveries"),
    read("blocked-recoveries[/cluster/:clusterName]"),
    change("disable-global-recoveries"),
    change("enable-global-recoveries"),
    read("check-global-recoveries"),
    read("automated-recovery-filters"),
    // --- HA, health, leadership ---
    probe("health"),
    probe("status"),
    probe("lb-check"),
    probe("_ping"),
    probe("leader-check[/:errorStatusCode]"),
    probe("routed-leader-check"),
    change("grab-election"),
    change("reelect"),
    absent("raft-add-peer/:addr", Need::Change, NO_RAFT_MEMBERSHIP),
    absent("raft-remove-peer/:addr", Need::Change, NO_RAFT_MEMBERSHIP),
    change("raft-yield/:node"),
    change("raft-yield-hint/:hint"),
    read("raft-peers"),
    read("raft-state"),
    read("raft-leader"),
    probe("raft-health"),
    read("raft-status"),
    absent("raft-snapshot", Need::Change, NO_RAFT_LOG),
    absent(
        "raft-follower-health-report/:token/:raftBind/:raftAdvertise",
        Need::Change,
        NO_RAFT_LOG,
    ),
    change("reload-configuration"),
    read("headers"),
    absent("discovery-metrics-raw/:seconds", Need::Read, METRICS_LATER),
    absent(
        "discovery-metrics-aggregated/:seconds",
        Need::Read,
        METRICS_LATER,
    ),
    absent(
        "discovery-queue-metrics-raw/:seconds",
        Need::Read,
        METRICS_LATER,
    ),
    absent(
        "discovery-queue-metrics-aggregated/:seconds",
        Need::Read,
        METRICS_LATER,
    ),
    absent(
        "backend-query-metrics-raw/:seconds",
        Need::Read,
        METRICS_LATER,
    ),
    absent(
        "backend-query-metrics-aggregated/:seconds",
        Need::Read,
        METRICS_LATER,
    ),
    absent(
        "write-buffer-metrics-raw/:seconds",
        Need::Read,
        METRICS_LATER,
    ),
    absent(
        "write-buffer-metrics-aggregated/:seconds",
        Need::Read,
        METRICS_LATER,
    ),
];

/// Routes of ours, beyond orchestrator's catalogue.
pub const OURS: &[Route] = &[read("ui/whoami"), read("ui/events")];

/// The first path segment of a route (`"relocate"` for
/// `"relocate/:host/:port/..."`).
pub fn name_of(path: &str) -> &str {
    path.split(['/', '[']).next().unwrap_or(path)
}

/// What a request to `/api/<rest>` needs: the need of its route name, or
/// [`Need::Change`] for a name nobody knows (fail closed), so that a route
/// added to the router but not here is never open by accident.
pub fn need_of(rest: &str) -> Need {
    let name = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    ROUTES
        .iter()
        .chain(OURS)
        .find(|r| name_of(r.path) == name)
        .map_or(Need::Change, |r| r.need)
}

/// What a gRPC method (`/package.Service/Method`) needs; unknown methods
/// change things (fail closed).
pub fn grpc_need_of(path: &str) -> Need {
    let method = path.trim_start_matches('/');
    if method.starts_with("grpc.health.v1.Health/") {
        return Need::Nothing;
    }
    if method.starts_with("grpc.reflection.") {
        return Need::Read;
    }
    match method {
        "orc.v1.Orchestrator/GetInstance"
        | "orc.v1.Orchestrator/ListReplicas"
        | "orc.v1.Orchestrator/ListClusters"
        | "orc.v1.Orchestrator/GetClusterInfo"
        | "orc.v1.Orchestrator/ListClusterInstances"
        | "orc.v1.Orchestrator/GetClusterMaster"
        | "orc.v1.Orchestrator/ListMasters"
        | "orc.v1.Orchestrator/ListInstances"
        | "orc.v1.Orchestrator/GetTopology"
        | "orc.v1.Orchestrator/Search"
        | "orc.v1.Analysis/ReplicationAnalysis"
        | "orc.v1.Analysis/StreamFindings"
        | "orc.v1.Recovery/ListDowntimed"
        | "orc.v1.Recovery/ListMaintenance"
        | "orc.v1.Recovery/CheckGlobalRecoveries"
        | "orc.v1.Recovery/ListRecoveries"
        | "orc.v1.Recovery/ListRecoverySteps"
        | "orc.v1.Recovery/ListFailureDetections"
        | "orc.v1.Recovery/ListBlockedRecoveries"
        | "orc.v1.Operator/ListTags"
        | "orc.v1.Operator/Tagged"
        | "orc.v1.Operator/ListPoolInstances"
        | "orc.v1.Operator/ListProblems"
        | "orc.v1.Operator/ListOscReplicas"
        | "orc.v1.Operator/MasterKeyValues"
        | "orc.v1.Operator/ResolveHostname"
        | "orc.v1.Operator/ListAudit"
        | "orc.v1.Operator/GetLeadership" => Need::Read,
        "orc.v1.Topology/Operate" => Need::PerRequest,
        _ => Need::Change,
    }
}

/// What a topology operation (gRPC `Topology.Operate`) needs: what its
/// HTTP route needs; an operation without a route changes things.
pub fn operation_need(op: orc_proto::v1::Operation) -> Need {
    crate::http::operation_route(op).map_or(Need::Change, need_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_name_has_one_need() {
        for a in ROUTES {
            for b in ROUTES {
                if name_of(a.path) == name_of(b.path) {
                    assert_eq!(a.need, b.need, "{} vs {}", a.path, b.path);
                }
            }
        }
    }

    #[test]
    fn unknown_names_need_what_changes_need() {
        assert_eq!(need_of("instance/db1/3306"), Need::Read);
        assert_eq!(need_of("/set-read-only/db1/3306"), Need::Change);
        assert_eq!(need_of("leader-check/503"), Need::Nothing);
        assert_eq!(need_of("no-such-route"), Need::Change);
        assert_eq!(grpc_need_of("/orc.v1.Recovery/Recover"), Need::Change);
        assert_eq!(grpc_need_of("/orc.v1.Recovery/ListRecoveries"), Need::Read);
        assert_eq!(grpc_need_of("/orc.v1.Future/Thing"), Need::Change);
        assert_eq!(grpc_need_of("/grpc.health.v1.Health/Check"), Need::Nothing);
    }
}

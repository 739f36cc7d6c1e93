//! The decision table: orchestrator's analysis, computed from folded probe
//! states instead of a backend query, plus vantage quorums and hung-versus-
//! dead evidence.

use std::collections::{BTreeMap, BTreeSet};

use orc_model::{
    Flavor, GtidSet, InstanceData, InstanceKey, InstanceMetadata, InstanceState, ProbeErrorKind,
    Timestamp, Topology,
};

use crate::code::{AnalysisCode, StructureWarning};
use crate::finding::{Analysis, InstanceEvidence, ReplicaCounts, ReplicaEvidence, VantageEvidence};
use crate::policy::AnalysisPolicy;

/// Folded probe states by key, however the caller keeps them (owned, or
/// shared with a read model that outlives one request).
pub trait States: std::fmt::Debug + Send + Sync {
    /// The state of one instance.
    fn state(&self, key: &InstanceKey) -> Option<&InstanceState>;
    /// Every key, sorted.
    fn sorted_keys(&self) -> Box<dyn Iterator<Item = &InstanceKey> + '_>;
}

impl States for BTreeMap<InstanceKey, InstanceState> {
    fn state(&self, key: &InstanceKey) -> Option<&InstanceState> {
        self.get(key)
    }
    fn sorted_keys(&self) -> Box<dyn Iterator<Item = &InstanceKey> + '_> {
        Box::new(self.keys())
    }
}

impl States for BTreeMap<InstanceKey, std::sync::Arc<InstanceState>> {
    fn state(&self, key: &InstanceKey) -> Option<&InstanceState> {
        self.get(key).map(|s| &**s)
    }
    fn sorted_keys(&self) -> Box<dyn Iterator<Item = &InstanceKey> + '_> {
        Box::new(self.keys())
    }
}

/// Everything the analysis reads.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisInput<'a> {
    /// Folded probe state of every known instance.
    pub states: &'a dyn States,
    /// Their replication graph.
    pub topology: &'a Topology,
    /// Operator metadata (downtime, maintenance, ...).
    pub metadata: &'a BTreeMap<InstanceKey, InstanceMetadata>,
}

/// Whether an instance's last check counts as valid at `now`: its last probe
/// succeeded and is fresh; with several fresh vantage points, unless a
/// quorum of them failed to reach it.
pub fn is_valid(state: &InstanceState, policy: &AnalysisPolicy, now: Timestamp) -> bool {
    let (up, down) = state.vantage_votes(now, policy.stale_after, policy.vantages_per_instance);
    if up + down <= 1 {
        return state.is_last_check_valid(now, policy.stale_after);
    }
    let quorum = policy.vantage_quorum.unwrap_or((up + down) / 2 + 1).max(1);
    up > 0
        && down < quorum
        && state
            .last_seen
            .is_some_and(|s| now.since(s) <= policy.stale_after)
}

fn is_refusal(kind: Option<ProbeErrorKind>) -> bool {
    matches!(
        kind,
        Some(
            ProbeErrorKind::Refused | ProbeErrorKind::ConnectionLost | ProbeErrorKind::Unresolvable
        )
    )
}

/// How the server is failing: whether the evidence says "refused" (dead)
/// rather than "no answer" (hung or cut off), and since when. With several
/// fresh vantages, the failing ones speak: refused if any of them was
/// refused, failing since the moment a quorum of them was failing.
fn failure(
    state: &InstanceState,
    policy: &AnalysisPolicy,
    now: Timestamp,
) -> (bool, Option<Timestamp>) {
    let fresh = state.voting_vantages(now, policy.stale_after, policy.vantages_per_instance);
    if fresh.len() <= 1 {
        return (
            is_refusal(state.last_error.as_ref().map(|e| e.kind)),
            state.failing_since,
        );
    }
    let mut failing: Vec<&orc_model::VantageObservation> =
        fresh.iter().copied().filter(|v| !v.reached).collect();
    let refused = failing.iter().any(|v| is_refusal(v.error_kind));
    failing.sort_by_key(|v| v.failing_since.unwrap_or(v.observed_at));
    let quorum = policy.vantage_quorum.unwrap_or(fresh.len() / 2 + 1).max(1);
    let since = failing
        .get(quorum - 1)
        .map(|v| v.failing_since.unwrap_or(v.observed_at))
        .or(state.failing_since);
    (refused, since)
}

struct Member<'a> {
    state: &'a InstanceState,
    data: Option<&'a InstanceData>,
    valid: bool,
    downtimed: bool,
}

impl<'a> Member<'a> {
    fn of(
        input: &AnalysisInput<'a>,
        key: &InstanceKey,
        policy: &AnalysisPolicy,
        now: Timestamp,
    ) -> Option<Self> {
        let state = input.states.state(key)?;
        Some(Self {
            state,
            data: state.data.as_ref(),
            valid: is_valid(state, policy, now),
            downtimed: input.metadata.get(key).is_some_and(|m| m.is_downtimed(now)),
        })
    }

    fn replicating(&self) -> bool {
        self.data.is_some_and(InstanceData::is_replicating)
    }

    /// Its IO thread lost its source: reconnecting, or failing to connect.
    fn lost_source(&self) -> bool {
        self.failing_to_connect()
            || self
                .data
                .and_then(|d| d.replication.as_ref())
                .is_some_and(|r| r.io_thread == orc_model::ThreadState::Connecting)
    }

    fn failing_to_connect(&self) -> bool {
        self.data
            .and_then(|d| d.replication.as_ref())
            .is_some_and(|r| r.is_failing_to_connect())
    }
}

/// Analyzes every known instance; returns the entries worth reporting
/// (problems, structure warnings), sorted by key.
pub fn analyze(
    input: &AnalysisInput<'_>,
    policy: &AnalysisPolicy,
    now: Timestamp,
) -> Vec<Analysis> {
    analyze_keys(input, input.states.sorted_keys(), policy, now)
}

/// [`analyze`] restricted to `keys` (read against the whole input): what
/// an analyzer re-evaluates when a few instances changed, without paying
/// for the whole fleet.
pub fn analyze_keys<'k>(
    input: &AnalysisInput<'_>,
    keys: impl IntoIterator<Item = &'k InstanceKey>,
    policy: &AnalysisPolicy,
    now: Timestamp,
) -> Vec<Analysis> {
    keys.into_iter()
        .filter_map(|k| analyze_instance(input, k, policy, now))
        .filter(|a| {
            policy.include_no_problem
                || a.code != AnalysisCode::NoProblem
                || !a.structure.is_empty()
        })
        .filter(|a| {
            !policy
                .recovery_ignore_hostname_filters
                .iter()
                .any(|re| re.is_match(a.key.hostname()))
        })
        .collect()
}

/// Analyzes one instance (also when it has no problem); `None` when unknown,
/// never successfully probed (orchestrator has no row for it, and its role is
/// unknown) or under maintenance.
pub fn analyze_instance(
    input: &AnalysisInput<'_>,
    key: &InstanceKey,
    policy: &AnalysisPolicy,
    now: Timestamp,
) -> Option<Analysis> {
    if input
        .metadata
        .get(key)
        .is_some_and(|m| m.in_maintenance(now))
    {
        return None;
    }
    let me = Member::of(input, key, policy, now)?;
    me.data?;
    let placement = input.topology.placement(key);
    let replica_keys: Vec<InstanceKey> = placement
        .map(|p| p.replicas.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let replicas: Vec<(InstanceKey, Member<'_>)> = replica_keys
        .iter()
        .filter_map(|k| Member::of(input, k, policy, now).map(|m| (k.clone(), m)))
        .collect();
    let counts = count(&replicas, policy);
    let data = me.data;
    let repl = data.and_then(|d| d.replication.as_ref());
    let is_detached = repl.is_some_and(|r| r.is_detached());
    let is_co_master = placement.is_some_and(|p| p.is_co_master);
    let is_master = !is_co_master
        && (repl.is_none() || is_detached || data.and_then(InstanceData::master_key).is_none());
    let depth = placement.map_or(0, |p| p.depth);

    let mut code = decide(
        &me,
        is_master,
        is_co_master,
        depth,
        &counts,
        input,
        key,
        policy,
        now,
    );
    let mut description = code.description().to_string();
    let (refused, failing_since) = failure(me.state, policy, now);
    // Every replica that can still be read says its IO thread lost this
    // server: that agreement is orchestrator's definition of dead, whatever
    // our probes saw (a hung or cut-off server is as gone for its replicas
    // as a crashed one). The grace is for servers whose replicas have not
    // testified (threads stopped, or not yet noticed).
    let testified = replicas.iter().any(|(_, r)| r.valid)
        && replicas
            .iter()
            .filter(|(_, r)| r.valid)
            .all(|(_, r)| r.lost_source());
    if let Some(softer) = code.unreachable_counterpart()
        && !refused
        && !testified
    {
        let failing_for = failing_since.map_or(std::time::Duration::ZERO, |s| now.since(s));
        if failing_for < policy.hung_grace {
            description = format!(
                "{} (it does not refuse connections but does not answer: hung or cut off; \
                 declared dead after {:?} of this, {:?} so far)",
                softer.description(),
                policy.hung_grace,
                failing_for
            );
            code = softer;
        }
    }

    let structure = structure_warnings(&me, is_master, &replicas, &counts, input, key, policy);
    let is_downtimed = me.downtimed;
    let is_replicas_downtimed = code.concerns_replicas_only()
        && !replicas.is_empty()
        && replicas.iter().all(|(_, r)| r.downtimed);
    let metadata = input.metadata.get(key);
    let semi = data.map(|d| &d.semi_sync);
    Some(Analysis {
        key: key.clone(),
        master_key: data.and_then(InstanceData::master_key),
        cluster: placement.map_or_else(|| key.clone(), |p| p.cluster.clone()),
        code,
        description: if code == AnalysisCode::NoProblem {
            String::new()
        } else {
            description
        },
        structure,
        is_master,
        is_co_master,
        last_check_valid: me.valid,
        last_check_partial_success: me.state.last_partial_success,
        replication_depth: depth,
        replicas: replica_keys,
        is_failing_to_connect_to_master: me.failing_to_connect(),
        is_downtimed,
        is_replicas_downtimed,
        downtime_end: metadata
            .and_then(|m| m.downtime.as_ref())
            .filter(|_| is_downtimed)
            .map(|d| d.ends_at),
        skippable_due_to_downtime: is_downtimed || is_replicas_downtimed,
        is_actionable: code.is_actionable(policy.recover_non_writeable_master),
        binlog_coordinates: data.and_then(|d| d.self_coordinates.clone()),
        data_center: data.map(|d| d.data_center.clone()).unwrap_or_default(),
        region: data.map(|d| d.region.clone()).unwrap_or_default(),
        physical_environment: data
            .map(|d| d.physical_environment.clone())
            .unwrap_or_default(),
        is_read_only: data.is_some_and(|d| d.read_only),
        gtid_mode: data.map(|d| d.gtid_mode.clone()).unwrap_or_default(),
        min_replica_gtid_mode: gtid_modes(&replicas).first().cloned().unwrap_or_default(),
        max_replica_gtid_mode: gtid_modes(&replicas).last().cloned().unwrap_or_default(),
        max_replica_gtid_errant: max_errant(&me, &replicas, input, key),
        oracle_gtid_immediate_topology: counts.valid > 0 && counts.oracle_gtid == counts.valid,
        mariadb_gtid_immediate_topology: counts.valid > 0 && counts.mariadb_gtid == counts.valid,
        semi_sync_master_enabled: semi.is_some_and(|s| s.master_enabled),
        semi_sync_master_status: semi.is_some_and(|s| s.master_status),
        semi_sync_master_wait_for_replica_count: data.map_or(0, semi_sync_wait_count),
        semi_sync_master_clients: semi.map_or(0, |s| s.master_clients),
        evidence: evidence(me.state),
        replica_evidence: replicas
            .iter()
            .map(|(k, r)| {
                let rr = r.data.and_then(|d| d.replication.as_ref());
                ReplicaEvidence {
                    key: k.clone(),
                    valid: r.valid,
                    last_seen: r.state.last_seen,
                    io_thread: rr.map(|x| x.io_thread).unwrap_or_default(),
                    sql_thread: rr.map(|x| x.sql_thread).unwrap_or_default(),
                    last_io_error: rr.map(|x| x.last_io_error.clone()).unwrap_or_default(),
                    downtimed: r.downtimed,
                }
            })
            .collect(),
        counts,
    })
}

/// MariaDB has no `wait_for_slave_count`: an enabled semi-sync master waits for one.
fn semi_sync_wait_count(d: &InstanceData) -> u32 {
    if d.flavor == Flavor::Mariadb
        && d.semi_sync.master_enabled
        && d.semi_sync.master_wait_for_replica_count == 0
    {
        1
    } else {
        d.semi_sync.master_wait_for_replica_count
    }
}

fn count(replicas: &[(InstanceKey, Member<'_>)], policy: &AnalysisPolicy) -> ReplicaCounts {
    let mut c = ReplicaCounts::default();
    let mut majors = BTreeSet::new();
    for (_, r) in replicas {
        c.replicas += 1;
        if r.downtimed {
            c.downtimed += 1;
        }
        let d = r.data;
        if d.and_then(|d| d.replication_lag_seconds)
            .is_some_and(|l| l > policy.reasonable_replication_lag_seconds)
        {
            c.lagging += 1;
        }
        if d.and_then(|d| d.replication.as_ref())
            .is_some_and(|x| x.sql_delay > 0)
        {
            c.delayed += 1;
        }
        if d.is_some_and(|d| d.semi_sync.replica_enabled) {
            c.semi_sync_enabled += 1;
        }
        if let Some(d) = d.filter(|d| d.is_logging_replica_updates()) {
            c.logging += 1;
            match d.binlog_format.to_ascii_uppercase().as_str() {
                "STATEMENT" => c.statement_logging += 1,
                "MIXED" => c.mixed_logging += 1,
                "ROW" => c.row_logging += 1,
                _ => {}
            }
            majors.insert(d.major_version());
        }
        if !r.valid {
            continue;
        }
        c.valid += 1;
        if r.replicating() {
            c.valid_replicating += 1;
        }
        if r.failing_to_connect() {
            c.failing_to_connect += 1;
        }
        if d.is_some_and(InstanceData::using_oracle_gtid) {
            c.oracle_gtid += 1;
        }
        if d.is_some_and(InstanceData::using_mariadb_gtid) {
            c.mariadb_gtid += 1;
        }
    }
    c.distinct_major_versions_logging = u32::try_from(majors.len()).unwrap_or(u32::MAX);
    c
}

/// orchestrator's table, first match wins.
#[allow(clippy::too_many_arguments)]
fn decide(
    me: &Member<'_>,
    is_master: bool,
    is_co_master: bool,
    depth: u32,
    c: &ReplicaCounts,
    input: &AnalysisInput<'_>,
    key: &InstanceKey,
    policy: &AnalysisPolicy,
    now: Timestamp,
) -> AnalysisCode {
    use AnalysisCode::*;
    let valid = me.valid;
    let partial = me.state.last_partial_success;
    let d = me.data;
    let all_lagging = c.replicas > 0 && c.lagging == c.replicas && c.delayed < c.replicas;
    if is_master {
        if !valid {
            if c.replicas == 0 {
                return DeadMasterWithoutReplicas;
            }
            if c.valid == c.replicas && c.valid_replicating == 0 {
                return DeadMaster;
            }
            if c.valid == 0 {
                return DeadMasterAndReplicas;
            }
            if c.valid < c.replicas && c.valid_replicating == 0 {
                return DeadMasterAndSomeReplicas;
            }
            if all_lagging && c.valid_replicating > 0 {
                return UnreachableMasterWithLaggingReplicas;
            }
            if !partial && c.valid > 0 && c.valid_replicating > 0 {
                return UnreachableMaster;
            }
            if partial && c.failing_to_connect > 0 && c.valid > 0 && c.valid_replicating > 0 {
                return UnreachableMaster;
            }
        }
        if let Some(d) = d {
            let s = &d.semi_sync;
            let wait = semi_sync_wait_count(d);
            if s.master_enabled && s.master_status && wait > 0 && s.master_clients < wait {
                let since = input
                    .states
                    .state(key)
                    .and_then(|st| st.self_coordinates_since);
                let stale = since.is_some_and(|t| now.since(t) >= policy.locked_semi_sync_after());
                return if stale {
                    LockedSemiSyncMaster
                } else {
                    LockedSemiSyncMasterHypothesis
                };
            }
            if policy.enforce_exact_semi_sync_replicas
                && s.master_enabled
                && s.master_status
                && wait > 0
                && s.master_clients > wait
            {
                return MasterWithTooManySemiSyncReplicas;
            }
            if valid
                && d.read_only
                && c.valid_replicating > 0
                && policy.recover_non_writeable_master
            {
                return NoWriteableMasterStructureWarning;
            }
        }
        if valid {
            if c.replicas == 1 && c.valid == 1 && c.valid_replicating == 0 {
                return MasterSingleReplicaNotReplicating;
            }
            if c.replicas == 1 && c.valid == 0 {
                return MasterSingleReplicaDead;
            }
            if c.replicas > 1 && c.valid == c.replicas && c.valid_replicating == 0 {
                return AllMasterReplicasNotReplicating;
            }
            if c.replicas > 1 && c.valid > 0 && c.valid < c.replicas && c.valid_replicating == 0 {
                return AllMasterReplicasNotReplicatingOrDead;
            }
        }
        return NoProblem;
    }
    if is_co_master {
        if !valid && c.replicas > 0 && c.valid == c.replicas && c.valid_replicating == 0 {
            return DeadCoMaster;
        }
        if !valid
            && c.replicas > 0
            && c.valid > 0
            && c.valid < c.replicas
            && c.valid_replicating == 0
        {
            return DeadCoMasterAndSomeReplicas;
        }
        if !valid && !partial && c.valid > 0 && c.valid_replicating > 0 {
            return UnreachableCoMaster;
        }
        if valid && c.replicas > 0 && c.valid_replicating == 0 {
            return AllCoMasterReplicasNotReplicating;
        }
    }
    // Intermediate masters (and co-masters matching no co-master row).
    if !valid {
        if c.replicas == 1 && c.valid == 1 && c.failing_to_connect == 1 && c.valid_replicating == 0
        {
            return DeadIntermediateMasterWithSingleReplicaFailingToConnect;
        }
        if c.replicas == 1 && c.valid == 1 && c.valid_replicating == 0 {
            return DeadIntermediateMasterWithSingleReplica;
        }
        if c.replicas > 1 && c.valid == c.replicas && c.valid_replicating == 0 {
            return DeadIntermediateMaster;
        }
        if c.valid > 0 && c.valid < c.replicas && c.valid_replicating == 0 {
            return DeadIntermediateMasterAndSomeReplicas;
        }
        if c.replicas > 0 && c.valid == 0 {
            return DeadIntermediateMasterAndReplicas;
        }
        if all_lagging && c.valid_replicating > 0 {
            return UnreachableIntermediateMasterWithLaggingReplicas;
        }
        if !partial && c.valid > 0 && c.valid_replicating > 0 {
            return UnreachableIntermediateMaster;
        }
    }
    if valid {
        if c.replicas > 1
            && c.valid_replicating == 0
            && c.failing_to_connect > 0
            && c.failing_to_connect == c.valid
        {
            return AllIntermediateMasterReplicasFailingToConnectOrDead;
        }
        if c.replicas > 0 && c.valid_replicating == 0 {
            return AllIntermediateMasterReplicasNotReplicating;
        }
    }
    // orchestrator reads this from the replica's last stored row, whether or
    // not its last check succeeded (a partial or failed check still names it).
    if depth == 1 && me.failing_to_connect() {
        return FirstTierReplicaFailingToConnectToMaster;
    }
    NoProblem
}

fn gtid_modes(replicas: &[(InstanceKey, Member<'_>)]) -> Vec<String> {
    let mut modes: Vec<String> = replicas
        .iter()
        .filter_map(|(_, r)| r.data.map(|d| d.gtid_mode.clone()))
        .filter(|m| !m.is_empty())
        .collect();
    modes.sort();
    modes.dedup();
    modes
}

/// Transactions a replica has that its master does not, leaving out
/// those that came from the master's own lineage (timing, not errant).
pub fn errant_gtids(
    replica: &InstanceData,
    master: &InstanceData,
    lineage_uuids: &[&str],
) -> Option<GtidSet> {
    let r = replica.executed_gtids()?;
    let m = master
        .executed_gtids()
        .unwrap_or_else(|| GtidSet::empty(replica.flavor.gtid_flavor()));
    match (&r, &m) {
        (GtidSet::Mysql(rs), GtidSet::Mysql(ms)) => {
            let mut extra = rs.difference(ms);
            for uuid in lineage_uuids
                .iter()
                .chain(std::iter::once(&master.server_uuid.as_str()))
            {
                if !uuid.is_empty() {
                    extra = extra.without_uuid(uuid);
                }
            }
            (!extra.is_empty()).then_some(GtidSet::Mysql(extra))
        }
        (GtidSet::Mariadb(rs), GtidSet::Mariadb(ms)) => {
            let mut extra = orc_model::MariadbGtidSet::new();
            for g in rs.difference(ms).gtids() {
                if g.server != master.server_id {
                    extra.insert(*g);
                }
            }
            (!extra.is_empty()).then_some(GtidSet::Mariadb(extra))
        }
        _ => None,
    }
}

fn max_errant(
    me: &Member<'_>,
    replicas: &[(InstanceKey, Member<'_>)],
    input: &AnalysisInput<'_>,
    key: &InstanceKey,
) -> String {
    let Some(master) = me.data else {
        return String::new();
    };
    let lineage: Vec<String> = input
        .topology
        .placement(key)
        .map(|p| p.ancestry.clone())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| {
            input
                .states
                .state(a)?
                .data
                .as_ref()
                .map(|d| d.server_uuid.clone())
        })
        .collect();
    let lineage: Vec<&str> = lineage.iter().map(String::as_str).collect();
    replicas
        .iter()
        .filter(|(_, r)| !r.downtimed && r.valid)
        .filter_map(|(_, r)| {
            let d = r.data?;
            errant_gtids(d, master, &lineage)
                .map(|e| e.to_string())
                // What another observer computed (a replayed document).
                .or_else(|| {
                    (!d.reported_gtid_errant.is_empty()).then(|| d.reported_gtid_errant.clone())
                })
        })
        .max_by_key(String::len)
        .unwrap_or_default()
}

fn structure_warnings(
    me: &Member<'_>,
    is_master: bool,
    replicas: &[(InstanceKey, Member<'_>)],
    c: &ReplicaCounts,
    input: &AnalysisInput<'_>,
    key: &InstanceKey,
    policy: &AnalysisPolicy,
) -> Vec<StructureWarning> {
    use StructureWarning::*;
    let mut w = Vec::new();
    let d = me.data;
    if is_master && c.replicas > 1 && c.logging == 0 {
        w.push(NoLoggingReplicasStructureWarning);
    }
    // Pseudo-GTID moves replicas without GTID: configured here, or reported
    // by the replicas themselves (a replayed document).
    let pseudo_gtid = policy.pseudo_gtid
        || (c.valid > 0
            && replicas
                .iter()
                .filter(|(_, r)| r.valid)
                .all(|(_, r)| r.data.is_some_and(|d| d.using_pseudo_gtid)));
    if is_master
        && c.replicas > 1
        && !pseudo_gtid
        && !(c.valid > 0 && (c.oracle_gtid == c.valid || c.mariadb_gtid == c.valid))
    {
        w.push(NoFailoverSupportStructureWarning);
    }
    if is_master && c.statement_logging > 0 && c.mixed_logging > 0 {
        w.push(StatementAndMixedLoggingReplicasStructureWarning);
    }
    if is_master && c.statement_logging > 0 && c.row_logging > 0 {
        w.push(StatementAndRowLoggingReplicasStructureWarning);
    }
    if is_master && c.mixed_logging > 0 && c.row_logging > 0 {
        w.push(MixedAndRowLoggingReplicasStructureWarning);
    }
    if is_master && c.distinct_major_versions_logging > 1 {
        w.push(MultipleMajorVersionsLoggingReplicasStructureWarning);
    }
    // orchestrator: the instance's own gtid_mode differs from its replicas' min or max.
    let modes = gtid_modes(replicas);
    let own = d.map_or("", |d| d.gtid_mode.as_str());
    let (min, max) = (
        modes.first().map_or("", String::as_str),
        modes.last().map_or("", String::as_str),
    );
    if c.replicas > 0 && (own != min || own != max) {
        w.push(DifferentGTIDModesStructureWarning);
    }
    if !max_errant(me, replicas, input, key).is_empty() {
        w.push(ErrantGTIDStructureWarning);
    }
    if let Some(d) = d {
        if is_master && d.read_only {
            w.push(NoWriteableMasterStructureWarning);
        }
        let s = &d.semi_sync;
        let wait = semi_sync_wait_count(d);
        if is_master && s.master_enabled && !s.master_status && wait > 0 && s.master_clients < wait
        {
            w.push(NotEnoughValidSemiSyncReplicasStructureWarning);
        }
    }
    w
}

fn evidence(state: &InstanceState) -> InstanceEvidence {
    InstanceEvidence {
        last_checked: state.last_checked,
        last_seen: state.last_seen,
        failing_since: state.failing_since,
        error_kind: state.last_error.as_ref().map(|e| e.kind),
        error: state
            .last_error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default(),
        vantages: state
            .vantages
            .iter()
            .map(|(v, o)| VantageEvidence {
                vantage: v.clone(),
                observed_at: o.observed_at,
                reached: o.reached,
                error_kind: o.error_kind,
            })
            .collect(),
    }
}

//! What can replicate from what, and where a moved replica starts: the
//! rules every plan shares, written once.

use orc_model::{GtidFlavor, GtidSet, InstanceData, InstanceKey};
use orc_promotion::{binlog_format_rank, compare_versions};

use crate::error::{PlanError, Refusal};
use crate::plan::Position;
use crate::topology::{Server, Topology};

/// The live data of a server, or why there is none.
pub(crate) fn live<'t>(t: &'t Topology, key: &InstanceKey) -> Result<&'t InstanceData, PlanError> {
    let s = t.get(key).ok_or_else(|| PlanError::Unknown(key.clone()))?;
    s.live().ok_or_else(|| {
        PlanError::refused(
            Refusal::Unreachable,
            key,
            format!(
                "{key} cannot be read now{}",
                s.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        )
    })
}

/// Refuses servers under maintenance.
pub(crate) fn not_in_maintenance(t: &Topology, keys: &[&InstanceKey]) -> Result<(), PlanError> {
    for k in keys {
        if let Some(reason) = t.get(k).and_then(|s| s.maintenance.as_ref()) {
            return Err(PlanError::refused(
                Refusal::Maintenance,
                k,
                format!("{k} is under maintenance ({reason}); end the maintenance first"),
            ));
        }
    }
    Ok(())
}

/// Whether `replica` can replicate from `source` (orchestrator's
/// `CanReplicateFrom`): binary logs, replica updates when the source is
/// itself a replica, versions, binlog formats, distinct server ids.
pub fn can_replicate_from(
    t: &Topology,
    replica: &InstanceKey,
    source: &InstanceKey,
) -> Result<(), PlanError> {
    if replica == source {
        return Err(PlanError::refused(
            Refusal::Invalid,
            replica,
            format!("{replica} cannot replicate from itself"),
        ));
    }
    let r = live(t, replica)?;
    let s = live(t, source)?;
    if !s.log_bin {
        return Err(PlanError::refused(
            Refusal::NoBinaryLogs,
            source,
            format!(
                "{source} has no binary logs (log_bin is off): {replica} cannot replicate from it"
            ),
        ));
    }
    if t.source_of(source).is_some() && !s.log_replica_updates {
        return Err(PlanError::refused(
            Refusal::NoReplicaUpdates,
            source,
            format!(
                "{source} is a replica without log_slave_updates: {replica} would miss what it replicates"
            ),
        ));
    }
    let (rv, sv) = (r.major_version(), s.major_version());
    if !rv.is_empty() && !sv.is_empty() && compare_versions(&rv, &sv).is_lt() {
        return Err(PlanError::refused(
            Refusal::VersionTooOld,
            replica,
            format!(
                "{replica} runs {rv}, older than {sv} on {source}: it cannot replicate from it"
            ),
        ));
    }
    if r.is_logging_replica_updates()
        && let (Some(mine), Some(theirs)) = (
            binlog_format_rank(&r.binlog_format),
            binlog_format_rank(&s.binlog_format),
        )
        && mine < theirs
    {
        return Err(PlanError::refused(
            Refusal::BinlogFormat,
            replica,
            format!(
                "{replica} logs binlog_format {} and cannot log the {} events of {source}",
                r.binlog_format.to_ascii_uppercase(),
                s.binlog_format.to_ascii_uppercase()
            ),
        ));
    }
    if r.server_id != 0 && r.server_id == s.server_id {
        return Err(PlanError::refused(
            Refusal::Invalid,
            replica,
            format!("{replica} and {source} share server_id {}", r.server_id),
        ));
    }
    if !r.server_uuid.is_empty() && r.server_uuid == s.server_uuid {
        return Err(PlanError::refused(
            Refusal::Invalid,
            replica,
            format!("{replica} and {source} share server_uuid {}", r.server_uuid),
        ));
    }
    Ok(())
}

/// The GTID flavour `replica` can follow `source` with, if any: a replica
/// already replicating by GTID keeps its flavour; a server that does not
/// replicate yet can start by GTID when both sides support it.
pub fn gtid_between(replica: &InstanceData, source: &InstanceData) -> Option<GtidFlavor> {
    let serves = source.serves_gtid()?;
    let follows = match replica.replication.as_ref() {
        Some(r) if r.master_key().is_some() || r.is_detached() => replica.gtid_replication()?,
        _ => match replica.flavor.gtid_flavor() {
            GtidFlavor::Mariadb => GtidFlavor::Mariadb,
            GtidFlavor::Mysql => {
                if replica.supports_oracle_gtid() {
                    GtidFlavor::Mysql
                } else {
                    return None;
                }
            }
        },
    };
    (follows == serves).then_some(serves)
}

/// Where a replica starts on a new source by GTID: MariaDB replicas from
/// what they applied (`slave_pos`), former masters from what they wrote
/// too (`current_pos`); MySQL by auto-positioning.
pub fn gtid_position(replica: &InstanceData, former_master: bool) -> Position {
    match replica.flavor.gtid_flavor() {
        GtidFlavor::Mariadb if former_master => Position::MariadbCurrentPos,
        GtidFlavor::Mariadb => Position::MariadbSlavePos,
        GtidFlavor::Mysql => Position::AutoPosition,
    }
}

/// The errant GTIDs of `key`: transactions it executed that its cluster's
/// master did not, leaving out its own lineage's (as the analysis does).
pub fn errant_gtids(t: &Topology, key: &InstanceKey) -> Option<GtidSet> {
    let root = t.root_of(key);
    if &root == key {
        return None;
    }
    let me = t.get(key)?.data.as_ref()?;
    let master = t.get(&root)?.data.as_ref()?;
    let lineage: Vec<String> = t
        .ancestry(key)
        .iter()
        .filter_map(|a| t.get(a)?.data.as_ref().map(|d| d.server_uuid.clone()))
        .collect();
    let lineage: Vec<&str> = lineage.iter().map(String::as_str).collect();
    orc_analysis::errant_gtids(me, master, &lineage)
}

/// Refuses to put `replica` below a source whose errant GTIDs it lacks:
/// they would be replicated to it.
pub(crate) fn no_errant_inflow(
    t: &Topology,
    replica: &InstanceKey,
    source: &InstanceKey,
) -> Result<(), PlanError> {
    let Some(errant) = errant_gtids(t, source) else {
        return Ok(());
    };
    let has = t
        .get(replica)
        .and_then(|s| s.data.as_ref())
        .and_then(InstanceData::executed_gtids)
        .is_some_and(|mine| mine.contains(&errant));
    if has {
        return Ok(());
    }
    Err(PlanError::refused(
        Refusal::ErrantGtid,
        source,
        format!(
            "{source} has errant GTID {errant}: {replica} would replicate it (clean it up first: gtid-errant-inject-empty or gtid-errant-reset-master)"
        ),
    ))
}

/// Refuses a plan that would start `replica` replicating from a source
/// that cannot be read now: its threads could not run.
pub(crate) fn source_answers(t: &Topology, replica: &InstanceKey) -> Result<(), PlanError> {
    let Some(source) = t.source_of(replica) else {
        return Ok(());
    };
    match t.get(&source) {
        Some(s) if s.live().is_some() => Ok(()),
        _ => Err(PlanError::refused(
            Refusal::Unreachable,
            &source,
            format!(
                "{source}, the source of {replica}, cannot be read now: replication from it would not run"
            ),
        )),
    }
}

/// Whether the replica's lag is within `limit` seconds (unknown passes).
pub(crate) fn lag_within(s: &Server, limit: i64) -> bool {
    s.data
        .as_ref()
        .and_then(|d| {
            d.replication_lag_seconds
                .or_else(|| d.replication.as_ref()?.seconds_behind_master)
        })
        .is_none_or(|lag| lag <= limit)
}

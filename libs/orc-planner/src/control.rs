//! Replication control on one server: start, stop, detach, read-only, GTID
//! on or off, binary logs, semi-sync, delay, kill, errant GTID clean-up.

use orc_model::{GtidFlavor, GtidSet, InstanceKey};

use crate::build::{capture, change, just, lane, name, phase};
use crate::error::{PlanError, Refusal};
use crate::intent::Intent;
use crate::plan::{Action, Capture, Condition, Method, Plan, Position, SemiSyncRole, Step};
use crate::relocate::{restarts, source_of};
use crate::replication::{
    errant_gtids, gtid_between, gtid_position, live, not_in_maintenance, source_answers,
};
use crate::topology::Topology;

fn single(
    intent: Intent,
    instance: &InstanceKey,
    summary: String,
    steps: Vec<Step>,
    expect: Vec<Condition>,
) -> Plan {
    let mut plan = Plan::new(intent, Method::None, summary.clone());
    plan.subject = Some(instance.clone());
    plan.phases = vec![phase(summary.clone(), vec![lane(summary, steps)])];
    plan.expect = expect;
    plan
}

fn replica_check(t: &Topology, instance: &InstanceKey) -> Result<InstanceKey, PlanError> {
    live(t, instance)?;
    not_in_maintenance(t, &[instance])?;
    source_of(t, instance)
}

/// Plans the single-server operations.
pub(crate) fn plan_control(t: &Topology, intent: Intent) -> Result<Plan, PlanError> {
    let i = intent.instance().clone();
    match intent.clone() {
        Intent::StopReplica { .. } => {
            replica_check(t, &i)?;
            Ok(single(
                intent,
                &i,
                format!("stop replication on {i}"),
                vec![just(Action::StopReplica(i.clone()))],
                vec![Condition::ReplicationStopped(i.clone())],
            ))
        }
        Intent::StartReplica { .. } => {
            replica_check(t, &i)?;
            source_answers(t, &i)?;
            Ok(single(
                intent,
                &i,
                format!("start replication on {i}"),
                vec![just(Action::StartReplica(i.clone()))],
                vec![Condition::ReplicationRunning(i.clone())],
            ))
        }
        Intent::RestartReplica { .. } => {
            replica_check(t, &i)?;
            source_answers(t, &i)?;
            Ok(single(
                intent,
                &i,
                format!("restart replication on {i}"),
                vec![
                    just(Action::StopReplica(i.clone())),
                    just(Action::StartReplica(i.clone())),
                ],
                vec![Condition::ReplicationRunning(i.clone())],
            ))
        }
        Intent::StopReplicaNice { .. } => {
            replica_check(t, &i)?;
            Ok(single(
                intent,
                &i,
                format!("stop replication on {i} once its relay logs are applied"),
                vec![
                    just(Action::StopIoThread(i.clone())),
                    just(Action::StartSqlThread(i.clone())),
                    just(Action::WaitRelayLogApplied(i.clone())),
                    just(Action::StopReplica(i.clone())),
                ],
                vec![Condition::ReplicationStopped(i.clone())],
            ))
        }
        Intent::ResetReplica { .. } => {
            replica_check(t, &i)?;
            Ok(single(
                intent,
                &i,
                format!("forget the replication of {i}"),
                vec![
                    just(Action::StopReplica(i.clone())),
                    just(Action::ResetReplica(i.clone())),
                ],
                vec![Condition::NoSource(i.clone())],
            ))
        }
        Intent::SkipQuery { .. } => {
            replica_check(t, &i)?;
            source_answers(t, &i)?;
            Ok(single(
                intent,
                &i,
                format!("skip one query on {i}"),
                vec![
                    just(Action::StopReplica(i.clone())),
                    just(Action::SkipQuery(i.clone())),
                    just(Action::StartReplica(i.clone())),
                ],
                vec![],
            ))
        }
        Intent::DetachReplicaMasterHost { .. } => {
            replica_check(t, &i)?;
            Ok(single(
                intent,
                &i,
                format!("detach {i} from its source"),
                vec![
                    just(Action::StopReplica(i.clone())),
                    just(Action::DetachSource(i.clone())),
                ],
                vec![Condition::Detached(i.clone())],
            ))
        }
        Intent::ReattachReplicaMasterHost { .. } => {
            live(t, &i)?;
            not_in_maintenance(t, &[&i])?;
            if !t
                .get(&i)
                .and_then(|s| s.data.as_ref())
                .is_some_and(orc_model::InstanceData::is_detached)
            {
                return Err(PlanError::refused(
                    Refusal::NothingToDo,
                    &i,
                    format!("{i} is not detached"),
                ));
            }
            let mut attached = t.clone();
            if let Some(srv) = attached.get_mut(&i)
                && let Some(r) = srv.data.as_mut().and_then(|d| d.replication.as_mut())
            {
                r.master_host = r.master_host.trim_start_matches('/').to_string();
            }
            source_answers(&attached, &i)?;
            Ok(single(
                intent,
                &i,
                format!("reattach {i} to its source"),
                vec![
                    just(Action::StopReplica(i.clone())),
                    crate::build::step(
                        Action::ReattachSource(i.clone()),
                        vec![Condition::Detached(i.clone())],
                    ),
                    just(Action::StartReplica(i.clone())),
                ],
                vec![Condition::ReplicationRunning(i.clone())],
            ))
        }
        Intent::SetReadOnly { read_only, .. } => {
            live(t, &i)?;
            not_in_maintenance(t, &[&i])?;
            let words = if read_only { "read-only" } else { "writable" };
            Ok(single(
                intent,
                &i,
                format!("make {i} {words}"),
                vec![just(Action::SetReadOnly {
                    on: i.clone(),
                    read_only,
                })],
                vec![if read_only {
                    Condition::ReadOnly(i.clone())
                } else {
                    Condition::Writable(i.clone())
                }],
            ))
        }
        Intent::EnableGtid { .. } => {
            let m = replica_check(t, &i)?;
            source_answers(t, &i)?;
            let d = live(t, &i)?;
            if d.gtid_replication().is_some() {
                return Err(PlanError::refused(
                    Refusal::NothingToDo,
                    &i,
                    format!("{i} replicates by GTID already"),
                ));
            }
            let md = live(t, &m)?;
            let mut probe = d.clone();
            probe.replication = None;
            if gtid_between(&probe, md).is_none() {
                return Err(PlanError::refused(
                    Refusal::Unsupported,
                    &i,
                    format!(
                        "{m} does not serve GTID that {i} can follow (MySQL needs gtid_mode=ON on both)"
                    ),
                ));
            }
            let mut plan = single(
                intent,
                &i,
                format!("replicate {i} from {m} by GTID"),
                vec![
                    just(Action::StopReplica(i.clone())),
                    change(&i, &m, gtid_position(d, false)),
                    just(Action::StartReplica(i.clone())),
                ],
                vec![Condition::ReplicationRunning(i.clone())],
            );
            plan.method = Method::Gtid;
            plan.on_failure = restarts(t, &[&i]);
            Ok(plan)
        }
        Intent::DisableGtid { .. } => {
            let m = replica_check(t, &i)?;
            source_answers(t, &i)?;
            let d = live(t, &i)?;
            if d.gtid_replication().is_none() {
                return Err(PlanError::refused(
                    Refusal::NothingToDo,
                    &i,
                    format!("{i} does not replicate by GTID"),
                ));
            }
            let n = name("exec", &i);
            let mut plan = single(
                intent,
                &i,
                format!("replicate {i} from {m} by binlog coordinates"),
                vec![
                    just(Action::StopReplica(i.clone())),
                    capture(n.clone(), Capture::ExecCoordinates(i.clone())),
                    change(&i, &m, Position::Captured(n)),
                    just(Action::StartReplica(i.clone())),
                ],
                vec![Condition::ReplicationRunning(i.clone())],
            );
            plan.method = Method::BinlogFile;
            plan.on_failure = restarts(t, &[&i]);
            Ok(plan)
        }
        Intent::FlushBinaryLogs { .. } => {
            let d = live(t, &i)?;
            no_binlogs(d, &i)?;
            Ok(single(
                intent,
                &i,
                format!("flush the binary logs of {i}"),
                vec![just(Action::FlushBinaryLogs(i.clone()))],
                vec![],
            ))
        }
        Intent::PurgeBinaryLogs { to, force, .. } => purge(t, intent, &i, &to, force),
        Intent::SetSemiSync { role, enabled, .. } => {
            let d = live(t, &i)?;
            not_in_maintenance(t, &[&i])?;
            if !d.semi_sync.available {
                return Err(PlanError::refused(
                    Refusal::Unsupported,
                    &i,
                    format!("semi-synchronous replication is not available on {i}"),
                ));
            }
            let what = match role {
                SemiSyncRole::Master => "master",
                SemiSyncRole::Replica => "replica",
            };
            Ok(single(
                intent,
                &i,
                format!(
                    "{} semi-sync {what} on {i}",
                    if enabled { "enable" } else { "disable" }
                ),
                vec![just(Action::SetSemiSync {
                    on: i.clone(),
                    role,
                    enabled,
                })],
                vec![],
            ))
        }
        Intent::DelayReplication { seconds, .. } => {
            replica_check(t, &i)?;
            let was_running = t.get(&i).is_some_and(|s| s.is_replicating());
            if was_running {
                source_answers(t, &i)?;
            }
            let mut steps = vec![just(Action::StopReplica(i.clone()))];
            steps.push(just(Action::DelayReplication {
                on: i.clone(),
                seconds,
            }));
            if was_running {
                steps.push(just(Action::StartReplica(i.clone())));
            }
            let mut plan = single(
                intent,
                &i,
                format!("delay replication of {i} by {seconds}s"),
                steps,
                vec![],
            );
            plan.on_failure = restarts(t, &[&i]);
            Ok(plan)
        }
        Intent::KillQuery { process, .. } => {
            live(t, &i)?;
            Ok(single(
                intent,
                &i,
                format!("kill query {process} on {i}"),
                vec![just(Action::KillQuery {
                    on: i.clone(),
                    process,
                })],
                vec![],
            ))
        }
        Intent::GtidErrantResetMaster { .. } => errant_reset_master(t, intent, &i),
        Intent::GtidErrantInjectEmpty { .. } => errant_inject_empty(t, intent, &i),
        other => Err(PlanError::refused(
            Refusal::Invalid,
            &i,
            format!("{} is not a replication-control operation", other.name()),
        )),
    }
}

fn no_binlogs(d: &orc_model::InstanceData, i: &InstanceKey) -> Result<(), PlanError> {
    if d.log_bin {
        Ok(())
    } else {
        Err(PlanError::refused(
            Refusal::NoBinaryLogs,
            i,
            format!("{i} has no binary logs (log_bin is off)"),
        ))
    }
}

fn purge(
    t: &Topology,
    intent: Intent,
    i: &InstanceKey,
    to: &str,
    force: bool,
) -> Result<Plan, PlanError> {
    let d = live(t, i)?;
    no_binlogs(d, i)?;
    let to = if to == "latest" {
        d.self_coordinates
            .as_ref()
            .map(|c| c.log_file.clone())
            .ok_or_else(|| {
                PlanError::refused(
                    Refusal::NoBinaryLogs,
                    i,
                    format!("{i} reports no binary log position"),
                )
            })?
    } else {
        to.to_string()
    };
    if to.trim().is_empty() || to.contains(['\'', '\\', '/']) {
        return Err(PlanError::refused(
            Refusal::Invalid,
            i,
            format!("invalid binary log name {to:?}"),
        ));
    }
    if !force {
        let file = orc_model::BinlogCoordinates::binary(to.clone(), 4);
        for r in t.replicas_of(i) {
            let exec = t
                .get(&r)
                .and_then(|s| s.data.as_ref())
                .and_then(|d| d.replication.as_ref())
                .map(|rs| rs.exec_coordinates.clone());
            if exec.is_none_or(|c| c.log_file.is_empty() || c < file) {
                return Err(PlanError::refused(
                    Refusal::Lagging,
                    i,
                    format!(
                        "replica {r} has not yet executed {to} of {i}: purging would break it (force=true purges anyway)"
                    ),
                ));
            }
        }
    }
    Ok(single(
        intent,
        i,
        format!("purge the binary logs of {i} up to {to}"),
        vec![just(Action::PurgeBinaryLogs { on: i.clone(), to })],
        vec![],
    ))
}

fn errant_of(t: &Topology, i: &InstanceKey) -> Result<GtidSet, PlanError> {
    errant_gtids(t, i).ok_or_else(|| {
        PlanError::refused(Refusal::NothingToDo, i, format!("{i} has no errant GTID"))
    })
}

fn mysql_only(d: &orc_model::InstanceData, i: &InstanceKey, op: &str) -> Result<(), PlanError> {
    if d.flavor.gtid_flavor() == GtidFlavor::Mysql {
        return Ok(());
    }
    Err(PlanError::refused(
        Refusal::Unsupported,
        i,
        format!(
            "{op} works on MySQL GTID only: MariaDB numbers transactions per domain, so an errant transaction cannot be injected on or removed from another server's history; take {i} out of its cluster or rebuild it"
        ),
    ))
}

fn errant_reset_master(t: &Topology, intent: Intent, i: &InstanceKey) -> Result<Plan, PlanError> {
    let d = live(t, i)?;
    mysql_only(d, i, "gtid-errant-reset-master")?;
    not_in_maintenance(t, &[i])?;
    let errant = errant_of(t, i)?;
    if !t.replicas_of(i).is_empty() {
        return Err(PlanError::refused(
            Refusal::Placement,
            i,
            format!("{i} has replicas: resetting its binary logs would break them"),
        ));
    }
    let mut plan = single(
        intent,
        i,
        format!("remove errant GTID {errant} from {i}"),
        vec![
            just(Action::StopReplica(i.clone())),
            just(Action::ResetMasterKeeping {
                on: i.clone(),
                errant: errant.to_string(),
            }),
            just(Action::StartReplica(i.clone())),
        ],
        vec![],
    );
    plan.on_failure = restarts(t, &[i]);
    Ok(plan)
}

fn errant_inject_empty(t: &Topology, intent: Intent, i: &InstanceKey) -> Result<Plan, PlanError> {
    let d = live(t, i)?;
    mysql_only(d, i, "gtid-errant-inject-empty")?;
    let errant = errant_of(t, i)?;
    let master = t.root_of(i);
    live(t, &master)?;
    Ok(single(
        intent,
        i,
        format!("make {errant} part of {master}'s history (empty transactions)"),
        vec![just(Action::InjectEmptyTransactions {
            on: master,
            gtids: errant.to_string(),
        })],
        vec![],
    ))
}

//! Planned switches of mastership between two live servers: graceful
//! takeover, and the hand-over from a replica promoted in an emergency to
//! the ideal one. GTID only: every replica's place on the new master
//! follows from what it executed.
//!
//! The order keeps writes safe: the master turns read-only, the designated
//! replica and its siblings catch up with its last transaction, the
//! siblings move below the designated replica, it is promoted, and the old
//! master is pointed at it — replicating when replication credentials are
//! known, else left stopped and downtimed, as orchestrator leaves it.

use orc_model::{InstanceKey, LOST_IN_RECOVERY, PromotionRule};
use orc_promotion::{PromotionRequest, ReplicaFacts, select_candidate};
use orc_recovery_fsm::HookStage;

use crate::build::{capture, change, just, lane, move_lane, name, optional, phase};
use crate::error::{PlanError, Refusal};
use crate::intent::Intent;
use crate::plan::{Action, Capture, Condition, Credentials, Method, Phase, Plan};
use crate::policy::Policy;
use crate::replication::{
    can_replicate_from, gtid_position, lag_within, live, no_errant_inflow, not_in_maintenance,
};
use crate::topology::Topology;

fn hooks(stages: &[HookStage], critical: bool) -> Phase {
    let label = stages
        .iter()
        .map(|s| s.config_key())
        .collect::<Vec<_>>()
        .join(", ");
    let steps = stages.iter().map(|s| just(Action::Hooks(*s))).collect();
    phase(
        label.clone(),
        vec![if critical {
            lane(label, steps)
        } else {
            optional(label, steps)
        }],
    )
}

/// Chooses the replica a graceful takeover hands mastership to.
fn choose_designated(
    t: &Topology,
    policy: &Policy,
    master: &InstanceKey,
    designated: Option<&InstanceKey>,
    auto: bool,
) -> Result<InstanceKey, PlanError> {
    let direct = t.replicas_of(master);
    if direct.is_empty() {
        return Err(PlanError::refused(
            Refusal::Placement,
            master,
            format!("master {master} has no replicas"),
        ));
    }
    match designated {
        Some(d) if direct.contains(d) => Ok(d.clone()),
        Some(d) => Err(PlanError::refused(
            Refusal::Placement,
            d,
            format!("{d} is not a direct replica of master {master}"),
        )),
        None if direct.len() == 1 => Ok(direct[0].clone()),
        None if auto => {
            let empty = orc_model::InstanceData::default();
            let facts: Vec<ReplicaFacts<'_>> = direct
                .iter()
                .filter_map(|k| t.get(k))
                .map(|s| ReplicaFacts {
                    key: &s.key,
                    data: s.data.as_ref().filter(|_| s.reachable).unwrap_or(&empty),
                    reachable: s.reachable && s.data.is_some() && s.maintenance.is_none(),
                    rule: s.rule,
                })
                .collect();
            let request = PromotionRequest {
                failed_master: master,
                failed_master_data: t.get(master).and_then(|s| s.data.as_ref()),
                replicas: facts,
                designated: None,
            };
            let d =
                select_candidate(&request, &policy.promotion).map_err(PlanError::NoCandidate)?;
            Ok(d.ideal.unwrap_or(d.promote))
        }
        None => Err(PlanError::refused(
            Refusal::Invalid,
            master,
            format!(
                "GracefulMasterTakeover: target instance not indicated and master {master} has {} replicas; name the designated replica",
                direct.len()
            ),
        )),
    }
}

/// Refuses a switch that cannot be done safely.
fn check_switch(
    t: &Topology,
    policy: &Policy,
    master: &InstanceKey,
    designated: &InstanceKey,
    rule: PromotionRule,
) -> Result<(), PlanError> {
    live(t, master).map_err(|_| {
        PlanError::refused(
            Refusal::Unreachable,
            master,
            format!("master {master} cannot be reached"),
        )
    })?;
    let d = live(t, designated)?;
    not_in_maintenance(t, &[master, designated])?;
    if let Some(source) = t.source_of(master) {
        // A promoted replica that kept its link to the dead master
        // (ApplyMySQLPromotionAfterMasterFailover off) may still hand over.
        let dead_link = t.get(&source).is_none_or(|s| s.live().is_none())
            && t.get(master)
                .is_some_and(crate::topology::Server::replication_stopped);
        if !dead_link {
            return Err(PlanError::refused(
                Refusal::Placement,
                master,
                format!(
                    "{master} replicates from {source}: only the master of a cluster hands over mastership"
                ),
            ));
        }
    }
    if !t
        .get(designated)
        .is_some_and(crate::topology::Server::is_replicating)
    {
        return Err(PlanError::refused(
            Refusal::Placement,
            designated,
            format!(
                "designated instance {designated} does not replicate now: start its replication first"
            ),
        ));
    }
    if t.source_of(designated).as_ref() != Some(master) {
        return Err(PlanError::refused(
            Refusal::Placement,
            designated,
            format!("designated instance {designated} does not replicate from {master}"),
        ));
    }
    if rule == PromotionRule::MustNot {
        return Err(PlanError::refused(
            Refusal::Forbidden,
            designated,
            format!("designated instance {designated} has promotion rule must_not"),
        ));
    }
    if policy.promotion.ignores_hostname(designated.hostname()) {
        return Err(PlanError::refused(
            Refusal::Forbidden,
            designated,
            format!("designated instance {designated} matches PromotionIgnoreHostnameFilters"),
        ));
    }
    if !d.is_logging_replica_updates() {
        return Err(PlanError::refused(
            Refusal::NoReplicaUpdates,
            designated,
            format!(
                "designated instance {designated} needs log_bin and log_slave_updates to serve the others"
            ),
        ));
    }
    let siblings_gtid = t
        .replicas_of(master)
        .iter()
        .filter_map(|k| t.get(k))
        .filter(|s| s.reachable && s.maintenance.is_none())
        .all(|s| {
            s.data
                .as_ref()
                .is_some_and(|d| d.gtid_replication().is_some())
        });
    if d.gtid_replication().is_none() || !siblings_gtid {
        return Err(PlanError::refused(
            Refusal::NoMethod,
            designated,
            "planned switches need GTID replication (MariaDB GTID or MySQL auto-position) on the designated instance and its siblings",
        ));
    }
    for sibling in t.replicas_of(master) {
        let moves = t
            .get(&sibling)
            .is_some_and(|x| x.live().is_some() && x.maintenance.is_none());
        if sibling != *designated && moves {
            can_replicate_from(t, &sibling, designated)?;
            no_errant_inflow(t, &sibling, designated)?;
        }
    }
    no_errant_inflow(t, master, designated)?;
    let s = t
        .get(designated)
        .ok_or_else(|| PlanError::Unknown(designated.clone()))?;
    if !lag_within(s, policy.maintenance_lag_seconds) {
        return Err(PlanError::refused(
            Refusal::Lagging,
            designated,
            format!(
                "designated instance {designated} lags more than ReasonableMaintenanceReplicationLagSeconds ({}s)",
                policy.maintenance_lag_seconds
            ),
        ));
    }
    Ok(())
}

/// Graceful takeover (`hand_over` false) or hand-over (true).
pub(crate) fn switch(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    master: &InstanceKey,
    designated: Option<&InstanceKey>,
    auto: bool,
    hand_over: bool,
) -> Result<Plan, PlanError> {
    let d = choose_designated(t, policy, master, designated, auto)?;
    let rule = if hand_over {
        PromotionRule::Neutral
    } else {
        t.get(&d).map(|s| s.rule).unwrap_or_default()
    };
    check_switch(t, policy, master, &d, rule)?;
    let m_data = live(t, master)?;
    let mut siblings: Vec<InstanceKey> = Vec::new();
    let mut stranded: Vec<(InstanceKey, String)> = Vec::new();
    for k in t.replicas_of(master).into_iter().filter(|k| *k != d) {
        match t.get(&k) {
            Some(s) if s.maintenance.is_some() => {
                stranded.push((k, format!("under maintenance: left below {master}")));
            }
            Some(s) if s.live().is_some() => siblings.push(k),
            _ => stranded.push((k, format!("unreachable: left below {master}"))),
        }
    }
    let running = |k: &InstanceKey| {
        t.get(k)
            .is_some_and(crate::topology::Server::is_replicating)
    };
    let mut plan = Plan::new(
        intent,
        Method::Gtid,
        if hand_over {
            format!("hand mastership from {master} to {d}")
        } else {
            format!("graceful takeover of {master} by {d}")
        },
    );
    plan.subject = Some(master.clone());
    plan.successor = Some(d.clone());
    plan.lost = stranded;
    if !hand_over {
        plan.phases
            .push(hooks(&[HookStage::PreGracefulTakeover], true));
    }
    let pos = name("gtid", master);
    plan.phases.push(phase(
        "quiesce",
        vec![lane(
            format!("make {master} read-only and read its position"),
            vec![
                just(Action::SetReadOnly {
                    on: master.clone(),
                    read_only: true,
                }),
                capture(pos.clone(), Capture::GtidExecuted(master.clone())),
            ],
        )],
    ));
    plan.on_failure.push(just(Action::SetReadOnly {
        on: master.clone(),
        read_only: false,
    }));
    // Replicas an operator stopped cannot catch up: they are moved as they
    // are and stay stopped.
    plan.phases.push(phase(
        "catch up",
        std::iter::once(&d)
            .chain(siblings.iter().filter(|k| running(k)))
            .map(|k| {
                lane(
                    format!("{k} applies everything {master} wrote"),
                    vec![just(Action::WaitForGtid {
                        on: k.clone(),
                        position: pos.clone(),
                    })],
                )
            })
            .collect(),
    ));
    if !siblings.is_empty() {
        let lanes = siblings
            .iter()
            .map(|k| {
                let position = t
                    .get(k)
                    .and_then(|s| s.data.as_ref())
                    .map_or(crate::plan::Position::AutoPosition, |x| {
                        gtid_position(x, false)
                    });
                let mut steps = vec![
                    just(Action::StopReplica(k.clone())),
                    change(k, &d, position),
                ];
                if running(k) {
                    steps.push(just(Action::StartReplica(k.clone())));
                }
                let mut l = move_lane(format!("move {k} below {d}"), k, steps);
                l.critical = true;
                if running(k) {
                    l.on_failure = vec![just(Action::StartReplica(k.clone()))];
                }
                l
            })
            .collect();
        plan.phases.push(phase("move siblings", lanes));
    }
    if !hand_over {
        // From here on it is orchestrator's forced DeadMaster recovery of a
        // master whose one replica is the designated one: detection hooks,
        // then PreFailoverProcesses.
        plan.phases
            .push(hooks(&[HookStage::OnFailureDetection], false));
        plan.phases.push(hooks(&[HookStage::PreFailover], true));
    }
    plan.phases.push(phase(
        "promote",
        vec![lane(
            format!("promote {d}"),
            vec![
                just(Action::StopReplica(d.clone())),
                just(Action::ResetReplica(d.clone())),
                just(Action::SetReadOnly {
                    on: d.clone(),
                    read_only: false,
                }),
                capture(name("successor", &d), Capture::SelfCoordinates(d.clone())),
            ],
        )],
    ));
    plan.phases.push(crate::build::publish_master(&d));
    if !hand_over {
        plan.phases.push(hooks(
            &[HookStage::PostMasterFailover, HookStage::PostFailover],
            false,
        ));
    }
    let position = gtid_position(m_data, true);
    let follows = can_replicate_from(t, master, &d);
    if let Err(e) = &follows {
        plan.notes.push(format!(
            "{master} cannot replicate from {d} ({e}): it is left read-only, without a source, and downtimed"
        ));
    } else if !policy.credentials_known {
        plan.notes.push(format!(
            "no replication credentials are known (set ReplicationCredentialsQuery or ReplicationUser/ReplicationPassword): {master} is pointed at {d} but left stopped and downtimed"
        ));
    }
    let demote = if policy.credentials_known && follows.is_ok() {
        plan.expect
            .push(Condition::ReplicationRunning(master.clone()));
        vec![
            just(Action::ChangeSource {
                on: master.clone(),
                source: d.clone(),
                position,
                credentials: Credentials::Configured,
            }),
            just(Action::StartReplica(master.clone())),
        ]
    } else {
        let mut steps = Vec::new();
        if follows.is_ok() {
            steps.push(change(master, &d, position));
        }
        steps.push(just(Action::Downtime {
            on: master.clone(),
            reason: LOST_IN_RECOVERY.to_string(),
        }));
        steps
    };
    plan.phases.push(phase(
        "demote",
        vec![move_lane(
            format!("{master} replicates from {d}"),
            master,
            demote,
        )],
    ));
    if !hand_over {
        plan.phases
            .push(hooks(&[HookStage::PostGracefulTakeover], false));
    }
    plan.expect.push(Condition::Writable(d.clone()));
    if follows.is_ok() {
        plan.expect.push(Condition::ReplicatesFrom {
            replica: master.clone(),
            source: d.clone(),
        });
    }
    for k in &siblings {
        plan.expect.push(Condition::ReplicatesFrom {
            replica: k.clone(),
            source: d.clone(),
        });
        if running(k) {
            plan.expect.push(Condition::ReplicationRunning(k.clone()));
        }
    }
    Ok(plan)
}

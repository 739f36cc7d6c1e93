//! Recoveries of dead servers: a master or co-master replaced by its best
//! replica (orc-promotion chooses, this turns the choice into steps), an
//! intermediate master's replicas moved up or to a preferred sibling, a
//! read-only master made writable.

use orc_model::{InstanceData, InstanceKey, LOST_IN_RECOVERY, PromotionRule, ThreadState};
use orc_promotion::{PromotionRequest, ReplicaFacts, select_candidate};
use orc_recovery_fsm::HookStage;

use crate::build::{change, just, lane, move_lane, name, optional, phase, step};
use crate::error::{PlanError, Refusal};
use crate::intent::Intent;
use crate::plan::{Action, Capture, Condition, Method, Phase, Plan, Position, Step};
use crate::policy::Policy;
use crate::relocate::pseudo_gtid_steps;
use crate::replication::{can_replicate_from, gtid_between, gtid_position};
use crate::topology::Topology;

fn hooks(label: &str, stages: &[HookStage], critical: bool) -> Phase {
    let steps: Vec<Step> = stages.iter().map(|s| just(Action::Hooks(*s))).collect();
    let l = if critical {
        lane(label, steps)
    } else {
        optional(label, steps)
    };
    phase(label, vec![l])
}

fn downtime(on: &InstanceKey) -> Step {
    just(Action::Downtime {
        on: on.clone(),
        reason: LOST_IN_RECOVERY.to_string(),
    })
}

/// Master (or co-master) failover.
pub(crate) fn master_failover(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    failed: &InstanceKey,
    designated: Option<&InstanceKey>,
    co_master: bool,
    lite: bool,
) -> Result<Plan, PlanError> {
    let failed_server = t
        .get(failed)
        .ok_or_else(|| PlanError::Unknown(failed.clone()))?;
    let partner = if co_master && designated.is_none() && policy.co_master_must_promote_other {
        t.source_of(failed)
    } else {
        None
    };
    let designated = designated.cloned().or(partner);
    let replicas = t.replicas_of(failed);
    let (maintained, candidates): (Vec<&InstanceKey>, Vec<&InstanceKey>) = replicas
        .iter()
        .partition(|k| t.get(k).is_some_and(|s| s.maintenance.is_some()));
    let empty = InstanceData::default();
    let facts: Vec<ReplicaFacts<'_>> = candidates
        .iter()
        .filter_map(|k| t.get(k))
        .map(|s| ReplicaFacts {
            key: &s.key,
            data: s.data.as_ref().filter(|_| s.reachable).unwrap_or(&empty),
            reachable: s.reachable && s.data.is_some(),
            rule: s.rule,
        })
        .collect();
    let request = PromotionRequest {
        failed_master: failed,
        failed_master_data: failed_server.data.as_ref(),
        replicas: facts,
        designated: designated.as_ref(),
    };
    let decision = select_candidate(&request, &policy.promotion).map_err(PlanError::NoCandidate)?;
    let cand = decision.promote.clone();
    let method = if decision.gtid {
        Method::Gtid
    } else {
        Method::BinlogFile
    };
    let mut plan = Plan::new(
        intent,
        method,
        format!("promote {cand} in place of {failed} ({method})"),
    );
    plan.subject = Some(failed.clone());
    plan.successor = Some(cand.clone());
    if let Some(r) = decision.ranked(&cand) {
        plan.notes.push(format!("{cand}: {}", r.reasons.join("; ")));
    }
    for k in &maintained {
        plan.notes.push(format!(
            "{k} is under maintenance: left alone, never promoted"
        ));
    }
    if !lite {
        plan.phases.push(hooks(
            "PreFailoverProcesses",
            &[HookStage::PreFailover],
            true,
        ));
        plan.on_failure
            .push(just(Action::Hooks(HookStage::PostUnsuccessfulFailover)));
    }
    let position_name = name("promoted", &cand);
    if !decision.gtid {
        plan.phases.push(phase(
            "stop the candidate",
            vec![lane(
                format!("stop {cand} and read its position"),
                vec![
                    just(Action::StopReplica(cand.clone())),
                    just(Action::Capture {
                        name: position_name.clone(),
                        what: Capture::SelfCoordinates(cand.clone()),
                    }),
                ],
            )],
        ));
    }
    let mut promote = vec![just(Action::StopReplica(cand.clone()))];
    if policy.apply_promotion {
        promote.push(just(Action::ResetReplica(cand.clone())));
        promote.push(just(Action::SetReadOnly {
            on: cand.clone(),
            read_only: false,
        }));
        plan.expect.push(Condition::Writable(cand.clone()));
    } else if policy.detach_promoted_master_host {
        promote.push(just(Action::DetachSource(cand.clone())));
    }
    promote.push(just(Action::Capture {
        name: name("successor", &cand),
        what: Capture::SelfCoordinates(cand.clone()),
    }));
    let mut lanes = vec![lane(format!("promote {cand}"), promote)];
    for k in candidates.iter().filter(|k| ***k != cand) {
        let Some(s) = t.get(k) else { continue };
        if let Some(l) = decision.lost.iter().find(|l| &l.key == *k) {
            let mut reason = l.reason.clone();
            if !l.given_up.is_empty() {
                reason.push_str(&format!(" (gives up {})", l.given_up));
            }
            plan.lost.push(((*k).clone(), reason));
            if s.reachable && policy.detach_lost_replicas {
                lanes.push(optional(
                    format!("detach lost {k} from {failed}"),
                    vec![
                        just(Action::StopReplica((*k).clone())),
                        just(Action::DetachSource((*k).clone())),
                    ],
                ));
            }
            continue;
        }
        let position = if decision.gtid {
            s.data
                .as_ref()
                .map_or(Position::AutoPosition, |d| gtid_position(d, false))
        } else {
            Position::Captured(position_name.clone())
        };
        let mut moving = move_lane(
            format!("move {k} below {cand}"),
            k,
            vec![
                just(Action::StopReplica((*k).clone())),
                change(k, &cand, position),
                just(Action::StartReplica((*k).clone())),
            ],
        );
        moving.on_failure = vec![downtime(k)];
        lanes.push(moving);
        plan.expect.push(Condition::ReplicatesFrom {
            replica: (*k).clone(),
            source: cand.clone(),
        });
        plan.expect
            .push(Condition::ReplicationRunning((*k).clone()));
    }
    let mut fence = optional(
        format!("make {failed} read-only if it can be reached"),
        vec![step(
            Action::SetReadOnly {
                on: failed.clone(),
                read_only: true,
            },
            vec![Condition::Reachable(failed.clone())],
        )],
    );
    fence.background = true;
    lanes.push(fence);
    plan.phases.push(phase("promote and move replicas", lanes));
    let mut bookkeeping = vec![downtime(failed)];
    for (k, _) in &plan.lost {
        bookkeeping.push(downtime(k));
    }
    bookkeeping.push(just(Action::EndDowntime(cand.clone())));
    plan.phases.push(phase(
        "downtime",
        vec![optional(
            "downtime the failed and lost servers",
            bookkeeping,
        )],
    ));
    plan.phases.push(crate::build::publish_master(&cand));
    if !lite {
        plan.phases.push(hooks(
            "PostMasterFailoverProcesses, PostFailoverProcesses",
            &[HookStage::PostMasterFailover, HookStage::PostFailover],
            false,
        ));
    }
    if designated.is_none()
        && let Some(ideal) = decision.ideal.clone()
        && ideal != cand
    {
        plan.notes.push(format!(
            "then {ideal} takes over from {cand} once it has caught up"
        ));
        plan.followup = Some(Intent::HandOver {
            from: cand.clone(),
            to: ideal,
        });
    }
    plan.decision = Some(decision);
    Ok(plan)
}

/// Where the replicas of a dead intermediate master go: a sibling
/// registered `prefer`/`must` that replicates and logs updates, else its
/// own source.
fn intermediate_target(t: &Topology, failed: &InstanceKey) -> Result<InstanceKey, PlanError> {
    let grandparent = t.source_of(failed).ok_or_else(|| {
        PlanError::refused(
            Refusal::Placement,
            failed,
            format!("{failed} has no master to move its replicas to"),
        )
    })?;
    if &grandparent == failed || t.is_descendant(&grandparent, failed) {
        return Err(PlanError::refused(
            Refusal::Placement,
            failed,
            format!(
                "{failed} replicates from {grandparent}, which replicates from it: a co-master is recovered as a master"
            ),
        ));
    }
    let moving: Vec<InstanceKey> = t
        .replicas_of(failed)
        .into_iter()
        .filter(|k| {
            t.get(k)
                .is_some_and(|s| s.live().is_some() && s.maintenance.is_none())
        })
        .collect();
    let preferred = t.replicas_of(&grandparent).into_iter().find(|k| {
        k != failed
            && moving.iter().all(|r| can_replicate_from(t, r, k).is_ok())
            && t.get(k).is_some_and(|s| {
                matches!(s.rule, PromotionRule::Must | PromotionRule::Prefer)
                    && s.reachable
                    && s.maintenance.is_none()
                    && s.data.as_ref().is_some_and(|d| {
                        d.is_logging_replica_updates()
                            && d.replication
                                .as_ref()
                                .is_some_and(|r| r.io_thread == ThreadState::Running)
                    })
            })
    });
    Ok(preferred.unwrap_or(grandparent))
}

/// Intermediate-master failover: its replicas move below its source (or a
/// preferred sibling) by GTID, or Pseudo-GTID when configured; the others
/// are lost.
pub(crate) fn intermediate_failover(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    failed: &InstanceKey,
    lite: bool,
) -> Result<Plan, PlanError> {
    let target = intermediate_target(t, failed)?;
    let target_data = t.get(&target).and_then(|s| s.live()).ok_or_else(|| {
        PlanError::refused(
            Refusal::Unreachable,
            &target,
            format!("{target}, the new source of {failed}'s replicas, cannot be read"),
        )
    })?;
    let mut plan = Plan::new(
        intent,
        Method::Gtid,
        format!("move the replicas of {failed} below {target}"),
    );
    plan.subject = Some(failed.clone());
    plan.successor = Some(target.clone());
    if !lite {
        plan.phases.push(hooks(
            "PreFailoverProcesses",
            &[HookStage::PreFailover],
            true,
        ));
        plan.on_failure
            .push(just(Action::Hooks(HookStage::PostUnsuccessfulFailover)));
    }
    let mut lanes = Vec::new();
    let mut any_pseudo = false;
    for k in t.replicas_of(failed) {
        let Some(s) = t.get(&k) else { continue };
        if s.maintenance.is_some() {
            plan.notes
                .push(format!("{k} is under maintenance: left alone"));
            continue;
        }
        let Some(d) = s.live() else {
            plan.lost.push((k.clone(), "unreachable".into()));
            continue;
        };
        if let Err(e) = can_replicate_from(t, &k, &target) {
            plan.lost.push((k.clone(), e.to_string()));
            continue;
        }
        if gtid_between(d, target_data).is_some() && d.gtid_replication().is_some() {
            lanes.push(move_lane(
                format!("move {k} below {target}"),
                &k,
                vec![
                    just(Action::StopReplica(k.clone())),
                    change(&k, &target, gtid_position(d, false)),
                    just(Action::StartReplica(k.clone())),
                ],
            ));
        } else if policy.pseudo_gtid && d.is_logging_replica_updates() && target_data.log_bin {
            any_pseudo = true;
            lanes.push(move_lane(
                format!("match {k} below {target}"),
                &k,
                pseudo_gtid_steps(&k, &target),
            ));
        } else {
            plan.lost.push((
                k.clone(),
                "no GTID and no Pseudo-GTID: its position on the new source cannot be computed"
                    .into(),
            ));
            continue;
        }
        plan.expect.push(Condition::ReplicatesFrom {
            replica: k.clone(),
            source: target.clone(),
        });
    }
    if any_pseudo {
        plan.method = Method::PseudoGtid;
    }
    plan.needs_a_moved_replica = !t.replicas_of(failed).is_empty();
    if !lanes.is_empty() {
        plan.phases.push(phase("move replicas", lanes));
    }
    if !lite {
        plan.phases.push(hooks(
            "PostIntermediateMasterFailoverProcesses, PostFailoverProcesses",
            &[
                HookStage::PostIntermediateMasterFailover,
                HookStage::PostFailover,
            ],
            false,
        ));
    }
    Ok(plan)
}

/// `RecoverNonWriteableMaster`: the master turns writable.
pub(crate) fn make_writable(
    t: &Topology,
    intent: Intent,
    instance: &InstanceKey,
) -> Result<Plan, PlanError> {
    crate::replication::live(t, instance)?;
    let mut plan = Plan::new(intent, Method::None, format!("make {instance} writable"));
    plan.subject = Some(instance.clone());
    plan.successor = Some(instance.clone());
    plan.phases = vec![phase(
        "writable",
        vec![lane(
            format!("make {instance} writable"),
            vec![just(Action::SetReadOnly {
                on: instance.clone(),
                read_only: false,
            })],
        )],
    )];
    plan.expect = vec![Condition::Writable(instance.clone())];
    Ok(plan)
}

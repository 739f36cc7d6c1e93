//! Moving several replicas: relocate-replicas, move-up-replicas,
//! take-siblings, repoint-replicas, regroup-replicas.
//!
//! Replicas that can move by GTID move together in one phase; the others
//! are planned one after the other, each on the topology the previous ones
//! leave behind (as [`crate::simulate`] predicts it), so every plan is made
//! on the servers as they will be when it runs.

use orc_model::InstanceKey;
use orc_promotion::{PromotionRequest, ReplicaFacts, select_candidate};

use crate::build::phase;
use crate::error::{PlanError, Refusal};
use crate::intent::Intent;
use crate::plan::{Condition, Method, Plan};
use crate::policy::Policy;
use crate::relocate::{
    check_move, choose_method, gtid_move_lane, relocate, repoint_steps, source_of,
};
use crate::replication::{live, not_in_maintenance};
use crate::simulate::simulate;
use crate::topology::Topology;

/// Replicas of `instance`, optionally filtered by a regular expression on `host:port`.
fn replicas_matching(
    t: &Topology,
    instance: &InstanceKey,
    pattern: Option<&str>,
) -> Result<Vec<InstanceKey>, PlanError> {
    let filter = match pattern.filter(|p| !p.is_empty()) {
        Some(p) => Some(regex::Regex::new(p).map_err(|e| {
            PlanError::refused(
                Refusal::Invalid,
                instance,
                format!("invalid pattern {p:?}: {e}"),
            )
        })?),
        None => None,
    };
    Ok(t.replicas_of(instance)
        .into_iter()
        .filter(|k| filter.as_ref().is_none_or(|f| f.is_match(&k.to_string())))
        .collect())
}

/// Moves `instances` below `below`: GTID ones at once, the others one by
/// one. Replicas that cannot move are reported in `plan.lost` with the
/// reason and left where they are.
pub(crate) fn relocate_many(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instances: &[InstanceKey],
    below: &InstanceKey,
    only: Option<Method>,
) -> Result<Plan, PlanError> {
    live(t, below)?;
    not_in_maintenance(t, &[below])?;
    let mut plan = Plan::new(intent.clone(), Method::Gtid, String::new());
    plan.subject = Some(below.clone());
    plan.successor = Some(below.clone());
    let mut gtid = Vec::new();
    let mut others = Vec::new();
    for k in instances.iter().filter(|k| *k != below) {
        match check_move(t, k, below).and_then(|()| choose_method(t, policy, k, below, only)) {
            Ok(Method::Gtid) => gtid.push(k.clone()),
            Ok(_) => others.push(k.clone()),
            Err(e) => plan.lost.push((k.clone(), e.to_string())),
        }
    }
    let mut topo = t.clone();
    if !gtid.is_empty() {
        plan.phases.push(phase(
            format!("move {} replicas below {below} by GTID", gtid.len()),
            gtid.iter().map(|k| gtid_move_lane(t, k, below)).collect(),
        ));
        topo = simulated(&topo, &plan)?;
    }
    let mut methods = Vec::new();
    for k in &others {
        let step_intent = Intent::Relocate {
            instance: k.clone(),
            below: below.clone(),
            only,
        };
        match relocate(&topo, policy, step_intent, k, below, only) {
            Ok(p) => {
                let mut alone = Plan::new(intent.clone(), p.method, String::new());
                alone.phases = p.phases.clone();
                topo = simulated(&topo, &alone)?;
                methods.push(p.method);
                plan.notes.extend(p.notes);
                plan.phases.extend(p.phases);
                plan.on_failure.extend(p.on_failure);
            }
            Err(e) => plan.lost.push((k.clone(), e.to_string())),
        }
    }
    let moved: Vec<&InstanceKey> = gtid
        .iter()
        .chain(others.iter())
        .filter(|k| !plan.lost.iter().any(|(l, _)| l == *k))
        .collect();
    plan.method = if methods.is_empty() {
        if gtid.is_empty() {
            Method::None
        } else {
            Method::Gtid
        }
    } else if methods.iter().all(|m| *m == methods[0]) && gtid.is_empty() {
        methods[0]
    } else {
        methods
            .iter()
            .copied()
            .find(|m| *m != Method::Gtid)
            .unwrap_or(Method::Gtid)
    };
    plan.summary = format!(
        "move {} replicas below {below}{}",
        moved.len(),
        if plan.lost.is_empty() {
            String::new()
        } else {
            format!("; {} cannot move", plan.lost.len())
        }
    );
    for k in moved {
        plan.expect.push(Condition::ReplicatesFrom {
            replica: k.clone(),
            source: below.clone(),
        });
        plan.expect.push(Condition::ReplicationRunning(k.clone()));
    }
    Ok(plan)
}

fn simulated(t: &Topology, plan: &Plan) -> Result<Topology, PlanError> {
    simulate(t, plan).map(|s| s.topology).map_err(|e| {
        PlanError::refused(
            Refusal::Unsupported,
            plan.intent.instance(),
            format!("the plan would not run: {e}"),
        )
    })
}

/// `relocate-replicas`.
pub(crate) fn relocate_replicas(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
    below: &InstanceKey,
    pattern: Option<&str>,
    only: Option<Method>,
) -> Result<Plan, PlanError> {
    live(t, instance)?;
    let replicas = replicas_matching(t, instance, pattern)?;
    relocate_many(t, policy, intent, &replicas, below, only)
}

/// `move-up-replicas`.
pub(crate) fn move_up_replicas(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
    pattern: Option<&str>,
) -> Result<Plan, PlanError> {
    let m = source_of(t, instance)?;
    let replicas = replicas_matching(t, instance, pattern)?;
    relocate_many(t, policy, intent, &replicas, &m, None)
}

/// `take-siblings`.
pub(crate) fn take_siblings(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
) -> Result<Plan, PlanError> {
    let m = source_of(t, instance)?;
    let siblings: Vec<InstanceKey> = t
        .replicas_of(&m)
        .into_iter()
        .filter(|k| k != instance)
        .collect();
    let mut plan = relocate_many(t, policy, intent, &siblings, instance, None)?;
    plan.subject = Some(instance.clone());
    Ok(plan)
}

/// `repoint-replicas`: every replica of `instance` restarted on it at its
/// current position.
pub(crate) fn repoint_replicas(
    t: &Topology,
    intent: Intent,
    instance: &InstanceKey,
    pattern: Option<&str>,
) -> Result<Plan, PlanError> {
    live(t, instance)?;
    let replicas = replicas_matching(t, instance, pattern)?;
    let mut plan = Plan::new(
        intent,
        Method::None,
        format!("repoint {} replicas at {instance}", replicas.len()),
    );
    plan.subject = Some(instance.clone());
    let mut lanes = Vec::new();
    for r in &replicas {
        match live(t, r).and_then(|_| not_in_maintenance(t, &[r])) {
            Ok(()) => {
                lanes.push(crate::build::move_lane(
                    format!("repoint {r}"),
                    r,
                    repoint_steps(t, r, instance),
                ));
                plan.expect.push(Condition::ReplicatesFrom {
                    replica: r.clone(),
                    source: instance.clone(),
                });
            }
            Err(e) => plan.lost.push((r.clone(), e.to_string())),
        }
    }
    if !lanes.is_empty() {
        plan.phases.push(phase("repoint", lanes));
    }
    Ok(plan)
}

/// `regroup-replicas`: the best replica of `instance` becomes the source
/// of its siblings.
pub(crate) fn regroup_replicas(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
    only: Option<Method>,
) -> Result<Plan, PlanError> {
    live(t, instance)?;
    let replicas: Vec<InstanceKey> = t
        .replicas_of(instance)
        .into_iter()
        .filter(|k| t.get(k).is_some_and(|s| s.maintenance.is_none()))
        .collect();
    if replicas.len() < 2 {
        return Err(PlanError::refused(
            Refusal::NothingToDo,
            instance,
            format!("{instance} has fewer than two replicas to regroup"),
        ));
    }
    let empty = orc_model::InstanceData::default();
    let facts: Vec<ReplicaFacts<'_>> = replicas
        .iter()
        .filter_map(|k| t.get(k))
        .map(|s| ReplicaFacts {
            key: &s.key,
            data: s.data.as_ref().unwrap_or(&empty),
            reachable: s.reachable && s.data.is_some(),
            rule: s.rule,
        })
        .collect();
    let request = PromotionRequest {
        failed_master: instance,
        failed_master_data: t.get(instance).and_then(|s| s.data.as_ref()),
        replicas: facts,
        designated: None,
    };
    let decision = select_candidate(&request, &policy.promotion).map_err(PlanError::NoCandidate)?;
    let candidate = decision.promote.clone();
    let others: Vec<InstanceKey> = replicas.into_iter().filter(|k| *k != candidate).collect();
    let mut plan = relocate_many(t, policy, intent, &others, &candidate, only)?;
    plan.summary = format!(
        "regroup the replicas of {instance} below {candidate}: {}",
        plan.summary
    );
    if let Some(r) = decision.ranked(&candidate) {
        plan.notes
            .insert(0, format!("{candidate} chosen: {}", r.reasons.join("; ")));
    }
    plan.subject = Some(candidate.clone());
    plan.successor = Some(candidate);
    plan.decision = Some(decision);
    Ok(plan)
}

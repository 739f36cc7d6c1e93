//! Plans of `orc-planner` on the wire: every step in words (for people and
//! the HTTP API) and structured (`*_detail`, for programs), with a
//! failover's promotion decision. The structured fields carry the whole
//! plan, so the bus can carry a plan and read it back ([`TryFrom`]).
//! Entry points: `w::Plan::from(&plan)`, `p::Plan::try_from(&wire)`,
//! [`recorded_json`] / [`from_recorded`] (the plan as a recovery record
//! keeps it), [`shape_to_wire`], [`operation_name`].

mod action;
mod decision;
mod intent;
mod recorded;

use orc_planner as p;

use crate::Error;
use crate::convert::{key_from, opt_key_from};
use crate::enums::{method_from_wire, method_to_wire};
use crate::v1 as w;

pub use recorded::{from_recorded, plan_text, recorded_json, recorded_plan};

const PLAN: &str = "Plan";

fn step(s: &p::Step) -> w::PlanStep {
    w::PlanStep {
        action: s.action.to_string(),
        preconditions: s.preconditions.iter().map(ToString::to_string).collect(),
        effects: s.effects.iter().map(ToString::to_string).collect(),
        action_detail: Some((&s.action).into()),
        precondition_details: s.preconditions.iter().map(Into::into).collect(),
        effect_details: s.effects.iter().map(Into::into).collect(),
    }
}

fn conditions(c: &[w::PlanCondition]) -> Result<Vec<p::Condition>, Error> {
    c.iter().map(p::Condition::try_from).collect()
}

impl TryFrom<&w::PlanStep> for p::Step {
    type Error = Error;
    fn try_from(s: &w::PlanStep) -> Result<Self, Error> {
        let action = s.action_detail.as_ref().ok_or(Error::MissingField {
            message: "PlanStep",
            field: "action_detail",
        })?;
        Ok(Self {
            action: p::Action::try_from(action)?,
            preconditions: conditions(&s.precondition_details)?,
            effects: conditions(&s.effect_details)?,
        })
    }
}

fn steps(s: &[w::PlanStep]) -> Result<Vec<p::Step>, Error> {
    s.iter().map(p::Step::try_from).collect()
}

fn lane(l: &p::Lane) -> w::PlanLane {
    w::PlanLane {
        label: l.label.clone(),
        critical: l.critical,
        background: l.background,
        moves: l.moves.as_ref().map(Into::into),
        steps: l.steps.iter().map(step).collect(),
        on_failure: l.on_failure.iter().map(step).collect(),
    }
}

impl TryFrom<&w::PlanLane> for p::Lane {
    type Error = Error;
    fn try_from(l: &w::PlanLane) -> Result<Self, Error> {
        Ok(Self {
            label: l.label.clone(),
            critical: l.critical,
            background: l.background,
            moves: opt_key_from(l.moves.as_ref())?,
            steps: steps(&l.steps)?,
            on_failure: steps(&l.on_failure)?,
        })
    }
}

impl TryFrom<&w::PlanPhase> for p::Phase {
    type Error = Error;
    fn try_from(ph: &w::PlanPhase) -> Result<Self, Error> {
        Ok(Self {
            label: ph.label.clone(),
            lanes: ph
                .lanes
                .iter()
                .map(p::Lane::try_from)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl From<&p::Plan> for w::Plan {
    fn from(plan: &p::Plan) -> Self {
        w::Plan {
            intent: plan.intent.to_string(),
            summary: plan.summary.clone(),
            method: plan.method.to_string(),
            notes: plan.notes.clone(),
            phases: plan
                .phases
                .iter()
                .map(|ph| w::PlanPhase {
                    label: ph.label.clone(),
                    lanes: ph.lanes.iter().map(lane).collect(),
                })
                .collect(),
            on_failure: plan.on_failure.iter().map(ToString::to_string).collect(),
            expect: plan.expect.iter().map(ToString::to_string).collect(),
            subject: plan.subject.as_ref().map(Into::into),
            successor: plan.successor.as_ref().map(Into::into),
            lost: plan
                .lost
                .iter()
                .map(|(k, why)| w::NotMoved {
                    key: Some(k.into()),
                    reason: why.clone(),
                })
                .collect(),
            followup: plan
                .followup
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            intent_detail: Some((&plan.intent).into()),
            method_detail: method_to_wire(plan.method),
            on_failure_steps: plan.on_failure.iter().map(step).collect(),
            expect_details: plan.expect.iter().map(Into::into).collect(),
            decision: plan.decision.as_ref().map(Into::into),
            needs_a_moved_replica: plan.needs_a_moved_replica,
            followup_detail: plan.followup.as_ref().map(Into::into),
        }
    }
}

impl TryFrom<&w::Plan> for p::Plan {
    type Error = Error;
    fn try_from(plan: &w::Plan) -> Result<Self, Error> {
        let intent = plan.intent_detail.as_ref().ok_or(Error::MissingField {
            message: PLAN,
            field: "intent_detail",
        })?;
        Ok(Self {
            intent: p::Intent::try_from(intent)?,
            method: method_from_wire(plan.method_detail, PLAN, "method_detail")?,
            summary: plan.summary.clone(),
            notes: plan.notes.clone(),
            phases: plan
                .phases
                .iter()
                .map(p::Phase::try_from)
                .collect::<Result<_, _>>()?,
            on_failure: steps(&plan.on_failure_steps)?,
            expect: conditions(&plan.expect_details)?,
            subject: opt_key_from(plan.subject.as_ref())?,
            successor: opt_key_from(plan.successor.as_ref())?,
            lost: plan
                .lost
                .iter()
                .map(|l| {
                    Ok((
                        key_from(l.key.as_ref(), "NotMoved", "key")?,
                        l.reason.clone(),
                    ))
                })
                .collect::<Result<_, Error>>()?,
            decision: plan
                .decision
                .as_ref()
                .map(orc_promotion::PromotionDecision::try_from)
                .transpose()?,
            needs_a_moved_replica: plan.needs_a_moved_replica,
            followup: plan
                .followup_detail
                .as_ref()
                .map(p::Intent::try_from)
                .transpose()?,
        })
    }
}

/// A predicted (or observed) shape on the wire.
pub fn shape_to_wire(shape: &p::Shape) -> Vec<w::ShapeEntry> {
    shape
        .0
        .iter()
        .map(|(k, e)| w::ShapeEntry {
            key: Some(k.into()),
            source: e.source.as_ref().map(Into::into),
            replicating: e.replicating,
            read_only: e.read_only,
            detached: e.detached,
        })
        .collect()
}

/// orchestrator's name of an operation (`relocate`, `move-up`, ...).
pub fn operation_name(op: w::Operation) -> &'static str {
    use w::Operation as O;
    match op {
        O::Unspecified => "",
        O::Relocate => "relocate",
        O::RelocateReplicas => "relocate-replicas",
        O::MoveUp => "move-up",
        O::MoveUpReplicas => "move-up-replicas",
        O::MoveBelow => "move-below",
        O::MoveEquivalent => "move-equivalent",
        O::Repoint => "repoint",
        O::RepointReplicas => "repoint-replicas",
        O::TakeMaster => "take-master",
        O::TakeSiblings => "take-siblings",
        O::MakeCoMaster => "make-co-master",
        O::RegroupReplicas => "regroup-replicas",
        O::RegroupReplicasGtid => "regroup-replicas-gtid",
        O::RegroupReplicasPgtid => "regroup-replicas-pgtid",
        O::MoveBelowGtid => "move-below-gtid",
        O::MoveReplicasGtid => "move-replicas-gtid",
        O::MatchBelow => "match-below",
        O::MatchUp => "match-up",
        O::MatchReplicas => "match-replicas",
        O::MatchUpReplicas => "match-up-replicas",
        O::DetachReplicaMasterHost => "detach-replica-master-host",
        O::ReattachReplicaMasterHost => "reattach-replica-master-host",
        O::SetReadOnly => "set-read-only",
        O::SetWriteable => "set-writeable",
        O::StopReplica => "stop-replica",
        O::StopReplicaNice => "stop-replica-nice",
        O::StartReplica => "start-replica",
        O::RestartReplica => "restart-replica",
        O::ResetReplica => "reset-replica",
        O::SkipQuery => "skip-query",
        O::EnableGtid => "enable-gtid",
        O::DisableGtid => "disable-gtid",
        O::FlushBinaryLogs => "flush-binary-logs",
        O::PurgeBinaryLogs => "purge-binary-logs",
        O::EnableSemiSyncMaster => "enable-semi-sync-master",
        O::DisableSemiSyncMaster => "disable-semi-sync-master",
        O::EnableSemiSyncReplica => "enable-semi-sync-replica",
        O::DisableSemiSyncReplica => "disable-semi-sync-replica",
        O::DelayReplication => "delay-replication",
        O::KillQuery => "kill-query",
        O::GtidErrantResetMaster => "gtid-errant-reset-master",
        O::GtidErrantInjectEmpty => "gtid-errant-inject-empty",
        O::CanReplicateFrom => "can-replicate-from",
        O::LocateGtidErrant => "locate-gtid-errant",
        O::LastPseudoGtid => "last-pseudo-gtid",
    }
}

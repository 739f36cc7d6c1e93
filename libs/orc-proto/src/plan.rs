//! Plans of `orc-planner` on the wire (typed, for gRPC clients and the bus).

use orc_planner as p;

use crate::v1 as w;

fn step(s: &p::Step) -> w::PlanStep {
    w::PlanStep {
        action: s.action.to_string(),
        preconditions: s.preconditions.iter().map(ToString::to_string).collect(),
        effects: s.effects.iter().map(ToString::to_string).collect(),
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
                    lanes: ph
                        .lanes
                        .iter()
                        .map(|l| w::PlanLane {
                            label: l.label.clone(),
                            critical: l.critical,
                            background: l.background,
                            moves: l.moves.as_ref().map(Into::into),
                            steps: l.steps.iter().map(step).collect(),
                        })
                        .collect(),
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
        }
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

//! Building blocks of plans: steps with their preconditions and effects,
//! lanes, phases.

use orc_model::InstanceKey;

use crate::plan::{Action, Condition, Credentials, Lane, Phase, Position, Step};

/// The effect of an action, as the simulator and the plan show it.
pub(crate) fn effects_of(action: &Action) -> Vec<Condition> {
    match action {
        Action::StopReplica(k) => vec![Condition::ReplicationStopped(k.clone())],
        Action::StartReplica(k) => vec![Condition::ReplicationRunning(k.clone())],
        Action::RunUntil { on, until } => vec![
            Condition::ReplicationStopped(on.clone()),
            Condition::ExecutedUpTo {
                on: on.clone(),
                capture: until.clone(),
            },
        ],
        Action::SyncSiblings { a, b } => vec![
            Condition::ReplicationStopped(a.clone()),
            Condition::ReplicationStopped(b.clone()),
            Condition::SameExecPosition(a.clone(), b.clone()),
        ],
        Action::ChangeSource { on, source, .. } => vec![
            Condition::ReplicatesFrom {
                replica: on.clone(),
                source: source.clone(),
            },
            Condition::ReplicationStopped(on.clone()),
        ],
        Action::DetachSource(k) => vec![Condition::Detached(k.clone())],
        Action::ResetReplica(k) => vec![
            Condition::NoSource(k.clone()),
            Condition::ReplicationStopped(k.clone()),
        ],
        Action::SetReadOnly { on, read_only } => vec![if *read_only {
            Condition::ReadOnly(on.clone())
        } else {
            Condition::Writable(on.clone())
        }],
        _ => Vec::new(),
    }
}

/// The preconditions every action has by its nature, whatever the plan.
fn inherent_preconditions(action: &Action) -> Vec<Condition> {
    let mut pre: Vec<Condition> = if action.touches_a_server() {
        action
            .servers()
            .into_iter()
            .map(|k| Condition::Reachable(k.clone()))
            .collect()
    } else {
        Vec::new()
    };
    match action {
        Action::ChangeSource { on, .. }
        | Action::ResetReplica(on)
        | Action::DelayReplication { on, .. } => {
            pre.push(Condition::ReplicationStopped(on.clone()));
        }
        Action::DetachSource(k) | Action::ReattachSource(k) => {
            pre.push(Condition::ReplicationStopped(k.clone()));
        }
        Action::SyncSiblings { a, b } => {
            pre.push(Condition::ReplicationStopped(a.clone()));
            pre.push(Condition::ReplicationStopped(b.clone()));
        }
        _ => {}
    }
    pre
}

/// A step: the action's inherent preconditions plus `extra`.
pub(crate) fn step(action: Action, extra: Vec<Condition>) -> Step {
    let mut preconditions = inherent_preconditions(&action);
    for c in extra {
        if !preconditions.contains(&c) {
            preconditions.push(c);
        }
    }
    let effects = effects_of(&action);
    Step {
        action,
        preconditions,
        effects,
    }
}

/// A step with only its inherent preconditions.
pub(crate) fn just(action: Action) -> Step {
    step(action, Vec::new())
}

/// A critical lane.
pub(crate) fn lane(label: impl Into<String>, steps: Vec<Step>) -> Lane {
    Lane {
        label: label.into(),
        critical: true,
        background: false,
        moves: None,
        steps,
        on_failure: Vec::new(),
    }
}

/// A lane moving one replica; its failure loses that replica, not the plan.
pub(crate) fn move_lane(label: impl Into<String>, moves: &InstanceKey, steps: Vec<Step>) -> Lane {
    Lane {
        critical: false,
        moves: Some(moves.clone()),
        ..lane(label, steps)
    }
}

/// A best-effort lane.
pub(crate) fn optional(label: impl Into<String>, steps: Vec<Step>) -> Lane {
    Lane {
        critical: false,
        ..lane(label, steps)
    }
}

/// A phase.
pub(crate) fn phase(label: impl Into<String>, lanes: Vec<Lane>) -> Phase {
    Phase {
        label: label.into(),
        lanes,
    }
}

/// `CHANGE MASTER TO` `source` keeping credentials.
pub(crate) fn change(on: &InstanceKey, source: &InstanceKey, position: Position) -> Step {
    just(Action::ChangeSource {
        on: on.clone(),
        source: source.clone(),
        position,
        credentials: Credentials::Keep,
    })
}

/// Captures a value.
pub(crate) fn capture(name: impl Into<String>, what: crate::plan::Capture) -> Step {
    just(Action::Capture {
        name: name.into(),
        what,
    })
}

/// A capture name unique to a server and a purpose.
pub(crate) fn name(what: &str, key: &InstanceKey) -> String {
    format!("{what}@{key}")
}

/// The phase that publishes `master` in the KV stores (never critical: the
/// topology is already changed; a store that does not answer is reported).
pub(crate) fn publish_master(master: &InstanceKey) -> Phase {
    phase(
        "publish the master",
        vec![optional(
            format!("publish {master} in the KV stores"),
            vec![just(Action::PublishMaster(master.clone()))],
        )],
    )
}

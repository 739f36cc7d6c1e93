//! What a step does and what must hold: `PlanAction` ↔
//! [`orc_planner::Action`], `PlanCondition` ↔ [`orc_planner::Condition`].

use orc_model::InstanceKey;
use orc_planner::{Action, Capture, Condition, Position};

use crate::Error;
use crate::convert::key_from;
use crate::enums::{
    credentials_from_wire, credentials_to_wire, hook_from_wire, hook_to_wire, role_from_wire,
    role_to_wire,
};
use crate::v1 as w;
use crate::v1::{plan_action, plan_capture, plan_condition, start_position};

fn key(k: &InstanceKey) -> Option<w::InstanceKey> {
    Some(k.into())
}

fn pair(a: &InstanceKey, b: &InstanceKey) -> w::KeyPair {
    w::KeyPair {
        a: key(a),
        b: key(b),
    }
}

/// A required key of `message`.
fn req(
    k: &Option<w::InstanceKey>,
    message: &'static str,
    field: &'static str,
) -> Result<InstanceKey, Error> {
    key_from(k.as_ref(), message, field)
}

fn plain(k: &w::InstanceKey) -> Result<InstanceKey, Error> {
    InstanceKey::try_from(k)
}

fn pair_from(p: &w::KeyPair) -> Result<(InstanceKey, InstanceKey), Error> {
    Ok((req(&p.a, "KeyPair", "a")?, req(&p.b, "KeyPair", "b")?))
}

impl From<&Position> for w::StartPosition {
    fn from(p: &Position) -> Self {
        use start_position::Kind;
        let (kind, captured) = match p {
            Position::MariadbSlavePos => (Kind::MariadbSlavePos, String::new()),
            Position::MariadbCurrentPos => (Kind::MariadbCurrentPos, String::new()),
            Position::AutoPosition => (Kind::AutoPosition, String::new()),
            Position::Captured(name) => (Kind::Captured, name.clone()),
        };
        Self {
            kind: kind as i32,
            captured,
        }
    }
}

impl TryFrom<&w::StartPosition> for Position {
    type Error = Error;
    fn try_from(p: &w::StartPosition) -> Result<Self, Error> {
        use start_position::Kind;
        const MSG: &str = "StartPosition";
        match Kind::try_from(p.kind) {
            Ok(Kind::MariadbSlavePos) => Ok(Position::MariadbSlavePos),
            Ok(Kind::MariadbCurrentPos) => Ok(Position::MariadbCurrentPos),
            Ok(Kind::AutoPosition) => Ok(Position::AutoPosition),
            Ok(Kind::Captured) => Ok(Position::Captured(p.captured.clone())),
            Ok(Kind::Unspecified) => Err(Error::MissingField {
                message: MSG,
                field: "kind",
            }),
            Err(_) => Err(Error::UnknownValue {
                message: MSG,
                field: "kind",
                value: p.kind,
            }),
        }
    }
}

impl From<&Capture> for w::PlanCapture {
    fn from(c: &Capture) -> Self {
        use plan_capture::What;
        let what = match c {
            Capture::SelfCoordinates(k) => What::SelfCoordinates(k.into()),
            Capture::ExecCoordinates(k) => What::ExecCoordinates(k.into()),
            Capture::GtidExecuted(k) => What::GtidExecuted(k.into()),
            Capture::GtidApplied(k) => What::GtidApplied(k.into()),
            Capture::PseudoGtidMatch { replica, target } => {
                What::PseudoGtidMatch(w::PseudoGtidMatch {
                    replica: key(replica),
                    target: key(target),
                })
            }
        };
        Self { what: Some(what) }
    }
}

impl TryFrom<&w::PlanCapture> for Capture {
    type Error = Error;
    fn try_from(c: &w::PlanCapture) -> Result<Self, Error> {
        use plan_capture::What;
        Ok(
            match c.what.as_ref().ok_or(Error::MissingField {
                message: "PlanCapture",
                field: "what",
            })? {
                What::SelfCoordinates(k) => Capture::SelfCoordinates(plain(k)?),
                What::ExecCoordinates(k) => Capture::ExecCoordinates(plain(k)?),
                What::GtidExecuted(k) => Capture::GtidExecuted(plain(k)?),
                What::GtidApplied(k) => Capture::GtidApplied(plain(k)?),
                What::PseudoGtidMatch(m) => Capture::PseudoGtidMatch {
                    replica: req(&m.replica, "PseudoGtidMatch", "replica")?,
                    target: req(&m.target, "PseudoGtidMatch", "target")?,
                },
            },
        )
    }
}

impl From<&Action> for w::PlanAction {
    fn from(a: &Action) -> Self {
        use plan_action::Kind;
        let kind = match a {
            Action::StopReplica(k) => Kind::StopReplica(k.into()),
            Action::StopIoThread(k) => Kind::StopIoThread(k.into()),
            Action::StartSqlThread(k) => Kind::StartSqlThread(k.into()),
            Action::StartReplica(k) => Kind::StartReplica(k.into()),
            Action::WaitRelayLogApplied(k) => Kind::WaitRelayLogApplied(k.into()),
            Action::RunUntil { on, until } => Kind::RunUntil(w::RunUntilAction {
                on: key(on),
                until: until.clone(),
            }),
            Action::SyncSiblings { a, b } => Kind::SyncSiblings(pair(a, b)),
            Action::WaitForGtid { on, position } => Kind::WaitForGtid(w::WaitForGtidAction {
                on: key(on),
                position: position.clone(),
            }),
            Action::ChangeSource {
                on,
                source,
                position,
                credentials,
            } => Kind::ChangeSource(w::ChangeSourceAction {
                on: key(on),
                source: key(source),
                position: Some(position.into()),
                credentials: credentials_to_wire(*credentials),
            }),
            Action::DetachSource(k) => Kind::DetachSource(k.into()),
            Action::ReattachSource(k) => Kind::ReattachSource(k.into()),
            Action::ResetReplica(k) => Kind::ResetReplica(k.into()),
            Action::SetReadOnly { on, read_only } => Kind::SetReadOnly(w::SetReadOnlyAction {
                on: key(on),
                read_only: *read_only,
            }),
            Action::Capture { name, what } => Kind::Capture(w::CaptureAction {
                name: name.clone(),
                what: Some(what.into()),
            }),
            Action::SkipQuery(k) => Kind::SkipQuery(k.into()),
            Action::FlushBinaryLogs(k) => Kind::FlushBinaryLogs(k.into()),
            Action::PurgeBinaryLogs { on, to } => Kind::PurgeBinaryLogs(w::PurgeBinaryLogsAction {
                on: key(on),
                to: to.clone(),
            }),
            Action::SetSemiSync { on, role, enabled } => Kind::SetSemiSync(w::SetSemiSyncAction {
                on: key(on),
                role: role_to_wire(*role),
                enabled: *enabled,
            }),
            Action::DelayReplication { on, seconds } => {
                Kind::DelayReplication(w::DelayReplicationAction {
                    on: key(on),
                    seconds: *seconds,
                })
            }
            Action::KillQuery { on, process } => Kind::KillQuery(w::KillQueryAction {
                on: key(on),
                process: *process,
            }),
            Action::InjectEmptyTransactions { on, gtids } => {
                Kind::InjectEmptyTransactions(w::InjectEmptyTransactionsAction {
                    on: key(on),
                    gtids: gtids.clone(),
                })
            }
            Action::ResetMasterKeeping { on, errant } => {
                Kind::ResetMasterKeeping(w::ResetMasterKeepingAction {
                    on: key(on),
                    errant: errant.clone(),
                })
            }
            Action::Downtime { on, reason } => Kind::Downtime(w::DowntimeAction {
                on: key(on),
                reason: reason.clone(),
            }),
            Action::EndDowntime(k) => Kind::EndDowntime(k.into()),
            Action::Hooks(stage) => Kind::Hooks(hook_to_wire(*stage)),
            Action::PublishMaster(k) => Kind::PublishMaster(k.into()),
        };
        Self { kind: Some(kind) }
    }
}

impl TryFrom<&w::PlanAction> for Action {
    type Error = Error;
    fn try_from(a: &w::PlanAction) -> Result<Self, Error> {
        use plan_action::Kind;
        Ok(
            match a.kind.as_ref().ok_or(Error::MissingField {
                message: "PlanAction",
                field: "kind",
            })? {
                Kind::StopReplica(k) => Action::StopReplica(plain(k)?),
                Kind::StopIoThread(k) => Action::StopIoThread(plain(k)?),
                Kind::StartSqlThread(k) => Action::StartSqlThread(plain(k)?),
                Kind::StartReplica(k) => Action::StartReplica(plain(k)?),
                Kind::WaitRelayLogApplied(k) => Action::WaitRelayLogApplied(plain(k)?),
                Kind::RunUntil(x) => Action::RunUntil {
                    on: req(&x.on, "RunUntilAction", "on")?,
                    until: x.until.clone(),
                },
                Kind::SyncSiblings(x) => {
                    let (a, b) = pair_from(x)?;
                    Action::SyncSiblings { a, b }
                }
                Kind::WaitForGtid(x) => Action::WaitForGtid {
                    on: req(&x.on, "WaitForGtidAction", "on")?,
                    position: x.position.clone(),
                },
                Kind::ChangeSource(x) => {
                    const MSG: &str = "ChangeSourceAction";
                    let position = x.position.as_ref().ok_or(Error::MissingField {
                        message: MSG,
                        field: "position",
                    })?;
                    Action::ChangeSource {
                        on: req(&x.on, MSG, "on")?,
                        source: req(&x.source, MSG, "source")?,
                        position: Position::try_from(position)?,
                        credentials: credentials_from_wire(x.credentials, MSG, "credentials")?,
                    }
                }
                Kind::DetachSource(k) => Action::DetachSource(plain(k)?),
                Kind::ReattachSource(k) => Action::ReattachSource(plain(k)?),
                Kind::ResetReplica(k) => Action::ResetReplica(plain(k)?),
                Kind::SetReadOnly(x) => Action::SetReadOnly {
                    on: req(&x.on, "SetReadOnlyAction", "on")?,
                    read_only: x.read_only,
                },
                Kind::Capture(x) => {
                    let what = x.what.as_ref().ok_or(Error::MissingField {
                        message: "CaptureAction",
                        field: "what",
                    })?;
                    Action::Capture {
                        name: x.name.clone(),
                        what: Capture::try_from(what)?,
                    }
                }
                Kind::SkipQuery(k) => Action::SkipQuery(plain(k)?),
                Kind::FlushBinaryLogs(k) => Action::FlushBinaryLogs(plain(k)?),
                Kind::PurgeBinaryLogs(x) => Action::PurgeBinaryLogs {
                    on: req(&x.on, "PurgeBinaryLogsAction", "on")?,
                    to: x.to.clone(),
                },
                Kind::SetSemiSync(x) => Action::SetSemiSync {
                    on: req(&x.on, "SetSemiSyncAction", "on")?,
                    role: role_from_wire(x.role, "SetSemiSyncAction", "role")?,
                    enabled: x.enabled,
                },
                Kind::DelayReplication(x) => Action::DelayReplication {
                    on: req(&x.on, "DelayReplicationAction", "on")?,
                    seconds: x.seconds,
                },
                Kind::KillQuery(x) => Action::KillQuery {
                    on: req(&x.on, "KillQueryAction", "on")?,
                    process: x.process,
                },
                Kind::InjectEmptyTransactions(x) => Action::InjectEmptyTransactions {
                    on: req(&x.on, "InjectEmptyTransactionsAction", "on")?,
                    gtids: x.gtids.clone(),
                },
                Kind::ResetMasterKeeping(x) => Action::ResetMasterKeeping {
                    on: req(&x.on, "ResetMasterKeepingAction", "on")?,
                    errant: x.errant.clone(),
                },
                Kind::Downtime(x) => Action::Downtime {
                    on: req(&x.on, "DowntimeAction", "on")?,
                    reason: x.reason.clone(),
                },
                Kind::EndDowntime(k) => Action::EndDowntime(plain(k)?),
                Kind::Hooks(stage) => Action::Hooks(hook_from_wire(*stage, "PlanAction", "hooks")?),
                Kind::PublishMaster(k) => Action::PublishMaster(plain(k)?),
            },
        )
    }
}

impl From<&Condition> for w::PlanCondition {
    fn from(c: &Condition) -> Self {
        use plan_condition::Kind;
        let kind = match c {
            Condition::Reachable(k) => Kind::Reachable(k.into()),
            Condition::ReplicatesFrom { replica, source } => {
                Kind::ReplicatesFrom(w::ReplicatesFromCondition {
                    replica: key(replica),
                    source: key(source),
                })
            }
            Condition::NoSource(k) => Kind::NoSource(k.into()),
            Condition::ReplicationStopped(k) => Kind::ReplicationStopped(k.into()),
            Condition::ReplicationRunning(k) => Kind::ReplicationRunning(k.into()),
            Condition::ReadOnly(k) => Kind::ReadOnly(k.into()),
            Condition::Writable(k) => Kind::Writable(k.into()),
            Condition::LogsReplicaUpdates(k) => Kind::LogsReplicaUpdates(k.into()),
            Condition::Detached(k) => Kind::Detached(k.into()),
            Condition::SameExecPosition(a, b) => Kind::SameExecPosition(pair(a, b)),
            Condition::ExecutedUpTo { on, capture } => {
                Kind::ExecutedUpTo(w::ExecutedUpToCondition {
                    on: key(on),
                    capture: capture.clone(),
                })
            }
        };
        Self { kind: Some(kind) }
    }
}

impl TryFrom<&w::PlanCondition> for Condition {
    type Error = Error;
    fn try_from(c: &w::PlanCondition) -> Result<Self, Error> {
        use plan_condition::Kind;
        Ok(
            match c.kind.as_ref().ok_or(Error::MissingField {
                message: "PlanCondition",
                field: "kind",
            })? {
                Kind::Reachable(k) => Condition::Reachable(plain(k)?),
                Kind::ReplicatesFrom(x) => Condition::ReplicatesFrom {
                    replica: req(&x.replica, "ReplicatesFromCondition", "replica")?,
                    source: req(&x.source, "ReplicatesFromCondition", "source")?,
                },
                Kind::NoSource(k) => Condition::NoSource(plain(k)?),
                Kind::ReplicationStopped(k) => Condition::ReplicationStopped(plain(k)?),
                Kind::ReplicationRunning(k) => Condition::ReplicationRunning(plain(k)?),
                Kind::ReadOnly(k) => Condition::ReadOnly(plain(k)?),
                Kind::Writable(k) => Condition::Writable(plain(k)?),
                Kind::LogsReplicaUpdates(k) => Condition::LogsReplicaUpdates(plain(k)?),
                Kind::Detached(k) => Condition::Detached(plain(k)?),
                Kind::SameExecPosition(x) => {
                    let (a, b) = pair_from(x)?;
                    Condition::SameExecPosition(a, b)
                }
                Kind::ExecutedUpTo(x) => Condition::ExecutedUpTo {
                    on: req(&x.on, "ExecutedUpToCondition", "on")?,
                    capture: x.capture.clone(),
                },
            },
        )
    }
}

//! What a plan was asked for: `PlanIntent` ↔ [`orc_planner::Intent`].

use orc_model::InstanceKey;
use orc_planner::Intent;

use crate::Error;
use crate::convert::{key_from, opt_key_from};
use crate::enums::{only_from_wire, only_to_wire, role_from_wire, role_to_wire};
use crate::v1 as w;
use crate::v1::plan_intent::Kind;

fn key(k: &InstanceKey) -> Option<w::InstanceKey> {
    Some(k.into())
}

fn on(instance: &InstanceKey) -> w::InstanceIntent {
    w::InstanceIntent {
        instance: key(instance),
    }
}

fn target(instance: &InstanceKey, target: Option<&InstanceKey>) -> w::TargetIntent {
    w::TargetIntent {
        instance: key(instance),
        target: target.map(Into::into),
    }
}

fn replicas(instance: &InstanceKey, pattern: &Option<String>) -> w::ReplicasIntent {
    w::ReplicasIntent {
        instance: key(instance),
        pattern: pattern.clone(),
    }
}

impl From<&Intent> for w::PlanIntent {
    fn from(i: &Intent) -> Self {
        let kind = match i {
            Intent::Relocate {
                instance,
                below,
                only,
            } => Kind::Relocate(w::RelocateIntent {
                instance: key(instance),
                below: key(below),
                only: only_to_wire(*only),
            }),
            Intent::RelocateReplicas {
                instance,
                below,
                pattern,
                only,
            } => Kind::RelocateReplicas(w::RelocateReplicasIntent {
                instance: key(instance),
                below: key(below),
                pattern: pattern.clone(),
                only: only_to_wire(*only),
            }),
            Intent::MoveUp { instance } => Kind::MoveUp(on(instance)),
            Intent::MoveUpReplicas { instance, pattern } => {
                Kind::MoveUpReplicas(replicas(instance, pattern))
            }
            Intent::MoveBelow { instance, sibling } => {
                Kind::MoveBelow(target(instance, Some(sibling)))
            }
            Intent::MoveEquivalent { instance, below } => {
                Kind::MoveEquivalent(target(instance, Some(below)))
            }
            Intent::Repoint { instance, below } => Kind::Repoint(target(instance, below.as_ref())),
            Intent::RepointReplicas { instance, pattern } => {
                Kind::RepointReplicas(replicas(instance, pattern))
            }
            Intent::TakeMaster { instance } => Kind::TakeMaster(on(instance)),
            Intent::TakeSiblings { instance } => Kind::TakeSiblings(on(instance)),
            Intent::MakeCoMaster { instance } => Kind::MakeCoMaster(on(instance)),
            Intent::RegroupReplicas { instance, only } => Kind::RegroupReplicas(w::RegroupIntent {
                instance: key(instance),
                only: only_to_wire(*only),
            }),
            Intent::DetachReplicaMasterHost { instance } => {
                Kind::DetachReplicaMasterHost(on(instance))
            }
            Intent::ReattachReplicaMasterHost { instance } => {
                Kind::ReattachReplicaMasterHost(on(instance))
            }
            Intent::SetReadOnly {
                instance,
                read_only,
            } => Kind::SetReadOnly(w::ReadOnlyIntent {
                instance: key(instance),
                read_only: *read_only,
            }),
            Intent::StopReplica { instance } => Kind::StopReplica(on(instance)),
            Intent::StopReplicaNice { instance } => Kind::StopReplicaNice(on(instance)),
            Intent::StartReplica { instance } => Kind::StartReplica(on(instance)),
            Intent::RestartReplica { instance } => Kind::RestartReplica(on(instance)),
            Intent::ResetReplica { instance } => Kind::ResetReplica(on(instance)),
            Intent::SkipQuery { instance } => Kind::SkipQuery(on(instance)),
            Intent::EnableGtid { instance } => Kind::EnableGtid(on(instance)),
            Intent::DisableGtid { instance } => Kind::DisableGtid(on(instance)),
            Intent::FlushBinaryLogs { instance } => Kind::FlushBinaryLogs(on(instance)),
            Intent::PurgeBinaryLogs {
                instance,
                to,
                force,
            } => Kind::PurgeBinaryLogs(w::PurgeBinaryLogsIntent {
                instance: key(instance),
                to: to.clone(),
                force: *force,
            }),
            Intent::SetSemiSync {
                instance,
                role,
                enabled,
            } => Kind::SetSemiSync(w::SemiSyncIntent {
                instance: key(instance),
                role: role_to_wire(*role),
                enabled: *enabled,
            }),
            Intent::DelayReplication { instance, seconds } => {
                Kind::DelayReplication(w::DelayReplicationIntent {
                    instance: key(instance),
                    seconds: *seconds,
                })
            }
            Intent::KillQuery { instance, process } => Kind::KillQuery(w::KillQueryIntent {
                instance: key(instance),
                process: *process,
            }),
            Intent::GtidErrantResetMaster { instance } => Kind::GtidErrantResetMaster(on(instance)),
            Intent::GtidErrantInjectEmpty { instance } => Kind::GtidErrantInjectEmpty(on(instance)),
            Intent::MasterFailover {
                failed,
                designated,
                co_master,
                lite,
            } => Kind::MasterFailover(w::MasterFailoverIntent {
                failed: key(failed),
                designated: designated.as_ref().map(Into::into),
                co_master: *co_master,
                lite: *lite,
            }),
            Intent::IntermediateMasterFailover { failed, lite } => {
                Kind::IntermediateMasterFailover(w::IntermediateMasterFailoverIntent {
                    failed: key(failed),
                    lite: *lite,
                })
            }
            Intent::MakeWritable { instance } => Kind::MakeWritable(on(instance)),
            Intent::GracefulTakeover {
                master,
                designated,
                auto,
            } => Kind::GracefulTakeover(w::GracefulTakeoverIntent {
                master: key(master),
                designated: designated.as_ref().map(Into::into),
                auto: *auto,
            }),
            Intent::HandOver { from, to } => Kind::HandOver(w::HandOverIntent {
                from: key(from),
                to: key(to),
            }),
        };
        Self { kind: Some(kind) }
    }
}

/// Reads the wire intents of one message type (`message`) and field names.
struct Reader(&'static str);

impl Reader {
    fn key(&self, k: &Option<w::InstanceKey>, field: &'static str) -> Result<InstanceKey, Error> {
        key_from(k.as_ref(), self.0, field)
    }

    fn instance(&self, i: &w::InstanceIntent) -> Result<InstanceKey, Error> {
        self.key(&i.instance, "instance")
    }
}

fn instance_of(i: &w::InstanceIntent) -> Result<InstanceKey, Error> {
    Reader("InstanceIntent").instance(i)
}

/// `instance` and a required `target`.
fn with_target(t: &w::TargetIntent) -> Result<(InstanceKey, InstanceKey), Error> {
    let r = Reader("TargetIntent");
    Ok((r.key(&t.instance, "instance")?, r.key(&t.target, "target")?))
}

fn with_pattern(t: &w::ReplicasIntent) -> Result<(InstanceKey, Option<String>), Error> {
    Ok((
        Reader("ReplicasIntent").key(&t.instance, "instance")?,
        t.pattern.clone(),
    ))
}

impl TryFrom<&w::PlanIntent> for Intent {
    type Error = Error;
    fn try_from(i: &w::PlanIntent) -> Result<Self, Error> {
        let kind = i.kind.as_ref().ok_or(Error::MissingField {
            message: "PlanIntent",
            field: "kind",
        })?;
        let simple =
            |make: fn(InstanceKey) -> Intent, x: &w::InstanceIntent| instance_of(x).map(make);
        Ok(match kind {
            Kind::Relocate(x) => {
                let r = Reader("RelocateIntent");
                Intent::Relocate {
                    instance: r.key(&x.instance, "instance")?,
                    below: r.key(&x.below, "below")?,
                    only: only_from_wire(x.only, r.0, "only")?,
                }
            }
            Kind::RelocateReplicas(x) => {
                let r = Reader("RelocateReplicasIntent");
                Intent::RelocateReplicas {
                    instance: r.key(&x.instance, "instance")?,
                    below: r.key(&x.below, "below")?,
                    pattern: x.pattern.clone(),
                    only: only_from_wire(x.only, r.0, "only")?,
                }
            }
            Kind::MoveUp(x) => simple(|instance| Intent::MoveUp { instance }, x)?,
            Kind::MoveUpReplicas(x) => {
                let (instance, pattern) = with_pattern(x)?;
                Intent::MoveUpReplicas { instance, pattern }
            }
            Kind::MoveBelow(x) => {
                let (instance, sibling) = with_target(x)?;
                Intent::MoveBelow { instance, sibling }
            }
            Kind::MoveEquivalent(x) => {
                let (instance, below) = with_target(x)?;
                Intent::MoveEquivalent { instance, below }
            }
            Kind::Repoint(x) => Intent::Repoint {
                instance: Reader("TargetIntent").key(&x.instance, "instance")?,
                below: opt_key_from(x.target.as_ref())?,
            },
            Kind::RepointReplicas(x) => {
                let (instance, pattern) = with_pattern(x)?;
                Intent::RepointReplicas { instance, pattern }
            }
            Kind::TakeMaster(x) => simple(|instance| Intent::TakeMaster { instance }, x)?,
            Kind::TakeSiblings(x) => simple(|instance| Intent::TakeSiblings { instance }, x)?,
            Kind::MakeCoMaster(x) => simple(|instance| Intent::MakeCoMaster { instance }, x)?,
            Kind::RegroupReplicas(x) => {
                let r = Reader("RegroupIntent");
                Intent::RegroupReplicas {
                    instance: r.key(&x.instance, "instance")?,
                    only: only_from_wire(x.only, r.0, "only")?,
                }
            }
            Kind::DetachReplicaMasterHost(x) => {
                simple(|instance| Intent::DetachReplicaMasterHost { instance }, x)?
            }
            Kind::ReattachReplicaMasterHost(x) => {
                simple(|instance| Intent::ReattachReplicaMasterHost { instance }, x)?
            }
            Kind::SetReadOnly(x) => Intent::SetReadOnly {
                instance: Reader("ReadOnlyIntent").key(&x.instance, "instance")?,
                read_only: x.read_only,
            },
            Kind::StopReplica(x) => simple(|instance| Intent::StopReplica { instance }, x)?,
            Kind::StopReplicaNice(x) => simple(|instance| Intent::StopReplicaNice { instance }, x)?,
            Kind::StartReplica(x) => simple(|instance| Intent::StartReplica { instance }, x)?,
            Kind::RestartReplica(x) => simple(|instance| Intent::RestartReplica { instance }, x)?,
            Kind::ResetReplica(x) => simple(|instance| Intent::ResetReplica { instance }, x)?,
            Kind::SkipQuery(x) => simple(|instance| Intent::SkipQuery { instance }, x)?,
            Kind::EnableGtid(x) => simple(|instance| Intent::EnableGtid { instance }, x)?,
            Kind::DisableGtid(x) => simple(|instance| Intent::DisableGtid { instance }, x)?,
            Kind::FlushBinaryLogs(x) => simple(|instance| Intent::FlushBinaryLogs { instance }, x)?,
            Kind::PurgeBinaryLogs(x) => Intent::PurgeBinaryLogs {
                instance: Reader("PurgeBinaryLogsIntent").key(&x.instance, "instance")?,
                to: x.to.clone(),
                force: x.force,
            },
            Kind::SetSemiSync(x) => {
                let r = Reader("SemiSyncIntent");
                Intent::SetSemiSync {
                    instance: r.key(&x.instance, "instance")?,
                    role: role_from_wire(x.role, r.0, "role")?,
                    enabled: x.enabled,
                }
            }
            Kind::DelayReplication(x) => Intent::DelayReplication {
                instance: Reader("DelayReplicationIntent").key(&x.instance, "instance")?,
                seconds: x.seconds,
            },
            Kind::KillQuery(x) => Intent::KillQuery {
                instance: Reader("KillQueryIntent").key(&x.instance, "instance")?,
                process: x.process,
            },
            Kind::GtidErrantResetMaster(x) => {
                simple(|instance| Intent::GtidErrantResetMaster { instance }, x)?
            }
            Kind::GtidErrantInjectEmpty(x) => {
                simple(|instance| Intent::GtidErrantInjectEmpty { instance }, x)?
            }
            Kind::MasterFailover(x) => Intent::MasterFailover {
                failed: Reader("MasterFailoverIntent").key(&x.failed, "failed")?,
                designated: opt_key_from(x.designated.as_ref())?,
                co_master: x.co_master,
                lite: x.lite,
            },
            Kind::IntermediateMasterFailover(x) => Intent::IntermediateMasterFailover {
                failed: Reader("IntermediateMasterFailoverIntent").key(&x.failed, "failed")?,
                lite: x.lite,
            },
            Kind::MakeWritable(x) => simple(|instance| Intent::MakeWritable { instance }, x)?,
            Kind::GracefulTakeover(x) => Intent::GracefulTakeover {
                master: Reader("GracefulTakeoverIntent").key(&x.master, "master")?,
                designated: opt_key_from(x.designated.as_ref())?,
                auto: x.auto,
            },
            Kind::HandOver(x) => {
                let r = Reader("HandOverIntent");
                Intent::HandOver {
                    from: r.key(&x.from, "from")?,
                    to: r.key(&x.to, "to")?,
                }
            }
        })
    }
}

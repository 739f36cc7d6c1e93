//! What an operator or a recovery asks the planner for.

use std::fmt;

use orc_model::InstanceKey;
use orc_recovery_fsm::Handler;
use serde::{Deserialize, Serialize};

use crate::plan::{Method, SemiSyncRole};

/// A topology change, named as orchestrator names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Intent {
    /// `relocate`: move `instance` below `below` by the best method
    /// (`only`: that method or refuse — `move-below-gtid`, `match`).
    Relocate {
        /// The replica.
        instance: InstanceKey,
        /// Its new source.
        below: InstanceKey,
        /// Restrict to one method.
        only: Option<Method>,
    },
    /// `relocate-replicas`: move the replicas of `instance` below `below`.
    RelocateReplicas {
        /// Whose replicas.
        instance: InstanceKey,
        /// Their new source.
        below: InstanceKey,
        /// Only replicas whose key matches this regular expression.
        pattern: Option<String>,
        /// Restrict to one method.
        only: Option<Method>,
    },
    /// `move-up`: below its grandparent.
    MoveUp {
        /// The replica.
        instance: InstanceKey,
    },
    /// `move-up-replicas`: the replicas of `instance` below its source.
    MoveUpReplicas {
        /// Whose replicas.
        instance: InstanceKey,
        /// Only replicas whose key matches.
        pattern: Option<String>,
    },
    /// `move-below`: below a sibling.
    MoveBelow {
        /// The replica.
        instance: InstanceKey,
        /// Its sibling, the new source.
        sibling: InstanceKey,
    },
    /// `move-equivalent`: below `below` at an equivalent position.
    MoveEquivalent {
        /// The replica.
        instance: InstanceKey,
        /// Its new source.
        below: InstanceKey,
    },
    /// `repoint`: the same position, a new (or the same) source.
    Repoint {
        /// The replica.
        instance: InstanceKey,
        /// The source; its current one when absent.
        below: Option<InstanceKey>,
    },
    /// `repoint-replicas`: every replica of `instance` pointed at it again.
    RepointReplicas {
        /// Whose replicas.
        instance: InstanceKey,
        /// Only replicas whose key matches.
        pattern: Option<String>,
    },
    /// `take-master`: swap with its source.
    TakeMaster {
        /// The replica taking over.
        instance: InstanceKey,
    },
    /// `take-siblings`: its siblings move below it.
    TakeSiblings {
        /// The replica.
        instance: InstanceKey,
    },
    /// `make-co-master`: its master replicates from it too.
    MakeCoMaster {
        /// The replica.
        instance: InstanceKey,
    },
    /// `regroup-replicas[-gtid|-pgtid]`: the best replica of `instance`
    /// becomes the source of its siblings.
    RegroupReplicas {
        /// Whose replicas.
        instance: InstanceKey,
        /// Restrict to one method.
        only: Option<Method>,
    },
    /// `detach-replica-master-host`.
    DetachReplicaMasterHost {
        /// The replica.
        instance: InstanceKey,
    },
    /// `reattach-replica-master-host`.
    ReattachReplicaMasterHost {
        /// The replica.
        instance: InstanceKey,
    },
    /// `set-read-only` / `set-writeable`.
    SetReadOnly {
        /// The server.
        instance: InstanceKey,
        /// Read-only or writable.
        read_only: bool,
    },
    /// `stop-replica`.
    StopReplica {
        /// The replica.
        instance: InstanceKey,
    },
    /// `stop-replica-nice`: IO thread first, SQL thread once caught up.
    StopReplicaNice {
        /// The replica.
        instance: InstanceKey,
    },
    /// `start-replica`.
    StartReplica {
        /// The replica.
        instance: InstanceKey,
    },
    /// `restart-replica`.
    RestartReplica {
        /// The replica.
        instance: InstanceKey,
    },
    /// `reset-replica`.
    ResetReplica {
        /// The replica.
        instance: InstanceKey,
    },
    /// `skip-query`.
    SkipQuery {
        /// The replica.
        instance: InstanceKey,
    },
    /// `enable-gtid`: the same source, positioned by GTID.
    EnableGtid {
        /// The replica.
        instance: InstanceKey,
    },
    /// `disable-gtid`: the same source, positioned by coordinates.
    DisableGtid {
        /// The replica.
        instance: InstanceKey,
    },
    /// `flush-binary-logs`.
    FlushBinaryLogs {
        /// The server.
        instance: InstanceKey,
    },
    /// `purge-binary-logs`.
    PurgeBinaryLogs {
        /// The server.
        instance: InstanceKey,
        /// First file kept, or `latest` (the current one).
        to: String,
        /// Purge even if a replica has not executed that far.
        force: bool,
    },
    /// `enable-/disable-semi-sync-master|replica`.
    SetSemiSync {
        /// The server.
        instance: InstanceKey,
        /// Which role.
        role: SemiSyncRole,
        /// On or off.
        enabled: bool,
    },
    /// `delay-replication`.
    DelayReplication {
        /// The replica.
        instance: InstanceKey,
        /// Seconds.
        seconds: u32,
    },
    /// `kill-query`.
    KillQuery {
        /// The server.
        instance: InstanceKey,
        /// The process id.
        process: u64,
    },
    /// `gtid-errant-reset-master`.
    GtidErrantResetMaster {
        /// The replica with errant GTID.
        instance: InstanceKey,
    },
    /// `gtid-errant-inject-empty`.
    GtidErrantInjectEmpty {
        /// The replica with errant GTID.
        instance: InstanceKey,
    },
    /// Replace a dead master (or co-master) by one of its replicas.
    MasterFailover {
        /// The failed master.
        failed: InstanceKey,
        /// The replica to promote, or the request fails.
        designated: Option<InstanceKey>,
        /// The failed master is a co-master.
        co_master: bool,
        /// No hooks (`recover-lite`).
        lite: bool,
    },
    /// Move the replicas of a dead intermediate master.
    IntermediateMasterFailover {
        /// The failed intermediate master.
        failed: InstanceKey,
        /// No hooks.
        lite: bool,
    },
    /// Make a read-only master writable (`RecoverNonWriteableMaster`).
    MakeWritable {
        /// The master.
        instance: InstanceKey,
    },
    /// `graceful-master-takeover[-auto]`.
    GracefulTakeover {
        /// The master handing over.
        master: InstanceKey,
        /// The replica taking over, or chosen (`auto`) or the only one.
        designated: Option<InstanceKey>,
        /// Choose among several replicas.
        auto: bool,
    },
    /// After an emergency promotion: mastership moves to a better replica
    /// once it has caught up.
    HandOver {
        /// The promoted replica.
        from: InstanceKey,
        /// The ideal one.
        to: InstanceKey,
    },
}

impl Intent {
    /// The recovery a handler runs for a failed instance (`None` for
    /// handlers that only run detection hooks).
    pub fn recovery(
        handler: Handler,
        failed: InstanceKey,
        designated: Option<InstanceKey>,
        lite: bool,
    ) -> Option<Self> {
        match handler {
            Handler::DeadMaster | Handler::DeadCoMaster => Some(Intent::MasterFailover {
                failed,
                designated,
                co_master: handler == Handler::DeadCoMaster,
                lite,
            }),
            Handler::DeadIntermediateMaster => {
                Some(Intent::IntermediateMasterFailover { failed, lite })
            }
            Handler::NonWriteableMaster => Some(Intent::MakeWritable { instance: failed }),
            _ => None,
        }
    }

    /// orchestrator's name of the operation.
    pub fn name(&self) -> &'static str {
        match self {
            Intent::Relocate { only, .. } => match only {
                Some(Method::Gtid) => "move-below-gtid",
                Some(Method::PseudoGtid) => "match-below",
                _ => "relocate",
            },
            Intent::RelocateReplicas { only, .. } => match only {
                Some(Method::Gtid) => "move-replicas-gtid",
                Some(Method::PseudoGtid) => "match-replicas",
                _ => "relocate-replicas",
            },
            Intent::MoveUp { .. } => "move-up",
            Intent::MoveUpReplicas { .. } => "move-up-replicas",
            Intent::MoveBelow { .. } => "move-below",
            Intent::MoveEquivalent { .. } => "move-equivalent",
            Intent::Repoint { .. } => "repoint",
            Intent::RepointReplicas { .. } => "repoint-replicas",
            Intent::TakeMaster { .. } => "take-master",
            Intent::TakeSiblings { .. } => "take-siblings",
            Intent::MakeCoMaster { .. } => "make-co-master",
            Intent::RegroupReplicas { only, .. } => match only {
                Some(Method::Gtid) => "regroup-replicas-gtid",
                Some(Method::PseudoGtid) => "regroup-replicas-pgtid",
                _ => "regroup-replicas",
            },
            Intent::DetachReplicaMasterHost { .. } => "detach-replica-master-host",
            Intent::ReattachReplicaMasterHost { .. } => "reattach-replica-master-host",
            Intent::SetReadOnly { read_only, .. } => {
                if *read_only {
                    "set-read-only"
                } else {
                    "set-writeable"
                }
            }
            Intent::StopReplica { .. } => "stop-replica",
            Intent::StopReplicaNice { .. } => "stop-replica-nice",
            Intent::StartReplica { .. } => "start-replica",
            Intent::RestartReplica { .. } => "restart-replica",
            Intent::ResetReplica { .. } => "reset-replica",
            Intent::SkipQuery { .. } => "skip-query",
            Intent::EnableGtid { .. } => "enable-gtid",
            Intent::DisableGtid { .. } => "disable-gtid",
            Intent::FlushBinaryLogs { .. } => "flush-binary-logs",
            Intent::PurgeBinaryLogs { .. } => "purge-binary-logs",
            Intent::SetSemiSync { role, enabled, .. } => match (role, enabled) {
                (SemiSyncRole::Master, true) => "enable-semi-sync-master",
                (SemiSyncRole::Master, false) => "disable-semi-sync-master",
                (SemiSyncRole::Replica, true) => "enable-semi-sync-replica",
                (SemiSyncRole::Replica, false) => "disable-semi-sync-replica",
            },
            Intent::DelayReplication { .. } => "delay-replication",
            Intent::KillQuery { .. } => "kill-query",
            Intent::GtidErrantResetMaster { .. } => "gtid-errant-reset-master",
            Intent::GtidErrantInjectEmpty { .. } => "gtid-errant-inject-empty",
            Intent::MasterFailover { .. } => "recover-dead-master",
            Intent::IntermediateMasterFailover { .. } => "recover-dead-intermediate-master",
            Intent::MakeWritable { .. } => "recover-non-writeable-master",
            Intent::GracefulTakeover { auto, .. } => {
                if *auto {
                    "graceful-master-takeover-auto"
                } else {
                    "graceful-master-takeover"
                }
            }
            Intent::HandOver { .. } => "hand-over",
        }
    }

    /// The server the operation is about.
    pub fn instance(&self) -> &InstanceKey {
        match self {
            Intent::Relocate { instance, .. }
            | Intent::RelocateReplicas { instance, .. }
            | Intent::MoveUp { instance }
            | Intent::MoveUpReplicas { instance, .. }
            | Intent::MoveBelow { instance, .. }
            | Intent::MoveEquivalent { instance, .. }
            | Intent::Repoint { instance, .. }
            | Intent::RepointReplicas { instance, .. }
            | Intent::TakeMaster { instance }
            | Intent::TakeSiblings { instance }
            | Intent::MakeCoMaster { instance }
            | Intent::RegroupReplicas { instance, .. }
            | Intent::DetachReplicaMasterHost { instance }
            | Intent::ReattachReplicaMasterHost { instance }
            | Intent::SetReadOnly { instance, .. }
            | Intent::StopReplica { instance }
            | Intent::StopReplicaNice { instance }
            | Intent::StartReplica { instance }
            | Intent::RestartReplica { instance }
            | Intent::ResetReplica { instance }
            | Intent::SkipQuery { instance }
            | Intent::EnableGtid { instance }
            | Intent::DisableGtid { instance }
            | Intent::FlushBinaryLogs { instance }
            | Intent::PurgeBinaryLogs { instance, .. }
            | Intent::SetSemiSync { instance, .. }
            | Intent::DelayReplication { instance, .. }
            | Intent::KillQuery { instance, .. }
            | Intent::GtidErrantResetMaster { instance }
            | Intent::GtidErrantInjectEmpty { instance }
            | Intent::MakeWritable { instance } => instance,
            Intent::MasterFailover { failed, .. }
            | Intent::IntermediateMasterFailover { failed, .. } => failed,
            Intent::GracefulTakeover { master, .. } => master,
            Intent::HandOver { from, .. } => from,
        }
    }

    /// The other server named, when there is one (target, sibling, designated).
    pub fn target(&self) -> Option<&InstanceKey> {
        match self {
            Intent::Relocate { below, .. }
            | Intent::RelocateReplicas { below, .. }
            | Intent::MoveEquivalent { below, .. } => Some(below),
            Intent::MoveBelow { sibling, .. } => Some(sibling),
            Intent::Repoint { below, .. } => below.as_ref(),
            Intent::MasterFailover { designated, .. }
            | Intent::GracefulTakeover { designated, .. } => designated.as_ref(),
            Intent::HandOver { to, .. } => Some(to),
            _ => None,
        }
    }

    /// Whether this is a recovery (automated or forced), not a refactoring.
    pub fn is_recovery(&self) -> bool {
        matches!(
            self,
            Intent::MasterFailover { .. }
                | Intent::IntermediateMasterFailover { .. }
                | Intent::MakeWritable { .. }
                | Intent::GracefulTakeover { .. }
                | Intent::HandOver { .. }
        )
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name(), self.instance())?;
        if let Some(t) = self.target() {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

//! orchestrator's analysis codes and structure warnings, with its names.

use serde::{Deserialize, Serialize};

macro_rules! names {
    ($ty:ident { $($variant:ident),* $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            /// orchestrator's name.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => stringify!($variant)),* }
            }

            /// Parses orchestrator's name.
            pub fn parse(name: &str) -> Option<Self> {
                match name { $(stringify!($variant) => Some($ty::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The verdict on one instance, as orchestrator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum AnalysisCode {
    NoProblem,
    DeadMasterWithoutReplicas,
    DeadMaster,
    DeadMasterAndReplicas,
    DeadMasterAndSomeReplicas,
    UnreachableMasterWithLaggingReplicas,
    UnreachableMaster,
    LockedSemiSyncMaster,
    LockedSemiSyncMasterHypothesis,
    MasterWithTooManySemiSyncReplicas,
    MasterSingleReplicaNotReplicating,
    MasterSingleReplicaDead,
    AllMasterReplicasNotReplicating,
    AllMasterReplicasNotReplicatingOrDead,
    MasterWithoutReplicas,
    DeadCoMaster,
    DeadCoMasterAndSomeReplicas,
    UnreachableCoMaster,
    AllCoMasterReplicasNotReplicating,
    DeadIntermediateMaster,
    DeadIntermediateMasterWithSingleReplica,
    DeadIntermediateMasterWithSingleReplicaFailingToConnect,
    DeadIntermediateMasterAndSomeReplicas,
    DeadIntermediateMasterAndReplicas,
    UnreachableIntermediateMasterWithLaggingReplicas,
    UnreachableIntermediateMaster,
    AllIntermediateMasterReplicasFailingToConnectOrDead,
    AllIntermediateMasterReplicasNotReplicating,
    FirstTierReplicaFailingToConnectToMaster,
    BinlogServerFailingToConnectToMaster,
    DeadReplicationGroupMemberWithReplicas,
    NoWriteableMasterStructureWarning,
}

names!(AnalysisCode {
    NoProblem,
    DeadMasterWithoutReplicas,
    DeadMaster,
    DeadMasterAndReplicas,
    DeadMasterAndSomeReplicas,
    UnreachableMasterWithLaggingReplicas,
    UnreachableMaster,
    LockedSemiSyncMaster,
    LockedSemiSyncMasterHypothesis,
    MasterWithTooManySemiSyncReplicas,
    MasterSingleReplicaNotReplicating,
    MasterSingleReplicaDead,
    AllMasterReplicasNotReplicating,
    AllMasterReplicasNotReplicatingOrDead,
    MasterWithoutReplicas,
    DeadCoMaster,
    DeadCoMasterAndSomeReplicas,
    UnreachableCoMaster,
    AllCoMasterReplicasNotReplicating,
    DeadIntermediateMaster,
    DeadIntermediateMasterWithSingleReplica,
    DeadIntermediateMasterWithSingleReplicaFailingToConnect,
    DeadIntermediateMasterAndSomeReplicas,
    DeadIntermediateMasterAndReplicas,
    UnreachableIntermediateMasterWithLaggingReplicas,
    UnreachableIntermediateMaster,
    AllIntermediateMasterReplicasFailingToConnectOrDead,
    AllIntermediateMasterReplicasNotReplicating,
    FirstTierReplicaFailingToConnectToMaster,
    BinlogServerFailingToConnectToMaster,
    DeadReplicationGroupMemberWithReplicas,
    NoWriteableMasterStructureWarning,
});

impl AnalysisCode {
    /// Whether an automated recovery acts on it (orchestrator's dispatch table).
    pub fn is_actionable(self, recover_non_writeable_master: bool) -> bool {
        use AnalysisCode::*;
        match self {
            DeadMaster
            | DeadMasterAndSomeReplicas
            | LockedSemiSyncMaster
            | MasterWithTooManySemiSyncReplicas
            | DeadIntermediateMaster
            | DeadIntermediateMasterAndSomeReplicas
            | DeadIntermediateMasterWithSingleReplicaFailingToConnect
            | AllIntermediateMasterReplicasFailingToConnectOrDead
            | DeadCoMaster
            | DeadCoMasterAndSomeReplicas
            | DeadReplicationGroupMemberWithReplicas => true,
            NoWriteableMasterStructureWarning => recover_non_writeable_master,
            _ => false,
        }
    }

    /// Whether a handler runs for it at all (detection hooks), actionable or not.
    pub fn has_handler(self) -> bool {
        use AnalysisCode::*;
        self.is_actionable(true)
            || matches!(
                self,
                DeadIntermediateMasterAndReplicas
                    | DeadMasterAndReplicas
                    | UnreachableMaster
                    | UnreachableMasterWithLaggingReplicas
                    | AllMasterReplicasNotReplicating
                    | AllMasterReplicasNotReplicatingOrDead
                    | UnreachableIntermediateMasterWithLaggingReplicas
            )
    }

    /// Codes about replicas only: skipped when every replica is downtimed.
    pub fn concerns_replicas_only(self) -> bool {
        use AnalysisCode::*;
        matches!(
            self,
            AllMasterReplicasNotReplicating
                | AllMasterReplicasNotReplicatingOrDead
                | MasterSingleReplicaDead
                | AllCoMasterReplicasNotReplicating
                | DeadIntermediateMasterWithSingleReplica
                | DeadIntermediateMasterWithSingleReplicaFailingToConnect
                | DeadIntermediateMasterAndReplicas
                | DeadIntermediateMasterAndSomeReplicas
                | AllIntermediateMasterReplicasFailingToConnectOrDead
                | AllIntermediateMasterReplicasNotReplicating
        )
    }

    /// A human description of the verdict.
    pub fn description(self) -> &'static str {
        use AnalysisCode::*;
        match self {
            NoProblem => "",
            DeadMasterWithoutReplicas => {
                "Master cannot be reached by orchestrator and has no replica"
            }
            DeadMaster => {
                "Master cannot be reached by orchestrator and none of its replicas is replicating"
            }
            DeadMasterAndReplicas => {
                "Master cannot be reached by orchestrator and none of its replicas is replicating"
            }
            DeadMasterAndSomeReplicas => {
                "Master cannot be reached by orchestrator; some of its replicas are unreachable and none of its replicas is replicating"
            }
            UnreachableMasterWithLaggingReplicas => {
                "Master cannot be reached by orchestrator and all of its replicas are lagging"
            }
            UnreachableMaster => {
                "Master cannot be reached by orchestrator but it has replicating replicas; possibly a network/host issue"
            }
            LockedSemiSyncMaster => {
                "Semi sync master is locked since it doesn't get enough replica acknowledgements"
            }
            LockedSemiSyncMasterHypothesis => {
                "Semi sync master seems to be locked, more samples needed to validate"
            }
            MasterWithTooManySemiSyncReplicas => {
                "Semi sync master has more semi sync replicas than configured"
            }
            MasterSingleReplicaNotReplicating => {
                "Master is reachable but its single replica is not replicating"
            }
            MasterSingleReplicaDead => "Master is reachable but its single replica is dead",
            AllMasterReplicasNotReplicating => {
                "Master is reachable but none of its replicas is replicating"
            }
            AllMasterReplicasNotReplicatingOrDead => {
                "Master is reachable but none of its replicas is replicating or reachable"
            }
            MasterWithoutReplicas => "Master has no replicas",
            DeadCoMaster => {
                "Co-master cannot be reached by orchestrator and none of its replicas is replicating"
            }
            DeadCoMasterAndSomeReplicas => {
                "Co-master cannot be reached by orchestrator; some of its replicas are unreachable and none of its replicas is replicating"
            }
            UnreachableCoMaster => {
                "Co-master cannot be reached by orchestrator but it has replicating replicas"
            }
            AllCoMasterReplicasNotReplicating => {
                "Co-master is reachable but none of its replicas is replicating"
            }
            DeadIntermediateMaster => {
                "Intermediate master cannot be reached by orchestrator and none of its replicas is replicating"
            }
            DeadIntermediateMasterWithSingleReplica => {
                "Intermediate master cannot be reached by orchestrator and its (single) replica is not replicating"
            }
            DeadIntermediateMasterWithSingleReplicaFailingToConnect => {
                "Intermediate master cannot be reached by orchestrator and its (single) replica is failing to connect"
            }
            DeadIntermediateMasterAndSomeReplicas => {
                "Intermediate master cannot be reached by orchestrator; some of its replicas are unreachable and none of its replicas is replicating"
            }
            DeadIntermediateMasterAndReplicas => {
                "Intermediate master cannot be reached by orchestrator and none of its replicas is reachable"
            }
            UnreachableIntermediateMasterWithLaggingReplicas => {
                "Intermediate master cannot be reached by orchestrator and all of its replicas are lagging"
            }
            UnreachableIntermediateMaster => {
                "Intermediate master cannot be reached by orchestrator but it has replicating replicas; possibly a network/host issue"
            }
            AllIntermediateMasterReplicasFailingToConnectOrDead => {
                "Intermediate master is reachable but all of its replicas are failing to connect"
            }
            AllIntermediateMasterReplicasNotReplicating => {
                "Intermediate master is reachable but none of its replicas is replicating"
            }
            FirstTierReplicaFailingToConnectToMaster => {
                "Replica is failing to connect to its master"
            }
            BinlogServerFailingToConnectToMaster => {
                "Binlog server is failing to connect to its master"
            }
            DeadReplicationGroupMemberWithReplicas => {
                "Group member cannot be reached by orchestrator and none of its replicas is replicating"
            }
            NoWriteableMasterStructureWarning => "Master is read-only",
        }
    }

    /// The verdict to show while a hung (not refusing) server's grace runs.
    pub fn unreachable_counterpart(self) -> Option<AnalysisCode> {
        use AnalysisCode::*;
        match self {
            DeadMaster | DeadMasterAndSomeReplicas => Some(UnreachableMaster),
            DeadCoMaster | DeadCoMasterAndSomeReplicas => Some(UnreachableCoMaster),
            DeadIntermediateMaster
            | DeadIntermediateMasterAndSomeReplicas
            | DeadIntermediateMasterWithSingleReplica
            | DeadIntermediateMasterWithSingleReplicaFailingToConnect => {
                Some(UnreachableIntermediateMaster)
            }
            _ => None,
        }
    }
}

/// A structural risk noted beside the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum StructureWarning {
    NoLoggingReplicasStructureWarning,
    NoFailoverSupportStructureWarning,
    StatementAndMixedLoggingReplicasStructureWarning,
    StatementAndRowLoggingReplicasStructureWarning,
    MixedAndRowLoggingReplicasStructureWarning,
    MultipleMajorVersionsLoggingReplicasStructureWarning,
    DifferentGTIDModesStructureWarning,
    ErrantGTIDStructureWarning,
    NoWriteableMasterStructureWarning,
    NotEnoughValidSemiSyncReplicasStructureWarning,
}

names!(StructureWarning {
    NoLoggingReplicasStructureWarning,
    NoFailoverSupportStructureWarning,
    StatementAndMixedLoggingReplicasStructureWarning,
    StatementAndRowLoggingReplicasStructureWarning,
    MixedAndRowLoggingReplicasStructureWarning,
    MultipleMajorVersionsLoggingReplicasStructureWarning,
    DifferentGTIDModesStructureWarning,
    ErrantGTIDStructureWarning,
    NoWriteableMasterStructureWarning,
    NotEnoughValidSemiSyncReplicasStructureWarning,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in AnalysisCode::ALL {
            assert_eq!(AnalysisCode::parse(c.as_str()), Some(*c));
        }
        for w in StructureWarning::ALL {
            assert_eq!(StructureWarning::parse(w.as_str()), Some(*w));
        }
        assert_eq!(AnalysisCode::DeadMaster.to_string(), "DeadMaster");
    }

    #[test]
    fn dispatch_follows_orchestrator() {
        assert!(AnalysisCode::DeadMaster.is_actionable(false));
        assert!(!AnalysisCode::UnreachableMaster.is_actionable(false));
        assert!(AnalysisCode::UnreachableMaster.has_handler());
        assert!(!AnalysisCode::NoWriteableMasterStructureWarning.is_actionable(false));
        assert!(AnalysisCode::NoWriteableMasterStructureWarning.is_actionable(true));
        assert!(!AnalysisCode::FirstTierReplicaFailingToConnectToMaster.has_handler());
    }
}

//! Model enums ↔ wire enum values, strictly: an unspecified value is a
//! missing field and a value this version does not know is refused.
//!
//! Each mapping is written once, as a list of pairs; [`enum_map!`] makes
//! both directions from it, so they cannot drift apart.

use orc_analysis as a;
use orc_model as m;
use orc_planner as p;
use orc_recovery_fsm::HookStage;

use crate::Error;
use crate::v1 as w;

/// `$to(model) -> i32` and `$from(i32, message, field) -> Result<model>`
/// from a list of `model => wire` pairs (every variant of both, but the
/// wire's `unspecified` one).
macro_rules! enum_map {
    (
        $(#[$doc:meta])*
        $to:ident, $from:ident: $model:ty => $wire:ty
        $(, unspecified $u:path)?
        { $($m:path => $w:path),* $(,)? }
    ) => {
        $(#[$doc])*
        pub(crate) fn $to(v: $model) -> i32 {
            (match v { $($m => $w),* }) as i32
        }

        $(#[$doc])*
        pub(crate) fn $from(
            v: i32,
            message: &'static str,
            field: &'static str,
        ) -> Result<$model, Error> {
            match <$wire>::try_from(v) {
                $(Ok($w) => Ok($m),)*
                $(Ok($u) => Err(Error::MissingField { message, field }),)?
                Err(_) => Err(Error::UnknownValue { message, field, value: v }),
            }
        }
    };
}

enum_map! {
    /// orchestrator's analysis codes.
    code_to_wire, code_from_wire: a::AnalysisCode => w::AnalysisCode,
    unspecified w::AnalysisCode::Unspecified {
        a::AnalysisCode::NoProblem => w::AnalysisCode::NoProblem,
        a::AnalysisCode::DeadMasterWithoutReplicas => w::AnalysisCode::DeadMasterWithoutReplicas,
        a::AnalysisCode::DeadMaster => w::AnalysisCode::DeadMaster,
        a::AnalysisCode::DeadMasterAndReplicas => w::AnalysisCode::DeadMasterAndReplicas,
        a::AnalysisCode::DeadMasterAndSomeReplicas => w::AnalysisCode::DeadMasterAndSomeReplicas,
        a::AnalysisCode::UnreachableMasterWithLaggingReplicas => w::AnalysisCode::UnreachableMasterWithLaggingReplicas,
        a::AnalysisCode::UnreachableMaster => w::AnalysisCode::UnreachableMaster,
        a::AnalysisCode::LockedSemiSyncMaster => w::AnalysisCode::LockedSemiSyncMaster,
        a::AnalysisCode::LockedSemiSyncMasterHypothesis => w::AnalysisCode::LockedSemiSyncMasterHypothesis,
        a::AnalysisCode::MasterWithTooManySemiSyncReplicas => w::AnalysisCode::MasterWithTooManySemiSyncReplicas,
        a::AnalysisCode::MasterSingleReplicaNotReplicating => w::AnalysisCode::MasterSingleReplicaNotReplicating,
        a::AnalysisCode::MasterSingleReplicaDead => w::AnalysisCode::MasterSingleReplicaDead,
        a::AnalysisCode::AllMasterReplicasNotReplicating => w::AnalysisCode::AllMasterReplicasNotReplicating,
        a::AnalysisCode::AllMasterReplicasNotReplicatingOrDead => w::AnalysisCode::AllMasterReplicasNotReplicatingOrDead,
        a::AnalysisCode::MasterWithoutReplicas => w::AnalysisCode::MasterWithoutReplicas,
        a::AnalysisCode::DeadCoMaster => w::AnalysisCode::DeadCoMaster,
        a::AnalysisCode::DeadCoMasterAndSomeReplicas => w::AnalysisCode::DeadCoMasterAndSomeReplicas,
        a::AnalysisCode::UnreachableCoMaster => w::AnalysisCode::UnreachableCoMaster,
        a::AnalysisCode::AllCoMasterReplicasNotReplicating => w::AnalysisCode::AllCoMasterReplicasNotReplicating,
        a::AnalysisCode::DeadIntermediateMaster => w::AnalysisCode::DeadIntermediateMaster,
        a::AnalysisCode::DeadIntermediateMasterWithSingleReplica => w::AnalysisCode::DeadIntermediateMasterWithSingleReplica,
        a::AnalysisCode::DeadIntermediateMasterWithSingleReplicaFailingToConnect => w::AnalysisCode::DeadIntermediateMasterWithSingleReplicaFailingToConnect,
        a::AnalysisCode::DeadIntermediateMasterAndSomeReplicas => w::AnalysisCode::DeadIntermediateMasterAndSomeReplicas,
        a::AnalysisCode::DeadIntermediateMasterAndReplicas => w::AnalysisCode::DeadIntermediateMasterAndReplicas,
        a::AnalysisCode::UnreachableIntermediateMasterWithLaggingReplicas => w::AnalysisCode::UnreachableIntermediateMasterWithLaggingReplicas,
        a::AnalysisCode::UnreachableIntermediateMaster => w::AnalysisCode::UnreachableIntermediateMaster,
        a::AnalysisCode::AllIntermediateMasterReplicasFailingToConnectOrDead => w::AnalysisCode::AllIntermediateMasterReplicasFailingToConnectOrDead,
        a::AnalysisCode::AllIntermediateMasterReplicasNotReplicating => w::AnalysisCode::AllIntermediateMasterReplicasNotReplicating,
        a::AnalysisCode::FirstTierReplicaFailingToConnectToMaster => w::AnalysisCode::FirstTierReplicaFailingToConnectToMaster,
        a::AnalysisCode::BinlogServerFailingToConnectToMaster => w::AnalysisCode::BinlogServerFailingToConnectToMaster,
        a::AnalysisCode::DeadReplicationGroupMemberWithReplicas => w::AnalysisCode::DeadReplicationGroupMemberWithReplicas,
        a::AnalysisCode::NoWriteableMasterStructureWarning => w::AnalysisCode::NoWriteableMasterStructureWarning,
    }
}

enum_map! {
    /// orchestrator's structure warnings.
    warning_to_wire, warning_from_wire: a::StructureWarning => w::StructureWarning,
    unspecified w::StructureWarning::Unspecified {
        a::StructureWarning::NoLoggingReplicasStructureWarning => w::StructureWarning::NoLoggingReplicas,
        a::StructureWarning::NoFailoverSupportStructureWarning => w::StructureWarning::NoFailoverSupport,
        a::StructureWarning::StatementAndMixedLoggingReplicasStructureWarning => w::StructureWarning::StatementAndMixedLoggingReplicas,
        a::StructureWarning::StatementAndRowLoggingReplicasStructureWarning => w::StructureWarning::StatementAndRowLoggingReplicas,
        a::StructureWarning::MixedAndRowLoggingReplicasStructureWarning => w::StructureWarning::MixedAndRowLoggingReplicas,
        a::StructureWarning::MultipleMajorVersionsLoggingReplicasStructureWarning => w::StructureWarning::MultipleMajorVersionsLoggingReplicas,
        a::StructureWarning::DifferentGTIDModesStructureWarning => w::StructureWarning::DifferentGtidModes,
        a::StructureWarning::ErrantGTIDStructureWarning => w::StructureWarning::ErrantGtid,
        a::StructureWarning::NoWriteableMasterStructureWarning => w::StructureWarning::NoWriteableMaster,
        a::StructureWarning::NotEnoughValidSemiSyncReplicasStructureWarning => w::StructureWarning::NotEnoughValidSemiSyncReplicas,
    }
}

enum_map! {
    /// How a probe failed (the wire has no unspecified value: 0 is `OTHER`).
    error_kind_to_wire, error_kind_from_wire: m::ProbeErrorKind => w::ProbeErrorKind {
        m::ProbeErrorKind::Other => w::ProbeErrorKind::Other,
        m::ProbeErrorKind::Refused => w::ProbeErrorKind::Refused,
        m::ProbeErrorKind::Timeout => w::ProbeErrorKind::Timeout,
        m::ProbeErrorKind::ConnectionLost => w::ProbeErrorKind::ConnectionLost,
        m::ProbeErrorKind::AccessDenied => w::ProbeErrorKind::AccessDenied,
        m::ProbeErrorKind::Unresolvable => w::ProbeErrorKind::Unresolvable,
        m::ProbeErrorKind::Query => w::ProbeErrorKind::Query,
    }
}

enum_map! {
    /// A replication thread's state (0 is `STOPPED`).
    thread_to_wire, thread_from_wire: m::ThreadState => w::ThreadState {
        m::ThreadState::Stopped => w::ThreadState::Stopped,
        m::ThreadState::Running => w::ThreadState::Running,
        m::ThreadState::Connecting => w::ThreadState::Connecting,
        m::ThreadState::Other => w::ThreadState::Other,
    }
}

enum_map! {
    /// Binary or relay log (0 is binary).
    log_kind_to_wire, log_kind_from_wire: m::LogKind => w::LogKind {
        m::LogKind::Binary => w::LogKind::Binary,
        m::LogKind::Relay => w::LogKind::Relay,
    }
}

enum_map! {
    /// What kind of server a recovery replaced.
    recovery_kind_to_wire, recovery_kind_from_wire: m::RecoveryKind => w::RecoveryKind,
    unspecified w::RecoveryKind::Unspecified {
        m::RecoveryKind::MasterRecovery => w::RecoveryKind::MasterRecovery,
        m::RecoveryKind::CoMasterRecovery => w::RecoveryKind::CoMasterRecovery,
        m::RecoveryKind::IntermediateMasterRecovery => w::RecoveryKind::IntermediateMasterRecovery,
    }
}

enum_map! {
    /// How a plan moves replicas.
    method_to_wire, method_from_wire: p::Method => w::PlanMethod,
    unspecified w::PlanMethod::Unspecified {
        p::Method::Gtid => w::PlanMethod::Gtid,
        p::Method::PseudoGtid => w::PlanMethod::PseudoGtid,
        p::Method::BinlogFile => w::PlanMethod::BinlogFile,
        p::Method::None => w::PlanMethod::None,
    }
}

enum_map! {
    /// Which semi-sync role.
    role_to_wire, role_from_wire: p::SemiSyncRole => w::SemiSyncRole,
    unspecified w::SemiSyncRole::Unspecified {
        p::SemiSyncRole::Master => w::SemiSyncRole::Master,
        p::SemiSyncRole::Replica => w::SemiSyncRole::Replica,
    }
}

enum_map! {
    /// Replication credentials a `CHANGE MASTER` sets.
    credentials_to_wire, credentials_from_wire: p::Credentials => w::PlanCredentials,
    unspecified w::PlanCredentials::Unspecified {
        p::Credentials::Keep => w::PlanCredentials::Keep,
        p::Credentials::Configured => w::PlanCredentials::Configured,
    }
}

enum_map! {
    /// The hook lists.
    hook_to_wire, hook_from_wire: HookStage => w::HookStage,
    unspecified w::HookStage::Unspecified {
        HookStage::OnFailureDetection => w::HookStage::OnFailureDetection,
        HookStage::PreGracefulTakeover => w::HookStage::PreGracefulTakeover,
        HookStage::PreFailover => w::HookStage::PreFailover,
        HookStage::PostMasterFailover => w::HookStage::PostMasterFailover,
        HookStage::PostIntermediateMasterFailover => w::HookStage::PostIntermediateMasterFailover,
        HookStage::PostFailover => w::HookStage::PostFailover,
        HookStage::PostUnsuccessfulFailover => w::HookStage::PostUnsuccessfulFailover,
        HookStage::PostGracefulTakeover => w::HookStage::PostGracefulTakeover,
        HookStage::PostTakeMaster => w::HookStage::PostTakeMaster,
    }
}

/// An optional method (`only`): unspecified is none.
pub(crate) fn only_to_wire(only: Option<p::Method>) -> i32 {
    only.map_or(w::PlanMethod::Unspecified as i32, method_to_wire)
}

/// An optional method (`only`): unspecified is none, unknown is refused.
pub(crate) fn only_from_wire(
    v: i32,
    message: &'static str,
    field: &'static str,
) -> Result<Option<p::Method>, Error> {
    if v == w::PlanMethod::Unspecified as i32 {
        return Ok(None);
    }
    method_from_wire(v, message, field).map(Some)
}

/// Binary log coordinates, the log kind checked.
pub(crate) fn coordinates_from_wire(
    c: &w::BinlogCoordinates,
    message: &'static str,
    field: &'static str,
) -> Result<m::BinlogCoordinates, Error> {
    Ok(m::BinlogCoordinates {
        log_file: c.log_file.clone(),
        log_pos: c.log_pos,
        kind: log_kind_from_wire(c.kind, message, field)?,
    })
}

/// An optional probe error kind (absent when none).
pub(crate) fn opt_error_kind_from_wire(
    v: Option<i32>,
    message: &'static str,
    field: &'static str,
) -> Result<Option<m::ProbeErrorKind>, Error> {
    v.map(|v| error_kind_from_wire(v, message, field))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_analysis_code_and_warning_crosses_the_wire() {
        for c in a::AnalysisCode::ALL {
            assert_eq!(code_from_wire(code_to_wire(*c), "t", "code"), Ok(*c));
        }
        for s in a::StructureWarning::ALL {
            assert_eq!(warning_from_wire(warning_to_wire(*s), "t", "s"), Ok(*s));
        }
    }

    #[test]
    fn unspecified_values_are_missing_and_unknown_ones_refused() {
        assert_eq!(
            code_from_wire(0, "InstanceAnalysis", "code"),
            Err(Error::MissingField {
                message: "InstanceAnalysis",
                field: "code"
            })
        );
        assert_eq!(
            code_from_wire(999, "InstanceAnalysis", "code"),
            Err(Error::UnknownValue {
                message: "InstanceAnalysis",
                field: "code",
                value: 999
            })
        );
        assert!(matches!(
            thread_from_wire(-1, "ReplicaEvidence", "io_thread"),
            Err(Error::UnknownValue { value: -1, .. })
        ));
        assert_eq!(only_from_wire(0, "t", "only"), Ok(None));
        assert!(only_from_wire(77, "t", "only").is_err());
    }
}

//! Why the planner refuses.

use orc_model::InstanceKey;
use orc_promotion::NoCandidate;
use serde::{Deserialize, Serialize};

/// The family of a refusal, for callers that map them (HTTP, gRPC, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The change would make a replication loop.
    Cycle,
    /// The new source writes no binary log.
    NoBinaryLogs,
    /// The new source is a replica that does not log its replicas' updates.
    NoReplicaUpdates,
    /// The replica runs an older major version than its new source.
    VersionTooOld,
    /// The replica logs a binlog format that cannot carry the source's events.
    BinlogFormat,
    /// Errant GTID would be replicated.
    ErrantGtid,
    /// A server involved is under maintenance.
    Maintenance,
    /// A server involved cannot be read now.
    Unreachable,
    /// The servers are not placed as the operation needs.
    Placement,
    /// No method applies (no GTID, no Pseudo-GTID, no equivalent coordinates).
    NoMethod,
    /// The server is lagging too far.
    Lagging,
    /// Replication credentials are needed and unknown.
    Credentials,
    /// A rule or filter forbids it (`must_not`, `PromotionIgnoreHostnameFilters`).
    Forbidden,
    /// The flavour or version does not support the operation.
    Unsupported,
    /// The request does not make sense (a server with itself, a bad argument).
    Invalid,
    /// Nothing to do (already detached, already co-masters, no errant
    /// GTID). Moving the replicas of a server that has none is not refused:
    /// it moves nothing, as orchestrator answers.
    NothingToDo,
}

/// A plan that cannot be made. Nothing has changed when it is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum PlanError {
    /// A server the request names is not in the topology.
    #[error("{0} is not known")]
    Unknown(InstanceKey),
    /// The planner refuses, and says why.
    #[error("{reason}")]
    Refused {
        /// The family.
        kind: Refusal,
        /// The server the refusal is about.
        instance: InstanceKey,
        /// Why, in words.
        reason: String,
    },
    /// No replica may be promoted.
    #[error("{0}")]
    NoCandidate(NoCandidate),
}

impl PlanError {
    /// A refusal.
    pub fn refused(kind: Refusal, instance: &InstanceKey, reason: impl Into<String>) -> Self {
        Self::Refused {
            kind,
            instance: instance.clone(),
            reason: reason.into(),
        }
    }

    /// The family, when it is a refusal.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

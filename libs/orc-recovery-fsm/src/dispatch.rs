//! Which analysis codes a recovery acts on, and which clusters it may touch.

use serde::{Deserialize, Serialize};

/// What a recovery does about an analysis code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Handler {
    /// Promote a replica of a dead master.
    DeadMaster,
    /// Move the replicas of a dead intermediate master.
    DeadIntermediateMaster,
    /// Promote the other co-master (or a replica) of a dead co-master.
    DeadCoMaster,
    /// Make a read-only master writable (`RecoverNonWriteableMaster`).
    NonWriteableMaster,
    /// Nothing to change: detection hooks only.
    DetectionOnly,
}

impl Handler {
    /// The handler of an analysis code; `None` when recovery ignores it.
    pub fn for_code(code: &str) -> Option<Self> {
        Some(match code {
            "DeadMaster" | "DeadMasterAndSomeReplicas" => Self::DeadMaster,
            "DeadIntermediateMaster"
            | "DeadIntermediateMasterAndSomeReplicas"
            | "DeadIntermediateMasterWithSingleReplicaFailingToConnect"
            | "AllIntermediateMasterReplicasFailingToConnectOrDead" => Self::DeadIntermediateMaster,
            "DeadCoMaster" | "DeadCoMasterAndSomeReplicas" => Self::DeadCoMaster,
            "NoWriteableMasterStructureWarning" => Self::NonWriteableMaster,
            "DeadIntermediateMasterAndReplicas"
            | "DeadMasterAndReplicas"
            | "UnreachableMaster"
            | "UnreachableMasterWithLaggingReplicas"
            | "AllMasterReplicasNotReplicating"
            | "AllMasterReplicasNotReplicatingOrDead"
            | "UnreachableIntermediateMasterWithLaggingReplicas" => Self::DetectionOnly,
            _ => return None,
        })
    }

    /// Whether the handler changes the topology.
    pub fn acts(self) -> bool {
        self != Self::DetectionOnly
    }

    /// Whether it replaces a master (master and co-master recoveries use
    /// `RecoverMasterClusterFilters` and `PostMasterFailoverProcesses`).
    pub fn is_master_recovery(self) -> bool {
        matches!(
            self,
            Self::DeadMaster | Self::DeadCoMaster | Self::NonWriteableMaster
        )
    }

    /// orchestrator's `{instanceType}`.
    pub fn instance_type(self) -> &'static str {
        match self {
            Self::DeadMaster | Self::NonWriteableMaster | Self::DetectionOnly => "master",
            Self::DeadCoMaster => "co-master",
            Self::DeadIntermediateMaster => "intermediate-master",
        }
    }
}

/// Whether a cluster matches orchestrator's recovery filters
/// (`RecoverMasterClusterFilters`, `RecoverIntermediateMasterClusterFilters`):
/// `*` matches all; `alias=<x>` an exact alias; `alias~=<re>` an alias
/// regex; otherwise an exact name, an exact alias, or a regex on the name.
/// An invalid regex matches nothing.
pub fn cluster_filter_matches(filters: &[String], cluster: &str, alias: &str) -> bool {
    filters.iter().any(|f| {
        let f = f.trim();
        if f == "*" || f == cluster || (!alias.is_empty() && f == alias) {
            return true;
        }
        if let Some(a) = f.strip_prefix("alias=") {
            return a == alias;
        }
        if let Some(re) = f.strip_prefix("alias~=") {
            return regex::Regex::new(re).is_ok_and(|r| r.is_match(alias));
        }
        regex::Regex::new(f).is_ok_and(|r| r.is_match(cluster))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_handlers() {
        assert_eq!(Handler::for_code("DeadMaster"), Some(Handler::DeadMaster));
        assert_eq!(
            Handler::for_code("DeadMasterAndSomeReplicas"),
            Some(Handler::DeadMaster)
        );
        assert_eq!(
            Handler::for_code("UnreachableMaster"),
            Some(Handler::DetectionOnly)
        );
        assert_eq!(Handler::for_code("DeadMasterWithoutReplicas"), None);
        assert_eq!(Handler::for_code("NoProblem"), None);
        assert!(!Handler::DetectionOnly.acts());
        assert_eq!(
            Handler::DeadIntermediateMaster.instance_type(),
            "intermediate-master"
        );
    }

    #[test]
    fn filters_follow_orchestrator() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(cluster_filter_matches(&f(&["*"]), "db1:3306", ""));
        assert!(!cluster_filter_matches(&f(&[]), "db1:3306", ""));
        assert!(cluster_filter_matches(
            &f(&["db1:3306"]),
            "db1:3306",
            "main"
        ));
        assert!(cluster_filter_matches(&f(&["main"]), "db1:3306", "main"));
        assert!(cluster_filter_matches(
            &f(&["alias=main"]),
            "db1:3306",
            "main"
        ));
        assert!(!cluster_filter_matches(
            &f(&["alias=other"]),
            "db1:3306",
            "main"
        ));
        assert!(cluster_filter_matches(
            &f(&["alias~=^ma"]),
            "db1:3306",
            "main"
        ));
        assert!(cluster_filter_matches(&f(&["^db"]), "db1:3306", ""));
        assert!(!cluster_filter_matches(&f(&["^x", "("]), "db1:3306", ""));
    }
}

//! Thresholds and switches the analysis follows.

use std::time::Duration;

/// How to judge.
#[derive(Debug, Clone)]
pub struct AnalysisPolicy {
    /// `InstancePollSeconds`.
    pub poll_interval: Duration,
    /// Observations older than this say nothing (a prober stopped reporting).
    pub stale_after: Duration,
    /// `ReasonableReplicationLagSeconds`.
    pub reasonable_replication_lag_seconds: i64,
    /// `ReasonableLockedSemiSyncMasterSeconds` (0 → the replication lag one).
    pub reasonable_locked_semi_sync_master: Duration,
    /// `EnforceExactSemiSyncReplicas`.
    pub enforce_exact_semi_sync_replicas: bool,
    /// `RecoverNonWriteableMaster`.
    pub recover_non_writeable_master: bool,
    /// `RecoveryIgnoreHostnameFilters`: entries for matching hostnames are dropped.
    pub recovery_ignore_hostname_filters: Vec<regex::Regex>,
    /// How long a server whose probes time out (hung, or cut off) must stay
    /// failing, its replicas agreeing, before it is declared dead; until
    /// then it is reported unreachable. A refused connection is dead at once.
    pub hung_grace: Duration,
    /// `ProbersPerInstance`: how many vantages probe each server, so how
    /// many of the most recent observations vote (see
    /// [`orc_model::InstanceState::voting_vantages`]).
    pub vantages_per_instance: usize,
    /// With several vantage points, how many must fail to reach a server
    /// for it to count as unreachable (`None`: a majority of fresh ones).
    pub vantage_quorum: Option<usize>,
    /// Keep `NoProblem` entries without structure warnings.
    pub include_no_problem: bool,
    /// Pseudo-GTID is configured (`PseudoGTIDPattern`): replicas can be
    /// moved without GTID, so a topology without GTID still supports
    /// failover.
    pub pseudo_gtid: bool,
}

impl Default for AnalysisPolicy {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            stale_after: Duration::from_secs(30),
            reasonable_replication_lag_seconds: 10,
            reasonable_locked_semi_sync_master: Duration::ZERO,
            enforce_exact_semi_sync_replicas: false,
            recover_non_writeable_master: false,
            recovery_ignore_hostname_filters: Vec::new(),
            hung_grace: Duration::from_secs(10),
            vantages_per_instance: 1,
            vantage_quorum: None,
            include_no_problem: false,
            pseudo_gtid: false,
        }
    }
}

impl AnalysisPolicy {
    /// The locked-semi-sync threshold, with orchestrator's fallback.
    pub fn locked_semi_sync_after(&self) -> Duration {
        if self.reasonable_locked_semi_sync_master.is_zero() {
            Duration::from_secs(
                u64::try_from(self.reasonable_replication_lag_seconds.max(0)).unwrap_or(0),
            )
        } else {
            self.reasonable_locked_semi_sync_master
        }
    }
}

//! The switches promotion follows (orchestrator's configuration keys).

use std::time::Duration;

/// How strict promotion is. `Default` turns every check off.
#[derive(Debug, Clone, Default)]
pub struct PromotionPolicy {
    /// `PreventCrossDataCenterMasterFailover`: never promote a replica in
    /// another data centre than the failed master's (when that is known).
    pub prevent_cross_data_center: bool,
    /// `PreventCrossRegionMasterFailover`: never promote a replica in
    /// another region than the failed master's (when that is known).
    pub prevent_cross_region: bool,
    /// `FailMasterPromotionOnLagMinutes`: refuse replicas whose
    /// [`orc_model::InstanceData::replication_lag_seconds`] is at least this.
    /// `None` (or zero, as in orchestrator) is off; an unknown lag passes.
    pub fail_on_lag: Option<Duration>,
    /// `FailMasterPromotionIfSQLThreadNotUpToDate`: refuse replicas that
    /// have not applied everything their IO thread read.
    pub fail_if_sql_thread_not_up_to_date: bool,
    /// `PromotionIgnoreHostnameFilters`: replicas whose hostname matches
    /// any of these are never promoted.
    pub ignore_hostname_filters: Vec<regex::Regex>,
}

impl PromotionPolicy {
    /// The lag threshold in whole seconds, when the lag check is on.
    pub fn lag_threshold_seconds(&self) -> Option<i64> {
        self.fail_on_lag
            .filter(|d| !d.is_zero())
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    /// Whether `hostname` matches a `PromotionIgnoreHostnameFilters` entry.
    pub fn ignores_hostname(&self, hostname: &str) -> bool {
        self.ignore_hostname_filters
            .iter()
            .any(|f| f.is_match(hostname))
    }
}

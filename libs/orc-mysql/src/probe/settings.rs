//! What a probe reads beyond the fixed queries (orchestrator's `Detect*`
//! keys, `ReplicationLagQuery`, hostname patterns).

use regex::Regex;

/// Regexes whose first capture group, applied to the hostname, gives an
/// attribute when no query does (`DataCenterPattern`, ...).
#[derive(Debug, Clone, Default)]
pub struct HostPatterns {
    /// `DataCenterPattern`.
    pub data_center: Option<Regex>,
    /// `RegionPattern`.
    pub region: Option<Regex>,
    /// `PhysicalEnvironmentPattern`.
    pub physical_environment: Option<Regex>,
}

/// Optional single-value queries run on every probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectQueries {
    /// `ReplicationLagQuery` / `SlaveLagQuery`.
    pub replication_lag: Option<String>,
    /// `DetectDataCenterQuery`.
    pub data_center: Option<String>,
    /// `DetectRegionQuery`.
    pub region: Option<String>,
    /// `DetectPhysicalEnvironmentQuery`.
    pub physical_environment: Option<String>,
    /// `DetectInstanceAliasQuery`.
    pub instance_alias: Option<String>,
    /// `DetectClusterAliasQuery`.
    pub cluster_alias: Option<String>,
    /// `DetectClusterDomainQuery`.
    pub cluster_domain: Option<String>,
    /// `DetectPromotionRuleQuery`.
    pub promotion_rule: Option<String>,
    /// `DetectSemiSyncEnforcedQuery`.
    pub semi_sync_enforced: Option<String>,
}

/// Everything configurable about probing one server.
#[derive(Debug, Clone, Default)]
pub struct ProbeSettings {
    /// Optional queries.
    pub queries: DetectQueries,
    /// Hostname patterns.
    pub patterns: HostPatterns,
}

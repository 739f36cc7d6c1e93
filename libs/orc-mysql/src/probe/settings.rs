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

impl ProbeSettings {
    /// The settings a configuration asks for (`Detect*Query`,
    /// `ReplicationLagQuery`, `*Pattern`; invalid patterns are left out,
    /// configuration validation reports them).
    pub fn from_config(c: &orc_runtime::Config) -> Self {
        let opt = |s: &String| (!s.trim().is_empty()).then(|| s.clone());
        let re = |s: &String| (!s.is_empty()).then(|| Regex::new(s).ok()).flatten();
        Self {
            queries: DetectQueries {
                replication_lag: opt(&c.replication_lag_query),
                data_center: opt(&c.detect_data_center_query),
                region: opt(&c.detect_region_query),
                physical_environment: opt(&c.detect_physical_environment_query),
                instance_alias: opt(&c.detect_instance_alias_query),
                cluster_alias: opt(&c.detect_cluster_alias_query),
                cluster_domain: opt(&c.detect_cluster_domain_query),
                promotion_rule: opt(&c.detect_promotion_rule_query),
                semi_sync_enforced: opt(&c.detect_semi_sync_enforced_query),
            },
            patterns: HostPatterns {
                data_center: re(&c.data_center_pattern),
                region: re(&c.region_pattern),
                physical_environment: re(&c.physical_environment_pattern),
            },
        }
    }
}

//! Vetoes: every reason a replica must not be promoted, decided up front.

use orc_model::{InstanceData, InstanceKey, MariadbGtidSet, PromotionRule};

use crate::compat::{binlog_format_rank, compare_versions};
use crate::policy::PromotionPolicy;
use crate::request::ReplicaFacts;
use crate::veto::Veto;

/// What the checks of one request share.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    /// The policy.
    pub policy: &'a PromotionPolicy,
    /// The failed master's last known data.
    pub failed: Option<&'a InstanceData>,
    /// How many replicas are reachable.
    pub reachable: usize,
    /// The major version most reachable replicas run.
    pub priority_version: Option<String>,
    /// The binlog format most reachable, logging replicas use (upper case).
    pub priority_format: Option<String>,
    /// The operator's designated candidate.
    pub designated: Option<&'a InstanceKey>,
}

impl Context<'_> {
    /// The failed master's data centre, when known.
    pub(crate) fn failed_data_center(&self) -> Option<&str> {
        self.failed
            .map(|d| d.data_center.as_str())
            .filter(|s| !s.is_empty())
    }

    /// The failed master's region, when known.
    pub(crate) fn failed_region(&self) -> Option<&str> {
        self.failed
            .map(|d| d.region.as_str())
            .filter(|s| !s.is_empty())
    }

    /// The failed master's physical environment, when known.
    pub(crate) fn failed_environment(&self) -> Option<&str> {
        self.failed
            .map(|d| d.physical_environment.as_str())
            .filter(|s| !s.is_empty())
    }

    /// Whether the replica is in the failed master's data centre (true when
    /// that is unknown: geography then says nothing).
    pub(crate) fn same_data_center(&self, data: &InstanceData) -> bool {
        self.failed_data_center()
            .is_none_or(|dc| dc == data.data_center)
    }

    /// Whether the replica is in the failed master's physical environment
    /// (true when that is unknown).
    pub(crate) fn same_environment(&self, data: &InstanceData) -> bool {
        self.failed_environment()
            .is_none_or(|env| env == data.physical_environment)
    }
}

/// Every veto against promoting `r`, in a fixed order.
pub(crate) fn vetoes(r: &ReplicaFacts<'_>, ctx: &Context<'_>) -> Vec<Veto> {
    let d = r.data;
    let policy = ctx.policy;
    let mut out = Vec::new();
    if ctx.designated.is_some_and(|k| k != r.key) {
        out.push(Veto::NotDesignated);
    }
    if !r.reachable {
        out.push(Veto::Unreachable);
    }
    if !d.log_bin {
        out.push(Veto::NoBinaryLog);
    }
    let others = ctx.reachable.saturating_sub(usize::from(r.reachable));
    if !d.log_replica_updates && others > 0 {
        out.push(Veto::NoLogReplicaUpdates);
    }
    if r.rule == PromotionRule::MustNot {
        out.push(Veto::MustNotRule);
    }
    if policy.ignores_hostname(r.key.hostname()) {
        out.push(Veto::IgnoredHostname);
    }
    let version = d.major_version();
    if let Some(most) = &ctx.priority_version
        && !version.is_empty()
        && compare_versions(&version, most).is_gt()
    {
        out.push(Veto::NewerMajorVersionThanMost {
            version,
            most: most.clone(),
        });
    }
    if let Some(most) = &ctx.priority_format
        && d.log_bin
        && let Some(rank) = binlog_format_rank(&d.binlog_format)
        && binlog_format_rank(most).is_some_and(|m| rank > m)
    {
        out.push(Veto::HigherBinlogFormatThanMost {
            format: d.binlog_format.trim().to_ascii_uppercase(),
            most: most.clone(),
        });
    }
    if policy.prevent_cross_data_center
        && let Some(failed) = ctx.failed_data_center()
        && failed != d.data_center
    {
        out.push(Veto::CrossDataCenter {
            candidate: d.data_center.clone(),
            failed: failed.to_string(),
        });
    }
    if policy.prevent_cross_region
        && let Some(failed) = ctx.failed_region()
        && failed != d.region
    {
        out.push(Veto::CrossRegion {
            candidate: d.region.clone(),
            failed: failed.to_string(),
        });
    }
    if let Some(limit) = policy.lag_threshold_seconds()
        && let Some(seconds) = d.replication_lag_seconds
        && seconds >= limit
    {
        out.push(Veto::Lagging { seconds });
    }
    if policy.fail_if_sql_thread_not_up_to_date && !sql_thread_up_to_date(d) {
        out.push(Veto::SqlThreadNotUpToDate);
    }
    out
}

/// Whether the SQL thread applied everything the IO thread read: with
/// MariaDB GTID, `gtid_io_pos` contained in `gtid_slave_pos`; otherwise
/// read coordinates equal to exec coordinates. True without replication.
pub fn sql_thread_up_to_date(d: &InstanceData) -> bool {
    let Some(r) = &d.replication else {
        return true;
    };
    if r.uses_mariadb_gtid() && !r.gtid_io_pos.trim().is_empty() {
        return match (
            MariadbGtidSet::parse(&r.gtid_io_pos),
            MariadbGtidSet::parse(&d.gtid_slave_pos),
        ) {
            (Ok(io), Ok(applied)) => applied.contains(&io),
            _ => false,
        };
    }
    r.read_coordinates == r.exec_coordinates
}

#[cfg(test)]
mod tests {
    use super::*;
    use orc_model::{BinlogCoordinates, ReplicationStatus};

    #[test]
    fn sql_thread_is_judged_by_coordinates_without_gtid() {
        let mut d = InstanceData {
            replication: Some(ReplicationStatus {
                read_coordinates: BinlogCoordinates::binary("b.000002", 500),
                exec_coordinates: BinlogCoordinates::binary("b.000002", 400),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(!sql_thread_up_to_date(&d));
        if let Some(r) = d.replication.as_mut() {
            r.exec_coordinates = r.read_coordinates.clone();
        }
        assert!(sql_thread_up_to_date(&d));
        assert!(sql_thread_up_to_date(&InstanceData::default()));
    }

    #[test]
    fn sql_thread_is_judged_by_gtid_io_pos_with_mariadb_gtid() {
        let mut d = InstanceData {
            gtid_slave_pos: "0-1-90".into(),
            replication: Some(ReplicationStatus {
                using_gtid: "Slave_Pos".into(),
                gtid_io_pos: "0-1-100".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(!sql_thread_up_to_date(&d));
        d.gtid_slave_pos = "0-1-100".into();
        assert!(sql_thread_up_to_date(&d));
    }
}

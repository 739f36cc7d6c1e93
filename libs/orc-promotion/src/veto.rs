//! Why a replica cannot be promoted.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One reason a replica is never promoted. A replica with any veto is not
/// eligible.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Veto {
    /// The replica does not answer.
    Unreachable,
    /// `log_bin` is off: nothing could replicate from it.
    NoBinaryLog,
    /// `log_slave_updates` is off while other replicas would have to
    /// replicate from it (not needed when it is the only replica).
    NoLogReplicaUpdates,
    /// Its promotion rule is `must_not`.
    MustNotRule,
    /// Its hostname matches `PromotionIgnoreHostnameFilters`.
    IgnoredHostname,
    /// It runs a newer major version than most replicas, which could not
    /// replicate from it.
    NewerMajorVersionThanMost {
        /// Its major version.
        version: String,
        /// The major version most replicas run.
        most: String,
    },
    /// Its binlog format is higher (`STATEMENT < MIXED < ROW`) than the one
    /// most replicas use: no row-based master over statement-based replicas.
    HigherBinlogFormatThanMost {
        /// Its binlog format.
        format: String,
        /// The binlog format most replicas use.
        most: String,
    },
    /// It is in another data centre than the failed master, and
    /// `PreventCrossDataCenterMasterFailover` is on.
    CrossDataCenter {
        /// The replica's data centre.
        candidate: String,
        /// The failed master's data centre.
        failed: String,
    },
    /// It is in another region than the failed master, and
    /// `PreventCrossRegionMasterFailover` is on.
    CrossRegion {
        /// The replica's region.
        candidate: String,
        /// The failed master's region.
        failed: String,
    },
    /// It lags at least `FailMasterPromotionOnLagMinutes`.
    Lagging {
        /// Its replication lag.
        seconds: i64,
    },
    /// Its SQL thread has not applied everything its IO thread read, and
    /// `FailMasterPromotionIfSQLThreadNotUpToDate` is on.
    SqlThreadNotUpToDate,
    /// Another replica was designated by the operator.
    NotDesignated,
}

impl Veto {
    /// A stable snake_case name (the serde tag).
    pub fn code(&self) -> &'static str {
        match self {
            Veto::Unreachable => "unreachable",
            Veto::NoBinaryLog => "no_binary_log",
            Veto::NoLogReplicaUpdates => "no_log_replica_updates",
            Veto::MustNotRule => "must_not_rule",
            Veto::IgnoredHostname => "ignored_hostname",
            Veto::NewerMajorVersionThanMost { .. } => "newer_major_version_than_most",
            Veto::HigherBinlogFormatThanMost { .. } => "higher_binlog_format_than_most",
            Veto::CrossDataCenter { .. } => "cross_data_center",
            Veto::CrossRegion { .. } => "cross_region",
            Veto::Lagging { .. } => "lagging",
            Veto::SqlThreadNotUpToDate => "sql_thread_not_up_to_date",
            Veto::NotDesignated => "not_designated",
        }
    }
}

impl fmt::Display for Veto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Veto::Unreachable => f.write_str("unreachable"),
            Veto::NoBinaryLog => f.write_str("no binary log"),
            Veto::NoLogReplicaUpdates => {
                f.write_str("log_slave_updates is off and other replicas would replicate from it")
            }
            Veto::MustNotRule => f.write_str("promotion rule is must_not"),
            Veto::IgnoredHostname => f.write_str("hostname matches PromotionIgnoreHostnameFilters"),
            Veto::NewerMajorVersionThanMost { version, most } => {
                write!(
                    f,
                    "runs {version}, newer than {most} which most replicas run"
                )
            }
            Veto::HigherBinlogFormatThanMost { format, most } => {
                write!(
                    f,
                    "binlog_format {format} is higher than {most} which most replicas use"
                )
            }
            Veto::CrossDataCenter { candidate, failed } => write!(
                f,
                "in data centre {candidate:?}, the failed master was in {failed:?}"
            ),
            Veto::CrossRegion { candidate, failed } => write!(
                f,
                "in region {candidate:?}, the failed master was in {failed:?}"
            ),
            Veto::Lagging { seconds } => write!(f, "lags {seconds}s, over the promotion limit"),
            Veto::SqlThreadNotUpToDate => {
                f.write_str("SQL thread has not applied everything the IO thread read")
            }
            Veto::NotDesignated => f.write_str("another replica was designated"),
        }
    }
}

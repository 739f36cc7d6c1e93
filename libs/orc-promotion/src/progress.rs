//! How far a replica got: executed GTIDs, or exec coordinates without GTID.

use std::cmp::Ordering;
use std::fmt;

use orc_model::{
    BinlogCoordinates, GtidFlavor, GtidSet, InstanceData, MariadbGtidSet, MysqlGtidSet,
};

/// How up-to-dateness is compared across the replicas of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Executed GTID sets of this flavour.
    Gtid(GtidFlavor),
    /// `Relay_Master_Log_File:Exec_Master_Log_Pos` (same master assumed).
    Coordinates,
}

/// How far one replica got.
#[derive(Debug, Clone)]
pub(crate) enum Progress {
    /// Executed GTIDs and how many transactions they hold.
    Gtid { set: GtidSet, count: u64 },
    /// Exec coordinates against the failed master.
    Coordinates(BinlogCoordinates),
    /// Not known (no replication status, unparseable GTIDs).
    Unknown,
}

/// How two replicas' progress relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    /// Same transactions / coordinates.
    Equal,
    /// The first has everything the second has, and more.
    Ahead,
    /// The second has everything the first has, and more.
    Behind,
    /// Each has transactions the other lacks.
    Incomparable,
    /// At least one side is unknown.
    Unknown,
}

/// Whether the replica replicates with GTID
/// ([`InstanceData::gtid_replication`], the project's one predicate).
pub(crate) fn uses_gtid(data: &InstanceData) -> bool {
    data.gtid_replication().is_some()
}

/// Executed GTIDs: for MariaDB the union of `gtid_slave_pos` and
/// `gtid_binlog_pos`, for MySQL `gtid_executed`.
pub(crate) fn executed_set(data: &InstanceData) -> Result<GtidSet, orc_model::Error> {
    match data.flavor.gtid_flavor() {
        GtidFlavor::Mariadb => {
            let slave = MariadbGtidSet::parse(&data.gtid_slave_pos)?;
            let binlog = MariadbGtidSet::parse(&data.gtid_executed)?;
            Ok(GtidSet::Mariadb(slave.union(&binlog)))
        }
        GtidFlavor::Mysql => MysqlGtidSet::parse(&data.gtid_executed).map(GtidSet::Mysql),
    }
}

/// Transactions in a set: MySQL's count, MariaDB's sum of per-domain
/// sequence numbers. A strict superset always counts more, so ordering by
/// count agrees with containment and extends it to incomparable sets.
pub(crate) fn transaction_count(set: &GtidSet) -> u64 {
    match set {
        GtidSet::Mysql(s) => s.count(),
        GtidSet::Mariadb(s) => s.gtids().fold(0u64, |acc, g| acc.saturating_add(g.seq)),
    }
}

impl Progress {
    /// The progress of one replica under `mode`.
    pub(crate) fn of(data: &InstanceData, mode: Mode) -> Self {
        match mode {
            Mode::Gtid(flavor) if data.flavor.gtid_flavor() == flavor => match executed_set(data) {
                Ok(set) => {
                    let count = transaction_count(&set);
                    Progress::Gtid { set, count }
                }
                Err(_) => Progress::Unknown,
            },
            Mode::Gtid(_) => Progress::Unknown,
            Mode::Coordinates => match &data.replication {
                Some(r) if !r.exec_coordinates.is_empty() => {
                    Progress::Coordinates(r.exec_coordinates.clone())
                }
                _ => Progress::Unknown,
            },
        }
    }

    /// A total order, most up to date greatest; unknown is least.
    pub(crate) fn rank_cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Progress::Gtid { count: a, .. }, Progress::Gtid { count: b, .. }) => a.cmp(b),
            (Progress::Coordinates(a), Progress::Coordinates(b)) => a.cmp(b),
            (Progress::Unknown, Progress::Unknown) => Ordering::Equal,
            (Progress::Unknown, _) => Ordering::Less,
            (_, Progress::Unknown) => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }

    /// How `self` relates to `other`.
    pub(crate) fn relation(&self, other: &Self) -> Relation {
        match (self, other) {
            (Progress::Gtid { set: a, .. }, Progress::Gtid { set: b, .. }) => {
                match (a.contains(b), b.contains(a)) {
                    (true, true) => Relation::Equal,
                    (true, false) => Relation::Ahead,
                    (false, true) => Relation::Behind,
                    (false, false) => Relation::Incomparable,
                }
            }
            (Progress::Coordinates(a), Progress::Coordinates(b)) => match a.cmp(b) {
                Ordering::Equal => Relation::Equal,
                Ordering::Greater => Relation::Ahead,
                Ordering::Less => Relation::Behind,
            },
            _ => Relation::Unknown,
        }
    }

    /// The GTID set, in GTID mode.
    pub(crate) fn gtid_set(&self) -> Option<&GtidSet> {
        match self {
            Progress::Gtid { set, .. } => Some(set),
            _ => None,
        }
    }

    /// Transactions in the set, in GTID mode.
    pub(crate) fn count(&self) -> Option<u64> {
        match self {
            Progress::Gtid { count, .. } => Some(*count),
            _ => None,
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Gtid { set, count } => {
                write!(f, "executed GTIDs [{set}] ({count} transactions)")
            }
            Progress::Coordinates(c) => write!(f, "executed up to {c}"),
            Progress::Unknown => f.write_str("position unknown"),
        }
    }
}

/// What `replica` has that `promoted` lacks, in words and as GTID text.
pub(crate) fn given_up(replica: &GtidSet, promoted: &GtidSet) -> (String, String) {
    match (replica, promoted) {
        (GtidSet::Mariadb(r), GtidSet::Mariadb(p)) => {
            let gaps: Vec<String> = r
                .gaps_over(p)
                .iter()
                .map(|g| {
                    let n = g.upto - g.after;
                    let first = g.after.saturating_add(1);
                    if n == 1 {
                        format!("domain {} seq {}", g.domain, g.upto)
                    } else {
                        format!("domain {} seq {first}..{}", g.domain, g.upto)
                    }
                })
                .collect();
            (gaps.join(", "), r.difference(p).to_string())
        }
        _ => {
            let diff = replica
                .difference(promoted)
                .map(|d| d.to_string())
                .unwrap_or_default();
            (diff.clone(), diff)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mariadb(slave: &str, binlog: &str) -> InstanceData {
        InstanceData {
            flavor: orc_model::Flavor::Mariadb,
            gtid_slave_pos: slave.into(),
            gtid_executed: binlog.into(),
            ..Default::default()
        }
    }

    #[test]
    fn mariadb_progress_is_the_union_of_slave_and_binlog_positions() {
        let d = mariadb("0-1-100", "0-1-90,1-2-5");
        let p = Progress::of(&d, Mode::Gtid(GtidFlavor::Mariadb));
        assert_eq!(
            p.gtid_set().map(ToString::to_string).unwrap(),
            "0-1-100,1-2-5"
        );
        assert_eq!(p.count(), Some(105));
    }

    #[test]
    fn containment_gives_the_relation_and_count_agrees() {
        let a = Progress::of(&mariadb("0-1-100", ""), Mode::Gtid(GtidFlavor::Mariadb));
        let b = Progress::of(&mariadb("0-1-90", ""), Mode::Gtid(GtidFlavor::Mariadb));
        let c = Progress::of(
            &mariadb("0-1-80,1-3-40", ""),
            Mode::Gtid(GtidFlavor::Mariadb),
        );
        assert_eq!(a.relation(&b), Relation::Ahead);
        assert_eq!(b.relation(&a), Relation::Behind);
        assert_eq!(a.rank_cmp(&b), Ordering::Greater);
        assert_eq!(a.relation(&c), Relation::Incomparable);
        assert_eq!(a.rank_cmp(&c), Ordering::Less, "120 transactions beat 100");
    }

    #[test]
    fn given_up_names_the_mariadb_gaps() {
        let r = MariadbGtidSet::parse("0-3-12").unwrap();
        let p = MariadbGtidSet::parse("0-1-10").unwrap();
        let (words, text) = given_up(&GtidSet::Mariadb(r), &GtidSet::Mariadb(p));
        assert_eq!(words, "domain 0 seq 11..12");
        assert_eq!(text, "0-3-12");
    }

    #[test]
    fn unknown_progress_ranks_last() {
        let d = InstanceData::default();
        let p = Progress::of(&d, Mode::Coordinates);
        assert!(matches!(p, Progress::Unknown));
        let c = Progress::Coordinates(BinlogCoordinates::binary("b.000001", 4));
        assert_eq!(p.rank_cmp(&c), Ordering::Less);
    }
}

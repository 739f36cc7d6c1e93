//! MariaDB GTID positions: `domain-server-seq,...`.

use std::collections::BTreeMap;
use std::fmt;

use crate::Error;

/// One MariaDB GTID: replication domain, originating server, sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariadbGtid {
    /// Replication domain id.
    pub domain: u32,
    /// server_id of the server that wrote the transaction.
    pub server: u32,
    /// Sequence number inside the domain.
    pub seq: u64,
}

/// The transactions of one domain that one position has and another lacks:
/// sequence numbers `after + 1 ..= upto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariadbGtidGap {
    /// Replication domain id.
    pub domain: u32,
    /// The last sequence number both have (0 when the other has none).
    pub after: u64,
    /// The last sequence number only this side has.
    pub upto: u64,
}

/// A MariaDB GTID position (`@@gtid_binlog_pos`, `@@gtid_slave_pos`,
/// `@@gtid_current_pos`): for each replication domain the last transaction applied.
///
/// Within a domain, sequence numbers only grow (MariaDB's `gtid_strict_mode`),
/// so a position stands for every transaction of the domain up to its
/// sequence number. Set algebra follows from that, domain by domain: union
/// keeps the higher sequence number, intersection the lower, and `a`
/// contains `b` when `a` is at least as far as `b` in every domain of `b`.
/// When a text form names a domain twice (as `gtid_binlog_state` does, once
/// per server), the highest sequence number wins.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MariadbGtidSet {
    domains: BTreeMap<u32, MariadbGtid>,
}

impl MariadbGtidSet {
    /// The empty position.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `0-1-100,1-2-5`. Whitespace is ignored; the empty string is empty.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidGtidSet {
            input: input.chars().take(200).collect(),
            reason,
        };
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let mut set = Self::default();
        if compact.is_empty() {
            return Ok(set);
        }
        for part in compact.split(',') {
            let fields: Vec<&str> = part.split('-').collect();
            if fields.len() != 3 {
                return Err(invalid(format!("{part:?} is not domain-server-seq")));
            }
            let num = |t: &str| -> Option<u64> {
                (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| t.parse::<u64>().ok())
                    .flatten()
            };
            let domain = num(fields[0])
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| invalid(format!("bad domain id in {part:?}")))?;
            let server = num(fields[1])
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| invalid(format!("bad server id in {part:?}")))?;
            let seq = num(fields[2])
                .ok_or_else(|| invalid(format!("bad sequence number in {part:?}")))?;
            set.insert(MariadbGtid {
                domain,
                server,
                seq,
            });
        }
        Ok(set)
    }

    /// Adds one GTID, keeping the furthest per domain.
    pub fn insert(&mut self, gtid: MariadbGtid) {
        match self.domains.get(&gtid.domain) {
            Some(existing) if (existing.seq, existing.server) >= (gtid.seq, gtid.server) => {}
            _ => {
                self.domains.insert(gtid.domain, gtid);
            }
        }
    }

    /// The last GTID of each domain.
    pub fn gtids(&self) -> impl Iterator<Item = &MariadbGtid> {
        self.domains.values()
    }

    /// The last GTID of one domain.
    pub fn domain(&self, domain: u32) -> Option<&MariadbGtid> {
        self.domains.get(&domain)
    }

    /// Whether the position names no transaction.
    pub fn is_empty(&self) -> bool {
        self.domains.values().all(|g| g.seq == 0)
    }

    /// Per domain, the furthest of the two.
    pub fn union(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for g in other.domains.values() {
            out.insert(*g);
        }
        out
    }

    /// Per domain present in both, the nearer of the two.
    pub fn intersection(&self, other: &Self) -> Self {
        let domains = self
            .domains
            .iter()
            .filter_map(|(d, a)| {
                let b = other.domains.get(d)?;
                Some((
                    *d,
                    if (a.seq, a.server) <= (b.seq, b.server) {
                        *a
                    } else {
                        *b
                    },
                ))
            })
            .collect();
        Self { domains }
    }

    /// The domains where `self` is further than `other`, with `self`'s last GTID.
    pub fn difference(&self, other: &Self) -> Self {
        let domains = self
            .domains
            .iter()
            .filter(|(d, a)| a.seq > other.domains.get(d).map_or(0, |b| b.seq))
            .map(|(d, a)| (*d, *a))
            .collect();
        Self { domains }
    }

    /// Whether `self` has every transaction `other` has.
    pub fn contains(&self, other: &Self) -> bool {
        other.difference(self).is_empty()
    }

    /// Exactly which transactions `self` has that `other` lacks, per domain.
    pub fn gaps_over(&self, other: &Self) -> Vec<MariadbGtidGap> {
        self.domains
            .iter()
            .filter_map(|(d, a)| {
                let after = other.domains.get(d).map_or(0, |b| b.seq);
                (a.seq > after).then_some(MariadbGtidGap {
                    domain: *d,
                    after,
                    upto: a.seq,
                })
            })
            .collect()
    }

    /// Number of transactions `self` has that `other` lacks.
    pub fn count_over(&self, other: &Self) -> u64 {
        self.gaps_over(other)
            .iter()
            .fold(0u64, |acc, g| acc.saturating_add(g.upto - g.after))
    }
}

impl fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl fmt::Display for MariadbGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.domains.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_sort_by_domain() {
        let p = MariadbGtidSet::parse("1-2-5, 0-1-100").unwrap();
        assert_eq!(p.to_string(), "0-1-100,1-2-5");
        assert_eq!(p.domain(1).unwrap().seq, 5);
    }

    #[test]
    fn binlog_state_with_several_servers_keeps_the_furthest() {
        let p = MariadbGtidSet::parse("0-1-10,0-2-15,0-3-12").unwrap();
        assert_eq!(p.to_string(), "0-2-15");
    }

    #[test]
    fn containment_and_gaps_between_positions() {
        let master = MariadbGtidSet::parse("0-1-100,1-5-7").unwrap();
        let replica = MariadbGtidSet::parse("0-1-90").unwrap();
        assert!(master.contains(&replica));
        assert!(!replica.contains(&master));
        let gaps = master.gaps_over(&replica);
        assert_eq!(
            gaps,
            vec![
                MariadbGtidGap {
                    domain: 0,
                    after: 90,
                    upto: 100
                },
                MariadbGtidGap {
                    domain: 1,
                    after: 0,
                    upto: 7
                },
            ]
        );
        assert_eq!(master.count_over(&replica), 17);
    }

    #[test]
    fn malformed_positions_are_refused() {
        for bad in [
            "0-1",
            "0-1-2-3",
            "a-1-2",
            "0--2",
            "0-1-2,,",
            "4294967296-1-1",
            "0-1-x",
        ] {
            assert!(MariadbGtidSet::parse(bad).is_err(), "{bad:?}");
        }
    }
}

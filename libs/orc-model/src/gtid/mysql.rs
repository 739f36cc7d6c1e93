//! MySQL GTID sets: `uuid:1-5:7-9,uuid2:tag:1-3`.

use std::collections::BTreeMap;
use std::fmt;

use super::intervals::IntervalSet;
use crate::Error;

/// Identifies one GTID source: a server UUID (lower-case, hyphenated) and an
/// optional tag (MySQL 8.3+ tagged GTIDs; empty for untagged).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GtidSource {
    /// Server UUID, lower-case `8-4-4-4-12` hex.
    pub uuid: String,
    /// Tag, lower-case; empty when untagged.
    pub tag: String,
}

/// A MySQL GTID set (`@@gtid_executed`, `@@gtid_purged`, `Executed_Gtid_Set`).
///
/// The canonical text form sorts sources by UUID, then untagged before tagged
/// intervals (tags sorted), with merged ranges: `uuid:1-9:tag:3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MysqlGtidSet {
    sources: BTreeMap<GtidSource, IntervalSet>,
}

impl MysqlGtidSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses MySQL's text form. Whitespace and newlines (as MySQL prints
    /// after commas) are ignored; the empty string is the empty set.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidGtidSet {
            input: truncate(input),
            reason,
        };
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let mut sources: BTreeMap<GtidSource, Vec<(u64, u64)>> = BTreeMap::new();
        if compact.is_empty() {
            return Ok(Self::default());
        }
        for part in compact.split(',') {
            if part.is_empty() {
                return Err(invalid("empty element between commas".into()));
            }
            let mut items = part.split(':');
            let uuid = items.next().unwrap_or_default();
            let uuid =
                parse_uuid(uuid).ok_or_else(|| invalid(format!("bad server uuid {uuid:?}")))?;
            let mut tag = String::new();
            let mut saw_interval = false;
            for item in items {
                if item.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    tag =
                        parse_tag(item).ok_or_else(|| invalid(format!("bad GTID tag {item:?}")))?;
                    continue;
                }
                let range = parse_interval(item)
                    .ok_or_else(|| invalid(format!("bad transaction interval {item:?}")))?;
                saw_interval = true;
                sources
                    .entry(GtidSource {
                        uuid: uuid.clone(),
                        tag: tag.clone(),
                    })
                    .or_default()
                    .push(range);
            }
            if !saw_interval {
                return Err(invalid(format!("uuid {uuid} has no transaction interval")));
            }
        }
        Ok(Self {
            sources: sources
                .into_iter()
                .map(|(k, v)| (k, IntervalSet::from_ranges(v)))
                .collect(),
        })
    }

    /// Whether the set holds no transaction.
    pub fn is_empty(&self) -> bool {
        self.sources.values().all(IntervalSet::is_empty)
    }

    /// Number of transactions in the set (saturating).
    pub fn count(&self) -> u64 {
        self.sources
            .values()
            .fold(0u64, |acc, s| acc.saturating_add(s.count()))
    }

    /// The sources and their transaction ranges.
    pub fn sources(&self) -> impl Iterator<Item = (&GtidSource, &IntervalSet)> {
        self.sources.iter()
    }

    /// The distinct server UUIDs present.
    pub fn uuids(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.sources.keys().map(|s| s.uuid.as_str()).collect();
        v.dedup();
        v
    }

    /// Removes every transaction of the given server UUID (any tag).
    pub fn without_uuid(&self, uuid: &str) -> Self {
        let uuid = uuid.to_ascii_lowercase();
        Self {
            sources: self
                .sources
                .iter()
                .filter(|(k, _)| k.uuid != uuid)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Transactions in either set.
    pub fn union(&self, other: &Self) -> Self {
        let mut sources = self.sources.clone();
        for (k, v) in &other.sources {
            let merged = sources.get(k).map_or_else(|| v.clone(), |s| s.union(v));
            sources.insert(k.clone(), merged);
        }
        Self { sources }.normalized()
    }

    /// Transactions in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        Self {
            sources: self
                .sources
                .iter()
                .filter_map(|(k, v)| other.sources.get(k).map(|o| (k.clone(), v.intersection(o))))
                .collect(),
        }
        .normalized()
    }

    /// Transactions in `self` but not in `other` (MySQL's `GTID_SUBTRACT`).
    pub fn difference(&self, other: &Self) -> Self {
        Self {
            sources: self
                .sources
                .iter()
                .map(|(k, v)| {
                    let d = other
                        .sources
                        .get(k)
                        .map_or_else(|| v.clone(), |o| v.difference(o));
                    (k.clone(), d)
                })
                .collect(),
        }
        .normalized()
    }

    /// Whether every transaction of `other` is in `self` (MySQL's `GTID_SUBSET(other, self)`).
    pub fn contains(&self, other: &Self) -> bool {
        other.difference(self).is_empty()
    }

    fn normalized(mut self) -> Self {
        self.sources.retain(|_, v| !v.is_empty());
        self
    }
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut current_uuid: Option<&str> = None;
        for (source, set) in &self.sources {
            if set.is_empty() {
                continue;
            }
            if current_uuid != Some(source.uuid.as_str()) {
                if current_uuid.is_some() {
                    f.write_str(",")?;
                }
                f.write_str(&source.uuid)?;
                current_uuid = Some(&source.uuid);
            }
            if !source.tag.is_empty() {
                write!(f, ":{}", source.tag)?;
            }
            write!(f, ":{set}")?;
        }
        Ok(())
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= 200 {
        s.to_string()
    } else {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

fn parse_uuid(s: &str) -> Option<String> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if groups.len() != 5 {
        return None;
    }
    for (g, len) in groups.iter().zip(lens) {
        if g.len() != len || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
    }
    Some(s.to_ascii_lowercase())
}

fn parse_tag(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| s.to_ascii_lowercase())
}

fn parse_interval(s: &str) -> Option<(u64, u64)> {
    let number = |t: &str| -> Option<u64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<u64>().ok().filter(|n| *n >= 1)
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            (a <= b).then_some((a, b))
        }
        None => number(s).map(|n| (n, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const U2: &str = "4d22fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn mysql_printed_sets_parse_with_newlines() {
        let text = format!("{U2}:1-3,\n{}:1-5:7-9", U1.to_uppercase());
        let set = MysqlGtidSet::parse(&text).unwrap();
        assert_eq!(set.to_string(), format!("{U1}:1-5:7-9,{U2}:1-3"));
        assert_eq!(set.count(), 11);
    }

    #[test]
    fn tagged_gtids_keep_their_tags() {
        let set = MysqlGtidSet::parse(&format!("{U1}:1-5:Tag_A:10-20:3")).unwrap();
        assert_eq!(set.to_string(), format!("{U1}:1-5:tag_a:3:10-20"));
        let untagged = MysqlGtidSet::parse(&format!("{U1}:1-5")).unwrap();
        assert!(set.contains(&untagged));
        assert!(!untagged.contains(&set));
    }

    #[test]
    fn subtraction_finds_errant_transactions() {
        let replica = MysqlGtidSet::parse(&format!("{U1}:1-100,{U2}:1-2")).unwrap();
        let master = MysqlGtidSet::parse(&format!("{U1}:1-100")).unwrap();
        assert_eq!(replica.difference(&master).to_string(), format!("{U2}:1-2"));
        assert!(master.difference(&replica).is_empty());
        assert_eq!(replica.without_uuid(U2), master);
    }

    #[test]
    fn malformed_sets_are_refused() {
        for bad in [
            "x:1-5",
            U1,
            &format!("{U1}:0"),
            &format!("{U1}:5-1"),
            &format!("{U1}:1-"),
            &format!("{U1}:1-5,,{U2}:1"),
            &format!("{U1}:b-ad:1"),
            &format!("{U1}:1-99999999999999999999999"),
        ] {
            assert!(MysqlGtidSet::parse(bad).is_err(), "{bad:?}");
        }
    }
}

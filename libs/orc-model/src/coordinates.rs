//! Binary and relay log positions (`file:pos`).

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Which log a coordinate points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum LogKind {
    /// A binary log written by the server itself (orchestrator's `Type: 0`).
    #[default]
    Binary,
    /// A relay log of a replica (orchestrator's `Type: 1`).
    Relay,
}

impl LogKind {
    /// orchestrator's numeric code for this kind.
    pub fn code(self) -> u8 {
        match self {
            LogKind::Binary => 0,
            LogKind::Relay => 1,
        }
    }
}

/// A position in a binary or relay log: `mysql-bin.000042:1234`.
///
/// Coordinates order by log-file sequence number first (so `.000010` comes
/// after `.000009`, and a rollover past `.999999` into a longer suffix still
/// sorts later), then by position. Coordinates of different log kinds or of
/// differently named log series are not comparable in a meaningful way; the
/// total order still exists (name, then kind) so they can be sorted stably.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct BinlogCoordinates {
    /// Log file name, e.g. `mysql-bin.000042`. Empty when unknown.
    pub log_file: String,
    /// Byte position inside the file.
    pub log_pos: u64,
    /// Binary or relay log.
    pub kind: LogKind,
}

impl BinlogCoordinates {
    /// Coordinates in a binary log.
    pub fn binary(log_file: impl Into<String>, log_pos: u64) -> Self {
        Self {
            log_file: log_file.into(),
            log_pos,
            kind: LogKind::Binary,
        }
    }

    /// Coordinates in a relay log.
    pub fn relay(log_file: impl Into<String>, log_pos: u64) -> Self {
        Self {
            log_file: log_file.into(),
            log_pos,
            kind: LogKind::Relay,
        }
    }

    /// Parses `file:pos` as binary-log coordinates.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidCoordinates {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (file, pos) = input
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected file:pos"))?;
        if file.is_empty() {
            return Err(invalid("empty log file name"));
        }
        if file.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(invalid("log file name contains whitespace or ':'"));
        }
        if pos.is_empty() || !pos.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("position is not a number"));
        }
        let log_pos = pos
            .parse::<u64>()
            .map_err(|_| invalid("position too large"))?;
        Ok(Self::binary(file, log_pos))
    }

    /// Whether these coordinates name no file (unknown / never set).
    pub fn is_empty(&self) -> bool {
        self.log_file.is_empty()
    }

    /// The series name before the last `.` (`mysql-bin` of `mysql-bin.000042`).
    pub fn series(&self) -> &str {
        self.log_file
            .rsplit_once('.')
            .map_or(self.log_file.as_str(), |(base, _)| base)
    }

    /// The numeric suffix of the file (`42` of `mysql-bin.000042`), if any.
    pub fn file_number(&self) -> Option<u64> {
        let (_, suffix) = self.log_file.rsplit_once('.')?;
        if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        suffix.parse().ok()
    }

    /// Whether both coordinates point into the same log series and kind, so
    /// that comparing them says which is further along.
    pub fn comparable_with(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.series() == other.series()
            && self.file_number().is_some()
            && other.file_number().is_some()
    }

    /// Whether `self` is strictly before `other` in the same log series.
    pub fn is_before(&self, other: &Self) -> bool {
        self.comparable_with(other) && self.cmp(other) == Ordering::Less
    }

    /// The name of the log file that follows this one (`.000042` → `.000043`),
    /// keeping the zero padding.
    pub fn next_file_name(&self) -> Option<String> {
        let (base, suffix) = self.log_file.rsplit_once('.')?;
        let n = self.file_number()?.checked_add(1)?;
        Some(format!("{base}.{n:0width$}", width = suffix.len()))
    }

    /// The name of the log file before this one, if there is one.
    pub fn previous_file_name(&self) -> Option<String> {
        let (base, suffix) = self.log_file.rsplit_once('.')?;
        let n = self.file_number()?.checked_sub(1)?;
        Some(format!("{base}.{n:0width$}", width = suffix.len()))
    }
}

impl Ord for BinlogCoordinates {
    fn cmp(&self, other: &Self) -> Ordering {
        self.series()
            .cmp(other.series())
            .then_with(|| match (self.file_number(), other.file_number()) {
                (Some(a), Some(b)) => a.cmp(&b),
                _ => self.log_file.cmp(&other.log_file),
            })
            .then_with(|| self.log_file.cmp(&other.log_file))
            .then_with(|| self.log_pos.cmp(&other.log_pos))
            .then_with(|| self.kind.code().cmp(&other.kind.code()))
    }
}

impl PartialOrd for BinlogCoordinates {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BinlogCoordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.log_file, self.log_pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn coordinates_parse_and_print() {
        let c = BinlogCoordinates::parse("mysql-bin.000042:1234").unwrap();
        assert_eq!(c.log_file, "mysql-bin.000042");
        assert_eq!(c.log_pos, 1234);
        assert_eq!(c.kind, LogKind::Binary);
        assert_eq!(c.to_string(), "mysql-bin.000042:1234");
        assert_eq!(c.file_number(), Some(42));
        assert_eq!(c.series(), "mysql-bin");
    }

    #[test]
    fn ordering_follows_file_number_across_rollover() {
        let a = BinlogCoordinates::binary("mysql-bin.000009", 99999);
        let b = BinlogCoordinates::binary("mysql-bin.000010", 4);
        assert!(a < b);
        assert!(a.is_before(&b));
        let wide = BinlogCoordinates::binary("mysql-bin.1000000", 4);
        let narrow = BinlogCoordinates::binary("mysql-bin.999999", 4);
        assert!(
            narrow < wide,
            "rollover into a wider suffix still sorts later"
        );
        let same_file = BinlogCoordinates::binary("mysql-bin.000010", 5);
        assert!(b < same_file);
    }

    #[test]
    fn relay_and_binary_coordinates_are_not_comparable() {
        let bin = BinlogCoordinates::binary("mysql-bin.000001", 4);
        let relay = BinlogCoordinates::relay("mysql-bin.000001", 5);
        assert!(!bin.comparable_with(&relay));
        assert!(!bin.is_before(&relay));
    }

    #[test]
    fn next_and_previous_file_keep_padding() {
        let c = BinlogCoordinates::binary("mysql-bin.000009", 4);
        assert_eq!(c.next_file_name().unwrap(), "mysql-bin.000010");
        assert_eq!(c.previous_file_name().unwrap(), "mysql-bin.000008");
        assert_eq!(
            BinlogCoordinates::binary("mysql-bin.000000", 4).previous_file_name(),
            None
        );
    }

    #[test]
    fn malformed_coordinates_are_refused() {
        for bad in [
            "",
            "mysql-bin.000001",
            ":4",
            "mysql-bin.000001:",
            "f:x",
            "a b:4",
        ] {
            assert!(BinlogCoordinates::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = BinlogCoordinates::parse(&s);
        }

        #[test]
        fn print_parse_round_trip(n in 0u64..10_000_000, pos in any::<u64>()) {
            let c = BinlogCoordinates::binary(format!("mysql-bin.{n:06}"), pos);
            prop_assert_eq!(BinlogCoordinates::parse(&c.to_string()).unwrap(), c);
        }

        #[test]
        fn order_is_file_number_then_position(a in 0u64..1000, pa in 0u64..1000, b in 0u64..1000, pb in 0u64..1000) {
            let ca = BinlogCoordinates::binary(format!("bin.{a:06}"), pa);
            let cb = BinlogCoordinates::binary(format!("bin.{b:06}"), pb);
            prop_assert_eq!(ca.cmp(&cb), (a, pa).cmp(&(b, pb)));
        }
    }
}

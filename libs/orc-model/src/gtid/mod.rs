//! GTID sets for both flavours, with one algebra: parse, canonical text,
//! union, intersection, difference, containment.

mod intervals;
mod mariadb;
mod mysql;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use intervals::IntervalSet;
pub use mariadb::{MariadbGtid, MariadbGtidGap, MariadbGtidSet};
pub use mysql::{GtidSource, MysqlGtidSet};

use crate::Error;

/// Which GTID implementation a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GtidFlavor {
    /// Oracle MySQL / Percona: `uuid:interval` sets.
    Mysql,
    /// MariaDB: `domain-server-seq` positions.
    Mariadb,
}

/// A GTID set of either flavour.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GtidSet {
    /// Oracle MySQL GTID set.
    Mysql(MysqlGtidSet),
    /// MariaDB GTID position.
    Mariadb(MariadbGtidSet),
}

impl GtidSet {
    /// Parses text of the given flavour.
    pub fn parse(flavor: GtidFlavor, input: &str) -> Result<Self, Error> {
        Ok(match flavor {
            GtidFlavor::Mysql => Self::Mysql(MysqlGtidSet::parse(input)?),
            GtidFlavor::Mariadb => Self::Mariadb(MariadbGtidSet::parse(input)?),
        })
    }

    /// Guesses the flavour from the text (a UUID means MySQL) and parses it.
    pub fn parse_any(input: &str) -> Result<Self, Error> {
        let looks_mysql = input.contains(':');
        Self::parse(
            if looks_mysql {
                GtidFlavor::Mysql
            } else {
                GtidFlavor::Mariadb
            },
            input,
        )
    }

    /// The empty set of a flavour.
    pub fn empty(flavor: GtidFlavor) -> Self {
        match flavor {
            GtidFlavor::Mysql => Self::Mysql(MysqlGtidSet::new()),
            GtidFlavor::Mariadb => Self::Mariadb(MariadbGtidSet::new()),
        }
    }

    /// The flavour of this set.
    pub fn flavor(&self) -> GtidFlavor {
        match self {
            Self::Mysql(_) => GtidFlavor::Mysql,
            Self::Mariadb(_) => GtidFlavor::Mariadb,
        }
    }

    /// Whether the set holds no transaction.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Mysql(s) => s.is_empty(),
            Self::Mariadb(s) => s.is_empty(),
        }
    }

    /// Union; `None` when the flavours differ.
    pub fn union(&self, other: &Self) -> Option<Self> {
        match (self, other) {
            (Self::Mysql(a), Self::Mysql(b)) => Some(Self::Mysql(a.union(b))),
            (Self::Mariadb(a), Self::Mariadb(b)) => Some(Self::Mariadb(a.union(b))),
            _ => None,
        }
    }

    /// Intersection; `None` when the flavours differ.
    pub fn intersection(&self, other: &Self) -> Option<Self> {
        match (self, other) {
            (Self::Mysql(a), Self::Mysql(b)) => Some(Self::Mysql(a.intersection(b))),
            (Self::Mariadb(a), Self::Mariadb(b)) => Some(Self::Mariadb(a.intersection(b))),
            _ => None,
        }
    }

    /// What `self` has that `other` lacks; `None` when the flavours differ.
    pub fn difference(&self, other: &Self) -> Option<Self> {
        match (self, other) {
            (Self::Mysql(a), Self::Mysql(b)) => Some(Self::Mysql(a.difference(b))),
            (Self::Mariadb(a), Self::Mariadb(b)) => Some(Self::Mariadb(a.difference(b))),
            _ => None,
        }
    }

    /// Whether `self` has every transaction of `other`; false across flavours.
    pub fn contains(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Mysql(a), Self::Mysql(b)) => a.contains(b),
            (Self::Mariadb(a), Self::Mariadb(b)) => a.contains(b),
            _ => false,
        }
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mysql(s) => s.fmt(f),
            Self::Mariadb(s) => s.fmt(f),
        }
    }
}

impl Serialize for GtidSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Repr<'a> {
            flavor: GtidFlavor,
            set: &'a str,
        }
        let text = self.to_string();
        Repr {
            flavor: self.flavor(),
            set: &text,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for GtidSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            flavor: GtidFlavor,
            set: String,
        }
        let repr = Repr::deserialize(d)?;
        GtidSet::parse(repr.flavor, &repr.set).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;

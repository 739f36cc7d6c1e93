//! orchestrator's instance filters for discovery
//! (`DiscoveryIgnoreHostnameFilters`, `DiscoveryIgnoreReplicaHostnameFilters`,
//! `DiscoveryIgnoreMasterHostnameFilters`), typed once at start-up.
//!
//! An entry that is an IP address matches exactly that host (so `10.0.0.3`
//! does not match `10.0.0.38`); any other entry is a regular expression
//! searched in `host:port`, as orchestrator matches them. A host matching
//! the first list is never discovered (seeds, `discover`, the crawl); a
//! replica matching the second is not followed from its master's replica
//! list; a master matching the third is not followed from its replica.

use std::net::IpAddr;

use orc_model::InstanceKey;
use regex::Regex;

use crate::Config;

#[derive(Debug, Clone)]
enum Entry {
    Address(String),
    Pattern(Regex),
}

/// One filter list.
#[derive(Debug, Clone, Default)]
pub struct KeyFilters {
    entries: Vec<Entry>,
}

impl KeyFilters {
    /// Parses a list; the error names the bad entry.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let entries = list
            .iter()
            .map(|e| {
                if e.parse::<IpAddr>().is_ok() {
                    Ok(Entry::Address(e.clone()))
                } else {
                    Regex::new(e)
                        .map(Entry::Pattern)
                        .map_err(|err| format!("bad regular expression {e:?}: {err}"))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// Whether any entry matches `key`.
    pub fn matches(&self, key: &InstanceKey) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::Address(a) => key.hostname() == a,
            Entry::Pattern(re) => re.is_match(&key.to_string()),
        })
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The three discovery filter lists.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryFilters {
    /// `DiscoveryIgnoreHostnameFilters`.
    pub hosts: KeyFilters,
    /// `DiscoveryIgnoreReplicaHostnameFilters`.
    pub replicas: KeyFilters,
    /// `DiscoveryIgnoreMasterHostnameFilters`.
    pub masters: KeyFilters,
}

impl DiscoveryFilters {
    /// The lists of a configuration (validated at load, so a bad entry
    /// cannot occur; should one, that list is left empty).
    pub fn from_config(c: &Config) -> Self {
        let parse = |l: &[String]| KeyFilters::parse(l).unwrap_or_default();
        Self {
            hosts: parse(&c.discovery_ignore_hostname_filters),
            replicas: parse(&c.discovery_ignore_replica_hostname_filters),
            masters: parse(&c.discovery_ignore_master_hostname_filters),
        }
    }

    /// `key` must not be discovered at all.
    pub fn ignores(&self, key: &InstanceKey) -> bool {
        self.hosts.matches(key)
    }

    /// `key`, named as a replica by its master, must not be followed.
    pub fn ignores_replica(&self, key: &InstanceKey) -> bool {
        self.ignores(key) || self.replicas.matches(key)
    }

    /// `key`, named as the master of a replica, must not be followed.
    pub fn ignores_master(&self, key: &InstanceKey) -> bool {
        self.ignores(key) || self.masters.matches(key)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(s: &str) -> InstanceKey {
        InstanceKey::parse(s).unwrap()
    }

    fn filters(list: &[&str]) -> KeyFilters {
        KeyFilters::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn an_address_matches_exactly_and_a_pattern_searches_host_and_port() {
        let f = filters(&["10.0.0.3"]);
        assert!(f.matches(&key("10.0.0.3:3306")));
        assert!(!f.matches(&key("10.0.0.38:3306")));
        let f = filters(&["^backup-", ":3307$"]);
        assert!(f.matches(&key("backup-1.example.com:3306")));
        assert!(f.matches(&key("db-1.example.com:3307")));
        assert!(!f.matches(&key("db-1.example.com:3306")));
        assert!(!filters(&[]).matches(&key("db-1:3306")));
        assert!(KeyFilters::parse(&["(".to_string()]).is_err());
    }

    #[test]
    fn the_host_list_applies_to_replicas_and_masters_too() {
        let d = DiscoveryFilters {
            hosts: filters(&["^ignored"]),
            replicas: filters(&["^delayed"]),
            masters: filters(&["^upstream"]),
        };
        assert!(d.ignores(&key("ignored-1:3306")));
        assert!(d.ignores_replica(&key("ignored-1:3306")));
        assert!(d.ignores_master(&key("ignored-1:3306")));
        assert!(d.ignores_replica(&key("delayed-1:3306")));
        assert!(!d.ignores_master(&key("delayed-1:3306")));
        assert!(!d.ignores(&key("delayed-1:3306")));
        assert!(d.ignores_master(&key("upstream-1:3306")));
        assert!(!d.ignores_replica(&key("upstream-1:3306")));
    }
}

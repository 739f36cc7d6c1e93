//! What the planner plans on: the servers of one cluster as they were just
//! read, with the operator's metadata, and the replication graph they form.

use std::collections::{BTreeMap, BTreeSet};

use orc_model::{InstanceData, InstanceKey, PromotionRule, ThreadState};
use serde::{Deserialize, Serialize};

/// One server as the planner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// Its identity.
    pub key: InstanceKey,
    /// Where it is reached (its identity unless resolved otherwise).
    pub address: InstanceKey,
    /// Whether it answered the read the plan is made from.
    pub reachable: bool,
    /// What it reported (now, or last known when unreachable).
    pub data: Option<InstanceData>,
    /// Why it could not be read.
    #[serde(default)]
    pub error: Option<String>,
    /// Its promotion rule (registered, else detected, else neutral).
    #[serde(default)]
    pub rule: PromotionRule,
    /// The reason of an active maintenance lock.
    #[serde(default)]
    pub maintenance: Option<String>,
    /// Whether it is downtimed.
    #[serde(default)]
    pub downtimed: bool,
    /// Its errant GTIDs (executed here, not in its cluster's master), if known.
    #[serde(default)]
    pub errant_gtid: String,
}

impl Server {
    /// A reachable server reporting `data`, known by its address.
    pub fn new(key: InstanceKey, data: InstanceData) -> Self {
        Self {
            address: key.clone(),
            key,
            reachable: true,
            data: Some(data),
            error: None,
            rule: PromotionRule::Neutral,
            maintenance: None,
            downtimed: false,
            errant_gtid: String::new(),
        }
    }

    /// An unreachable server with its last known data.
    pub fn unreachable(key: InstanceKey, last: Option<InstanceData>, why: &str) -> Self {
        Self {
            reachable: false,
            error: Some(why.to_string()),
            data: last,
            ..Self::new(key, InstanceData::default())
        }
    }

    /// Its data, when it answered.
    pub fn live(&self) -> Option<&InstanceData> {
        self.data.as_ref().filter(|_| self.reachable)
    }

    /// Whether both replication threads are running.
    pub fn is_replicating(&self) -> bool {
        self.data.as_ref().is_some_and(InstanceData::is_replicating)
    }

    /// Whether both replication threads are stopped (or it does not replicate).
    pub fn replication_stopped(&self) -> bool {
        self.data
            .as_ref()
            .and_then(|d| d.replication.as_ref())
            .is_none_or(|r| {
                r.io_thread == ThreadState::Stopped && r.sql_thread == ThreadState::Stopped
            })
    }

    /// Whether it is read-only.
    pub fn read_only(&self) -> bool {
        self.data.as_ref().is_some_and(|d| d.read_only)
    }
}

/// The servers a plan is made for, by identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    servers: BTreeMap<InstanceKey, Server>,
}

impl Topology {
    /// Builds the topology from servers (a later duplicate replaces an earlier one).
    pub fn new(servers: impl IntoIterator<Item = Server>) -> Self {
        Self {
            servers: servers.into_iter().map(|s| (s.key.clone(), s)).collect(),
        }
    }

    /// One server.
    pub fn get(&self, key: &InstanceKey) -> Option<&Server> {
        self.servers.get(key)
    }

    /// One server, mutably (for simulation).
    pub(crate) fn get_mut(&mut self, key: &InstanceKey) -> Option<&mut Server> {
        self.servers.get_mut(key)
    }

    /// Every server, in key order.
    pub fn servers(&self) -> impl Iterator<Item = &Server> {
        self.servers.values()
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &InstanceKey> {
        self.servers.keys()
    }

    /// Maps an address (a replica's `Master_Host:Master_Port`) to the
    /// identity of the server reached there.
    pub fn identity_of(&self, address: &InstanceKey) -> Option<&InstanceKey> {
        if self.servers.contains_key(address) {
            return self.servers.get_key_value(address).map(|(k, _)| k);
        }
        self.servers
            .values()
            .find(|s| &s.address == address)
            .map(|s| &s.key)
    }

    /// The source `key` is configured to replicate from (an identity when
    /// the server is known here, else the address as configured).
    pub fn source_of(&self, key: &InstanceKey) -> Option<InstanceKey> {
        let configured = self.servers.get(key)?.data.as_ref()?.master_key()?;
        Some(self.identity_of(&configured).cloned().unwrap_or(configured))
    }

    /// Known servers replicating (or configured to) from `key`, in key order.
    pub fn replicas_of(&self, key: &InstanceKey) -> Vec<InstanceKey> {
        self.servers
            .keys()
            .filter(|k| self.source_of(k).as_ref() == Some(key))
            .cloned()
            .collect()
    }

    /// Ancestors of `key` from its source upwards (stops at a loop or an
    /// unknown server).
    pub fn ancestry(&self, key: &InstanceKey) -> Vec<InstanceKey> {
        let mut out = Vec::new();
        let mut seen: BTreeSet<InstanceKey> = BTreeSet::from([key.clone()]);
        let mut cur = key.clone();
        while let Some(m) = self.source_of(&cur) {
            if !seen.insert(m.clone()) {
                out.push(m);
                break;
            }
            out.push(m.clone());
            if !self.servers.contains_key(&m) {
                break;
            }
            cur = m;
        }
        out
    }

    /// Whether `descendant` replicates, directly or not, from `ancestor`.
    pub fn is_descendant(&self, descendant: &InstanceKey, ancestor: &InstanceKey) -> bool {
        self.ancestry(descendant).contains(ancestor)
    }

    /// Every server below `key` (replicas, their replicas, ...), in key order.
    pub fn descendants(&self, key: &InstanceKey) -> Vec<InstanceKey> {
        self.servers
            .keys()
            .filter(|k| *k != key && self.is_descendant(k, key))
            .cloned()
            .collect()
    }

    /// The top of `key`'s tree: the first ancestor without a known source
    /// (for co-masters, the writable one when exactly one is).
    pub fn root_of(&self, key: &InstanceKey) -> InstanceKey {
        let chain = self.ancestry(key);
        let mut top = key.clone();
        for a in &chain {
            if !self.servers.contains_key(a) || a == key {
                break;
            }
            top = a.clone();
        }
        if let Some(partner) = self.co_master_of(&top)
            && self.get(&top).is_some_and(Server::read_only)
            && !self.get(&partner).is_some_and(Server::read_only)
        {
            return partner;
        }
        top
    }

    /// The other side of a two-server replication loop.
    pub fn co_master_of(&self, key: &InstanceKey) -> Option<InstanceKey> {
        let m = self.source_of(key)?;
        (self.source_of(&m).as_ref() == Some(key) && &m != key).then_some(m)
    }

    /// Loops of replication (each as its members), for checks.
    pub fn cycles(&self) -> Vec<Vec<InstanceKey>> {
        let mut out: Vec<Vec<InstanceKey>> = Vec::new();
        for k in self.servers.keys() {
            let chain = self.ancestry(k);
            if chain.last() == Some(k) {
                let mut members = chain.clone();
                members.sort();
                if !out.contains(&members) {
                    out.push(members);
                }
            }
        }
        out
    }

    /// What can be compared with what a topology looks like afterwards.
    pub fn shape(&self) -> Shape {
        Shape(
            self.servers
                .values()
                .filter(|s| s.data.is_some())
                .map(|s| {
                    let d = s.data.as_ref();
                    (
                        s.key.clone(),
                        ShapeEntry {
                            source: self.source_of(&s.key),
                            replicating: s.is_replicating(),
                            read_only: s.read_only(),
                            detached: d.is_some_and(InstanceData::is_detached),
                        },
                    )
                })
                .collect(),
        )
    }
}

/// One server's place as a plan predicts it, or as observed afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapeEntry {
    /// The source it is configured to replicate from.
    pub source: Option<InstanceKey>,
    /// Both replication threads running.
    pub replicating: bool,
    /// `read_only`.
    pub read_only: bool,
    /// Its source host is `//`-detached.
    pub detached: bool,
}

/// Every server's place: who replicates from whom, running or not,
/// read-only or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape(pub BTreeMap<InstanceKey, ShapeEntry>);

impl Shape {
    /// The differences from `other`, one line each (empty when equal).
    pub fn differences(&self, other: &Shape) -> Vec<String> {
        let keys: BTreeSet<&InstanceKey> = self.0.keys().chain(other.0.keys()).collect();
        let mut out = Vec::new();
        for k in keys {
            match (self.0.get(k), other.0.get(k)) {
                (Some(a), Some(b)) if a != b => out.push(format!("{k}: {a:?} versus {b:?}")),
                (Some(_), None) => out.push(format!("{k}: only on the left")),
                (None, Some(_)) => out.push(format!("{k}: only on the right")),
                _ => {}
            }
        }
        out
    }
}

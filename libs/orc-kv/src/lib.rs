//! Master publication: after every failover, and on
//! `submit-masters-to-kv-stores`, each cluster's master is written where
//! clients look it up, under orchestrator's keys:
//! `<KVClusterMasterPrefix><alias>` = `host:port`, with `/hostname` and
//! `/port` beside it.
//!
//! Every write carries a *fencing token* (the revision of the cluster lease
//! the recovery held): the token is stored beside the keys, at
//! `<KVClusterMasterPrefix><alias>/fencing-token`, and keys and token are
//! replaced in one transaction that only commits if the stored token is
//! still the one read, and not newer than ours. A publisher that lost its
//! lease and wakes up late can therefore never overwrite a newer master.
//!
//! Stores: etcd (`EtcdAddress`, ours: its v3 JSON API; keys and token in
//! one transaction), ZooKeeper (`ZkAddress`: znodes `/`+key; token and
//! values in one multi-operation checked on the token znode's version) and
//! Consul (`ConsulAddress` and orchestrator's other `Consul*` keys: one
//! `/v1/txn` transaction checked on the token key's `ModifyIndex`).
//! NATS JetStream KV (`NatsKVBucket`, ours) holds one JSON value per
//! cluster (master and token together, swapped on its revision).
//! The pure parts
//! (keys and values, prefix rules) are here too, so the gateway shows
//! exactly what is written.

mod consul;
mod etcd;
mod nats;
mod zookeeper;

use std::sync::Arc;

use orc_model::InstanceKey;

pub use consul::{Consul, ConsulSettings};
pub use etcd::Etcd;
pub use nats::{NatsKv, nats_key};
pub use zookeeper::ZooKeeper;

/// orchestrator's default `KVClusterMasterPrefix`.
pub const DEFAULT_PREFIX: &str = "mysql/master";

/// The prefix as keys use it: orchestrator's default when empty, and
/// always ending with one `/`.
pub fn normalize_prefix(prefix: &str) -> String {
    let p = prefix.trim();
    let p = if p.is_empty() { DEFAULT_PREFIX } else { p };
    format!("{}/", p.trim_end_matches('/'))
}

/// The key-value pairs that publish `master` as the master of the cluster
/// aliased `alias` (`prefix` normalized).
pub fn master_pairs(prefix: &str, alias: &str, master: &InstanceKey) -> Vec<(String, String)> {
    let base = format!("{}{alias}", normalize_prefix(prefix));
    vec![
        (base.clone(), master.to_string()),
        (format!("{base}/hostname"), master.hostname().to_string()),
        (format!("{base}/port"), master.port().to_string()),
    ]
}

/// Where a cluster's fencing token is kept.
pub fn token_key(prefix: &str, alias: &str) -> String {
    format!("{}{alias}/fencing-token", normalize_prefix(prefix))
}

/// What a publication did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The keys now name the master.
    Written,
    /// A newer publication (this token) is there: nothing written.
    Stale {
        /// The token found.
        stored: u64,
    },
}

/// Why a publication failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The store did not answer as expected.
    #[error("{store}: {reason}")]
    Store {
        /// Which store.
        store: String,
        /// What went wrong.
        reason: String,
    },
    /// A configuration value is unusable.
    #[error("{key}: {reason}")]
    Config {
        /// The configuration key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// One store masters are published to.
#[async_trait::async_trait]
pub trait KvStore: Send + Sync + std::fmt::Debug {
    /// Its name in messages (`etcd`).
    fn name(&self) -> &str;

    /// Writes `pairs` and `token` at `token_key` in one step, unless the
    /// token stored there is newer than `token`.
    async fn publish(
        &self,
        token_key: &str,
        pairs: &[(String, String)],
        token: u64,
    ) -> Result<Published, Error>;
}

/// Every configured store.
#[derive(Debug, Clone, Default)]
pub struct Publisher {
    prefix: String,
    stores: Vec<Arc<dyn KvStore>>,
}

/// One store's answer to a publication.
#[derive(Debug, Clone)]
pub struct Report {
    /// The store.
    pub store: String,
    /// What it did.
    pub result: Result<Published, Error>,
}

impl Publisher {
    /// The stores configured: `prefix` is `KVClusterMasterPrefix`,
    /// `etcd` is `EtcdAddress` (comma-separated endpoints; empty: none).
    pub fn from_config(prefix: &str, etcd: &str) -> Result<Self, Error> {
        Self::from_stores(prefix, etcd, "")
    }

    /// As [`Publisher::from_config`], with `zk` (`ZkAddress`: comma-separated
    /// `host:port` servers; empty: none).
    pub fn from_stores(prefix: &str, etcd: &str, zk: &str) -> Result<Self, Error> {
        Self::from_settings(prefix, etcd, zk, &ConsulSettings::default())
    }

    /// As [`Publisher::from_stores`], with Consul (`ConsulAddress` empty:
    /// none).
    pub fn from_settings(
        prefix: &str,
        etcd: &str,
        zk: &str,
        consul: &ConsulSettings,
    ) -> Result<Self, Error> {
        let mut stores: Vec<Arc<dyn KvStore>> = Vec::new();
        if !etcd.trim().is_empty() {
            stores.push(Arc::new(Etcd::new(etcd)?));
        }
        if !zk.trim().is_empty() {
            stores.push(Arc::new(ZooKeeper::new(zk)?));
        }
        if !consul.address.trim().is_empty() {
            stores.push(Arc::new(Consul::new(consul)?));
        }
        Ok(Self {
            prefix: normalize_prefix(prefix),
            stores,
        })
    }

    /// As [`Publisher::from_stores`] for a configuration already validated:
    /// an unusable address (impossible after validation) is logged and
    /// publishes nowhere rather than stopping the service.
    pub fn from_validated(prefix: &str, etcd: &str, zk: &str, consul: &ConsulSettings) -> Self {
        Self::from_settings(prefix, etcd, zk, consul).unwrap_or_else(|e| {
            tracing::error!(error = %e, "KV stores unusable: masters are not published");
            Self::default()
        })
    }

    /// Adds a store (one that needs the bus, say).
    pub fn with_store(mut self, store: Arc<dyn KvStore>) -> Self {
        self.stores.push(store);
        self
    }

    /// Whether any store is configured.
    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// The normalized prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The pairs that publish `master` for `alias`.
    pub fn pairs(&self, alias: &str, master: &InstanceKey) -> Vec<(String, String)> {
        master_pairs(&self.prefix, alias, master)
    }

    /// Publishes `master` for `alias` with `token` to every store, all at
    /// once; one report per store.
    pub async fn publish(&self, alias: &str, master: &InstanceKey, token: u64) -> Vec<Report> {
        let pairs = self.pairs(alias, master);
        let key = token_key(&self.prefix, alias);
        let writes = self.stores.iter().map(|s| {
            let (pairs, key) = (&pairs, &key);
            async move {
                Report {
                    store: s.name().to_string(),
                    result: s.publish(key, pairs, token).await,
                }
            }
        });
        let mut out = Vec::new();
        for w in writes {
            out.push(w.await);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_end_with_one_slash_and_default_to_orchestrators() {
        assert_eq!(normalize_prefix(""), "mysql/master/");
        assert_eq!(normalize_prefix("mysql/master"), "mysql/master/");
        assert_eq!(normalize_prefix("db/masters//"), "db/masters/");
    }

    #[test]
    fn a_master_is_published_under_orchestrators_keys() {
        let m = InstanceKey::new("db1.example", 3306).unwrap();
        assert_eq!(
            master_pairs("mysql/master", "shop", &m),
            vec![
                (
                    "mysql/master/shop".to_string(),
                    "db1.example:3306".to_string()
                ),
                ("mysql/master/shop/hostname".into(), "db1.example".into()),
                ("mysql/master/shop/port".into(), "3306".into()),
            ]
        );
        assert_eq!(token_key("kv", "shop"), "kv/shop/fencing-token");
    }

    #[test]
    fn a_bad_etcd_address_is_refused() {
        let e = Publisher::from_config("", "ftp://x").unwrap_err();
        assert!(e.to_string().contains("EtcdAddress"), "{e}");
        assert!(Publisher::from_config("", "").unwrap().is_empty());
    }
}

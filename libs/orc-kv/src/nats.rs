//! NATS JetStream key-value (`NatsKVBucket`, ours): one key per cluster,
//! `<KVClusterMasterPrefix><alias>` (characters NATS keys do not allow
//! written `=XX`, e.g. `127.0.0.1:3306` → `127.0.0.1=3A3306`), whose value
//! is one JSON object: `{"Master": "host:port", "Hostname", "Port",
//! "FencingToken"}`. NATS KV has no multi-key transaction, so master and
//! token live in one value, replaced by compare-and-swap on its revision:
//! the same guarantee as etcd's transaction.

use std::sync::Arc;

use bytes::Bytes;
use orc_bus::Bus;
use serde_json::json;

use crate::{Error, KvStore, Published};

/// How many times a publication retries after losing a race.
const RACES: usize = 8;

/// A bucket on the bus.
pub struct NatsKv {
    bus: Arc<dyn Bus>,
    bucket: String,
}

impl std::fmt::Debug for NatsKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsKv")
            .field("bucket", &self.bucket)
            .finish()
    }
}

impl NatsKv {
    /// Masters published in `bucket` (`NatsKVBucket`) over `bus`.
    pub fn new(bus: Arc<dyn Bus>, bucket: &str) -> Result<Self, Error> {
        let valid = !bucket.is_empty()
            && bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(Error::Config {
                key: "NatsKVBucket",
                reason: format!("{bucket:?}: letters, digits, - and _ only"),
            });
        }
        Ok(Self {
            bus,
            bucket: bucket.to_string(),
        })
    }

    fn fail(&self, reason: impl Into<String>) -> Error {
        Error::Store {
            store: "nats-kv".into(),
            reason: format!("{}: {}", self.bucket, reason.into()),
        }
    }
}

/// A key as NATS KV allows it: letters, digits, `-`, `/`, `_` and `.`
/// between tokens kept; every other byte (and `=`) written `=XX`.
pub fn nats_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.trim_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    // No empty token between dots, none at either end.
    let out = out.replace("..", ".=2E");
    let out = match out.strip_prefix('.') {
        Some(rest) => format!("=2E{rest}"),
        None => out,
    };
    match out.strip_suffix('.') {
        Some(rest) => format!("{rest}=2E"),
        None => out,
    }
}

#[async_trait::async_trait]
impl KvStore for NatsKv {
    fn name(&self) -> &str {
        "nats-kv"
    }

    async fn publish(
        &self,
        _token_key: &str,
        pairs: &[(String, String)],
        token: u64,
    ) -> Result<Published, Error> {
        let Some((base, master)) = pairs.first() else {
            return Err(self.fail("nothing to publish"));
        };
        let find = |suffix: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.ends_with(suffix))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let key = nats_key(base);
        let value = json!({
            "Master": master,
            "Hostname": find("/hostname"),
            "Port": find("/port").parse::<u16>().unwrap_or_default(),
            "FencingToken": token,
        })
        .to_string();
        for _ in 0..RACES {
            let stored = self
                .bus
                .kv_get(&self.bucket, &key)
                .await
                .map_err(|e| self.fail(e.to_string()))?;
            let expected = match &stored {
                Some((bytes, revision)) => {
                    let v: serde_json::Value = serde_json::from_slice(bytes)
                        .map_err(|e| self.fail(format!("{key} holds no publication ({e})")))?;
                    let stored_token = v["FencingToken"].as_u64().unwrap_or(0);
                    if stored_token > token {
                        return Ok(Published::Stale {
                            stored: stored_token,
                        });
                    }
                    Some(*revision)
                }
                None => None,
            };
            let swapped = self
                .bus
                .kv_swap(&self.bucket, &key, Bytes::from(value.clone()), expected)
                .await
                .map_err(|e| self.fail(e.to_string()))?;
            if swapped.is_some() {
                return Ok(Published::Written);
            }
        }
        Err(self.fail(format!(
            "{key}: lost {RACES} races to other publishers in a row"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_written_as_nats_allows() {
        assert_eq!(nats_key("mysql/master/shop"), "mysql/master/shop");
        assert_eq!(
            nats_key("mysql/master/127.0.0.1:3306"),
            "mysql/master/127.0.0.1=3A3306"
        );
        assert_eq!(nats_key("a b=c"), "a=20b=3Dc");
        assert_eq!(nats_key("x..y."), "x.=2Ey=2E");
    }

    #[tokio::test]
    async fn a_stale_publisher_changes_nothing_and_the_newest_wins() {
        let bus: Arc<dyn Bus> = Arc::new(orc_bus::LocalBus::new());
        let kv = NatsKv::new(bus.clone(), "masters").unwrap();
        let pairs = |port: u16| {
            crate::master_pairs(
                "mysql/master",
                "shop",
                &orc_model::InstanceKey::new("db", port).unwrap(),
            )
        };
        assert_eq!(
            kv.publish("", &pairs(3306), 5).await.unwrap(),
            Published::Written
        );
        assert_eq!(
            kv.publish("", &pairs(3307), 4).await.unwrap(),
            Published::Stale { stored: 5 }
        );
        let (v, _) = bus
            .kv_get("masters", "mysql/master/shop")
            .await
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(v["Master"], "db:3306");
        assert_eq!(v["Port"], 3306);
        assert_eq!(v["FencingToken"], 5);
        assert!(NatsKv::new(bus, "bad.name").is_err());
    }
}

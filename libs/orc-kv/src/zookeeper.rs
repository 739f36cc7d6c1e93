//! ZooKeeper (`ZkAddress`): orchestrator's keys as znodes (`/` + key),
//! written in one multi-operation conditioned on the fencing-token znode's
//! version.

use std::time::Duration;

use zookeeper_client as zk;

use crate::{Error, KvStore, Published};

/// How many times a publication retries after losing a race.
const RACES: usize = 8;

/// Connection and session bounds.
const CONNECT: Duration = Duration::from_secs(5);

/// A ZooKeeper ensemble.
#[derive(Debug, Clone)]
pub struct ZooKeeper {
    /// `host:port[,host:port...]`.
    ensemble: String,
}

impl ZooKeeper {
    /// An ensemble from `ZkAddress` (`host:port` servers, comma-separated).
    pub fn new(address: &str) -> Result<Self, Error> {
        let servers: Vec<&str> = address
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if servers.is_empty() {
            return Err(Error::Config {
                key: "ZkAddress",
                reason: "no server".into(),
            });
        }
        for s in &servers {
            let port_ok = s
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !port_ok || s.contains('/') {
                return Err(Error::Config {
                    key: "ZkAddress",
                    reason: format!("{s:?} is not a host:port server"),
                });
            }
        }
        Ok(Self {
            ensemble: servers.join(","),
        })
    }

    fn fail(&self, reason: impl Into<String>) -> Error {
        Error::Store {
            store: "zookeeper".into(),
            reason: format!("{}: {}", self.ensemble, reason.into()),
        }
    }

    async fn connect(&self) -> Result<zk::Client, Error> {
        let connecting = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .with_connection_timeout(CONNECT)
            .connect(&self.ensemble);
        match tokio::time::timeout(CONNECT * 2, connecting).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(self.fail(e.to_string())),
            Err(_) => Err(self.fail(format!("no session within {:?}", CONNECT * 2))),
        }
    }
}

/// `/` + key.
fn znode(key: &str) -> String {
    format!("/{}", key.trim_start_matches('/'))
}

/// Every ancestor of a znode, outermost first (`/a`, `/a/b` for `/a/b/c`).
fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = path[at + 1..].find('/') {
        at += i + 1;
        out.push(path[..at].to_string());
    }
    out
}

#[async_trait::async_trait]
impl KvStore for ZooKeeper {
    fn name(&self) -> &str {
        "zookeeper"
    }

    async fn publish(
        &self,
        token_key: &str,
        pairs: &[(String, String)],
        token: u64,
    ) -> Result<Published, Error> {
        let client = self.connect().await?;
        let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let token_path = znode(token_key);
        // Every znode written must exist (ZooKeeper has no "create or
        // set" in a transaction): ancestors and value nodes are created
        // empty first, the values themselves only under the token's check.
        let mut needed: Vec<String> = Vec::new();
        for (k, _) in pairs {
            let path = znode(k);
            for a in ancestors(&path) {
                if !needed.contains(&a) {
                    needed.push(a);
                }
            }
            if !needed.contains(&path) {
                needed.push(path);
            }
        }
        for a in ancestors(&token_path) {
            if !needed.contains(&a) {
                needed.push(a);
            }
        }
        needed.sort_by_key(|p| p.matches('/').count());
        for path in &needed {
            match client.create(path, b"", &persistent).await {
                Ok(_) | Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(self.fail(format!("creating {path}: {e}"))),
            }
        }
        for _ in 0..RACES {
            let stored = match client.get_data(&token_path).await {
                Ok((data, stat)) => {
                    let text = String::from_utf8_lossy(&data).trim().to_string();
                    let value = text.parse::<u64>().map_err(|_| {
                        self.fail(format!("{token_path} holds {text:?}, not a fencing token"))
                    })?;
                    Some((value, stat.version))
                }
                Err(zk::Error::NoNode) => None,
                Err(e) => return Err(self.fail(format!("reading {token_path}: {e}"))),
            };
            if let Some((value, _)) = stored.filter(|(v, _)| *v > token) {
                return Ok(Published::Stale { stored: value });
            }
            let mut multi = client.new_multi_writer();
            let token_text = token.to_string();
            let staged = match stored {
                Some((_, version)) => {
                    multi.add_set_data(&token_path, token_text.as_bytes(), Some(version))
                }
                None => multi.add_create(&token_path, token_text.as_bytes(), &persistent),
            };
            staged.map_err(|e| self.fail(e.to_string()))?;
            for (k, v) in pairs {
                multi
                    .add_set_data(&znode(k), v.as_bytes(), None)
                    .map_err(|e| self.fail(e.to_string()))?;
            }
            match multi.commit().await {
                Ok(_) => return Ok(Published::Written),
                Err(zk::MultiWriteError::OperationFailed {
                    index: 0,
                    source: zk::Error::BadVersion | zk::Error::NodeExists,
                }) => continue,
                Err(e) => return Err(self.fail(format!("publishing: {e}"))),
            }
        }
        Err(self.fail(format!(
            "{token_path}: lost {RACES} races to other publishers in a row"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_znodes_with_their_ancestors() {
        assert_eq!(znode("mysql/master/shop"), "/mysql/master/shop");
        assert_eq!(
            ancestors("/mysql/master/shop/port"),
            vec!["/mysql", "/mysql/master", "/mysql/master/shop"]
        );
        assert!(ancestors("/top").is_empty());
    }

    #[test]
    fn a_bad_zk_address_is_refused() {
        for bad in ["", "zk1", "zk1:0", "zk1:x", ":2181", "zk1:2181/chroot"] {
            let e = ZooKeeper::new(bad).unwrap_err();
            assert!(e.to_string().contains("ZkAddress"), "{bad}: {e}");
        }
        assert!(ZooKeeper::new("zk1:2181, zk2:2181").is_ok());
    }
}

//! etcd, through its v3 JSON API (`/v3/kv/range`, `/v3/kv/txn`): the
//! token is read with its modification revision, and the keys and the new
//! token are put in one transaction that commits only if that revision is
//! unchanged (0: the token did not exist). A lost race is read again.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::{Error, KvStore, Published};

/// How many times a transaction that lost a race is tried again.
const RACES: usize = 5;

/// One etcd cluster (its endpoints, tried in order).
#[derive(Debug, Clone)]
pub struct Etcd {
    endpoints: Vec<String>,
    http: reqwest::Client,
}

impl Etcd {
    /// `addresses`: comma-separated `http://host:port` endpoints.
    pub fn new(addresses: &str) -> Result<Self, Error> {
        let mut endpoints = Vec::new();
        for a in addresses
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            let ok = a
                .strip_prefix("http://")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
            if !ok {
                return Err(Error::Config {
                    key: "EtcdAddress",
                    reason: format!("{a:?} is not an http://host:port endpoint"),
                });
            }
            endpoints.push(a.to_string());
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| Error::Config {
                key: "EtcdAddress",
                reason: e.to_string(),
            })?;
        Ok(Self { endpoints, http })
    }

    fn fail(&self, reason: impl Into<String>) -> Error {
        Error::Store {
            store: "etcd".into(),
            reason: reason.into(),
        }
    }

    /// POSTs `body` to `path` on the first endpoint that answers.
    async fn call(&self, path: &str, body: &Value) -> Result<Value, Error> {
        let mut last = String::from("no endpoint");
        for ep in &self.endpoints {
            let sent = self
                .http
                .post(format!("{ep}{path}"))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{ep}: {e}");
                    continue;
                }
            };
            let status = resp.status();
            let text = resp
                .text()
                .await
                .map_err(|e| self.fail(format!("{ep}: {e}")))?;
            if !status.is_success() {
                return Err(self.fail(format!("{ep}{path}: HTTP {status}: {text}")));
            }
            return serde_json::from_str(&text)
                .map_err(|e| self.fail(format!("{ep}{path}: not JSON ({e}): {text}")));
        }
        Err(self.fail(last))
    }

    /// The stored token and its modification revision (0 when absent).
    async fn read_token(&self, key: &str) -> Result<(Option<u64>, String), Error> {
        let got = self
            .call("/v3/kv/range", &json!({ "key": B64.encode(key) }))
            .await?;
        let Some(kv) = got["kvs"].as_array().and_then(|a| a.first()) else {
            return Ok((None, "0".into()));
        };
        let value = kv["value"]
            .as_str()
            .and_then(|v| B64.decode(v).ok())
            .and_then(|v| String::from_utf8(v).ok())
            .unwrap_or_default();
        let token = value
            .trim()
            .parse::<u64>()
            .map_err(|_| self.fail(format!("{key} holds {value:?}, not a fencing token")))?;
        let revision = match &kv["mod_revision"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(self.fail(format!("{key}: no mod_revision in {kv}"))),
        };
        Ok((Some(token), revision))
    }
}

#[async_trait::async_trait]
impl KvStore for Etcd {
    fn name(&self) -> &str {
        "etcd"
    }

    async fn publish(
        &self,
        token_key: &str,
        pairs: &[(String, String)],
        token: u64,
    ) -> Result<Published, Error> {
        for _ in 0..RACES {
            let (stored, revision) = self.read_token(token_key).await?;
            if let Some(stored) = stored.filter(|s| *s > token) {
                return Ok(Published::Stale { stored });
            }
            let put = |k: &str, v: &str| json!({"request_put": {"key": B64.encode(k), "value": B64.encode(v)}});
            let mut success: Vec<Value> = pairs.iter().map(|(k, v)| put(k, v)).collect();
            success.push(put(token_key, &token.to_string()));
            let txn = json!({
                "compare": [{
                    "key": B64.encode(token_key),
                    "target": "MOD",
                    "result": "EQUAL",
                    "mod_revision": revision,
                }],
                "success": success,
            });
            let answer = self.call("/v3/kv/txn", &txn).await?;
            if answer["succeeded"].as_bool() == Some(true) {
                return Ok(Published::Written);
            }
        }
        Err(self.fail(format!(
            "{token_key}: lost {RACES} races to other publishers in a row"
        )))
    }
}

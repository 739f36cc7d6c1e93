//! Consul, through its HTTP API (`/v1/kv`, `/v1/txn`): the token key is
//! read with its `ModifyIndex`, then the master's keys and the new token
//! are set in one transaction that begins with a check that the index is
//! unchanged (`check-not-exists` when there was no token). Consul rolls the
//! whole transaction back (HTTP 409) when another publisher got there
//! first; the race is then read again.
//!
//! Configuration follows orchestrator: `ConsulAddress` (`host:port`),
//! `ConsulScheme` (`http`), `ConsulAclToken` (sent as `X-Consul-Token`),
//! `ConsulKVStoreProvider` (`consul` or `consul-txn`: both write one
//! transaction per cluster here, since the fencing check and the writes
//! must commit together), `ConsulMaxKVsPerTransaction` (orchestrator's
//! 5..64; a cluster's transaction is always five operations, within any
//! allowed value) and `ConsulCrossDataCenterDistribution` (also publish in
//! every datacenter the agent's catalog lists, each guarded the same way).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

pub use orc_runtime::consul::ConsulSettings;

use crate::{Error, KvStore, Published};

/// How many times a transaction that lost a race is tried again.
const RACES: usize = 5;

/// One Consul agent.
#[derive(Debug, Clone)]
pub struct Consul {
    base: String,
    acl_token: String,
    cross_datacenter: bool,
    http: reqwest::Client,
}

/// A key's path in `/v1/kv/` URLs: every byte but unreserved characters,
/// `/` and `:` percent-encoded.
fn key_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The token stored at a key and the key's `ModifyIndex`, from the body of
/// `GET /v1/kv/<key>` (`None`: the key does not exist).
fn parse_token(key: &str, body: Option<&str>) -> Result<Option<(u64, u64)>, String> {
    let Some(body) = body else {
        return Ok(None);
    };
    let entries: Value =
        serde_json::from_str(body).map_err(|e| format!("{key}: not JSON ({e}): {body}"))?;
    let Some(entry) = entries.as_array().and_then(|a| a.first()) else {
        return Ok(None);
    };
    let index = entry["ModifyIndex"]
        .as_u64()
        .ok_or_else(|| format!("{key}: no ModifyIndex in {entry}"))?;
    let value = match &entry["Value"] {
        Value::Null => String::new(),
        Value::String(v) => B64
            .decode(v)
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .unwrap_or_default(),
        other => return Err(format!("{key}: unexpected Value {other}")),
    };
    let token = value
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("{key} holds {value:?}, not a fencing token"))?;
    Ok(Some((token, index)))
}

/// The operations of one publication: the check that the token key is as
/// read (`index` 0: absent), the master's keys, then the new token.
fn transaction(token_key: &str, index: u64, pairs: &[(String, String)], token: u64) -> Value {
    let check = if index == 0 {
        json!({"KV": {"Verb": "check-not-exists", "Key": token_key}})
    } else {
        json!({"KV": {"Verb": "check-index", "Key": token_key, "Index": index}})
    };
    let set = |k: &str, v: &str| json!({"KV": {"Verb": "set", "Key": k, "Value": B64.encode(v)}});
    let mut ops = vec![check];
    ops.extend(pairs.iter().map(|(k, v)| set(k, v)));
    ops.push(set(token_key, &token.to_string()));
    Value::Array(ops)
}

impl Consul {
    /// A client of the agent `settings` name (validated here too).
    pub fn new(settings: &ConsulSettings) -> Result<Self, Error> {
        settings.validate().map_err(|reason| Error::Store {
            store: "consul".into(),
            reason,
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| Error::Config {
                key: "ConsulAddress",
                reason: e.to_string(),
            })?;
        Ok(Self {
            base: format!("http://{}", settings.address.trim()),
            acl_token: settings.acl_token.trim().to_string(),
            cross_datacenter: settings.cross_datacenter,
            http,
        })
    }

    fn fail(&self, reason: impl Into<String>) -> Error {
        Error::Store {
            store: "consul".into(),
            reason: reason.into(),
        }
    }

    /// Sends a request; `Ok((status, body))` for any HTTP answer.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        dc: Option<&str>,
        body: Option<String>,
    ) -> Result<(reqwest::StatusCode, String), Error> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(dc) = dc {
            req = req.query(&[("dc", dc)]);
        }
        if !self.acl_token.is_empty() {
            req = req.header("X-Consul-Token", &self.acl_token);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.fail(format!("{url}: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| self.fail(format!("{url}: {e}")))?;
        Ok((status, text))
    }

    /// The datacenters to publish in: the agent's own (`None`) first,
    /// then every other one its catalog lists when distributing.
    async fn datacenters(&self) -> Result<Vec<Option<String>>, Error> {
        let mut out = vec![None];
        let (status, body) = self
            .send(reqwest::Method::GET, "/v1/catalog/datacenters", None, None)
            .await?;
        if !status.is_success() {
            return Err(self.fail(format!("datacenters: HTTP {status}: {body}")));
        }
        let (_, local) = self
            .send(reqwest::Method::GET, "/v1/agent/self", None, None)
            .await?;
        let local: Value = serde_json::from_str(&local).unwrap_or_default();
        let local = local["Config"]["Datacenter"].as_str().unwrap_or_default();
        let all: Vec<String> = serde_json::from_str(&body)
            .map_err(|e| self.fail(format!("datacenters: not a list ({e}): {body}")))?;
        out.extend(all.into_iter().filter(|dc| dc != local).map(Some));
        Ok(out)
    }

    async fn read_token(&self, key: &str, dc: Option<&str>) -> Result<Option<(u64, u64)>, Error> {
        let path = format!("/v1/kv/{}", key_path(key));
        let (status, body) = self.send(reqwest::Method::GET, &path, dc, None).await?;
        let body = match status.as_u16() {
            404 => None,
            200 => Some(body.as_str()),
            _ => return Err(self.fail(format!("{key}: HTTP {status}: {body}"))),
        };
        parse_token(key, body).map_err(|e| self.fail(e))
    }

    async fn publish_in(
        &self,
        dc: Option<&str>,
        token_key: &str,
        pairs: &[(String, String)],
        token: u64,
    ) -> Result<Published, Error> {
        for _ in 0..RACES {
            let stored = self.read_token(token_key, dc).await?;
            if let Some((stored, _)) = stored.filter(|(s, _)| *s > token) {
                return Ok(Published::Stale { stored });
            }
            let index = stored.map_or(0, |(_, i)| i);
            let ops = transaction(token_key, index, pairs, token);
            let (status, body) = self
                .send(reqwest::Method::PUT, "/v1/txn", dc, Some(ops.to_string()))
                .await?;
            match status.as_u16() {
                200 => return Ok(Published::Written),
                // Rolled back: the check failed, another publisher wrote.
                409 => continue,
                _ => return Err(self.fail(format!("transaction: HTTP {status}: {body}"))),
            }
        }
        Err(self.fail(format!(
            "{token_key}: lost {RACES} races to other publishers in a row"
        )))
    }
}

#[async_trait::async_trait]
impl KvStore for Consul {
    fn name(&self) -> &str {
        "consul"
    }

    async fn publish(
        &self,
        token_key: &str,
        pairs: &[(String, String)],
        token: u64,
    ) -> Result<Published, Error> {
        if !self.cross_datacenter {
            return self.publish_in(None, token_key, pairs, token).await;
        }
        let mut failed = Vec::new();
        for dc in self.datacenters().await? {
            match self
                .publish_in(dc.as_deref(), token_key, pairs, token)
                .await
            {
                // The local datacenter holds a newer master: distributing
                // this one elsewhere would spread a stale answer.
                Ok(stale @ Published::Stale { .. }) if dc.is_none() => return Ok(stale),
                Ok(_) => {}
                Err(e) => {
                    let dc = dc.unwrap_or_else(|| "local datacenter".into());
                    let reason = match e {
                        Error::Store { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    failed.push(format!("{dc}: {reason}"));
                }
            }
        }
        if failed.is_empty() {
            Ok(Published::Written)
        } else {
            Err(self.fail(failed.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_escaped_in_paths_but_keep_their_slashes() {
        assert_eq!(key_path("mysql/master/shop"), "mysql/master/shop");
        assert_eq!(key_path("mysql/master/db1:3306"), "mysql/master/db1:3306");
        assert_eq!(key_path("kv/my shop?x"), "kv/my%20shop%3Fx");
    }

    #[test]
    fn the_token_and_its_index_are_read_from_consuls_answer() {
        assert_eq!(parse_token("t", None), Ok(None));
        assert_eq!(parse_token("t", Some("[]")), Ok(None));
        let body = r#"[{"LockIndex":0,"Key":"t","Flags":0,"Value":"MTI=","CreateIndex":10,"ModifyIndex":42}]"#;
        assert_eq!(parse_token("t", Some(body)), Ok(Some((12, 42))));
        let junk = r#"[{"Key":"t","Value":"eHl6","ModifyIndex":3}]"#;
        assert!(
            parse_token("t", Some(junk))
                .unwrap_err()
                .contains("not a fencing token")
        );
        assert!(
            parse_token("t", Some("<html>"))
                .unwrap_err()
                .contains("not JSON")
        );
        let no_index = r#"[{"Key":"t","Value":"MTI="}]"#;
        assert!(
            parse_token("t", Some(no_index))
                .unwrap_err()
                .contains("ModifyIndex")
        );
    }

    #[test]
    fn a_publication_is_one_transaction_checked_on_the_tokens_index() {
        let pairs = vec![
            ("p/shop".to_string(), "db:1".to_string()),
            ("p/shop/port".to_string(), "1".to_string()),
        ];
        let first = transaction("p/shop/fencing-token", 0, &pairs, 7);
        assert_eq!(
            first[0],
            json!({"KV": {"Verb": "check-not-exists", "Key": "p/shop/fencing-token"}})
        );
        let later = transaction("p/shop/fencing-token", 42, &pairs, 8);
        assert_eq!(
            later[0],
            json!({"KV": {"Verb": "check-index", "Key": "p/shop/fencing-token", "Index": 42}})
        );
        let ops = later.as_array().unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(ops[1]["KV"]["Verb"], "set");
        assert_eq!(ops[1]["KV"]["Value"], B64.encode("db:1"));
        assert_eq!(ops[3]["KV"]["Key"], "p/shop/fencing-token");
        assert_eq!(ops[3]["KV"]["Value"], B64.encode("8"));
    }
}

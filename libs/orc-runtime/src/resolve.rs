//! Host name resolution of discovered keys (orchestrator's
//! `HostnameResolveMethod`): nothing, the canonical name (`cname`), or the
//! address (`ip`); cached for `ExpiryHostnameResolvesMinutes`, with
//! resolutions matching `RejectHostnameResolvePattern` ignored. A name that
//! does not resolve is kept as it is, as orchestrator does: resolution must
//! never make a server unreachable by name.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use orc_model::InstanceKey;

use crate::Config;

/// How names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Kept as they are (`default`, `none`).
    None,
    /// The canonical name (`cname`).
    Cname,
    /// The address, IPv4 preferred (`ip`).
    Ip,
}

impl Method {
    /// orchestrator's spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "cname" => Self::Cname,
            "ip" => Self::Ip,
            _ => Self::None,
        }
    }
}

/// A caching resolver.
#[derive(Debug)]
pub struct Resolver {
    method: Method,
    expiry: Duration,
    reject: Option<regex::Regex>,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl Resolver {
    /// A resolver with a method.
    pub fn new(method: Method, expiry: Duration, reject: Option<regex::Regex>) -> Self {
        Self {
            method,
            expiry,
            reject,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The resolver a configuration asks for.
    pub fn from_config(c: &Config) -> Self {
        Self::new(
            Method::parse(&c.hostname_resolve_method),
            Duration::from_secs_f64(c.expiry_hostname_resolves_minutes.max(0.0) * 60.0),
            (!c.reject_hostname_resolve_pattern.is_empty())
                .then(|| regex::Regex::new(&c.reject_hostname_resolve_pattern).ok())
                .flatten(),
        )
    }

    /// Whether it changes anything at all.
    pub fn is_active(&self) -> bool {
        self.method != Method::None
    }

    /// The resolved form of a host name.
    pub async fn hostname(&self, host: &str) -> String {
        if self.method == Method::None || host.is_empty() || host.parse::<IpAddr>().is_ok() {
            return host.to_string();
        }
        if let Ok(cache) = self.cache.lock()
            && let Some((name, at)) = cache.get(host)
            && at.elapsed() < self.expiry
        {
            return name.clone();
        }
        let resolved = match self.method {
            Method::Ip => tokio::net::lookup_host((host, 0))
                .await
                .ok()
                .and_then(|addrs| {
                    let addrs: Vec<_> = addrs.map(|a| a.ip()).collect();
                    addrs
                        .iter()
                        .find(|a| a.is_ipv4())
                        .or_else(|| addrs.first())
                        .map(ToString::to_string)
                }),
            Method::Cname => {
                let h = host.to_string();
                tokio::task::spawn_blocking(move || canonical_name(&h))
                    .await
                    .ok()
                    .flatten()
            }
            Method::None => None,
        };
        let name = resolved
            .filter(|r| !self.reject.as_ref().is_some_and(|re| re.is_match(r)))
            .unwrap_or_else(|| host.to_string());
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(host.to_string(), (name.clone(), Instant::now()));
        }
        name
    }

    /// What is cached: name → resolved name (expired entries left out).
    pub fn cached(&self) -> std::collections::BTreeMap<String, String> {
        self.cache
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|(_, (_, at))| at.elapsed() < self.expiry)
                    .map(|(k, (v, _))| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Forgets every resolution (`reset-hostname-resolve-cache`).
    pub fn clear(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// The key with its host name resolved.
    pub async fn key(&self, key: &InstanceKey) -> InstanceKey {
        if !self.is_active() {
            return key.clone();
        }
        let host = self.hostname(key.hostname()).await;
        InstanceKey::new(&host, key.port()).unwrap_or_else(|_| key.clone())
    }
}

/// The canonical name `getaddrinfo` gives for `host`.
fn canonical_name(host: &str) -> Option<String> {
    let hints = dns_lookup::AddrInfoHints {
        flags: libc::AI_CANONNAME,
        ..Default::default()
    };
    dns_lookup::getaddrinfo(Some(host), None, Some(hints))
        .ok()?
        .filter_map(Result::ok)
        .find_map(|a| a.canonname)
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ip_resolution_names_the_address_and_keeps_what_does_not_resolve() {
        let r = Resolver::new(Method::Ip, Duration::from_secs(60), None);
        assert_eq!(r.hostname("localhost").await, "127.0.0.1");
        assert_eq!(r.hostname("10.1.2.3").await, "10.1.2.3");
        assert_eq!(
            r.hostname("no-such-host.invalid").await,
            "no-such-host.invalid"
        );
        let key = InstanceKey::parse("localhost:3307").unwrap();
        assert_eq!(r.key(&key).await.to_string(), "127.0.0.1:3307");
    }

    #[tokio::test]
    async fn cname_resolution_gives_the_canonical_name() {
        let r = Resolver::new(Method::Cname, Duration::from_secs(60), None);
        assert_eq!(r.hostname("localhost").await, "localhost");
        assert_eq!(r.hostname("127.0.0.1").await, "127.0.0.1");
    }

    #[tokio::test]
    async fn rejected_resolutions_and_the_none_method_keep_the_name() {
        let reject = regex::Regex::new("^127\\.").ok();
        let r = Resolver::new(Method::Ip, Duration::from_secs(60), reject);
        assert_eq!(r.hostname("localhost").await, "localhost");
        let none = Resolver::new(Method::None, Duration::from_secs(60), None);
        assert_eq!(none.hostname("localhost").await, "localhost");
        assert!(!none.is_active());
    }
}

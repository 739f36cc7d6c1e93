//! `host:port` identity of a MySQL server.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The port assumed when a key names no port (orchestrator's `DefaultInstancePort`).
pub const DEFAULT_PORT: u16 = 3306;

/// Longest hostname accepted (RFC 1035 limit for a full name).
const MAX_HOSTNAME_LEN: usize = 253;

/// Identity of one MySQL server: a normalised hostname and a TCP port.
///
/// Hostnames are lower-cased and stripped of surrounding whitespace and a
/// trailing dot, so `DB1.example.com.:3306` and `db1.example.com:3306` are one
/// key. IPv6 literals are kept without brackets in [`InstanceKey::hostname`] and
/// printed in brackets by `Display` (`[::1]:3306`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstanceKey {
    hostname: String,
    port: u16,
}

impl InstanceKey {
    /// Builds a key from a hostname and a port, normalising and validating both.
    pub fn new(hostname: &str, port: u16) -> Result<Self, Error> {
        let hostname = normalize_hostname(hostname)?;
        if port == 0 {
            return Err(Error::InvalidKey {
                input: format!("{hostname}:{port}"),
                reason: "port must be between 1 and 65535".into(),
            });
        }
        Ok(Self { hostname, port })
    }

    /// Parses `host:port`, `host` (default port), `[v6]:port`, `[v6]` or a bare IPv6 literal.
    pub fn parse(input: &str) -> Result<Self, Error> {
        Self::parse_with_default_port(input, DEFAULT_PORT)
    }

    /// As [`InstanceKey::parse`], with `default_port` used when none is given.
    pub fn parse_with_default_port(input: &str, default_port: u16) -> Result<Self, Error> {
        let trimmed = input.trim();
        let invalid = |reason: &str| Error::InvalidKey {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if trimmed.is_empty() {
            return Err(invalid("empty instance key"));
        }
        let (host, port) = if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(close) = rest.find(']') else {
                return Err(invalid("unclosed '[' in IPv6 address"));
            };
            let host = &rest[..close];
            let after = &rest[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(invalid("unexpected text after ']'")),
            };
            if !host.contains(':') {
                return Err(invalid("brackets are only for IPv6 addresses"));
            }
            (host, port)
        } else if trimmed.matches(':').count() > 1 {
            // A bare IPv6 literal: no port can be expressed without brackets.
            (trimmed, None)
        } else if let Some((host, port)) = trimmed.rsplit_once(':') {
            (host, Some(port))
        } else {
            (trimmed, None)
        };
        let port = match port {
            None => default_port,
            Some(p) => parse_port(p).map_err(|reason| invalid(&reason))?,
        };
        Self::new(host, port).map_err(|e| match e {
            Error::InvalidKey { reason, .. } => invalid(&reason),
            other => other,
        })
    }

    /// The normalised hostname (IPv6 without brackets).
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the hostname is an IP literal (v4 or v6).
    pub fn is_ip(&self) -> bool {
        self.hostname.parse::<std::net::IpAddr>().is_ok()
    }

    /// Whether the hostname is an IPv6 literal.
    pub fn is_ipv6(&self) -> bool {
        self.hostname.parse::<std::net::Ipv6Addr>().is_ok()
    }

    /// `host/port`, the form orchestrator's API takes in paths.
    pub fn to_path(&self) -> String {
        format!("{}/{}", self.hostname, self.port)
    }

    /// `host:port` for connecting: IPv6 in brackets.
    pub fn to_address(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hostname.contains(':') {
            write!(f, "[{}]:{}", self.hostname, self.port)
        } else {
            write!(f, "{}:{}", self.hostname, self.port)
        }
    }
}

impl FromStr for InstanceKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    let p = p.trim();
    if p.is_empty() {
        return Err("missing port after ':'".into());
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port {p:?} is not a number"));
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err("port must be between 1 and 65535".into()),
    }
}

fn normalize_hostname(raw: &str) -> Result<String, Error> {
    let invalid = |reason: String| Error::InvalidKey {
        input: raw.to_string(),
        reason,
    };
    let mut host = raw.trim().to_ascii_lowercase();
    if host.len() > 1 && host.ends_with('.') {
        host.pop();
    }
    if host.is_empty() {
        return Err(invalid("empty hostname".into()));
    }
    if host.len() > MAX_HOSTNAME_LEN {
        return Err(invalid(format!(
            "hostname longer than {MAX_HOSTNAME_LEN} characters"
        )));
    }
    if host.contains(':') {
        return match host.parse::<std::net::Ipv6Addr>() {
            Ok(addr) => Ok(addr.to_string()),
            Err(_) => Err(invalid(format!("{host:?} is not a valid IPv6 address"))),
        };
    }
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if let Some(bad) = host.chars().find(|c| !valid_char(*c)) {
        return Err(invalid(format!("invalid character {bad:?} in hostname")));
    }
    if host.starts_with('.') || host.contains("..") {
        return Err(invalid("empty label in hostname".into()));
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn host_and_port_parse_and_format_back() {
        let key = InstanceKey::parse("db1.example.com:3307").unwrap();
        assert_eq!(key.hostname(), "db1.example.com");
        assert_eq!(key.port(), 3307);
        assert_eq!(key.to_string(), "db1.example.com:3307");
        assert_eq!(key.to_path(), "db1.example.com/3307");
    }

    #[test]
    fn missing_port_takes_the_default() {
        assert_eq!(InstanceKey::parse("db1").unwrap().port(), DEFAULT_PORT);
        assert_eq!(
            InstanceKey::parse_with_default_port("db1", 3310)
                .unwrap()
                .port(),
            3310
        );
    }

    #[test]
    fn hostnames_are_normalised() {
        let a = InstanceKey::parse("  DB1.Example.COM.:3306 ").unwrap();
        let b = InstanceKey::parse("db1.example.com:3306").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn ipv6_keys_use_brackets() {
        let key = InstanceKey::parse("[::1]:3307").unwrap();
        assert_eq!(key.hostname(), "::1");
        assert_eq!(key.to_string(), "[::1]:3307");
        assert!(key.is_ipv6());
        let bare = InstanceKey::parse("fe80::0:1").unwrap();
        assert_eq!(bare.hostname(), "fe80::1");
        assert_eq!(bare.port(), DEFAULT_PORT);
        assert_eq!(InstanceKey::parse("[::1]").unwrap().port(), DEFAULT_PORT);
    }

    #[test]
    fn malformed_keys_are_refused_with_a_reason() {
        for bad in [
            "",
            ":3306",
            "db1:",
            "db1:abc",
            "db1:0",
            "db1:70000",
            "db 1:3306",
            "db1:33:06x",
            "[::1",
            "[db1]:3306",
            "[::1]x",
            "db1..example:3306",
            "db/1:3306",
        ] {
            let err = InstanceKey::parse(bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidKey { .. }),
                "{bad:?} gave {err:?}"
            );
            assert!(!err.to_string().is_empty());
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = InstanceKey::parse(&s);
        }

        #[test]
        fn display_parses_back_to_the_same_key(
            host in "[a-z][a-z0-9-]{0,20}(\\.[a-z0-9]{1,10}){0,3}",
            port in 1u16..,
        ) {
            let key = InstanceKey::new(&host, port).unwrap();
            prop_assert_eq!(InstanceKey::parse(&key.to_string()).unwrap(), key);
        }

        #[test]
        fn ipv6_display_parses_back(segments in proptest::array::uniform8(any::<u16>()), port in 1u16..) {
            let addr = std::net::Ipv6Addr::from(segments);
            let key = InstanceKey::new(&addr.to_string(), port).unwrap();
            prop_assert_eq!(InstanceKey::parse(&key.to_string()).unwrap(), key);
        }
    }
}

//! Consul's settings (orchestrator's `Consul*` keys) and their checks,
//! shared by the configuration's validation and the publisher (`orc-kv`).

/// Consul's settings, as configured (orchestrator's keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsulSettings {
    /// `ConsulAddress`: `host:port` of a Consul agent; empty: none.
    pub address: String,
    /// `ConsulScheme`: `http` (empty: `http`).
    pub scheme: String,
    /// `ConsulAclToken`: sent as `X-Consul-Token` when not empty.
    pub acl_token: String,
    /// `ConsulKVStoreProvider`: `consul` or `consul-txn` (empty: `consul`).
    pub provider: String,
    /// `ConsulCrossDataCenterDistribution`: publish in every datacenter.
    pub cross_datacenter: bool,
}

impl ConsulSettings {
    /// Checks the settings; the error names the key. Empty address: no
    /// Consul, nothing else is looked at.
    pub fn validate(&self) -> Result<(), String> {
        if self.address.trim().is_empty() {
            return Ok(());
        }
        let address = self.address.trim();
        let valid = address.rsplit_once(':').is_some_and(|(h, p)| {
            !h.is_empty() && !h.contains('/') && p.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(format!(
                "ConsulAddress: {address:?} is not a host:port address"
            ));
        }
        match self.scheme.trim() {
            "" | "http" => {}
            "https" => {
                return Err("ConsulScheme: https is not supported yet: use http to a local agent (which talks to the servers over TLS)".into());
            }
            other => {
                return Err(format!("ConsulScheme: {other:?} is neither http nor https"));
            }
        }
        match self.provider.trim() {
            "" | "consul" | "consul-txn" => Ok(()),
            other => Err(format!(
                "ConsulKVStoreProvider: {other:?} is neither consul nor consul-txn"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(address: &str) -> ConsulSettings {
        ConsulSettings {
            address: address.into(),
            ..ConsulSettings::default()
        }
    }

    #[test]
    fn bad_settings_are_refused_naming_the_key() {
        assert!(settings("").validate().is_ok());
        assert!(settings("127.0.0.1:8500").validate().is_ok());
        for (s, key) in [
            (settings("consul.example"), "ConsulAddress"),
            (settings("http://consul:8500"), "ConsulAddress"),
            (settings("consul:0"), "ConsulAddress"),
            (
                ConsulSettings {
                    scheme: "https".into(),
                    ..settings("consul:8500")
                },
                "ConsulScheme",
            ),
            (
                ConsulSettings {
                    scheme: "ftp".into(),
                    ..settings("consul:8500")
                },
                "ConsulScheme",
            ),
            (
                ConsulSettings {
                    provider: "zk".into(),
                    ..settings("consul:8500")
                },
                "ConsulKVStoreProvider",
            ),
        ] {
            let e = s.validate().unwrap_err();
            assert!(e.starts_with(key), "{s:?}: {e}");
        }
        let ok = ConsulSettings {
            provider: "consul-txn".into(),
            scheme: "http".into(),
            ..settings("consul:8500")
        };
        assert!(ok.validate().is_ok());
    }
}

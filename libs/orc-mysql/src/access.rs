//! How orchestrator reaches topology servers: the one place their
//! connection options are built.

use std::time::Duration;

use orc_model::InstanceKey;
use orc_runtime::Config;
use orc_runtime::tls::ClientTls;

use crate::ConnectOptions;

/// Credentials, connect timeout and TLS for every connection to a topology
/// server: probes, the facts a plan is made from, recovery steps and
/// operators' operations all take their options from here, so a setting
/// such as `MySQLTopologyUseMutualTLS` cannot be missed by one of them.
#[derive(Clone)]
pub struct TopologyAccess {
    /// `MySQLTopologyUser`.
    pub user: String,
    /// `MySQLTopologyPassword` (never logged).
    pub password: String,
    /// `MySQLConnectTimeoutSeconds`.
    pub connect_timeout: Duration,
    /// `MySQLTopologyUseMutualTLS` and its files; `None`: plain.
    pub tls: Option<ClientTls>,
}

impl std::fmt::Debug for TopologyAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopologyAccess")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("connect_timeout", &self.connect_timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

impl TopologyAccess {
    /// What the configuration says.
    pub fn from_config(c: &Config) -> Self {
        Self {
            user: c.mysql_topology_user.clone(),
            password: c.mysql_topology_password.clone(),
            connect_timeout: Duration::from_secs_f64(c.mysql_connect_timeout_seconds),
            tls: ClientTls::topology(c),
        }
    }

    /// Options for connecting to `address`, every statement bounded by
    /// `read_timeout`.
    pub fn options(&self, address: &InstanceKey, read_timeout: Duration) -> ConnectOptions {
        let mut o = ConnectOptions::tcp(
            address.hostname(),
            address.port(),
            &self.user,
            &self.password,
        );
        o.connect_timeout = self.connect_timeout;
        o.read_timeout = read_timeout;
        o.tls = self.tls.clone();
        o
    }
}

//! Describing a topology to start.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::Error;

/// One server of a sandbox topology.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Name used in tests (`m`, `r1`, ...).
    pub name: String,
    /// The node it replicates from.
    pub source: Option<String>,
    /// Whether it stays writable (masters and the active side of co-masters).
    pub writable: bool,
    /// Extra `my.cnf` options; an empty value writes a bare flag.
    pub options: Vec<(String, String)>,
}

/// Server-side TLS of every server of a sandbox (`ssl-ca`, `ssl-cert`,
/// `ssl-key`): the servers accept TLS, and ask clients for a certificate
/// signed by `ca` (checked for accounts that `REQUIRE X509`).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// PEM authority client certificates must chain to.
    pub ca: PathBuf,
    /// PEM server certificate.
    pub cert: PathBuf,
    /// PEM private key of the server certificate.
    pub key: PathBuf,
}

/// What the topology user (`orchestrator`) must connect with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRequirement {
    /// `REQUIRE SSL`: any TLS connection; a plain one is refused.
    Ssl,
    /// `REQUIRE X509`: TLS with a client certificate the server trusts.
    X509,
}

impl TlsRequirement {
    /// The `REQUIRE` clause.
    pub fn clause(self) -> &'static str {
        match self {
            Self::Ssl => "REQUIRE SSL",
            Self::X509 => "REQUIRE X509",
        }
    }
}

/// Builds the description of a sandbox: nodes, who replicates from whom,
/// per-node options, extra listen addresses.
#[derive(Debug, Clone, Default)]
pub struct SandboxBuilder {
    pub(crate) nodes: Vec<NodeSpec>,
    pub(crate) root: Option<PathBuf>,
    pub(crate) exact_dir: Option<PathBuf>,
    pub(crate) extra_addresses: Vec<Ipv4Addr>,
    pub(crate) persistent: bool,
    pub(crate) file_positions: bool,
    pub(crate) tls: Option<ServerTls>,
    pub(crate) topology_user_requires: Option<TlsRequirement>,
}

impl SandboxBuilder {
    /// An empty description.
    pub fn new() -> Self {
        Self::default()
    }

    /// A master `m` with replicas `r1..=rn`.
    pub fn master_with_replicas(n: usize) -> Self {
        let mut b = Self::new().master("m");
        for i in 1..=n {
            b = b.replica(&format!("r{i}"), "m");
        }
        b
    }

    /// A chain `m → c1 → c2 → …` of `len` replicas below the master.
    pub fn chain(len: usize) -> Self {
        let mut b = Self::new().master("m");
        let mut parent = "m".to_string();
        for i in 1..=len {
            let name = format!("c{i}");
            b = b.replica(&name, &parent);
            parent = name;
        }
        b
    }

    /// Adds a writable master.
    pub fn master(mut self, name: &str) -> Self {
        self.nodes.push(NodeSpec {
            name: name.into(),
            source: None,
            writable: true,
            options: Vec::new(),
        });
        self
    }

    /// Adds a read-only replica of `source`.
    pub fn replica(mut self, name: &str, source: &str) -> Self {
        self.nodes.push(NodeSpec {
            name: name.into(),
            source: Some(source.into()),
            writable: false,
            options: Vec::new(),
        });
        self
    }

    /// Adds two co-masters replicating from each other; `active` stays writable.
    pub fn co_masters(mut self, active: &str, passive: &str) -> Self {
        self.nodes.push(NodeSpec {
            name: active.into(),
            source: Some(passive.into()),
            writable: true,
            options: Vec::new(),
        });
        self.nodes.push(NodeSpec {
            name: passive.into(),
            source: Some(active.into()),
            writable: false,
            options: Vec::new(),
        });
        self
    }

    /// Adds a `my.cnf` option to one node (`("skip-log-bin", "")`, `("binlog_format", "STATEMENT")`).
    pub fn option(mut self, node: &str, key: &str, value: &str) -> Self {
        if let Some(n) = self.nodes.iter_mut().find(|n| n.name == node) {
            n.options.push((key.into(), value.into()));
        }
        self
    }

    /// Makes every server also listen on `addr` (e.g. 127.0.0.2, for fault injection).
    pub fn listen_also_on(mut self, addr: Ipv4Addr) -> Self {
        self.extra_addresses.push(addr);
        self
    }

    /// Directory under which the sandbox makes its own directory
    /// (default: `/dev/shm` when writable, else the system temp dir).
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = Some(dir.into());
        self
    }

    /// Keeps servers running after the [`crate::Sandbox`] is dropped, in exactly `dir`
    /// (for `orchestrator sandbox up`); stop them with [`crate::Sandbox::stop_persisted`].
    pub fn persistent_in(mut self, dir: impl Into<PathBuf>) -> Self {
        self.persistent = true;
        self.exact_dir = Some(dir.into());
        self
    }

    /// Replicas follow their sources by binary log file and position
    /// (`MASTER_USE_GTID=no`), as servers without GTID do. MariaDB still
    /// writes GTIDs in its binary logs; replication does not use them.
    pub fn file_positions(mut self) -> Self {
        self.file_positions = true;
        self
    }

    /// Every server accepts TLS with these files (replication between
    /// the servers stays plain).
    pub fn tls(mut self, files: ServerTls) -> Self {
        self.tls = Some(files);
        self
    }

    /// The topology user `orchestrator` must connect over TLS (and with a
    /// client certificate for [`TlsRequirement::X509`]): a plain connection
    /// is refused. Needs [`SandboxBuilder::tls`].
    pub fn topology_user_requires(mut self, requirement: TlsRequirement) -> Self {
        self.topology_user_requires = Some(requirement);
        self
    }

    /// The `my.cnf` options of a node, TLS included.
    pub(crate) fn options_of(&self, node: &NodeSpec) -> Vec<(String, String)> {
        let mut options = node.options.clone();
        if let Some(tls) = &self.tls {
            for (k, p) in [
                ("ssl-ca", &tls.ca),
                ("ssl-cert", &tls.cert),
                ("ssl-key", &tls.key),
            ] {
                options.push((k.into(), p.display().to_string()));
            }
        }
        options
    }

    /// The nodes described so far.
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.nodes
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.nodes.is_empty() {
            return Err(Error::Spec("a sandbox needs at least one node".into()));
        }
        if self.topology_user_requires.is_some() && self.tls.is_none() {
            return Err(Error::Spec(
                "a topology user that requires TLS needs servers with TLS (SandboxBuilder::tls)"
                    .into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for n in &self.nodes {
            let ok = !n.name.is_empty()
                && n.name.len() <= 16
                && n.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(Error::Spec(format!(
                    "node name {:?} must be 1-16 letters, digits or '_'",
                    n.name
                )));
            }
            if !names.insert(n.name.as_str()) {
                return Err(Error::Spec(format!("node {:?} is defined twice", n.name)));
            }
        }
        for n in &self.nodes {
            if let Some(s) = &n.source {
                if !names.contains(s.as_str()) {
                    return Err(Error::Spec(format!(
                        "node {:?} replicates from unknown node {s:?}",
                        n.name
                    )));
                }
                if s == &n.name {
                    return Err(Error::Spec(format!(
                        "node {:?} replicates from itself",
                        n.name
                    )));
                }
            }
        }
        Ok(())
    }
}

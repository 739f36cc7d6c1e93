//! Real servers for tests and for trying the product locally.
//!
//! This crate owns sandboxes: [`SandboxBuilder`] describes a MariaDB
//! replication topology (master and replicas, chains, trees, co-masters),
//! [`Sandbox`] runs it as real `mariadbd` processes started in parallel from a
//! template datadir made once per machine, on free ports, with MariaDB GTID
//! replication, binary logs, `log_slave_updates`, `report_host`/`report_port`
//! and a 1 s heartbeat / 2 s `slave_net_timeout` for fast detection. Each
//! server can be killed, frozen, thawed, restarted and queried over its unix
//! socket (the control channel that survives TCP fault injection).
//! [`NatsServer`] runs a real `nats-server` with JetStream. Both can require
//! TLS ([`SandboxBuilder::tls`] with [`SandboxBuilder::topology_user_requires`],
//! [`NatsServer::start_tls`]), from PEM files the caller provides.
//!
//! Nothing outlives its owner: dropping a sandbox (also during a panic) kills
//! its processes and removes its directory, and a guardian process does the
//! same if the owner is SIGKILLed. `orchestrator sandbox up` uses the
//! persistent mode ([`SandboxBuilder::persistent_in`]) instead.
//!
//! It must not be used by production code paths other than the `sandbox`
//! command. SQL goes through `orc-mysql`.

mod binaries;
mod consul;
mod error;
mod etcd;
mod instance;
mod nats;
mod ports;
mod process;
mod sandbox;
pub mod scenarios;
mod spec;
mod template;
mod zookeeper;

pub use binaries::{mariadbd, nats_server, version_of};
pub use consul::{ConsulServer, consul_binary};
pub use error::Error;
pub use etcd::EtcdServer;
pub use instance::{Instance, InstanceInfo};
pub use nats::{NatsCluster, NatsServer, NatsTls};
pub use ports::free_port;
pub use process::{is_alive, pids_mentioning};
pub use sandbox::{STOP_GRACE, Sandbox, SandboxState};
pub use spec::{NodeSpec, SandboxBuilder, ServerTls, TlsRequirement};
pub use zookeeper::ZooKeeperServer;

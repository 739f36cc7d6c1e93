//! The `orchestrator` binary's commands.
//!
//! This crate wires the roles together; it holds no domain logic. `sandbox`
//! ([`sandbox`]) runs a local MariaDB replication topology to try the product
//! on, as dbdeployer does for orchestrator users.

pub mod sandbox;

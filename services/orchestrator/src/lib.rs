//! The `orchestrator` binary's commands.
//!
//! This crate wires the roles together; it holds no domain logic.
//! [`roles`] runs every role in one process (`orchestrator serve`, the
//! embedded default: in-process bus, SQLite) or one role per process over
//! NATS (`orchestrator prober|analyzer|gateway`). [`sandbox`] runs a local
//! MariaDB replication topology to try the product on, as dbdeployer does
//! for orchestrator users. [`replay`] analyzes an `/api/all-instances`
//! document offline.

pub mod replay;
pub mod roles;
pub mod sandbox;

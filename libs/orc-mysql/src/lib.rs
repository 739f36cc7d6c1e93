//! The MySQL-protocol edge of orchestrator-rs; the only crate that names `mysql_async`.
//!
//! It owns connections to topology servers: [`TopologyAccess`] (the one
//! place their options are built from the configuration: credentials,
//! timeouts, TLS), [`Session`] (one connection, a timeout on every call),
//! the probe that turns a server's answers into an
//! `orc_model::InstanceData`, and the statements that change a topology.
//! It must not decide anything: callers (prober, recovery) hold the policy.
//! A connection refused for want of TLS, or a failed handshake, is reported
//! with the `MySQLTopology*` keys to change, and classified as access
//! denied (a live server that will not let us in), not as a dead one.

mod access;
pub mod ops;
pub mod probe;
mod session;
mod tls;

pub use access::TopologyAccess;
pub use ops::{BinlogEventRow, ChangeSource, Operator, ServerState, StartPosition};
pub use probe::{InstanceProbe, ProbeResult, ProbeSettings};
pub use session::{Columns, ConnectOptions, Row, Session};

use std::time::Duration;

use orc_model::ProbeErrorKind;

/// A failed MySQL call, naming the server and the operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The driver or the server reported an error.
    #[error("{target}: {operation}: {message}")]
    Mysql {
        /// `host:port` or socket path.
        target: String,
        /// Statement or step (truncated).
        operation: String,
        /// Classification used as probe evidence.
        kind: ProbeErrorKind,
        /// Server error code, when the server answered.
        code: Option<u16>,
        /// The driver's message.
        message: String,
    },
    /// The call did not finish in time.
    #[error("{target}: {operation}: timed out after {after:?}")]
    Timeout {
        /// `host:port` or socket path.
        target: String,
        /// Statement or step (truncated).
        operation: String,
        /// The bound that was exceeded.
        after: Duration,
    },
}

impl Error {
    /// How a probe should classify this failure.
    pub fn kind(&self) -> ProbeErrorKind {
        match self {
            Error::Mysql { kind, .. } => *kind,
            Error::Timeout { .. } => ProbeErrorKind::Timeout,
        }
    }
}

//! The pure vocabulary of orchestrator-rs.
//!
//! This crate owns the data every other crate speaks: [`InstanceKey`]
//! (`host:port`), [`BinlogCoordinates`] (`file:pos`), GTID sets of both
//! flavours ([`gtid`]), what one probe saw ([`InstanceSnapshot`]), the folded
//! per-instance state the analysis reads ([`InstanceState`]), operator
//! metadata kept apart from observations ([`InstanceMetadata`]), promotion
//! rules, and the replication graph ([`Topology`]).
//!
//! It must not touch IO, async, clocks or generated protobuf types: time comes
//! in as a [`Timestamp`] argument. Every parser returns [`Error`] instead of
//! panicking, whatever its input.

pub mod coordinates;
pub mod gtid;
pub mod key;
pub mod metadata;
pub mod promotion;
pub mod recovery;
pub mod snapshot;
pub mod state;
pub mod time;
pub mod topology;

pub use coordinates::{BinlogCoordinates, LogKind};
pub use gtid::{GtidFlavor, GtidSet, MariadbGtidSet, MysqlGtidSet};
pub use key::{DEFAULT_PORT, InstanceKey};
pub use metadata::{
    CandidateRegistration, Downtime, InstanceMetadata, LOST_IN_RECOVERY, Maintenance,
};
pub use promotion::PromotionRule;
pub use recovery::{BlockedRecovery, DetectionRecord, RecoveryKind, RecoveryRecord, RecoveryStep};
pub use snapshot::{
    Flavor, InstanceData, InstanceSnapshot, ProbeError, ProbeErrorKind, ProbeOutcome,
    ReplicationStatus, SemiSync, ThreadState,
};
pub use state::{Change, InstanceState, VantageObservation};
pub use time::Timestamp;
pub use topology::{Placement, Topology, TopologyInput};

/// Everything that can be wrong with input to the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An instance key that is not `host[:port]`.
    #[error("invalid instance key {input:?}: {reason}")]
    InvalidKey {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Coordinates that are not `file:pos`.
    #[error("invalid binlog coordinates {input:?}: {reason}")]
    InvalidCoordinates {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A GTID set that does not parse.
    #[error("invalid GTID set {input:?}: {reason}")]
    InvalidGtidSet {
        /// What was given (truncated).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A promotion rule that orchestrator does not know.
    #[error("invalid promotion rule {0:?}: expected must, prefer, neutral, prefer_not or must_not")]
    InvalidPromotionRule(String),
}

//! Generated protobuf and gRPC code of orchestrator-rs, and its conversions.
//!
//! This crate owns the wire contract: the messages services exchange on the
//! bus and the gRPC API, generated from `proto/orc/v1` at build time by protox
//! (no system `protoc`). It converts between those messages and the pure
//! `orc-model` types ([`convert`]), so no other crate has to know both.
//! It must not do IO. Entry points: [`v1`] (generated types),
//! [`convert`] (observations: keys, snapshots), [`analysis`] (analyses and
//! findings), [`state`] (folded instance states), [`plan`] (plans and
//! promotion decisions), [`recovery`] (recovery records),
//! [`FILE_DESCRIPTOR_SET`] (for gRPC reflection).
//!
//! Every message that carries a model value converts both ways: model →
//! wire is infallible (`From`), wire → model validates (`TryFrom`) and
//! names the message and field it refuses (a missing required field, a
//! number out of range, an enum value this version does not know). The
//! observation messages (snapshots) read unknown enum values leniently, as
//! they always did; the messages of analyses, states, plans and records
//! refuse them. Nothing on the wire is JSON text: the model keeps a
//! recovery's analysis and plan as JSON text (`orc-model` cannot name
//! `orc-analysis` or `orc-planner` types), and [`recovery`] types them on
//! the way out and writes the text back on the way in.

pub mod analysis;
pub mod convert;
mod enums;
pub mod plan;
pub mod recovery;
pub mod state;

/// Generated types of package `orc.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("orc.v1");
}

/// The encoded file descriptor set of every `.proto`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/orc_descriptor.bin"));

/// A wire message that does not convert to the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A required field is absent.
    #[error("message {message}: missing field {field}")]
    MissingField {
        /// Message type.
        message: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// A field holds a value the model refuses.
    #[error("message {message}: invalid field {field}: {source}")]
    InvalidField {
        /// Message type.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// Why the model refused it.
        source: orc_model::Error,
    },
    /// A number out of range.
    #[error("message {message}: field {field} out of range")]
    OutOfRange {
        /// Message type.
        message: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// An enum field holds a value this version does not know.
    #[error("message {message}: field {field}: unknown value {value}")]
    UnknownValue {
        /// Message type.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// The value received.
        value: i32,
    },
    /// A field holds something that makes no sense (a duplicate entry, a
    /// negative duration, ...).
    #[error("message {message}: invalid field {field}: {reason}")]
    Malformed {
        /// Message type.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

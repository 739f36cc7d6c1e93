//! orchestrator's wire shapes, so its users' tooling keeps working.
//!
//! This crate owns the JSON and text that orchestrator 3.2.6 answers with:
//! [`InstanceJson`] (Go field names verbatim, typos and compat duplicates
//! included), [`ClusterInfoJson`], the [`Envelope`] `{Code, Message, Details}`,
//! and the ASCII / tabulated topology texts ([`topology`]). It is pure: views
//! of the model go in, serde structs and strings come out; no IO, no clock
//! (`now` is an argument). Entry points: [`InstanceJson::from_view`],
//! [`topology::ascii`], [`Envelope::ok`] / [`Envelope::error`], and the
//! recovery audit shapes ([`TopologyRecoveryJson::from_record`],
//! [`RecoveryStepJson`], [`BlockedRecoveryJson`], [`MaintenanceJson`]).

mod analysis;
mod envelope;
mod instance;
mod recovery;
mod replay;
pub mod topology;

pub use analysis::{ReplicationAnalysisJson, analysis_string};
pub use envelope::Envelope;
pub use instance::{
    ClusterInfoJson, CoordinatesJson, DisplayPolicy, InstanceJson, InstanceView, KeyJson, NullInt64,
};
pub use recovery::{BlockedRecoveryJson, MaintenanceJson, RecoveryStepJson, TopologyRecoveryJson};
pub use replay::{
    DEFAULT_HANGING_AFTER, ReplayError, states_from_instances, states_from_instances_with,
};

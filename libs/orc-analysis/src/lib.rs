//! Replication analysis: is anything wrong with this topology, and what?
//!
//! Pure: folded probe states ([`orc_model::InstanceState`]), the topology,
//! operator metadata, a [`AnalysisPolicy`] and `now` go in; one [`Analysis`]
//! per instance with a problem comes out, carrying orchestrator's code
//! ([`AnalysisCode`], same names, same order of precedence), its structure
//! warnings ([`StructureWarning`]), its counters and its evidence (what the
//! instance, each vantage point and each replica showed, and when).
//!
//! Holistic: a master is dead only when it cannot be reached *and* every
//! reachable replica agrees that replication from it is broken. On top of
//! orchestrator's table, a server that does not refuse connections but does
//! not answer (hung, or cut off from the probers) stays "unreachable" for
//! [`AnalysisPolicy::hung_grace`] before it can be declared dead, and with
//! several vantage points "unreachable" needs a quorum of them.
//!
//! Entry points: [`analyze`], [`analyze_instance`], [`is_valid`].

mod analyze;
pub mod code;
pub mod finding;
pub mod policy;

pub use analyze::{
    AnalysisInput, States, analyze, analyze_instance, analyze_keys, errant_gtids, is_valid,
};
pub use code::{AnalysisCode, StructureWarning};
pub use finding::{Analysis, InstanceEvidence, ReplicaCounts, ReplicaEvidence, VantageEvidence};
pub use policy::AnalysisPolicy;

//! Promotion: which replica replaces a failed master, and why.
//!
//! This crate owns the choice of the promoted replica (orchestrator's
//! `GetCandidateReplica` / `chooseCandidateReplica` and the later
//! `SuggestReplacementForPromotedReplica` two-step), made stricter: every
//! veto (unreachable, no binary log, no `log_slave_updates`, `must_not`,
//! `PromotionIgnoreHostnameFilters`, newer major version or higher binlog
//! format than most replicas, cross data centre or region, lag, SQL thread
//! behind its IO thread, not the designated candidate) is decided up front,
//! before anything is changed, and every replica comes back ranked with its
//! reasons and vetoes as data. It also says which replicas cannot follow the
//! promoted one (they would have to discard transactions, or cannot
//! replicate from it), and whether recovery can use GTID.
//!
//! Pure: facts ([`orc_model::InstanceData`] as the replicas are now, with
//! replication stopped and relay logs applied) and a [`PromotionPolicy`] go
//! in, a [`PromotionDecision`] or a [`NoCandidate`] comes out. It must not
//! touch IO, async or clocks, and it never moves a replica: executing the
//! decision is the recovery's job.
//!
//! Entry point: [`select_candidate`].

mod compat;
mod decision;
mod eligibility;
mod entry;
mod policy;
mod progress;
mod request;
mod select;
mod veto;

pub use compat::{binlog_format_rank, compare_versions};
pub use decision::{LostReplica, NoCandidate, PromotionDecision, Ranked};
pub use eligibility::sql_thread_up_to_date;
pub use policy::PromotionPolicy;
pub use request::{PromotionRequest, ReplicaFacts};
pub use select::select_candidate;
pub use veto::Veto;

#[cfg(test)]
mod tests;

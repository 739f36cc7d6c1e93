//! The recovery state machine of orchestrator-rs, and the rules around it.
//!
//! - [`book`]: per cluster, which trigger (finding or operator command) is
//!   being handled and in which phase — lease, admission, run — with
//!   anti-flapping, downtime, filters and the global switch decided under
//!   the lease, and blocked triggers retried on acknowledgement or when
//!   their block ends. `handle(event, now) -> actions`.
//! - [`dispatch`]: which analysis codes a recovery acts on, and
//!   orchestrator's cluster filter syntax.
//! - [`hooks`]: the hook lists and what a hook sees (`{placeholders}`,
//!   neutralised so that a value cannot inject commands, and `ORC_*`
//!   variables).
//!
//! Pure: no IO, no clock, no async. The recovery service carries out the
//! actions and feeds their results back as events.

pub mod book;
pub mod dispatch;
pub mod hooks;

pub use book::{Action, Admission, BookPolicy, Event, RecoveryBook, SkipReason, Trigger};
pub use dispatch::{Handler, cluster_filter_matches};
pub use hooks::{Expansion, HookContext, HookStage, neutralise};

#[cfg(test)]
mod tests;

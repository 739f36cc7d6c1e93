//! The planner: every topology change — refactoring asked by an operator or
//! a recovery decided by the analysis — as a plan made by pure code.
//!
//! [`plan`] takes the servers of a cluster as just read ([`Topology`]), what
//! is asked ([`Intent`]) and the configuration's switches ([`Policy`]), and
//! returns a [`Plan`]: phases of concurrent lanes of steps, each step an
//! [`Action`] with the [`Condition`]s that must still hold when it runs
//! (the executor re-checks them on fresh reads) and the effects it has. Or
//! it refuses with a [`PlanError`] that says why, having changed nothing.
//! [`simulate`] predicts the topology a plan leaves behind, checking every
//! precondition and effect on the way; tests compare that prediction with
//! what real servers show afterwards.
//!
//! One place for each rule: the GTID predicate
//! ([`orc_model::InstanceData::gtid_replication`], used here and in
//! orc-promotion), the start position of a moved replica
//! ([`replication::gtid_position`]), what can replicate from what
//! ([`replication::can_replicate_from`]), the relocation ladder (GTID →
//! Pseudo-GTID → binlog file:pos where coordinates stay equivalent →
//! refuse), and the vetoes of planned switches. `orc-promotion` stays the
//! chooser of a failover's candidate; this crate turns its decision into
//! steps.
//!
//! Pure: no IO, no async, no clock. It must not name a driver or the bus;
//! carrying a plan out (lease, fencing token on every step, fresh reads,
//! journal, hooks) is the recovery service's executor.

mod build;
mod control;
pub mod error;
mod failover;
pub mod fencing;
pub mod intent;
mod many;
pub mod plan;
pub mod policy;
pub mod pseudo_gtid;
mod relocate;
pub mod replication;
pub mod simulate;
mod takeover;
pub mod topology;

pub use error::{PlanError, Refusal};
pub use intent::Intent;
pub use plan::{
    Action, Capture, Condition, Credentials, Lane, Method, Phase, Plan, Position, SemiSyncRole,
    Step,
};
pub use policy::Policy;
pub use simulate::{Simulation, SimulationError, simulate};
pub use topology::{Server, Shape, ShapeEntry, Topology};

/// Plans `intent` on `topology`.
pub fn plan(topology: &Topology, intent: Intent, policy: &Policy) -> Result<Plan, PlanError> {
    let t = topology;
    let i = intent.instance().clone();
    if t.get(&i).is_none() {
        return Err(PlanError::Unknown(i));
    }
    if let Some(target) = intent.target()
        && t.get(target).is_none()
    {
        return Err(PlanError::Unknown(target.clone()));
    }
    match intent.clone() {
        Intent::Relocate { below, only, .. } => {
            relocate::relocate(t, policy, intent, &i, &below, only)
        }
        Intent::RelocateReplicas {
            below,
            pattern,
            only,
            ..
        } => many::relocate_replicas(t, policy, intent, &i, &below, pattern.as_deref(), only),
        Intent::MoveUp { .. } => relocate::move_up(t, policy, intent, &i),
        Intent::MoveUpReplicas { pattern, .. } => {
            many::move_up_replicas(t, policy, intent, &i, pattern.as_deref())
        }
        Intent::MoveBelow { sibling, .. } => relocate::move_below(t, policy, intent, &i, &sibling),
        Intent::MoveEquivalent { below, .. } => {
            // An equivalent position is known by GTID (the same set of
            // transactions on any server of the cluster), by Pseudo-GTID
            // markers, or where file:pos coordinates stay equivalent: the
            // relocation ladder.
            relocate::relocate(t, policy, intent, &i, &below, None)
        }
        Intent::Repoint { below, .. } => relocate::repoint(t, policy, intent, &i, below.as_ref()),
        Intent::RepointReplicas { pattern, .. } => {
            many::repoint_replicas(t, intent, &i, pattern.as_deref())
        }
        Intent::TakeMaster { .. } => relocate::take_master(t, intent, &i),
        Intent::TakeSiblings { .. } => many::take_siblings(t, policy, intent, &i),
        Intent::MakeCoMaster { .. } => relocate::make_co_master(t, policy, intent, &i),
        Intent::RegroupReplicas { only, .. } => many::regroup_replicas(t, policy, intent, &i, only),
        Intent::MasterFailover {
            designated,
            co_master,
            lite,
            ..
        } => failover::master_failover(t, policy, intent, &i, designated.as_ref(), co_master, lite),
        Intent::IntermediateMasterFailover { lite, .. } => {
            failover::intermediate_failover(t, policy, intent, &i, lite)
        }
        Intent::MakeWritable { .. } => failover::make_writable(t, intent, &i),
        Intent::GracefulTakeover {
            designated, auto, ..
        } => takeover::switch(t, policy, intent, &i, designated.as_ref(), auto, false),
        Intent::HandOver { to, .. } => {
            takeover::switch(t, policy, intent, &i, Some(&to), false, true)
        }
        _ => control::plan_control(t, intent),
    }
}

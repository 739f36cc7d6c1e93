//! Predicting what a plan does: every step is checked against the
//! simulated servers (its preconditions must hold, its effects must follow)
//! and applied to them, so the resulting topology can be compared with the
//! one observed after the real run.

use std::collections::BTreeSet;

use orc_model::{InstanceKey, ReplicationStatus, ThreadState};
use serde::{Deserialize, Serialize};

use crate::plan::{Action, Capture, Condition, Plan, Position, Step};
use crate::topology::Topology;

/// What a plan is predicted to leave behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    /// The servers afterwards.
    pub topology: Topology,
    /// Optional lanes that would not run, with the reason (an unreachable
    /// old master, say).
    pub skipped: Vec<String>,
}

/// A plan that cannot run as written: a step whose precondition fails in a
/// critical lane, or whose effect would not follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {step:?} of phase {phase:?}: {reason}")]
pub struct SimulationError {
    /// The phase.
    pub phase: String,
    /// The step.
    pub step: String,
    /// What would go wrong.
    pub reason: String,
}

#[derive(Default)]
struct State {
    captured: BTreeSet<String>,
    synced: BTreeSet<(InstanceKey, InstanceKey)>,
    reached: BTreeSet<(InstanceKey, String)>,
}

impl State {
    fn forget_positions_of(&mut self, k: &InstanceKey) {
        self.synced.retain(|(a, b)| a != k && b != k);
        self.reached.retain(|(a, _)| a != k);
    }
}

/// Runs `plan` on a copy of `t`.
pub fn simulate(t: &Topology, plan: &Plan) -> Result<Simulation, SimulationError> {
    let mut topo = t.clone();
    let mut state = State::default();
    let mut skipped = Vec::new();
    for phase in &plan.phases {
        for lane in &phase.lanes {
            let mut trial = topo.clone();
            let mut trial_state = State {
                captured: state.captured.clone(),
                synced: state.synced.clone(),
                reached: state.reached.clone(),
            };
            let mut failure = None;
            for step in &lane.steps {
                if let Err(reason) = run(&mut trial, &mut trial_state, step) {
                    failure = Some((step.to_string(), reason));
                    break;
                }
            }
            match failure {
                None => {
                    topo = trial;
                    state = trial_state;
                }
                Some((step, reason)) if lane.critical => {
                    return Err(SimulationError {
                        phase: phase.label.clone(),
                        step,
                        reason,
                    });
                }
                Some((step, reason)) => {
                    skipped.push(format!("{}: {step}: {reason}", lane.label));
                }
            }
        }
    }
    for c in &plan.expect {
        if let Err(reason) = holds(&topo, &state, c) {
            return Err(SimulationError {
                phase: "expectations".into(),
                step: c.to_string(),
                reason,
            });
        }
    }
    Ok(Simulation {
        topology: topo,
        skipped,
    })
}

fn run(t: &mut Topology, s: &mut State, step: &Step) -> Result<(), String> {
    for c in &step.preconditions {
        holds(t, s, c).map_err(|why| format!("precondition {c} fails: {why}"))?;
    }
    apply(t, s, &step.action)?;
    for c in &step.effects {
        holds(t, s, c).map_err(|why| format!("effect {c} would not follow: {why}"))?;
    }
    Ok(())
}

fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

/// Whether a condition holds in the simulated state.
fn holds(t: &Topology, s: &State, c: &Condition) -> Result<(), String> {
    let server = |k: &InstanceKey| t.get(k).ok_or_else(|| format!("{k} is not known"));
    match c {
        Condition::Reachable(k) => {
            let srv = server(k)?;
            check(srv.reachable && srv.data.is_some(), || {
                format!("{k} is unreachable")
            })
        }
        Condition::ReplicatesFrom { replica, source } => {
            let actual = t.source_of(replica);
            check(actual.as_ref() == Some(source), || {
                format!("{replica} replicates from {actual:?}")
            })
        }
        Condition::NoSource(k) => {
            let d = server(k)?.data.as_ref();
            check(
                d.is_none_or(|d| d.master_key().is_none() && !d.is_detached()),
                || format!("{k} still has a source"),
            )
        }
        Condition::ReplicationStopped(k) => check(server(k)?.replication_stopped(), || {
            format!("replication runs on {k}")
        }),
        Condition::ReplicationRunning(k) => check(server(k)?.is_replicating(), || {
            format!("replication does not run on {k}")
        }),
        Condition::ReadOnly(k) => check(server(k)?.read_only(), || format!("{k} is writable")),
        Condition::Writable(k) => check(!server(k)?.read_only(), || format!("{k} is read-only")),
        Condition::LogsReplicaUpdates(k) => check(
            server(k)?
                .data
                .as_ref()
                .is_some_and(|d| d.is_logging_replica_updates()),
            || format!("{k} lacks log_bin or log_slave_updates"),
        ),
        Condition::Detached(k) => check(
            server(k)?.data.as_ref().is_some_and(|d| d.is_detached()),
            || format!("{k} is not detached"),
        ),
        Condition::SameExecPosition(a, b) => check(
            s.synced.contains(&(a.clone(), b.clone()))
                || s.synced.contains(&(b.clone(), a.clone())),
            || format!("nothing brought {a} and {b} to the same position"),
        ),
        Condition::ExecutedUpTo { on, capture } => {
            check(s.reached.contains(&(on.clone(), capture.clone())), || {
                format!("nothing ran {on} up to {capture}")
            })
        }
    }
}

fn apply(t: &mut Topology, s: &mut State, action: &Action) -> Result<(), String> {
    let need = |s: &State, name: &str| {
        check(s.captured.contains(name), || {
            format!("{name} is used before it is captured")
        })
    };
    match action {
        Action::StopReplica(k) => with_replication(t, k, |r| {
            r.io_thread = ThreadState::Stopped;
            r.sql_thread = ThreadState::Stopped;
        }),
        Action::StopIoThread(k) => with_replication(t, k, |r| r.io_thread = ThreadState::Stopped),
        Action::StartSqlThread(k) => {
            s.forget_positions_of(k);
            with_replication(t, k, |r| r.sql_thread = ThreadState::Running)
        }
        Action::StartReplica(k) => {
            s.forget_positions_of(k);
            let source_up = t
                .source_of(k)
                .and_then(|m| t.get(&m).map(|m| m.reachable))
                .unwrap_or(false);
            with_replication(t, k, |r| {
                r.sql_thread = ThreadState::Running;
                r.io_thread = if r.is_detached() || !source_up {
                    ThreadState::Connecting
                } else {
                    ThreadState::Running
                };
            })
        }
        Action::WaitRelayLogApplied(_) | Action::SkipQuery(_) | Action::KillQuery { .. } => Ok(()),
        Action::RunUntil { on, until } => {
            need(s, until)?;
            s.reached.insert((on.clone(), until.clone()));
            with_replication(t, on, |r| {
                r.io_thread = ThreadState::Stopped;
                r.sql_thread = ThreadState::Stopped;
            })
        }
        Action::SyncSiblings { a, b } => {
            let (ma, mb) = (t.source_of(a), t.source_of(b));
            check(ma.is_some() && ma == mb, || {
                format!("{a} and {b} do not replicate from one source")
            })?;
            s.synced.insert((a.clone(), b.clone()));
            Ok(())
        }
        Action::WaitForGtid { position, .. } => need(s, position),
        Action::ChangeSource {
            on,
            source,
            position,
            ..
        } => {
            if let Position::Captured(name) = position {
                need(s, name)?;
            }
            let address = t
                .get(source)
                .map(|m| m.address.clone())
                .ok_or_else(|| format!("{source} is not known"))?;
            s.forget_positions_of(on);
            let srv = t.get_mut(on).ok_or_else(|| format!("{on} is not known"))?;
            let data = srv.data.get_or_insert_with(Default::default);
            let old = data.replication.take().unwrap_or_default();
            data.replication = Some(ReplicationStatus {
                master_host: address.hostname().to_string(),
                master_port: address.port(),
                io_thread: ThreadState::Stopped,
                sql_thread: ThreadState::Stopped,
                using_gtid: match position {
                    Position::MariadbSlavePos => "Slave_Pos".into(),
                    Position::MariadbCurrentPos => "Current_Pos".into(),
                    _ if data.flavor == orc_model::Flavor::Mariadb => "No".into(),
                    _ => String::new(),
                },
                auto_position: *position == Position::AutoPosition,
                master_user: old.master_user,
                sql_delay: old.sql_delay,
                ..Default::default()
            });
            Ok(())
        }
        Action::DetachSource(k) => with_replication(t, k, |r| {
            if !r.master_host.starts_with("//") {
                r.master_host = format!("//{}", r.master_host);
            }
        }),
        Action::ReattachSource(k) => with_replication(t, k, |r| {
            r.master_host = r.master_host.trim_start_matches('/').to_string();
        }),
        Action::ResetReplica(k) => {
            s.forget_positions_of(k);
            let srv = t.get_mut(k).ok_or_else(|| format!("{k} is not known"))?;
            if let Some(d) = srv.data.as_mut() {
                d.replication = None;
            }
            Ok(())
        }
        Action::SetReadOnly { on, read_only } => {
            let srv = t.get_mut(on).ok_or_else(|| format!("{on} is not known"))?;
            if let Some(d) = srv.data.as_mut() {
                d.read_only = *read_only;
            }
            Ok(())
        }
        Action::Capture { name, what } => {
            capturable(t, what)?;
            s.captured.insert(name.clone());
            Ok(())
        }
        Action::DelayReplication { on, seconds } => {
            with_replication(t, on, |r| r.sql_delay = *seconds)
        }
        Action::Downtime { on, .. } => {
            if let Some(srv) = t.get_mut(on) {
                srv.downtimed = true;
            }
            Ok(())
        }
        Action::EndDowntime(k) => {
            if let Some(srv) = t.get_mut(k) {
                srv.downtimed = false;
            }
            Ok(())
        }
        Action::FlushBinaryLogs(_)
        | Action::PurgeBinaryLogs { .. }
        | Action::SetSemiSync { .. }
        | Action::InjectEmptyTransactions { .. }
        | Action::ResetMasterKeeping { .. }
        | Action::Hooks(_)
        | Action::PublishMaster(_) => Ok(()),
    }
}

fn capturable(t: &Topology, what: &Capture) -> Result<(), String> {
    let data = |k: &InstanceKey| {
        t.get(k)
            .and_then(|s| s.data.as_ref())
            .ok_or_else(|| format!("{k} has no data"))
    };
    match what {
        Capture::SelfCoordinates(k) => {
            check(data(k)?.log_bin, || format!("{k} has no binary logs"))
        }
        Capture::ExecCoordinates(k) => check(data(k)?.replication.is_some(), || {
            format!("{k} does not replicate")
        }),
        Capture::GtidExecuted(k) | Capture::GtidApplied(k) => data(k).map(|_| ()),
        Capture::PseudoGtidMatch { replica, target } => {
            check(data(target)?.log_bin, || {
                format!("{target} has no binary logs")
            })?;
            let stopped = t.get(replica).is_some_and(|s| s.replication_stopped());
            check(stopped, || format!("replication runs on {replica}"))
        }
    }
}

fn with_replication(
    t: &mut Topology,
    k: &InstanceKey,
    change: impl FnOnce(&mut ReplicationStatus),
) -> Result<(), String> {
    let srv = t.get_mut(k).ok_or_else(|| format!("{k} is not known"))?;
    if let Some(r) = srv.data.as_mut().and_then(|d| d.replication.as_mut()) {
        change(r);
    }
    Ok(())
}

//! The one executor: carries out any plan of `orc-planner`, refactoring or
//! recovery alike.
//!
//! Phases run in order; the lanes of a phase run concurrently (at most
//! `MaxConcurrentReplicaOperations` at once), each with its own
//! connections; the steps of a lane run in order. Before every step that
//! changes a server the cluster's lease is checked (a service that cannot
//! prove it still holds the lease stops), the step's preconditions are
//! checked on fresh reads, and after it the step is written down with the
//! fencing token. A step whose precondition no longer holds is not run: its
//! lane ends there, and when the lane is critical no later phase runs and
//! the plan's `on_failure` steps do (best effort). Once every phase ran, the
//! plan's expectations are checked on fresh reads for a few seconds.
//!
//! The executor decides nothing: which steps, in which order, what a
//! failure means — all of it is in the plan.

mod act;
mod check;
mod pseudo_gtid;

pub(crate) use pseudo_gtid::last_pseudo_gtid;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use orc_bus::Bus;
use orc_model::{BinlogCoordinates, InstanceKey};
use orc_mysql::Operator;
use orc_planner::{Lane, Plan, Step, Topology};
use orc_recovery_fsm::HookContext;
use orc_store::Store;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::config::RecoveryConfig;
use crate::journal::Notes;
use crate::lease::LeaseKeeper;

/// How long the plan's expectations get to hold once every phase ran.
const EXPECT_FOR: Duration = Duration::from_secs(5);

/// A value read by a capture step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    /// Binary log coordinates.
    Coordinates(BinlogCoordinates),
    /// A GTID position (flavour's text).
    Gtid(String),
}

/// Why a step did not happen or failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    /// The lease can no longer be relied on.
    #[error("{0}")]
    LeaseLost(String),
    /// A precondition no longer holds: the step did not run.
    #[error("not done, {condition} no longer holds: {why}")]
    Precondition {
        /// The condition.
        condition: String,
        /// What was read instead.
        why: String,
    },
    /// The step ran and failed.
    #[error("{0}")]
    Failed(String),
}

/// What running a plan ended with.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Why the plan stopped early (a critical lane failed), if it did.
    pub stopped: Option<String>,
    /// Servers whose move lanes completed.
    pub moved: Vec<InstanceKey>,
    /// Servers whose move lanes failed, with why.
    pub not_moved: Vec<(InstanceKey, String)>,
    /// Servers a step changed.
    pub changed: Vec<InstanceKey>,
    /// Errors that did not stop the plan (optional lanes, expectations).
    pub errors: Vec<String>,
    /// Values captured.
    pub captured: BTreeMap<String, Captured>,
}

impl Outcome {
    /// Whether every critical lane completed and, when the plan needs one,
    /// a replica moved.
    pub fn succeeded(&self, plan: &Plan) -> bool {
        self.stopped.is_none() && (!plan.needs_a_moved_replica || !self.moved.is_empty())
    }
}

/// Where the executor acts and writes.
#[derive(Clone)]
pub struct Executor {
    pub(crate) cfg: Arc<RecoveryConfig>,
    pub(crate) topology: Arc<Topology>,
    pub(crate) lease: LeaseKeeper,
    pub(crate) notes: Arc<dyn Notes>,
    pub(crate) store: Store,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) hook: Arc<Mutex<HookContext>>,
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) captured: Arc<Mutex<BTreeMap<String, Captured>>>,
    pub(crate) changed: Arc<Mutex<Vec<InstanceKey>>>,
    /// Connections opened by the reads the plan was made from: the first
    /// lane to need a server takes its connection instead of opening one.
    pub(crate) pool: Arc<Mutex<BTreeMap<InstanceKey, Operator>>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("token", &self.lease.token())
            .finish_non_exhaustive()
    }
}

/// A lane's connections, opened on first use.
#[derive(Default)]
pub(crate) struct Conns(BTreeMap<InstanceKey, Operator>);

enum LaneEnd {
    Done,
    Failed(String),
}

impl Executor {
    /// An executor acting on the servers of `topology` under `lease`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: Arc<RecoveryConfig>,
        topology: Topology,
        lease: LeaseKeeper,
        notes: Arc<dyn Notes>,
        store: Store,
        bus: Arc<dyn Bus>,
        hook: HookContext,
        credentials: Option<(String, String)>,
    ) -> Self {
        Self {
            cfg,
            topology: Arc::new(topology),
            lease,
            notes,
            store,
            bus,
            hook: Arc::new(Mutex::new(hook)),
            credentials,
            captured: Arc::new(Mutex::new(BTreeMap::new())),
            changed: Arc::new(Mutex::new(Vec::new())),
            pool: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Hands over open connections to the servers.
    pub fn with_connections(self, connections: Vec<(InstanceKey, Operator)>) -> Self {
        if let Ok(mut p) = self.pool.lock() {
            p.extend(connections);
        }
        self
    }

    /// The hook context as it stands (successor and lost replicas filled in
    /// as the plan ran).
    pub fn hook_context(&self) -> HookContext {
        self.hook
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Changes the hook context for the steps still to come.
    pub fn update_hook(&self, change: impl FnOnce(&mut HookContext)) {
        if let Ok(mut h) = self.hook.lock() {
            change(&mut h);
        }
    }

    fn note(&self, message: String) {
        self.notes.step(message);
    }

    /// Runs the plan to its end (or to its first critical failure).
    pub async fn run(&self, plan: &Plan) -> Outcome {
        let mut out = Outcome::default();
        let permits = Arc::new(Semaphore::new(self.cfg.max_concurrency));
        self.note(format!(
            "plan: {} ({} phases, fencing token {})",
            plan.summary,
            plan.phases.len(),
            self.lease.token()
        ));
        for phase in &plan.phases {
            let mut waited = Vec::new();
            for lane in &phase.lanes {
                if lane.background {
                    let me = self.clone();
                    let lane = lane.clone();
                    tokio::spawn(
                        async move {
                            if let LaneEnd::Failed(why) = me.run_lane(&lane).await {
                                me.note(format!("{}: {why}", lane.label));
                            }
                        }
                        .in_current_span(),
                    );
                } else {
                    waited.push(lane);
                }
            }
            let ends = join_all(waited.iter().map(|lane| {
                let permits = permits.clone();
                async move {
                    let _permit = permits.acquire().await;
                    self.run_lane(lane).await
                }
            }))
            .await;
            let (mut movers, mut moved) = (0, 0);
            for (lane, end) in waited.iter().zip(ends) {
                movers += usize::from(lane.moves.is_some());
                match end {
                    LaneEnd::Done => {
                        if let Some(k) = &lane.moves {
                            out.moved.push(k.clone());
                            moved += 1;
                        }
                    }
                    LaneEnd::Failed(why) => {
                        let message = format!("{}: {why}", lane.label);
                        if let Some(k) = &lane.moves {
                            out.not_moved.push((k.clone(), why.clone()));
                            self.update_hook(|h| h.lost_replicas.push(k.clone()));
                        }
                        if lane.critical {
                            out.stopped.get_or_insert(message.clone());
                        }
                        out.errors.push(message);
                        self.run_best_effort(&lane.on_failure).await;
                    }
                }
            }
            if plan.needs_a_moved_replica && movers > 0 && moved == 0 {
                out.stopped
                    .get_or_insert_with(|| "no replica could be moved".to_string());
            }
            if out.stopped.is_some() {
                break;
            }
        }
        if out.stopped.is_some() {
            self.update_hook(|h| h.is_successful = false);
            self.run_best_effort(&plan.on_failure).await;
        } else {
            out.errors.extend(self.verify(plan).await);
        }
        out.captured = self.captured.lock().map(|c| c.clone()).unwrap_or_default();
        out.changed = self.changed.lock().map(|c| c.clone()).unwrap_or_default();
        out.changed.sort();
        out.changed.dedup();
        out
    }

    async fn run_lane(&self, lane: &Lane) -> LaneEnd {
        let mut conns = Conns::default();
        let mut end = LaneEnd::Done;
        for step in &lane.steps {
            if let Err(e) = self.run_step(&mut conns, step).await {
                self.note(format!("{step}: {e}"));
                end = LaneEnd::Failed(format!("{step}: {e}"));
                break;
            }
        }
        for (_, op) in std::mem::take(&mut conns.0) {
            op.close().await;
        }
        end
    }

    async fn run_step(&self, conns: &mut Conns, step: &Step) -> Result<(), StepError> {
        let span = tracing::info_span!("step", step = %step, error = tracing::field::Empty);
        let result = self
            .run_step_inner(conns, step)
            .instrument(span.clone())
            .await;
        if let Err(e) = &result {
            span.record("error", tracing::field::display(e));
        }
        result
    }

    async fn run_step_inner(&self, conns: &mut Conns, step: &Step) -> Result<(), StepError> {
        if step.action.changes_a_server() {
            self.lease
                .fence()
                .map_err(|e| StepError::LeaseLost(e.to_string()))?;
        }
        self.check_all(conns, &step.preconditions).await?;
        self.act(conns, &step.action).await?;
        if step.action.changes_a_server()
            && let Ok(mut c) = self.changed.lock()
        {
            c.extend(step.action.servers().into_iter().cloned());
        }
        self.note(format!("done: {step} (token {})", self.lease.token()));
        Ok(())
    }

    async fn run_best_effort(&self, steps: &[Step]) {
        let mut conns = Conns::default();
        for step in steps {
            if let Err(e) = self.run_step(&mut conns, step).await {
                self.note(format!("{step}: {e}"));
            }
        }
        for (_, op) in std::mem::take(&mut conns.0) {
            op.close().await;
        }
    }

    /// Waits up to [`EXPECT_FOR`] for the plan's expectations; returns the
    /// ones that do not hold.
    async fn verify(&self, plan: &Plan) -> Vec<String> {
        if plan.expect.is_empty() {
            return Vec::new();
        }
        let deadline = tokio::time::Instant::now() + EXPECT_FOR;
        let mut conns = Conns::default();
        let unmet = loop {
            let mut unmet = Vec::new();
            for c in &plan.expect {
                if let Err(e) = self.check_all(&mut conns, std::slice::from_ref(c)).await {
                    unmet.push(format!("expected {c}: {e}"));
                }
            }
            if unmet.is_empty() || tokio::time::Instant::now() >= deadline {
                break unmet;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        for (_, op) in std::mem::take(&mut conns.0) {
            op.close().await;
        }
        unmet
    }

    /// The connection of a lane to a server.
    pub(crate) async fn conn<'c>(
        &self,
        conns: &'c mut Conns,
        key: &InstanceKey,
    ) -> Result<&'c mut Operator, StepError> {
        if !conns.0.contains_key(key)
            && let Some(op) = self.pool.lock().ok().and_then(|mut p| p.remove(key))
        {
            conns.0.insert(key.clone(), op);
        }
        if !conns.0.contains_key(key) {
            let address = self
                .topology
                .get(key)
                .map_or_else(|| key.clone(), |s| s.address.clone());
            let op = Operator::connect(address.clone(), &self.cfg.connect_options(&address))
                .await
                .map_err(|e| StepError::Failed(format!("cannot connect to {key}: {e}")))?;
            conns.0.insert(key.clone(), op);
        }
        conns
            .0
            .get_mut(key)
            .ok_or_else(|| StepError::Failed(format!("no connection to {key}")))
    }

    /// Forgets a broken connection so the next use reconnects.
    pub(crate) fn drop_conn(conns: &mut Conns, key: &InstanceKey) {
        conns.0.remove(key);
    }

    pub(crate) fn capture_value(&self, name: &str) -> Result<Captured, StepError> {
        self.captured
            .lock()
            .ok()
            .and_then(|c| c.get(name).cloned())
            .ok_or_else(|| StepError::Failed(format!("{name} was not captured")))
    }

    pub(crate) fn store_capture(&self, name: &str, value: Captured) {
        if let Ok(mut c) = self.captured.lock() {
            c.insert(name.to_string(), value);
        }
    }

    /// Where a server is reached.
    pub(crate) fn address(&self, key: &InstanceKey) -> InstanceKey {
        self.topology
            .get(key)
            .map_or_else(|| key.clone(), |s| s.address.clone())
    }
}

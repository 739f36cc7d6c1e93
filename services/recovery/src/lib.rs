//! The recovery service: the only component that changes a topology.
//!
//! It follows the durable stream of findings and answers operator commands
//! (recover, takeovers, forced failovers). Decisions about *whether* to act
//! belong to the per-cluster state machine of `orc-recovery-fsm` (one
//! [`RecoveryBook`] owned by the main loop); this crate carries out its
//! actions — take the cluster's lease ([`lease`]), read the admission facts
//! from the store and a fresh cluster brief from the analyzers ([`brief`]),
//! run the procedure ([`procedures`]: master, co-master and intermediate
//! master failover, graceful takeover) through `orc-mysql`, run hooks
//! ([`hooks`]), write the audit trail stamped with the lease's fencing
//! token ([`journal`]) — and feeds the results back to the book.
//!
//! Several recovery services may run: each sees every finding; the cluster
//! lease (JetStream KV, or in-process) lets one act, and the store tells the
//! others the detection was already answered. Old masters that come back
//! writable while lost in recovery are made read-only (split-brain
//! fencing). Entry point: [`run`].

pub mod brief;
mod commands;
pub mod config;
mod errant;
pub mod executor;
pub mod facts;
mod fence;
pub mod hooks;
pub mod journal;
pub mod lease;
mod operations;
pub mod procedures;
pub mod servers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orc_analysis::Analysis;
use orc_bus::{Bus, StartAt, subjects};
use orc_model::{DetectionRecord, InstanceKey, RecoveryRecord};
use orc_proto::v1 as wire;
use orc_recovery_fsm::{
    Action, Admission, BookPolicy, Event, Handler, HookStage, RecoveryBook, SkipReason, Trigger,
    cluster_filter_matches,
};
use orc_runtime::wall_clock;
use orc_store::Store;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub use config::RecoveryConfig;

use brief::Brief;
use lease::LeaseKeeper;

/// Why the recovery service stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] orc_bus::Error),
}

/// An operator command waiting for its run.
#[derive(Debug)]
pub(crate) struct Request {
    pub kind: wire::RecoveryCommandKind,
    pub designated: Option<InstanceKey>,
    pub reply: oneshot::Sender<wire::RecoveryCommandReply>,
}

/// State shared by the loop and the tasks carrying out actions.
pub(crate) struct Ctx {
    pub cfg: RecoveryConfig,
    pub bus: Arc<dyn Bus>,
    pub store: Store,
    pub events: mpsc::UnboundedSender<Event>,
    pub leases: Mutex<HashMap<String, LeaseKeeper>>,
    pub requests: Mutex<HashMap<String, Request>>,
    pub briefs: Mutex<HashMap<String, Brief>>,
    pub findings: Mutex<HashMap<String, Analysis>>,
    pub detections: Mutex<HashMap<String, watch::Receiver<bool>>>,
    pub traces: Mutex<Traces>,
    pub tracker: TaskTracker,
}

/// The span of each incident being handled (the root of its recovery's
/// trace in this process: a child of the analyzer's verdict, or of the
/// operator's request), and which incident each cluster is handling.
#[derive(Default)]
pub(crate) struct Traces {
    by_incident: HashMap<String, (tracing::Span, orc_model::Timestamp)>,
    by_cluster: HashMap<String, String>,
}

fn take<K: std::hash::Hash + Eq, V>(m: &Mutex<HashMap<K, V>>, k: &K) -> Option<V> {
    m.lock().ok().and_then(|mut m| m.remove(k))
}

fn put<K: std::hash::Hash + Eq, V>(m: &Mutex<HashMap<K, V>>, k: K, v: V) {
    if let Ok(mut m) = m.lock() {
        m.insert(k, v);
    }
}

impl Ctx {
    fn send(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Opens the span of `t` (child of the remote context in `parent`);
    /// `detected_at` starts the finding→recovered clock.
    pub(crate) fn open_trace<'a>(
        &self,
        t: &Trigger,
        detected_at: orc_model::Timestamp,
        parent: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let span = tracing::info_span!(
            "recovery",
            recovery_id = tracing::field::Empty,
            incident = %t.incident,
            cluster = %t.cluster,
            instance = %t.instance,
            analysis = %t.code,
        );
        orc_telemetry::propagation::set_parent(&span, parent);
        if let Ok(mut traces) = self.traces.lock() {
            traces
                .by_incident
                .insert(t.incident.clone(), (span, detected_at));
            traces
                .by_cluster
                .entry(t.cluster.clone())
                .or_insert_with(|| t.incident.clone());
        }
    }

    /// The span of an incident (a disabled span when it has none).
    pub(crate) fn trace_of(&self, incident: &str) -> tracing::Span {
        self.traces
            .lock()
            .ok()
            .and_then(|t| t.by_incident.get(incident).map(|(s, _)| s.clone()))
            .unwrap_or_else(tracing::Span::none)
    }

    /// When an incident's failure was detected.
    pub(crate) fn detected_at(&self, incident: &str) -> Option<orc_model::Timestamp> {
        self.traces
            .lock()
            .ok()?
            .by_incident
            .get(incident)
            .map(|(_, at)| *at)
    }

    fn trace_of_cluster(&self, cluster: &str) -> tracing::Span {
        let incident = self
            .traces
            .lock()
            .ok()
            .and_then(|t| t.by_cluster.get(cluster).cloned());
        incident.map_or_else(tracing::Span::none, |i| self.trace_of(&i))
    }

    /// Ends an incident's span; returns when it was detected.
    fn close_trace(&self, t: &Trigger) -> Option<orc_model::Timestamp> {
        let mut traces = self.traces.lock().ok()?;
        if traces.by_cluster.get(&t.cluster) == Some(&t.incident) {
            traces.by_cluster.remove(&t.cluster);
        }
        traces.by_incident.remove(&t.incident).map(|(_, at)| at)
    }

    /// The lease held for a cluster.
    pub(crate) fn lease(&self, cluster: &str) -> Option<LeaseKeeper> {
        self.leases.lock().ok()?.get(cluster).cloned()
    }

    fn trigger_from_finding(&self, msg: &orc_bus::Message) -> Option<Trigger> {
        let f = orc_bus::decode::<wire::Finding>(&msg.subject, &msg.payload).ok()?;
        let now = wall_clock();
        let detected_at = orc_model::Timestamp::from_millis(f.detected_at_ms);
        let age = now.since(detected_at);
        orc_telemetry::metrics::bus_lag("findings", age.as_secs_f64());
        if age > self.cfg.max_finding_age {
            return None;
        }
        let handler = Handler::for_code(&f.code)?;
        let analysis = match orc_proto::analysis::finding_analysis(&f) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(incident = %f.incident_id, error = %e, "finding ignored: unreadable analysis");
                return None;
            }
        };
        let instance = f
            .instance
            .as_ref()
            .and_then(|k| InstanceKey::try_from(k).ok())?;
        put(&self.findings, f.incident_id.clone(), analysis);
        let trigger = Trigger {
            incident: f.incident_id,
            detection_id: f.detection_id,
            cluster: f.cluster,
            instance,
            code: f.code,
            handler,
            forced: false,
            actionable: f.actionable,
            skippable: f.skippable,
            command: String::new(),
            received_at: now,
            designated: None,
        };
        self.open_trace(&trigger, detected_at, msg.trace_pairs());
        Some(trigger)
    }

    fn perform(self: &Arc<Self>, actions: Vec<Action>) {
        for action in actions {
            let ctx = self.clone();
            match action {
                Action::RegisterDetection(t) => {
                    let (done, wait) = watch::channel(false);
                    put(&self.detections, t.incident.clone(), wait);
                    let span =
                        tracing::info_span!(parent: &self.trace_of(&t.incident), "detection");
                    self.tracker.spawn(
                        async move {
                            ctx.register_detection(&t).await;
                            let _ = done.send(true);
                        }
                        .instrument(span),
                    );
                }
                Action::AcquireLease { cluster } => {
                    let span =
                        tracing::info_span!(parent: &self.trace_of_cluster(&cluster), "lease");
                    self.tracker
                        .spawn(async move { ctx.acquire(cluster).await }.instrument(span));
                }
                Action::Admit { trigger, .. } => {
                    let span =
                        tracing::info_span!(parent: &self.trace_of(&trigger.incident), "admission");
                    self.tracker.spawn(
                        async move {
                            let admission = ctx.admit(&trigger).await;
                            ctx.send(Event::Admitted {
                                cluster: trigger.cluster.clone(),
                                admission,
                            });
                        }
                        .instrument(span),
                    );
                }
                Action::Run { trigger, .. } => {
                    let span = self.trace_of(&trigger.incident);
                    self.tracker.spawn(
                        async move {
                            procedures::run(&ctx, &trigger).await;
                            take(&ctx.findings, &trigger.incident);
                            take(&ctx.detections, &trigger.incident);
                            ctx.close_trace(&trigger);
                            ctx.send(Event::Finished {
                                cluster: trigger.cluster.clone(),
                            });
                        }
                        .instrument(span),
                    );
                }
                Action::RecordBlocked {
                    trigger,
                    blocking_uid,
                } => {
                    tracing::warn!(
                        cluster = %trigger.cluster,
                        instance = %trigger.instance,
                        analysis = %trigger.code,
                        blocking = %blocking_uid,
                        "recovery blocked by an earlier one (RecoveryPeriodBlockSeconds); acknowledge it to allow this one"
                    );
                    take(&self.briefs, &trigger.incident);
                    self.close_trace(&trigger);
                    self.tracker.spawn(async move {
                        let b = orc_model::BlockedRecovery {
                            failed: trigger.instance.clone(),
                            cluster: trigger.cluster.clone(),
                            analysis: trigger.code.clone(),
                            blocked_at: wall_clock(),
                            blocking_uid,
                        };
                        if let Err(e) = ctx.store.recoveries().record_blocked(&b).await {
                            tracing::error!(error = %e, "blocked recovery not recorded");
                        }
                    });
                }
                Action::Skipped { trigger, reason } => {
                    take(&self.briefs, &trigger.incident);
                    let span = self.trace_of(&trigger.incident);
                    let _entered = span.enter();
                    self.close_trace(&trigger);
                    if let SkipReason::FactsUnreadable(_) = &reason
                        && !trigger.forced
                    {
                        tracing::error!(
                            cluster = %trigger.cluster,
                            instance = %trigger.instance,
                            analysis = %trigger.code,
                            "no automated recovery: {reason}"
                        );
                        let ctx = self.clone();
                        let (t, why) = (trigger.clone(), reason.to_string());
                        self.tracker.spawn(async move {
                            procedures::publish_refusal(&ctx, &t, &why).await;
                        });
                    }
                    if reason != SkipReason::NotActionable && reason != SkipReason::Duplicate {
                        tracing::info!(
                            cluster = %trigger.cluster,
                            instance = %trigger.instance,
                            analysis = %trigger.code,
                            "no recovery: {reason}"
                        );
                    }
                    if let Some(req) = take(&self.requests, &trigger.incident) {
                        let kind = match reason {
                            SkipReason::NoLongerFailing => "not_found",
                            SkipReason::LeaseUnavailable | SkipReason::FactsUnreadable(_) => {
                                "unavailable"
                            }
                            _ => "refused",
                        };
                        let _ = req.reply.send(commands::failure(
                            kind,
                            format!("Recovery not attempted: {reason}"),
                        ));
                    }
                }
                Action::CloseInterrupted { cluster, uids, by } => {
                    let token = self.lease(&cluster).map(|l| l.token()).unwrap_or_default();
                    self.tracker.spawn(async move {
                        ctx.close_interrupted(&uids, &by, token).await;
                    });
                }
                Action::ReleaseLease { cluster } => {
                    if let Some(keeper) = take(&self.leases, &cluster) {
                        self.tracker
                            .spawn(async move { keeper.release(&*ctx.bus).await });
                    }
                }
            }
        }
    }

    async fn acquire(self: Arc<Self>, cluster: String) {
        let spec = lease::spec(self.cfg.lease_ttl);
        let name = orc_bus::lease_key(&cluster);
        match self
            .bus
            .lease_acquire(&spec, &name, &self.cfg.node_id)
            .await
        {
            Ok(Some(l)) => {
                let token = l.revision;
                orc_telemetry::metrics::lease_taken(spec.bucket);
                let keeper = LeaseKeeper::start(self.bus.clone(), spec, l);
                put(&self.leases, cluster.clone(), keeper);
                self.send(Event::LeaseGranted { cluster, token });
            }
            Ok(None) => self.send(Event::LeaseBusy { cluster }),
            Err(e) => {
                tracing::warn!(cluster = %cluster, error = %e, "cluster lease not acquired");
                self.send(Event::LeaseBusy { cluster });
            }
        }
    }

    /// Reads what the book needs to judge a trigger, under the lease.
    async fn admit(&self, t: &Trigger) -> Admission {
        let now = wall_clock();
        let takeover = matches!(
            t.command.as_str(),
            "graceful-master-takeover"
                | "graceful-master-takeover-auto"
                | "force-master-failover"
                | "force-master-takeover"
        );
        let brief = brief::fetch_known(&*self.bus, &self.store, Some(&t.instance), "").await;
        let mut a = Admission::default();
        match &brief {
            Ok(b) => {
                let fresh = b.analysis(&t.instance);
                a.still_failing = takeover
                    || fresh.is_some_and(|f| {
                        let h = Handler::for_code(f.code.as_str());
                        if t.forced {
                            h.is_some_and(Handler::acts)
                        } else {
                            h == Some(t.handler)
                        }
                    });
                let alias = self.cfg.cluster_alias(&b.cluster, &b.detected_alias());
                let filters = if t.handler == Handler::DeadIntermediateMaster {
                    &self.cfg.intermediate_master_filters
                } else {
                    &self.cfg.master_filters
                };
                a.filters_match = cluster_filter_matches(filters, &b.cluster, &alias);
            }
            Err(e) => {
                tracing::warn!(cluster = %t.cluster, error = %e, "no fresh view of the cluster");
                a.still_failing = false;
            }
        }
        let repo = self.store.recoveries();
        // Every fact comes from the store; an error is never read as
        // "enabled, nothing blocking, not downtimed".
        let mut unreadable = Vec::new();
        match repo.globally_disabled().await {
            Ok(d) => a.globally_disabled = d,
            Err(e) => unreadable.push(format!("global recovery switch: {e}")),
        }
        match repo.blocking(None, now).await {
            Ok(all) => {
                let cluster_alias = brief
                    .as_ref()
                    .map(|b| self.cfg.cluster_alias(&b.cluster, &b.detected_alias()))
                    .unwrap_or_default();
                a.blocking = all
                    .iter()
                    .find(|r| {
                        r.cluster == t.cluster
                            || r.successor.as_ref() == Some(&t.instance)
                            || (!cluster_alias.is_empty() && r.cluster_alias == cluster_alias)
                    })
                    .map(|r| (r.uid.clone(), r.block_until));
            }
            Err(e) => unreadable.push(format!("blocking recoveries: {e}")),
        }
        match repo.list(Some(&t.cluster)).await {
            Ok(list) => {
                // We hold the cluster's lease and run nothing for it: a
                // recovery still marked active was left by a service that
                // died in the middle.
                let interrupted: Vec<_> = list.iter().filter(|r| r.is_active).collect();
                a.interrupted = interrupted.iter().map(|r| r.uid.clone()).collect();
                a.interrupted_successor = interrupted.iter().find_map(|r| {
                    orc_proto::plan::from_recorded(&r.decision_json).and_then(|p| p.successor)
                });
                if !t.forced && !t.detection_id.is_empty() {
                    a.already_recovered = list
                        .iter()
                        .find(|r| r.detection_id == t.detection_id && !r.is_active)
                        .map(|r| r.uid.clone());
                }
            }
            Err(e) => unreadable.push(format!("earlier recoveries: {e}")),
        }
        match self.store.metadata().get(&t.instance).await {
            Ok(m) => a.downtimed = m.is_downtimed(now),
            Err(e) => unreadable.push(format!("downtime: {e}")),
        }
        if !unreadable.is_empty() {
            a.unreadable = Some(unreadable.join("; "));
        }
        if let Ok(b) = brief {
            put(&self.briefs, t.incident.clone(), b);
        }
        a
    }

    /// Ends recoveries whose service died before finishing them: inactive,
    /// unsuccessful, the reason in their errors and steps.
    async fn close_interrupted(&self, uids: &[String], by: &str, token: u64) {
        let repo = self.store.recoveries();
        for uid in uids {
            let mut record = match repo.get(uid).await {
                Ok(Some(r)) if r.is_active => r,
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(uid = %uid, error = %e, "interrupted recovery not read");
                    continue;
                }
            };
            let now = wall_clock();
            let why = format!(
                "interrupted: {} stopped before finishing (its lease lapsed); closed by {} answering {by}",
                record.processing_node, self.cfg.node_id
            );
            tracing::warn!(uid = %uid, cluster = %record.cluster, "{why}");
            record.is_active = false;
            record.is_successful = false;
            record.ended_at = Some(now);
            record.errors.push(why.clone());
            // Killed after its promotion: the audit names the successor
            // that is master now (the closer acts on nothing here).
            let promoted = self.promoted_successor(&record).await;
            if let Some(successor) = &promoted {
                record.successor = Some(successor.clone());
            }
            if let Err(e) = repo.update(&record).await {
                tracing::error!(uid = %uid, error = %e, "interrupted recovery not closed");
                continue;
            }
            let _ = repo.add_step(uid, now, token, &why).await;
            if let Some(successor) = promoted {
                let note = format!(
                    "{successor}, its planned successor, was promoted before the interruption: it is the cluster's writable master"
                );
                let _ = repo.add_step(uid, now, token, &note).await;
            }
            procedures::publish_event(self, &record, "finished").await;
        }
    }

    /// The successor an interrupted recovery had planned, when the
    /// analyzer now shows it as its cluster's reachable, writable master.
    async fn promoted_successor(&self, record: &RecoveryRecord) -> Option<InstanceKey> {
        let planned = orc_proto::plan::from_recorded(&record.decision_json)?.successor?;
        let brief = brief::fetch(&*self.bus, Some(&planned), "").await.ok()?;
        let master = brief.master()?;
        (master.key == planned && master.last_check_valid && !master.is_read_only)
            .then_some(planned)
    }

    async fn register_detection(&self, t: &Trigger) {
        let Some(analysis) = self
            .findings
            .lock()
            .ok()
            .and_then(|m| m.get(&t.incident).cloned())
        else {
            return;
        };
        let record = DetectionRecord {
            id: 0,
            detection_id: t.detection_id.clone(),
            instance: t.instance.clone(),
            cluster: t.cluster.clone(),
            analysis: t.code.clone(),
            is_actionable: t.actionable,
            detected_at: wall_clock(),
            analysis_json: serde_json::to_string(&analysis).unwrap_or_default(),
        };
        match self.store.recoveries().register_detection(&record).await {
            Ok(true) => {
                let manual = self
                    .store
                    .clusters()
                    .alias_overrides()
                    .await
                    .ok()
                    .and_then(|m| m.get(&t.cluster).cloned());
                let alias = manual.unwrap_or_else(|| self.cfg.cluster_alias(&t.cluster, ""));
                let ctx = procedures::hook_context(&self.cfg, &analysis, &alias, "", "", "");
                let _ = hooks::run(&self.cfg, HookStage::OnFailureDetection, &ctx, None).await;
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "failure detection not registered"),
        }
    }
}

/// Runs a recovery service until `shutdown` is cancelled.
pub async fn run(
    cfg: RecoveryConfig,
    bus: Arc<dyn Bus>,
    store: Store,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let mut cfg = cfg;
    if !cfg.nats_kv_bucket.is_empty() {
        match orc_kv::NatsKv::new(bus.clone(), &cfg.nats_kv_bucket) {
            Ok(store) => cfg.kv = cfg.kv.clone().with_store(Arc::new(store)),
            // Validated with the configuration.
            Err(e) => tracing::error!(error = %e, "masters are not published to NATS KV"),
        }
    }
    let mut findings = bus
        .follow_durable(&subjects::FINDINGS_STREAM, StartAt::All)
        .await?;
    let mut commands_sub = bus
        .queue_subscribe(subjects::RECOVERY_COMMAND, subjects::RECOVERIES)
        .await?;
    let mut operations_sub = bus
        .queue_subscribe(subjects::TOPOLOGY_OPERATION, subjects::RECOVERIES)
        .await?;
    let mut retries = bus.subscribe(subjects::RECOVERY_RETRY).await?;
    bus.flush().await?;
    // Open (or create) the lease bucket now: creating it in a failover's
    // path costs a cluster round of its own (half a second on a 3-node
    // NATS cluster). Failing here is not fatal: acquiring retries.
    if let Err(e) = bus
        .lease_holder(&lease::spec(cfg.lease_ttl), "startup")
        .await
    {
        tracing::warn!(error = %e, "cluster lease bucket not opened yet");
    }
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let tracker = TaskTracker::new();
    let ctx = Arc::new(Ctx {
        cfg: cfg.clone(),
        bus: bus.clone(),
        store,
        events: events_tx,
        leases: Mutex::new(HashMap::new()),
        requests: Mutex::new(HashMap::new()),
        briefs: Mutex::new(HashMap::new()),
        findings: Mutex::new(HashMap::new()),
        detections: Mutex::new(HashMap::new()),
        traces: Mutex::new(Traces::default()),
        tracker: tracker.clone(),
    });
    let mut book = RecoveryBook::new(BookPolicy {
        lease_retry_every: Duration::from_millis(100),
        lease_patience: (cfg.lease_ttl * 3).max(Duration::from_secs(60)),
        remember_blocked_for: cfg.block_period.max(Duration::from_secs(3600)),
    });
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut fence_tick = tokio::time::interval(fence::EVERY);
    fence_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let fencing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fencer = Arc::new(fence::Fencer::default());
    tracing::info!(node = %cfg.node_id, "recovery service started");
    loop {
        let actions = tokio::select! {
            () = shutdown.cancelled() => break,
            Some(msg) = findings.next() => match ctx.trigger_from_finding(&msg) {
                Some(t) => book.handle(Event::Triggered(t), wall_clock()),
                None => Vec::new(),
            },
            Some(msg) = commands_sub.next() => {
                let ctx = ctx.clone();
                tracker.spawn(async move { commands::handle(&ctx, msg).await });
                Vec::new()
            }
            Some(msg) = operations_sub.next() => {
                let ctx = ctx.clone();
                tracker.spawn(async move { operations::handle(&ctx, msg).await });
                Vec::new()
            }
            Some(msg) = retries.next() => {
                let cluster = orc_bus::decode::<wire::RecoveryRetry>(&msg.subject, &msg.payload)
                    .ok()
                    .map(|r| r.cluster)
                    .filter(|c| !c.is_empty());
                book.handle(Event::Retry { cluster }, wall_clock())
            }
            Some(ev) = events.recv() => book.handle(ev, wall_clock()),
            _ = tick.tick() => book.handle(Event::Tick, wall_clock()),
            _ = fence_tick.tick() => {
                // One pass at a time, off the loop.
                if !fencing.swap(true, std::sync::atomic::Ordering::AcqRel) {
                    let (ctx, fencing, fencer) = (ctx.clone(), fencing.clone(), fencer.clone());
                    tracker.spawn(async move {
                        fence::pass(&ctx, &fencer).await;
                        fencing.store(false, std::sync::atomic::Ordering::Release);
                    });
                }
                Vec::new()
            }
        };
        ctx.perform(actions);
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(30), tracker.wait()).await;
    let keepers: Vec<LeaseKeeper> = ctx
        .leases
        .lock()
        .map(|mut m| m.drain().map(|(_, k)| k).collect())
        .unwrap_or_default();
    for k in keepers {
        k.release(&*bus).await;
    }
    tracing::info!(node = %cfg.node_id, "recovery service stopped");
    Ok(())
}

//! Recoveries run under the cluster's lease, as plans: the trigger (a
//! finding, or an operator's command) names an intent, the facts are read
//! fresh, `orc-planner` makes the plan, the executor carries it out. This
//! module keeps the books around it — the recovery record and its journal,
//! hook context, events, the answer to the operator who asked — and
//! decides nothing about the topology.

use std::sync::Arc;
use tracing::Instrument as _;

use orc_analysis::{Analysis, AnalysisCode};
use orc_bus::subjects;
use orc_model::{InstanceKey, RecoveryKind, RecoveryRecord};
use orc_planner::{Intent, Plan, PlanError, Refusal};
use orc_proto::v1 as wire;
use orc_recovery_fsm::{Handler, HookContext, HookStage, Trigger, cluster_filter_matches};
use orc_runtime::wall_clock;

use crate::brief::Brief;
use crate::commands;
use crate::config::RecoveryConfig;
use crate::executor::Executor;
use crate::facts::{self, Wait};
use crate::hooks;
use crate::journal::Journal;
use crate::lease::LeaseKeeper;
use crate::{Ctx, Request, take};

/// How long a recovery waits for its record to be stored before acting.
const RECORD_BEFORE_ACTING: std::time::Duration = std::time::Duration::from_millis(500);

/// What a procedure ended with.
#[derive(Debug)]
pub(crate) enum Ended {
    /// A recovery ran (successfully or not) and was recorded, with the plan
    /// it ran (none when no plan could be made).
    Recorded(Box<RecoveryRecord>, Option<Box<Plan>>),
    /// Refused before anything changed.
    Refused(&'static str, String),
}

/// The hook context of an analysis.
pub fn hook_context(
    cfg: &RecoveryConfig,
    a: &Analysis,
    alias: &str,
    domain: &str,
    command: &str,
    uid: &str,
) -> HookContext {
    let cluster = a.cluster.to_string();
    let instance_type = if a.is_co_master {
        "co-master"
    } else if a.is_master {
        "master"
    } else {
        "intermediate-master"
    };
    HookContext {
        failure_type: a.code.as_str().to_string(),
        instance_type: instance_type.to_string(),
        is_master: a.is_master,
        is_co_master: a.is_co_master,
        failure_description: a.description.clone(),
        command: command.to_string(),
        cluster: cluster.clone(),
        cluster_alias: alias.to_string(),
        cluster_domain: domain.to_string(),
        replicas: a.replicas.clone(),
        is_downtimed: a.is_downtimed,
        auto_master_recovery: cluster_filter_matches(&cfg.master_filters, &cluster, alias),
        auto_intermediate_master_recovery: cluster_filter_matches(
            &cfg.intermediate_master_filters,
            &cluster,
            alias,
        ),
        orchestrator_host: cfg.hostname.clone(),
        recovery_uid: uid.to_string(),
        ..HookContext::new(a.key.clone())
    }
}

fn new_uid(node: &str, cluster: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{node}|{cluster}|{nanos}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{nanos}:{h:016x}")
}

pub(crate) async fn publish_event(ctx: &Ctx, r: &RecoveryRecord, phase: &str) {
    let ev = wire::RecoveryEvent {
        uid: r.uid.clone(),
        cluster: r.cluster.clone(),
        failed: Some((&r.failed).into()),
        successor: r.successor.as_ref().map(Into::into),
        participants: r.participating.iter().map(Into::into).collect(),
        phase: phase.to_string(),
        successful: r.is_successful,
        fencing_token: r.lease_revision,
        reason: r.errors.last().cloned().unwrap_or_default(),
    };
    if let Err(e) = ctx
        .bus
        .publish(subjects::RECOVERY_EVENTS, orc_bus::encode(&ev))
        .await
    {
        tracing::warn!(error = %e, "recovery event not published");
    }
}

/// Publishes that a recovery was not attempted, and why (when the store
/// cannot take a record, the event and the log are the record).
pub(crate) async fn publish_refusal(ctx: &Ctx, t: &Trigger, why: &str) {
    let ev = wire::RecoveryEvent {
        cluster: t.cluster.clone(),
        failed: Some((&t.instance).into()),
        phase: "refused".into(),
        reason: why.to_string(),
        ..Default::default()
    };
    let _ = ctx
        .bus
        .publish(subjects::RECOVERY_EVENTS, orc_bus::encode(&ev))
        .await;
}

/// Runs the recovery of a trigger and answers the operator, if one asked.
pub(crate) async fn run(ctx: &Ctx, t: &Trigger) {
    let request = take(&ctx.requests, &t.incident);
    let brief = match take(&ctx.briefs, &t.incident) {
        Some(b) => Ok(b),
        None => crate::brief::fetch_known(&*ctx.bus, &ctx.store, Some(&t.instance), "").await,
    };
    let lease = ctx.lease(&t.cluster);
    let ended = match (brief, lease) {
        (Err(e), _) => Ended::Refused("unavailable", e.to_string()),
        (_, None) => Ended::Refused("failed", "the cluster's lease is not held".into()),
        (Ok(brief), Some(lease)) => {
            // Detection hooks of the finding come first.
            let wait = ctx
                .detections
                .lock()
                .ok()
                .and_then(|m| m.get(&t.incident).cloned());
            if let Some(mut w) = wait {
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(600), w.wait_for(|d| *d))
                        .await;
            }
            recover(ctx, t, &request, &brief, &lease).await
        }
    };
    if let Some(req) = request {
        let reply = match ended {
            Ended::Recorded(record, plan) => commands::recorded(&record, plan.as_deref()),
            Ended::Refused(kind, why) => commands::failure(kind, why),
        };
        let _ = req.reply.send(reply);
    } else if let Ended::Refused(_, why) = ended {
        tracing::error!(cluster = %t.cluster, instance = %t.instance, "recovery not attempted: {why}");
        publish_refusal(ctx, t, &why).await;
    }
}

/// The intent of a trigger, the kind of recovery it records, and the
/// analysis it answers.
pub(crate) fn intent_of(
    kind: Option<wire::RecoveryCommandKind>,
    instance: &InstanceKey,
    designated: Option<InstanceKey>,
    brief: &Brief,
) -> Result<(Intent, RecoveryKind, Analysis), (&'static str, String)> {
    use wire::RecoveryCommandKind as K;
    if let Some(k @ (K::GracefulMasterTakeover | K::GracefulMasterTakeoverAuto)) = kind {
        let Some(master) = brief.master().cloned() else {
            return Err((
                "not_found",
                format!("cluster {} has no master", brief.cluster),
            ));
        };
        let intent = Intent::GracefulTakeover {
            master: master.key.clone(),
            designated,
            auto: k == K::GracefulMasterTakeoverAuto,
        };
        let analysis = Analysis {
            code: AnalysisCode::DeadMaster,
            ..master
        };
        return Ok((intent, RecoveryKind::MasterRecovery, analysis));
    }
    let Some(analysis) = brief.analysis(instance).cloned() else {
        return Err(("not_found", format!("{instance} is not in the analysis")));
    };
    let forced_master = matches!(kind, Some(K::ForceMasterFailover | K::ForceMasterTakeover));
    let code = if forced_master {
        AnalysisCode::DeadMaster
    } else {
        analysis.code
    };
    let lite = kind == Some(K::RecoverLite);
    let handler = Handler::for_code(code.as_str());
    let intent = handler
        .and_then(|h| Intent::recovery(h, instance.clone(), designated, lite))
        .ok_or_else(|| {
            (
                "refused",
                format!(
                    "Recovery not attempted: {} on {instance} has no recovery",
                    analysis.code
                ),
            )
        })?;
    let recorded = match handler {
        Some(Handler::DeadIntermediateMaster) => RecoveryKind::IntermediateMasterRecovery,
        Some(Handler::DeadCoMaster) => RecoveryKind::CoMasterRecovery,
        _ => RecoveryKind::MasterRecovery,
    };
    Ok((intent, recorded, Analysis { code, ..analysis }))
}

/// Maps a planner refusal to the reply kinds operators see.
pub(crate) fn refusal_kind(e: &PlanError) -> &'static str {
    match e {
        PlanError::Unknown(_) => "not_found",
        PlanError::Refused {
            kind: Refusal::Invalid | Refusal::Placement,
            ..
        } => "invalid",
        PlanError::Refused {
            kind: Refusal::Unreachable,
            ..
        } => "unavailable",
        _ => "refused",
    }
}

fn new_record(
    ctx: &Ctx,
    t: &Trigger,
    brief: &Brief,
    analysis: &Analysis,
    lease: &LeaseKeeper,
    kind: RecoveryKind,
) -> RecoveryRecord {
    let now = wall_clock();
    let alias = ctx
        .cfg
        .cluster_alias(&brief.cluster, &brief.detected_alias());
    RecoveryRecord {
        id: 0,
        uid: new_uid(&ctx.cfg.node_id, &brief.cluster),
        cluster: brief.cluster.clone(),
        cluster_alias: alias,
        failed: analysis.key.clone(),
        analysis: analysis.code.as_str().to_string(),
        analysis_json: serde_json::to_string(analysis).unwrap_or_default(),
        kind,
        recovery_type: String::new(),
        command_hint: t.command.clone(),
        is_active: true,
        is_successful: false,
        successor: None,
        successor_alias: String::new(),
        lost_replicas: Vec::new(),
        participating: Vec::new(),
        errors: Vec::new(),
        started_at: now,
        ended_at: None,
        block_until: now.plus(ctx.cfg.block_period),
        acknowledged: false,
        acknowledged_at: None,
        acknowledged_by: String::new(),
        acknowledged_comment: String::new(),
        processing_node: ctx.cfg.node_id.clone(),
        lease_revision: lease.token(),
        detection_id: t.detection_id.clone(),
        decision_json: String::new(),
    }
}

/// Registers a detection for an operator's recovery and runs the detection
/// hooks (automated findings registered theirs on arrival).
async fn operator_detection(
    ctx: &Ctx,
    record: &RecoveryRecord,
    hook: Option<&HookContext>,
    journal: &Journal,
) {
    let d = orc_model::DetectionRecord {
        id: 0,
        detection_id: record.uid.clone(),
        instance: record.failed.clone(),
        cluster: record.cluster.clone(),
        analysis: record.analysis.clone(),
        is_actionable: true,
        detected_at: wall_clock(),
        analysis_json: record.analysis_json.clone(),
    };
    if let Err(e) = ctx.store.recoveries().register_detection(&d).await {
        tracing::warn!(error = %e, "failure detection not registered");
    }
    if let Some(hook) = hook {
        let _ = hooks::run(&ctx.cfg, HookStage::OnFailureDetection, hook, Some(journal)).await;
    }
}

/// Ends a recovery: journal flushed, event published.
async fn close(
    ctx: &Ctx,
    t: &Trigger,
    journal: Journal,
    successful: bool,
    plan: Option<Plan>,
) -> Ended {
    let record = journal.finish(successful).await;
    let detected_at = ctx.detected_at(&t.incident);
    orc_telemetry::metrics::recovery_ended(
        &record.analysis,
        record.is_successful,
        detected_at.map(|at| wall_clock().since(at).as_secs_f64()),
    );

    publish_event(ctx, &record, "finished").await;
    Ended::Recorded(Box::new(record), plan.map(Box::new))
}

async fn recover(
    ctx: &Ctx,
    t: &Trigger,
    request: &Option<Request>,
    brief: &Brief,
    lease: &LeaseKeeper,
) -> Ended {
    let cfg = &ctx.cfg;
    let kind = request.as_ref().map(|r| r.kind);
    // An operator's choice, else the successor an interrupted recovery of
    // the same failure had chosen (the book's decision).
    let designated = request
        .as_ref()
        .and_then(|r| r.designated.clone())
        .or_else(|| t.designated.clone());
    let (intent, recorded_kind, analysis) = match intent_of(kind, &t.instance, designated, brief) {
        Ok(x) => x,
        Err((kind, why)) => return Ended::Refused(kind, why),
    };
    let (dead, wait) = match &intent {
        Intent::MasterFailover { failed, .. }
        | Intent::IntermediateMasterFailover { failed, .. } => {
            (Some(failed.clone()), Wait::RelayLogs)
        }
        _ => (None, Wait::No),
    };
    let choice = tracing::info_span!("candidate_choice", successor = tracing::field::Empty);
    let facts = match facts::read(cfg, &ctx.store, brief, dead.as_ref(), wait, wall_clock())
        .instrument(choice.clone())
        .await
    {
        Ok(f) => f,
        Err(e) => {
            return Ended::Refused(
                "unavailable",
                format!("Recovery not attempted on {}: {e}", t.instance),
            );
        }
    };
    let policy = facts::policy(cfg, &facts);
    let planned = choice.in_scope(|| orc_planner::plan(&facts.topology, intent.clone(), &policy));
    if let Ok(Some(successor)) = planned.as_ref().map(|p| p.successor.as_ref()) {
        choice.record("successor", tracing::field::display(successor));
    }
    drop(choice);
    let takeover = matches!(intent, Intent::GracefulTakeover { .. });
    if takeover && let Err(e) = &planned {
        return Ended::Refused(refusal_kind(e), e.to_string());
    }
    let lite = matches!(
        intent,
        Intent::MasterFailover { lite: true, .. }
            | Intent::IntermediateMasterFailover { lite: true, .. }
    );
    let mut record = new_record(ctx, t, brief, &analysis, lease, recorded_kind);
    // Every log line of the recovery from here on carries its id.
    ctx.trace_of(&t.incident)
        .record("recovery_id", record.uid.as_str());
    if let Ok(p) = &planned {
        record.recovery_type = recovery_type(p);
        record.decision_json = orc_proto::plan::recorded_json(p).to_string();
    }
    let mut hook = hook_context(
        cfg,
        &analysis,
        &record.cluster_alias,
        &brief.domain(),
        &t.command,
        &record.uid,
    );
    if takeover && let Ok(p) = &planned {
        hook.replicas = p.successor.iter().cloned().collect();
    }
    let mut journal = Journal::open(ctx.store.clone(), record);
    journal.step(format!(
        "{} on {} (cluster {}), fencing token {}{}",
        analysis.code,
        analysis.key,
        brief.cluster,
        lease.token(),
        if t.command.is_empty() {
            String::new()
        } else {
            format!(", command {}", t.command)
        }
    ));
    if !facts.behind.is_empty() {
        journal.step(format!("SQL threads still behind: {:?}", facts.behind));
    }
    publish_event(ctx, journal.record(), "started").await;
    if t.forced && !lite {
        // A takeover's plan runs the detection hooks at their place in it.
        operator_detection(
            ctx,
            journal.record(),
            (!takeover).then_some(&hook),
            &journal,
        )
        .await;
    }
    let plan = match planned {
        Ok(p) => p,
        Err(e) => {
            journal.error(match &e {
                PlanError::NoCandidate(n) => format!("no replica promoted: {n}"),
                other => format!("no plan: {other}"),
            });
            if !lite {
                let _ = hooks::run(
                    cfg,
                    HookStage::PostUnsuccessfulFailover,
                    &hook,
                    Some(&journal),
                )
                .await;
            }
            return close(ctx, t, journal, false, None).await;
        }
    };
    for note in &plan.notes {
        journal.step(note.clone());
    }
    hook.successor = plan.successor.clone();
    hook.lost_replicas = plan.lost.iter().map(|(k, _)| k.clone()).collect();
    hook.is_successful = true;
    // Write-ahead: the record is stored before anything acts, so a service
    // killed while acting leaves a record for the next one to close. A
    // backend that does not answer delays the failover by this much at
    // most; the record is then written when it answers.
    if !journal.written(RECORD_BEFORE_ACTING).await {
        tracing::warn!(recovery = %journal.record().uid, "recovery record not yet stored; acting anyway");
    }
    let notes: Arc<dyn crate::journal::Notes> = Arc::new(journal.stepper());
    let executor = Executor::new(
        Arc::new(cfg.clone()),
        facts.topology.clone(),
        lease.clone(),
        notes.clone(),
        ctx.store.clone(),
        ctx.bus.clone(),
        hook,
        facts.credentials.clone(),
    )
    .with_connections(facts.take_connections());
    let outcome = executor
        .run(&plan)
        .instrument(
            tracing::info_span!("plan", summary = %plan.summary, phases = plan.phases.len()),
        )
        .await;
    for e in &outcome.errors {
        journal.error(e.clone());
    }
    let successful = outcome.succeeded(&plan);
    let mut lost: Vec<InstanceKey> = plan.lost.iter().map(|(k, _)| k.clone()).collect();
    lost.extend(outcome.not_moved.iter().map(|(k, _)| k.clone()));
    lost.sort();
    lost.dedup();
    let mut successor = plan.successor.clone().filter(|_| successful);
    if successful && let Some(next @ Intent::HandOver { .. }) = plan.followup.clone() {
        let from = plan.successor.clone();
        match hand_over(ctx, brief, lease, dead.as_ref(), next, &executor, notes).await {
            Ok(to) => {
                if let Some(from) = from {
                    journal.step(format!("mastership handed over from {from} to {to}"));
                }
                successor = Some(to);
            }
            Err(e) => journal.error(format!("hand-over failed: {e}")),
        }
    }
    let mut participating = outcome.changed.clone();
    participating.extend(outcome.moved.iter().cloned());
    participating.sort();
    participating.dedup();
    let successor_alias = successor
        .as_ref()
        .and_then(|k| facts.topology.get(k))
        .and_then(|s| s.data.as_ref())
        .map(|d| d.instance_alias.clone())
        .unwrap_or_default();
    journal.update(|r| {
        r.successor = successor.clone();
        r.successor_alias = successor_alias;
        r.lost_replicas = lost.clone();
        r.participating = participating;
        r.is_successful = successful;
    });
    if takeover && successful {
        // A planned takeover is not a failure: it must not block automated
        // recovery of the cluster for RecoveryPeriodBlockSeconds (unlike
        // orchestrator, issue #315).
        let now = wall_clock();
        journal.update(|r| {
            r.acknowledged = true;
            r.acknowledged_at = Some(now);
            r.acknowledged_by = "orchestrator-rs".into();
            r.acknowledged_comment = "planned takeover".into();
        });
    }
    if let Some(why) = &outcome.stopped {
        journal.error(format!("stopped: {why}"));
    }
    close(ctx, t, journal, successful, Some(plan)).await
}

fn recovery_type(plan: &Plan) -> String {
    match plan.intent {
        Intent::IntermediateMasterFailover { .. } => "NotMasterRecovery".into(),
        _ => match plan.method {
            orc_planner::Method::Gtid => "MasterRecoveryGTID".into(),
            orc_planner::Method::PseudoGtid => "MasterRecoveryPseudoGTID".into(),
            _ => "MasterRecoveryBinlogFile".into(),
        },
    }
}

/// Why a hand-over did not happen.
#[derive(Debug, thiserror::Error)]
enum HandOverError {
    /// The facts could not be read.
    #[error(transparent)]
    Facts(#[from] facts::FactsError),
    /// The planner refused.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The plan names nobody.
    #[error("the hand-over names no successor")]
    NoSuccessor,
    /// It ran and failed.
    #[error("{0}")]
    Failed(String),
}

/// After an emergency promotion: mastership moves to the ideal replica,
/// planned on fresh reads.
async fn hand_over(
    ctx: &Ctx,
    brief: &Brief,
    lease: &LeaseKeeper,
    failed: Option<&InstanceKey>,
    intent: Intent,
    executor: &Executor,
    notes: Arc<dyn crate::journal::Notes>,
) -> Result<InstanceKey, HandOverError> {
    let cfg = &ctx.cfg;
    let facts = facts::read(cfg, &ctx.store, brief, failed, Wait::No, wall_clock()).await?;
    let policy = facts::policy(cfg, &facts);
    let plan = orc_planner::plan(&facts.topology, intent, &policy)?;
    let to = plan.successor.clone().ok_or(HandOverError::NoSuccessor)?;
    let next = Executor::new(
        Arc::new(cfg.clone()),
        facts.topology.clone(),
        lease.clone(),
        notes,
        ctx.store.clone(),
        ctx.bus.clone(),
        executor.hook_context(),
        facts.credentials.clone(),
    )
    .with_connections(facts.take_connections());
    let outcome = next.run(&plan).await;
    if outcome.succeeded(&plan) {
        executor.update_hook(|h| h.successor = Some(to.clone()));
        Ok(to)
    } else {
        Err(HandOverError::Failed(
            outcome.stopped.unwrap_or_else(|| outcome.errors.join("; ")),
        ))
    }
}

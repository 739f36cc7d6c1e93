//! Operators' topology operations — relocate, move-up, take-master,
//! set-read-only, ... — named by the request, planned by `orc-planner` on
//! fresh reads, carried out by the executor under the cluster's lease (so an
//! operation never races a recovery), and audited. A refused operation
//! changes nothing and says why.

use std::sync::{Arc, Mutex};

use orc_bus::{Message, subjects};
use orc_model::InstanceKey;
use orc_planner::{Intent, Method, PlanError, SemiSyncRole, replication::can_replicate_from};
use orc_proto::v1 as wire;
use orc_recovery_fsm::HookContext;
use orc_runtime::wall_clock;

use crate::brief::{self, Brief, BriefError};
use crate::executor::Executor;
use crate::facts::{self, Wait};
use crate::journal::Notes;
use crate::lease::{self, LeaseKeeper};
use crate::{Ctx, procedures};

/// The steps of one operation, kept for the answer and logged.
struct OpLog {
    id: String,
    lines: Mutex<Vec<String>>,
}

impl Notes for OpLog {
    fn step(&self, message: String) {
        tracing::info!(operation = %self.id, "{message}");
        if let Ok(mut l) = self.lines.lock() {
            l.push(message);
        }
    }
}

fn failure(kind: &str, error: impl Into<String>) -> wire::OperationResult {
    wire::OperationResult {
        error: error.into(),
        error_kind: kind.into(),
        ..Default::default()
    }
}

/// Answers one operation message.
pub(crate) async fn handle(ctx: &Arc<Ctx>, msg: Message) {
    let reply = match orc_bus::decode::<wire::OperationRequest>(&msg.subject, &msg.payload) {
        Ok(req) => answer(ctx, req).await,
        Err(e) => failure("invalid", e.to_string()),
    };
    let _ = ctx.bus.respond(&msg, orc_bus::encode(&reply)).await;
}

fn key(k: Option<&wire::InstanceKey>, what: &str) -> Result<Option<InstanceKey>, String> {
    k.filter(|k| !k.hostname.is_empty() || k.port != 0)
        .map(|k| InstanceKey::try_from(k).map_err(|e| format!("{what}: {e}")))
        .transpose()
}

/// A request that names no valid operation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
struct Invalid(String);

/// Why an operation cannot take the cluster's lease.
#[derive(Debug, Clone, thiserror::Error)]
enum LeaseRefusal {
    /// A recovery or another operation holds it.
    #[error(
        "cluster {0} is under recovery or another operation (its lease is held): nothing was changed; try again when it is done"
    )]
    Busy(String),
    /// The bus failed.
    #[error("the cluster's lease cannot be taken: {0}")]
    Bus(String),
}

/// The planner's intent of a request.
fn intent_of(
    op: wire::Operation,
    instance: InstanceKey,
    target: Option<InstanceKey>,
    req: &wire::OperationRequest,
) -> Result<Intent, Invalid> {
    use wire::Operation as O;
    let pattern = (!req.pattern.is_empty()).then(|| req.pattern.clone());
    let need = |t: Option<InstanceKey>| {
        t.ok_or_else(|| {
            Invalid(format!(
                "{} needs a destination instance",
                orc_proto::plan::operation_name(op)
            ))
        })
    };
    let semi = |role, enabled| Intent::SetSemiSync {
        instance: instance.clone(),
        role,
        enabled,
    };
    Ok(match op {
        O::Relocate => Intent::Relocate {
            instance,
            below: need(target)?,
            only: None,
        },
        O::MoveBelowGtid => Intent::Relocate {
            instance,
            below: need(target)?,
            only: Some(Method::Gtid),
        },
        O::MatchBelow => Intent::Relocate {
            instance,
            below: need(target)?,
            only: Some(Method::PseudoGtid),
        },
        O::RelocateReplicas => Intent::RelocateReplicas {
            instance,
            below: need(target)?,
            pattern,
            only: None,
        },
        O::MoveReplicasGtid => Intent::RelocateReplicas {
            instance,
            below: need(target)?,
            pattern,
            only: Some(Method::Gtid),
        },
        O::MatchReplicas => Intent::RelocateReplicas {
            instance,
            below: need(target)?,
            pattern,
            only: Some(Method::PseudoGtid),
        },
        O::MoveUp | O::MatchUp => Intent::MoveUp { instance },
        O::MoveUpReplicas | O::MatchUpReplicas => Intent::MoveUpReplicas { instance, pattern },
        O::MoveBelow => Intent::MoveBelow {
            instance,
            sibling: need(target)?,
        },
        O::MoveEquivalent => Intent::MoveEquivalent {
            instance,
            below: need(target)?,
        },
        O::Repoint => Intent::Repoint {
            instance,
            below: target,
        },
        O::RepointReplicas => Intent::RepointReplicas { instance, pattern },
        O::TakeMaster => Intent::TakeMaster { instance },
        O::TakeSiblings => Intent::TakeSiblings { instance },
        O::MakeCoMaster => Intent::MakeCoMaster { instance },
        O::RegroupReplicas => Intent::RegroupReplicas {
            instance,
            only: None,
        },
        O::RegroupReplicasGtid => Intent::RegroupReplicas {
            instance,
            only: Some(Method::Gtid),
        },
        O::RegroupReplicasPgtid => Intent::RegroupReplicas {
            instance,
            only: Some(Method::PseudoGtid),
        },
        O::DetachReplicaMasterHost => Intent::DetachReplicaMasterHost { instance },
        O::ReattachReplicaMasterHost => Intent::ReattachReplicaMasterHost { instance },
        O::SetReadOnly => Intent::SetReadOnly {
            instance,
            read_only: true,
        },
        O::SetWriteable => Intent::SetReadOnly {
            instance,
            read_only: false,
        },
        O::StopReplica => Intent::StopReplica { instance },
        O::StopReplicaNice => Intent::StopReplicaNice { instance },
        O::StartReplica => Intent::StartReplica { instance },
        O::RestartReplica => Intent::RestartReplica { instance },
        O::ResetReplica => Intent::ResetReplica { instance },
        O::SkipQuery => Intent::SkipQuery { instance },
        O::EnableGtid => Intent::EnableGtid { instance },
        O::DisableGtid => Intent::DisableGtid { instance },
        O::FlushBinaryLogs => Intent::FlushBinaryLogs { instance },
        O::PurgeBinaryLogs => {
            if req.binlog.trim().is_empty() {
                return Err(Invalid(
                    "purge-binary-logs needs a binary log name (or latest)".into(),
                ));
            }
            Intent::PurgeBinaryLogs {
                instance,
                to: req.binlog.trim().to_string(),
                force: req.force,
            }
        }
        O::EnableSemiSyncMaster => semi(SemiSyncRole::Master, true),
        O::DisableSemiSyncMaster => semi(SemiSyncRole::Master, false),
        O::EnableSemiSyncReplica => semi(SemiSyncRole::Replica, true),
        O::DisableSemiSyncReplica => semi(SemiSyncRole::Replica, false),
        O::DelayReplication => Intent::DelayReplication {
            instance,
            seconds: u32::try_from(req.number)
                .map_err(|_| Invalid(format!("delay of {} seconds is too long", req.number)))?,
        },
        O::KillQuery => Intent::KillQuery {
            instance,
            process: req.number,
        },
        O::GtidErrantResetMaster => Intent::GtidErrantResetMaster { instance },
        O::GtidErrantInjectEmpty => Intent::GtidErrantInjectEmpty { instance },
        O::Unspecified | O::CanReplicateFrom | O::LocateGtidErrant | O::LastPseudoGtid => {
            return Err(Invalid(format!(
                "{op:?} is not an operation that changes a topology"
            )));
        }
    })
}

fn brief_failure(e: BriefError) -> wire::OperationResult {
    match e {
        BriefError::NoAnalyzer => failure("unavailable", e.to_string()),
        BriefError::Unknown(m) => failure("not_found", m),
        BriefError::Failed(m) => failure("unavailable", m),
    }
}

fn refused(e: &PlanError) -> wire::OperationResult {
    wire::OperationResult {
        error: e.to_string(),
        error_kind: procedures::refusal_kind(e).into(),
        refusal: match e {
            PlanError::Refused { kind, .. } => format!("{kind:?}"),
            PlanError::Unknown(_) => "Unknown".into(),
            PlanError::NoCandidate(_) => "NoCandidate".into(),
        },
        ..Default::default()
    }
}

async fn answer(ctx: &Arc<Ctx>, req: wire::OperationRequest) -> wire::OperationResult {
    use wire::Operation as O;
    let op = match O::try_from(req.operation) {
        Ok(O::Unspecified) | Err(_) => {
            return failure("invalid", format!("unknown operation {}", req.operation));
        }
        Ok(op) => op,
    };
    let (instance, target) = match (
        key(req.instance.as_ref(), "instance"),
        key(req.target.as_ref(), "destination"),
    ) {
        (Ok(Some(i)), Ok(t)) => (i, t),
        (Ok(None), _) => return failure("invalid", "the operation needs an instance"),
        (Err(e), _) | (_, Err(e)) => return failure("invalid", e),
    };
    let mut brief = match brief::fetch_known(&*ctx.bus, &ctx.store, Some(&instance), "").await {
        Ok(b) => b,
        Err(e) => return brief_failure(e),
    };
    // The servers beyond the instance's cluster an operation needs: the
    // target's cluster, and the source a detached replica points at.
    let detached_source = brief
        .state(&instance)
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.replication.as_ref())
        .filter(|r| r.is_detached())
        .and_then(|r| InstanceKey::new(r.master_host.trim_start_matches('/'), r.master_port).ok());
    for other in target.iter().chain(detached_source.iter()) {
        if brief.state(other).is_none() && brief.states.iter().all(|s| s.probe_address() != other) {
            match brief::fetch_known(&*ctx.bus, &ctx.store, Some(other), "").await {
                Ok(b) => brief.merge(b),
                Err(BriefError::Unknown(_)) => {}
                Err(e) => return brief_failure(e),
            }
        }
    }
    if matches!(
        op,
        O::CanReplicateFrom | O::LocateGtidErrant | O::LastPseudoGtid
    ) {
        return question(ctx, op, &brief, &instance, target.as_ref()).await;
    }
    let intent = match intent_of(op, instance.clone(), target, &req) {
        Ok(i) => i,
        Err(e) => return failure("invalid", e.to_string()),
    };
    let lease = if req.dry_run {
        None
    } else {
        match take_lease(ctx, &brief.cluster).await {
            Ok(l) => Some(l),
            Err(why) => {
                let mut r = failure("refused", why.to_string());
                r.refusal = "UnderRecovery".into();
                audit(ctx, &intent, &brief, &format!("refused: {}", r.error), &req).await;
                return r;
            }
        }
    };
    let result = operate(ctx, &req, intent.clone(), &brief, lease.as_ref()).await;
    if let Some(l) = lease {
        l.release(&*ctx.bus).await;
    }
    if !req.dry_run {
        let message = if result.error.is_empty() {
            result
                .plan
                .as_ref()
                .map_or_else(String::new, |p| p.summary.clone())
        } else {
            format!("refused or failed: {}", result.error)
        };
        audit(ctx, &intent, &brief, &message, &req).await;
    }
    result
}

/// Takes the cluster's lease for an operation; says who holds it otherwise.
async fn take_lease(ctx: &Ctx, cluster: &str) -> Result<LeaseKeeper, LeaseRefusal> {
    let spec = lease::spec(ctx.cfg.lease_ttl);
    let name = orc_bus::lease_key(cluster);
    let holder = format!("{}:operation", ctx.cfg.node_id);
    // A recovery may be about to release it: a short patience.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        match ctx.bus.lease_acquire(&spec, &name, &holder).await {
            Ok(Some(l)) => return Ok(LeaseKeeper::start(ctx.bus.clone(), spec, l)),
            Ok(None) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Ok(None) => return Err(LeaseRefusal::Busy(cluster.to_string())),
            Err(e) => return Err(LeaseRefusal::Bus(e.to_string())),
        }
    }
}

async fn audit(
    ctx: &Ctx,
    intent: &Intent,
    brief: &Brief,
    message: &str,
    req: &wire::OperationRequest,
) {
    let by = if req.requested_by.is_empty() {
        String::new()
    } else {
        format!(" (by {})", req.requested_by)
    };
    let entry = orc_store::AuditEntry {
        id: 0,
        at: wall_clock(),
        kind: intent.name().to_string(),
        instance: Some(intent.instance().clone()),
        cluster: brief.cluster.clone(),
        message: format!("{message}{by}"),
    };
    if let Err(e) = ctx.store.audit().write(&entry).await {
        tracing::warn!(error = %e, "operation not audited");
    }
}

async fn operate(
    ctx: &Arc<Ctx>,
    req: &wire::OperationRequest,
    intent: Intent,
    brief: &Brief,
    lease: Option<&LeaseKeeper>,
) -> wire::OperationResult {
    let cfg = &ctx.cfg;
    let facts = match facts::read(cfg, &ctx.store, brief, None, Wait::No, wall_clock()).await {
        Ok(f) => f,
        Err(e) => return failure("unavailable", e.to_string()),
    };
    let policy = facts::policy(cfg, &facts);
    let plan = match orc_planner::plan(&facts.topology, intent.clone(), &policy) {
        Ok(p) => p,
        Err(e) => return refused(&e),
    };
    // The simulator predicts the result; a plan it cannot run is a planner
    // bug, and nothing is done.
    let predicted = match orc_planner::simulate(&facts.topology, &plan) {
        Ok(sim) => orc_proto::plan::shape_to_wire(&sim.topology.shape()),
        Err(e) => {
            tracing::error!(error = %e, "a plan that does not simulate was refused");
            return failure("failed", format!("the plan would not run: {e}"));
        }
    };
    let mut result = wire::OperationResult {
        predicted,
        plan: Some((&plan).into()),
        dry_run: req.dry_run,
        subject: plan.subject.as_ref().map(Into::into),
        cluster: brief.cluster.clone(),
        ..Default::default()
    };
    let Some(lease) = lease else {
        return result;
    };
    result.fencing_token = lease.token();
    let log = Arc::new(OpLog {
        id: format!("{} {}", intent.name(), intent.instance()),
        lines: Mutex::new(Vec::new()),
    });
    let hook = hook_context(cfg, &intent, &facts.topology, brief);
    let executor = Executor::new(
        Arc::new(cfg.clone()),
        facts.topology.clone(),
        lease.clone(),
        log.clone(),
        ctx.store.clone(),
        ctx.bus.clone(),
        hook,
        facts.credentials.clone(),
    )
    .with_connections(facts.take_connections());
    let outcome = executor.run(&plan).await;
    let event = wire::RecoveryEvent {
        cluster: brief.cluster.clone(),
        failed: Some(intent.instance().into()),
        participants: outcome.changed.iter().map(Into::into).collect(),
        phase: "operation".into(),
        successful: outcome.succeeded(&plan),
        fencing_token: lease.token(),
        ..Default::default()
    };
    let _ = ctx
        .bus
        .publish(subjects::RECOVERY_EVENTS, orc_bus::encode(&event))
        .await;
    result.moved = outcome.moved.iter().map(Into::into).collect();
    result.not_moved = plan
        .lost
        .iter()
        .chain(outcome.not_moved.iter())
        .map(|(k, why)| wire::NotMoved {
            key: Some(k.into()),
            reason: why.clone(),
        })
        .collect();
    result.log = log.lines.lock().map(|l| l.clone()).unwrap_or_default();
    if !outcome.succeeded(&plan) {
        result.error_kind = "failed".into();
        result.error = outcome
            .stopped
            .clone()
            .unwrap_or_else(|| "the operation did not complete".into());
    } else if !outcome.errors.is_empty() && plan.lost.is_empty() && outcome.not_moved.is_empty() {
        result
            .log
            .extend(outcome.errors.iter().map(|e| format!("warning: {e}")));
    }
    result
}

/// The hook context of an operation (only take-master runs hooks:
/// `PostTakeMasterProcesses`, the demoted source as the failed host).
fn hook_context(
    cfg: &crate::config::RecoveryConfig,
    intent: &Intent,
    t: &orc_planner::Topology,
    brief: &Brief,
) -> HookContext {
    let instance = intent.instance().clone();
    let demoted = match intent {
        Intent::TakeMaster { .. } => t.source_of(&instance).unwrap_or_else(|| instance.clone()),
        _ => instance.clone(),
    };
    HookContext {
        failure_type: String::new(),
        command: intent.name().to_string(),
        cluster: brief.cluster.clone(),
        cluster_alias: cfg.cluster_alias(&brief.cluster, &brief.detected_alias()),
        cluster_domain: brief.domain(),
        orchestrator_host: cfg.hostname.clone(),
        successor: Some(instance),
        is_successful: true,
        ..HookContext::new(demoted)
    }
}

/// The read-only questions: answered from fresh reads, nothing changes.
async fn question(
    ctx: &Arc<Ctx>,
    op: wire::Operation,
    brief: &Brief,
    instance: &InstanceKey,
    target: Option<&InstanceKey>,
) -> wire::OperationResult {
    use wire::Operation as O;
    let cfg = &ctx.cfg;
    let facts = match facts::read(cfg, &ctx.store, brief, None, Wait::No, wall_clock()).await {
        Ok(f) => f,
        Err(e) => return failure("unavailable", e.to_string()),
    };
    let t = &facts.topology;
    match op {
        O::CanReplicateFrom => {
            let Some(target) = target else {
                return failure("invalid", "can-replicate-from needs a destination instance");
            };
            if t.get(target).is_none() {
                return failure(
                    "not_found",
                    format!("{target} is not in the cluster of {instance}"),
                );
            }
            match can_replicate_from(t, instance, target) {
                Ok(()) => wire::OperationResult {
                    answer: "true".into(),
                    subject: Some(target.into()),
                    ..Default::default()
                },
                Err(e) => wire::OperationResult {
                    answer: "false".into(),
                    answers: vec![e.to_string()],
                    subject: Some(target.into()),
                    ..Default::default()
                },
            }
        }
        O::LocateGtidErrant => crate::errant::locate(ctx, t, instance).await,
        O::LastPseudoGtid => crate::executor::last_pseudo_gtid(ctx, t, instance).await,
        _ => failure("invalid", format!("{op:?} is not a question")),
    }
}

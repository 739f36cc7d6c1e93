//! Operator commands: validated here, then handed to the book as forced
//! triggers (or, for dry runs, planned without changing anything).

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument as _;

use orc_bus::Message;
use orc_model::{InstanceKey, RecoveryRecord};
use orc_proto::v1 as wire;
use orc_recovery_fsm::{Event, Handler, Trigger};
use orc_runtime::wall_clock;
use tokio::sync::oneshot;

use crate::brief::{self, BriefError};
use crate::facts::{self, Wait};
use crate::{Ctx, Request, procedures, put};
use orc_planner::{Intent, Plan};

/// Numbers commands, for unique incident ids.
static COMMANDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long an operator waits for a recovery at most.
const PATIENCE: Duration = Duration::from_secs(3600);

/// A refusal or failure.
pub(crate) fn failure(kind: &str, error: String) -> wire::RecoveryCommandReply {
    wire::RecoveryCommandReply {
        error,
        error_kind: kind.to_string(),
        ..Default::default()
    }
}

/// The answer for a recorded recovery: an error when nothing was promoted.
pub(crate) fn recorded(r: &RecoveryRecord, plan: Option<&Plan>) -> wire::RecoveryCommandReply {
    let error = if r.is_successful {
        String::new()
    } else {
        let why = r.errors.last().cloned().unwrap_or_default();
        format!(
            "Recovery attempted on {} but no instance promoted: {why}",
            r.failed
        )
    };
    wire::RecoveryCommandReply {
        error_kind: if error.is_empty() {
            String::new()
        } else {
            "failed".into()
        },
        error,
        successor: r.successor.as_ref().map(Into::into),
        recovery: Some(r.into()),
        plan: plan.map(Into::into),
        no_candidate: None,
    }
}

fn hint(kind: wire::RecoveryCommandKind) -> &'static str {
    use wire::RecoveryCommandKind as K;
    match kind {
        K::GracefulMasterTakeover | K::GracefulMasterTakeoverAuto => "graceful-master-takeover",
        K::ForceMasterFailover => "force-master-failover",
        K::ForceMasterTakeover => "force-master-takeover",
        _ => "",
    }
}

fn brief_error(e: BriefError) -> wire::RecoveryCommandReply {
    match e {
        BriefError::NoAnalyzer => failure("unavailable", e.to_string()),
        BriefError::Unknown(m) => failure("not_found", m),
        BriefError::Failed(m) => failure("unavailable", m),
    }
}

/// Answers one command message.
pub(crate) async fn handle(ctx: &Arc<Ctx>, msg: Message) {
    let span = tracing::info_span!("recovery_command");
    orc_telemetry::propagation::set_parent(&span, msg.trace_pairs());
    let reply = match orc_bus::decode::<wire::RecoveryCommand>(&msg.subject, &msg.payload) {
        Ok(cmd) => answer(ctx, cmd).instrument(span).await,
        Err(e) => failure("invalid", e.to_string()),
    };
    let _ = ctx.bus.respond(&msg, orc_bus::encode(&reply)).await;
}

fn key(k: Option<&wire::InstanceKey>, what: &str) -> Result<Option<InstanceKey>, String> {
    k.filter(|k| !k.hostname.is_empty() || k.port != 0)
        .map(|k| InstanceKey::try_from(k).map_err(|e| format!("{what}: {e}")))
        .transpose()
}

async fn answer(ctx: &Arc<Ctx>, cmd: wire::RecoveryCommand) -> wire::RecoveryCommandReply {
    use wire::RecoveryCommandKind as K;
    let kind = match K::try_from(cmd.kind) {
        Ok(K::Unspecified) | Err(_) => {
            return failure("invalid", format!("unknown recovery command {}", cmd.kind));
        }
        Ok(k) => k,
    };
    let (instance, designated) = match (
        key(cmd.instance.as_ref(), "instance"),
        key(cmd.designated.as_ref(), "designated instance"),
    ) {
        (Ok(i), Ok(d)) => (i, d),
        (Err(e), _) | (_, Err(e)) => return failure("invalid", e),
    };
    let by_instance = matches!(kind, K::Recover | K::RecoverLite);
    if by_instance && instance.is_none() {
        return failure("invalid", "recover needs the failed instance".into());
    }
    if !by_instance && instance.is_none() && cmd.cluster.is_empty() {
        return failure("invalid", "the command needs a cluster".into());
    }
    if kind == K::ForceMasterTakeover && designated.is_none() {
        return failure(
            "invalid",
            "force-master-takeover needs the designated replica".into(),
        );
    }
    let brief =
        match brief::fetch_known(&*ctx.bus, &ctx.store, instance.as_ref(), &cmd.cluster).await {
            Ok(b) => b,
            Err(e) => return brief_error(e),
        };
    let (failed, code) = if by_instance {
        let Some(i) = instance else {
            return failure("invalid", "recover needs the failed instance".into());
        };
        let Some(a) = brief.analysis(&i) else {
            return failure("not_found", format!("{i} is not in the analysis"));
        };
        if !Handler::for_code(a.code.as_str()).is_some_and(Handler::acts) {
            return failure(
                "refused",
                format!(
                    "Recovery not attempted: {i} has no actionable analysis (it is {})",
                    a.code
                ),
            );
        }
        (i, a.code.as_str().to_string())
    } else {
        let Some(m) = brief.master() else {
            return failure(
                "not_found",
                format!("cluster {} has no master", brief.cluster),
            );
        };
        (m.key.clone(), "DeadMaster".to_string())
    };
    if cmd.dry_run {
        return dry_run(ctx, kind, &brief, &failed, designated).await;
    }
    let incident = format!(
        "command-{}-{}-{}",
        ctx.cfg.node_id,
        wall_clock().as_millis(),
        COMMANDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let handler = Handler::for_code(&code).unwrap_or(Handler::DeadMaster);
    let trigger = Trigger {
        incident: incident.clone(),
        detection_id: String::new(),
        cluster: brief.cluster.clone(),
        instance: failed,
        code,
        handler,
        forced: true,
        actionable: true,
        skippable: false,
        command: hint(kind).to_string(),
        received_at: wall_clock(),
        designated: None,
    };
    // A child of the command's span (the operator's request).
    ctx.open_trace(&trigger, wall_clock(), []);
    let (tx, rx) = oneshot::channel();
    put(
        &ctx.requests,
        incident,
        Request {
            kind,
            designated,
            reply: tx,
        },
    );
    ctx.send(Event::Triggered(trigger));
    match tokio::time::timeout(PATIENCE, rx).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => failure("failed", "the recovery service stopped".into()),
        Err(_) => failure(
            "failed",
            "the recovery did not finish within an hour".into(),
        ),
    }
}

async fn dry_run(
    ctx: &Arc<Ctx>,
    kind: wire::RecoveryCommandKind,
    b: &brief::Brief,
    failed: &InstanceKey,
    designated: Option<InstanceKey>,
) -> wire::RecoveryCommandReply {
    let cfg = &ctx.cfg;
    let (intent, _, _) = match procedures::intent_of(Some(kind), failed, designated, b) {
        Ok(x) => x,
        Err((kind, why)) => return failure(kind, why),
    };
    let (dead, wait) = match &intent {
        Intent::MasterFailover { failed, .. }
        | Intent::IntermediateMasterFailover { failed, .. } => {
            (Some(failed.clone()), Wait::RelayLogs)
        }
        _ => (None, Wait::No),
    };
    let facts = match facts::read(cfg, &ctx.store, b, dead.as_ref(), wait, wall_clock()).await {
        Ok(f) => f,
        Err(e) => return failure("unavailable", e.to_string()),
    };
    let policy = facts::policy(cfg, &facts);
    match orc_planner::plan(&facts.topology, intent, &policy) {
        Ok(plan) => wire::RecoveryCommandReply {
            successor: plan
                .followup
                .as_ref()
                .and_then(|f| f.target().cloned())
                .or_else(|| plan.successor.clone())
                .as_ref()
                .map(Into::into),
            plan: Some((&plan).into()),
            ..Default::default()
        },
        Err(e) => {
            let kind = procedures::refusal_kind(&e);
            let error = match &e {
                orc_planner::PlanError::NoCandidate(n) => {
                    format!("no replica would be promoted: {}", n.reason)
                }
                other => other.to_string(),
            };
            let no_candidate = match &e {
                orc_planner::PlanError::NoCandidate(n) => Some(n.into()),
                _ => None,
            };
            wire::RecoveryCommandReply {
                error,
                error_kind: kind.into(),
                no_candidate,
                ..Default::default()
            }
        }
    }
}

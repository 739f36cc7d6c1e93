//! The recoveries themselves, run under the cluster's lease: master and
//! co-master failover (with the hand-over to the ideal replica), graceful
//! takeover, intermediate-master failover, and making a read-only master
//! writable. Each writes its journal, runs its hooks in orchestrator's
//! order, publishes recovery events, and answers the operator who asked.

use std::time::Duration;

use orc_analysis::{Analysis, AnalysisCode};
use orc_bus::subjects;
use orc_model::{Downtime, InstanceKey, PromotionRule, RecoveryKind, RecoveryRecord, Timestamp};
use orc_proto::v1 as wire;
use orc_recovery_fsm::{HookContext, HookStage, Trigger, cluster_filter_matches};
use orc_runtime::wall_clock;

use crate::brief::Brief;
use crate::commands;
use crate::config::RecoveryConfig;
use crate::failover::{self, Gathered};
use crate::hooks;
use crate::journal::Journal;
use crate::lease::LeaseKeeper;
use crate::servers::Server;
use crate::switch::Switch;
use crate::{Ctx, Request, take};

/// How long repointed replicas get to show they replicate.
const VERIFY_FOR: Duration = Duration::from_secs(5);

/// What a procedure ended with.
#[derive(Debug)]
pub(crate) enum Ended {
    /// A recovery ran (successfully or not) and was recorded.
    Recorded(Box<RecoveryRecord>, String),
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

async fn publish_event(ctx: &Ctx, r: &RecoveryRecord, phase: &str) {
    let ev = wire::RecoveryEvent {
        uid: r.uid.clone(),
        cluster: r.cluster.clone(),
        failed: Some((&r.failed).into()),
        successor: r.successor.as_ref().map(Into::into),
        participants: r.participating.iter().map(Into::into).collect(),
        phase: phase.to_string(),
        successful: r.is_successful,
        fencing_token: r.lease_revision,
    };
    if let Err(e) = ctx
        .bus
        .publish(subjects::RECOVERY_EVENTS, orc_bus::encode(&ev))
        .await
    {
        tracing::warn!(error = %e, "recovery event not published");
    }
}

async fn set_downtime(ctx: &Ctx, keys: &[InstanceKey], reason: &str, until: Option<Timestamp>) {
    let now = wall_clock();
    for key in keys {
        let r = ctx
            .store
            .metadata()
            .update(key, now, |m| {
                m.downtime = until.map(|ends_at| Downtime {
                    owner: "orchestrator-rs".into(),
                    reason: reason.to_string(),
                    begins_at: now,
                    ends_at,
                });
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(instance = %key, error = %e, "downtime not written");
        }
    }
    let ev = wire::MetadataChanged {
        keys: keys.iter().map(Into::into).collect(),
    };
    let _ = ctx
        .bus
        .publish(subjects::METADATA_CHANGED, orc_bus::encode(&ev))
        .await;
}

/// Runs the recovery of a trigger and answers the operator, if one asked.
pub(crate) async fn run(ctx: &Ctx, t: &Trigger) {
    let request = take(&ctx.requests, &t.incident);
    let brief = match take(&ctx.briefs, &t.incident) {
        Some(b) => Ok(b),
        None => crate::brief::fetch(&*ctx.bus, Some(&t.instance), "").await,
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
                let _ = tokio::time::timeout(Duration::from_secs(600), w.wait_for(|d| *d)).await;
            }
            dispatch(ctx, t, &request, &brief, &lease).await
        }
    };
    if let Some(req) = request {
        let reply = match ended {
            Ended::Recorded(record, plan) => commands::recorded(&record, plan),
            Ended::Refused(kind, why) => commands::failure(kind, why),
        };
        let _ = req.reply.send(reply);
    } else if let Ended::Refused(_, why) = ended {
        tracing::warn!(cluster = %t.cluster, instance = %t.instance, "recovery not attempted: {why}");
    }
}

async fn dispatch(
    ctx: &Ctx,
    t: &Trigger,
    request: &Option<Request>,
    brief: &Brief,
    lease: &LeaseKeeper,
) -> Ended {
    use wire::RecoveryCommandKind as K;
    let kind = request.as_ref().map(|r| r.kind);
    let designated = request.as_ref().and_then(|r| r.designated.clone());
    match kind {
        Some(K::GracefulMasterTakeover) => {
            graceful_takeover(ctx, t, brief, lease, designated, false).await
        }
        Some(K::GracefulMasterTakeoverAuto) => {
            graceful_takeover(ctx, t, brief, lease, designated, true).await
        }
        _ => {
            let lite = kind == Some(K::RecoverLite);
            let Some(analysis) = brief.analysis(&t.instance).cloned() else {
                return Ended::Refused(
                    "not_found",
                    format!("{} is not in the analysis", t.instance),
                );
            };
            let forced_master =
                matches!(kind, Some(K::ForceMasterFailover | K::ForceMasterTakeover));
            let code = if forced_master {
                AnalysisCode::DeadMaster
            } else {
                analysis.code
            };
            match orc_recovery_fsm::Handler::for_code(code.as_str()) {
                Some(orc_recovery_fsm::Handler::DeadIntermediateMaster) => {
                    intermediate_failover(ctx, t, brief, lease, analysis, lite).await
                }
                Some(orc_recovery_fsm::Handler::NonWriteableMaster) => {
                    make_writable(ctx, t, brief, lease, analysis).await
                }
                Some(orc_recovery_fsm::Handler::DeadCoMaster) => {
                    let partner = designated.or_else(|| {
                        ctx.cfg
                            .co_master_must_promote_other
                            .then(|| analysis.master_key.clone())
                            .flatten()
                    });
                    let analysis = Analysis { code, ..analysis };
                    master_failover(
                        ctx,
                        t,
                        brief,
                        lease,
                        analysis,
                        partner,
                        lite,
                        RecoveryKind::CoMasterRecovery,
                    )
                    .await
                }
                Some(orc_recovery_fsm::Handler::DeadMaster) => {
                    let analysis = Analysis { code, ..analysis };
                    master_failover(
                        ctx,
                        t,
                        brief,
                        lease,
                        analysis,
                        designated,
                        lite,
                        RecoveryKind::MasterRecovery,
                    )
                    .await
                }
                _ => Ended::Refused(
                    "refused",
                    format!(
                        "Recovery not attempted: {} on {} has no recovery",
                        analysis.code, t.instance
                    ),
                ),
            }
        }
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
    hook: &HookContext,
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
    let _ = hooks::run(&ctx.cfg, HookStage::OnFailureDetection, hook, Some(journal)).await;
}

/// Ends a recovery: journal flushed, event published.
async fn close(ctx: &Ctx, journal: Journal, successful: bool, plan: String) -> Ended {
    let record = journal.finish(successful).await;
    publish_event(ctx, &record, "finished").await;
    Ended::Recorded(Box::new(record), plan)
}

async fn finish_unsuccessful(
    ctx: &Ctx,
    mut journal: Journal,
    hook: &mut HookContext,
    why: String,
    lite: bool,
    plan: String,
) -> Ended {
    journal.error(why);
    hook.is_successful = false;
    if !lite {
        let _ = hooks::run(
            &ctx.cfg,
            HookStage::PostUnsuccessfulFailover,
            hook,
            Some(&journal),
        )
        .await;
    }
    close(ctx, journal, false, plan).await
}

#[allow(clippy::too_many_arguments)]
async fn master_failover(
    ctx: &Ctx,
    t: &Trigger,
    brief: &Brief,
    lease: &LeaseKeeper,
    analysis: Analysis,
    designated: Option<InstanceKey>,
    lite: bool,
    kind: RecoveryKind,
) -> Ended {
    let cfg = &ctx.cfg;
    let record = new_record(ctx, t, brief, &analysis, lease, kind);
    let mut hook = hook_context(
        cfg,
        &analysis,
        &record.cluster_alias,
        &brief.domain(),
        &t.command,
        &record.uid,
    );
    let journal = Journal::open(ctx.store.clone(), record);
    let steps = journal.stepper();
    steps.step(format!(
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
    publish_event(ctx, journal.record(), "started").await;
    if t.forced && !lite {
        operator_detection(ctx, journal.record(), &hook, &journal).await;
    }
    if !lite && let Err(e) = hooks::run(cfg, HookStage::PreFailover, &hook, Some(&journal)).await {
        let mut journal = journal;
        journal.error(format!("recovery aborted by PreFailoverProcesses: {e}"));
        return close(ctx, journal, false, String::new()).await;
    }

    let failed_state = brief.state(&analysis.key);
    let failed_address =
        failed_state.map_or_else(|| analysis.key.clone(), |s| s.probe_address().clone());
    let replicas: Vec<Server> = analysis
        .replicas
        .iter()
        .map(|k| match brief.state(k) {
            Some(s) => Server::of_state(cfg, s),
            None => Server::new(cfg, k.clone(), k.clone()),
        })
        .collect();
    let metadata = ctx.store.metadata().all().await.unwrap_or_default();
    let mut g = failover::gather(
        cfg,
        analysis.key.clone(),
        failed_address,
        failed_state.and_then(|s| s.data.clone()),
        replicas,
        &metadata,
        wall_clock(),
    )
    .await;
    if cfg.delay_until_sql_thread_up_to_date && !g.behind.is_empty() {
        steps.step(format!(
            "waiting for SQL threads of {:?} (DelayMasterPromotionIfSQLThreadNotUpToDate)",
            g.behind
        ));
        g.behind =
            crate::servers::wait_relay_logs(cfg, &mut g.replicas, cfg.replication_lag * 6).await;
    }
    if !g.behind.is_empty() {
        steps.step(format!("SQL threads still behind: {:?}", g.behind));
    }
    let decision = failover::decide(cfg, &g, designated.as_ref());
    let plan = plan_json(cfg, &g, &decision);
    let mut journal = journal;
    journal.update(|r| r.decision_json = plan.clone());
    let decision = match decision {
        Ok(d) => d,
        Err(none) => {
            return finish_unsuccessful(
                ctx,
                journal,
                &mut hook,
                format!("no replica promoted: {}", none.reason),
                lite,
                plan,
            )
            .await;
        }
    };
    journal.update(|r| {
        r.recovery_type = if decision.gtid {
            "MasterRecoveryGTID".into()
        } else {
            "MasterRecoveryBinlogFile".into()
        };
    });
    steps.step(format!(
        "promoting {} ({})",
        decision.promote,
        decision
            .ranked(&decision.promote)
            .map(|r| r.reasons.join("; "))
            .unwrap_or_default()
    ));
    let executed = match failover::execute(cfg, &steps, lease, &mut g, &decision).await {
        Ok(x) => x,
        Err(e) => return finish_unsuccessful(ctx, journal, &mut hook, e, lite, plan).await,
    };
    for e in &executed.errors {
        journal.error(e.clone());
    }
    // The old master, if it can still be reached, must not take writes.
    {
        let address = g.failed_address.clone();
        let opts = {
            let mut o = cfg.connect_options(&address);
            o.connect_timeout = o.connect_timeout.min(Duration::from_secs(1));
            o.read_timeout = Duration::from_secs(2);
            o
        };
        let use_super = cfg.use_super_read_only;
        let steps = steps.clone();
        let failed = g.failed.clone();
        tokio::spawn(async move {
            match orc_mysql::Operator::connect(address, &opts).await {
                Ok(mut op) => match op.set_read_only(true, use_super).await {
                    Ok(()) => steps.step(format!("{failed} (old master) set read-only")),
                    Err(e) => steps.step(format!("{failed} (old master) not set read-only: {e}")),
                },
                Err(_) => steps.step(format!(
                    "{failed} (old master) unreachable: not set read-only"
                )),
            }
        });
    }
    let (Some(promoted), Some(promoted_address)) =
        (executed.promoted.clone(), executed.promoted_address.clone())
    else {
        return finish_unsuccessful(
            ctx,
            journal,
            &mut hook,
            "the candidate could not be promoted".into(),
            lite,
            plan,
        )
        .await;
    };
    let moved: Vec<InstanceKey> = executed
        .participating
        .iter()
        .filter(|k| **k != promoted && !executed.lost.contains(k))
        .cloned()
        .collect();
    for e in failover::verify(
        cfg,
        &mut g,
        &moved,
        &promoted,
        &promoted_address,
        VERIFY_FOR,
    )
    .await
    {
        journal.error(e);
    }
    let now = wall_clock();
    let mut lost_and_failed = executed.lost.clone();
    lost_and_failed.push(g.failed.clone());
    set_downtime(
        ctx,
        &lost_and_failed,
        "lost-in-recovery",
        Some(now.plus(cfg.lost_downtime)),
    )
    .await;
    set_downtime(ctx, std::slice::from_ref(&promoted), "", None).await;
    if cfg.detach_promoted_master_host
        && !cfg.apply_promotion
        && let Some(s) = g.replicas.iter_mut().find(|s| s.key == promoted)
        && let Ok(op) = s.op(cfg).await
        && let Err(e) = op.detach_source(g.failed_address.hostname()).await
    {
        journal.error(format!("detaching {promoted} from the failed master: {e}"));
    }
    let mut successor = promoted.clone();
    let mut coordinates = executed.coordinates.clone();
    // Second step: hand mastership to the ideal replica once it caught up.
    if designated.is_none()
        && let Some(ideal) = decision.ideal.clone()
        && ideal != promoted
    {
        match hand_over(ctx, &steps, lease, &mut g, &promoted, &ideal).await {
            Ok(c) => {
                steps.step(format!("mastership handed over from {promoted} to {ideal}"));
                successor = ideal;
                coordinates = c;
            }
            Err(e) => journal.error(format!("hand-over from {promoted} to {ideal} failed: {e}")),
        }
    }
    let mut participating = executed.participating.clone();
    participating.sort();
    participating.dedup();
    let successor_alias = g
        .replicas
        .iter()
        .find(|s| s.key == successor)
        .and_then(|s| s.data.as_ref())
        .map(|d| d.instance_alias.clone())
        .unwrap_or_default();
    journal.update(|r| {
        r.successor = Some(successor.clone());
        r.successor_alias = successor_alias.clone();
        r.lost_replicas = executed.lost.clone();
        r.participating = participating.clone();
        r.is_successful = true;
    });
    hook.successor = Some(successor.clone());
    hook.successor_alias = successor_alias;
    hook.successor_binlog_coordinates = coordinates;
    hook.lost_replicas = executed.lost.clone();
    hook.is_successful = true;
    if !lite {
        let _ = hooks::run(cfg, HookStage::PostMasterFailover, &hook, Some(&journal)).await;
        let _ = hooks::run(cfg, HookStage::PostFailover, &hook, Some(&journal)).await;
    }
    close(ctx, journal, true, plan).await
}

fn plan_json(
    cfg: &RecoveryConfig,
    g: &Gathered,
    decision: &Result<orc_promotion::PromotionDecision, orc_promotion::NoCandidate>,
) -> String {
    let plan = failover::Plan {
        failed: g.failed.clone(),
        decision: decision.as_ref().ok().cloned(),
        refused: decision.as_ref().err().cloned(),
        sql_thread_behind: g.behind.clone(),
        actions: decision
            .as_ref()
            .map(|d| failover::describe(cfg, g, d))
            .unwrap_or_default(),
    };
    serde_json::to_string(&plan).unwrap_or_default()
}

/// Moves mastership from the just-promoted replica to the ideal one.
async fn hand_over(
    ctx: &Ctx,
    steps: &crate::journal::Stepper,
    lease: &LeaseKeeper,
    g: &mut Gathered,
    from: &InstanceKey,
    to: &InstanceKey,
) -> Result<String, String> {
    let cfg = &ctx.cfg;
    let take_out = |g: &mut Gathered, k: &InstanceKey| -> Option<Server> {
        let i = g.replicas.iter().position(|s| &s.key == k)?;
        Some(g.replicas.swap_remove(i))
    };
    let master = take_out(g, from).ok_or("promoted replica missing")?;
    let designated = take_out(g, to).ok_or("ideal replica missing")?;
    let siblings: Vec<Server> = {
        let mut rest = Vec::new();
        let mut i = 0;
        while i < g.replicas.len() {
            if g.replicas[i].reachable() {
                rest.push(g.replicas.swap_remove(i));
            } else {
                i += 1;
            }
        }
        rest
    };
    let mut sw = Switch {
        master,
        designated,
        siblings,
    };
    sw.refresh(cfg).await;
    let result = async {
        sw.check(cfg, PromotionRule::Neutral)?;
        lease.fence().map_err(|e| e.to_string())?;
        sw.quiesce(cfg, steps)
            .await
            .map_err(|e| format!("{e} (the promoted replica stays master)"))?;
        sw.relocate_siblings(cfg, steps).await?;
        let coords = sw.promote(cfg).await?;
        let creds = sw.credentials(cfg).await;
        sw.demote(cfg, creds).await?;
        Ok::<String, String>(coords)
    }
    .await;
    if result.is_err() {
        let _ = sw.revert(cfg).await;
    }
    g.replicas.push(sw.master);
    g.replicas.push(sw.designated);
    g.replicas.extend(sw.siblings);
    result
}

/// Chooses and checks the replica a graceful takeover hands mastership to.
pub(crate) async fn prepare_switch(
    ctx: &Ctx,
    brief: &Brief,
    designated: Option<InstanceKey>,
    auto: bool,
) -> Result<(Analysis, Switch), (&'static str, String)> {
    let cfg = &ctx.cfg;
    let Some(master) = brief.master().cloned() else {
        return Err((
            "not_found",
            format!("cluster {} has no master", brief.cluster),
        ));
    };
    let direct = master.replicas.clone();
    if direct.is_empty() {
        return Err(("refused", format!("master {} has no replicas", master.key)));
    }
    let server = |k: &InstanceKey| match brief.state(k) {
        Some(s) => Server::of_state(cfg, s),
        None => Server::new(cfg, k.clone(), k.clone()),
    };
    let metadata = ctx.store.metadata().all().await.unwrap_or_default();
    let now = wall_clock();
    let chosen = match designated {
        Some(d) if direct.contains(&d) => d,
        Some(d) => {
            return Err((
                "invalid",
                format!("{d} is not a direct replica of master {}", master.key),
            ));
        }
        None if direct.len() == 1 => direct[0].clone(),
        None if auto => {
            // As if the master failed: the most up to date eligible replica.
            let replicas: Vec<Server> = direct.iter().map(server).collect();
            let g = failover::gather(
                cfg,
                master.key.clone(),
                master.key.clone(),
                brief.state(&master.key).and_then(|s| s.data.clone()),
                replicas,
                &metadata,
                now,
            )
            .await;
            match failover::decide(cfg, &g, None) {
                Ok(d) => d.ideal.unwrap_or(d.promote),
                Err(e) => return Err(("refused", e.reason)),
            }
        }
        None => {
            return Err((
                "invalid",
                format!(
                    "GracefulMasterTakeover: target instance not indicated and master {} has {} replicas; name the designated replica",
                    master.key,
                    direct.len()
                ),
            ));
        }
    };
    let mut sw = Switch {
        master: server(&master.key),
        designated: server(&chosen),
        siblings: direct
            .iter()
            .filter(|k| **k != chosen)
            .map(server)
            .collect(),
    };
    sw.refresh(cfg).await;
    let rule = failover::rules(&metadata, std::slice::from_ref(&sw.designated), now)
        .get(&chosen)
        .copied()
        .unwrap_or_default();
    sw.check(cfg, rule).map_err(|e| ("refused", e))?;
    Ok((master, sw))
}

async fn graceful_takeover(
    ctx: &Ctx,
    t: &Trigger,
    brief: &Brief,
    lease: &LeaseKeeper,
    designated: Option<InstanceKey>,
    auto: bool,
) -> Ended {
    let cfg = &ctx.cfg;
    let (master, sw) = match prepare_switch(ctx, brief, designated, auto).await {
        Ok(x) => x,
        Err((kind, why)) => return Ended::Refused(kind, why),
    };
    let mut sw = sw;
    let chosen = sw.designated.key.clone();
    let mut analysis = master.clone();
    analysis.code = AnalysisCode::DeadMaster;
    let mut record = new_record(
        ctx,
        t,
        brief,
        &analysis,
        lease,
        RecoveryKind::MasterRecovery,
    );
    record.recovery_type = "MasterRecoveryGTID".into();
    let mut hook = hook_context(
        cfg,
        &analysis,
        &record.cluster_alias,
        &brief.domain(),
        &t.command,
        &record.uid,
    );
    hook.successor = Some(chosen.clone());
    let mut journal = Journal::open(ctx.store.clone(), record);
    let steps = journal.stepper();
    steps.step(format!(
        "graceful takeover of {} by {chosen}, fencing token {}",
        master.key,
        lease.token()
    ));
    publish_event(ctx, journal.record(), "started").await;
    if let Err(e) = hooks::run(cfg, HookStage::PreGracefulTakeover, &hook, Some(&journal)).await {
        journal.error(format!(
            "takeover aborted by PreGracefulTakeoverProcesses: {e}"
        ));
        return close(ctx, journal, false, String::new()).await;
    }
    if let Err(e) = lease.fence() {
        journal.error(e.to_string());
        return close(ctx, journal, false, String::new()).await;
    }
    let abort = |journal: Journal, sw: Switch, why: String| async move {
        let mut sw = sw;
        let mut journal = journal;
        journal.error(why);
        if let Err(e) = sw.revert(cfg).await {
            journal.error(format!("{} not made writable again: {e}", sw.master.key));
        } else {
            journal.step(format!("{} writable again", sw.master.key));
        }
        close(ctx, journal, false, String::new()).await
    };
    if let Err(e) = sw.quiesce(cfg, &steps).await {
        return abort(journal, sw, format!("replicas did not catch up: {e}")).await;
    }
    let moved = match sw.relocate_siblings(cfg, &steps).await {
        Ok(m) => m,
        Err(e) => return abort(journal, sw, e).await,
    };
    // From here on it is orchestrator's forced DeadMaster recovery of a
    // master with one replica: the designated one.
    hook.replicas = vec![chosen.clone()];
    operator_detection(ctx, journal.record(), &hook, &journal).await;
    if let Err(e) = hooks::run(cfg, HookStage::PreFailover, &hook, Some(&journal)).await {
        return abort(
            journal,
            sw,
            format!("takeover aborted by PreFailoverProcesses: {e}"),
        )
        .await;
    }
    if let Err(e) = lease.fence() {
        return abort(journal, sw, e.to_string()).await;
    }
    let coordinates = match sw.promote(cfg).await {
        Ok(c) => c,
        Err(e) => return abort(journal, sw, format!("promoting {chosen}: {e}")).await,
    };
    steps.step(format!("promoted {chosen} (at {coordinates})"));
    hook.successor_binlog_coordinates = coordinates;
    hook.is_successful = true;
    let mut participating = vec![master.key.clone(), chosen.clone()];
    participating.extend(moved);
    participating.sort();
    journal.update(|r| {
        r.successor = Some(chosen.clone());
        r.participating = participating.clone();
        r.is_successful = true;
    });
    let _ = hooks::run(cfg, HookStage::PostMasterFailover, &hook, Some(&journal)).await;
    let _ = hooks::run(cfg, HookStage::PostFailover, &hook, Some(&journal)).await;
    let creds = sw.credentials(cfg).await;
    if creds.is_none() {
        journal.error(format!(
            "no replication credentials known for {} (set ReplicationCredentialsQuery or ReplicationUser/ReplicationPassword): it keeps whatever it had",
            master.key
        ));
    }
    match sw.demote(cfg, creds).await {
        Ok(()) => match sw.verify_demoted(cfg, VERIFY_FOR).await {
            Ok(()) => steps.step(format!("{} now replicates from {chosen}", master.key)),
            Err(e) => journal.error(e),
        },
        Err(e) => journal.error(format!("pointing {} at {chosen}: {e}", master.key)),
    }
    let _ = hooks::run(cfg, HookStage::PostGracefulTakeover, &hook, Some(&journal)).await;
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
    close(ctx, journal, true, String::new()).await
}

async fn intermediate_failover(
    ctx: &Ctx,
    t: &Trigger,
    brief: &Brief,
    lease: &LeaseKeeper,
    analysis: Analysis,
    lite: bool,
) -> Ended {
    let cfg = &ctx.cfg;
    let Some(grandparent) = analysis.master_key.clone() else {
        return Ended::Refused(
            "refused",
            format!("{} has no master to move its replicas to", analysis.key),
        );
    };
    let record = new_record(
        ctx,
        t,
        brief,
        &analysis,
        lease,
        RecoveryKind::IntermediateMasterRecovery,
    );
    let mut hook = hook_context(
        cfg,
        &analysis,
        &record.cluster_alias,
        &brief.domain(),
        &t.command,
        &record.uid,
    );
    let mut journal = Journal::open(ctx.store.clone(), record);
    journal.update(|r| r.recovery_type = "NotMasterRecovery".into());
    let steps = journal.stepper();
    steps.step(format!(
        "{} on {}: moving its replicas, fencing token {}",
        analysis.code,
        analysis.key,
        lease.token()
    ));
    publish_event(ctx, journal.record(), "started").await;
    if t.forced && !lite {
        operator_detection(ctx, journal.record(), &hook, &journal).await;
    }
    if !lite && let Err(e) = hooks::run(cfg, HookStage::PreFailover, &hook, Some(&journal)).await {
        journal.error(format!("recovery aborted by PreFailoverProcesses: {e}"));
        return close(ctx, journal, false, String::new()).await;
    }
    let server = |k: &InstanceKey| match brief.state(k) {
        Some(s) => Server::of_state(cfg, s),
        None => Server::new(cfg, k.clone(), k.clone()),
    };
    // Target: a sibling registered as prefer/must (keeps the tree's shape),
    // else the dead intermediate master's own master.
    let metadata = ctx.store.metadata().all().await.unwrap_or_default();
    let now = wall_clock();
    let siblings: Vec<InstanceKey> = brief
        .analysis(&grandparent)
        .map(|a| {
            a.replicas
                .iter()
                .filter(|k| **k != analysis.key)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut target = server(&grandparent);
    for k in &siblings {
        let rule = metadata
            .get(k)
            .map_or(PromotionRule::Neutral, |m| m.promotion_rule(now));
        if matches!(rule, PromotionRule::Must | PromotionRule::Prefer) {
            let mut s = server(k);
            s.refresh(cfg).await;
            if s.data.as_ref().is_some_and(|d| {
                d.log_bin
                    && d.log_replica_updates
                    && d.replication
                        .as_ref()
                        .is_some_and(|r| r.io_thread == orc_model::ThreadState::Running)
            }) {
                target = s;
                break;
            }
        }
    }
    let replicas: Vec<Server> = analysis.replicas.iter().map(server).collect();
    let mut g = failover::gather(
        cfg,
        analysis.key.clone(),
        analysis.key.clone(),
        None,
        replicas,
        &metadata,
        now,
    )
    .await;
    if let Err(e) = lease.fence() {
        return finish_unsuccessful(ctx, journal, &mut hook, e.to_string(), lite, String::new())
            .await;
    }
    let target_key = target.key.clone();
    let target_address = target.address.clone();
    let moves = g.replicas.iter_mut().map(|s| {
        let target_address = target_address.clone();
        async move {
            let gtid = s.data.as_ref().is_some_and(|d| {
                d.replication
                    .as_ref()
                    .is_some_and(|r| r.auto_position || r.uses_mariadb_gtid())
            });
            if !s.reachable() {
                return (s.key.clone(), Err("unreachable".to_string()));
            }
            if !gtid {
                return (
                    s.key.clone(),
                    Err("no GTID: its position on the new source cannot be computed".to_string()),
                );
            }
            let mariadb = s
                .data
                .as_ref()
                .is_some_and(|d| d.flavor == orc_model::Flavor::Mariadb);
            let pos = if mariadb {
                orc_mysql::StartPosition::MariadbSlavePos
            } else {
                orc_mysql::StartPosition::AutoPosition
            };
            let r = failover::repoint(cfg, s, &target_address, pos, None).await;
            (s.key.clone(), r)
        }
    });
    let results = futures_util::future::join_all(moves).await;
    let mut moved = Vec::new();
    let mut lost = Vec::new();
    for (k, r) in results {
        match r {
            Ok(()) => {
                steps.step(format!("{k} now replicates from {target_key}"));
                moved.push(k);
            }
            Err(e) => {
                journal.error(format!("{k} is lost: {e}"));
                lost.push(k);
            }
        }
    }
    if moved.is_empty() && !analysis.replicas.is_empty() {
        return finish_unsuccessful(
            ctx,
            journal,
            &mut hook,
            "no replica could be moved".into(),
            lite,
            String::new(),
        )
        .await;
    }
    for e in failover::verify(
        cfg,
        &mut g,
        &moved,
        &target_key,
        &target_address,
        VERIFY_FOR,
    )
    .await
    {
        journal.error(e);
    }
    let mut participating = moved.clone();
    participating.push(target_key.clone());
    participating.sort();
    journal.update(|r| {
        r.successor = Some(target_key.clone());
        r.lost_replicas = lost.clone();
        r.participating = participating.clone();
        r.is_successful = true;
    });
    hook.successor = Some(target_key);
    hook.lost_replicas = lost;
    hook.is_successful = true;
    if !lite {
        let _ = hooks::run(
            cfg,
            HookStage::PostIntermediateMasterFailover,
            &hook,
            Some(&journal),
        )
        .await;
        let _ = hooks::run(cfg, HookStage::PostFailover, &hook, Some(&journal)).await;
    }
    close(ctx, journal, true, String::new()).await
}

async fn make_writable(
    ctx: &Ctx,
    t: &Trigger,
    brief: &Brief,
    lease: &LeaseKeeper,
    analysis: Analysis,
) -> Ended {
    let cfg = &ctx.cfg;
    let record = new_record(
        ctx,
        t,
        brief,
        &analysis,
        lease,
        RecoveryKind::MasterRecovery,
    );
    let mut journal = Journal::open(ctx.store.clone(), record);
    let mut master = match brief.state(&analysis.key) {
        Some(s) => Server::of_state(cfg, s),
        None => Server::new(cfg, analysis.key.clone(), analysis.key.clone()),
    };
    let r = async {
        lease.fence().map_err(|e| e.to_string())?;
        let op = master.op(cfg).await?;
        op.set_read_only(false, cfg.use_super_read_only)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    let ok = match r {
        Ok(()) => {
            journal.step(format!(
                "{} set writable (RecoverNonWriteableMaster)",
                analysis.key
            ));
            journal.update(|r| r.successor = Some(analysis.key.clone()));
            true
        }
        Err(e) => {
            journal.error(e);
            false
        }
    };
    close(ctx, journal, ok, String::new()).await
}

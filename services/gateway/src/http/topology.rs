//! orchestrator's refactoring and replication-control routes, with their
//! `-slave` synonyms: `relocate`, `move-up`, `take-master`,
//! `set-read-only`, ... Each answers as orchestrator does — the moved
//! instance, the moved replicas, or a key — and `?dry_run=true` (ours)
//! answers the plan instead, changing nothing.

use std::collections::HashMap;
use std::sync::Arc;

use crate::access::Caller;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use orc_compat::KeyJson;
use orc_model::InstanceKey;
use orc_proto::v1 as wire;
use serde_json::{Value, json};

use super::request::{P2, P3, P4, Params, flag, key, number};
use super::{ApiResult, S, ok};
use crate::Gateway;
use crate::error::ApiError;
use crate::operations::topology::{self, Answer, Ask};

use wire::Operation as O;

/// Operations on one instance: `/{name}/:host/:port`.
const ON_INSTANCE: &[(&str, O)] = &[
    ("move-up", O::MoveUp),
    ("move-up-replicas", O::MoveUpReplicas),
    ("move-up-slaves", O::MoveUpReplicas),
    ("repoint-replicas", O::RepointReplicas),
    ("repoint-slaves", O::RepointReplicas),
    ("take-master", O::TakeMaster),
    ("enslave-master", O::TakeMaster),
    ("take-siblings", O::TakeSiblings),
    ("enslave-siblings", O::TakeSiblings),
    ("make-co-master", O::MakeCoMaster),
    ("regroup-replicas", O::RegroupReplicas),
    ("regroup-slaves", O::RegroupReplicas),
    ("regroup-replicas-gtid", O::RegroupReplicasGtid),
    ("regroup-slaves-gtid", O::RegroupReplicasGtid),
    ("regroup-replicas-pgtid", O::RegroupReplicasPgtid),
    ("regroup-slaves-pgtid", O::RegroupReplicasPgtid),
    ("match-up", O::MatchUp),
    ("match-up-replicas", O::MatchUpReplicas),
    ("match-up-slaves", O::MatchUpReplicas),
    ("detach-replica", O::DetachReplicaMasterHost),
    ("detach-slave", O::DetachReplicaMasterHost),
    ("detach-replica-master-host", O::DetachReplicaMasterHost),
    ("detach-slave-master-host", O::DetachReplicaMasterHost),
    ("reattach-replica", O::ReattachReplicaMasterHost),
    ("reattach-slave", O::ReattachReplicaMasterHost),
    ("reattach-replica-master-host", O::ReattachReplicaMasterHost),
    ("reattach-slave-master-host", O::ReattachReplicaMasterHost),
    ("set-read-only", O::SetReadOnly),
    ("set-writeable", O::SetWriteable),
    ("stop-replica", O::StopReplica),
    ("stop-slave", O::StopReplica),
    ("stop-replica-nice", O::StopReplicaNice),
    ("stop-slave-nice", O::StopReplicaNice),
    ("start-replica", O::StartReplica),
    ("start-slave", O::StartReplica),
    ("restart-replica", O::RestartReplica),
    ("restart-slave", O::RestartReplica),
    ("reset-replica", O::ResetReplica),
    ("reset-slave", O::ResetReplica),
    ("skip-query", O::SkipQuery),
    ("enable-gtid", O::EnableGtid),
    ("disable-gtid", O::DisableGtid),
    ("flush-binary-logs", O::FlushBinaryLogs),
    ("enable-semi-sync-master", O::EnableSemiSyncMaster),
    ("disable-semi-sync-master", O::DisableSemiSyncMaster),
    ("enable-semi-sync-replica", O::EnableSemiSyncReplica),
    ("enable-semi-sync-slave", O::EnableSemiSyncReplica),
    ("disable-semi-sync-replica", O::DisableSemiSyncReplica),
    ("disable-semi-sync-slave", O::DisableSemiSyncReplica),
    ("gtid-errant-reset-master", O::GtidErrantResetMaster),
    ("gtid-errant-inject-empty", O::GtidErrantInjectEmpty),
    ("locate-gtid-errant", O::LocateGtidErrant),
    ("last-pseudo-gtid", O::LastPseudoGtid),
];

/// Operations on an instance and another: `/{name}/:host/:port/:belowHost/:belowPort`.
const ON_PAIR: &[(&str, O)] = &[
    ("relocate", O::Relocate),
    ("relocate-below", O::Relocate),
    ("relocate-replicas", O::RelocateReplicas),
    ("relocate-slaves", O::RelocateReplicas),
    ("move-below", O::MoveBelow),
    ("move-equivalent", O::MoveEquivalent),
    ("repoint", O::Repoint),
    ("move-below-gtid", O::MoveBelowGtid),
    ("move-replicas-gtid", O::MoveReplicasGtid),
    ("move-slaves-gtid", O::MoveReplicasGtid),
    ("match", O::MatchBelow),
    ("match-below", O::MatchBelow),
    ("match-replicas", O::MatchReplicas),
    ("match-slaves", O::MatchReplicas),
    ("can-replicate-from", O::CanReplicateFrom),
    ("can-replicate-from-gtid", O::CanReplicateFrom),
];

/// The route of an operation (its first name in the tables above).
pub(crate) fn route_name(op: O) -> Option<&'static str> {
    ON_INSTANCE
        .iter()
        .chain(ON_PAIR)
        .find(|(_, o)| *o == op)
        .map(|(name, _)| *name)
        .or(match op {
            O::PurgeBinaryLogs => Some("purge-binary-logs"),
            O::DelayReplication => Some("delay-replication"),
            O::KillQuery => Some("kill-query"),
            _ => None,
        })
}

/// The refactoring and replication-control routes (relative to `/api`).
pub(super) fn routes() -> Router<Arc<Gateway>> {
    let mut r = Router::new();
    for (name, op) in ON_INSTANCE {
        let op = *op;
        r = r.route(
            &format!("/{name}/{{h}}/{{p}}"),
            get(move |s: S, p: P2, q: Params, hd: Caller| on_instance(s, p, q, hd, op)),
        );
    }
    for (name, op) in ON_PAIR {
        let op = *op;
        r = r.route(
            &format!("/{name}/{{h}}/{{p}}/{{bh}}/{{bp}}"),
            get(move |s: S, p: P4, q: Params, hd: Caller| on_pair(s, p, q, hd, op)),
        );
    }
    // The replica-moving routes also take `:belowHost/:belowPort` optional
    // forms orchestrator accepts.
    r.route(
        "/move-up-replicas/{h}/{p}/{bh}/{bp}",
        get(|s: S, p: P4, q: Params, hd: Caller| on_pair(s, p, q, hd, O::MoveUpReplicas)),
    )
    .route(
        "/repoint-replicas/{h}/{p}/{bh}/{bp}",
        get(|s: S, p: P4, q: Params, hd: Caller| on_pair(s, p, q, hd, O::RepointReplicas)),
    )
    .route(
        "/repoint/{h}/{p}",
        get(|s: S, p: P2, q: Params, hd: Caller| on_instance(s, p, q, hd, O::Repoint)),
    )
    .route("/purge-binary-logs/{h}/{p}/{binlog}", get(purge))
    .route("/delay-replication/{h}/{p}/{seconds}", get(delay))
    .route("/kill-query/{h}/{p}/{process}", get(kill))
    .route(
        "/restart-replica-statements/{h}/{p}",
        get(restart_statements),
    )
    .route("/restart-slave-statements/{h}/{p}", get(restart_statements))
}

fn ask(
    gw: &Gateway,
    op: O,
    h: &str,
    p: &str,
    target: Option<(&str, &str)>,
    q: &HashMap<String, String>,
    hd: &Caller,
) -> Result<Ask, ApiError> {
    let mut a = Ask::new(
        op,
        key(gw, h, p)?,
        target.map(|(th, tp)| key(gw, th, tp)).transpose()?,
    );
    a.pattern = q.get("pattern").cloned().unwrap_or_default();
    a.force = flag(q, "force");
    a.dry_run = flag(q, "dry_run");
    a.by = hd.user.clone();
    Ok(a)
}

async fn on_instance(
    State(gw): S,
    Path((h, p)): P2,
    Query(q): Params,
    hd: Caller,
    op: O,
) -> ApiResult {
    let a = ask(&gw, op, &h, &p, None, &q, &hd)?;
    run(&gw, a).await
}

async fn on_pair(
    State(gw): S,
    Path((h, p, bh, bp)): P4,
    Query(q): Params,
    hd: Caller,
    op: O,
) -> ApiResult {
    let a = ask(&gw, op, &h, &p, Some((&bh, &bp)), &q, &hd)?;
    run(&gw, a).await
}

async fn purge(State(gw): S, Path((h, p, binlog)): P3, Query(q): Params, hd: Caller) -> ApiResult {
    let mut a = ask(&gw, O::PurgeBinaryLogs, &h, &p, None, &q, &hd)?;
    a.binlog = binlog;
    run(&gw, a).await
}

async fn delay(State(gw): S, Path((h, p, seconds)): P3, Query(q): Params, hd: Caller) -> ApiResult {
    let mut a = ask(&gw, O::DelayReplication, &h, &p, None, &q, &hd)?;
    a.number = u64::try_from(number("delay seconds", &seconds)?).unwrap_or(0);
    run(&gw, a).await
}

async fn kill(State(gw): S, Path((h, p, process)): P3, Query(q): Params, hd: Caller) -> ApiResult {
    let mut a = ask(&gw, O::KillQuery, &h, &p, None, &q, &hd)?;
    a.number = u64::try_from(number("process id", &process)?).unwrap_or(0);
    run(&gw, a).await
}

/// The statements wrapping a query so replication threads end as they were
/// (orchestrator's `restart-replica-statements`; nothing is run).
async fn restart_statements(State(gw): S, Path((h, p)): P2, Query(q): Params) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    let cat = super::catalog(&gw).await?;
    let found = cat.require_instance(&k)?;
    let query = q.get("q").cloned().unwrap_or_default();
    let data = cat.state(&found).and_then(|s| s.data.as_ref());
    let mysql_new = data.is_some_and(|d| {
        d.flavor != orc_model::Flavor::Mariadb
            && d.version
                .split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                >= Some(8)
    });
    let word = if mysql_new { "replica" } else { "slave" };
    let (io, sql) = data
        .and_then(|d| d.replication.as_ref())
        .map_or((false, false), |r| {
            (r.io_thread.is_running(), r.sql_thread.is_running())
        });
    let mut statements = Vec::new();
    if io {
        statements.push(format!("stop {word} io_thread"));
    }
    if sql {
        statements.push(format!("stop {word} sql_thread"));
    }
    if !query.is_empty() {
        statements.push(query);
    }
    if io {
        statements.push(format!("start {word} io_thread"));
    }
    if sql {
        statements.push(format!("start {word} sql_thread"));
    }
    ok(format!("statements for: {found}"), statements)
}

/// A plan on the wire as JSON.
pub(crate) fn plan_json(p: &wire::Plan) -> Value {
    let key = |k: &Option<wire::InstanceKey>| {
        k.as_ref()
            .and_then(|k| InstanceKey::try_from(k).ok())
            .map(|k| k.to_string())
    };
    json!({
        "Intent": p.intent,
        "Summary": p.summary,
        "Method": p.method,
        "Notes": p.notes,
        "Phases": p.phases.iter().map(|ph| json!({
            "Label": ph.label,
            "Lanes": ph.lanes.iter().map(|l| json!({
                "Label": l.label,
                "Critical": l.critical,
                "Background": l.background,
                "Moves": key(&l.moves),
                "Steps": l.steps.iter().map(|s| json!({
                    "Action": s.action,
                    "Preconditions": s.preconditions,
                    "Effects": s.effects,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "OnFailure": p.on_failure,
        "Expect": p.expect,
        "Subject": key(&p.subject),
        "Successor": key(&p.successor),
        "Lost": p.lost.iter().map(|l| json!({"Key": key(&l.key), "Reason": l.reason})).collect::<Vec<_>>(),
        "Followup": p.followup,
    })
}

/// The predicted shape: `host:port` → its place.
fn predicted_json(entries: &[wire::ShapeEntry]) -> Value {
    let key = |k: &Option<wire::InstanceKey>| {
        k.as_ref()
            .and_then(|k| InstanceKey::try_from(k).ok())
            .map(|k| k.to_string())
    };
    let mut map = serde_json::Map::new();
    for e in entries {
        if let Some(k) = key(&e.key) {
            map.insert(
                k,
                json!({
                    "Source": key(&e.source),
                    "Replicating": e.replicating,
                    "ReadOnly": e.read_only,
                    "Detached": e.detached,
                }),
            );
        }
    }
    Value::Object(map)
}

fn instance_details(a: &Answer, k: &InstanceKey) -> Value {
    a.catalog.instance_json(k).map_or(Value::Null, |i| {
        serde_json::to_value(i).unwrap_or(Value::Null)
    })
}

fn errors_of(a: &Answer) -> Vec<String> {
    a.result
        .not_moved
        .iter()
        .map(|n| {
            let k = n
                .key
                .as_ref()
                .and_then(|k| InstanceKey::try_from(k).ok())
                .map(|k| k.to_string())
                .unwrap_or_default();
            format!("{k}: {}", n.reason)
        })
        .collect()
}

/// Runs an operation and renders orchestrator's answer.
async fn run(gw: &Gateway, a: Ask) -> ApiResult {
    let op = a.op;
    let dry = a.dry_run;
    let answer = topology::operate(gw, a).await?;
    let i = answer.instance.clone();
    let t = answer.target.clone();
    let name = orc_proto::plan::operation_name(op);
    if dry {
        let mut plan = answer.result.plan.as_ref().map_or(Value::Null, plan_json);
        if let Some(o) = plan.as_object_mut() {
            o.insert("Predicted".into(), predicted_json(&answer.result.predicted));
        }
        return ok(format!("{name} {i} (dry run): nothing changed"), plan);
    }
    let tk = t.as_ref().map(ToString::to_string).unwrap_or_default();
    let moved = topology::moved(&answer);
    let errors = errors_of(&answer);
    let subject = answer
        .result
        .subject
        .as_ref()
        .and_then(|k| InstanceKey::try_from(k).ok())
        .unwrap_or_else(|| i.clone());
    match op {
        O::Relocate => ok(
            format!("Instance {i} relocated below {tk}"),
            instance_details(&answer, &i),
        ),
        O::MoveBelow => ok(
            format!("Instance {i} moved below {tk}"),
            instance_details(&answer, &i),
        ),
        O::MoveBelowGtid => ok(
            format!("Instance {i} moved below {tk} via GTID"),
            instance_details(&answer, &i),
        ),
        O::MoveEquivalent => ok(
            format!("Instance {i} relocated via equivalence coordinates below {tk}"),
            instance_details(&answer, &i),
        ),
        O::MatchBelow => ok(
            format!("Instance {i} matched below {tk}"),
            instance_details(&answer, &i),
        ),
        O::MatchUp => ok(
            format!("Instance {i} matched up"),
            instance_details(&answer, &i),
        ),
        O::Repoint => ok(
            format!(
                "Instance {i} repointed below {}",
                if tk.is_empty() {
                    "its master".into()
                } else {
                    tk
                }
            ),
            instance_details(&answer, &i),
        ),
        O::MoveUp => ok(
            format!("Instance {i} moved up"),
            instance_details(&answer, &i),
        ),
        O::TakeMaster => ok(
            format!("{i} took its master"),
            instance_details(&answer, &i),
        ),
        O::TakeSiblings => ok(
            format!("Took {} siblings of {i}", moved.len()),
            instance_details(&answer, &i),
        ),
        O::MakeCoMaster => ok(
            format!("Instance made co-master: {i}"),
            instance_details(&answer, &i),
        ),
        O::RelocateReplicas | O::MatchReplicas => ok(
            format!(
                "Relocated {} replicas of {i} below {tk}; {} errors: {errors:?}",
                moved.len(),
                errors.len()
            ),
            answer.catalog.instances_json(&moved),
        ),
        O::MoveUpReplicas => ok(
            format!(
                "Moved up {} replicas of {i}; {} errors: {errors:?}",
                moved.len(),
                errors.len()
            ),
            answer.catalog.instances_json(&moved),
        ),
        O::RepointReplicas => ok(
            format!("Repointed {} replicas of {i}", moved.len()),
            answer.catalog.instances_json(&moved),
        ),
        // orchestrator answers these two with one key, not the replicas.
        O::MoveReplicasGtid => ok(
            format!(
                "Moved {} replicas of {i} below {tk} via GTID; {} errors: {errors:?}",
                moved.len(),
                errors.len()
            ),
            t.as_ref().map(KeyJson::from_key),
        ),
        O::MatchUpReplicas => ok(
            format!(
                "Matched up {} replicas of {i}; {} errors: {errors:?}",
                moved.len(),
                errors.len()
            ),
            KeyJson::from_key(&subject),
        ),
        O::RegroupReplicas | O::RegroupReplicasGtid | O::RegroupReplicasPgtid => ok(
            format!(
                "promoted replica: {subject}, moved: {}, lost: {}",
                moved.len(),
                errors.len()
            ),
            KeyJson::from_key(&subject),
        ),
        O::DetachReplicaMasterHost => ok(
            format!("Replica detached: {i}"),
            instance_details(&answer, &i),
        ),
        O::ReattachReplicaMasterHost => ok(
            format!("Replica reattached: {i}"),
            instance_details(&answer, &i),
        ),
        O::SetReadOnly => ok("Server set as read-only", instance_details(&answer, &i)),
        O::SetWriteable => ok("Server set as writeable", instance_details(&answer, &i)),
        O::StopReplica => ok(
            format!("Replica stopped: {i}"),
            instance_details(&answer, &i),
        ),
        O::StopReplicaNice => ok(
            format!("Replica stopped nicely: {i}"),
            instance_details(&answer, &i),
        ),
        O::StartReplica => ok(
            format!("Replica started: {i}"),
            instance_details(&answer, &i),
        ),
        O::RestartReplica => ok(
            format!("Replica restarted: {i}"),
            instance_details(&answer, &i),
        ),
        O::ResetReplica => ok(
            format!("Replica reset on {i}"),
            instance_details(&answer, &i),
        ),
        O::SkipQuery => ok(
            format!("Query skipped on {i}"),
            instance_details(&answer, &i),
        ),
        O::EnableGtid => ok(
            format!("Enabled GTID on {i}"),
            instance_details(&answer, &i),
        ),
        O::DisableGtid => ok(
            format!("Disabled GTID on {i}"),
            instance_details(&answer, &i),
        ),
        O::FlushBinaryLogs => ok(
            format!("Binary logs flushed on: {i}"),
            instance_details(&answer, &i),
        ),
        O::PurgeBinaryLogs => ok(
            format!("Binary logs purged on: {i}"),
            instance_details(&answer, &i),
        ),
        O::EnableSemiSyncMaster => ok(
            format!("Enabled semi-sync master on {i}"),
            instance_details(&answer, &i),
        ),
        O::DisableSemiSyncMaster => ok(
            format!("Disabled semi-sync master on {i}"),
            instance_details(&answer, &i),
        ),
        O::EnableSemiSyncReplica => ok(
            format!("Enabled semi-sync replica on {i}"),
            instance_details(&answer, &i),
        ),
        O::DisableSemiSyncReplica => ok(
            format!("Disabled semi-sync replica on {i}"),
            instance_details(&answer, &i),
        ),
        O::DelayReplication => ok(
            format!("Replication delay set on {i}"),
            instance_details(&answer, &i),
        ),
        O::KillQuery => ok(
            format!("Query killed on : {i}"),
            instance_details(&answer, &i),
        ),
        O::GtidErrantResetMaster => ok(
            format!("gtid-errant-reset-master done on {i}"),
            instance_details(&answer, &i),
        ),
        O::GtidErrantInjectEmpty => ok(
            format!("gtid-errant-inject-empty done on {i}"),
            instance_details(&answer, &i),
        ),
        O::CanReplicateFrom => ok(
            answer.result.answer.clone(),
            t.as_ref().map(KeyJson::from_key),
        ),
        O::LocateGtidErrant => ok(
            format!("errant GTID of {i}: {}", answer.result.answer),
            answer.result.answers.clone(),
        ),
        O::LastPseudoGtid => ok(
            answer.result.answers.first().cloned().unwrap_or_default(),
            answer.result.answer.clone(),
        ),
        O::Unspecified => Err(ApiError::BadRequest("no operation".into())),
    }
}

//! orchestrator's acknowledgement, global-switch and recovery-audit routes.

use std::collections::HashMap;
use std::sync::Arc;

use crate::access::Caller;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use orc_compat::RecoveryStepJson;

use super::request::{P2, Params, flag, key, number, page};
use super::{ApiResult, S, ok, raw};
use crate::Gateway;
use crate::operations::ack::{self, AckTarget};
use crate::operations::audit::{self, DetectionQuery, RecoveryQuery};

/// Acknowledgement, global switch and audit routes (relative to `/api`).
pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/ack-recovery/cluster/{a}", get(ack_cluster))
        .route("/ack-recovery/cluster/alias/{a}", get(ack_alias))
        .route("/ack-recovery/instance/{a}/{b}", get(ack_instance))
        .route("/ack-recovery/uid/{a}", get(ack_uid))
        .route("/ack-recovery/{a}", get(ack_id))
        .route("/ack-all-recoveries", get(ack_all))
        .route("/blocked-recoveries", get(blocked))
        .route("/blocked-recoveries/cluster/{a}", get(blocked_in))
        .route("/disable-global-recoveries", get(disable_global))
        .route("/enable-global-recoveries", get(enable_global))
        .route("/check-global-recoveries", get(check_global))
        .route("/audit-recovery", get(audit_recovery))
        .route("/audit-recovery/{a}", get(audit_recovery_page))
        .route("/audit-recovery/id/{a}", get(audit_recovery_id))
        .route("/audit-recovery/uid/{a}", get(audit_recovery_uid))
        .route("/audit-recovery/cluster/{a}", get(audit_recovery_cluster))
        .route(
            "/audit-recovery/cluster/{a}/{b}",
            get(audit_recovery_cluster_page),
        )
        .route("/audit-recovery/alias/{a}", get(audit_recovery_alias))
        .route(
            "/audit-recovery/alias/{a}/{b}",
            get(audit_recovery_alias_page),
        )
        .route("/audit-recovery-steps/{a}", get(audit_recovery_steps))
        .route("/audit-failure-detection", get(audit_detection))
        .route("/audit-failure-detection/{a}", get(audit_detection_page))
        .route("/audit-failure-detection/id/{a}", get(audit_detection_id))
        .route(
            "/audit-failure-detection/alias/{a}",
            get(audit_detection_alias),
        )
        .route(
            "/audit-failure-detection/alias/{a}/{b}",
            get(audit_detection_alias_page),
        )
        .route("/active-cluster-recovery/{a}", get(active_cluster))
        .route("/recently-active-cluster-recovery/{a}", get(recent_cluster))
        .route(
            "/recently-active-instance-recovery/{a}/{b}",
            get(recent_instance),
        )
}

async fn acknowledge(
    gw: &Gateway,
    target: AckTarget,
    q: &HashMap<String, String>,
    hd: &Caller,
    message: String,
) -> ApiResult {
    let comment = q.get("comment").map(String::as_str).unwrap_or_default();
    let done = ack::acknowledge(gw, &target, &hd.user, comment).await?;
    ok(message, done.len())
}

async fn ack_cluster(
    State(gw): S,
    Path(a): Path<String>,
    Query(q): Params,
    hd: Caller,
) -> ApiResult {
    let message = format!("Acknowledged cluster recoveries: {a}");
    acknowledge(&gw, AckTarget::Cluster(a), &q, &hd, message).await
}

async fn ack_alias(State(gw): S, Path(a): Path<String>, Query(q): Params, hd: Caller) -> ApiResult {
    let message = format!("Acknowledged cluster recoveries: {a}");
    acknowledge(&gw, AckTarget::Alias(a), &q, &hd, message).await
}

async fn ack_instance(State(gw): S, Path((h, p)): P2, Query(q): Params, hd: Caller) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    let message = format!("Acknowledged instance recoveries: {k}");
    acknowledge(&gw, AckTarget::Instance(k), &q, &hd, message).await
}

async fn ack_id(State(gw): S, Path(a): Path<String>, Query(q): Params, hd: Caller) -> ApiResult {
    let id = number("recovery id", &a)?;
    let message = format!("Acknowledged recovery: {id}");
    acknowledge(&gw, AckTarget::Id(id), &q, &hd, message).await
}

async fn ack_uid(State(gw): S, Path(a): Path<String>, Query(q): Params, hd: Caller) -> ApiResult {
    let message = format!("Acknowledged recovery: {a}");
    acknowledge(&gw, AckTarget::Uid(a), &q, &hd, message).await
}

async fn ack_all(State(gw): S, Query(q): Params, hd: Caller) -> ApiResult {
    let message = "Acknowledged all recoveries".to_string();
    acknowledge(&gw, AckTarget::All, &q, &hd, message).await
}

async fn disable_global(State(gw): S) -> ApiResult {
    ack::set_global_recoveries(&gw, false).await?;
    ok("Globally disabled recoveries", "disabled")
}

async fn enable_global(State(gw): S) -> ApiResult {
    ack::set_global_recoveries(&gw, true).await?;
    ok("Globally enabled recoveries", "enabled")
}

async fn check_global(State(gw): S) -> ApiResult {
    if ack::global_recoveries_enabled(&gw).await? {
        ok("Global recoveries enabled", "enabled")
    } else {
        ok("Global recoveries disabled", "disabled")
    }
}

async fn list(
    gw: &Gateway,
    query: RecoveryQuery,
    page: Option<usize>,
    q: &HashMap<String, String>,
) -> ApiResult {
    let listing = audit::recoveries(gw, &query, page, flag(q, "unacknowledged")).await?;
    raw(listing.json())
}

async fn blocked(State(gw): S) -> ApiResult {
    let rows = audit::blocked(&gw, None).await?;
    raw(rows.iter().map(audit::BlockedRow::json).collect::<Vec<_>>())
}

async fn blocked_in(State(gw): S, Path(a): Path<String>) -> ApiResult {
    let rows = audit::blocked(&gw, Some(&a)).await?;
    raw(rows.iter().map(audit::BlockedRow::json).collect::<Vec<_>>())
}

async fn audit_recovery(State(gw): S, Query(q): Params) -> ApiResult {
    list(&gw, RecoveryQuery::All, Some(0), &q).await
}

async fn audit_recovery_page(State(gw): S, Path(a): Path<String>, Query(q): Params) -> ApiResult {
    list(&gw, RecoveryQuery::All, page(&a)?, &q).await
}

async fn audit_recovery_id(State(gw): S, Path(a): Path<String>, Query(q): Params) -> ApiResult {
    let id = number("recovery id", &a)?;
    list(&gw, RecoveryQuery::Id(id), None, &q).await
}

async fn audit_recovery_uid(State(gw): S, Path(a): Path<String>, Query(q): Params) -> ApiResult {
    list(&gw, RecoveryQuery::Uid(a), None, &q).await
}

async fn audit_recovery_cluster(
    State(gw): S,
    Path(a): Path<String>,
    Query(q): Params,
) -> ApiResult {
    list(&gw, RecoveryQuery::Cluster(a), Some(0), &q).await
}

async fn audit_recovery_cluster_page(
    State(gw): S,
    Path((a, p)): P2,
    Query(q): Params,
) -> ApiResult {
    list(&gw, RecoveryQuery::Cluster(a), page(&p)?, &q).await
}

async fn audit_recovery_alias(State(gw): S, Path(a): Path<String>, Query(q): Params) -> ApiResult {
    list(&gw, RecoveryQuery::Alias(a), Some(0), &q).await
}

async fn audit_recovery_alias_page(State(gw): S, Path((a, p)): P2, Query(q): Params) -> ApiResult {
    list(&gw, RecoveryQuery::Alias(a), page(&p)?, &q).await
}

async fn audit_recovery_steps(State(gw): S, Path(uid): Path<String>) -> ApiResult {
    let steps = audit::recovery_steps(&gw, &uid).await?;
    raw(steps
        .iter()
        .map(RecoveryStepJson::from_step)
        .collect::<Vec<_>>())
}

async fn detections(gw: &Gateway, query: DetectionQuery, page: Option<usize>) -> ApiResult {
    let rows = audit::detections(gw, &query, page).await?;
    raw(rows
        .iter()
        .map(audit::DetectionRow::json)
        .collect::<Vec<_>>())
}

async fn audit_detection(State(gw): S) -> ApiResult {
    detections(&gw, DetectionQuery::All, Some(0)).await
}

async fn audit_detection_page(State(gw): S, Path(a): Path<String>) -> ApiResult {
    detections(&gw, DetectionQuery::All, page(&a)?).await
}

async fn audit_detection_id(State(gw): S, Path(a): Path<String>) -> ApiResult {
    let id = number("detection id", &a)?;
    detections(&gw, DetectionQuery::Id(id), None).await
}

async fn audit_detection_alias(State(gw): S, Path(a): Path<String>) -> ApiResult {
    detections(&gw, DetectionQuery::Alias(a), Some(0)).await
}

async fn audit_detection_alias_page(State(gw): S, Path((a, p)): P2) -> ApiResult {
    detections(&gw, DetectionQuery::Alias(a), page(&p)?).await
}

async fn active_cluster(State(gw): S, Path(a): Path<String>, Query(q): Params) -> ApiResult {
    list(&gw, RecoveryQuery::Active(a), None, &q).await
}

async fn recent_cluster(State(gw): S, Path(a): Path<String>, Query(q): Params) -> ApiResult {
    list(&gw, RecoveryQuery::RecentInCluster(a), None, &q).await
}

async fn recent_instance(State(gw): S, Path((h, p)): P2, Query(q): Params) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    list(&gw, RecoveryQuery::RecentOfInstance(k), None, &q).await
}

/// orchestrator's `audit` rows.
#[allow(non_snake_case)]
#[derive(serde::Serialize)]
struct AuditJson {
    AuditId: i64,
    AuditTimestamp: String,
    AuditType: String,
    AuditInstanceKey: orc_compat::KeyJson,
    Message: String,
}

/// The general audit routes: `audit[/:page]`, `audit/instance/:host/:port[/:page]`.
pub(super) fn general_routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/audit", get(general))
        .route("/audit/{a}", get(general_page))
        .route("/audit/instance/{a}/{b}", get(general_instance))
        .route("/audit/instance/{a}/{b}/{c}", get(general_instance_page))
}

async fn general_list(
    gw: &Gateway,
    instance: Option<orc_model::InstanceKey>,
    page_number: usize,
) -> ApiResult {
    let page = u32::try_from(page_number).unwrap_or(u32::MAX);
    let per_page = u32::try_from(crate::operations::PAGE_SIZE).unwrap_or(20);
    let rows = gw
        .store
        .audit()
        .page(instance.as_ref(), page, per_page)
        .await?;
    raw(rows
        .into_iter()
        .map(|e| AuditJson {
            AuditId: e.id,
            AuditTimestamp: e.at.to_rfc3339(),
            AuditType: e.kind,
            AuditInstanceKey: e.instance.as_ref().map_or(
                orc_compat::KeyJson {
                    Hostname: String::new(),
                    Port: 0,
                },
                orc_compat::KeyJson::from_key,
            ),
            Message: e.message,
        })
        .collect::<Vec<_>>())
}

async fn general(State(gw): S) -> ApiResult {
    general_list(&gw, None, 0).await
}

async fn general_page(State(gw): S, Path(a): Path<String>) -> ApiResult {
    general_list(&gw, None, page(&a)?.unwrap_or(0)).await
}

async fn general_instance(State(gw): S, Path((h, p)): P2) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    general_list(&gw, Some(k), 0).await
}

async fn general_instance_page(
    State(gw): S,
    Path((h, p, n)): Path<(String, String, String)>,
) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    general_list(&gw, Some(k), page(&n)?.unwrap_or(0)).await
}

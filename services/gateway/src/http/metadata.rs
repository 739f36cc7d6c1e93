//! orchestrator's downtime, maintenance and candidate routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use orc_compat::{KeyJson, MaintenanceJson};

use super::request::{P2, P3, P4, key, number};
use super::{ApiResult, S, ok, raw};
use crate::Gateway;
use crate::operations::metadata;

/// Downtime, maintenance and candidate routes (relative to `/api`).
pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/begin-downtime/{a}/{b}/{c}/{d}", get(begin_downtime))
        .route(
            "/begin-downtime/{a}/{b}/{c}/{d}/{e}",
            get(begin_downtime_for),
        )
        .route("/end-downtime/{a}/{b}", get(end_downtime))
        .route("/downtimed", get(downtimed))
        .route("/downtimed/{a}", get(downtimed_in))
        .route("/begin-maintenance/{a}/{b}/{c}/{d}", get(begin_maintenance))
        .route("/end-maintenance/{a}/{b}", get(end_maintenance))
        .route("/end-maintenance/{a}", get(end_maintenance_by_id))
        .route("/in-maintenance/{a}/{b}", get(in_maintenance))
        .route("/maintenance", get(maintenance))
        .route("/register-candidate/{a}/{b}/{c}", get(register_candidate))
}

async fn begin_downtime(State(gw): S, Path((h, p, owner, reason)): P4) -> ApiResult {
    start_downtime(&gw, &h, &p, &owner, &reason, "").await
}

async fn begin_downtime_for(
    State(gw): S,
    Path((h, p, owner, reason, duration)): Path<(String, String, String, String, String)>,
) -> ApiResult {
    start_downtime(&gw, &h, &p, &owner, &reason, &duration).await
}

async fn start_downtime(
    gw: &Gateway,
    host: &str,
    port: &str,
    owner: &str,
    reason: &str,
    duration: &str,
) -> ApiResult {
    let k = key(gw, host, port)?;
    let duration = metadata::parse_duration(duration)?;
    let c = metadata::begin_downtime(gw, &k, owner, reason, duration).await?;
    ok(
        format!("Downtime begun: {}", c.key),
        KeyJson::from_key(&c.key),
    )
}

async fn end_downtime(State(gw): S, Path((h, p)): P2) -> ApiResult {
    let c = metadata::end_downtime(&gw, &key(&gw, &h, &p)?).await?;
    ok(
        format!("Downtime ended: {}", c.key),
        KeyJson::from_key(&c.key),
    )
}

async fn downtimed(State(gw): S) -> ApiResult {
    let (cat, keys) = metadata::downtimed(&gw, None).await?;
    raw(cat.instances_json(&keys))
}

async fn downtimed_in(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    let (cat, keys) = metadata::downtimed(&gw, Some(&hint)).await?;
    raw(cat.instances_json(&keys))
}

async fn begin_maintenance(State(gw): S, Path((h, p, owner, reason)): P4) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    let c = metadata::begin_maintenance(&gw, &k, &owner, &reason).await?;
    ok(
        format!("Maintenance begun: {}", c.key),
        KeyJson::from_key(&c.key),
    )
}

async fn end_maintenance(State(gw): S, Path((h, p)): P2) -> ApiResult {
    let c = metadata::end_maintenance(&gw, &key(&gw, &h, &p)?).await?;
    ok(
        format!("Maintenance ended: {}", c.key),
        KeyJson::from_key(&c.key),
    )
}

async fn end_maintenance_by_id(State(gw): S, Path(a): Path<String>) -> ApiResult {
    let id = number("maintenance id", &a)?;
    let c = metadata::end_maintenance_by_id(&gw, id).await?;
    ok(format!("Maintenance ended: {}", c.key), id)
}

async fn in_maintenance(State(gw): S, Path((h, p)): P2) -> ApiResult {
    let (k, held) = metadata::in_maintenance(&gw, &key(&gw, &h, &p)?).await?;
    let details = if held { k.to_string() } else { String::new() };
    ok(held.to_string(), details)
}

async fn maintenance(State(gw): S) -> ApiResult {
    let (locks, now) = metadata::active_maintenance(&gw).await?;
    raw(locks
        .iter()
        .map(|(k, m)| MaintenanceJson::from_maintenance(k, m, now))
        .collect::<Vec<_>>())
}

async fn register_candidate(State(gw): S, Path((h, p, rule)): P3) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    let rule = metadata::parse_promotion_rule(&rule)?;
    let c = metadata::register_candidate(&gw, &k, rule).await?;
    ok(
        format!("Registered candidate: {} ({rule})", c.key),
        KeyJson::from_key(&c.key),
    )
}

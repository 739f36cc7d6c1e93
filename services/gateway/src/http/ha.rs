//! Health, leadership and configuration routes: `health`/`status`,
//! `lb-check`/`_ping`, `leader-check[/:code]`, `routed-leader-check`, the
//! `raft-*` family answering from the gateways' leadership
//! ([`crate::leadership`]), `grab-election`/`reelect`, and
//! `reload-configuration`, `headers`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use orc_model::InstanceKey;
use serde::Serialize;

use super::{ApiResult, S, ok, raw};
use crate::Gateway;
use crate::access::Caller;
use crate::error::ApiError;

/// The routes (relative to `/api`).
pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/health", get(health))
        .route("/status", get(health))
        .route("/lb-check", get(lb_check))
        .route("/_ping", get(lb_check))
        .route("/leader-check", get(leader_check))
        .route("/leader-check/{code}", get(leader_check_with))
        .route("/routed-leader-check", get(routed_leader_check))
        .route("/raft-state", get(raft_state))
        .route("/raft-leader", get(raft_leader))
        .route("/raft-health", get(raft_health))
        .route("/raft-peers", get(raft_peers))
        .route("/raft-status", get(raft_status))
        .route("/raft-yield/{node}", get(raft_yield))
        .route("/raft-yield-hint/{hint}", get(raft_yield))
        .route("/grab-election", get(grab_election))
        .route("/reelect", get(reelect))
        .route("/reload-configuration", get(reload_configuration))
        .route("/headers", get(headers))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct HealthJson {
    Healthy: bool,
    Hostname: String,
    Token: String,
    IsActiveNode: bool,
    ActiveNode: String,
    Error: Option<String>,
    AvailableNodes: Vec<String>,
    RaftLeader: String,
    IsRaftLeader: bool,
    RaftLeaderURI: String,
    RaftAdvertise: String,
    RaftHealthyMembers: Vec<String>,
}

async fn health(State(gw): S) -> ApiResult {
    let probe =
        InstanceKey::new("health-check", 1).map_err(|e| ApiError::Internal(e.to_string()))?;
    let store = gw.store.instances().get(&probe).await;
    let view = gw.leadership.view();
    let leader = view.leader.clone().unwrap_or_default();
    let body = HealthJson {
        Healthy: store.is_ok(),
        Hostname: hostname(),
        Token: String::new(),
        IsActiveNode: view.is_leader,
        ActiveNode: leader.clone(),
        Error: store.err().map(|e| e.to_string()),
        AvailableNodes: view.peers.clone(),
        RaftLeader: leader.clone(),
        IsRaftLeader: view.is_leader,
        RaftLeaderURI: leader,
        RaftAdvertise: view.me.clone(),
        RaftHealthyMembers: view.peers,
    };
    if body.Healthy {
        ok("Application node is healthy", body)
    } else {
        Err(ApiError::Internal(format!(
            "Application node is unhealthy: {}",
            body.Error.unwrap_or_default()
        )))
    }
}

async fn lb_check() -> Response {
    axum::Json("OK").into_response()
}

fn not_leader(code: StatusCode) -> Response {
    (code, axum::Json("Not leader")).into_response()
}

/// 200 `"OK"` on the leader, else 404 `"Not leader"`.
async fn leader_check(State(gw): S) -> Response {
    if gw.leadership.view().is_leader {
        axum::Json("OK").into_response()
    } else {
        not_leader(StatusCode::NOT_FOUND)
    }
}

/// As `leader-check`, answering `code` when not the leader.
async fn leader_check_with(State(gw): S, Path(code): Path<String>) -> Response {
    let code = code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::NOT_FOUND);
    if gw.leadership.view().is_leader {
        axum::Json("OK").into_response()
    } else {
        not_leader(code)
    }
}

/// orchestrator proxies this to the leader; every gateway here serves every
/// call, so any gateway that knows a leader answers for it.
async fn routed_leader_check(State(gw): S) -> Response {
    if gw.leadership.view().leader.is_some() {
        axum::Json("OK").into_response()
    } else {
        not_leader(StatusCode::SERVICE_UNAVAILABLE)
    }
}

async fn raft_state(State(gw): S) -> ApiResult {
    raw(gw.leadership.view().state())
}

async fn raft_leader(State(gw): S) -> ApiResult {
    match gw.leadership.view().leader {
        Some(l) => raw(l),
        None => Err(ApiError::Unavailable("No leader".into())),
    }
}

async fn raft_health(State(gw): S) -> Response {
    if gw.leadership.view().healthy {
        axum::Json("healthy").into_response()
    } else {
        ApiError::Unavailable("unhealthy".into()).into_response()
    }
}

async fn raft_peers(State(gw): S) -> ApiResult {
    raw(gw.leadership.view().peers)
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct RaftStatusJson {
    RaftBind: String,
    RaftAdvertise: String,
    State: String,
    Healthy: bool,
    IsPartOfQuorum: bool,
    Leader: String,
    LeaderURI: String,
    Peers: Vec<String>,
}

async fn raft_status(State(gw): S) -> ApiResult {
    let v = gw.leadership.view();
    let leader = v.leader.clone().unwrap_or_default();
    raw(RaftStatusJson {
        RaftBind: v.me.clone(),
        RaftAdvertise: v.me.clone(),
        State: v.state().to_string(),
        Healthy: v.healthy,
        IsPartOfQuorum: v.healthy,
        Leader: leader.clone(),
        LeaderURI: leader,
        Peers: v.peers,
    })
}

async fn move_leadership(gw: &Gateway, to: &str) -> Result<(), ApiError> {
    gw.leadership
        .ask_to_move(&*gw.bus, to)
        .await
        .map_err(|e| ApiError::Unavailable(format!("cannot reach the other gateways: {e}")))
}

/// `raft-yield/:node`, `raft-yield-hint/:hint`: gateways whose address
/// contains the argument may lead; the others hold back.
async fn raft_yield(State(gw): S, Path(to): Path<String>) -> ApiResult {
    if to.trim().is_empty() {
        return Err(ApiError::BadRequest("a node or hint is required".into()));
    }
    move_leadership(&gw, &to).await?;
    ok(format!("Asked to yield to {to}"), to)
}

/// Makes this gateway the leader.
async fn grab_election(State(gw): S) -> ApiResult {
    let me = gw.leadership.view().me;
    move_leadership(&gw, &me).await?;
    ok("Node elected as leader", me)
}

/// The leader gives the leadership up; any other gateway may take it.
async fn reelect(State(gw): S) -> ApiResult {
    move_leadership(&gw, "").await?;
    ok("Set re-elections", serde_json::Value::Null)
}

/// Reads the configuration files again (as SIGHUP does).
async fn reload_configuration(
    State(gw): S,
    Query(q): Query<HashMap<String, String>>,
    who: Caller,
) -> ApiResult {
    if q.contains_key("config") {
        return Err(ApiError::BadRequest(
            "config= is not supported: edit the configuration files, then reload".into(),
        ));
    }
    let Some(reloader) = &gw.reloader else {
        return Err(ApiError::Unavailable(
            "this gateway was started without a configuration to reload".into(),
        ));
    };
    let report = reloader
        .reload()
        .map_err(|e| ApiError::Failed(format!("Configuration not reloaded: {e}")))?;
    tracing::info!(by = %who.user, %report, "configuration reloaded through the API");
    ok("Config reloaded", report.to_string())
}

/// The request's headers, credentials masked.
async fn headers(h: HeaderMap) -> ApiResult {
    let mut shown: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in &h {
        let text = if name == axum::http::header::AUTHORIZATION
            || name == axum::http::header::COOKIE
            || name == axum::http::header::PROXY_AUTHORIZATION
        {
            "<redacted>".to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        shown.entry(name.to_string()).or_default().push(text);
    }
    raw(shown)
}

//! orchestrator's HTTP API (`GET /api/...`): same routes, same JSON, same
//! envelope, same text. Operator metadata, recovery and audit routes are
//! in [`metadata`], [`recovery`] and [`audit`].

mod audit;
mod ha;
mod metadata;
mod operator;
mod recovery;
mod request;
mod topology;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use orc_compat::{Envelope, KeyJson};
use orc_model::InstanceKey;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::{Gateway, commands};

pub(crate) use topology::route_name as operation_route;

type S = State<Arc<Gateway>>;
type ApiResult = Result<Response, ApiError>;

fn raw<T: Serialize>(v: T) -> ApiResult {
    Ok(axum::Json(v).into_response())
}

fn ok<T: Serialize>(message: impl Into<String>, details: T) -> ApiResult {
    Ok(axum::Json(Envelope::ok(message, details)).into_response())
}

fn parse_key(gw: &Gateway, host: &str, port: &str) -> Result<InstanceKey, ApiError> {
    let port: u16 = port.parse().map_err(|_| {
        ApiError::BadRequest(format!("Invalid port: {port:?} (instance {host}:{port})"))
    })?;
    let _ = gw;
    InstanceKey::new(host, port)
        .map_err(|e| ApiError::BadRequest(format!("Cannot parse instance key: {e}")))
}

/// Every route, under `prefix` (orchestrator's `URLPrefix`).
pub fn router(gw: Arc<Gateway>, prefix: &str) -> Router {
    let api = Router::new()
        .route("/discover/{host}/{port}", get(discover))
        .route("/async-discover/{host}/{port}", get(async_discover))
        .route("/forget/{host}/{port}", get(forget))
        .route("/forget-cluster/{hint}", get(forget_cluster))
        .route("/instance/{host}/{port}", get(instance))
        .route("/instance-replicas/{host}/{port}", get(instance_replicas))
        .route("/cluster/{hint}", get(cluster))
        .route("/cluster/alias/{alias}", get(cluster_by_alias))
        .route("/cluster/instance/{host}/{port}", get(cluster_by_instance))
        .route("/cluster-info/{hint}", get(cluster_info))
        .route("/cluster-info/alias/{alias}", get(cluster_info_by_alias))
        .route("/clusters", get(clusters))
        .route("/clusters-info", get(clusters_info))
        .route("/masters", get(masters))
        .route("/master/{hint}", get(master))
        .route("/all-instances", get(all_instances))
        .route("/topology/{hint}", get(topology))
        .route("/topology/{host}/{port}", get(topology_by_instance))
        .route("/topology-tabulated/{hint}", get(topology_tabulated))
        .route(
            "/topology-tabulated/{host}/{port}",
            get(topology_tabulated_by_instance),
        )
        .route("/search", get(search_query))
        .route("/search/{term}", get(search))
        .route("/replication-analysis", get(replication_analysis))
        .route(
            "/replication-analysis/{cluster}",
            get(replication_analysis_cluster),
        )
        .route(
            "/replication-analysis/instance/{host}/{port}",
            get(replication_analysis_instance),
        )
        .merge(ha::routes())
        .merge(operator::routes())
        .merge(metadata::routes())
        .merge(recovery::routes())
        .merge(audit::routes())
        .merge(topology::routes())
        .merge(audit::general_routes())
        .route("/ui/whoami", get(crate::ui::whoami))
        .route("/ui/events", get(crate::ui::events))
        .route_layer(axum::middleware::from_fn(crate::telemetry::http_middleware))
        .fallback(not_found)
        .with_state(gw);
    let base = prefix.trim_end_matches('/');
    Router::new()
        .nest(&format!("{base}/api"), api)
        .route(&format!("{base}/metrics"), get(crate::telemetry::metrics))
        .route(&format!("{base}/"), get(crate::ui::page))
        .route(&format!("{base}/ui/app.js"), get(crate::ui::script))
        .route(&format!("{base}/ui/style.css"), get(crate::ui::style))
}

/// Strips one trailing `/` (orchestrator's routes accept it).
pub fn strip_trailing_slash<B>(mut req: Request<B>) -> Request<B> {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = new.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("404 page not found: {}\n", uri.path()),
    )
        .into_response()
}

async fn catalog(gw: &Gateway) -> Result<Catalog, ApiError> {
    gw.catalog().await
}

async fn discover(State(gw): S, Path((host, port)): Path<(String, String)>) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    let identity = commands::discover(&*gw.bus, &key, gw.command_timeout).await?;
    let cat = catalog(&gw).await?;
    let found = cat.require_instance(&identity)?;
    ok(
        format!("Instance discovered: {found}"),
        cat.instance_json(&found),
    )
}

async fn async_discover(State(gw): S, Path((host, port)): Path<(String, String)>) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    let (bus, timeout, k) = (gw.bus.clone(), gw.command_timeout, key.clone());
    gw.tasks.spawn(async move {
        if let Err(e) = commands::discover(&*bus, &k, timeout).await {
            tracing::warn!(instance = %k, error = %e, "asynchronous discovery failed");
        }
    });
    ok(
        format!("Asynchronous discovery initiated for Instance: {key}"),
        serde_json::Value::Null,
    )
}

async fn forget(State(gw): S, Path((host, port)): Path<(String, String)>) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    commands::forget(
        &*gw.bus,
        std::slice::from_ref(&key),
        None,
        gw.command_timeout,
    )
    .await?;
    ok(
        format!("Instance forgotten: {key}"),
        KeyJson::from_key(&key),
    )
}

async fn forget_cluster(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    let cluster = catalog(&gw).await?.resolve_cluster(&hint)?;
    let name = cluster.to_string();
    commands::forget(&*gw.bus, &[], Some(&name), gw.command_timeout).await?;
    ok(
        format!("Cluster forgotten: {name}"),
        serde_json::Value::Null,
    )
}

async fn instance(State(gw): S, Path((host, port)): Path<(String, String)>) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    let cat = catalog(&gw).await?;
    let found = cat.require_instance(&key)?;
    raw(cat.instance_json(&found))
}

async fn instance_replicas(State(gw): S, Path((host, port)): Path<(String, String)>) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    let cat = catalog(&gw).await?;
    let found = cat.require_instance(&key)?;
    raw(cat.instances_json(&cat.replicas_of(&found)))
}

async fn cluster(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let c = cat.resolve_cluster(&hint)?;
    raw(cat.instances_json(&cat.members(&c)))
}

async fn cluster_by_alias(State(gw): S, Path(alias): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let c = cat.cluster_by_alias(&alias)?;
    raw(cat.instances_json(&cat.members(&c)))
}

async fn cluster_by_instance(
    State(gw): S,
    Path((host, port)): Path<(String, String)>,
) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    let cat = catalog(&gw).await?;
    let found = cat.require_instance(&key)?;
    let c = cat
        .cluster_of(&found)
        .ok_or_else(|| ApiError::NotFound(format!("Unable to determine cluster name for {key}")))?;
    raw(cat.instances_json(&cat.members(&c)))
}

async fn cluster_info(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let c = cat.resolve_cluster(&hint)?;
    raw(cat.cluster_info(&c))
}

async fn cluster_info_by_alias(State(gw): S, Path(alias): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let c = cat.cluster_by_alias(&alias)?;
    raw(cat.cluster_info(&c))
}

async fn clusters(State(gw): S) -> ApiResult {
    let cat = catalog(&gw).await?;
    raw(cat
        .clusters()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>())
}

async fn clusters_info(State(gw): S) -> ApiResult {
    let cat = catalog(&gw).await?;
    raw(cat
        .clusters()
        .iter()
        .map(|c| cat.cluster_info(c))
        .collect::<Vec<_>>())
}

async fn masters(State(gw): S) -> ApiResult {
    let cat = catalog(&gw).await?;
    raw(cat.instances_json(&cat.masters()))
}

async fn master(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let c = cat.resolve_cluster(&hint)?;
    let m = cat
        .master_of(&c)
        .ok_or_else(|| ApiError::NotFound(format!("Unable to determine master of cluster {c}")))?;
    raw(cat.instance_json(&m))
}

async fn all_instances(State(gw): S) -> ApiResult {
    let cat = catalog(&gw).await?;
    raw(cat.instances_json(&cat.all_keys()))
}

async fn topology_of(gw: &Gateway, hint: &str, tabulated: bool) -> ApiResult {
    let cat = catalog(gw).await?;
    let c = cat.resolve_cluster(hint)?;
    ok(
        format!("Topology for cluster {c}"),
        cat.topology_text(&c, tabulated),
    )
}

async fn topology(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    topology_of(&gw, &hint, false).await
}

async fn topology_tabulated(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    topology_of(&gw, &hint, true).await
}

async fn topology_by_instance(
    State(gw): S,
    Path((host, port)): Path<(String, String)>,
) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    topology_of(&gw, &key.to_string(), false).await
}

async fn topology_tabulated_by_instance(
    State(gw): S,
    Path((host, port)): Path<(String, String)>,
) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    topology_of(&gw, &key.to_string(), true).await
}

async fn search(State(gw): S, Path(term): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    raw(cat.instances_json(&cat.search(&term)))
}

async fn search_query(State(gw): S, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let term = q.get("s").cloned().unwrap_or_default();
    let cat = catalog(&gw).await?;
    raw(cat.instances_json(&cat.search(&term)))
}

async fn replication_analysis(State(gw): S) -> ApiResult {
    let cat = catalog(&gw).await?;
    let entries = cat.analysis();
    ok("Analysis", cat.analysis_json(&entries))
}

async fn replication_analysis_cluster(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let cluster = cat.resolve_cluster(&hint)?;
    let entries = cat.analysis_of(&cat.members(&cluster));
    ok("Analysis", cat.analysis_json(&entries))
}

async fn replication_analysis_instance(
    State(gw): S,
    Path((host, port)): Path<(String, String)>,
) -> ApiResult {
    let key = parse_key(&gw, &host, &port)?;
    let cat = catalog(&gw).await?;
    let found = cat.require_instance(&key)?;
    let entries = cat.analysis_of(&[found]);
    ok("Analysis", cat.analysis_json(&entries))
}

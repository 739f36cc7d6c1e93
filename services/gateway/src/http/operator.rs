//! Tags, pools, manual aliases, snapshots and the other lookups operators
//! script against: `tag`/`untag`/`untag-all`/`tags`/`tag-value`/`tagged`,
//! `submit-pool-instances` and the pool lookups, `set-cluster-alias`,
//! `snapshot-topologies`, `topology-tags`, `cluster-osc-replicas`,
//! `submit-masters-to-kv-stores`, `problems`, `bulk-instances`,
//! `bulk-promotion-rules`, `refresh`, `resolve`, the host name cache,
//! `automated-recovery-filters` and `replication-analysis-changelog`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use orc_compat::KeyJson;
use serde_json::json;

use super::request::{P2, P4, Params, key};
use super::{ApiResult, S, catalog, ok, raw};
use crate::Gateway;
use crate::error::ApiError;
use crate::operations::clusters;
use crate::operations::metadata::{self as meta, Tag};

/// The routes (relative to `/api`).
pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/tags/{h}/{p}", get(tags))
        .route("/tag-value/{h}/{p}", get(tag_value))
        .route("/tag-value/{h}/{p}/{name}", get(tag_value_named))
        .route("/tag/{h}/{p}", get(tag))
        .route("/tag/{h}/{p}/{name}/{value}", get(tag_named))
        .route("/untag/{h}/{p}", get(untag))
        .route("/untag/{h}/{p}/{name}", get(untag_named))
        .route("/untag-all", get(untag_all))
        .route("/untag-all/{name}/{value}", get(untag_all_named))
        .route("/tagged", get(tagged))
        .route("/topology-tags/{hint}", get(topology_tags))
        .route("/topology-tags/{h}/{p}", get(topology_tags_by_instance))
        .route("/submit-pool-instances/{pool}", get(submit_pool))
        .route("/cluster-pool-instances/{cluster}", get(cluster_pool))
        .route(
            "/cluster-pool-instances/{cluster}/{pool}",
            get(cluster_pool_named),
        )
        .route(
            "/heuristic-cluster-pool-instances/{cluster}",
            get(heuristic_pool),
        )
        .route(
            "/heuristic-cluster-pool-instances/{cluster}/{pool}",
            get(heuristic_pool_named),
        )
        .route("/heuristic-cluster-pool-lag/{cluster}", get(heuristic_lag))
        .route(
            "/heuristic-cluster-pool-lag/{cluster}/{pool}",
            get(heuristic_lag_named),
        )
        .route("/set-cluster-alias/{cluster}", get(set_cluster_alias))
        .route("/reload-cluster-alias", get(reload_cluster_alias))
        .route("/snapshot-topologies", get(snapshot_topologies))
        .route("/cluster-osc-replicas/{hint}", get(osc_replicas))
        .route("/cluster-osc-slaves/{hint}", get(osc_replicas))
        .route("/submit-masters-to-kv-stores", get(kv_all))
        .route("/submit-masters-to-kv-stores/{hint}", get(kv_cluster))
        .route("/problems", get(problems))
        .route("/problems/{cluster}", get(problems_in))
        .route("/bulk-instances", get(bulk_instances))
        .route("/bulk-promotion-rules", get(bulk_promotion_rules))
        .route("/refresh/{h}/{p}", get(refresh))
        .route("/resolve/{h}/{p}", get(resolve))
        .route("/hostname-resolve-cache", get(resolve_cache))
        .route("/reset-hostname-resolve-cache", get(reset_resolve_cache))
        .route("/automated-recovery-filters", get(recovery_filters))
        .route("/replication-analysis-changelog", get(changelog))
}

fn tag_param(q: &HashMap<String, String>) -> Result<Tag, ApiError> {
    Tag::parse(q.get("tag").map(String::as_str).unwrap_or_default())
}

async fn tags(State(gw): S, Path((h, p)): P2) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    let cat = catalog(&gw).await?;
    let found = cat.require_instance(&k)?;
    raw(cat
        .metadata(&found)
        .map(|m| meta::tag_strings(&m.tags))
        .unwrap_or_default())
}

async fn value_of(gw: &Gateway, h: &str, p: &str, name: &str) -> ApiResult {
    let k = key(gw, h, p)?;
    let tag = Tag::parse(name)?;
    let cat = catalog(gw).await?;
    let found = cat.require_instance(&k)?;
    match cat.metadata(&found).and_then(|m| m.tags.get(&tag.name)) {
        Some(v) => raw(v),
        None => Err(ApiError::NotFound(format!(
            "tag {} not found for {found}",
            tag.name
        ))),
    }
}

async fn tag_value(State(gw): S, Path((h, p)): P2, Query(q): Params) -> ApiResult {
    let name = q.get("tag").cloned().unwrap_or_default();
    value_of(&gw, &h, &p, &name).await
}

async fn tag_value_named(
    State(gw): S,
    Path((h, p, name)): Path<(String, String, String)>,
) -> ApiResult {
    value_of(&gw, &h, &p, &name).await
}

async fn do_tag(gw: &Gateway, h: &str, p: &str, t: Tag) -> ApiResult {
    let k = key(gw, h, p)?;
    let done = meta::tag(gw, &k, &t).await?;
    crate::operations::audit(
        gw,
        "tag",
        Some(&done.key),
        "",
        &format!("{}={}", t.name, t.value.clone().unwrap_or_default()),
    )
    .await;
    ok(
        format!("{} tagged with {}", done.key, t.name),
        KeyJson::from_key(&done.key),
    )
}

async fn tag(State(gw): S, Path((h, p)): P2, Query(q): Params) -> ApiResult {
    do_tag(&gw, &h, &p, tag_param(&q)?).await
}

async fn tag_named(State(gw): S, Path((h, p, name, value)): P4) -> ApiResult {
    do_tag(&gw, &h, &p, Tag::parse(&format!("{name}={value}"))?).await
}

async fn do_untag(gw: &Gateway, only: Option<(&str, &str)>, t: Tag) -> ApiResult {
    let only = only.map(|(h, p)| key(gw, h, p)).transpose()?;
    let keys = meta::untag(gw, only.as_ref(), &t).await?;
    for k in &keys {
        crate::operations::audit(gw, "untag", Some(k), "", &t.name).await;
    }
    ok(
        format!("{} untagged", t.name),
        keys.iter().map(KeyJson::from_key).collect::<Vec<_>>(),
    )
}

async fn untag(State(gw): S, Path((h, p)): P2, Query(q): Params) -> ApiResult {
    do_untag(&gw, Some((&h, &p)), tag_param(&q)?).await
}

async fn untag_named(
    State(gw): S,
    Path((h, p, name)): Path<(String, String, String)>,
) -> ApiResult {
    do_untag(&gw, Some((&h, &p)), Tag::parse(&name)?).await
}

async fn untag_all(State(gw): S, Query(q): Params) -> ApiResult {
    do_untag(&gw, None, tag_param(&q)?).await
}

async fn untag_all_named(State(gw): S, Path((name, value)): Path<(String, String)>) -> ApiResult {
    do_untag(&gw, None, Tag::parse(&format!("{name}={value}"))?).await
}

async fn tagged(State(gw): S, Query(q): Params) -> ApiResult {
    let cat = catalog(&gw).await?;
    let keys = meta::tagged(&cat, q.get("tag").map(String::as_str).unwrap_or_default())?;
    raw(keys.iter().map(KeyJson::from_key).collect::<Vec<_>>())
}

async fn topology_tags(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let cluster = cat.resolve_cluster(&hint)?;
    ok("Topology", cat.topology_text_with_tags(&cluster))
}

async fn topology_tags_by_instance(State(gw): S, Path((h, p)): P2) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    let cat = catalog(&gw).await?;
    let found = cat.require_instance(&k)?;
    let cluster = cat
        .cluster_of(&found)
        .ok_or_else(|| ApiError::NotFound(format!("Unable to determine cluster of {found}")))?;
    ok("Topology", cat.topology_text_with_tags(&cluster))
}

async fn submit_pool(State(gw): S, Path(pool): Path<String>, Query(q): Params) -> ApiResult {
    let instances = q.get("instances").cloned().unwrap_or_default();
    let keys = clusters::parse_instances(&gw, &instances)?;
    let n = clusters::submit_pool(&gw, &pool, &keys).await?;
    ok(format!("Applied {pool} pool instances ({n})"), pool)
}

async fn pool_rows(gw: &Gateway, cluster: &str, pool: Option<&str>) -> ApiResult {
    let cat = catalog(gw).await?;
    let c = cat.resolve_cluster(cluster)?;
    raw(clusters::pool_instances(gw, &cat, Some(&c), pool).await?)
}

async fn cluster_pool(State(gw): S, Path(cluster): Path<String>) -> ApiResult {
    pool_rows(&gw, &cluster, None).await
}

async fn cluster_pool_named(
    State(gw): S,
    Path((cluster, pool)): Path<(String, String)>,
) -> ApiResult {
    pool_rows(&gw, &cluster, Some(&pool)).await
}

async fn heuristic(gw: &Gateway, cluster: &str, pool: Option<&str>) -> ApiResult {
    let cat = catalog(gw).await?;
    let c = cat.resolve_cluster(cluster)?;
    let keys = clusters::heuristic_pool_instances(gw, &cat, &c, pool).await?;
    ok("Heuristic pool instances", cat.instances_json(&keys))
}

async fn heuristic_pool(State(gw): S, Path(cluster): Path<String>) -> ApiResult {
    heuristic(&gw, &cluster, None).await
}

async fn heuristic_pool_named(
    State(gw): S,
    Path((cluster, pool)): Path<(String, String)>,
) -> ApiResult {
    heuristic(&gw, &cluster, Some(&pool)).await
}

async fn lag(gw: &Gateway, cluster: &str, pool: Option<&str>) -> ApiResult {
    let cat = catalog(gw).await?;
    let c = cat.resolve_cluster(cluster)?;
    let keys = clusters::heuristic_pool_instances(gw, &cat, &c, pool).await?;
    let lag = keys
        .iter()
        .filter_map(|k| cat.view(k).and_then(|v| v.lag_seconds()))
        .max()
        .unwrap_or(0);
    ok("Heuristic pool lag", lag)
}

async fn heuristic_lag(State(gw): S, Path(cluster): Path<String>) -> ApiResult {
    lag(&gw, &cluster, None).await
}

async fn heuristic_lag_named(
    State(gw): S,
    Path((cluster, pool)): Path<(String, String)>,
) -> ApiResult {
    lag(&gw, &cluster, Some(&pool)).await
}

async fn set_cluster_alias(
    State(gw): S,
    Path(cluster): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let alias = q.get("alias").cloned().unwrap_or_default();
    let name = clusters::set_alias(&gw, &cluster, &alias).await?;
    ok(
        format!("Cluster {name} now has alias '{}'", alias.trim()),
        serde_json::Value::Null,
    )
}

async fn reload_cluster_alias() -> ApiResult {
    Err(ApiError::Failed("This API call has been retired".into()))
}

async fn snapshot_topologies(State(gw): S) -> ApiResult {
    let n = clusters::snapshot_topologies(&gw).await?;
    ok(
        format!("Topology Snapshot completed ({n} instances)"),
        serde_json::Value::Null,
    )
}

async fn osc_replicas(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let c = cat.resolve_cluster(&hint)?;
    raw(cat.instances_json(&clusters::osc_replicas(&cat, &c)))
}

/// `submit-masters-to-kv-stores`: publishes each cluster's master in the
/// KV stores, with the fencing token of the latest recovery that put it
/// there (0 if none did): a store holding a newer token is left alone and
/// the call fails saying so.
async fn kv_pairs(gw: &Gateway, hint: Option<&str>) -> ApiResult {
    let cat = catalog(gw).await?;
    let targets = match hint {
        Some(h) => vec![cat.resolve_cluster(h)?],
        None => cat.clusters(),
    };
    let prefix = gw.kv.prefix();
    let pairs: Vec<_> = targets
        .iter()
        .flat_map(|c| clusters::master_key_values(&cat, c, prefix))
        .collect();
    if gw.kv.is_empty() {
        return ok(
            "Submitted 0 masters (no KV store is configured: set EtcdAddress)".to_string(),
            pairs,
        );
    }
    let recoveries = gw
        .store
        .recoveries()
        .list(None)
        .await
        .map_err(|e| ApiError::Unavailable(format!("recoveries cannot be read: {e}")))?;
    let mut submitted = 0;
    let mut refused = Vec::new();
    for c in &targets {
        let Some(master) = cat.master_of(c) else {
            continue;
        };
        let alias = cat.cluster_alias(c);
        // The latest recovery that concerns this master or alias sets the
        // token; a master that recovery replaced is not published (the
        // read model may lag the failover by a poll).
        let latest = recoveries
            .iter()
            .filter(|r| {
                r.successor.as_ref() == Some(&master)
                    || r.failed == master
                    || r.cluster_alias == alias
            })
            .max_by_key(|r| r.lease_revision);
        if let Some(r) = latest
            && r.failed == master
            && r.is_successful
        {
            refused.push(format!(
                "{alias}: {master} was replaced by {} in recovery {}; the topology is not read afresh yet",
                r.successor.as_ref().map(ToString::to_string).unwrap_or_default(),
                r.uid
            ));
            continue;
        }
        let token = latest.map_or(0, |r| r.lease_revision);
        let mut written = true;
        for report in gw.kv.publish(&alias, &master, token).await {
            match report.result {
                Ok(orc_kv::Published::Written) => {}
                Ok(orc_kv::Published::Stale { stored }) => {
                    written = false;
                    refused.push(format!(
                        "{}: {alias} holds fencing token {stored}, newer than {token} ({master})",
                        report.store
                    ));
                }
                Err(e) => {
                    written = false;
                    refused.push(format!("{alias}: {e}"));
                }
            }
        }
        if written {
            submitted += 1;
        }
    }
    if refused.is_empty() {
        ok(format!("Submitted {submitted} masters"), pairs)
    } else {
        Err(ApiError::FailedWith {
            message: format!(
                "Submitted {submitted} masters; not submitted: {}",
                refused.join("; ")
            ),
            details: Box::new(serde_json::to_value(&pairs).unwrap_or_default()),
        })
    }
}

async fn kv_all(State(gw): S) -> ApiResult {
    kv_pairs(&gw, None).await
}

async fn kv_cluster(State(gw): S, Path(hint): Path<String>) -> ApiResult {
    kv_pairs(&gw, Some(&hint)).await
}

async fn problems(State(gw): S) -> ApiResult {
    let cat = catalog(&gw).await?;
    raw(cat.instances_json(&clusters::problems(&cat, None)))
}

async fn problems_in(State(gw): S, Path(cluster): Path<String>) -> ApiResult {
    let cat = catalog(&gw).await?;
    let c = cat.resolve_cluster(&cluster)?;
    raw(cat.instances_json(&clusters::problems(&cat, Some(&c))))
}

async fn bulk_instances(State(gw): S) -> ApiResult {
    let cat = catalog(&gw).await?;
    raw(cat
        .all_keys()
        .iter()
        .map(KeyJson::from_key)
        .collect::<Vec<_>>())
}

async fn bulk_promotion_rules(State(gw): S) -> ApiResult {
    let cat = catalog(&gw).await?;
    let now = cat.now();
    let rules: Vec<_> = cat
        .all_metadata()
        .iter()
        .filter_map(|(k, m)| {
            let c = m.candidate.filter(|c| now < c.expires_at)?;
            Some(json!({
                "Hostname": k.hostname(),
                "Port": k.port(),
                "PromotionRule": c.rule.to_string(),
                "LastSuggestedString": c.registered_at.to_rfc3339(),
                "PromotionRuleExpiry": c.expires_at.to_rfc3339(),
            }))
        })
        .collect();
    raw(rules)
}

async fn refresh(State(gw): S, Path((h, p)): P2) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    let identity = crate::commands::discover(&*gw.bus, &k, gw.command_timeout).await?;
    ok(
        format!("Instance refreshed: {identity}"),
        KeyJson::from_key(&identity),
    )
}

async fn resolve(State(gw): S, Path((h, p)): P2) -> ApiResult {
    let k = key(&gw, &h, &p)?;
    let resolved = gw.resolver.key(&k).await;
    ok("Instance resolved", KeyJson::from_key(&resolved))
}

async fn resolve_cache(State(gw): S) -> ApiResult {
    ok("Cache retrieved", gw.resolver.cached())
}

async fn reset_resolve_cache(State(gw): S) -> ApiResult {
    gw.resolver.clear();
    // Probers and analyzers keep their own caches: they forget too.
    gw.bus
        .publish(orc_bus::subjects::RESOLVE_RESET, bytes::Bytes::new())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    ok("Hostname cache cleared", serde_json::Value::Null)
}

async fn recovery_filters(State(gw): S) -> ApiResult {
    ok(
        "Automated recovery configuration details",
        json!({
            "RecoverMasterClusterFilters": gw.settings.recover_master_cluster_filters,
            "RecoverIntermediateMasterClusterFilters": gw.settings.recover_intermediate_master_cluster_filters,
            "RecoveryIgnoreHostnameFilters": gw.recovery_ignore_hostname_filters,
        }),
    )
}

async fn changelog(State(gw): S) -> ApiResult {
    raw(clusters::changelog(&gw).await?)
}

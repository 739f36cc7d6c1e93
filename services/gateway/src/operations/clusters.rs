//! Cluster-level facts operators give or ask for: manual aliases
//! (`set-cluster-alias`), instance pools (`submit-pool-instances` and the
//! pool lookups), topology snapshots, the replicas suited to online schema
//! change checks, the masters' key-value pairs, problems, and the
//! recorded analysis changelog.

use std::collections::BTreeMap;

use orc_model::{InstanceKey, Timestamp};
use orc_store::SnapshotRow;

use super::catalog;
use crate::Gateway;
use crate::catalog::Catalog;
use crate::error::ApiError;

/// Sets (or, with an empty alias, removes) a cluster's manual alias.
pub(crate) async fn set_alias(
    gw: &Gateway,
    cluster: &str,
    alias: &str,
) -> Result<String, ApiError> {
    let cat = catalog(gw).await?;
    let name = cat.resolve_cluster(cluster)?.to_string();
    let alias = alias.trim();
    if alias.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!("Invalid alias {alias:?}")));
    }
    gw.store
        .clusters()
        .set_alias(&name, alias, cat.now())
        .await?;
    super::audit(
        gw,
        "set-cluster-alias",
        None,
        &name,
        &format!("alias: {alias}"),
    )
    .await;
    Ok(name)
}

/// Parses `host:port` instances, comma separated (`submit-pool-instances`).
pub(crate) fn parse_instances(gw: &Gateway, text: &str) -> Result<Vec<InstanceKey>, ApiError> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            InstanceKey::parse_with_default_port(t, gw.settings.default_port).map_err(|e| {
                ApiError::BadRequest(format!("Invalid instance {t:?} in instances: {e}"))
            })
        })
        .collect()
}

/// Makes `keys` the whole of `pool`.
pub(crate) async fn submit_pool(
    gw: &Gateway,
    pool: &str,
    keys: &[InstanceKey],
) -> Result<usize, ApiError> {
    let pool = pool.trim();
    if pool.is_empty() || pool.chars().any(|c| c.is_control() || c == '/') {
        return Err(ApiError::BadRequest(format!("Invalid pool name {pool:?}")));
    }
    gw.store
        .clusters()
        .submit_pool(pool, keys, orc_runtime::wall_clock())
        .await?;
    super::audit(
        gw,
        "submit-pool-instances",
        None,
        "",
        &format!("pool {pool}: {} instances", keys.len()),
    )
    .await;
    Ok(keys.len())
}

/// One instance of a cluster in a pool (orchestrator's ClusterPoolInstance).
#[derive(Debug, Clone, serde::Serialize)]
#[allow(non_snake_case)]
pub(crate) struct ClusterPoolInstanceJson {
    pub ClusterName: String,
    pub ClusterAlias: String,
    pub Pool: String,
    pub Hostname: String,
    pub Port: u16,
}

/// Pool members that have not lapsed, in clusters `cluster` (`None`: all)
/// and pool `pool` (`None`: all).
pub(crate) async fn pool_instances(
    gw: &Gateway,
    cat: &Catalog,
    cluster: Option<&InstanceKey>,
    pool: Option<&str>,
) -> Result<Vec<ClusterPoolInstanceJson>, ApiError> {
    let since = Timestamp::from_millis(
        cat.now().as_millis() - i64::try_from(gw.pool_expiry.as_millis()).unwrap_or(i64::MAX / 2),
    );
    let members = gw.store.clusters().pool_members(since).await?;
    Ok(members
        .into_iter()
        .filter(|m| pool.is_none_or(|p| m.pool == p))
        .filter_map(|m| {
            let key = cat.resolve_instance(&m.instance)?;
            let c = cat.cluster_of(&key)?;
            if cluster.is_some_and(|want| *want != c) {
                return None;
            }
            Some(ClusterPoolInstanceJson {
                ClusterName: c.to_string(),
                ClusterAlias: cat.cluster_alias(&c),
                Pool: m.pool,
                Hostname: key.hostname().to_string(),
                Port: key.port(),
            })
        })
        .collect())
}

/// Pool members of a cluster fit to serve: valid, replicating, not
/// downtimed (orchestrator's heuristic pool instances).
pub(crate) async fn heuristic_pool_instances(
    gw: &Gateway,
    cat: &Catalog,
    cluster: &InstanceKey,
    pool: Option<&str>,
) -> Result<Vec<InstanceKey>, ApiError> {
    let rows = pool_instances(gw, cat, Some(cluster), pool).await?;
    let mut keys: Vec<InstanceKey> = rows
        .into_iter()
        .filter_map(|r| InstanceKey::new(&r.Hostname, r.Port).ok())
        .filter(|k| {
            cat.view(k)
                .is_some_and(|v| v.is_last_check_valid() && v.is_replicating() && !v.is_downtimed())
        })
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// Records every instance's place and coordinates now.
pub(crate) async fn snapshot_topologies(gw: &Gateway) -> Result<usize, ApiError> {
    let cat = catalog(gw).await?;
    let rows: Vec<SnapshotRow> = cat
        .all_keys()
        .into_iter()
        .filter_map(|k| {
            let state = cat.state(&k)?;
            let d = state.data.as_ref()?;
            Some(SnapshotRow {
                master: cat.topology().placement(&k).and_then(|p| p.master.clone()),
                cluster: cat
                    .cluster_of(&k)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                version: d.version.clone(),
                binlog: d
                    .self_coordinates
                    .as_ref()
                    .map(|c| (c.log_file.clone(), c.log_pos))
                    .unwrap_or_default(),
                instance: k,
            })
        })
        .collect();
    gw.store.clusters().snapshot(cat.now(), &rows).await?;
    Ok(rows.len())
}

/// Replicas suited to online schema change checks (gh-ost, pt-osc): each
/// intermediate master, one leaf replica below each, and up to two leaf
/// replicas of the master; all valid and replicating.
pub(crate) fn osc_replicas(cat: &Catalog, cluster: &InstanceKey) -> Vec<InstanceKey> {
    let Some(master) = cat.master_of(cluster) else {
        return Vec::new();
    };
    let fit = |k: &InstanceKey| {
        cat.view(k)
            .is_some_and(|v| v.is_last_check_valid() && v.is_replicating())
    };
    let leaves_of = |k: &InstanceKey| -> Vec<InstanceKey> {
        cat.replicas_of(k)
            .into_iter()
            .filter(|r| cat.replicas_of(r).is_empty() && fit(r))
            .collect()
    };
    let mut out = Vec::new();
    for replica in cat.replicas_of(&master) {
        if !cat.replicas_of(&replica).is_empty() && fit(&replica) {
            out.push(replica.clone());
            out.extend(leaves_of(&replica).into_iter().take(1));
        }
    }
    out.extend(leaves_of(&master).into_iter().take(2));
    out.sort();
    out.dedup();
    out
}

/// One key-value pair for the KV stores.
#[derive(Debug, Clone, serde::Serialize)]
#[allow(non_snake_case)]
pub(crate) struct KeyValueJson {
    pub Key: String,
    pub Value: String,
}

/// The pairs orchestrator writes to KV stores for a cluster's master
/// (`mysql/master/<alias>` and its `/hostname`, `/port` sub-keys).
pub(crate) fn master_key_values(
    cat: &Catalog,
    cluster: &InstanceKey,
    prefix: &str,
) -> Vec<KeyValueJson> {
    let Some(master) = cat.master_of(cluster) else {
        return Vec::new();
    };
    orc_kv::master_pairs(prefix, &cat.cluster_alias(cluster), &master)
        .into_iter()
        .map(|(key, value)| KeyValueJson {
            Key: key,
            Value: value,
        })
        .collect()
}

/// Instances with problems that are not downtimed, in `cluster` (`None`: all).
pub(crate) fn problems(cat: &Catalog, cluster: Option<&InstanceKey>) -> Vec<InstanceKey> {
    cat.all_keys()
        .into_iter()
        .filter(|k| cluster.is_none_or(|c| cat.cluster_of(k).as_ref() == Some(c)))
        .filter(|k| {
            cat.view(k)
                .is_some_and(|v| !v.is_downtimed() && !v.problems().is_empty())
        })
        .collect()
}

/// One instance's analysis changelog.
#[derive(Debug, Clone, serde::Serialize)]
#[allow(non_snake_case)]
pub(crate) struct ChangelogJson {
    pub AnalyzedInstanceKey: orc_compat::KeyJson,
    pub Changelog: Vec<String>,
}

/// The failures detected per instance, oldest first, as
/// `<timestamp>;<analysis>` (the detections recorded; healthy states are
/// not recorded).
pub(crate) async fn changelog(gw: &Gateway) -> Result<Vec<ChangelogJson>, ApiError> {
    let detections = gw.store.recoveries().detections(None).await?;
    let mut by_instance: BTreeMap<InstanceKey, Vec<(Timestamp, String)>> = BTreeMap::new();
    for d in detections {
        by_instance
            .entry(d.instance.clone())
            .or_default()
            .push((d.detected_at, d.analysis.clone()));
    }
    Ok(by_instance
        .into_iter()
        .map(|(k, mut entries)| {
            entries.sort();
            ChangelogJson {
                AnalyzedInstanceKey: orc_compat::KeyJson::from_key(&k),
                Changelog: entries
                    .into_iter()
                    .map(|(at, code)| format!("{};{code}", at.to_rfc3339()))
                    .collect(),
            }
        })
        .collect())
}

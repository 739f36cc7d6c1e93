//! Acknowledgements of recoveries and the global recovery switch. Both free
//! blocked automated recoveries, so both announce `RecoveryRetry`.

use std::collections::BTreeSet;

use orc_model::{InstanceKey, RecoveryRecord};
use orc_store::AckScope;

use super::{actor, alias_names, catalog, cluster_names};
use crate::error::ApiError;
use crate::{Gateway, commands};

/// Which recoveries an acknowledgement covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AckTarget {
    /// Those of the cluster a hint designates.
    Cluster(String),
    /// Those of the cluster with this alias.
    Alias(String),
    /// Those of a failed instance.
    Instance(InstanceKey),
    /// One, by id.
    Id(i64),
    /// One, by uid.
    Uid(String),
    /// Every one.
    All,
}

/// Turns a target into store scopes, refusing what designates nothing.
fn scopes(
    cat: &crate::catalog::Catalog,
    recoveries: &[RecoveryRecord],
    target: &AckTarget,
) -> Result<Vec<AckScope>, ApiError> {
    let clusters = |names: BTreeSet<String>, what: String| {
        if names.is_empty() {
            Err(ApiError::NotFound(format!(
                "Unable to determine cluster name for {what}"
            )))
        } else {
            Ok(names.into_iter().map(AckScope::Cluster).collect())
        }
    };
    match target {
        AckTarget::Cluster(hint) => clusters(cluster_names(cat, recoveries, hint), hint.clone()),
        AckTarget::Alias(alias) => clusters(
            alias_names(cat, recoveries, alias),
            format!("alias {alias}"),
        ),
        AckTarget::Instance(key) => {
            let key = cat
                .resolve_instance(key)
                .or_else(|| {
                    recoveries
                        .iter()
                        .find(|r| &r.failed == key)
                        .map(|r| r.failed.clone())
                })
                .ok_or_else(|| ApiError::NotFound(format!("Cannot read instance: {key}")))?;
            Ok(vec![AckScope::Instance(key)])
        }
        AckTarget::Id(id) => recoveries
            .iter()
            .any(|r| r.id == *id)
            .then(|| vec![AckScope::Id(*id)])
            .ok_or_else(|| ApiError::NotFound(format!("No recovery with id {id}"))),
        AckTarget::Uid(uid) => recoveries
            .iter()
            .any(|r| &r.uid == uid)
            .then(|| vec![AckScope::Uid(uid.clone())])
            .ok_or_else(|| ApiError::NotFound(format!("No recovery with uid {uid}"))),
        AckTarget::All => Ok(vec![AckScope::All]),
    }
}

/// Acknowledges the unacknowledged recoveries `target` covers (a comment is
/// required, as in orchestrator), forgets the automated recoveries they
/// blocked, and tells recovery services to retry. Returns those acknowledged.
pub(crate) async fn acknowledge(
    gw: &Gateway,
    target: &AckTarget,
    by: &str,
    comment: &str,
) -> Result<Vec<RecoveryRecord>, ApiError> {
    let comment = comment.trim();
    if comment.is_empty() {
        return Err(ApiError::BadRequest("No acknowledge comment given".into()));
    }
    let by = actor(by);
    let repo = gw.store.recoveries();
    let recoveries = repo.list(None).await?;
    let cat = catalog(gw).await?;
    let scopes = scopes(&cat, &recoveries, target)?;
    let now = orc_runtime::wall_clock();
    let mut done = Vec::new();
    for scope in &scopes {
        done.extend(repo.acknowledge(scope, &by, comment, now).await?);
    }
    let acknowledged: BTreeSet<&str> = done.iter().map(|r| r.uid.as_str()).collect();
    for blocked in repo.blocked(None).await? {
        if acknowledged.contains(blocked.blocking_uid.as_str()) {
            repo.clear_blocked(&blocked.failed).await?;
        }
    }
    tracing::info!(count = done.len(), by = %by, ?target, "recoveries acknowledged");
    let mut retry: BTreeSet<String> = done.iter().map(|r| r.cluster.clone()).collect();
    for scope in &scopes {
        match scope {
            AckScope::All => {
                retry = BTreeSet::from([String::new()]);
                break;
            }
            AckScope::Cluster(c) => {
                retry.insert(c.clone());
            }
            _ => {}
        }
    }
    for cluster in &retry {
        commands::recovery_retry(&*gw.bus, cluster).await;
    }
    Ok(done)
}

/// Enables or disables automated recoveries everywhere; enabling tells
/// recovery services to retry what was blocked.
pub(crate) async fn set_global_recoveries(gw: &Gateway, enabled: bool) -> Result<(), ApiError> {
    gw.store
        .recoveries()
        .set_globally_disabled(!enabled, orc_runtime::wall_clock())
        .await?;
    tracing::info!(enabled, "global recoveries switched");
    if enabled {
        commands::recovery_retry(&*gw.bus, "").await;
    }
    Ok(())
}

/// Whether automated recoveries are enabled.
pub(crate) async fn global_recoveries_enabled(gw: &Gateway) -> Result<bool, ApiError> {
    Ok(!gw.store.recoveries().globally_disabled().await?)
}

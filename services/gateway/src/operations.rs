//! Every operator operation both APIs offer, written once: the HTTP routes
//! (`http`) and the gRPC services (`grpc`) only parse their inputs into
//! these functions' arguments and render what they return.
//!
//! - [`metadata`]: downtime, maintenance locks and promotion rules, written
//!   to the store and announced with `MetadataChanged`.
//! - [`recovery`]: recoveries and takeovers, forwarded to a recovery service
//!   as a `RecoveryCommand`.
//! - [`ack`]: acknowledgements (announced with `RecoveryRetry`) and the
//!   global recovery switch.
//! - [`audit`]: the recovery audit trail: recoveries, steps, failure
//!   detections, blocked recoveries.
//! - [`topology`]: refactoring and replication control, forwarded to a
//!   recovery service as an `OperationRequest`.

pub(crate) mod ack;
pub(crate) mod audit;
pub(crate) mod clusters;
pub(crate) mod metadata;
pub(crate) mod recovery;
pub(crate) mod topology;

use std::collections::BTreeSet;

use orc_model::RecoveryRecord;

use crate::Gateway;
use crate::catalog::Catalog;
use crate::error::ApiError;

/// Who acted, when nobody authenticated.
pub(crate) const DEFAULT_ACTOR: &str = "orchestrator-rs";

/// orchestrator's page size of audit listings.
pub(crate) const PAGE_SIZE: usize = 20;

/// The read model now.
pub(crate) async fn catalog(gw: &Gateway) -> Result<Catalog, ApiError> {
    gw.catalog().await
}

/// Records an operation in the general audit (`/api/audit`); a failure to
/// record is logged, not fatal: the operation itself was done.
pub(crate) async fn audit(
    gw: &Gateway,
    kind: &str,
    instance: Option<&orc_model::InstanceKey>,
    cluster: &str,
    message: &str,
) {
    let entry = orc_store::AuditEntry {
        id: 0,
        at: orc_runtime::wall_clock(),
        kind: kind.to_string(),
        instance: instance.cloned(),
        cluster: cluster.to_string(),
        message: message.to_string(),
    };
    if let Err(e) = gw.store.audit().write(&entry).await {
        tracing::warn!(kind, error = %e, "operation not audited");
    }
}

/// The actor to record: the given one, else [`DEFAULT_ACTOR`].
pub(crate) fn actor(by: &str) -> String {
    let by = by.trim();
    if by.is_empty() {
        DEFAULT_ACTOR.to_string()
    } else {
        by.to_string()
    }
}

/// Names under which recoveries of the cluster `hint` designates may be
/// recorded: its current name, and the names of clusters it grew out of
/// (a failover renames a cluster after its new master, so the recovery
/// that did it is recorded under the old name; it is found through its
/// successor or the alias). Recoveries recorded under `hint` itself, or
/// with `hint` as alias, count too. Empty when nothing matches.
pub(crate) fn cluster_names(
    cat: &Catalog,
    recoveries: &[RecoveryRecord],
    hint: &str,
) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Ok(cluster) = cat.resolve_cluster(hint) {
        let alias = cat.cluster_alias(&cluster);
        let members: BTreeSet<_> = cat.members(&cluster).into_iter().collect();
        names.insert(cluster.to_string());
        for r in recoveries {
            let successor_here = r.successor.as_ref().is_some_and(|s| members.contains(s));
            if successor_here || (!alias.is_empty() && r.cluster_alias == alias) {
                names.insert(r.cluster.clone());
            }
        }
    }
    for r in recoveries {
        if r.cluster == hint || r.cluster_alias == hint {
            names.insert(r.cluster.clone());
        }
    }
    names
}

/// Cluster names an alias designates (see [`cluster_names`]).
pub(crate) fn alias_names(
    cat: &Catalog,
    recoveries: &[RecoveryRecord],
    alias: &str,
) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = recoveries
        .iter()
        .filter(|r| r.cluster_alias == alias)
        .map(|r| r.cluster.clone())
        .collect();
    if let Ok(cluster) = cat.cluster_by_alias(alias) {
        names.extend(cluster_names(cat, recoveries, &cluster.to_string()));
    }
    names
}

//! The recovery audit trail: recoveries (`audit-recovery`, active and recent
//! ones), their steps, failure detections and blocked recoveries. Reads are
//! lenient as orchestrator's: a name that matches nothing lists nothing.

use std::collections::{BTreeSet, HashMap};

use orc_compat::{BlockedRecoveryJson, ClusterInfoJson, TopologyRecoveryJson};
use orc_model::{BlockedRecovery, DetectionRecord, InstanceKey, RecoveryRecord, RecoveryStep};

use super::{PAGE_SIZE, alias_names, catalog, cluster_names};
use crate::Gateway;
use crate::catalog::Catalog;
use crate::error::ApiError;

/// The catalog and the ids needed to render audit rows.
#[derive(Debug)]
pub(crate) struct AuditView {
    /// The read model, for cluster details.
    pub catalog: Catalog,
    detection_ids: HashMap<String, i64>,
}

impl AuditView {
    /// Loads the catalog and the detections.
    pub(crate) async fn load(gw: &Gateway) -> Result<Self, ApiError> {
        let catalog = catalog(gw).await?;
        let detections = gw.store.recoveries().detections(None).await?;
        Ok(Self::new(catalog, &detections))
    }

    fn new(catalog: Catalog, detections: &[DetectionRecord]) -> Self {
        Self {
            catalog,
            detection_ids: detections
                .iter()
                .map(|d| (d.detection_id.clone(), d.id))
                .collect(),
        }
    }

    /// Row id of the detection a recovery answered (0 when unknown).
    pub(crate) fn detection_row(&self, r: &RecoveryRecord) -> i64 {
        self.detection_ids
            .get(&r.detection_id)
            .copied()
            .unwrap_or(0)
    }

    /// A recovery in orchestrator's JSON.
    pub(crate) fn recovery_json(&self, r: &RecoveryRecord) -> TopologyRecoveryJson {
        let cluster = self
            .catalog
            .cluster_info_by_name(&r.cluster, &r.cluster_alias);
        TopologyRecoveryJson::from_record(r, cluster, self.detection_row(r), self.catalog.now())
    }
}

/// Which recoveries to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecoveryQuery {
    /// Every one.
    All,
    /// Of the cluster a hint designates.
    Cluster(String),
    /// Of the cluster with this alias.
    Alias(String),
    /// One, by id.
    Id(i64),
    /// One, by uid.
    Uid(String),
    /// Still running, of a cluster.
    Active(String),
    /// Running or within their block period, of a cluster.
    RecentInCluster(String),
    /// Running or within their block period, of a failed instance.
    RecentOfInstance(InstanceKey),
}

/// Recoveries, newest first, with what renders them.
#[derive(Debug)]
pub(crate) struct RecoveryListing {
    /// The rows.
    pub records: Vec<RecoveryRecord>,
    /// For rendering.
    pub view: AuditView,
}

impl RecoveryListing {
    /// The rows in orchestrator's JSON.
    pub(crate) fn json(&self) -> Vec<TopologyRecoveryJson> {
        self.records
            .iter()
            .map(|r| self.view.recovery_json(r))
            .collect()
    }
}

fn page_of<T>(rows: Vec<T>, page: Option<usize>) -> Vec<T> {
    match page {
        Some(p) => rows
            .into_iter()
            .skip(p.saturating_mul(PAGE_SIZE))
            .take(PAGE_SIZE)
            .collect(),
        None => rows,
    }
}

/// Names a read for a cluster hint covers: those of [`cluster_names`], and
/// the hint itself.
fn read_names(cat: &Catalog, recoveries: &[RecoveryRecord], hint: &str) -> BTreeSet<String> {
    let mut names = cluster_names(cat, recoveries, hint);
    names.insert(hint.to_string());
    names
}

/// Lists recoveries (`page` of [`PAGE_SIZE`] rows, or all).
pub(crate) async fn recoveries(
    gw: &Gateway,
    query: &RecoveryQuery,
    page: Option<usize>,
    unacknowledged_only: bool,
) -> Result<RecoveryListing, ApiError> {
    let view = AuditView::load(gw).await?;
    let all = gw.store.recoveries().list(None).await?;
    let cat = &view.catalog;
    let now = cat.now();
    let recent = |r: &RecoveryRecord| r.is_active || now < r.block_until;
    let keep: Box<dyn Fn(&RecoveryRecord) -> bool + '_> = match query {
        RecoveryQuery::All => Box::new(|_| true),
        RecoveryQuery::Cluster(hint) => {
            let names = read_names(cat, &all, hint);
            Box::new(move |r| names.contains(&r.cluster))
        }
        RecoveryQuery::Alias(alias) => {
            let names = alias_names(cat, &all, alias);
            Box::new(move |r| names.contains(&r.cluster))
        }
        RecoveryQuery::Id(id) => Box::new(move |r| r.id == *id),
        RecoveryQuery::Uid(uid) => Box::new(move |r| &r.uid == uid),
        RecoveryQuery::Active(hint) => {
            let names = read_names(cat, &all, hint);
            Box::new(move |r| r.is_active && names.contains(&r.cluster))
        }
        RecoveryQuery::RecentInCluster(hint) => {
            let names = read_names(cat, &all, hint);
            Box::new(move |r| recent(r) && names.contains(&r.cluster))
        }
        RecoveryQuery::RecentOfInstance(key) => {
            let key = cat.resolve_instance(key).unwrap_or_else(|| key.clone());
            Box::new(move |r| recent(r) && r.failed == key)
        }
    };
    let records: Vec<RecoveryRecord> = all
        .iter()
        .filter(|r| keep(r) && (!unacknowledged_only || !r.acknowledged))
        .cloned()
        .collect();
    Ok(RecoveryListing {
        records: page_of(records, page),
        view,
    })
}

/// The steps of a recovery, in order (none for an unknown uid).
pub(crate) async fn recovery_steps(gw: &Gateway, uid: &str) -> Result<Vec<RecoveryStep>, ApiError> {
    Ok(gw.store.recoveries().steps(uid).await?)
}

/// Which failure detections to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DetectionQuery {
    /// Every one.
    All,
    /// One, by id.
    Id(i64),
    /// Of the cluster with this alias.
    Alias(String),
    /// Of the cluster a hint designates.
    Cluster(String),
}

/// A failure detection with what orchestrator shows beside it.
#[derive(Debug, Clone)]
pub(crate) struct DetectionRow {
    /// The detection.
    pub record: DetectionRecord,
    /// Id of the recovery that answered it (0: none).
    pub related_recovery_id: i64,
    /// Within `FailureDetectionPeriodBlockMinutes` and not acknowledged.
    pub is_active: bool,
    /// Its cluster's details.
    pub cluster: ClusterInfoJson,
}

impl DetectionRow {
    /// In orchestrator's JSON.
    pub(crate) fn json(&self) -> TopologyRecoveryJson {
        TopologyRecoveryJson::from_detection(
            &self.record,
            self.cluster.clone(),
            self.related_recovery_id,
            self.is_active,
        )
    }
}

/// Lists failure detections, newest first (`page` of [`PAGE_SIZE`], or all).
pub(crate) async fn detections(
    gw: &Gateway,
    query: &DetectionQuery,
    page: Option<usize>,
) -> Result<Vec<DetectionRow>, ApiError> {
    let cat = catalog(gw).await?;
    let repo = gw.store.recoveries();
    let recoveries = repo.list(None).await?;
    let names = match query {
        DetectionQuery::Alias(alias) => Some(alias_names(&cat, &recoveries, alias)),
        DetectionQuery::Cluster(hint) => Some(read_names(&cat, &recoveries, hint)),
        DetectionQuery::All | DetectionQuery::Id(_) => None,
    };
    let now = cat.now();
    let rows: Vec<DetectionRow> = repo
        .detections(None)
        .await?
        .into_iter()
        .filter(|d| match query {
            DetectionQuery::Id(id) => d.id == *id,
            _ => names.as_ref().is_none_or(|n| n.contains(&d.cluster)),
        })
        .map(|d| {
            let related = recoveries.iter().find(|r| r.detection_id == d.detection_id);
            let is_active = now < d.detected_at.plus(gw.failure_detection_period)
                && !related.is_some_and(|r| r.acknowledged);
            DetectionRow {
                related_recovery_id: related.map_or(0, |r| r.id),
                is_active,
                cluster: cat.cluster_info_by_name(&d.cluster, ""),
                record: d,
            }
        })
        .collect();
    Ok(page_of(rows, page))
}

/// A blocked automated recovery and the id of the recovery blocking it.
#[derive(Debug, Clone)]
pub(crate) struct BlockedRow {
    /// The refusal.
    pub record: BlockedRecovery,
    /// Id of the blocking recovery (0 when it is unknown).
    pub blocking_id: i64,
}

impl BlockedRow {
    /// In orchestrator's JSON.
    pub(crate) fn json(&self) -> BlockedRecoveryJson {
        BlockedRecoveryJson::from_blocked(&self.record, self.blocking_id)
    }
}

/// Automated recoveries still blocked (of the cluster a hint designates, or
/// all): those whose blocking recovery was acknowledged or has expired are
/// left out.
pub(crate) async fn blocked(gw: &Gateway, hint: Option<&str>) -> Result<Vec<BlockedRow>, ApiError> {
    let cat = catalog(gw).await?;
    let repo = gw.store.recoveries();
    let recoveries = repo.list(None).await?;
    let names = hint.map(|h| read_names(&cat, &recoveries, h));
    let now = cat.now();
    Ok(repo
        .blocked(None)
        .await?
        .into_iter()
        .filter(|b| names.as_ref().is_none_or(|n| n.contains(&b.cluster)))
        .filter_map(|b| {
            let blocking = recoveries.iter().find(|r| r.uid == b.blocking_uid);
            match blocking {
                Some(r) if !r.blocks_at(now) => None,
                _ => Some(BlockedRow {
                    blocking_id: blocking.map_or(0, |r| r.id),
                    record: b,
                }),
            }
        })
        .collect())
}

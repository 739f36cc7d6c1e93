//! Asking an analyzer for its current view of a cluster.

use std::time::Duration;

use orc_analysis::Analysis;
use orc_bus::{Bus, subjects};
use orc_model::{InstanceKey, InstanceState};
use orc_proto::v1 as wire;

/// One cluster as the analyzers see it now.
#[derive(Debug, Clone)]
pub struct Brief {
    /// Cluster name.
    pub cluster: String,
    /// Every member's analysis (healthy ones too).
    pub analyses: Vec<Analysis>,
    /// Every member's state.
    pub states: Vec<InstanceState>,
    /// The alias an operator set (`set-cluster-alias`), which wins over
    /// the detected one.
    pub manual_alias: Option<String>,
}

impl Brief {
    /// The analysis of one member.
    pub fn analysis(&self, key: &InstanceKey) -> Option<&Analysis> {
        self.analyses.iter().find(|a| &a.key == key)
    }

    /// Adds the members of another cluster (an operation may span two).
    pub fn merge(&mut self, other: Brief) {
        for a in other.analyses {
            if self.analysis(&a.key).is_none() {
                self.analyses.push(a);
            }
        }
        for s in other.states {
            if self.state(&s.key).is_none() {
                self.states.push(s);
            }
        }
    }

    /// The state of one member.
    pub fn state(&self, key: &InstanceKey) -> Option<&InstanceState> {
        self.states.iter().find(|s| &s.key == key)
    }

    /// The cluster's master: the member without a master (first by key).
    pub fn master(&self) -> Option<&Analysis> {
        let cluster = InstanceKey::parse(&self.cluster).ok();
        self.analyses
            .iter()
            .find(|a| Some(&a.key) == cluster.as_ref())
            .or_else(|| self.analyses.iter().find(|a| a.is_master))
    }

    /// The cluster's alias: the manual one, else the one detected on its
    /// master (empty when none).
    pub fn detected_alias(&self) -> String {
        if let Some(manual) = &self.manual_alias {
            return manual.clone();
        }
        self.master()
            .and_then(|m| self.state(&m.key))
            .and_then(|s| s.data.as_ref())
            .map(|d| d.suggested_cluster_alias.clone())
            .unwrap_or_default()
    }

    /// Domain detected on the cluster's master.
    pub fn domain(&self) -> String {
        self.master()
            .and_then(|m| self.state(&m.key))
            .and_then(|s| s.data.as_ref())
            .map(|d| d.cluster_domain.clone())
            .unwrap_or_default()
    }
}

/// Why no brief came.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BriefError {
    /// No analyzer runs.
    #[error("no analyzer is running")]
    NoAnalyzer,
    /// The analyzer does not know it.
    #[error("{0}")]
    Unknown(String),
    /// The bus or decoding failed.
    #[error("asking the analyzer: {0}")]
    Failed(String),
}

/// Fetches the brief of the cluster of `instance`, or of the named cluster.
pub async fn fetch(
    bus: &dyn Bus,
    instance: Option<&InstanceKey>,
    cluster: &str,
) -> Result<Brief, BriefError> {
    let req = wire::ClusterBriefRequest {
        instance: instance.map(Into::into),
        cluster: cluster.to_string(),
    };
    let bytes = orc_bus::request_patiently(
        bus,
        subjects::CLUSTER_BRIEF,
        orc_bus::encode(&req),
        Duration::from_secs(5),
        Duration::from_secs(3),
    )
    .await
    .map_err(|e| match e {
        orc_bus::Error::NoResponders { .. } => BriefError::NoAnalyzer,
        other => BriefError::Failed(other.to_string()),
    })?;
    let b: wire::ClusterBrief = orc_bus::decode(subjects::CLUSTER_BRIEF, &bytes)
        .map_err(|e| BriefError::Failed(e.to_string()))?;
    if !b.error.is_empty() {
        return Err(BriefError::Unknown(b.error));
    }
    let analyses = b
        .analyses
        .iter()
        .map(Analysis::try_from)
        .collect::<Result<_, _>>()
        .map_err(|e| BriefError::Failed(format!("analyses: {e}")))?;
    let states = b
        .states
        .iter()
        .map(InstanceState::try_from)
        .collect::<Result<_, _>>()
        .map_err(|e| BriefError::Failed(format!("states: {e}")))?;
    Ok(Brief {
        cluster: b.cluster,
        analyses,
        states,
        manual_alias: None,
    })
}

/// As [`fetch`], with the cluster's manual alias from the store (an
/// unreadable store leaves the detected alias in force).
pub async fn fetch_known(
    bus: &dyn Bus,
    store: &orc_store::Store,
    instance: Option<&InstanceKey>,
    cluster: &str,
) -> Result<Brief, BriefError> {
    let mut brief = fetch(bus, instance, cluster).await?;
    match store.clusters().alias_overrides().await {
        Ok(overrides) => brief.manual_alias = overrides.get(&brief.cluster).cloned(),
        Err(e) => tracing::warn!(error = %e, "manual cluster aliases unreadable"),
    }
    Ok(brief)
}

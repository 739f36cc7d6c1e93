//! The read model the APIs answer from: every stored instance, placed in
//! its topology, with operator metadata (downtime, maintenance, promotion
//! rules), cluster names, aliases and the lookups orchestrator's routes need
//! (cluster hints, fuzzy instance keys, search).

use std::collections::BTreeMap;

use orc_compat::topology::{ascii, line, tabulated, tree_order};
use orc_compat::{ClusterInfoJson, DisplayPolicy, InstanceJson, InstanceView};
use orc_model::{InstanceKey, InstanceMetadata, InstanceState, Timestamp, Topology};
use orc_store::{Store, StoredInstance};

use crate::error::ApiError;

/// Settings that shape answers.
#[derive(Debug, Clone, Default)]
pub struct CatalogSettings {
    /// Thresholds for derived fields.
    pub policy: DisplayPolicy,
    /// `ClusterNameToAlias`: (regex on cluster name, alias).
    pub cluster_name_to_alias: Vec<(regex::Regex, String)>,
    /// `RecoverMasterClusterFilters`.
    pub recover_master_cluster_filters: Vec<String>,
    /// `RecoverIntermediateMasterClusterFilters`.
    pub recover_intermediate_master_cluster_filters: Vec<String>,
    /// `DefaultInstancePort`.
    pub default_port: u16,
    /// How the analysis judges.
    pub analysis: orc_analysis::AnalysisPolicy,
}

/// A snapshot of everything known, at one instant.
#[derive(Debug)]
pub struct Catalog {
    now: Timestamp,
    settings: CatalogSettings,
    states: BTreeMap<InstanceKey, InstanceState>,
    topology: Topology,
    metadata: BTreeMap<InstanceKey, InstanceMetadata>,
    errant: BTreeMap<InstanceKey, String>,
    alias_overrides: BTreeMap<String, String>,
}

/// Errant GTIDs of every replica: what it executed that its cluster's
/// master did not, its own lineage's transactions aside.
fn errant_gtids(
    states: &BTreeMap<InstanceKey, InstanceState>,
    topology: &Topology,
) -> BTreeMap<InstanceKey, String> {
    let mut out = BTreeMap::new();
    for (key, p) in topology.placements() {
        if p.depth == 0 || &p.cluster == key {
            continue;
        }
        let (Some(me), Some(master)) = (
            states.get(key).and_then(|s| s.data.as_ref()),
            states.get(&p.cluster).and_then(|s| s.data.as_ref()),
        ) else {
            continue;
        };
        let lineage: Vec<&str> = p
            .ancestry
            .iter()
            .filter_map(|a| states.get(a)?.data.as_ref().map(|d| d.server_uuid.as_str()))
            .collect();
        if let Some(e) = orc_analysis::errant_gtids(me, master, &lineage) {
            out.insert(key.clone(), e.to_string());
        }
    }
    out
}

impl Catalog {
    /// Loads every instance and all operator metadata from the store.
    pub async fn load(
        store: &Store,
        settings: &CatalogSettings,
        now: Timestamp,
    ) -> Result<Self, ApiError> {
        let stored = store.instances().all().await?;
        let metadata = store.metadata().all().await?;
        let overrides = store.clusters().alias_overrides().await?;
        Ok(Self::build(stored, settings, now)
            .with_metadata(metadata)
            .with_alias_overrides(overrides))
    }

    /// Replaces the manual cluster aliases (`set-cluster-alias`).
    pub fn with_alias_overrides(mut self, overrides: BTreeMap<String, String>) -> Self {
        self.alias_overrides = overrides;
        self
    }

    /// Replaces the operator metadata.
    pub fn with_metadata(mut self, metadata: BTreeMap<InstanceKey, InstanceMetadata>) -> Self {
        self.metadata = metadata;
        self
    }

    /// Builds from stored instances (without operator metadata).
    pub fn build(stored: Vec<StoredInstance>, settings: &CatalogSettings, now: Timestamp) -> Self {
        let states: BTreeMap<InstanceKey, InstanceState> = stored
            .into_iter()
            .map(|s| (s.state.key.clone(), s.state))
            .collect();
        let topology = Topology::from_states(states.values());
        let errant = errant_gtids(&states, &topology);
        Self {
            now,
            settings: settings.clone(),
            states,
            topology,
            metadata: BTreeMap::new(),
            errant,
            alias_overrides: BTreeMap::new(),
        }
    }

    /// The instant this catalog is for.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Operator metadata of one instance, if any was recorded.
    pub fn metadata(&self, key: &InstanceKey) -> Option<&InstanceMetadata> {
        self.metadata.get(key)
    }

    /// Every instance with operator metadata.
    pub fn all_metadata(&self) -> &BTreeMap<InstanceKey, InstanceMetadata> {
        &self.metadata
    }

    /// Known instances downtimed now (of one cluster, or all), sorted.
    pub fn downtimed(&self, cluster: Option<&InstanceKey>) -> Vec<InstanceKey> {
        self.metadata
            .iter()
            .filter(|(k, m)| m.is_downtimed(self.now) && self.states.contains_key(*k))
            .filter(|(k, _)| cluster.is_none_or(|c| self.cluster_of(k).as_ref() == Some(c)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The view of one instance.
    pub fn view(&self, key: &InstanceKey) -> Option<InstanceView<'_>> {
        let state = self.states.get(key)?;
        Some(InstanceView {
            state,
            placement: self.topology.placement(key),
            metadata: self.metadata.get(key),
            ancestry_uuids: "",
            gtid_errant: self.errant.get(key).map_or("", String::as_str),
            now: self.now,
            policy: &self.settings.policy,
        })
    }

    /// orchestrator's Instance JSON of one instance.
    pub fn instance_json(&self, key: &InstanceKey) -> Option<InstanceJson> {
        self.view(key).map(|v| InstanceJson::from_view(&v))
    }

    /// Instance JSON of several keys, skipping unknown ones.
    pub fn instances_json(&self, keys: &[InstanceKey]) -> Vec<InstanceJson> {
        keys.iter().filter_map(|k| self.instance_json(k)).collect()
    }

    /// The folded state of one instance.
    pub fn state(&self, key: &InstanceKey) -> Option<&InstanceState> {
        self.states.get(key)
    }

    /// The topology of everything known.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Every known key, sorted.
    pub fn all_keys(&self) -> Vec<InstanceKey> {
        self.states.keys().cloned().collect()
    }

    /// An exact key, else the one known instance with this port whose
    /// hostname contains the given one (never for IP addresses).
    pub fn resolve_instance(&self, key: &InstanceKey) -> Option<InstanceKey> {
        if self.states.contains_key(key) {
            return Some(key.clone());
        }
        if let Some(s) = self
            .states
            .values()
            .find(|s| s.address.as_ref() == Some(key))
        {
            return Some(s.key.clone());
        }
        if key.is_ip() {
            return None;
        }
        let mut matches = self
            .states
            .keys()
            .filter(|k| k.port() == key.port() && k.hostname().contains(key.hostname()));
        match (matches.next(), matches.next()) {
            (Some(only), None) => Some(only.clone()),
            _ => None,
        }
    }

    /// A known instance, or `NotFound` in orchestrator's words.
    pub fn require_instance(&self, key: &InstanceKey) -> Result<InstanceKey, ApiError> {
        self.resolve_instance(key)
            .ok_or_else(|| ApiError::NotFound(format!("Cannot read instance: {key}")))
    }

    /// Cluster names (their root's key), sorted.
    pub fn clusters(&self) -> Vec<InstanceKey> {
        self.topology.clusters().into_keys().collect()
    }

    /// Members of a cluster, by depth then key.
    pub fn members(&self, cluster: &InstanceKey) -> Vec<InstanceKey> {
        self.topology.cluster_members(cluster)
    }

    /// The cluster an instance belongs to.
    pub fn cluster_of(&self, key: &InstanceKey) -> Option<InstanceKey> {
        self.topology.placement(key).map(|p| p.cluster.clone())
    }

    /// A cluster's alias: the manual one (`set-cluster-alias`), else the
    /// master's detected alias, else the first `ClusterNameToAlias` match,
    /// else the cluster name.
    pub fn cluster_alias(&self, cluster: &InstanceKey) -> String {
        let name = cluster.to_string();
        if let Some(manual) = self.alias_overrides.get(&name) {
            return manual.clone();
        }
        let detected = self
            .states
            .get(cluster)
            .and_then(|s| s.data.as_ref())
            .map(|d| d.suggested_cluster_alias.clone())
            .filter(|a| !a.is_empty());
        detected
            .or_else(|| {
                self.settings
                    .cluster_name_to_alias
                    .iter()
                    .find(|(re, _)| re.is_match(&name))
                    .map(|(_, alias)| alias.clone())
            })
            .unwrap_or(name)
    }

    /// A cluster's domain (`DetectClusterDomainQuery` on its master).
    pub fn cluster_domain(&self, cluster: &InstanceKey) -> String {
        self.states
            .get(cluster)
            .and_then(|s| s.data.as_ref())
            .map(|d| d.cluster_domain.clone())
            .unwrap_or_default()
    }

    /// Resolves a cluster hint: a cluster name, an alias, or any member's key.
    pub fn resolve_cluster(&self, hint: &str) -> Result<InstanceKey, ApiError> {
        let clusters = self.clusters();
        if let Some(c) = clusters.iter().find(|c| c.to_string() == hint) {
            return Ok(c.clone());
        }
        if let Ok(c) = self.cluster_by_alias(hint) {
            return Ok(c);
        }
        let key = InstanceKey::parse_with_default_port(hint, self.settings.default_port).map_err(
            |_| ApiError::NotFound(format!("Unable to determine cluster name for {hint}")),
        )?;
        self.resolve_instance(&key)
            .and_then(|k| self.cluster_of(&k))
            .ok_or_else(|| {
                ApiError::NotFound(format!("Unable to determine cluster name for {hint}"))
            })
    }

    /// Resolves an alias to its cluster.
    pub fn cluster_by_alias(&self, alias: &str) -> Result<InstanceKey, ApiError> {
        // Several clusters may claim one alias (a master replaced by a
        // failover keeps reporting it): the live, not-downtimed cluster with
        // the most members is the one meant.
        self.clusters()
            .into_iter()
            .filter(|c| self.cluster_alias(c) == alias)
            .max_by_key(|c| {
                let view = self.view(c);
                (
                    !self.metadata(c).is_some_and(|m| m.is_downtimed(self.now)),
                    view.as_ref().is_some_and(|v| v.is_last_check_valid()),
                    self.members(c).len(),
                    std::cmp::Reverse(c.clone()),
                )
            })
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "Unable to determine cluster name for alias {alias}"
                ))
            })
    }

    fn filter_matches(&self, filters: &[String], cluster: &InstanceKey) -> bool {
        orc_recovery_fsm::cluster_filter_matches(
            filters,
            &cluster.to_string(),
            &self.cluster_alias(cluster),
        )
    }

    /// orchestrator's ClusterInfo.
    pub fn cluster_info(&self, cluster: &InstanceKey) -> ClusterInfoJson {
        let members = self.members(cluster);
        let lag = members
            .iter()
            .filter_map(|k| self.states.get(k)?.data.as_ref()?.replication_lag_seconds)
            .max()
            .unwrap_or(0);
        ClusterInfoJson {
            ClusterName: cluster.to_string(),
            ClusterAlias: self.cluster_alias(cluster),
            ClusterDomain: self.cluster_domain(cluster),
            CountInstances: u32::try_from(members.len()).unwrap_or(u32::MAX),
            HeuristicLag: lag,
            HasAutomatedMasterRecovery: self
                .filter_matches(&self.settings.recover_master_cluster_filters, cluster),
            HasAutomatedIntermediateMasterRecovery: self.filter_matches(
                &self.settings.recover_intermediate_master_cluster_filters,
                cluster,
            ),
        }
    }

    /// ClusterInfo of a cluster known by name (perhaps no longer existing,
    /// as the cluster of an old recovery): the live one when it exists.
    pub fn cluster_info_by_name(&self, name: &str, alias: &str) -> ClusterInfoJson {
        let live = InstanceKey::parse_with_default_port(name, self.settings.default_port)
            .ok()
            .filter(|k| self.topology.placement(k).is_some_and(|p| &p.cluster == k));
        match live {
            Some(k) => self.cluster_info(&k),
            None => ClusterInfoJson {
                ClusterName: name.to_string(),
                ClusterAlias: if alias.is_empty() { name } else { alias }.to_string(),
                ..Default::default()
            },
        }
    }

    /// The master of a cluster: members at depth 0 or co-masters, writable first.
    pub fn master_of(&self, cluster: &InstanceKey) -> Option<InstanceKey> {
        let mut candidates: Vec<(bool, InstanceKey)> = self
            .members(cluster)
            .into_iter()
            .filter(|k| {
                self.topology
                    .placement(k)
                    .is_some_and(|p| p.depth == 0 || p.is_co_master)
            })
            .map(|k| {
                let ro = self
                    .states
                    .get(&k)
                    .and_then(|s| s.data.as_ref())
                    .is_none_or(|d| d.read_only);
                (ro, k)
            })
            .collect();
        candidates.sort();
        candidates.into_iter().next().map(|(_, k)| k)
    }

    /// One writable master per cluster.
    pub fn masters(&self) -> Vec<InstanceKey> {
        self.clusters()
            .iter()
            .filter_map(|c| self.master_of(c))
            .filter(|k| {
                self.states
                    .get(k)
                    .and_then(|s| s.data.as_ref())
                    .is_some_and(|d| !d.read_only)
            })
            .collect()
    }

    /// Known instances replicating from `key`.
    pub fn replicas_of(&self, key: &InstanceKey) -> Vec<InstanceKey> {
        self.topology
            .placement(key)
            .map(|p| p.replicas.clone())
            .unwrap_or_default()
    }

    /// Instances whose key, alias, version or cluster contains `term`.
    pub fn search(&self, term: &str) -> Vec<InstanceKey> {
        let term = term.trim().to_ascii_lowercase();
        if term.is_empty() {
            return Vec::new();
        }
        self.states
            .iter()
            .filter(|(k, s)| {
                let d = s.data.as_ref();
                let cluster = self
                    .cluster_of(k)
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                [
                    k.to_string(),
                    d.map(|d| d.instance_alias.clone()).unwrap_or_default(),
                    d.map(|d| d.version.clone()).unwrap_or_default(),
                    cluster,
                ]
                .iter()
                .any(|f| f.to_ascii_lowercase().contains(&term))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The replication analysis of everything known.
    pub fn analysis(&self) -> Vec<orc_analysis::Analysis> {
        let input = orc_analysis::AnalysisInput {
            states: &self.states,
            topology: &self.topology,
            metadata: &self.metadata,
        };
        orc_analysis::analyze(&input, &self.settings.analysis, self.now)
    }

    /// Analysis entries in orchestrator's JSON.
    pub fn analysis_json(
        &self,
        entries: &[orc_analysis::Analysis],
    ) -> Vec<orc_compat::ReplicationAnalysisJson> {
        let node = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        entries
            .iter()
            .map(|a| {
                orc_compat::ReplicationAnalysisJson::from_analysis(
                    a,
                    self.cluster_info(&a.cluster),
                    &node,
                    self.now,
                )
            })
            .collect()
    }

    /// orchestrator's topology text of a cluster.
    pub fn topology_text(&self, cluster: &InstanceKey, tabulated_form: bool) -> String {
        let lines: Vec<_> = tree_order(&self.topology, cluster)
            .into_iter()
            .filter_map(|(depth, key)| self.view(&key).map(|v| line(&v, depth)))
            .collect();
        if tabulated_form {
            tabulated(&lines)
        } else {
            ascii(&lines)
        }
    }

    /// The topology text with each instance's tags appended
    /// (` [name=value,...]`), as `topology-tags` shows it.
    pub fn topology_text_with_tags(&self, cluster: &InstanceKey) -> String {
        let order = tree_order(&self.topology, cluster);
        let lines: Vec<_> = order
            .iter()
            .filter_map(|(depth, key)| self.view(key).map(|v| line(&v, *depth)))
            .collect();
        let text = ascii(&lines);
        text.lines()
            .zip(order.iter().filter(|(_, k)| self.view(k).is_some()))
            .map(|(l, (_, key))| {
                let tags = self
                    .metadata(key)
                    .map(|m| crate::operations::metadata::tag_strings(&m.tags))
                    .unwrap_or_default();
                if tags.is_empty() {
                    l.to_string()
                } else {
                    format!("{l} [{}]", tags.join(","))
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

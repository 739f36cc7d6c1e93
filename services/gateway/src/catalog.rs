//! The read model the APIs answer from: every stored instance, placed in
//! its topology, with operator metadata (downtime, maintenance, promotion
//! rules), cluster names, aliases and the lookups orchestrator's routes need
//! (cluster hints, fuzzy instance keys, search).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use orc_compat::topology::{ascii, line, tabulated, tree_order};
use orc_compat::{ClusterInfoJson, DisplayPolicy, InstanceJson, InstanceView};
use orc_model::{InstanceKey, InstanceMetadata, InstanceState, Timestamp, Topology, TopologyInput};
use orc_store::{Changes, Generation, Store, StoredInstance};

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
    fleet: Arc<Fleet>,
    metadata: BTreeMap<InstanceKey, InstanceMetadata>,
    alias_overrides: BTreeMap<String, String>,
}

/// The instance part of the read model: states, their topology, clusters
/// and errant GTIDs. Kept between requests by a [`CatalogCache`] and brought
/// up to date from the rows written since, so a request costs what changed,
/// not the fleet's size. Cloned (cheaply: states are shared) only when a
/// change arrives while an earlier request still holds it.
#[derive(Debug, Clone)]
pub struct Fleet {
    states: BTreeMap<InstanceKey, Arc<InstanceState>>,
    topology: Arc<Topology>,
    clusters: Arc<BTreeMap<InstanceKey, Vec<InstanceKey>>>,
    errant: Arc<BTreeMap<InstanceKey, String>>,
}

/// The errant GTIDs of one replica: what it executed that its cluster's
/// master did not, its own lineage's transactions aside.
fn errant_of(
    states: &BTreeMap<InstanceKey, Arc<InstanceState>>,
    topology: &Topology,
    key: &InstanceKey,
) -> Option<String> {
    let p = topology.placement(key)?;
    if p.depth == 0 || &p.cluster == key {
        return None;
    }
    let me = states.get(key)?.data.as_ref()?;
    let master = states.get(&p.cluster)?.data.as_ref()?;
    let lineage: Vec<&str> = p
        .ancestry
        .iter()
        .filter_map(|a| states.get(a)?.data.as_ref().map(|d| d.server_uuid.as_str()))
        .collect();
    orc_analysis::errant_gtids(me, master, &lineage).map(|e| e.to_string())
}

impl Fleet {
    /// Every stored instance, placed.
    pub fn new(stored: Vec<StoredInstance>) -> Self {
        let states: BTreeMap<InstanceKey, Arc<InstanceState>> = stored
            .into_iter()
            .map(|s| (s.state.key.clone(), Arc::new(s.state)))
            .collect();
        let mut fleet = Self {
            states,
            topology: Arc::default(),
            clusters: Arc::default(),
            errant: Arc::default(),
        };
        fleet.reshape();
        fleet
    }

    fn reshape(&mut self) {
        let topology = Topology::from_states(self.states.values().map(|s| &**s));
        let errant = topology
            .placements()
            .filter_map(|(k, _)| Some((k.clone(), errant_of(&self.states, &topology, k)?)))
            .collect();
        self.clusters = Arc::new(topology.clusters());
        self.errant = Arc::new(errant);
        self.topology = Arc::new(topology);
    }

    /// Takes rows written since: the topology is rebuilt only when an edge
    /// can have moved; otherwise only the touched clusters' errant GTIDs
    /// are recomputed.
    pub fn apply(&mut self, changed: Vec<StoredInstance>) {
        let mut reshaped = false;
        let mut touched = BTreeSet::new();
        for item in changed {
            let new = item.state;
            match self.states.get(&new.key) {
                Some(old)
                    if old.address == new.address
                        && TopologyInput::from_state(old) == TopologyInput::from_state(&new) =>
                {
                    if let Some(p) = self.topology.placement(&new.key) {
                        touched.insert(p.cluster.clone());
                    }
                }
                _ => reshaped = true,
            }
            self.states.insert(new.key.clone(), Arc::new(new));
        }
        if reshaped {
            self.reshape();
            return;
        }
        for cluster in touched {
            for key in self.clusters.get(&cluster).into_iter().flatten() {
                match errant_of(&self.states, &self.topology, key) {
                    Some(e) => {
                        if self.errant.get(key) != Some(&e) {
                            Arc::make_mut(&mut self.errant).insert(key.clone(), e);
                        }
                    }
                    None => {
                        if self.errant.contains_key(key) {
                            Arc::make_mut(&mut self.errant).remove(key);
                        }
                    }
                }
            }
        }
    }
}

/// The fleet as last read, and where the store stood then. Each request
/// reads only the rows written since (see [`orc_store::Generation`]); a
/// deletion makes the next read whole. Requests take turns refreshing, so
/// a burst of them costs one read of what changed.
#[derive(Debug, Default)]
pub struct CatalogCache {
    last: tokio::sync::Mutex<Option<(Generation, Arc<Fleet>)>>,
}

impl CatalogCache {
    /// The fleet as the store holds it now.
    pub async fn fleet(&self, store: &Store) -> Result<Arc<Fleet>, ApiError> {
        let mut last = self.last.lock().await;
        let since = last.as_ref().map(|(g, _)| *g);
        let (reached, changes) = store.instances().changes(since).await?;
        let fleet = match (last.take(), changes) {
            (Some((_, mut fleet)), Changes::Since(changed)) => {
                if !changed.is_empty() {
                    Arc::make_mut(&mut fleet).apply(changed);
                }
                fleet
            }
            (_, Changes::Full(all) | Changes::Since(all)) => Arc::new(Fleet::new(all)),
        };
        *last = Some((reached, fleet.clone()));
        Ok(fleet)
    }
}

impl Catalog {
    /// The catalog now: the fleet brought up to date through `cache`, and
    /// operator metadata and aliases read afresh (small, and written by
    /// any gateway).
    pub async fn load(
        cache: &CatalogCache,
        store: &Store,
        settings: &CatalogSettings,
        now: Timestamp,
    ) -> Result<Self, ApiError> {
        let fleet = cache.fleet(store).await?;
        let metadata = store.metadata().all().await?;
        let overrides = store.clusters().alias_overrides().await?;
        Ok(Self {
            now,
            settings: settings.clone(),
            fleet,
            metadata,
            alias_overrides: overrides,
        })
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
        Self {
            now,
            settings: settings.clone(),
            fleet: Arc::new(Fleet::new(stored)),
            metadata: BTreeMap::new(),
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
            .filter(|(k, m)| m.is_downtimed(self.now) && self.fleet.states.contains_key(*k))
            .filter(|(k, _)| cluster.is_none_or(|c| self.cluster_of(k).as_ref() == Some(c)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The view of one instance.
    pub fn view(&self, key: &InstanceKey) -> Option<InstanceView<'_>> {
        let state = &**self.fleet.states.get(key)?;
        Some(InstanceView {
            state,
            placement: self.fleet.topology.placement(key),
            metadata: self.metadata.get(key),
            ancestry_uuids: "",
            gtid_errant: self.fleet.errant.get(key).map_or("", String::as_str),
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
        self.fleet.states.get(key).map(|s| &**s)
    }

    /// The topology of everything known.
    pub fn topology(&self) -> &Topology {
        &self.fleet.topology
    }

    /// Every known key, sorted.
    pub fn all_keys(&self) -> Vec<InstanceKey> {
        self.fleet.states.keys().cloned().collect()
    }

    /// An exact key, else the one known instance with this port whose
    /// hostname contains the given one (never for IP addresses).
    pub fn resolve_instance(&self, key: &InstanceKey) -> Option<InstanceKey> {
        if self.fleet.states.contains_key(key) {
            return Some(key.clone());
        }
        if let Some(s) = self
            .fleet
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
            .fleet
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
        self.fleet.clusters.keys().cloned().collect()
    }

    /// Members of a cluster, by depth then key.
    pub fn members(&self, cluster: &InstanceKey) -> Vec<InstanceKey> {
        self.fleet
            .clusters
            .get(cluster)
            .cloned()
            .unwrap_or_default()
    }

    /// The cluster an instance belongs to.
    pub fn cluster_of(&self, key: &InstanceKey) -> Option<InstanceKey> {
        self.fleet
            .topology
            .placement(key)
            .map(|p| p.cluster.clone())
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
            .fleet
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
        self.fleet
            .states
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
            .filter_map(|k| {
                self.fleet
                    .states
                    .get(k)?
                    .data
                    .as_ref()?
                    .replication_lag_seconds
            })
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
            .filter(|k| {
                self.fleet
                    .topology
                    .placement(k)
                    .is_some_and(|p| &p.cluster == k)
            });
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
                self.fleet
                    .topology
                    .placement(k)
                    .is_some_and(|p| p.depth == 0 || p.is_co_master)
            })
            .map(|k| {
                let ro = self
                    .fleet
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
                self.fleet
                    .states
                    .get(k)
                    .and_then(|s| s.data.as_ref())
                    .is_some_and(|d| !d.read_only)
            })
            .collect()
    }

    /// Known instances replicating from `key`.
    pub fn replicas_of(&self, key: &InstanceKey) -> Vec<InstanceKey> {
        self.fleet
            .topology
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
        self.fleet
            .states
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
        orc_analysis::analyze(&self.analysis_input(), &self.settings.analysis, self.now)
    }

    /// The replication analysis of some instances (a cluster's members,
    /// say): what [`Catalog::analysis`] says of them, without analysing
    /// the rest.
    pub fn analysis_of(&self, keys: &[InstanceKey]) -> Vec<orc_analysis::Analysis> {
        orc_analysis::analyze_keys(
            &self.analysis_input(),
            keys,
            &self.settings.analysis,
            self.now,
        )
    }

    fn analysis_input(&self) -> orc_analysis::AnalysisInput<'_> {
        orc_analysis::AnalysisInput {
            states: &self.fleet.states,
            topology: &self.fleet.topology,
            metadata: &self.metadata,
        }
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
        let lines: Vec<_> = tree_order(&self.fleet.topology, cluster)
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
        let order = tree_order(&self.fleet.topology, cluster);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use orc_model::{Flavor, InstanceData, InstanceSnapshot, ProbeOutcome, ReplicationStatus};

    use super::*;

    fn stored(port: u16, master: Option<u16>, gtid: &str, at: i64) -> StoredInstance {
        let key = InstanceKey::new("10.0.0.1", port).unwrap();
        let mut state = InstanceState::new(key.clone(), Timestamp(0));
        state.apply(&InstanceSnapshot {
            key,
            vantage: "p".into(),
            started_at: Timestamp(at - 1),
            observed_at: Timestamp(at),
            outcome: ProbeOutcome::Ok,
            data: Some(InstanceData {
                flavor: Flavor::Mariadb,
                server_id: u32::from(port),
                gtid_executed: gtid.into(),
                read_only: master.is_some(),
                replication: master.map(|m| ReplicationStatus {
                    master_host: "10.0.0.1".into(),
                    master_port: m,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            one_off: false,
        });
        StoredInstance {
            state,
            cluster_name: String::new(),
        }
    }

    fn same(a: &Fleet, b: &Fleet) {
        let states = |f: &Fleet| -> Vec<InstanceState> {
            f.states.values().map(|s| (**s).clone()).collect()
        };
        assert_eq!(states(a), states(b));
        assert_eq!(*a.topology, *b.topology);
        assert_eq!(*a.clusters, *b.clusters);
        assert_eq!(*a.errant, *b.errant);
    }

    /// Rows applied one change at a time leave the fleet exactly as reading
    /// everything afresh would: figures, errant GTIDs, moved replicas.
    #[test]
    fn applying_what_changed_equals_reading_everything() {
        let mut rows = vec![
            stored(1, None, "0-1-10", 100),
            stored(2, Some(1), "0-1-10", 100),
            stored(3, Some(1), "0-1-9", 100),
            stored(11, None, "0-11-5", 100),
            stored(12, Some(11), "0-11-5", 100),
        ];
        let mut fleet = Fleet::new(rows.clone());
        assert!(fleet.errant.is_empty());
        let steps = [
            // Figures only: the master moves on.
            stored(1, None, "0-1-12", 200),
            // A replica writes on its own: errant.
            stored(3, Some(1), "0-1-9,1-3-4", 200),
            // Its master's figures move: the errant set stays.
            stored(1, None, "0-1-13", 300),
            // A replica moves to the other cluster: the topology changes.
            stored(2, Some(11), "0-1-13", 300),
            // A new instance arrives.
            stored(13, Some(12), "0-11-5", 300),
        ];
        for step in steps {
            let port = step.state.key.port();
            rows.retain(|r| r.state.key.port() != port);
            rows.push(step.clone());
            fleet.apply(vec![step]);
            same(&fleet, &Fleet::new(rows.clone()));
        }
        let errant = InstanceKey::new("10.0.0.1", 3).unwrap();
        assert_eq!(fleet.errant.get(&errant).map(String::as_str), Some("1-3-4"));
        let moved = InstanceKey::new("10.0.0.1", 2).unwrap();
        let cluster = InstanceKey::new("10.0.0.1", 11).unwrap();
        assert!(fleet.clusters[&cluster].contains(&moved));
        // The errant replica repaired: gone from the set.
        let repaired = stored(3, Some(1), "0-1-13", 400);
        fleet.apply(vec![repaired.clone()]);
        rows.retain(|r| r.state.key.port() != 3);
        rows.push(repaired);
        same(&fleet, &Fleet::new(rows));
        assert!(!fleet.errant.contains_key(&errant));
    }

    /// A cache that is read while an earlier answer is still held gives
    /// each reader its own consistent fleet.
    #[test]
    fn a_held_fleet_is_not_changed_under_its_reader() {
        let fleet = Arc::new(Fleet::new(vec![stored(1, None, "0-1-10", 100)]));
        let held = fleet.clone();
        let mut next = fleet;
        Arc::make_mut(&mut next).apply(vec![stored(2, Some(1), "0-1-10", 200)]);
        assert_eq!(held.states.len(), 1);
        assert_eq!(next.states.len(), 2);
    }
}

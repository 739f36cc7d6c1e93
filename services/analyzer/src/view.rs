//! The analyzer's in-memory view: every known instance's folded state, the
//! instances recently forgotten, and what changed since the last flush.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use orc_model::{InstanceKey, InstanceSnapshot, InstanceState, Timestamp, Topology};
use orc_runtime::filters::DiscoveryFilters;
use orc_store::StoredInstance;

/// How an instance's identity is derived from what it reports
/// (orchestrator's `MySQLHostnameResolveMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolveMethod {
    /// The address it is probed at.
    #[default]
    None,
    /// `@@report_host` (when set).
    ReportHost,
    /// `@@hostname`.
    Hostname,
}

impl ResolveMethod {
    /// Parses orchestrator's spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "@@report_host" => Self::ReportHost,
            "@@hostname" => Self::Hostname,
            _ => Self::None,
        }
    }
}

/// Known instances and bookkeeping.
#[derive(Debug, Default)]
pub struct View {
    method: ResolveMethod,
    /// Which named instances are not followed.
    filters: DiscoveryFilters,
    /// Probe address → identity, where they differ.
    identities: HashMap<InstanceKey, InstanceKey>,
    states: BTreeMap<InstanceKey, InstanceState>,
    forgotten: HashMap<InstanceKey, Timestamp>,
    dirty: BTreeSet<InstanceKey>,
    /// Instances whose bookkeeping or moving figures (last seen, positions)
    /// changed, written at most every [`View::bookkeeping_every`].
    touched: BTreeSet<InstanceKey>,
    /// When each instance was last handed to the store.
    written: HashMap<InstanceKey, std::time::Instant>,
    registry_changed: bool,
    generation: u64,
    /// Instances taken over from another analyzer and not probed since,
    /// each until a deadline: what is known of them (stored rows, older
    /// than what their former holder saw) says nothing of them now.
    awaiting: HashMap<InstanceKey, Timestamp>,
    /// The replication graph, built once per change of shape (sources,
    /// replicas, roles, membership) rather than at every use: positions
    /// that move on every poll leave it as it is.
    topology: std::sync::Mutex<Graph>,
}

/// The kept replication graph.
#[derive(Debug, Default)]
struct Graph {
    /// The graph of what is known now; `None` once a change of shape
    /// made it stale.
    current: Option<std::sync::Arc<Topology>>,
    /// The last graph built, stale or not.
    last: Option<std::sync::Arc<Topology>>,
    /// When it was built and what building it cost.
    built_at: Option<std::time::Instant>,
    cost: std::time::Duration,
}

/// What ingesting one snapshot did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Whether the instance's state changed at all.
    pub changed: bool,
    /// Whether it changed in a way an analysis may turn on (not only
    /// moving positions): worth analysing now rather than at the next pass.
    pub shape_changed: bool,
    /// Instances learned from it (its replicas and master).
    pub discovered: Vec<InstanceKey>,
    /// Whether it was ignored (unknown or recently forgotten).
    pub ignored: bool,
    /// The identity the snapshot was folded into.
    pub identity: Option<InstanceKey>,
}

impl View {
    /// A view seeded with stored states.
    pub fn from_stored(stored: Vec<StoredInstance>, method: ResolveMethod) -> Self {
        let mut v = Self {
            method,
            ..Self::default()
        };
        for s in stored {
            if let Some(addr) = &s.state.address {
                v.identities.insert(addr.clone(), s.state.key.clone());
            }
            v.states.insert(s.state.key.clone(), s.state);
        }
        v.registry_changed = true;
        v
    }

    /// Follows only the replicas and masters `filters` let through
    /// (`DiscoveryIgnore*HostnameFilters`).
    pub fn with_discovery_filters(mut self, filters: DiscoveryFilters) -> Self {
        self.filters = filters;
        self
    }

    /// The identity of an instance reached at `address`, as far as known.
    pub fn identity_of(&self, address: &InstanceKey) -> InstanceKey {
        self.identities
            .get(address)
            .cloned()
            .unwrap_or_else(|| address.clone())
    }

    /// Learns the identity a probe of `address` reveals; moves a state
    /// known by its address to its identity. Returns the identity.
    fn resolve(
        &mut self,
        address: &InstanceKey,
        data: Option<&orc_model::InstanceData>,
    ) -> InstanceKey {
        let reported = match (self.method, data) {
            (ResolveMethod::ReportHost, Some(d)) => d.report_host.trim(),
            (ResolveMethod::Hostname, Some(d)) => d.hostname.trim(),
            _ => "",
        };
        let Some(identity) = (!reported.is_empty())
            .then(|| InstanceKey::new(reported, address.port()).ok())
            .flatten()
        else {
            return self.identity_of(address);
        };
        if identity == *address {
            return identity;
        }
        if self
            .identities
            .insert(address.clone(), identity.clone())
            .as_ref()
            != Some(&identity)
        {
            self.reshaped();
            if let Some(mut moved) = self.states.remove(address) {
                moved.key = identity.clone();
                moved.address = Some(address.clone());
                self.states.entry(identity.clone()).or_insert(moved);
                self.registry_changed = true;
                self.generation += 1;
                self.reshaped();
            }
            if let Some(st) = self.states.get_mut(&identity) {
                st.address = Some(address.clone());
            }
        }
        identity
    }

    /// Every state, by identity.
    pub fn states(&self) -> &BTreeMap<InstanceKey, InstanceState> {
        &self.states
    }

    /// Where an instance (by identity) is probed.
    pub fn probe_address_of(&self, key: &InstanceKey) -> InstanceKey {
        self.states
            .get(key)
            .map_or_else(|| key.clone(), |s| s.probe_address().clone())
    }

    /// Where every known instance is probed.
    pub fn probe_addresses(&self) -> impl Iterator<Item = &InstanceKey> {
        self.states.values().map(InstanceState::probe_address)
    }

    /// Every known key.
    pub fn keys(&self) -> impl Iterator<Item = &InstanceKey> {
        self.states.keys()
    }

    /// One state.
    pub fn get(&self, key: &InstanceKey) -> Option<&InstanceState> {
        self.states.get(key)
    }

    /// Number of known instances.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    fn is_forgotten(&self, key: &InstanceKey, now: Timestamp) -> bool {
        self.forgotten.get(key).is_some_and(|until| now < *until)
    }

    /// Learns a key another analyzer knows (its registry): added unless
    /// known or recently forgotten here. Returns whether it was new.
    pub fn learn(&mut self, key: &InstanceKey, now: Timestamp) -> bool {
        let identity = self.identity_of(key);
        if self.is_forgotten(key, now)
            || self.is_forgotten(&identity, now)
            || self.states.contains_key(&identity)
        {
            return false;
        }
        self.add(key, now)
    }

    /// Adds a key (un-forgetting it); returns whether it was new. It is
    /// stored once a probe of it arrives.
    pub fn add(&mut self, key: &InstanceKey, now: Timestamp) -> bool {
        self.forgotten.remove(key);
        if self.states.contains_key(key) {
            return false;
        }
        self.states
            .insert(key.clone(), InstanceState::new(key.clone(), now));
        self.registry_changed = true;
        self.generation += 1;
        self.reshaped();
        true
    }

    /// Folds a snapshot of a known instance in and learns the replicas and
    /// master it names. Snapshots of unknown or forgotten instances are
    /// ignored: instances become known only by `add` (discover, seeds) or
    /// by being named by a known one.
    pub fn ingest(&mut self, snap: &InstanceSnapshot, now: Timestamp) -> Ingested {
        let known = self.states.contains_key(&self.identity_of(&snap.key));
        if self.is_forgotten(&self.identity_of(&snap.key), now) || !known {
            return Ingested {
                ignored: true,
                ..Default::default()
            };
        }
        let identity = self.resolve(&snap.key, snap.data.as_ref());
        if self.is_forgotten(&identity, now) {
            return Ingested {
                ignored: true,
                ..Default::default()
            };
        }
        let mut out = Ingested {
            identity: Some(identity.clone()),
            ..Default::default()
        };
        let mut regraph = false;
        self.awaiting.remove(&identity);
        if let Some(state) = self.states.get_mut(&identity) {
            let before = orc_model::TopologyInput::from_state(state);
            let change = state.apply_classified(snap);
            out.changed = change != orc_model::Change::None;
            out.shape_changed = change == orc_model::Change::Shape;
            // A server failing or answering again changes no edge of the
            // graph; a new source, replica list or role does.
            regraph = out.shape_changed && orc_model::TopologyInput::from_state(state) != before;
            // Persist every probe's bookkeeping, changed or not (the API
            // shows last-seen times): a change of shape at the next flush,
            // moving figures and times at the bookkeeping cadence.
            if out.shape_changed || !self.written.contains_key(&identity) {
                self.dirty.insert(identity.clone());
            } else {
                self.touched.insert(identity.clone());
            }
        }
        if regraph {
            self.reshaped();
        }
        if let Some(data) = &snap.data {
            let replicas = data
                .replicas
                .iter()
                .filter(|k| !self.filters.ignores_replica(k));
            let master = data
                .master_key()
                .filter(|k| !self.filters.ignores_master(k));
            let named: Vec<InstanceKey> = replicas.cloned().chain(master).collect();
            for key in named {
                let key = self.identity_of(&key);
                if key != identity && !self.is_forgotten(&key, now) && self.add(&key, now) {
                    out.discovered.push(key);
                }
            }
        }
        out
    }

    /// Forgets keys for `ttl` (snapshots naming them are ignored meanwhile);
    /// returns those that were known.
    pub fn forget(
        &mut self,
        keys: &[InstanceKey],
        now: Timestamp,
        ttl: Duration,
    ) -> Vec<InstanceKey> {
        let mut gone = Vec::new();
        for key in keys {
            let key = &self.identity_of(key);
            if let Some(st) = self.states.remove(key) {
                if let Some(addr) = &st.address {
                    self.identities.remove(addr);
                }
                gone.push(key.clone());
            }
            self.dirty.remove(key);
            self.touched.remove(key);
            self.written.remove(key);
            self.forgotten.insert(key.clone(), now.plus(ttl));
        }
        if !gone.is_empty() {
            self.registry_changed = true;
            self.generation += 1;
            self.reshaped();
        }
        self.forgotten.retain(|_, until| now < *until);
        gone
    }

    /// Drops a key without remembering it as forgotten (a discover that failed).
    pub fn drop_key(&mut self, key: &InstanceKey) {
        let key = &self.identity_of(key);
        self.awaiting.remove(key);
        if self.states.remove(key).is_some() {
            self.dirty.remove(key);
            self.touched.remove(key);
            self.written.remove(key);
            self.registry_changed = true;
            self.generation += 1;
            self.reshaped();
        }
    }

    /// The replication graph of every known instance.
    pub fn topology(&self) -> std::sync::Arc<Topology> {
        let mut graph = self
            .topology
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(current) = &graph.current {
            return current.clone();
        }
        let started = std::time::Instant::now();
        let built = std::sync::Arc::new(Topology::from_states(self.states.values()));
        graph.cost = started.elapsed();
        graph.built_at = Some(started);
        graph.current = Some(built.clone());
        graph.last = Some(built.clone());
        built
    }

    /// The last graph built, perhaps a change of shape behind: for uses
    /// that may lag (cluster names written to the store, which replicas to
    /// re-probe beside a failing server), so a stream of changes during
    /// discovery does not rebuild the graph for each of them.
    pub fn recent_topology(&self) -> std::sync::Arc<Topology> {
        let last = self
            .topology
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last
            .clone();
        last.unwrap_or_else(|| self.topology())
    }

    /// Whether the graph is built (using it costs nothing now).
    pub fn topology_ready(&self) -> bool {
        self.topology
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .current
            .is_some()
    }

    /// Whether changes waiting for the graph should have it rebuilt now:
    /// it is built, or the last build is at least four of its own costs
    /// ago, so rebuilding never takes more than a fifth of the loop while
    /// shapes keep changing (discovery of thousands of servers), and small
    /// fleets rebuild at once.
    pub fn reshape_due(&self) -> bool {
        let graph = self
            .topology
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        graph.current.is_some()
            || graph
                .built_at
                .is_none_or(|at| at.elapsed() >= graph.cost.saturating_mul(4))
    }

    /// Forgets the cached graph: something it is built from changed.
    fn reshaped(&mut self) {
        self.topology
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .current = None;
    }

    /// Members of the cluster named `cluster` (a `host:port` string).
    pub fn cluster_members(&self, cluster: &str) -> Vec<InstanceKey> {
        let topo = self.topology();
        topo.placements()
            .filter(|(_, p)| p.cluster.to_string() == cluster)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Takes the changed instances, ready to store.
    pub fn take_dirty(&mut self) -> Vec<StoredInstance> {
        let now = std::time::Instant::now();
        let every = self.bookkeeping_every();
        let due: Vec<InstanceKey> = self
            .touched
            .iter()
            .filter(|k| {
                self.written
                    .get(*k)
                    .is_none_or(|at| now.duration_since(*at) >= every)
            })
            .cloned()
            .collect();
        for k in due {
            self.touched.remove(&k);
            self.dirty.insert(k);
        }
        self.take_keys(now)
    }

    /// Every changed instance, bookkeeping included (at shutdown).
    pub fn take_all_dirty(&mut self) -> Vec<StoredInstance> {
        let touched = std::mem::take(&mut self.touched);
        self.dirty.extend(touched);
        self.take_keys(std::time::Instant::now())
    }

    /// How often an instance whose shape did not change is written: every
    /// second, or less often on fleets over 2,000 instances so the store
    /// writes about 2,000 such rows a second whatever the fleet's size
    /// (changes of shape are written at the next flush regardless).
    pub fn bookkeeping_every(&self) -> Duration {
        Duration::from_secs_f64((self.states.len() as f64 / 2000.0).max(1.0))
    }

    fn take_keys(&mut self, now: std::time::Instant) -> Vec<StoredInstance> {
        if self.dirty.is_empty() {
            return Vec::new();
        }
        let topo = self.recent_topology();
        let keys = std::mem::take(&mut self.dirty);
        for k in &keys {
            self.touched.remove(k);
            self.written.insert(k.clone(), now);
        }
        keys.into_iter()
            .filter_map(|k| {
                let state = self.states.get(&k)?.clone();
                let cluster_name = topo
                    .placement(&k)
                    .map_or_else(|| k.to_string(), |p| p.cluster.to_string());
                Some(StoredInstance {
                    state,
                    cluster_name,
                })
            })
            .collect()
    }

    /// Takes one instance for an immediate write.
    pub fn take_one(&mut self, key: &InstanceKey) -> Option<StoredInstance> {
        self.dirty.remove(key);
        let state = self.states.get(key)?.clone();
        let cluster_name = self
            .topology()
            .placement(key)
            .map_or_else(|| key.to_string(), |p| p.cluster.to_string());
        Some(StoredInstance {
            state,
            cluster_name,
        })
    }

    /// The registry must be published again (an instance moved bucket).
    pub fn mark_registry_changed(&mut self) {
        self.registry_changed = true;
    }

    /// Fills in what an instance taken over from another analyzer lacks
    /// from its stored state; returns whether it did. An instance probed
    /// successfully here keeps what it has; one whose probes here failed
    /// (a server that died as its analyzer did) gets its stored data and
    /// sightings, keeping the failures seen here.
    pub fn restore(&mut self, stored: StoredInstance) -> bool {
        let key = stored.state.key.clone();
        let Some(st) = self.states.get_mut(&key) else {
            return false;
        };
        if st.data.is_some() {
            return false;
        }
        let old = stored.state;
        if let Some(addr) = &old.address {
            self.identities.insert(addr.clone(), key.clone());
            st.address.get_or_insert_with(|| addr.clone());
        }
        st.data = old.data;
        st.first_known = st.first_known.min(old.first_known);
        if st.last_seen.is_none() {
            st.last_seen = old.last_seen;
        }
        st.failing_since = match (st.failing_since, old.failing_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b.filter(|_| st.last_error.is_some())),
        };
        if st.last_checked.is_none() {
            st.last_checked = old.last_checked;
            st.last_error = old.last_error;
            st.last_attempted = old.last_attempted;
        }
        self.dirty.insert(key);
        self.reshaped();
        true
    }

    /// Marks an instance taken over: until it is probed (or `until`
    /// passes), no finding is drawn about it.
    pub fn await_first_probe(&mut self, key: &InstanceKey, until: Timestamp) {
        let identity = self.identity_of(key);
        if self.states.contains_key(&identity) {
            self.awaiting.insert(identity, until);
        }
    }

    /// Whether `key` was taken over and not probed since (and its
    /// deadline has not passed).
    pub fn awaits_first_probe(&self, key: &InstanceKey, now: Timestamp) -> bool {
        self.awaiting.get(key).is_some_and(|until| now < *until)
    }

    /// Drops the marks whose deadline passed.
    pub fn expire_awaiting(&mut self, now: Timestamp) {
        self.awaiting.retain(|_, until| now < *until);
    }

    /// Whether the registry changed since the last call; resets the flag.
    pub fn take_registry_changed(&mut self) -> bool {
        std::mem::take(&mut self.registry_changed)
    }

    /// A counter that moves whenever the set of known keys changes.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orc_model::{InstanceData, ProbeOutcome, ReplicationStatus};

    fn k(p: u16) -> InstanceKey {
        InstanceKey::new("127.0.0.1", p).unwrap()
    }

    fn snap(port: u16, master: Option<u16>, replicas: &[u16], at: i64) -> InstanceSnapshot {
        InstanceSnapshot {
            key: k(port),
            vantage: "p".into(),
            started_at: Timestamp(at),
            observed_at: Timestamp(at),
            outcome: ProbeOutcome::Ok,
            data: Some(InstanceData {
                replication: master.map(|m| ReplicationStatus {
                    master_host: "127.0.0.1".into(),
                    master_port: m,
                    ..Default::default()
                }),
                replicas: replicas.iter().map(|p| k(*p)).collect(),
                ..Default::default()
            }),
            one_off: false,
        }
    }

    #[test]
    fn a_masters_snapshot_teaches_its_replicas_and_a_replicas_its_master() {
        let mut v = View::default();
        assert!(
            v.ingest(&snap(1, None, &[2, 3], 10), Timestamp(10)).ignored,
            "unknown until added"
        );
        v.add(&k(1), Timestamp(10));
        v.add(&k(4), Timestamp(10));
        let got = v.ingest(&snap(1, None, &[2, 3], 10), Timestamp(10));
        assert_eq!(got.discovered, vec![k(2), k(3)]);
        assert!(v.take_registry_changed());
        let got = v.ingest(&snap(4, Some(9), &[], 11), Timestamp(11));
        assert_eq!(got.discovered, vec![k(9)]);
        assert_eq!(v.len(), 5);
        assert!(
            !v.forget(&[k(3)], Timestamp(12), Duration::from_secs(1))
                .is_empty()
        );
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn filtered_replicas_and_masters_are_not_followed() {
        use orc_runtime::filters::KeyFilters;
        let list = |e: &str| KeyFilters::parse(&[e.to_string()]).unwrap();
        let mut v = View::default().with_discovery_filters(DiscoveryFilters {
            hosts: list(":3$"),
            replicas: list(":2$"),
            masters: list(":9$"),
        });
        v.add(&k(1), Timestamp(10));
        v.add(&k(4), Timestamp(10));
        v.add(&k(5), Timestamp(10));
        let got = v.ingest(&snap(1, None, &[2, 3, 6], 10), Timestamp(10));
        assert_eq!(
            got.discovered,
            vec![k(6)],
            "2: replica filter, 3: host filter"
        );
        let got = v.ingest(&snap(4, Some(9), &[], 11), Timestamp(11));
        assert!(got.discovered.is_empty(), "9: master filter");
        let got = v.ingest(&snap(5, Some(2), &[], 11), Timestamp(11));
        assert_eq!(
            got.discovered,
            vec![k(2)],
            "the replica filter does not stop a master"
        );
    }

    #[test]
    fn forgotten_instances_stay_forgotten_for_a_while() {
        let mut v = View::default();
        v.add(&k(1), Timestamp(10));
        v.ingest(&snap(1, None, &[2], 10), Timestamp(10));
        let ttl = Duration::from_secs(60);
        assert_eq!(v.forget(&[k(2)], Timestamp(20), ttl), vec![k(2)]);
        // The master still lists it, but it is not re-learned, nor accepted.
        let got = v.ingest(&snap(1, None, &[2], 30), Timestamp(30));
        assert!(got.discovered.is_empty());
        assert!(v.ingest(&snap(2, Some(1), &[], 31), Timestamp(31)).ignored);
        // After the TTL it comes back through the crawl.
        let later = Timestamp(20 + 61_000);
        assert_eq!(
            v.ingest(&snap(1, None, &[2], 0), later).discovered,
            vec![k(2)]
        );
        // An explicit add un-forgets at once.
        v.forget(&[k(2)], later, ttl);
        assert!(v.add(&k(2), later));
    }

    #[test]
    fn dirty_instances_are_stored_with_their_cluster() {
        let mut v = View::default();
        v.add(&k(1), Timestamp(10));
        v.ingest(&snap(1, None, &[2], 10), Timestamp(10));
        v.ingest(&snap(2, Some(1), &[], 10), Timestamp(10));
        let stored = v.take_dirty();
        assert_eq!(stored.len(), 2);
        assert!(stored.iter().all(|s| s.cluster_name == "127.0.0.1:1"));
        assert!(v.take_dirty().is_empty());
        assert_eq!(v.cluster_members("127.0.0.1:1"), vec![k(1), k(2)]);
    }

    #[test]
    fn a_peer_teaches_unknown_instances_but_never_forgotten_ones() {
        let mut v = View::default();
        assert!(v.learn(&k(1), Timestamp(10)));
        assert!(!v.learn(&k(1), Timestamp(10)), "already known");
        v.forget(&[k(1)], Timestamp(20), Duration::from_secs(60));
        assert!(
            !v.learn(&k(1), Timestamp(30)),
            "forgotten here: a peer's stale registry does not bring it back"
        );
        assert!(v.get(&k(1)).is_none());
        assert!(
            v.learn(&k(1), Timestamp(20 + 61_000)),
            "after the forget period it may be learned again"
        );
        // The graph follows what is learned.
        assert!(v.topology().placement(&k(1)).is_some());
    }

    #[test]
    fn an_instance_taken_over_gets_its_stored_data_but_keeps_the_failures_seen_here() {
        // The former holder stored a healthy master with two replicas.
        let mut before = View::default();
        before.add(&k(1), Timestamp(10));
        before.ingest(&snap(1, None, &[2, 3], 10), Timestamp(10));
        let stored = before.take_dirty().pop().unwrap();
        // Taken over: it died meanwhile, so its first probe here failed.
        let mut v = View::default();
        v.learn(&k(1), Timestamp(20));
        let mut failed = snap(1, None, &[], 30);
        failed.data = None;
        failed.outcome = ProbeOutcome::Failed(orc_model::ProbeError {
            kind: orc_model::ProbeErrorKind::Refused,
            message: "refused".into(),
        });
        v.ingest(&failed, Timestamp(30));
        assert!(v.restore(stored.clone()), "no data yet: restored");
        let st = v.get(&k(1)).unwrap();
        assert_eq!(st.data.as_ref().map(|d| d.replicas.len()), Some(2));
        assert_eq!(st.last_seen, Some(Timestamp(10)), "its last sighting");
        assert!(st.last_error.is_some(), "the failure seen here stays");
        assert_eq!(st.last_checked, Some(Timestamp(30)));
        assert_eq!(v.take_dirty().len(), 1, "written again, with its data");
        // Once it has data of its own, the store's is not wanted.
        assert!(!v.restore(stored));
        // Unknown here: nothing to restore.
        let mut other = View::default();
        assert!(!other.restore(v.take_one(&k(1)).unwrap()));
    }

    #[test]
    fn moving_figures_are_written_at_the_bookkeeping_cadence_a_change_of_shape_at_once() {
        let mut v = View::default();
        v.add(&k(1), Timestamp(10));
        v.ingest(&snap(1, None, &[], 10), Timestamp(10));
        assert_eq!(v.take_dirty().len(), 1, "first data is written at once");
        // Only the uptime moved: not written before the cadence.
        let mut s = snap(1, None, &[], 20);
        if let Some(d) = s.data.as_mut() {
            d.uptime_seconds += 1;
        }
        v.ingest(&s, Timestamp(20));
        assert!(v.take_dirty().is_empty());
        // A new replica is a change of shape: written at once.
        v.ingest(&snap(1, None, &[2], 30), Timestamp(30));
        assert_eq!(v.take_dirty().len(), 1);
        assert_eq!(v.take_all_dirty().len(), 0);
    }
}

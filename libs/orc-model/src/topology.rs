//! Replication trees built from what instances report: who replicates from
//! whom, cluster names, depths, co-masters and cycles.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::key::InstanceKey;
use crate::state::InstanceState;

/// What the topology needs to know of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyInput {
    /// The instance.
    pub key: InstanceKey,
    /// Its configured source, when it replicates.
    pub master: Option<InstanceKey>,
    /// `@@read_only`, used to name a co-master cluster after its writable side.
    pub read_only: bool,
    /// Replicas the instance itself reports.
    pub listed_replicas: Vec<InstanceKey>,
    /// Whether the instance was ever probed successfully (its `master` is known).
    pub probed: bool,
}

impl TopologyInput {
    /// Builds the input from a folded instance state.
    pub fn from_state(state: &InstanceState) -> Self {
        let data = state.data.as_ref();
        Self {
            key: state.key.clone(),
            master: state.master_key(),
            read_only: data.is_some_and(|d| d.read_only),
            listed_replicas: data.map(|d| d.replicas.clone()).unwrap_or_default(),
            probed: data.is_some(),
        }
    }
}

/// Where one instance sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The cluster: its root master's key (or, for co-masters and cycles,
    /// the member chosen to name it).
    pub cluster: InstanceKey,
    /// The source it replicates from, known or not.
    pub master: Option<InstanceKey>,
    /// Known instances replicating from it, sorted.
    pub replicas: Vec<InstanceKey>,
    /// Hops from the cluster's root (0 for the root).
    pub depth: u32,
    /// Member of a two-instance replication loop.
    pub is_co_master: bool,
    /// Member of a replication loop of three or more instances.
    pub in_cycle: bool,
    /// Ancestors from the direct master up to the root (known ones only).
    pub ancestry: Vec<InstanceKey>,
}

/// The replication graph of every known instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    placements: BTreeMap<InstanceKey, Placement>,
}

impl Topology {
    /// Builds the graph. An instance never probed takes as master the known
    /// instance that lists it as a replica, so a freshly crawled topology is
    /// whole before every replica has answered.
    pub fn build(inputs: &[TopologyInput]) -> Self {
        let known: BTreeSet<&InstanceKey> = inputs.iter().map(|i| &i.key).collect();
        let mut listed_by: HashMap<&InstanceKey, &InstanceKey> = HashMap::new();
        for input in inputs {
            for r in &input.listed_replicas {
                listed_by.entry(r).or_insert(&input.key);
            }
        }
        let read_only: HashMap<&InstanceKey, bool> =
            inputs.iter().map(|i| (&i.key, i.read_only)).collect();
        let master_of: BTreeMap<&InstanceKey, Option<InstanceKey>> = inputs
            .iter()
            .map(|i| {
                let m = if i.probed {
                    i.master.clone()
                } else {
                    i.master
                        .clone()
                        .or_else(|| listed_by.get(&i.key).map(|k| (*k).clone()))
                };
                (&i.key, m.filter(|m| m != &i.key))
            })
            .collect();
        let known_master = |k: &InstanceKey| -> Option<&InstanceKey> {
            master_of
                .get(k)
                .and_then(|m| m.as_ref())
                .and_then(|m| known.get(m).copied())
        };

        let mut resolved: HashMap<&InstanceKey, (InstanceKey, u32)> = HashMap::new();
        let mut co_masters: BTreeSet<&InstanceKey> = BTreeSet::new();
        let mut cycles: BTreeSet<&InstanceKey> = BTreeSet::new();
        for start in &known {
            let mut path: Vec<&InstanceKey> = Vec::new();
            let mut on_path: HashMap<&InstanceKey, usize> = HashMap::new();
            let mut cur: &InstanceKey = start;
            loop {
                if resolved.contains_key(cur) {
                    break;
                }
                if let Some(&i) = on_path.get(cur) {
                    let cycle: Vec<&InstanceKey> = path[i..].to_vec();
                    resolve_cycle(&cycle, &read_only, &master_of, &mut resolved);
                    if cycle.len() == 2 {
                        co_masters.extend(cycle.iter().copied());
                    } else {
                        cycles.extend(cycle.iter().copied());
                    }
                    path.truncate(i);
                    break;
                }
                on_path.insert(cur, path.len());
                path.push(cur);
                match known_master(cur) {
                    Some(m) => cur = m,
                    None => {
                        resolved.insert(cur, (cur.clone(), 0));
                        path.pop();
                        break;
                    }
                }
            }
            for node in path.into_iter().rev() {
                if resolved.contains_key(node) {
                    continue;
                }
                let base = known_master(node).and_then(|m| resolved.get(m)).cloned();
                let value = match base {
                    Some((cluster, depth)) => (cluster, depth + 1),
                    None => (node.clone(), 0),
                };
                resolved.insert(node, value);
            }
        }

        let mut children: BTreeMap<&InstanceKey, Vec<InstanceKey>> = BTreeMap::new();
        for k in &known {
            if let Some(m) = known_master(k) {
                children.entry(m).or_default().push((*k).clone());
            }
        }
        let mut placements = BTreeMap::new();
        for k in &known {
            let Some((cluster, depth)) = resolved.get(k).cloned() else {
                continue;
            };
            let mut ancestry = Vec::new();
            let mut seen: BTreeSet<&InstanceKey> = BTreeSet::from([*k]);
            let mut cur = *k;
            while let Some(m) = known_master(cur) {
                if !seen.insert(m) {
                    break;
                }
                ancestry.push(m.clone());
                cur = m;
            }
            placements.insert(
                (*k).clone(),
                Placement {
                    cluster,
                    master: master_of.get(k).cloned().flatten(),
                    replicas: children.remove(k).unwrap_or_default(),
                    depth,
                    is_co_master: co_masters.contains(k),
                    in_cycle: cycles.contains(k),
                    ancestry,
                },
            );
        }
        Self { placements }
    }

    /// Builds the graph from folded instance states. Keys that name an
    /// instance by the address it is reached at (a replica's `Master_Host`)
    /// are mapped to that instance's identity first.
    pub fn from_states<'a>(states: impl IntoIterator<Item = &'a InstanceState>) -> Self {
        let states: Vec<&InstanceState> = states.into_iter().collect();
        let identity: HashMap<&InstanceKey, &InstanceKey> = states
            .iter()
            .filter_map(|s| s.address.as_ref().map(|a| (a, &s.key)))
            .collect();
        let canonical = |k: InstanceKey| identity.get(&k).map_or(k, |id| (*id).clone());
        let inputs: Vec<TopologyInput> = states
            .iter()
            .map(|s| {
                let mut input = TopologyInput::from_state(s);
                input.master = input.master.map(canonical);
                input.listed_replicas = input.listed_replicas.into_iter().map(canonical).collect();
                input
            })
            .collect();
        Self::build(&inputs)
    }

    /// Where an instance sits.
    pub fn placement(&self, key: &InstanceKey) -> Option<&Placement> {
        self.placements.get(key)
    }

    /// Every placement, by key.
    pub fn placements(&self) -> impl Iterator<Item = (&InstanceKey, &Placement)> {
        self.placements.iter()
    }

    /// Cluster name → members (sorted by depth then key).
    pub fn clusters(&self) -> BTreeMap<InstanceKey, Vec<InstanceKey>> {
        let mut out: BTreeMap<InstanceKey, Vec<(u32, InstanceKey)>> = BTreeMap::new();
        for (k, p) in &self.placements {
            out.entry(p.cluster.clone())
                .or_default()
                .push((p.depth, k.clone()));
        }
        out.into_iter()
            .map(|(c, mut v)| {
                v.sort();
                (c, v.into_iter().map(|(_, k)| k).collect())
            })
            .collect()
    }

    /// Members of one cluster, sorted by depth then key.
    pub fn cluster_members(&self, cluster: &InstanceKey) -> Vec<InstanceKey> {
        let mut v: Vec<(u32, InstanceKey)> = self
            .placements
            .iter()
            .filter(|(_, p)| &p.cluster == cluster)
            .map(|(k, p)| (p.depth, k.clone()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, k)| k).collect()
    }

    /// Whether `descendant` replicates (directly or not) from `ancestor`.
    pub fn is_descendant(&self, descendant: &InstanceKey, ancestor: &InstanceKey) -> bool {
        self.placements
            .get(descendant)
            .is_some_and(|p| p.ancestry.contains(ancestor))
    }
}

/// Names a loop after one member and gives depths along it: for two members
/// (co-masters) the writable one if exactly one is, else the smaller key.
fn resolve_cycle<'a>(
    cycle: &[&'a InstanceKey],
    read_only: &HashMap<&InstanceKey, bool>,
    master_of: &BTreeMap<&InstanceKey, Option<InstanceKey>>,
    resolved: &mut HashMap<&'a InstanceKey, (InstanceKey, u32)>,
) {
    let writable: Vec<&&InstanceKey> = cycle
        .iter()
        .filter(|k| !read_only.get(**k).copied().unwrap_or(true))
        .collect();
    let anchor: &InstanceKey = match writable.as_slice() {
        [only] if cycle.len() == 2 => only,
        _ => cycle.iter().min().copied().unwrap_or(cycle[0]),
    };
    // Walk the loop in replication direction: the member whose master is the
    // anchor is one hop down, and so on.
    let mut depth = 0u32;
    let mut cur: &InstanceKey = anchor;
    resolved.insert(cycle_member(cycle, anchor), (anchor.clone(), 0));
    for _ in 1..cycle.len() {
        let next = cycle
            .iter()
            .find(|k| master_of.get(**k).and_then(|m| m.as_ref()) == Some(cur));
        let Some(next) = next else { break };
        depth += 1;
        resolved.insert(next, (anchor.clone(), depth));
        cur = next;
    }
}

fn cycle_member<'a>(cycle: &[&'a InstanceKey], key: &InstanceKey) -> &'a InstanceKey {
    cycle
        .iter()
        .find(|k| **k == key)
        .copied()
        .unwrap_or(cycle[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> InstanceKey {
        InstanceKey::parse(s).unwrap()
    }

    fn node(key: &str, master: Option<&str>, read_only: bool) -> TopologyInput {
        TopologyInput {
            key: k(key),
            master: master.map(k),
            read_only,
            listed_replicas: vec![],
            probed: true,
        }
    }

    #[test]
    fn master_with_replicas_and_a_chain_forms_one_cluster() {
        let t = Topology::build(&[
            node("m:1", None, false),
            node("r1:1", Some("m:1"), true),
            node("r2:1", Some("m:1"), true),
            node("c1:1", Some("r2:1"), true),
        ]);
        let clusters = t.clusters();
        assert_eq!(clusters.len(), 1);
        assert_eq!(
            clusters[&k("m:1")],
            vec![k("m:1"), k("r1:1"), k("r2:1"), k("c1:1")]
        );
        let c1 = t.placement(&k("c1:1")).unwrap();
        assert_eq!(c1.depth, 2);
        assert_eq!(c1.ancestry, vec![k("r2:1"), k("m:1")]);
        assert_eq!(
            t.placement(&k("m:1")).unwrap().replicas,
            vec![k("r1:1"), k("r2:1")]
        );
        assert!(t.is_descendant(&k("c1:1"), &k("m:1")));
        assert!(!t.is_descendant(&k("m:1"), &k("c1:1")));
    }

    #[test]
    fn co_masters_are_named_after_the_writable_side() {
        let t = Topology::build(&[
            node("a:1", Some("b:1"), true),
            node("b:1", Some("a:1"), false),
            node("r:1", Some("a:1"), true),
        ]);
        let a = t.placement(&k("a:1")).unwrap();
        let b = t.placement(&k("b:1")).unwrap();
        assert!(a.is_co_master && b.is_co_master);
        assert_eq!(a.cluster, k("b:1"));
        assert_eq!(b.depth, 0);
        assert_eq!(a.depth, 1);
        assert_eq!(t.placement(&k("r:1")).unwrap().depth, 2);
        assert_eq!(t.clusters().len(), 1);
    }

    #[test]
    fn read_only_co_masters_are_named_after_the_smaller_key() {
        let t = Topology::build(&[
            node("b:1", Some("a:1"), true),
            node("a:1", Some("b:1"), true),
        ]);
        assert_eq!(t.placement(&k("b:1")).unwrap().cluster, k("a:1"));
    }

    #[test]
    fn longer_loops_are_flagged_as_cycles() {
        let t = Topology::build(&[
            node("a:1", Some("c:1"), true),
            node("b:1", Some("a:1"), true),
            node("c:1", Some("b:1"), true),
            node("d:1", Some("b:1"), true),
        ]);
        for key in ["a:1", "b:1", "c:1"] {
            let p = t.placement(&k(key)).unwrap();
            assert!(p.in_cycle && !p.is_co_master, "{key}");
            assert_eq!(p.cluster, k("a:1"));
        }
        assert_eq!(t.placement(&k("b:1")).unwrap().depth, 1);
        assert_eq!(t.placement(&k("c:1")).unwrap().depth, 2);
        assert_eq!(t.placement(&k("d:1")).unwrap().depth, 2);
        assert!(!t.placement(&k("d:1")).unwrap().in_cycle);
    }

    #[test]
    fn unknown_master_makes_the_topmost_known_instance_the_root() {
        let t = Topology::build(&[
            node("r1:1", Some("gone:1"), true),
            node("c:1", Some("r1:1"), true),
        ]);
        let r1 = t.placement(&k("r1:1")).unwrap();
        assert_eq!(r1.cluster, k("r1:1"));
        assert_eq!(r1.master, Some(k("gone:1")));
        assert_eq!(t.placement(&k("c:1")).unwrap().cluster, k("r1:1"));
    }

    #[test]
    fn unprobed_replicas_hang_under_the_master_that_lists_them() {
        let mut m = node("m:1", None, false);
        m.listed_replicas = vec![k("r:1")];
        let r = TopologyInput {
            key: k("r:1"),
            master: None,
            read_only: false,
            listed_replicas: vec![],
            probed: false,
        };
        let t = Topology::build(&[m, r]);
        assert_eq!(t.placement(&k("r:1")).unwrap().cluster, k("m:1"));
        assert_eq!(t.placement(&k("r:1")).unwrap().depth, 1);
    }

    #[test]
    fn replicas_naming_their_master_by_address_find_its_identity() {
        use crate::snapshot::{InstanceData, InstanceSnapshot, ProbeOutcome, ReplicationStatus};
        use crate::time::Timestamp;
        let snap = |key: &str, master: Option<&str>| InstanceSnapshot {
            key: k(key),
            vantage: "p".into(),
            started_at: Timestamp(1),
            observed_at: Timestamp(1),
            outcome: ProbeOutcome::Ok,
            data: Some(InstanceData {
                replication: master.map(|m| ReplicationStatus {
                    master_host: k(m).hostname().to_string(),
                    master_port: k(m).port(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            one_off: false,
        };
        let mut master = InstanceState::new(k("db1:1"), Timestamp(0));
        master.address = Some(k("10.0.0.1:1"));
        master.apply(&snap("10.0.0.1:1", None));
        let mut replica = InstanceState::new(k("db2:1"), Timestamp(0));
        replica.apply(&snap("db2:1", Some("10.0.0.1:1")));
        let t = Topology::from_states([&master, &replica]);
        assert_eq!(t.placement(&k("db2:1")).unwrap().master, Some(k("db1:1")));
        assert_eq!(t.placement(&k("db1:1")).unwrap().replicas, vec![k("db2:1")]);
    }

    #[test]
    fn separate_masters_form_separate_clusters() {
        let t = Topology::build(&[
            node("m1:1", None, false),
            node("m2:1", None, false),
            node("r:1", Some("m2:1"), true),
        ]);
        let clusters = t.clusters();
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[&k("m2:1")], vec![k("m2:1"), k("r:1")]);
    }
}

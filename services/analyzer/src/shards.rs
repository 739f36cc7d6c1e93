//! Sharded analyzers: which clusters this analyzer holds.
//!
//! With `AnalyzerShardReplicas` above 0, analyzers divide the fleet by
//! cluster so that no process holds all of it. Every instance lives in one
//! of [`SHARD_BUCKETS`] buckets, and a whole cluster in one bucket; the
//! live analyzers divide the buckets by rendezvous hashing, `replicas`
//! holders per bucket. Probers publish an instance's snapshots on its
//! bucket's subject, so only its holders receive them.
//!
//! A bucket is a property of the instance, not of its cluster's name, so a
//! failover (which renames the cluster after its new master) moves nothing.
//! An instance starts in its [`home_bucket`]; one named by a held instance
//! (a replica or master it reports) starts in the bucket of the instance
//! that named it. Where two buckets meet in one cluster (two of its members
//! discovered apart), each holder moves its instance to the smallest bucket
//! among it, its master and its replicas: buckets only decrease, so every
//! cluster settles in one. Every analyzer derives the same buckets from the
//! store at start (the same rule over stored links), and learns the live
//! ones from its peers' registries.
//!
//! This module is the pure bookkeeping; the analyzer's loop does the IO.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use orc_bus::membership::{SHARD_BUCKETS, bucket_owners, home_bucket};
use orc_model::{InstanceKey, InstanceState};

/// How often a sharded analyzer announces itself.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);
/// A sharded analyzer silent this long is dead: its buckets move. One
/// whose bus connection closed (killed, crashed) is known dead sooner:
/// peers ask it every [`LIVENESS_EVERY`] whether it lives, and the bus
/// answers at once that nobody listens. Heartbeats go out from a task of
/// their own, so a busy analyzer does not fall silent.
pub const MEMBERSHIP_TTL: Duration = Duration::from_secs(3);
/// How often a sharded analyzer asks each peer whether it lives.
pub const LIVENESS_EVERY: Duration = Duration::from_millis(200);

/// The shard bookkeeping of one analyzer.
#[derive(Debug)]
pub struct Shards {
    me: String,
    /// Holders per bucket; 0: unsharded (every analyzer holds everything).
    replicas: usize,
    /// The live analyzers, this one included; `None` until the membership
    /// has been listened to long enough to divide the buckets (a starting
    /// analyzer must not claim them all at once).
    live: Option<Vec<String>>,
    /// Buckets held now.
    owned: BTreeSet<u32>,
    /// The bucket of every held instance, by identity.
    held: HashMap<InstanceKey, u32>,
    /// Peers' registries: probe address → bucket, with when received.
    peers: HashMap<String, (Instant, HashMap<InstanceKey, u32>)>,
    /// Buckets derived from the store at start (before peers are heard).
    stored: HashMap<InstanceKey, u32>,
}

/// What a change of membership did to the held buckets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rebalance {
    /// Buckets held now that were not.
    pub gained: Vec<u32>,
    /// Buckets no longer held.
    pub lost: Vec<u32>,
}

impl Shards {
    /// Bookkeeping for analyzer `me`, `replicas` holders per bucket (0:
    /// unsharded: every bucket held from the start).
    pub fn new(me: &str, replicas: usize) -> Self {
        let owned = if replicas == 0 {
            (0..SHARD_BUCKETS).collect()
        } else {
            BTreeSet::new()
        };
        Self {
            me: me.to_string(),
            replicas,
            live: None,
            owned,
            held: HashMap::new(),
            peers: HashMap::new(),
            stored: HashMap::new(),
        }
    }

    /// Whether analyzers divide the fleet.
    pub fn is_sharded(&self) -> bool {
        self.replicas > 0
    }

    /// Holders per bucket (0: unsharded).
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// Whether this analyzer holds `bucket`.
    pub fn owns(&self, bucket: u32) -> bool {
        self.owned.contains(&bucket)
    }

    /// Buckets held now.
    pub fn owned(&self) -> impl Iterator<Item = u32> + '_ {
        self.owned.iter().copied()
    }

    /// Derives every stored instance's bucket: each cluster (instances
    /// linked by master and replica links) in the smallest home bucket of
    /// its members. Every analyzer computes the same from the same store.
    pub fn derive_from_store<'a>(&mut self, states: impl IntoIterator<Item = &'a InstanceState>) {
        let states: Vec<&InstanceState> = states.into_iter().collect();
        let index: HashMap<&InstanceKey, usize> = states
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.key, i))
            .collect();
        let mut parent: Vec<usize> = (0..states.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for (i, s) in states.iter().enumerate() {
            let links = s
                .master_key()
                .into_iter()
                .chain(s.data.iter().flat_map(|d| d.replicas.iter().cloned()));
            for link in links {
                if let Some(&j) = index.get(&link) {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut bucket: HashMap<usize, u32> = HashMap::new();
        for (i, s) in states.iter().enumerate() {
            let r = root(&mut parent, i);
            let home = home_bucket(&s.key);
            bucket
                .entry(r)
                .and_modify(|b| *b = (*b).min(home))
                .or_insert(home);
        }
        for (i, s) in states.iter().enumerate() {
            let b = bucket[&root(&mut parent, i)];
            self.stored.insert(s.key.clone(), b);
            self.stored.insert(s.probe_address().clone(), b);
        }
    }

    /// The bucket of a held instance (by identity).
    pub fn held_bucket(&self, identity: &InstanceKey) -> Option<u32> {
        self.held.get(identity).copied()
    }

    /// Records that an instance is held, in `bucket`.
    pub fn hold(&mut self, identity: &InstanceKey, bucket: u32) {
        self.held.insert(identity.clone(), bucket);
    }

    /// Records that an instance is no longer held.
    pub fn release(&mut self, identity: &InstanceKey) {
        self.held.remove(identity);
    }

    /// Where a peer (or, failing that, the store) puts `key`.
    pub fn known_bucket(&self, key: &InstanceKey) -> Option<u32> {
        self.peers
            .values()
            .filter_map(|(at, keys)| keys.get(key).map(|b| (*at, *b)))
            .max_by_key(|(at, _)| *at)
            .map(|(_, b)| b)
            .or_else(|| self.stored.get(key).copied())
    }

    /// Whether a live peer's registry names `key` in a bucket this
    /// analyzer does not hold: the instance is someone else's.
    pub fn held_elsewhere(&self, key: &InstanceKey) -> bool {
        self.peers
            .values()
            .filter_map(|(at, keys)| keys.get(key).map(|b| (*at, *b)))
            .max_by_key(|(at, _)| *at)
            .is_some_and(|(_, b)| !self.owns(b))
    }

    /// The bucket a request about `key` belongs to: where it is held here,
    /// else where peers or the store put it, else its home bucket.
    pub fn route(&self, identity: &InstanceKey, address: &InstanceKey) -> u32 {
        self.held_bucket(identity)
            .or_else(|| self.known_bucket(address))
            .or_else(|| self.known_bucket(identity))
            .unwrap_or_else(|| home_bucket(address))
    }

    /// The bucket a newly known instance starts in: the store's or a
    /// peer's if they name it, else that of the instance that named it,
    /// else its home bucket.
    pub fn initial_bucket(&self, key: &InstanceKey, named_by: Option<&InstanceKey>) -> u32 {
        self.known_bucket(key)
            .or_else(|| named_by.and_then(|n| self.held_bucket(n)))
            .unwrap_or_else(|| home_bucket(key))
    }

    /// The bucket a held instance should move to: the smallest among its
    /// own, its master's and its replicas' (as held here or named by peers),
    /// when smaller than its own.
    pub fn settle(&self, state: &InstanceState) -> Option<u32> {
        let own = self.held_bucket(&state.key)?;
        let linked = state
            .master_key()
            .into_iter()
            .chain(state.data.iter().flat_map(|d| d.replicas.iter().cloned()))
            .filter_map(|k| self.held_bucket(&k).or_else(|| self.peer_bucket(&k)));
        linked.min().filter(|b| *b < own)
    }

    fn peer_bucket(&self, key: &InstanceKey) -> Option<u32> {
        self.peers
            .values()
            .filter_map(|(at, keys)| keys.get(key).map(|b| (*at, *b)))
            .max_by_key(|(at, _)| *at)
            .map(|(_, b)| b)
    }

    /// Takes a peer's registry in.
    pub fn peer_registry(
        &mut self,
        peer: &str,
        keys: impl IntoIterator<Item = (InstanceKey, u32)>,
        now: Instant,
    ) {
        if peer == self.me {
            return;
        }
        self.peers
            .insert(peer.to_string(), (now, keys.into_iter().collect()));
    }

    /// The live analyzers now (this one included).
    pub fn set_live(&mut self, live: Vec<String>) {
        self.live = Some(live);
    }

    /// Divides the buckets anew among the live analyzers.
    pub fn rebalance(&mut self) -> Rebalance {
        let (true, Some(live)) = (self.is_sharded(), self.live.as_ref()) else {
            return Rebalance::default();
        };
        let me = self.me.as_str();
        let now: BTreeSet<u32> = (0..SHARD_BUCKETS)
            .filter(|b| {
                bucket_owners(live.iter().map(String::as_str), *b, self.replicas).contains(&me)
            })
            .collect();
        let gained = now.difference(&self.owned).copied().collect();
        let lost = self.owned.difference(&now).copied().collect();
        self.owned = now;
        Rebalance { gained, lost }
    }

    /// Instances that live in `buckets` as peers' registries and the store
    /// name them, by probe address (the analyzer taking buckets over takes
    /// them in).
    pub fn instances_in(&self, buckets: &[u32]) -> Vec<(InstanceKey, u32)> {
        let wanted: HashSet<u32> = buckets.iter().copied().collect();
        let mut out: BTreeMap<InstanceKey, (Instant, u32)> = BTreeMap::new();
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        let sources = self
            .peers
            .values()
            .map(|(at, keys)| (*at, keys))
            .chain(std::iter::once((long_ago, &self.stored)));
        for (at, keys) in sources {
            for (k, b) in keys {
                let newer = out.get(k).is_none_or(|(seen, _)| at > *seen);
                if newer {
                    out.insert(k.clone(), (at, *b));
                }
            }
        }
        out.into_iter()
            .filter(|(_, (_, b))| wanted.contains(b))
            .map(|(k, (_, b))| (k, b))
            .collect()
    }

    /// Held instances in `buckets`, by identity.
    pub fn held_in(&self, buckets: &[u32]) -> Vec<InstanceKey> {
        self.held
            .iter()
            .filter(|(_, b)| buckets.contains(b))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Forgets registries of peers that left the membership.
    pub fn drop_departed_peers(&mut self) {
        let live: HashSet<&String> = self.live.iter().flatten().collect();
        self.peers.retain(|p, _| live.contains(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orc_model::Timestamp;

    fn key(n: u16) -> InstanceKey {
        InstanceKey::new("10.0.0.1", 3000 + n).unwrap()
    }

    fn state(
        k: &InstanceKey,
        master: Option<&InstanceKey>,
        replicas: &[InstanceKey],
    ) -> InstanceState {
        let mut s = InstanceState::new(k.clone(), Timestamp::from_millis(0));
        let mut d = orc_model::InstanceData {
            replicas: replicas.to_vec(),
            ..Default::default()
        };
        if let Some(m) = master {
            d.replication = Some(orc_model::ReplicationStatus {
                master_host: m.hostname().to_string(),
                master_port: m.port(),
                ..Default::default()
            });
        }
        s.data = Some(d);
        s
    }

    #[test]
    fn unsharded_analyzers_hold_every_bucket_from_the_start() {
        let mut s = Shards::new("a", 0);
        assert!(!s.is_sharded());
        assert!((0..SHARD_BUCKETS).all(|b| s.owns(b)));
        assert_eq!(s.rebalance(), Rebalance::default());
    }

    fn live(members: &[&str]) -> Vec<String> {
        members.iter().map(|m| (*m).to_string()).collect()
    }

    #[test]
    fn sharded_analyzers_divide_the_buckets_and_take_a_dead_ones() {
        let mut a = Shards::new("a", 1);
        let mut b = Shards::new("b", 1);
        // Nothing is claimed before the membership is known.
        assert!(a.rebalance().gained.is_empty());
        a.set_live(live(&["a", "b"]));
        b.set_live(live(&["a", "b"]));
        let (ra, rb) = (a.rebalance(), b.rebalance());
        assert_eq!(ra.gained.len() + rb.gained.len(), SHARD_BUCKETS as usize);
        assert!(!ra.gained.is_empty() && !rb.gained.is_empty());
        assert!((0..SHARD_BUCKETS).all(|x| a.owns(x) != b.owns(x)));
        // b dies: a holds everything, gaining exactly b's buckets.
        a.set_live(live(&["a"]));
        let r = a.rebalance();
        assert_eq!(r.gained, rb.gained);
        assert!(r.lost.is_empty());
        assert!((0..SHARD_BUCKETS).all(|x| a.owns(x)));
        // b comes back: a gives exactly b's buckets back.
        a.set_live(live(&["a", "b"]));
        assert_eq!(a.rebalance().lost, rb.gained);
    }

    #[test]
    fn two_replicas_per_bucket_on_three_analyzers_hold_each_bucket_twice() {
        let mut all: Vec<Shards> = ["a", "b", "c"].iter().map(|m| Shards::new(m, 2)).collect();
        for s in &mut all {
            s.set_live(live(&["a", "b", "c"]));
            s.rebalance();
        }
        for bucket in 0..SHARD_BUCKETS {
            assert_eq!(
                all.iter().filter(|s| s.owns(bucket)).count(),
                2,
                "bucket {bucket}"
            );
        }
    }

    #[test]
    fn the_store_puts_each_cluster_in_one_bucket_whatever_its_members_homes() {
        let (m, r1, r2, other) = (key(1), key(2), key(3), key(9));
        // r2 names its master only; the master names r1 only.
        let states = [
            state(&m, None, std::slice::from_ref(&r1)),
            state(&r1, Some(&m), &[]),
            state(&r2, Some(&m), &[]),
            state(&other, None, &[]),
        ];
        let mut s = Shards::new("a", 1);
        s.derive_from_store(states.iter());
        let expected = [&m, &r1, &r2].iter().map(|k| home_bucket(k)).min().unwrap();
        for k in [&m, &r1, &r2] {
            assert_eq!(s.known_bucket(k), Some(expected), "{k}");
        }
        assert_eq!(s.known_bucket(&other), Some(home_bucket(&other)));
    }

    #[test]
    fn an_instance_moves_to_the_smallest_bucket_of_its_links_only() {
        let (m, r) = (key(1), key(2));
        let mut s = Shards::new("a", 1);
        s.hold(&m, 7);
        s.hold(&r, 3);
        // The master sees its replica in a smaller bucket: it moves there.
        assert_eq!(
            s.settle(&state(&m, None, std::slice::from_ref(&r))),
            Some(3)
        );
        // The replica's master is in a larger bucket: the replica stays.
        assert_eq!(s.settle(&state(&r, Some(&m), &[])), None);
        // A link only a peer holds counts too.
        let far = key(5);
        s.peer_registry("b", [(far.clone(), 1)], Instant::now());
        assert_eq!(s.settle(&state(&r, Some(&far), &[])), Some(1));
        assert!(s.held_elsewhere(&far));
        assert!(!s.held_elsewhere(&m));
    }

    #[test]
    fn a_new_instance_starts_in_the_bucket_of_the_one_that_named_it() {
        let (m, r) = (key(1), key(2));
        let mut s = Shards::new("a", 1);
        s.hold(&m, 11);
        assert_eq!(s.initial_bucket(&r, Some(&m)), 11);
        assert_eq!(s.initial_bucket(&r, None), home_bucket(&r));
        s.peer_registry("b", [(r.clone(), 4)], Instant::now());
        assert_eq!(s.initial_bucket(&r, Some(&m)), 4);
    }

    #[test]
    fn taking_buckets_over_finds_their_instances_in_peers_registries_and_the_store() {
        let (x, y, z) = (key(1), key(2), key(3));
        let mut s = Shards::new("a", 1);
        s.derive_from_store([state(&z, None, &[])].iter());
        s.peer_registry("b", [(x.clone(), 5), (y.clone(), 6)], Instant::now());
        let zb = home_bucket(&z);
        let mut found = s.instances_in(&[5, zb]);
        found.sort();
        let mut want = vec![(x, 5), (z, zb)];
        want.sort();
        assert_eq!(found, want);
    }
}

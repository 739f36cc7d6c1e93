//! Who the live members of a role are (probers, sharded analyzers), and
//! which of them owns an instance or a shard.
//!
//! Ownership is rendezvous (highest random weight) hashing over the live
//! members: every member computes the same owner from the same membership,
//! and when a member dies only what it owned moves.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use orc_model::InstanceKey;

/// FNV-1a, 64-bit: stable across processes, versions and platforms.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Final avalanche (splitmix64) so nearby inputs spread.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The weight of `member` for `key`; the highest weight owns the key.
pub fn weight(member: &str, key: &InstanceKey) -> u64 {
    let key = key.to_string();
    fnv1a(&[member.as_bytes(), key.as_bytes()])
}

/// The owner of `key` among `members` (none when empty).
pub fn owner<'a>(members: impl IntoIterator<Item = &'a str>, key: &InstanceKey) -> Option<&'a str> {
    members
        .into_iter()
        .max_by_key(|m| (weight(m, key), std::cmp::Reverse(*m)))
}

/// The `k` owners of `key` among `members` (the highest weights).
pub fn owners<'a>(
    members: impl IntoIterator<Item = &'a str>,
    key: &InstanceKey,
    k: usize,
) -> Vec<&'a str> {
    let mut ranked: Vec<(u64, std::cmp::Reverse<&str>)> = members
        .into_iter()
        .map(|m| (weight(m, key), std::cmp::Reverse(m)))
        .collect();
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    ranked.into_iter().take(k).map(|(_, m)| m.0).collect()
}

/// Shard buckets: an instance's snapshots travel on its bucket's subject,
/// and sharded analyzers divide the buckets among themselves. A cluster
/// lives in one bucket (see the analyzer's shards).
pub const SHARD_BUCKETS: u32 = 64;

/// The bucket an instance starts in when nothing links it to a cluster.
pub fn home_bucket(key: &InstanceKey) -> u32 {
    let key = key.to_string();
    let h = fnv1a(&[b"home", key.as_bytes()]);
    u32::try_from(h % u64::from(SHARD_BUCKETS)).unwrap_or(0)
}

/// The weight of `member` for shard bucket `bucket`.
pub fn bucket_weight(member: &str, bucket: u32) -> u64 {
    fnv1a(&[b"bucket", member.as_bytes(), &bucket.to_be_bytes()])
}

/// The `k` owners of shard bucket `bucket` among `members` (the highest
/// weights), best first.
pub fn bucket_owners<'a>(
    members: impl IntoIterator<Item = &'a str>,
    bucket: u32,
    k: usize,
) -> Vec<&'a str> {
    let mut ranked: Vec<(u64, std::cmp::Reverse<&str>)> = members
        .into_iter()
        .map(|m| (bucket_weight(m, bucket), std::cmp::Reverse(m)))
        .collect();
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    ranked.into_iter().take(k).map(|(_, m)| m.0).collect()
}

/// Membership as seen by one member.
#[derive(Debug)]
pub struct Membership {
    me: String,
    expiry: BTreeMap<String, Instant>,
    /// Members whose death the bus reported, with when their heartbeats
    /// count again (a heartbeat still in flight must not revive them).
    departed: BTreeMap<String, Instant>,
    /// Members that answer liveness requests.
    answering: std::collections::BTreeSet<String>,
}

/// What a prober is to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// One of its owners: probes it.
    Owner,
    /// The next in rank after the owners: keeps a connection open to it,
    /// so that it probes at once when an owner dies.
    Standby,
}

impl Membership {
    /// A view that knows only `me`.
    pub fn new(me: &str) -> Self {
        Self {
            me: me.to_string(),
            expiry: BTreeMap::new(),
            departed: BTreeMap::new(),
            answering: std::collections::BTreeSet::new(),
        }
    }

    /// Records a heartbeat; `leaving` removes the member at once. Returns
    /// whether the live set may have changed.
    pub fn observe(&mut self, member: &str, ttl: Duration, leaving: bool, now: Instant) -> bool {
        if member == self.me {
            return false;
        }
        if leaving {
            self.answering.remove(member);
            return self.expiry.remove(member).is_some();
        }
        if self.departed.get(member).is_some_and(|until| *until > now) {
            return false;
        }
        self.departed.remove(member);
        self.expiry.insert(member.to_string(), now + ttl).is_none()
    }

    /// Records whether `member` answers liveness requests (from its
    /// heartbeat).
    pub fn set_answering(&mut self, member: &str, answers: bool) {
        if member == self.me {
            return;
        }
        if answers {
            self.answering.insert(member.to_string());
        } else {
            self.answering.remove(member);
        }
    }

    /// Live peers that answer liveness requests.
    pub fn answering_peers(&self) -> Vec<String> {
        self.answering
            .iter()
            .filter(|m| self.expiry.contains_key(*m))
            .cloned()
            .collect()
    }

    /// The bus says `member` is gone (nobody answers on its liveness
    /// subject): it leaves at once, and its heartbeats are ignored for
    /// `quarantine` (one still in flight must not bring it back). A member
    /// that was only cut off from the bus comes back with its next
    /// heartbeat after that. Returns whether the live set changed.
    pub fn depart(&mut self, member: &str, quarantine: Duration, now: Instant) -> bool {
        if member == self.me {
            return false;
        }
        self.departed.insert(member.to_string(), now + quarantine);
        self.answering.remove(member);
        self.expiry.remove(member).is_some()
    }

    /// Drops members whose TTL passed; returns whether any did.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.expiry.len();
        self.expiry.retain(|_, until| *until > now);
        self.departed.retain(|_, until| *until > now);
        let expiry = &self.expiry;
        self.answering.retain(|m| expiry.contains_key(m));
        before != self.expiry.len()
    }

    /// My role for `key` among the live members `live` (from [`live`]),
    /// with `k` owners per instance; `None` when I neither own it nor
    /// stand by for it.
    ///
    /// [`live`]: Membership::live
    pub fn role(&self, live: &[&str], key: &InstanceKey, k: usize) -> Option<Role> {
        let k = k.max(1);
        let ranked = owners(live.iter().copied(), key, k + 1);
        let rank = ranked.iter().position(|m| *m == self.me)?;
        Some(if rank < k { Role::Owner } else { Role::Standby })
    }

    /// Live members, me included, sorted.
    pub fn live(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.expiry.keys().map(String::as_str).collect();
        v.push(&self.me);
        v.sort_unstable();
        v
    }

    /// Whether I own `key`.
    pub fn owns(&self, key: &InstanceKey) -> bool {
        owner(self.live(), key) == Some(self.me.as_str())
    }

    /// Whether I am one of the `k` owners of `key` (several vantage points).
    pub fn owns_among(&self, key: &InstanceKey, k: usize) -> bool {
        owners(self.live(), key, k.max(1)).contains(&self.me.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u16) -> Vec<InstanceKey> {
        (0..n)
            .map(|i| InstanceKey::new("10.0.0.1", 3000 + i).unwrap())
            .collect()
    }

    #[test]
    fn every_member_computes_the_same_owner() {
        for key in keys(50) {
            let a = owner(["p1", "p2", "p3"], &key);
            let b = owner(["p3", "p1", "p2"], &key);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn load_spreads_across_members() {
        let members = ["p1", "p2", "p3"];
        let mut counts = BTreeMap::new();
        for key in keys(3000) {
            *counts.entry(owner(members, &key).unwrap()).or_insert(0) += 1;
        }
        for m in members {
            let c = counts[m];
            assert!((800..1200).contains(&c), "{m} owns {c} of 3000");
        }
    }

    #[test]
    fn a_dead_members_instances_move_and_only_those() {
        for key in keys(500) {
            let before = owner(["p1", "p2", "p3"], &key).unwrap();
            let after = owner(["p1", "p3"], &key).unwrap();
            if before != "p2" {
                assert_eq!(before, after, "{key} moved although its owner lives");
            }
        }
    }

    #[test]
    fn k_owners_start_with_the_single_owner_and_differ() {
        for key in keys(200) {
            let three = owners(["p1", "p2", "p3", "p4"], &key, 3);
            assert_eq!(three.len(), 3);
            assert_eq!(Some(three[0]), owner(["p1", "p2", "p3", "p4"], &key));
            let mut distinct = three.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), 3);
        }
        assert_eq!(owners(["p1"], &keys(1)[0], 3), vec!["p1"]);
    }

    #[test]
    fn the_standby_of_an_instance_owns_it_when_its_owner_goes() {
        let now = Instant::now();
        let mut views: Vec<Membership> = ["p1", "p2", "p3"]
            .iter()
            .map(|me| {
                let mut m = Membership::new(me);
                for peer in ["p1", "p2", "p3"] {
                    m.observe(peer, Duration::from_secs(2), false, now);
                }
                m
            })
            .collect();
        let live = views[0]
            .live()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>();
        let live: Vec<&str> = live.iter().map(String::as_str).collect();
        for key in keys(300) {
            let roles: Vec<Option<Role>> = views.iter().map(|v| v.role(&live, &key, 1)).collect();
            assert_eq!(roles.iter().filter(|r| **r == Some(Role::Owner)).count(), 1);
            assert_eq!(
                roles.iter().filter(|r| **r == Some(Role::Standby)).count(),
                1
            );
            let owner = roles.iter().position(|r| *r == Some(Role::Owner)).unwrap();
            let standby = roles
                .iter()
                .position(|r| *r == Some(Role::Standby))
                .unwrap();
            // The owner dies: the standby, and no one else, owns the key.
            let survivors: Vec<&str> = live.iter().copied().filter(|m| *m != live[owner]).collect();
            for (i, v) in views.iter_mut().enumerate() {
                if i == owner {
                    continue;
                }
                let role = v.role(&survivors, &key, 1);
                assert_eq!(role == Some(Role::Owner), i == standby, "{key}");
            }
        }
    }

    #[test]
    fn a_departed_member_stays_out_until_its_quarantine_ends() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(2);
        let mut m = Membership::new("me");
        m.observe("p2", ttl, false, t0);
        m.set_answering("p2", true);
        assert_eq!(m.answering_peers(), vec!["p2".to_string()]);
        assert!(m.depart("p2", Duration::from_secs(1), t0));
        assert_eq!(m.live(), vec!["me"]);
        assert!(m.answering_peers().is_empty());
        // A heartbeat sent before its death arrives late: ignored.
        assert!(!m.observe("p2", ttl, false, t0 + Duration::from_millis(10)));
        assert_eq!(m.live(), vec!["me"]);
        // It was only cut off from the bus: back with its next heartbeat.
        assert!(m.observe("p2", ttl, false, t0 + Duration::from_millis(1100)));
        assert_eq!(m.live(), vec!["me", "p2"]);
        assert!(!m.depart("me", Duration::from_secs(1), t0));
    }

    #[test]
    fn silent_members_expire_and_leaving_ones_go_at_once() {
        let t0 = Instant::now();
        let mut m = Membership::new("me");
        assert!(m.observe("p2", Duration::from_secs(2), false, t0));
        assert!(m.observe("p3", Duration::from_secs(2), false, t0));
        assert_eq!(m.live(), vec!["me", "p2", "p3"]);
        assert!(m.observe("p3", Duration::from_secs(2), true, t0));
        assert_eq!(m.live(), vec!["me", "p2"]);
        assert!(!m.expire(t0 + Duration::from_secs(1)));
        assert!(m.expire(t0 + Duration::from_secs(3)));
        assert_eq!(m.live(), vec!["me"]);
        assert!(
            keys(20).iter().all(|k| m.owns(k)),
            "alone, I own everything"
        );
    }
}

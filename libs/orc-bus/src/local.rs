//! The in-process bus: subjects, wildcards, queue groups and request/reply
//! with the same semantics as NATS core, over bounded tokio channels.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{Bus, Error, Message, Subscription, SubscriptionInner, subject_matches};

/// Messages a slow subscriber may have pending before new ones are dropped
/// (NATS drops for slow consumers too).
const CAPACITY: usize = 16_384;

struct Sub {
    pattern: String,
    group: Option<String>,
    tx: mpsc::Sender<Message>,
}

#[derive(Default)]
struct Registry {
    subs: Vec<Sub>,
    round_robin: u64,
    streams: std::collections::HashMap<&'static str, LocalStream>,
    leases: std::collections::HashMap<(&'static str, String), (String, u64, std::time::Instant)>,
    lease_revision: u64,
    kv: std::collections::HashMap<(String, String), (Bytes, u64)>,
    kv_revision: u64,
}

/// A durable stream kept in memory (the all-in-one mode has no restart to survive).
#[derive(Default)]
struct LocalStream {
    log: std::collections::VecDeque<(std::time::Instant, Message)>,
    ids: std::collections::HashMap<String, std::time::Instant>,
    followers: Vec<mpsc::Sender<Message>>,
}

/// An in-process bus. Clones share the same subscribers.
#[derive(Clone, Default)]
pub struct LocalBus {
    registry: Arc<Mutex<Registry>>,
    inbox: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBus").finish()
    }
}

impl LocalBus {
    /// A bus with no subscriber.
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages dropped because a subscriber was too slow.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn add(&self, pattern: &str, group: Option<&str>) -> Subscription {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        reg.subs.retain(|s| !s.tx.is_closed());
        reg.subs.push(Sub {
            pattern: pattern.to_string(),
            group: group.map(str::to_string),
            tx,
        });
        Subscription {
            inner: SubscriptionInner::Local(rx),
        }
    }

    /// Delivers a message; returns how many subscribers got it.
    fn deliver(&self, msg: Message) -> usize {
        let mut targets: Vec<mpsc::Sender<Message>> = Vec::new();
        {
            let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
            reg.subs.retain(|s| !s.tx.is_closed());
            let mut groups: Vec<(&str, Vec<&mpsc::Sender<Message>>)> = Vec::new();
            for s in reg
                .subs
                .iter()
                .filter(|s| subject_matches(&s.pattern, &msg.subject))
            {
                match &s.group {
                    None => targets.push(s.tx.clone()),
                    Some(g) => match groups.iter_mut().find(|(name, _)| *name == g.as_str()) {
                        Some((_, members)) => members.push(&s.tx),
                        None => groups.push((g.as_str(), vec![&s.tx])),
                    },
                }
            }
            let turn = reg.round_robin;
            for (_, members) in &groups {
                let idx = usize::try_from(turn % members.len() as u64).unwrap_or(0);
                targets.push(members[idx].clone());
            }
            if !groups.is_empty() {
                reg.round_robin = reg.round_robin.wrapping_add(1);
            }
        }
        let n = targets.len();
        for tx in targets {
            if tx.try_send(msg.clone()).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        n
    }
}

#[async_trait::async_trait]
impl Bus for LocalBus {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), Error> {
        self.deliver(Message {
            subject: subject.to_string(),
            reply: None,
            payload,
            trace: Vec::new(),
        });
        Ok(())
    }

    async fn subscribe(&self, subject: &str) -> Result<Subscription, Error> {
        Ok(self.add(subject, None))
    }

    async fn queue_subscribe(&self, subject: &str, group: &str) -> Result<Subscription, Error> {
        Ok(self.add(subject, Some(group)))
    }

    async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        let inbox = format!(
            "_INBOX.local.{}",
            self.inbox.fetch_add(1, Ordering::Relaxed)
        );
        let mut replies = self.add(&inbox, None);
        let delivered = self.deliver(Message {
            subject: subject.to_string(),
            reply: Some(inbox),
            payload,
            trace: crate::current_trace(),
        });
        if delivered == 0 {
            return Err(Error::NoResponders {
                subject: subject.to_string(),
            });
        }
        match tokio::time::timeout(timeout, replies.next()).await {
            Ok(Some(m)) => Ok(m.payload),
            Ok(None) => Err(Error::Request {
                subject: subject.to_string(),
                reason: "bus closed".into(),
            }),
            Err(_) => Err(Error::Timeout {
                subject: subject.to_string(),
                after: timeout,
            }),
        }
    }

    async fn flush(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<(Bytes, u64)>, Error> {
        let reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        Ok(reg.kv.get(&(bucket.to_string(), key.to_string())).cloned())
    }

    async fn kv_swap(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
        expected: Option<u64>,
    ) -> Result<Option<u64>, Error> {
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (bucket.to_string(), key.to_string());
        if reg.kv.get(&slot).map(|(_, rev)| *rev) != expected {
            return Ok(None);
        }
        reg.kv_revision += 1;
        let revision = reg.kv_revision;
        reg.kv.insert(slot, (value, revision));
        Ok(Some(revision))
    }

    async fn publish_durable(
        &self,
        stream: &crate::StreamSpec,
        subject: &str,
        id: &str,
        payload: Bytes,
    ) -> Result<bool, Error> {
        let now = std::time::Instant::now();
        let msg = Message {
            subject: subject.to_string(),
            reply: None,
            payload,
            trace: crate::current_trace(),
        };
        let followers = {
            let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
            let st = reg.streams.entry(stream.name).or_default();
            st.ids
                .retain(|_, at| now.duration_since(*at) < stream.duplicate_window);
            while st
                .log
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > stream.max_age)
            {
                st.log.pop_front();
            }
            if st.ids.contains_key(id) {
                return Ok(false);
            }
            st.ids.insert(id.to_string(), now);
            st.log.push_back((now, msg.clone()));
            st.followers.retain(|f| !f.is_closed());
            st.followers.clone()
        };
        for f in followers {
            if f.try_send(msg.clone()).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.deliver(msg);
        Ok(true)
    }

    async fn lease_acquire(
        &self,
        spec: &crate::LeaseSpec,
        name: &str,
        holder: &str,
    ) -> Result<Option<crate::Lease>, Error> {
        let now = std::time::Instant::now();
        let key = crate::lease_key(name);
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (spec.bucket, key.clone());
        if reg
            .leases
            .get(&slot)
            .is_some_and(|(_, _, until)| *until > now)
        {
            return Ok(None);
        }
        reg.lease_revision += 1;
        let revision = reg.lease_revision;
        reg.leases
            .insert(slot, (holder.to_string(), revision, now + spec.ttl));
        Ok(Some(crate::Lease {
            bucket: spec.bucket,
            name: key,
            holder: holder.to_string(),
            revision,
        }))
    }

    async fn lease_renew(
        &self,
        spec: &crate::LeaseSpec,
        lease: &crate::Lease,
    ) -> Result<crate::Lease, Error> {
        let now = std::time::Instant::now();
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (spec.bucket, lease.name.clone());
        let held = reg.leases.get(&slot).is_some_and(|(h, rev, until)| {
            *h == lease.holder && *rev == lease.revision && *until > now
        });
        if !held {
            return Err(Error::LeaseLost {
                bucket: spec.bucket.into(),
                name: lease.name.clone(),
                holder: lease.holder.clone(),
            });
        }
        reg.lease_revision += 1;
        let revision = reg.lease_revision;
        reg.leases
            .insert(slot, (lease.holder.clone(), revision, now + spec.ttl));
        Ok(crate::Lease {
            revision,
            ..lease.clone()
        })
    }

    async fn lease_holder(
        &self,
        spec: &crate::LeaseSpec,
        name: &str,
    ) -> Result<Option<String>, Error> {
        let now = std::time::Instant::now();
        let reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        Ok(reg
            .leases
            .get(&(spec.bucket, crate::lease_key(name)))
            .filter(|(_, _, until)| *until > now)
            .map(|(holder, _, _)| holder.clone()))
    }

    async fn lease_release(
        &self,
        spec: &crate::LeaseSpec,
        lease: &crate::Lease,
    ) -> Result<(), Error> {
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (spec.bucket, lease.name.clone());
        if reg
            .leases
            .get(&slot)
            .is_some_and(|(h, rev, _)| *h == lease.holder && *rev == lease.revision)
        {
            reg.leases.remove(&slot);
        }
        Ok(())
    }

    async fn follow_durable(
        &self,
        stream: &crate::StreamSpec,
        start: crate::StartAt,
    ) -> Result<Subscription, Error> {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let st = reg.streams.entry(stream.name).or_default();
        if start == crate::StartAt::All {
            for (_, m) in &st.log {
                let _ = tx.try_send(m.clone());
            }
        }
        st.followers.push(tx);
        Ok(Subscription {
            inner: SubscriptionInner::Local(rx),
        })
    }
}

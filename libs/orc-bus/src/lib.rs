//! The message bus of orchestrator-rs; the only crate that names `async-nats`.
//!
//! Services talk to each other only through a [`Bus`]: publish/subscribe for
//! snapshots and events, queue groups for work shared among replicas of a
//! role, request/reply for commands. Two implementations pass one contract
//! test suite (`tests/contract.rs`): [`LocalBus`], in-process, for the
//! all-in-one mode and service tests, and [`NatsBus`] for distributed
//! deployments. Payloads are bytes; [`encode`]/[`decode`] carry protobuf
//! messages from `orc-proto`. Subject names live in [`subjects`].

mod local;
pub mod membership;
mod nats;
pub mod subjects;

use std::time::Duration;

use bytes::Bytes;

pub use local::LocalBus;
pub use nats::NatsBus;

/// One message received from the bus.
#[derive(Debug, Clone)]
pub struct Message {
    /// The subject it was published on.
    pub subject: String,
    /// Where to send a reply, for requests.
    pub reply: Option<String>,
    /// The payload.
    pub payload: Bytes,
    /// The sender's trace context (`traceparent`, `tracestate`), carried in
    /// NATS headers; empty when the sender exported no trace.
    pub trace: Vec<(String, String)>,
}

impl Message {
    /// The trace context as pairs for `orc_telemetry::propagation::set_parent`.
    pub fn trace_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.trace.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The current span's trace context (sent with durable messages and
/// requests).
fn current_trace() -> Vec<(String, String)> {
    orc_telemetry::propagation::current_context()
}

/// The trace context among NATS headers.
fn trace_of(headers: Option<&async_nats::HeaderMap>) -> Vec<(String, String)> {
    let Some(h) = headers else {
        return Vec::new();
    };
    [
        orc_telemetry::propagation::TRACEPARENT,
        orc_telemetry::propagation::TRACESTATE,
    ]
    .into_iter()
    .filter_map(|k| h.get(k).map(|v| (k.to_string(), v.as_str().to_string())))
    .collect()
}

/// A stream of messages; dropping it unsubscribes.
pub struct Subscription {
    inner: SubscriptionInner,
}

enum SubscriptionInner {
    Local(tokio::sync::mpsc::Receiver<Message>),
    Nats(async_nats::Subscriber),
    Durable(Box<nats::Durable>),
}

/// The shape of a durable stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpec {
    /// Stream name (JetStream's).
    pub name: &'static str,
    /// Subjects it captures.
    pub subjects: &'static [&'static str],
    /// How long messages are kept.
    pub max_age: Duration,
    /// Within this window, a second message with the same id is dropped.
    pub duplicate_window: Duration,
}

/// A family of leases: exclusive, expiring ownership of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSpec {
    /// Bucket name (JetStream KV bucket).
    pub bucket: &'static str,
    /// A lease not renewed within this time lapses.
    pub ttl: Duration,
}

/// A lease held: its revision is the fencing token (it grows with every
/// renewal, and a holder that lost the lease cannot renew it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Bucket.
    pub bucket: &'static str,
    /// Name leased (sanitized for the bus).
    pub name: String,
    /// Who holds it.
    pub holder: String,
    /// Revision of the last acquire or renewal.
    pub revision: u64,
}

/// Turns any name (a cluster's `host:port`) into a valid lease key.
pub fn lease_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where a follower of a durable stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Only messages stored from now on.
    New,
    /// Every message still kept.
    All,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

impl Subscription {
    /// The next message, or `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<Message> {
        match &mut self.inner {
            SubscriptionInner::Local(rx) => rx.recv().await,
            SubscriptionInner::Nats(sub) => {
                use futures_util::StreamExt as _;
                sub.next().await.map(|m| Message {
                    subject: m.subject.to_string(),
                    reply: m.reply.map(|r| r.to_string()),
                    trace: trace_of(m.headers.as_ref()),
                    payload: m.payload,
                })
            }
            SubscriptionInner::Durable(durable) => durable.next().await,
        }
    }
}

/// What can go wrong on the bus.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Could not reach the bus.
    #[error("connecting to the bus at {url}: {reason}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// A publish failed.
    #[error("publishing on {subject}: {reason}")]
    Publish {
        /// Subject.
        subject: String,
        /// Why.
        reason: String,
    },
    /// A subscription failed.
    #[error("subscribing to {subject}: {reason}")]
    Subscribe {
        /// Subject.
        subject: String,
        /// Why.
        reason: String,
    },
    /// Nobody listens on the request's subject.
    #[error("no service answers on {subject}")]
    NoResponders {
        /// Subject.
        subject: String,
    },
    /// The request got no answer in time.
    #[error("no answer on {subject} within {after:?}")]
    Timeout {
        /// Subject.
        subject: String,
        /// Bound.
        after: Duration,
    },
    /// A request failed otherwise.
    #[error("request on {subject}: {reason}")]
    Request {
        /// Subject.
        subject: String,
        /// Why.
        reason: String,
    },
    /// A lease is no longer held.
    #[error("lease {name} in {bucket} is no longer held by {holder}")]
    LeaseLost {
        /// Bucket.
        bucket: String,
        /// Name.
        name: String,
        /// The former holder.
        holder: String,
    },
    /// A lease operation failed.
    #[error("lease {name} in {bucket}: {reason}")]
    Lease {
        /// Bucket.
        bucket: String,
        /// Name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A payload did not decode.
    #[error("decoding a message on {subject}: {reason}")]
    Decode {
        /// Subject.
        subject: String,
        /// Why.
        reason: String,
    },
}

/// The bus every service uses.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes to every subscriber (and one member of each queue group).
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), Error>;

    /// Subscribes to a subject; `*` matches one token, `>` the rest.
    async fn subscribe(&self, subject: &str) -> Result<Subscription, Error>;

    /// Subscribes as a member of `group`: each message goes to one member.
    async fn queue_subscribe(&self, subject: &str, group: &str) -> Result<Subscription, Error>;

    /// Sends a request and waits for the first reply.
    async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, Error>;

    /// Waits until the bus has processed everything this handle published
    /// or subscribed so far (a barrier).
    async fn flush(&self) -> Result<(), Error>;

    /// Appends to a durable stream (kept across restarts with NATS),
    /// dropping a message whose `id` was already stored within the
    /// stream's duplicate window. Returns whether it was stored.
    async fn publish_durable(
        &self,
        stream: &StreamSpec,
        subject: &str,
        id: &str,
        payload: Bytes,
    ) -> Result<bool, Error>;

    /// Takes a lease on `name` for `holder` if nobody holds it; `None` when
    /// someone does. Atomic across every process on the bus.
    async fn lease_acquire(
        &self,
        spec: &LeaseSpec,
        name: &str,
        holder: &str,
    ) -> Result<Option<Lease>, Error>;

    /// Renews a held lease (compare-and-swap on its revision); fails with
    /// [`Error::LeaseLost`] when it lapsed or someone else holds it now.
    async fn lease_renew(&self, spec: &LeaseSpec, lease: &Lease) -> Result<Lease, Error>;

    /// Gives a lease up (only if still held with this revision).
    async fn lease_release(&self, spec: &LeaseSpec, lease: &Lease) -> Result<(), Error>;

    /// Who holds the lease on `name` now (`None`: nobody).
    async fn lease_holder(&self, spec: &LeaseSpec, name: &str) -> Result<Option<String>, Error>;

    /// A key's value and revision in the key-value bucket `bucket` (created
    /// when missing, kept for ever, replicated like every stream); `None`
    /// when the key holds nothing.
    async fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<(Bytes, u64)>, Error>;

    /// Writes `value` at `key` only if the key's revision is still
    /// `expected` (`None`: the key must hold nothing): the new revision, or
    /// `None` when another writer came first.
    async fn kv_swap(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
        expected: Option<u64>,
    ) -> Result<Option<u64>, Error>;

    /// Follows a durable stream: every stored message, each once, in order.
    async fn follow_durable(
        &self,
        stream: &StreamSpec,
        start: StartAt,
    ) -> Result<Subscription, Error>;

    /// Answers a request.
    async fn respond(&self, request: &Message, payload: Bytes) -> Result<(), Error> {
        match &request.reply {
            Some(reply) => self.publish(reply, payload).await,
            None => Ok(()),
        }
    }
}

/// Sends a request, retrying while nobody answers on the subject for up to
/// `patience` (a service may be starting or restarting), then waits for the
/// reply up to `timeout`.
pub async fn request_patiently(
    bus: &dyn Bus,
    subject: &str,
    payload: Bytes,
    timeout: Duration,
    patience: Duration,
) -> Result<Bytes, Error> {
    let started = tokio::time::Instant::now();
    loop {
        match bus.request(subject, payload.clone(), timeout).await {
            Err(Error::NoResponders { .. }) if started.elapsed() < patience => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// Encodes a protobuf message for the bus.
pub fn encode<M: prost::Message>(msg: &M) -> Bytes {
    Bytes::from(msg.encode_to_vec())
}

/// Decodes a protobuf message received on `subject`.
pub fn decode<M: prost::Message + Default>(subject: &str, payload: &[u8]) -> Result<M, Error> {
    M::decode(payload).map_err(|e| Error::Decode {
        subject: subject.to_string(),
        reason: e.to_string(),
    })
}

/// Whether `subject` matches `pattern` (`*` one token, `>` one or more trailing tokens).
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subject_matches;

    #[test]
    fn wildcards_match_like_nats() {
        assert!(subject_matches("orc.snapshot", "orc.snapshot"));
        assert!(subject_matches("orc.*", "orc.snapshot"));
        assert!(!subject_matches("orc.*", "orc.snapshot.x"));
        assert!(subject_matches("orc.>", "orc.snapshot.x"));
        assert!(!subject_matches("orc.>", "orc"));
        assert!(!subject_matches("orc.a", "orc.b"));
        assert!(!subject_matches("orc.a.b", "orc.a"));
    }
}

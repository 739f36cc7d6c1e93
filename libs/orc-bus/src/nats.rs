//! The bus over NATS core (and, for durable streams and leases, JetStream).

use std::time::Duration;

use async_nats::RequestErrorKind;
use bytes::Bytes;
use orc_runtime::tls::ClientTls;

use crate::{Bus, Error, Lease, LeaseSpec, StartAt, StreamSpec, Subscription, SubscriptionInner};

/// A NATS connection shared by a process's services.
#[derive(Clone, Debug)]
pub struct NatsBus {
    client: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    streams: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<&'static str>>>,
    /// Whether the server sends this connection its own messages.
    echo: bool,
    /// Counts (re)connections: a server that came back may have forgotten
    /// the consumers made before, so followers re-create theirs.
    connections: tokio::sync::watch::Receiver<u64>,
    /// JetStream replicas of the streams and buckets this connection creates.
    replicas: usize,
    /// Lease buckets opened (opening one is a request to the stream's
    /// leader: once per bucket, not per lease operation).
    /// Key-value buckets opened (`kv_get`, `kv_swap`).
    kv_buckets: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, async_nats::jetstream::kv::Store>>,
    >,
    buckets: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<&'static str, async_nats::jetstream::kv::Store>>,
    >,
}

impl NatsBus {
    /// Connects to `url` (several comma-separated URLs are allowed), giving up
    /// after `timeout`. Once connected, the client reconnects by itself.
    pub async fn connect(url: &str, name: &str, timeout: Duration) -> Result<Self, Error> {
        Self::connect_with(url, name, timeout, true).await
    }

    /// Like [`NatsBus::connect`]; with `echo` false the server does not send
    /// this connection the messages it published itself. For processes
    /// that never consume their own messages (a prober: each echoed
    /// heartbeat would be one more wake-up, and a wake-up costs CPU).
    pub async fn connect_with(
        url: &str,
        name: &str,
        timeout: Duration,
        echo: bool,
    ) -> Result<Self, Error> {
        Self::connect_with_tls(url, name, timeout, echo, None).await
    }

    /// Like [`NatsBus::connect_with`], over TLS when `tls` is given: the
    /// server verified against its authority (only it is trusted), the
    /// client certificate presented for mutual TLS. Without `tls`, a
    /// `tls://` URL (or a server that requires TLS) still gets TLS,
    /// trusting the system's roots.
    pub async fn connect_with_tls(
        url: &str,
        name: &str,
        timeout: Duration,
        echo: bool,
        tls: Option<&ClientTls>,
    ) -> Result<Self, Error> {
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(timeout);
        if !echo {
            options = options.no_echo();
        }
        if let Some(tls) = tls {
            options = options.require_tls(true);
            if let Some(ca) = &tls.ca_file {
                options = options.add_root_certificates(ca.clone());
            }
            if let Some((cert, key)) = &tls.identity {
                options = options.add_client_certificate(cert.clone(), key.clone());
            }
        }
        let (connected, connections) = tokio::sync::watch::channel(0u64);
        options = options.event_callback(move |event| {
            if matches!(event, async_nats::Event::Connected) {
                connected.send_modify(|n| *n += 1);
            }
            async {}
        });
        let urls: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        let connect = options.connect(urls);
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(client)) => Ok(Self {
                jetstream: async_nats::jetstream::new(client.clone()),
                client,
                streams: Default::default(),
                kv_buckets: Default::default(),
                echo,
                connections,
                replicas: 1,
                buckets: Default::default(),
            }),
            Ok(Err(e)) => Err(Error::Connect {
                url: url.to_string(),
                reason: explain_refusal(&e),
            }),
            Err(_) => Err(Error::Connect {
                url: url.to_string(),
                reason: format!("no connection within {timeout:?}"),
            }),
        }
    }
}

impl NatsBus {
    /// Streams and lease buckets created from now on are kept on `replicas`
    /// servers of a NATS cluster (`NatsReplicas`): a node lost loses no
    /// finding and no lease. Existing ones keep theirs.
    #[must_use]
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }
}

/// A failed connection's message, with what to change when TLS is why.
fn explain_refusal(e: &async_nats::ConnectError) -> String {
    use orc_runtime::tls::{NATS_KEYS, explain_failure, rustls_error_in};
    match rustls_error_in(e) {
        Some(failure) => format!("{e}: {}", explain_failure(failure, &NATS_KEYS)),
        None => e.to_string(),
    }
}

impl NatsBus {
    /// The KV bucket of a lease family, created the way nats-server 2.9
    /// accepts (its backing stream made by hand: a TTL on the bucket, one
    /// message per key, compare-and-swap through the expected-revision header).
    async fn lease_bucket(
        &self,
        spec: &LeaseSpec,
    ) -> Result<async_nats::jetstream::kv::Store, Error> {
        let fail = |reason: String| Error::Lease {
            bucket: spec.bucket.to_string(),
            name: String::new(),
            reason,
        };
        let known = self
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(spec.bucket);
        if !known {
            let config = async_nats::jetstream::stream::Config {
                name: format!("KV_{}", spec.bucket),
                subjects: vec![format!("$KV.{}.>", spec.bucket)],
                max_messages_per_subject: 1,
                max_age: spec.ttl,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: async_nats::jetstream::stream::DiscardPolicy::New,
                num_replicas: self.replicas,
                duplicate_window: spec.ttl.min(Duration::from_secs(120)),
                ..Default::default()
            };
            self.jetstream
                .get_or_create_stream(config)
                .await
                .map_err(|e| fail(format!("creating bucket: {e}")))?;
            self.streams
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(spec.bucket);
        }
        let opened = self
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(spec.bucket)
            .cloned();
        if let Some(kv) = opened {
            return Ok(kv);
        }
        let kv = self
            .jetstream
            .get_key_value(spec.bucket)
            .await
            .map_err(|e| fail(e.to_string()))?;
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.bucket, kv.clone());
        Ok(kv)
    }

    /// Creates the stream unless this connection already did. Works with
    /// nats-server 2.9 (no account-info calls).
    async fn ensure_stream(
        &self,
        spec: &StreamSpec,
    ) -> Result<async_nats::jetstream::stream::Stream, Error> {
        let config = async_nats::jetstream::stream::Config {
            name: spec.name.to_string(),
            subjects: spec.subjects.iter().map(|s| s.to_string()).collect(),
            max_age: spec.max_age,
            duplicate_window: spec.duplicate_window,
            storage: async_nats::jetstream::stream::StorageType::File,
            num_replicas: self.replicas,
            ..Default::default()
        };
        let stream = self
            .jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|e| Error::Publish {
                subject: spec.name.to_string(),
                reason: format!("creating stream: {e}"),
            })?;
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.name);
        Ok(stream)
    }
}

impl NatsBus {
    /// A key-value bucket, opened (or created) once per connection.
    async fn kv_bucket(&self, bucket: &str) -> Result<async_nats::jetstream::kv::Store, Error> {
        let fail = |reason: String| Error::Request {
            subject: format!("KV {bucket}"),
            reason,
        };
        if let Some(store) = self
            .kv_buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(bucket)
        {
            return Ok(store.clone());
        }
        // The bucket's stream is made by hand, as the lease buckets' are:
        // it works with every nats-server JetStream version.
        let config = async_nats::jetstream::stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: async_nats::jetstream::stream::DiscardPolicy::New,
            num_replicas: self.replicas,
            ..Default::default()
        };
        self.jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|e| fail(format!("creating bucket: {e}")))?;
        let store = self
            .jetstream
            .get_key_value(bucket)
            .await
            .map_err(|e| fail(e.to_string()))?;
        self.kv_buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(bucket.to_string(), store.clone());
        Ok(store)
    }
}

#[async_trait::async_trait]
impl Bus for NatsBus {
    async fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<(Bytes, u64)>, Error> {
        let store = self.kv_bucket(bucket).await?;
        let entry = store.entry(key).await.map_err(|e| Error::Request {
            subject: format!("KV {bucket} {key}"),
            reason: e.to_string(),
        })?;
        Ok(entry
            .filter(|e| e.operation == async_nats::jetstream::kv::Operation::Put)
            .map(|e| (e.value, e.revision)))
    }

    async fn kv_swap(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
        expected: Option<u64>,
    ) -> Result<Option<u64>, Error> {
        use async_nats::jetstream::kv::{CreateErrorKind, UpdateErrorKind};
        let store = self.kv_bucket(bucket).await?;
        let fail = |reason: String| Error::Request {
            subject: format!("KV {bucket} {key}"),
            reason,
        };
        match expected {
            None => match store.create(key, value).await {
                Ok(rev) => Ok(Some(rev)),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(None),
                Err(e) => Err(fail(e.to_string())),
            },
            Some(rev) => match store.update(key, value, rev).await {
                Ok(rev) => Ok(Some(rev)),
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(None),
                Err(e) => Err(fail(e.to_string())),
            },
        }
    }

    async fn publish_durable(
        &self,
        stream: &StreamSpec,
        subject: &str,
        id: &str,
        payload: Bytes,
    ) -> Result<bool, Error> {
        let known = self
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(stream.name);
        if !known {
            self.ensure_stream(stream).await?;
        }
        let fail = |reason: String| Error::Publish {
            subject: subject.to_string(),
            reason,
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        for (k, v) in crate::current_trace() {
            headers.insert(k.as_str(), v.as_str());
        }
        let ack = self
            .jetstream
            .publish_with_headers(subject.to_string(), headers, payload)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let ack = tokio::time::timeout(Duration::from_secs(10), ack)
            .await
            .map_err(|_| fail("no acknowledgement within 10s".into()))?
            .map_err(|e| fail(e.to_string()))?;
        Ok(!ack.duplicate)
    }

    async fn lease_acquire(
        &self,
        spec: &LeaseSpec,
        name: &str,
        holder: &str,
    ) -> Result<Option<Lease>, Error> {
        let key = crate::lease_key(name);
        let kv = self.lease_bucket(spec).await?;
        match kv.create(&key, Bytes::from(holder.to_string())).await {
            Ok(revision) => Ok(Some(Lease {
                bucket: spec.bucket,
                name: key,
                holder: holder.to_string(),
                revision,
            })),
            Err(e) if e.kind() == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists => {
                Ok(None)
            }
            Err(e) => Err(Error::Lease {
                bucket: spec.bucket.into(),
                name: key,
                reason: e.to_string(),
            }),
        }
    }

    async fn lease_renew(&self, spec: &LeaseSpec, lease: &Lease) -> Result<Lease, Error> {
        let kv = self.lease_bucket(spec).await?;
        match kv
            .update(
                &lease.name,
                Bytes::from(lease.holder.clone()),
                lease.revision,
            )
            .await
        {
            Ok(revision) => Ok(Lease {
                revision,
                ..lease.clone()
            }),
            Err(_) => Err(Error::LeaseLost {
                bucket: spec.bucket.into(),
                name: lease.name.clone(),
                holder: lease.holder.clone(),
            }),
        }
    }

    async fn lease_holder(&self, spec: &LeaseSpec, name: &str) -> Result<Option<String>, Error> {
        let key = crate::lease_key(name);
        let kv = self.lease_bucket(spec).await?;
        let entry = kv.entry(&key).await.map_err(|e| Error::Lease {
            bucket: spec.bucket.into(),
            name: key.clone(),
            reason: e.to_string(),
        })?;
        Ok(entry
            .filter(|e| e.operation == async_nats::jetstream::kv::Operation::Put)
            .map(|e| String::from_utf8_lossy(&e.value).into_owned()))
    }

    async fn lease_release(&self, spec: &LeaseSpec, lease: &Lease) -> Result<(), Error> {
        let kv = self.lease_bucket(spec).await?;
        kv.delete_expect_revision(&lease.name, Some(lease.revision))
            .await
            .map_err(|e| Error::Lease {
                bucket: spec.bucket.into(),
                name: lease.name.clone(),
                reason: e.to_string(),
            })
    }

    async fn follow_durable(
        &self,
        stream: &StreamSpec,
        start: StartAt,
    ) -> Result<Subscription, Error> {
        let mut durable = Durable {
            connections: self.connections.clone(),
            bus: self.clone(),
            spec: *stream,
            start,
            next_sequence: None,
            messages: None,
            behind: None,
            next_check: tokio::time::Instant::now() + STALL_CHECK,
        };
        durable.open().await?;
        Ok(Subscription {
            inner: SubscriptionInner::Durable(Box::new(durable)),
        })
    }

    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), Error> {
        self.client
            .publish(subject.to_string(), payload)
            .await
            .map_err(|e| Error::Publish {
                subject: subject.to_string(),
                reason: e.to_string(),
            })
    }

    async fn subscribe(&self, subject: &str) -> Result<Subscription, Error> {
        let sub = self
            .client
            .subscribe(subject.to_string())
            .await
            .map_err(|e| Error::Subscribe {
                subject: subject.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Subscription {
            inner: SubscriptionInner::Nats(sub),
        })
    }

    async fn queue_subscribe(&self, subject: &str, group: &str) -> Result<Subscription, Error> {
        let sub = self
            .client
            .queue_subscribe(subject.to_string(), group.to_string())
            .await
            .map_err(|e| Error::Subscribe {
                subject: subject.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Subscription {
            inner: SubscriptionInner::Nats(sub),
        })
    }

    async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, Error> {
        let mut request = async_nats::Request::new()
            .payload(payload)
            .timeout(Some(timeout));
        let trace = crate::current_trace();
        if !trace.is_empty() {
            let mut headers = async_nats::HeaderMap::new();
            for (k, v) in trace {
                headers.insert(k.as_str(), v.as_str());
            }
            request = request.headers(headers);
        }
        match self.client.send_request(subject.to_string(), request).await {
            Ok(msg) => Ok(msg.payload),
            Err(e) => Err(match e.kind() {
                RequestErrorKind::NoResponders => Error::NoResponders {
                    subject: subject.to_string(),
                },
                RequestErrorKind::TimedOut => Error::Timeout {
                    subject: subject.to_string(),
                    after: timeout,
                },
                _ => Error::Request {
                    subject: subject.to_string(),
                    reason: e.to_string(),
                },
            }),
        }
    }

    /// A barrier, not only a buffer flush: the server handles one
    /// connection's commands in order, so once a message published to a
    /// private inbox comes back (or, without echo, once the server answers
    /// that a request to it has no responders), every earlier publish and
    /// subscription of this connection has been processed by the server.
    async fn flush(&self) -> Result<(), Error> {
        let fail = |reason: String| Error::Publish {
            subject: "(flush)".into(),
            reason,
        };
        let inbox = self.client.new_inbox();
        if !self.echo {
            let request = self.client.request(inbox, Bytes::new());
            return match tokio::time::timeout(Duration::from_secs(5), request).await {
                Err(_) => Err(fail("no answer within 5s".into())),
                Ok(Err(e)) if e.kind() == RequestErrorKind::NoResponders => Ok(()),
                Ok(Err(e)) => Err(fail(e.to_string())),
                Ok(Ok(_)) => Ok(()),
            };
        }
        let mut echo = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| fail(e.to_string()))?;
        self.client
            .publish(inbox, Bytes::new())
            .await
            .map_err(|e| fail(e.to_string()))?;
        use futures_util::StreamExt as _;
        match tokio::time::timeout(Duration::from_secs(5), echo.next()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(fail("connection closed".into())),
            Err(_) => Err(fail("no echo within 5s".into())),
        }
    }
}

/// A follower of a durable stream that outlives its consumer. JetStream
/// forgets ephemeral consumers when the server restarts (and may drop one
/// whose client was away); an ordered consumer then only reports
/// "consumer not found", or nothing at all, for ever. This follower
/// remembers the stream sequence after the last message it delivered and,
/// on any error and after every reconnection, opens a new ordered consumer
/// starting there: nothing is lost and nothing is delivered twice.
///
/// On a NATS cluster the consumer can also vanish without the client
/// reconnecting (the node that hosted it was lost, the client was on
/// another). So an idle follower checks the stream every [`STALL_CHECK`]:
/// when it holds a message the follower has not been given at two checks
/// in a row, the consumer is re-created.
pub(crate) struct Durable {
    bus: NatsBus,
    spec: StreamSpec,
    start: StartAt,
    next_sequence: Option<u64>,
    messages: Option<async_nats::jetstream::consumer::pull::Ordered>,
    connections: tokio::sync::watch::Receiver<u64>,
    /// The first sequence not yet delivered, when the last check found the
    /// stream holding it.
    behind: Option<u64>,
    /// When to check next (kept across calls: a caller that polls
    /// `next()` in a `select!` drops and re-creates it all the time).
    next_check: tokio::time::Instant,
}

/// How often an idle follower checks that its consumer still delivers.
const STALL_CHECK: Duration = Duration::from_secs(1);

/// What woke a follower.
enum Wake<T> {
    Item(Option<T>),
    Reconnected,
    Check,
}

impl Durable {
    /// (Re)creates the consumer where the follower stands.
    async fn open(&mut self) -> Result<(), Error> {
        use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
        let fail = |reason: String| Error::Subscribe {
            subject: self.spec.name.to_string(),
            reason,
        };
        self.connections.borrow_and_update();
        let mut stream = self.bus.ensure_stream(&self.spec).await?;
        if self.next_sequence.is_none() && matches!(self.start, StartAt::New) {
            // "New" means new from the first consumer on: pin where that
            // is, so a consumer re-created later skips nothing in between.
            let info = stream.info().await.map_err(|e| fail(e.to_string()))?;
            self.next_sequence = Some(info.state.last_sequence + 1);
        }
        let deliver_policy = match (self.next_sequence, self.start) {
            (Some(start_sequence), _) => DeliverPolicy::ByStartSequence { start_sequence },
            (None, StartAt::New) => DeliverPolicy::New,
            (None, StartAt::All) => DeliverPolicy::All,
        };
        let consumer = stream
            .create_consumer(OrderedConfig {
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(|e| fail(e.to_string()))?;
        let messages = consumer.messages().await.map_err(|e| fail(e.to_string()))?;
        self.messages = Some(messages);
        self.behind = None;
        Ok(())
    }

    /// Whether the consumer has missed a message the stream holds, at this
    /// check and the previous one.
    async fn stalled(&mut self) -> bool {
        let info = async {
            let stream = self.bus.ensure_stream(&self.spec).await.ok()?;
            let state = stream.cached_info().state.clone();
            Some(state)
        };
        let Ok(Some(state)) = tokio::time::timeout(STALL_CHECK * 2, info).await else {
            return false;
        };
        let wanted = self.next_sequence.unwrap_or(state.first_sequence.max(1));
        let missing = (state.messages > 0 && state.last_sequence >= wanted).then_some(wanted);
        let stalled = missing.is_some() && missing == self.behind;
        self.behind = missing;
        stalled
    }

    /// The next message; re-creates the consumer whenever it fails.
    pub(crate) async fn next(&mut self) -> Option<crate::Message> {
        use futures_util::StreamExt as _;
        let mut backoff = Duration::from_millis(50);
        loop {
            let wake = match self.messages.as_mut() {
                Some(messages) => tokio::select! {
                    item = messages.next() => Wake::Item(item),
                    // Reconnected: the consumer may be gone with the old
                    // server; a fresh one costs nothing and loses nothing.
                    _ = self.connections.changed() => Wake::Reconnected,
                    () = tokio::time::sleep_until(self.next_check) => Wake::Check,
                },
                None => Wake::Item(None),
            };
            let item = match wake {
                Wake::Item(item) => item,
                Wake::Reconnected => {
                    tracing::info!(
                        stream = self.spec.name,
                        "reconnected to the bus: re-creating the durable stream's consumer"
                    );
                    None
                }
                Wake::Check => {
                    self.next_check = tokio::time::Instant::now() + STALL_CHECK;
                    if !self.stalled().await {
                        continue;
                    }
                    tracing::warn!(
                        stream = self.spec.name,
                        "durable stream follower missed messages the stream holds: re-creating its consumer"
                    );
                    None
                }
            };
            match item {
                Some(Ok(m)) => {
                    if let Ok(info) = m.info() {
                        self.next_sequence = Some(info.stream_sequence + 1);
                    }
                    self.behind = None;
                    self.next_check = tokio::time::Instant::now() + STALL_CHECK;
                    return Some(crate::Message {
                        subject: m.subject.to_string(),
                        reply: None,
                        payload: m.payload.clone(),
                        trace: crate::trace_of(m.headers.as_ref()),
                    });
                }
                Some(Err(e)) => {
                    tracing::warn!(stream = self.spec.name, error = %e, "durable stream follower error: re-creating its consumer");
                }
                None => {}
            }
            self.messages = None;
            while let Err(e) = self.open().await {
                tracing::warn!(stream = self.spec.name, error = %e, "durable stream follower: consumer not re-created yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

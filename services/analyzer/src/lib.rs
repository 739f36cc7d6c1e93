//! The analyzer: folds snapshots into per-cluster views, keeps the instance
//! registry that probers work from, answers discover and forget, and
//! persists instance state.
//!
//! One task owns the [`view::View`] and handles bus messages in order;
//! slow work (waiting for a probe, writing the store) happens in helper
//! tasks that talk back over channels, so the loop never blocks on IO.
//! Several analyzers may run. Unsharded (the default), each sees every
//! snapshot and holds every cluster; a forget handled by one is broadcast
//! to the others. Sharded (`AnalyzerShardReplicas` above 0), they divide
//! the clusters ([`shards`]): each receives only the snapshots of its
//! buckets, takes a dead peer's buckets over, and passes a request about a
//! cluster it does not hold to the holders. Entry point: [`run`].

pub mod brief;
pub mod detection;
mod membership;
pub mod shards;
pub mod view;
mod writer;

use std::sync::Arc;

use std::time::Duration;
use tracing::Instrument as _;

use orc_bus::{Bus, Message, subjects};
use orc_model::{InstanceKey, InstanceSnapshot};
use orc_proto::v1 as wire;
use orc_runtime::filters::DiscoveryFilters;
use orc_runtime::{Config, wall_clock};
use orc_store::Store;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use view::View;

/// What an analyzer needs to know.
#[derive(Debug, Clone)]
pub struct AnalyzerConfig {
    /// Unique id among analyzers.
    pub id: String,
    /// How often the full registry is re-published. It is also published
    /// at once when it changes and answered to a prober that asks (every
    /// prober asks when it starts), so this only repairs a lost message.
    pub registry_interval: Duration,
    /// How often changed states are written.
    pub flush_interval: Duration,
    /// `InstancePollSeconds`.
    pub poll_interval: Duration,
    /// How often every held cluster is judged again, changed or not (what
    /// changes with time alone: a server no longer probed, a downtime
    /// ending). Changed clusters are judged within milliseconds anyway.
    pub analysis_interval: Duration,
    /// How long a forgotten instance is ignored even if still named by others.
    pub forget_ttl: Duration,
    /// How long to wait for a prober to answer a discover.
    pub probe_timeout: Duration,
    /// Instances to know from the start (`DiscoverySeeds`).
    pub seeds: Vec<InstanceKey>,
    /// How identities are derived (`MySQLHostnameResolveMethod`).
    pub resolve_method: view::ResolveMethod,
    /// How to judge.
    pub policy: orc_analysis::AnalysisPolicy,
    /// `FailureDetectionPeriodBlockMinutes`.
    pub detection_period: Duration,
    /// `HostnameResolveMethod` applied to seeds and discovered keys.
    pub resolver: Arc<orc_runtime::resolve::Resolver>,
    /// `DiscoveryIgnore*HostnameFilters`.
    pub discovery_filters: DiscoveryFilters,
    /// `AnalyzerShardReplicas`: analyzers holding each shard bucket; 0:
    /// unsharded, every analyzer holds every cluster.
    pub shard_replicas: usize,
}

/// The whole-fleet pass follows the poll: what time alone changes moves at
/// the poll's pace, so a quarter of it, between 1 s and 5 s (at a 10 s
/// poll over 15,000 servers this pass was most of an analyzer's CPU).
fn analysis_interval(poll_seconds: f64) -> Duration {
    let quarter = if poll_seconds.is_finite() {
        poll_seconds / 4.0
    } else {
        1.0
    };
    Duration::from_secs_f64(quarter.clamp(1.0, 5.0))
}

impl AnalyzerConfig {
    /// Derives the analyzer's settings from the process configuration.
    pub fn from_config(c: &Config) -> Self {
        Self {
            id: format!("analyzer-{}", std::process::id()),
            registry_interval: Duration::from_secs(10),
            flush_interval: Duration::from_millis(100),
            poll_interval: Duration::from_secs_f64(c.instance_poll_seconds.clamp(0.001, 3600.0)),
            analysis_interval: analysis_interval(c.instance_poll_seconds),
            forget_ttl: Duration::from_secs(60),
            probe_timeout: Duration::from_secs_f64(
                c.mysql_connect_timeout_seconds + c.mysql_discovery_read_timeout_seconds + 1.0,
            ),
            seeds: c
                .discovery_seeds
                .iter()
                .filter_map(|s| {
                    InstanceKey::parse_with_default_port(s, c.default_instance_port).ok()
                })
                .collect(),
            resolve_method: view::ResolveMethod::parse(&c.mysql_hostname_resolve_method),
            policy: c.analysis_policy(),
            detection_period: Duration::from_secs_f64(
                c.failure_detection_period_block_minutes.max(0.0) * 60.0,
            ),
            resolver: Arc::new(orc_runtime::resolve::Resolver::from_config(c)),
            discovery_filters: DiscoveryFilters::from_config(c),
            shard_replicas: usize::try_from(c.analyzer_shard_replicas).unwrap_or(usize::MAX),
        }
    }
}

/// Why an analyzer stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] orc_bus::Error),
    /// The store failed at start-up.
    #[error(transparent)]
    Store(#[from] orc_store::Error),
}

enum Internal {
    Add(InstanceKey, oneshot::Sender<bool>),
    Apply(
        Box<InstanceSnapshot>,
        oneshot::Sender<Result<InstanceKey, String>>,
    ),
    Drop(InstanceKey),
    /// Stored states of instances taken over with a bucket.
    Restore(Vec<orc_store::StoredInstance>),
    /// An instance was handed to the holder of its new bucket (`true`), or
    /// the hand-over failed.
    Handed(InstanceKey, bool),
}

struct Ctx {
    cfg: AnalyzerConfig,
    bus: Arc<dyn Bus>,
    internal: mpsc::Sender<Internal>,
}

/// Runs an analyzer until `shutdown` is cancelled.
pub async fn run(
    cfg: AnalyzerConfig,
    bus: Arc<dyn Bus>,
    store: Store,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let stored = store.instances().all().await?;
    let (ignored, stored): (Vec<_>, Vec<_>) = stored.into_iter().partition(|s| {
        cfg.discovery_filters.ignores(&s.state.key)
            || cfg.discovery_filters.ignores(s.state.probe_address())
    });
    if !ignored.is_empty() {
        let keys: Vec<InstanceKey> = ignored.into_iter().map(|s| s.state.key).collect();
        tracing::info!(instances = ?keys, "forgetting stored instances that match DiscoveryIgnoreHostnameFilters");
        store.instances().delete(&keys).await?;
    }
    let mut shards = shards::Shards::new(&cfg.id, cfg.shard_replicas);
    if shards.is_sharded() {
        shards.derive_from_store(stored.iter().map(|s| &s.state));
    }
    let mut view = View::from_stored(stored, cfg.resolve_method)
        .with_discovery_filters(cfg.discovery_filters.clone());
    for seed in &cfg.seeds {
        let seed = cfg.resolver.key(seed).await;
        if cfg.discovery_filters.ignores(&seed) {
            tracing::info!(instance = %seed, "seed matches DiscoveryIgnoreHostnameFilters: not discovered");
            continue;
        }
        view.add(&seed, wall_clock());
    }
    // Stored instances and seeds start in the bucket the store's links put
    // them in (or their home bucket); those of buckets held elsewhere are
    // let go once the buckets are divided.
    if shards.is_sharded() {
        let held: Vec<(InstanceKey, u32)> = view
            .states()
            .values()
            .map(|st| {
                let b = shards.route(&st.key, st.probe_address());
                (st.key.clone(), b)
            })
            .collect();
        for (k, b) in held {
            shards.hold(&k, b);
        }
    }
    // `reset-hostname-resolve-cache`: every process forgets its resolutions.
    let mut resets = bus.subscribe(subjects::RESOLVE_RESET).await?;
    {
        let (resolver, stop) = (cfg.resolver.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    m = resets.next() => match m {
                        Some(_) => resolver.clear(),
                        None => return,
                    },
                }
            }
        });
    }
    // Unsharded: every bucket's snapshots on one subscription. Sharded:
    // one per held bucket, fed into a channel, made on rebalance.
    let mut snapshots = if shards.is_sharded() {
        None
    } else {
        Some(bus.subscribe(subjects::SNAPSHOTS).await?)
    };
    let (fed_tx, mut fed_rx) = mpsc::channel::<Message>(4096);
    let (shard_tx, mut shard_rx) = mpsc::channel::<Message>(256);
    let mut feeds: std::collections::HashMap<u32, CancellationToken> =
        std::collections::HashMap::new();
    // Sharded: who the live analyzers are, learnt apart from this loop.
    let mut live_rx = if shards.is_sharded() {
        let (tx, rx) = tokio::sync::watch::channel(None);
        let peers = membership::Peers::start(&*bus, &cfg.id, cfg.shard_replicas).await?;
        tokio::spawn(peers.run(bus.clone(), tx, shutdown.clone()));
        Some(rx)
    } else {
        None
    };
    // Instances being handed to the holder of their new bucket.
    let mut handing: std::collections::HashSet<InstanceKey> = std::collections::HashSet::new();
    let mut discover = bus
        .queue_subscribe(subjects::DISCOVER, subjects::ANALYZERS)
        .await?;
    let mut forget = bus
        .queue_subscribe(subjects::FORGET, subjects::ANALYZERS)
        .await?;
    let mut forgotten = bus.subscribe(subjects::FORGOTTEN).await?;
    let mut registry_get = bus.subscribe(subjects::REGISTRY_GET).await?;
    // Replicated analyzers: a discover reaches one of them; the others
    // learn its instances from its registry, so any of them can answer
    // for any instance (cluster briefs, the analysis).
    let mut peer_registries = bus.subscribe(subjects::REGISTRY).await?;
    let mut briefs = bus
        .queue_subscribe(subjects::CLUSTER_BRIEF, subjects::ANALYZERS)
        .await?;
    let mut metadata_changed = bus.subscribe(subjects::METADATA_CHANGED).await?;
    let mut recovery_events = bus.subscribe(subjects::RECOVERY_EVENTS).await?;
    bus.flush().await?;
    // What the store holds may be older than the probers' last whole
    // snapshots, which they would not repeat for a while: ask for whole ones.
    ask_whole_snapshots(&*bus, Vec::new(), "analyzer started").await;
    tracing::info!(analyzer = %cfg.id, instances = view.len(), shard_replicas = cfg.shard_replicas, "analyzer started");

    let tracker = TaskTracker::new();
    let (write_tx, write_rx) = mpsc::channel::<writer::Job>(64);
    let writer = tokio::spawn(writer::run(store.clone(), write_rx));
    let (internal_tx, mut internal_rx) = mpsc::channel::<Internal>(256);
    let ctx = Arc::new(Ctx {
        cfg: cfg.clone(),
        bus: bus.clone(),
        internal: internal_tx,
    });
    let mut detector = detection::Detector::new(cfg.policy.clone(), cfg.detection_period);
    let mut metadata = store.metadata().all().await?;
    let mut hot_tick = tokio::time::interval(Duration::from_millis(25));
    let mut analysis_tick = tokio::time::interval(cfg.analysis_interval);
    let mut flush_tick = tokio::time::interval(cfg.flush_interval);
    let mut registry_tick = tokio::time::interval(cfg.registry_interval);
    let mut debounce_tick = tokio::time::interval(Duration::from_millis(20));
    // Instances whose change waits for the graph to be rebuilt once.
    let mut pending: std::collections::HashSet<InstanceKey> = std::collections::HashSet::new();
    // When the registry was last published on a change: probers re-assign
    // the whole fleet on each, so a discovery of thousands of servers
    // publishes it every 40 µs per known server (20 ms up to 500 servers).
    let mut registry_published = std::time::Instant::now();

    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(msg) = next_snapshot(&mut snapshots, &mut fed_rx) => {
                if shards.is_sharded()
                    && !subjects::snapshot_bucket(&msg.subject).is_some_and(|b| shards.owns(b))
                {
                    // A bucket just given up: its new holder has it.
                    continue;
                }
                let snap = orc_bus::decode::<wire::InstanceSnapshot>(&msg.subject, &msg.payload)
                    .ok()
                    .and_then(|w| InstanceSnapshot::try_from(&w).ok());
                if let Some(snap) = snap {
                    let now = wall_clock();
                    orc_telemetry::metrics::bus_lag(
                        "snapshots",
                        now.since(snap.observed_at).as_secs_f64(),
                    );
                    let got = view.ingest(&snap, now);
                    if shards.is_sharded() {
                        place_in_shards(
                            &mut shards,
                            &mut view,
                            &snap.key,
                            &got,
                            &mut handing,
                            &bus,
                            &tracker,
                            &ctx.internal,
                        );
                    }
                    if !got.discovered.is_empty() {
                        tracing::debug!(from = %snap.key, new = ?got.discovered, "discovered instances");
                    }
                    // Analysing the fleet costs what the fleet weighs: do it
                    // at once for a change an analysis may turn on, or for
                    // testimony about a failing server; positions that moved
                    // wait for the next pass (at most a second).
                    let urgent = got.shape_changed
                        || (got.changed
                            && got.identity.as_ref().is_some_and(|k| detector.concerns(&view, k)));
                    // While the graph is being reshaped (discovery, a
                    // failover), analyses wait for the next debounce tick so
                    // a burst of changes rebuilds it once, not per snapshot.
                    if let (true, Some(identity)) = (urgent, got.identity.as_ref())
                        && !view.topology_ready()
                    {
                        pending.insert(identity.clone());
                    } else if let (true, Some(identity)) = (urgent, got.identity.as_ref()) {
                        let (emits, probes) =
                            detector.evaluate_around(&view, &metadata, identity, wall_clock());
                        if !emits.is_empty() {
                            // A verdict changed: what the APIs read must show it
                            // now, not at the next flush.
                            flush_now(&mut view, &write_tx).await;
                        }
                        act_in_view(&cfg, &bus, &tracker, &view, emits, probes).await;
                    }
                }
            }
            Some(cmd) = internal_rx.recv() => match cmd {
                Internal::Add(key, reply) => {
                    let added = view.add(&key, wall_clock());
                    if shards.is_sharded() && shards.held_bucket(&view.identity_of(&key)).is_none() {
                        let b = shards.route(&view.identity_of(&key), &key);
                        shards.hold(&view.identity_of(&key), b);
                    }
                    let _ = reply.send(added);
                }
                Internal::Apply(snap, reply) => {
                    let got = view.ingest(&snap, wall_clock());
                    if shards.is_sharded() {
                        place_in_shards(&mut shards, &mut view, &snap.key, &got, &mut handing, &bus, &tracker, &ctx.internal);
                    }
                    let identity = got.identity.unwrap_or_else(|| snap.key.clone());
                    let upserts: Vec<_> = view.take_one(&identity).into_iter().collect();
                    let (done, wait) = oneshot::channel();
                    let _ = write_tx.send(writer::Job { upserts, deletes: Vec::new(), done: Some(done) }).await;
                    tracker.spawn(async move {
                        let r = wait.await.unwrap_or_else(|_| Err("store writer stopped".into()));
                        let _ = reply.send(r.map(|()| identity));
                    });
                }
                Internal::Restore(stored) => {
                    let mut restored = 0;
                    for st in stored {
                        let key = st.state.key.clone();
                        if view.restore(st) {
                            restored += 1;
                            // A server that failed here meanwhile is judged
                            // again with what it was.
                            if view.get(&key).is_some_and(|s| s.last_error.is_some()) {
                                pending.insert(key);
                            }
                        }
                    }
                    tracing::info!(analyzer = %cfg.id, restored, "stored states of instances taken over");
                }
                Internal::Handed(identity, done) => {
                    handing.remove(&identity);
                    if done {
                        flush_now(&mut view, &write_tx).await;
                        view.drop_key(&identity);
                        shards.release(&identity);
                    }
                }
                Internal::Drop(key) => {
                    shards.release(&view.identity_of(&key));
                    view.drop_key(&key);
                    let _ = write_tx.send(writer::Job { upserts: Vec::new(), deletes: vec![key], done: None }).await;
                }
            },
            Some(msg) = discover.next() => {
                if let Some(bucket) = elsewhere(&shards, &view, discover_key(&msg).as_ref()) {
                    pass_on(&bus, &tracker, msg, bucket, "discover", cfg.probe_timeout + Duration::from_secs(5), |e| {
                        orc_bus::encode(&wire::DiscoverReply { error: e, ..Default::default() })
                    });
                    continue;
                }
                let ctx = ctx.clone();
                tracker.spawn(async move { handle_discover(&ctx, msg).await });
            }
            Some(msg) = forget.next() => {
                if let Some(bucket) = elsewhere(&shards, &view, forget_key(&msg).as_ref()) {
                    pass_on(&bus, &tracker, msg, bucket, "forget", Duration::from_secs(15), |e| {
                        orc_bus::encode(&wire::ForgetReply { error: e, ..Default::default() })
                    });
                    continue;
                }
                handle_forget(&cfg, &*bus, &mut view, &shards, &write_tx, msg).await;
            }
            Some(msg) = shard_rx.recv() => {
                // Passed on by a peer: answered here, never passed again.
                match msg.subject.rsplit('.').next().unwrap_or_default() {
                    "discover" => {
                        let ctx = ctx.clone();
                        tracker.spawn(async move { handle_discover(&ctx, msg).await });
                    }
                    "forget" => handle_forget(&cfg, &*bus, &mut view, &shards, &write_tx, msg).await,
                    "brief" => {
                        let answer = match orc_bus::decode::<wire::ClusterBriefRequest>(&msg.subject, &msg.payload) {
                            Ok(req) => brief::answer(&req, &view, &metadata, &cfg.policy, wall_clock()),
                            Err(e) => wire::ClusterBrief { error: e.to_string(), ..Default::default() },
                        };
                        let _ = bus.respond(&msg, orc_bus::encode(&answer)).await;
                    }
                    "adopt" => {
                        let error = adopt(&mut shards, &mut view, &msg);
                        if error.is_empty() {
                            publish_registry(&cfg, &*bus, &view, &shards).await;
                        }
                        let _ = bus.respond(&msg, orc_bus::encode(&wire::AdoptReply { error })).await;
                    }
                    other => tracing::debug!(verb = other, "unknown shard request"),
                }
            }
            Some(live) = next_live(&mut live_rx) => {
                shards.set_live(live);
                rebalance(&cfg, &bus, &store, &tracker, &mut shards, &mut view, &write_tx, &mut feeds, &fed_tx, &shard_tx, &ctx.internal).await;
            }
            Some(msg) = forgotten.next() => {
                if let Ok(ev) = orc_bus::decode::<wire::ForgetEvent>(&msg.subject, &msg.payload)
                    && ev.analyzer_id != cfg.id
                {
                    let keys: Vec<InstanceKey> = ev.keys.iter().filter_map(|k| InstanceKey::try_from(k).ok()).collect();
                    view.forget(&keys, wall_clock(), cfg.forget_ttl);
                }
            }
            Some(msg) = briefs.next() => {
                if let Some(bucket) = elsewhere(&shards, &view, brief_key(&msg).as_ref()) {
                    pass_on(&bus, &tracker, msg, bucket, "brief", Duration::from_secs(5), |e| {
                        orc_bus::encode(&wire::ClusterBrief { error: e, ..Default::default() })
                    });
                    continue;
                }
                let answer = match orc_bus::decode::<wire::ClusterBriefRequest>(&msg.subject, &msg.payload) {
                    Ok(req) => brief::answer(&req, &view, &metadata, &cfg.policy, wall_clock()),
                    Err(e) => wire::ClusterBrief { error: e.to_string(), ..Default::default() },
                };
                let _ = bus.respond(&msg, orc_bus::encode(&answer)).await;
            }
            Some(_) = metadata_changed.next() => {
                match store.metadata().all().await {
                    Ok(m) => {
                        metadata = m;
                        let (emits, probes) = detector.evaluate(&view, &metadata, wall_clock());
                        act_in_view(&cfg, &bus, &tracker, &view, emits, probes).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "operator metadata not reloaded"),
                }
            }
            Some(msg) = recovery_events.next() => {
                // A recovery moved servers: look at every participant now
                // rather than at the next poll.
                if let Ok(ev) = orc_bus::decode::<wire::RecoveryEvent>(&msg.subject, &msg.payload) {
                    let keys: Vec<InstanceKey> = ev
                        .participants
                        .iter()
                        .chain(ev.failed.iter())
                        .chain(ev.successor.iter())
                        .filter_map(|k| InstanceKey::try_from(k).ok())
                        .map(|k| view.probe_address_of(&view.identity_of(&k)))
                        .collect();
                    act(&cfg, &bus, &tracker, Vec::new(), keys).await;
                }
            }
            Some(msg) = peer_registries.next() => {
                if let Ok(reg) = orc_bus::decode::<wire::InstanceRegistry>(&msg.subject, &msg.payload)
                    && reg.analyzer_id != cfg.id
                    && shards.is_sharded()
                {
                    // Sharded peers hold other clusters: only where they
                    // put each instance is kept.
                    let keys = reg.keys.iter().enumerate().filter_map(|(i, k)| {
                        let key = InstanceKey::try_from(k).ok()?;
                        let b = reg.buckets.get(i).copied().unwrap_or_else(|| orc_bus::membership::home_bucket(&key));
                        Some((key, b))
                    });
                    shards.peer_registry(&reg.analyzer_id, keys, std::time::Instant::now());
                } else if let Ok(reg) = orc_bus::decode::<wire::InstanceRegistry>(&msg.subject, &msg.payload)
                    && reg.analyzer_id != cfg.id
                {
                    let now = wall_clock();
                    for key in reg.keys.iter().filter_map(|k| InstanceKey::try_from(k).ok()) {
                        if !cfg.discovery_filters.ignores(&key) && view.learn(&key, now) {
                            tracing::debug!(instance = %key, from = %reg.analyzer_id, "learned from a peer analyzer");
                        }
                    }
                }
            }
            Some(msg) = registry_get.next() => {
                let reg = registry(&cfg, &view, &shards);
                let _ = bus.respond(&msg, orc_bus::encode(&reg)).await;
                let _ = bus.publish(subjects::REGISTRY, orc_bus::encode(&reg)).await;
            }
            _ = debounce_tick.tick() => {
                let registry_every = Duration::from_micros(40 * view.len() as u64)
                    .max(Duration::from_millis(20));
                if registry_published.elapsed() >= registry_every && view.take_registry_changed() {
                    publish_registry(&cfg, &*bus, &view, &shards).await;
                    registry_published = std::time::Instant::now();
                }
                let waiting = if view.reshape_due() {
                    std::mem::take(&mut pending)
                } else {
                    Default::default()
                };
                for identity in waiting {
                    let (emits, probes) =
                        detector.evaluate_around(&view, &metadata, &identity, wall_clock());
                    if !emits.is_empty() {
                        flush_now(&mut view, &write_tx).await;
                    }
                    act_in_view(&cfg, &bus, &tracker, &view, emits, probes).await;
                }
            }
            _ = registry_tick.tick() => {
                publish_registry(&cfg, &*bus, &view, &shards).await;
            }
            _ = hot_tick.tick(), if detector.has_hot() => {
                let probes = detector.due_probes(&view, wall_clock());
                act(&cfg, &bus, &tracker, Vec::new(), probes).await;
            }
            _ = analysis_tick.tick() => {
                view.expire_awaiting(wall_clock());
                let (emits, probes) = detector.evaluate(&view, &metadata, wall_clock());
                if !emits.is_empty() {
                    flush_now(&mut view, &write_tx).await;
                }
                record_staleness(&view, wall_clock());
                act_in_view(&cfg, &bus, &tracker, &view, emits, probes).await;
                end_lost_in_recovery(&store, &*bus, &view, &mut metadata).await;
            }
            _ = flush_tick.tick() => {
                let upserts = view.take_dirty();
                if !upserts.is_empty() {
                    let _ = write_tx.send(writer::Job { upserts, deletes: Vec::new(), done: None }).await;
                }
            }
        }
    }
    for f in feeds.values() {
        f.cancel();
    }
    let upserts = view.take_all_dirty();
    let (done, wait) = oneshot::channel();
    let _ = write_tx
        .send(writer::Job {
            upserts,
            deletes: Vec::new(),
            done: Some(done),
        })
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
    drop(write_tx);
    drop(ctx);
    tracker.close();
    let _ = tokio::time::timeout(cfg.probe_timeout, tracker.wait()).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    tracing::info!(analyzer = %cfg.id, "analyzer stopped");
    Ok(())
}

/// Ends `lost-in-recovery` downtimes of servers seen replicating again (an
/// operator put them back), as orchestrator does.
async fn end_lost_in_recovery(
    store: &Store,
    bus: &dyn Bus,
    view: &View,
    metadata: &mut std::collections::BTreeMap<InstanceKey, orc_model::InstanceMetadata>,
) {
    let now = wall_clock();
    let back: Vec<InstanceKey> = metadata
        .iter()
        .filter(|(k, m)| {
            m.downtime
                .as_ref()
                .is_some_and(|d| d.reason == orc_model::LOST_IN_RECOVERY && d.is_active(now))
                && view.get(k).is_some_and(|s| {
                    s.last_error.is_none()
                        && s.data
                            .as_ref()
                            .is_some_and(orc_model::InstanceData::is_replicating)
                })
        })
        .map(|(k, _)| k.clone())
        .collect();
    if back.is_empty() {
        return;
    }
    for key in &back {
        match store
            .metadata()
            .update(key, now, |m| m.downtime = None)
            .await
        {
            Ok(m) => {
                tracing::info!(instance = %key, "replicating again: lost-in-recovery downtime ended");
                metadata.insert(key.clone(), m);
            }
            Err(e) => tracing::warn!(instance = %key, error = %e, "downtime not ended"),
        }
    }
    let ev = wire::MetadataChanged {
        keys: back.iter().map(Into::into).collect(),
    };
    let _ = bus
        .publish(subjects::METADATA_CHANGED, orc_bus::encode(&ev))
        .await;
}

/// Publishes findings (durably, off the loop) and asks owners to probe now.
/// Writes every changed state at once (verdicts the APIs must show now).
async fn flush_now(view: &mut View, write_tx: &mpsc::Sender<writer::Job>) {
    let upserts = view.take_dirty();
    if !upserts.is_empty() {
        let _ = write_tx
            .send(writer::Job {
                upserts,
                deletes: Vec::new(),
                done: None,
            })
            .await;
    }
}

/// Records how old each instance's newest snapshot is (fleet-wide
/// distribution and the oldest).
fn record_staleness(view: &View, now: orc_model::Timestamp) {
    let ages = view
        .states()
        .values()
        .filter_map(|s| s.last_checked.map(|at| now.since(at).as_secs_f64()));
    orc_telemetry::metrics::snapshot_staleness(ages);
}

/// [`act`], recording each finding's metrics with what the view knows of
/// the failed server.
async fn act_in_view(
    cfg: &AnalyzerConfig,
    bus: &Arc<dyn Bus>,
    tracker: &TaskTracker,
    view: &View,
    emits: Vec<detection::Emit>,
    probes: Vec<InstanceKey>,
) {
    let now = wall_clock();
    for e in &emits {
        // From the first failed observation of the server (its prober's
        // watch connection breaks at once when it dies) to the finding.
        let since = view.get(&e.analysis.key).and_then(|s| {
            s.failing_since
                .or(s.last_seen)
                .map(|at| now.since(at).as_secs_f64())
        });
        orc_telemetry::metrics::finding(e.analysis.code.as_str(), since);
    }
    act(cfg, bus, tracker, emits, probes).await;
}

async fn act(
    cfg: &AnalyzerConfig,
    bus: &Arc<dyn Bus>,
    tracker: &TaskTracker,
    emits: Vec<detection::Emit>,
    probes: Vec<InstanceKey>,
) {
    if !probes.is_empty() {
        let req = wire::ProbeRequest {
            keys: probes.iter().map(Into::into).collect(),
            reason: "failure detection".into(),
            full: false,
        };
        if let Err(e) = bus
            .publish(subjects::PROBE_NOW, orc_bus::encode(&req))
            .await
        {
            tracing::warn!(error = %e, "urgent probe request not published");
        }
    }
    for e in emits {
        let a = &e.analysis;
        tracing::info!(
            cluster = %a.cluster,
            instance = %a.key,
            analysis = %a.code,
            actionable = a.is_actionable,
            incident = %e.incident_id,
            "finding"
        );
        let finding = orc_proto::analysis::finding(
            a,
            &e.incident_id,
            &e.detection_id,
            e.new_detection,
            &cfg.id,
            wall_clock(),
        );
        let bus = bus.clone();
        // The root of a recovery's trace: the verdict, then its
        // publication; the recovery service continues it from the
        // finding's headers.
        let span = tracing::info_span!(
            "verdict",
            cluster = %a.cluster,
            instance = %a.key,
            analysis = %a.code,
            incident = %e.incident_id,
            actionable = a.is_actionable,
        );
        tracker.spawn(
            async move {
                publish_finding(&*bus, &finding).await;
            }
            .instrument(span),
        );
    }
}

/// How long a finding is retried while the findings stream cannot take it
/// (a NATS cluster re-electing the stream's leader after losing a node
/// takes seconds). The message id makes retries harmless.
const FINDING_PATIENCE: Duration = Duration::from_secs(60);

/// Publishes a finding on the durable stream, retrying until it is stored
/// or [`FINDING_PATIENCE`] has passed.
async fn publish_finding(bus: &dyn Bus, finding: &wire::Finding) {
    let started = std::time::Instant::now();
    let mut backoff = Duration::from_millis(50);
    let mut warned = false;
    loop {
        let payload = orc_bus::encode(finding);
        let stored = bus
            .publish_durable(
                &subjects::FINDINGS_STREAM,
                subjects::FINDINGS,
                &finding.incident_id,
                payload,
            )
            .await;
        match stored {
            Ok(_) => {
                if warned {
                    tracing::info!(incident = %finding.incident_id, waited = ?started.elapsed(), "finding published");
                }
                return;
            }
            Err(e) if started.elapsed() >= FINDING_PATIENCE => {
                tracing::error!(error = %e, incident = %finding.incident_id, "finding not published: gave up");
                return;
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, incident = %finding.incident_id, "finding not published yet: retrying");
                    warned = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn registry(cfg: &AnalyzerConfig, view: &View, shards: &shards::Shards) -> wire::InstanceRegistry {
    let buckets = if shards.is_sharded() {
        view.states()
            .values()
            .map(|st| {
                shards
                    .held_bucket(&st.key)
                    .unwrap_or_else(|| orc_bus::membership::home_bucket(st.probe_address()))
            })
            .collect()
    } else {
        Vec::new()
    };
    wire::InstanceRegistry {
        analyzer_id: cfg.id.clone(),
        generation: view.generation(),
        keys: view.probe_addresses().map(Into::into).collect(),
        sent_at_ms: wall_clock().as_millis(),
        buckets,
        sharded: shards.is_sharded(),
    }
}

async fn publish_registry(
    cfg: &AnalyzerConfig,
    bus: &dyn Bus,
    view: &View,
    shards: &shards::Shards,
) {
    if let Err(e) = bus
        .publish(
            subjects::REGISTRY,
            orc_bus::encode(&registry(cfg, view, shards)),
        )
        .await
    {
        tracing::warn!(error = %e, "registry not published");
    }
}

async fn reply_discover(
    bus: &dyn Bus,
    msg: &Message,
    error: String,
    snapshot: Option<wire::InstanceSnapshot>,
) {
    reply_discovered(bus, msg, error, snapshot, None).await;
}

async fn reply_discovered(
    bus: &dyn Bus,
    msg: &Message,
    error: String,
    snapshot: Option<wire::InstanceSnapshot>,
    identity: Option<&InstanceKey>,
) {
    let reply = wire::DiscoverReply {
        error,
        snapshot,
        identity: identity.map(Into::into),
    };
    let _ = bus.respond(msg, orc_bus::encode(&reply)).await;
}

async fn handle_discover(ctx: &Ctx, msg: Message) {
    let key = orc_bus::decode::<wire::DiscoverRequest>(&msg.subject, &msg.payload)
        .ok()
        .and_then(|r| r.key)
        .map(|k| InstanceKey::try_from(&k));
    let key = match key {
        Some(Ok(k)) => ctx.cfg.resolver.key(&k).await,
        Some(Err(e)) => return reply_discover(&*ctx.bus, &msg, e.to_string(), None).await,
        None => {
            return reply_discover(
                &*ctx.bus,
                &msg,
                "discover needs an instance key".into(),
                None,
            )
            .await;
        }
    };
    if ctx.cfg.discovery_filters.ignores(&key) {
        let why = format!("{key} matches DiscoveryIgnoreHostnameFilters: not discovered");
        return reply_discover(&*ctx.bus, &msg, why, None).await;
    }
    let (tx, rx) = oneshot::channel();
    if ctx
        .internal
        .send(Internal::Add(key.clone(), tx))
        .await
        .is_err()
    {
        return reply_discover(&*ctx.bus, &msg, "analyzer is stopping".into(), None).await;
    }
    let was_new = rx.await.unwrap_or(false);
    let req = orc_bus::encode(&wire::ProbeOneRequest {
        key: Some((&key).into()),
    });
    let answer = orc_bus::request_patiently(
        &*ctx.bus,
        subjects::PROBE_ONE,
        req,
        ctx.cfg.probe_timeout,
        Duration::from_secs(3),
    )
    .await;
    let snapshot = match answer {
        Ok(bytes) => orc_bus::decode::<wire::InstanceSnapshot>(subjects::PROBE_ONE, &bytes)
            .map_err(|e| e.to_string())
            .and_then(|w| {
                InstanceSnapshot::try_from(&w)
                    .map(|s| (w, s))
                    .map_err(|e| e.to_string())
            }),
        Err(orc_bus::Error::NoResponders { .. }) => {
            Err("no prober is running to discover the instance".into())
        }
        Err(e) => Err(e.to_string()),
    };
    let (wire_snap, snap) = match snapshot {
        Ok(s) => s,
        Err(e) => {
            if was_new {
                let _ = ctx.internal.send(Internal::Drop(key)).await;
            }
            return reply_discover(&*ctx.bus, &msg, e, None).await;
        }
    };
    if let orc_model::ProbeOutcome::Failed(err) = &snap.outcome {
        if was_new {
            let _ = ctx.internal.send(Internal::Drop(key)).await;
        }
        return reply_discover(&*ctx.bus, &msg, err.message.clone(), Some(wire_snap)).await;
    }
    let (tx, rx) = oneshot::channel();
    let stored = match ctx.internal.send(Internal::Apply(Box::new(snap), tx)).await {
        Ok(()) => rx
            .await
            .unwrap_or_else(|_| Err("analyzer is stopping".into())),
        Err(_) => Err("analyzer is stopping".into()),
    };
    match stored {
        Ok(identity) => {
            reply_discovered(
                &*ctx.bus,
                &msg,
                String::new(),
                Some(wire_snap),
                Some(&identity),
            )
            .await
        }
        Err(e) => {
            reply_discover(
                &*ctx.bus,
                &msg,
                format!("instance discovered but not stored: {e}"),
                Some(wire_snap),
            )
            .await
        }
    }
}

async fn handle_forget(
    cfg: &AnalyzerConfig,
    bus: &dyn Bus,
    view: &mut View,
    shards: &shards::Shards,
    writes: &mpsc::Sender<writer::Job>,
    msg: Message,
) {
    let reply = |error: String, forgotten: Vec<InstanceKey>| wire::ForgetReply {
        error,
        forgotten: forgotten.iter().map(Into::into).collect(),
    };
    let Ok(req) = orc_bus::decode::<wire::ForgetRequest>(&msg.subject, &msg.payload) else {
        let _ = bus
            .respond(
                &msg,
                orc_bus::encode(&reply("malformed forget request".into(), vec![])),
            )
            .await;
        return;
    };
    let mut keys: Vec<InstanceKey> = req
        .keys
        .iter()
        .filter_map(|k| InstanceKey::try_from(k).ok())
        .collect();
    if !req.cluster.is_empty() {
        keys.extend(view.cluster_members(&req.cluster));
    }
    let gone = view.forget(&keys, wall_clock(), cfg.forget_ttl);
    if gone.is_empty() {
        let what = if req.cluster.is_empty() {
            keys.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            format!("cluster {}", req.cluster)
        };
        let _ = bus
            .respond(
                &msg,
                orc_bus::encode(&reply(format!("not found: {what}"), vec![])),
            )
            .await;
        return;
    }
    let (done, wait) = oneshot::channel();
    let _ = writes
        .send(writer::Job {
            upserts: Vec::new(),
            deletes: gone.clone(),
            done: Some(done),
        })
        .await;
    let written = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .map_err(|_| "store did not answer".to_string())
        .and_then(|r| r.unwrap_or_else(|_| Err("store writer stopped".into())));
    let event = wire::ForgetEvent {
        keys: gone.iter().map(Into::into).collect(),
        analyzer_id: cfg.id.clone(),
    };
    let _ = bus
        .publish(subjects::FORGOTTEN, orc_bus::encode(&event))
        .await;
    publish_registry(cfg, bus, view, shards).await;
    let error = written
        .err()
        .map(|e| format!("forgotten, but not removed from the store: {e}"))
        .unwrap_or_default();
    let _ = bus
        .respond(&msg, orc_bus::encode(&reply(error, gone)))
        .await;
}

/// The next snapshot: from the one subscription of an unsharded analyzer,
/// or from the feeds of a sharded one's buckets.
async fn next_snapshot(
    direct: &mut Option<orc_bus::Subscription>,
    fed: &mut mpsc::Receiver<Message>,
) -> Option<Message> {
    match direct {
        Some(sub) => sub.next().await,
        None => fed.recv().await,
    }
}

/// The next live set of analyzers (sharded analyzers only).
async fn next_live(
    rx: &mut Option<tokio::sync::watch::Receiver<Option<Vec<String>>>>,
) -> Option<Vec<String>> {
    let Some(rx) = rx else {
        return std::future::pending().await;
    };
    loop {
        rx.changed().await.ok()?;
        if let Some(live) = rx.borrow_and_update().clone() {
            return Some(live);
        }
    }
}

/// Keeps a sharded analyzer's buckets right after a snapshot was folded
/// in: instances it named start in its bucket (or are left to the peer
/// holding them), and an instance linked to a smaller bucket moves there,
/// handed over to that bucket's holders when they are others.
#[allow(clippy::too_many_arguments)]
fn place_in_shards(
    shards: &mut shards::Shards,
    view: &mut View,
    address: &InstanceKey,
    got: &view::Ingested,
    handing: &mut std::collections::HashSet<InstanceKey>,
    bus: &Arc<dyn Bus>,
    tracker: &TaskTracker,
    internal: &mpsc::Sender<Internal>,
) {
    let Some(identity) = &got.identity else {
        return;
    };
    if shards.held_bucket(identity).is_none() {
        // Known by its address until this probe told its identity.
        let b = shards
            .held_bucket(address)
            .unwrap_or_else(|| shards.route(identity, address));
        shards.release(address);
        shards.hold(identity, b);
    }
    for named in &got.discovered {
        let b = shards.initial_bucket(named, Some(identity));
        if shards.owns(b) && !shards.held_elsewhere(named) {
            shards.hold(named, b);
        } else {
            // Another analyzer holds it: it is theirs to probe and judge.
            view.drop_key(named);
        }
    }
    let Some(state) = view.get(identity) else {
        return;
    };
    let Some(to) = shards.settle(state) else {
        return;
    };
    if shards.owns(to) {
        shards.hold(identity, to);
        view.mark_registry_changed();
        return;
    }
    if !handing.insert(identity.clone()) {
        return;
    }
    let req = wire::AdoptRequest {
        keys: vec![state.probe_address().into()],
        bucket: to,
    };
    let (bus, internal, identity) = (bus.clone(), internal.clone(), identity.clone());
    tracker.spawn(async move {
        let subject = subjects::shard_request(to, "adopt");
        let done = match bus
            .request(&subject, orc_bus::encode(&req), Duration::from_secs(2))
            .await
        {
            Ok(bytes) => match orc_bus::decode::<wire::AdoptReply>(&subject, &bytes) {
                Ok(r) if r.error.is_empty() => true,
                Ok(r) => {
                    tracing::debug!(instance = %identity, bucket = to, error = %r.error, "not handed over yet");
                    false
                }
                Err(_) => false,
            },
            Err(e) => {
                tracing::debug!(instance = %identity, bucket = to, error = %e, "not handed over yet");
                false
            }
        };
        if done {
            tracing::info!(instance = %identity, bucket = to, "instance handed to the holder of its cluster's bucket");
        }
        let _ = internal.send(Internal::Handed(identity, done)).await;
    });
}

/// Takes instances handed over by a peer into a held bucket; an error
/// message when refused (then nothing changes: every key is checked
/// before any is taken).
fn adopt(shards: &mut shards::Shards, view: &mut View, msg: &Message) -> String {
    let req = match orc_bus::decode::<wire::AdoptRequest>(&msg.subject, &msg.payload) {
        Ok(r) => r,
        Err(e) => return format!("malformed adopt request: {e}"),
    };
    if req.bucket >= orc_bus::membership::SHARD_BUCKETS {
        return format!(
            "bucket {} does not exist (0..{})",
            req.bucket,
            orc_bus::membership::SHARD_BUCKETS - 1
        );
    }
    if !shards.owns(req.bucket) {
        return format!("bucket {} is not held here", req.bucket);
    }
    if req.keys.is_empty() {
        return "no instance to adopt".into();
    }
    let mut keys = Vec::with_capacity(req.keys.len());
    for k in &req.keys {
        match InstanceKey::try_from(k) {
            Ok(key) => keys.push(key),
            Err(e) => return format!("malformed instance key {}:{}: {e}", k.hostname, k.port),
        }
    }
    let now = wall_clock();
    for key in keys {
        view.learn(&key, now);
        let identity = view.identity_of(&key);
        if view.get(&identity).is_some() {
            shards.hold(&identity, req.bucket);
        }
    }
    view.mark_registry_changed();
    String::new()
}

/// The bucket a request is about, when a sharded analyzer holds neither
/// the instance nor its bucket: the request goes to the bucket's holders.
fn elsewhere(shards: &shards::Shards, view: &View, key: Option<&InstanceKey>) -> Option<u32> {
    if !shards.is_sharded() {
        return None;
    }
    let key = key?;
    let identity = view.identity_of(key);
    if view.get(&identity).is_some() {
        return None;
    }
    let bucket = shards.route(&identity, key);
    (!shards.owns(bucket)).then_some(bucket)
}

fn discover_key(msg: &Message) -> Option<InstanceKey> {
    orc_bus::decode::<wire::DiscoverRequest>(&msg.subject, &msg.payload)
        .ok()?
        .key
        .and_then(|k| InstanceKey::try_from(&k).ok())
}

/// A forget's cluster (its master's key) or its first instance.
fn forget_key(msg: &Message) -> Option<InstanceKey> {
    let req = orc_bus::decode::<wire::ForgetRequest>(&msg.subject, &msg.payload).ok()?;
    if req.cluster.is_empty() {
        req.keys.first().and_then(|k| InstanceKey::try_from(k).ok())
    } else {
        InstanceKey::parse(&req.cluster).ok()
    }
}

/// A brief's instance, or its cluster's master.
fn brief_key(msg: &Message) -> Option<InstanceKey> {
    let req = orc_bus::decode::<wire::ClusterBriefRequest>(&msg.subject, &msg.payload).ok()?;
    match &req.instance {
        Some(k) => InstanceKey::try_from(k).ok(),
        None => InstanceKey::parse(&req.cluster).ok(),
    }
}

/// How long a request passed on to a bucket's holders waits for one to
/// subscribe (a dead holder's buckets move within a second or two).
const HOLDER_PATIENCE: Duration = Duration::from_secs(4);

/// Passes a request on to the holders of `bucket` and relays their answer;
/// `failed` encodes the answer when none comes.
fn pass_on(
    bus: &Arc<dyn Bus>,
    tracker: &TaskTracker,
    msg: Message,
    bucket: u32,
    verb: &'static str,
    timeout: Duration,
    failed: impl FnOnce(String) -> bytes::Bytes + Send + 'static,
) {
    let bus = bus.clone();
    tracker.spawn(async move {
        let subject = subjects::shard_request(bucket, verb);
        // While a dead holder's buckets are being taken over, nobody
        // answers for a moment: wait for the new holder.
        let answer = match orc_bus::request_patiently(
            &*bus,
            &subject,
            msg.payload.clone(),
            timeout,
            HOLDER_PATIENCE,
        )
        .await
        {
            Ok(bytes) => bytes,
            Err(orc_bus::Error::NoResponders { .. }) => failed(format!(
                "no analyzer holds shard bucket {bucket} right now (its holder is being replaced): try again"
            )),
            Err(e) => failed(format!("asking the analyzer holding shard bucket {bucket}: {e}")),
        };
        let _ = bus.respond(&msg, answer).await;
    });
}

/// Divides the buckets anew: feeds of gained buckets start and their
/// instances are taken in (with their stored states); instances of lost
/// buckets are written and let go.
#[allow(clippy::too_many_arguments)]
async fn rebalance(
    cfg: &AnalyzerConfig,
    bus: &Arc<dyn Bus>,
    store: &Store,
    tracker: &TaskTracker,
    shards: &mut shards::Shards,
    view: &mut View,
    write_tx: &mpsc::Sender<writer::Job>,
    feeds: &mut std::collections::HashMap<u32, CancellationToken>,
    fed_tx: &mpsc::Sender<Message>,
    shard_tx: &mpsc::Sender<Message>,
    internal: &mpsc::Sender<Internal>,
) {
    let r = shards.rebalance();
    if r.gained.is_empty() && r.lost.is_empty() {
        return;
    }
    for b in &r.lost {
        if let Some(f) = feeds.remove(b) {
            f.cancel();
        }
    }
    for b in &r.gained {
        let token = CancellationToken::new();
        match bus.subscribe(&subjects::snapshot(*b)).await {
            Ok(sub) => feed(sub, fed_tx.clone(), token.clone()),
            Err(e) => tracing::error!(bucket = b, error = %e, "shard bucket not subscribed"),
        }
        match bus
            .queue_subscribe(&subjects::shard_requests(*b), subjects::ANALYZERS)
            .await
        {
            Ok(sub) => feed(sub, shard_tx.clone(), token.clone()),
            Err(e) => tracing::error!(bucket = b, error = %e, "shard requests not subscribed"),
        }
        feeds.insert(*b, token);
    }
    // Instances of buckets no longer held go to their holders: written
    // first, so the store has the last of what was seen here.
    let owned: Vec<u32> = shards.owned().collect();
    let gone: Vec<InstanceKey> = view
        .states()
        .keys()
        .filter(|k| shards.held_bucket(k).is_none_or(|b| !owned.contains(&b)))
        .cloned()
        .collect();
    if !gone.is_empty() {
        flush_now(view, write_tx).await;
        for k in &gone {
            view.drop_key(k);
            shards.release(k);
        }
    }
    let now = wall_clock();
    let mut taken = Vec::new();
    // No finding about a taken server until it is probed here: its stored
    // row is older than what its former holder saw. Whole snapshots are
    // asked for below; two polls is long enough for them.
    let until = now.plus(cfg.poll_interval * 2 + Duration::from_secs(1));
    for (address, b) in shards.instances_in(&r.gained) {
        if view.learn(&address, now) {
            taken.push(address.clone());
            view.await_first_probe(&address, until);
        }
        shards.hold(&view.identity_of(&address), b);
    }
    shards.drop_departed_peers();
    view.mark_registry_changed();
    // The store may be older than what the probers last sent whole to the
    // buckets' former holder: probe them now, whole.
    let fresh: Vec<InstanceKey> = view
        .states()
        .values()
        .filter(|st| {
            shards
                .held_bucket(&st.key)
                .is_some_and(|b| r.gained.contains(&b))
        })
        .map(|st| st.probe_address().clone())
        .collect();
    if !fresh.is_empty() {
        ask_whole_snapshots(&**bus, fresh, "shard takeover").await;
    }
    tracing::info!(
        analyzer = %cfg.id,
        gained = r.gained.len(),
        lost = r.lost.len(),
        held_buckets = owned.len(),
        taken_over = taken.len(),
        let_go = gone.len(),
        "shard buckets rebalanced"
    );
    if !taken.is_empty() {
        let (store, internal) = (store.clone(), internal.clone());
        tracker.spawn(async move {
            // Only the taken instances' rows: the store holds the whole
            // fleet, and a takeover is already a burst.
            match restored(&store, taken).await {
                Ok(mine) => {
                    let _ = internal.send(Internal::Restore(mine)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "stored states of instances taken over not read")
                }
            }
        });
    }
    publish_registry(cfg, &**bus, view, shards).await;
}

/// The stored states of instances taken over, named by probe address.
/// Rows are keyed by identity: read by address first, and only when some
/// address matched no row (an identity that differs from its address, or
/// an instance not stored yet) is every row read and matched by address.
async fn restored(
    store: &Store,
    taken: Vec<InstanceKey>,
) -> Result<Vec<orc_store::StoredInstance>, orc_store::Error> {
    let rows = store.instances().get_many(&taken).await?;
    let found: std::collections::HashSet<&InstanceKey> = rows
        .iter()
        .flat_map(|s| [&s.state.key, s.state.probe_address()])
        .collect();
    if taken.iter().all(|k| found.contains(k)) {
        return Ok(rows);
    }
    let wanted: std::collections::HashSet<InstanceKey> = taken.into_iter().collect();
    Ok(store
        .instances()
        .all()
        .await?
        .into_iter()
        .filter(|s| wanted.contains(&s.state.key) || wanted.contains(s.state.probe_address()))
        .collect())
}

/// Forwards a subscription's messages into a channel until stopped
/// (dropping the subscription unsubscribes).
fn feed(mut sub: orc_bus::Subscription, tx: mpsc::Sender<Message>, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                m = sub.next() => match m {
                    Some(m) => {
                        if tx.send(m).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
            }
        }
    });
}

/// Asks probers for whole (never compacted) snapshots of `keys` now, or of
/// every instance at its next probe when `keys` is empty.
async fn ask_whole_snapshots(bus: &dyn Bus, keys: Vec<InstanceKey>, reason: &str) {
    let req = wire::ProbeRequest {
        keys: keys.iter().map(Into::into).collect(),
        reason: reason.into(),
        full: true,
    };
    if let Err(e) = bus
        .publish(subjects::PROBE_NOW, orc_bus::encode(&req))
        .await
    {
        tracing::warn!(error = %e, "request for whole snapshots not published");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(keys: &[(&str, u32)], bucket: u32) -> Message {
        let req = wire::AdoptRequest {
            keys: keys
                .iter()
                .map(|(h, p)| wire::InstanceKey {
                    hostname: (*h).to_string(),
                    port: *p,
                })
                .collect(),
            bucket,
        };
        Message {
            subject: subjects::shard_request(bucket, "adopt"),
            reply: None,
            payload: orc_bus::encode(&req),
            trace: Vec::new(),
        }
    }

    #[test]
    fn the_whole_fleet_pass_follows_the_poll() {
        assert_eq!(analysis_interval(1.0), Duration::from_secs(1));
        assert_eq!(analysis_interval(0.5), Duration::from_secs(1));
        assert_eq!(analysis_interval(10.0), Duration::from_millis(2500));
        assert_eq!(analysis_interval(60.0), Duration::from_secs(5));
        assert_eq!(analysis_interval(f64::NAN), Duration::from_secs(1));
    }

    #[test]
    fn a_refused_adoption_changes_nothing() {
        // Unsharded bookkeeping holds every bucket.
        let mut shards = shards::Shards::new("a1", 0);
        let mut view = View::default();
        let garbage = Message {
            payload: bytes::Bytes::from_static(b"\xff\xff not protobuf"),
            ..request(&[], 3)
        };
        for (msg, why) in [
            (garbage, "malformed adopt request"),
            (request(&[("db1", 3306)], 64), "bucket 64 does not exist"),
            (request(&[], 3), "no instance"),
            (
                request(&[("db1", 3306), ("", 3306)], 3),
                "malformed instance key",
            ),
            (
                request(&[("db1", 3306), ("db2", 70000)], 3),
                "malformed instance key db2:70000",
            ),
        ] {
            let error = adopt(&mut shards, &mut view, &msg);
            assert!(error.contains(why), "{why}: {error}");
            assert!(view.is_empty(), "{why}: nothing learnt");
        }
        // Sharded, before any membership: no bucket held yet.
        let mut sharded = shards::Shards::new("a1", 1);
        let error = adopt(&mut sharded, &mut view, &request(&[("db1", 3306)], 3));
        assert_eq!(error, "bucket 3 is not held here");
        assert!(view.is_empty());

        let error = adopt(&mut shards, &mut view, &request(&[("db1", 3306)], 3));
        assert_eq!(error, "");
        let key = InstanceKey::new("db1", 3306).unwrap();
        assert!(view.get(&key).is_some(), "adopted");
        assert_eq!(shards.held_bucket(&key), Some(3));
    }
}

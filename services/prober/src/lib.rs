//! The prober: probes the MySQL servers it owns and publishes what it saw.
//!
//! Stateless apart from its connections. It learns the instances to probe
//! from analyzers' registry, learns its peers from their heartbeats (and of
//! a peer's death from the bus: nobody answers on the peer's liveness
//! subject any more), owns an instance when rendezvous hashing over live
//! peers says so ([`orc_bus::membership`]), and runs one task per owned instance that
//! probes over a persistent connection every `InstancePollSeconds` and on
//! demand. The next prober in rank for an instance stands by with a
//! connection open, so it probes at once when the owner dies. Any prober
//! answers a "probe this one now" request (used by `discover`).
//! Snapshots go out on the subject of the instance's shard bucket, as the
//! registry that names it says: the analyzer holding that bucket gets them.
//! It holds topology credentials only: no backend access.
//!
//! Entry point: [`run`] with a [`ProberConfig`], a bus and a shutdown token.

mod grid;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use orc_bus::{Bus, subjects};
use orc_model::InstanceKey;
use orc_mysql::{ConnectOptions, ProbeSettings, TopologyAccess};
use orc_proto::v1 as wire;
use orc_runtime::{Config, wall_clock};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use orc_bus::membership::{Membership, Role};

/// What a prober needs to know.
#[derive(Debug, Clone)]
pub struct ProberConfig {
    /// Unique id among probers.
    pub id: String,
    /// Failure domain (reported in snapshots as part of the vantage).
    pub vantage: String,
    /// Probe interval.
    pub poll_interval: Duration,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// A peer silent this long is considered dead.
    pub membership_ttl: Duration,
    /// Credentials, connect timeout and TLS for topology servers.
    pub access: TopologyAccess,
    /// Per-statement timeout while probing.
    pub read_timeout: Duration,
    /// Extra queries and patterns.
    pub probe: ProbeSettings,
    /// How many probers probe each instance (vantage points).
    pub probers_per_instance: usize,
    /// `HostnameResolveMethod` applied to the hosts a server names.
    pub resolver: Arc<orc_runtime::resolve::Resolver>,
    /// Whether the next prober in rank keeps a connection to each instance.
    pub standby_connections: bool,
}

impl ProberConfig {
    /// Derives the prober's settings from the process configuration.
    pub fn from_config(c: &Config) -> Self {
        let id = if c.prober_id.is_empty() {
            format!("prober-{}-{}", hostname(), std::process::id())
        } else {
            c.prober_id.clone()
        };
        Self {
            vantage: if c.prober_vantage.is_empty() {
                id.clone()
            } else {
                c.prober_vantage.clone()
            },
            id,
            poll_interval: c.poll_interval(),
            heartbeat_interval: Duration::from_millis(c.prober_heartbeat_milliseconds),
            membership_ttl: Duration::from_millis(c.prober_membership_ttl_milliseconds),
            access: TopologyAccess::from_config(c),
            probers_per_instance: usize::try_from(c.probers_per_instance.max(1)).unwrap_or(1),
            read_timeout: Duration::from_secs_f64(c.mysql_discovery_read_timeout_seconds),
            probe: ProbeSettings::from_config(c),
            resolver: Arc::new(orc_runtime::resolve::Resolver::from_config(c)),
            standby_connections: c.prober_standby_connections,
        }
    }

    pub(crate) fn connect_options(&self, key: &InstanceKey) -> ConnectOptions {
        self.access.options(key, self.read_timeout)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Why a prober stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] orc_bus::Error),
}

struct Worker {
    wake: Arc<Notify>,
    stop: CancellationToken,
    /// An owner probes; otherwise the worker stands by.
    active: Arc<AtomicBool>,
    /// The shard bucket its snapshots are published in.
    bucket: Arc<AtomicU32>,
    /// Its next snapshot goes out whole.
    full: Arc<AtomicBool>,
    /// Others replicate from it (as last seen).
    source: Arc<AtomicBool>,
}

/// How long an analyzer's registry counts after it was last received. An
/// analyzer re-publishes its registry every 10 s; one that died leaves its
/// instances probed meanwhile, so the analyzer taking its shards over finds
/// fresh snapshots of them.
const REGISTRY_KEEP: Duration = Duration::from_secs(30);

/// The registries of the analyzers, and their union: every instance some
/// live analyzer holds, with its shard bucket.
#[derive(Debug, Default)]
struct Registries {
    by_analyzer: HashMap<String, (Instant, HashMap<InstanceKey, u32>)>,
    union: HashMap<InstanceKey, u32>,
}

impl Registries {
    /// Takes an analyzer's registry in; returns whether the union changed.
    fn receive(&mut self, reg: &wire::InstanceRegistry, now: Instant) -> bool {
        let keys = reg.keys.iter().enumerate().filter_map(|(i, k)| {
            let key = InstanceKey::try_from(k).ok()?;
            let bucket = reg
                .buckets
                .get(i)
                .copied()
                .unwrap_or_else(|| orc_bus::membership::home_bucket(&key));
            Some((key, bucket))
        });
        self.by_analyzer
            .insert(reg.analyzer_id.clone(), (now, keys.collect()));
        self.recompute()
    }

    /// Drops registries not heard of for [`REGISTRY_KEEP`] (unless it is
    /// the only one); returns whether the union changed.
    fn expire(&mut self, now: Instant) -> bool {
        let before = self.by_analyzer.len();
        if before > 1 {
            self.by_analyzer
                .retain(|_, (at, _)| now.duration_since(*at) < REGISTRY_KEEP);
        }
        before != self.by_analyzer.len() && self.recompute()
    }

    fn recompute(&mut self) -> bool {
        let mut regs: Vec<&(Instant, HashMap<InstanceKey, u32>)> =
            self.by_analyzer.values().collect();
        // The newest registry names a moved instance's bucket.
        regs.sort_by_key(|(at, _)| *at);
        let mut union = HashMap::with_capacity(self.union.len());
        for (_, keys) in regs {
            union.extend(keys.iter().map(|(k, b)| (k.clone(), *b)));
        }
        let changed = union != self.union;
        self.union = union;
        changed
    }
}

/// How often a prober asks each peer whether it lives. The bus answers
/// "no responders" at once when the peer's connection is gone (killed,
/// crashed, cut off), so its instances move within this much of its death
/// rather than after its heartbeats' TTL.
const LIVENESS_EVERY: Duration = Duration::from_millis(200);

/// Runs a prober until `shutdown` is cancelled.
pub async fn run(
    cfg: ProberConfig,
    bus: Arc<dyn Bus>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let cfg = Arc::new(cfg);
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
    // Peers ask here whether this prober lives; the subscription exists
    // before the first heartbeat announces that it answers.
    let mut alive = bus.subscribe(&subjects::prober_alive(&cfg.id)).await?;
    {
        let (bus, stop) = (bus.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    m = alive.next() => match m {
                        Some(m) => {
                            let _ = bus.respond(&m, bytes::Bytes::new()).await;
                        }
                        None => return,
                    },
                }
            }
        });
    }
    let mut heartbeats = bus.subscribe(subjects::PROBER_HEARTBEAT).await?;
    let mut registry_sub = bus.subscribe(subjects::REGISTRY).await?;
    let mut probe_now = bus.subscribe(subjects::PROBE_NOW).await?;
    let mut probe_one = bus
        .queue_subscribe(subjects::PROBE_ONE, subjects::PROBERS)
        .await?;
    bus.flush().await?;
    tracing::info!(prober = %cfg.id, vantage = %cfg.vantage, "prober started");

    let tracker = TaskTracker::new();
    let started_at = wall_clock();
    let mut membership = Membership::new(&cfg.id);
    let mut registries = Registries::default();
    let mut workers: HashMap<InstanceKey, Worker> = HashMap::new();
    // Heartbeats share the polls' time grid and timer (one wake-up for both).
    let grid = grid::Grid::start(shutdown.child_token());
    let mut heartbeat_at = worker::aligned(cfg.heartbeat_interval);
    let mut liveness_at = worker::aligned(LIVENESS_EVERY);
    let (gone_tx, mut gone_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let shared = worker::Shared {
        cfg: cfg.clone(),
        bus: bus.clone(),
        grid: grid.clone(),
        connects: Arc::new(tokio::sync::Semaphore::new(worker::CONNECTS_IN_FLIGHT)),
    };
    let mut registry_ask = tokio::time::interval(Duration::from_secs(1));
    let mut registry_seen = false;
    let mut dirty = true;

    loop {
        if dirty {
            assign(
                &shared,
                &tracker,
                &membership,
                &registries.union,
                &mut workers,
            );
            dirty = false;
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = grid.sleep_until(heartbeat_at) => {
                heartbeat_at = worker::aligned(cfg.heartbeat_interval);
                let owned = workers.values().filter(|w| w.active.load(Ordering::Relaxed)).count();
                publish_heartbeat(&*bus, &cfg, started_at, owned, false).await;
                dirty |= membership.expire(Instant::now());
                dirty |= registries.expire(Instant::now());
            }
            () = grid.sleep_until(liveness_at) => {
                liveness_at = worker::aligned(LIVENESS_EVERY);
                for peer in membership.answering_peers() {
                    let (bus, gone) = (bus.clone(), gone_tx.clone());
                    tracker.spawn(async move {
                        let subject = subjects::prober_alive(&peer);
                        if let Err(orc_bus::Error::NoResponders { .. }) =
                            bus.request(&subject, bytes::Bytes::new(), LIVENESS_EVERY).await
                        {
                            let _ = gone.send(peer);
                        }
                    });
                }
            }
            Some(peer) = gone_rx.recv() => {
                if membership.depart(&peer, cfg.heartbeat_interval, Instant::now()) {
                    tracing::info!(prober = %cfg.id, peer = %peer, "peer prober gone from the bus; taking over its instances");
                    dirty = true;
                }
            }
            _ = registry_ask.tick(), if !registry_seen => {
                ask_registry(bus.clone(), &tracker);
            }
            Some(msg) = heartbeats.next() => {
                if let Ok(hb) = orc_bus::decode::<wire::ProberHeartbeat>(&msg.subject, &msg.payload) {
                    let ttl = Duration::from_millis(u64::from(hb.ttl_ms));
                    dirty |= membership.observe(&hb.prober_id, ttl, hb.leaving, Instant::now());
                    membership.set_answering(&hb.prober_id, hb.answers_liveness && !hb.leaving);
                }
            }
            Some(msg) = registry_sub.next() => {
                if let Ok(reg) = orc_bus::decode::<wire::InstanceRegistry>(&msg.subject, &msg.payload) {
                    registry_seen = true;
                    dirty |= registries.receive(&reg, Instant::now());
                }
            }
            Some(msg) = probe_now.next() => {
                if let Ok(req) = orc_bus::decode::<wire::ProbeRequest>(&msg.subject, &msg.payload) {
                    if req.full && req.keys.is_empty() {
                        for w in workers.values() {
                            w.full.store(true, Ordering::Release);
                        }
                    }
                    let asked: Vec<&Worker> = req
                        .keys
                        .iter()
                        .filter_map(|k| InstanceKey::try_from(k).ok())
                        .filter_map(|k| workers.get(&k))
                        .filter(|w| w.active.load(Ordering::Relaxed))
                        .collect();
                    // Sources first: an analyzer taking thousands over
                    // learns of a crashed master before the rest arrive.
                    for sources_now in [true, false] {
                        for w in asked.iter().filter(|w| w.source.load(Ordering::Relaxed) == sources_now) {
                            if req.full {
                                w.full.store(true, Ordering::Release);
                            }
                            w.wake.notify_one();
                        }
                    }
                }
            }
            Some(msg) = probe_one.next() => {
                let (bus, cfg) = (bus.clone(), cfg.clone());
                let bucket = worker::requested_key(&msg).and_then(|k| registries.union.get(&k).copied());
                tracker.spawn(async move {
                    worker::probe_one(&cfg, &*bus, msg, |k| {
                        bucket.unwrap_or_else(|| orc_bus::membership::home_bucket(k))
                    })
                    .await;
                });
            }
        }
    }
    publish_heartbeat(&*bus, &cfg, started_at, 0, true).await;
    let _ = bus.flush().await;
    for w in workers.values() {
        w.stop.cancel();
    }
    tracker.close();
    let _ = tokio::time::timeout(cfg.read_timeout + Duration::from_secs(1), tracker.wait()).await;
    tracing::info!(prober = %cfg.id, "prober stopped");
    Ok(())
}

/// Starts, stops, promotes and demotes workers to match my roles under the
/// current membership: an owner probes; the next prober in rank stands by
/// with a connection open (unless standby connections are off).
fn assign(
    shared: &worker::Shared,
    tracker: &TaskTracker,
    membership: &Membership,
    registry: &HashMap<InstanceKey, u32>,
    workers: &mut HashMap<InstanceKey, Worker>,
) {
    let cfg = &shared.cfg;
    let live = membership.live();
    let k = cfg.probers_per_instance.max(1);
    let standby = cfg.standby_connections && live.len() > k;
    let roles: HashMap<&InstanceKey, Role> = registry
        .keys()
        .filter_map(|key| membership.role(&live, key, k).map(|r| (key, r)))
        .filter(|(_, r)| standby || *r == Role::Owner)
        .collect();
    workers.retain(|key, w| match roles.get(key) {
        None => {
            w.stop.cancel();
            false
        }
        Some(role) => {
            if let Some(b) = registry.get(key) {
                w.bucket.store(*b, Ordering::Relaxed);
            }
            let owner = *role == Role::Owner;
            if w.active.swap(owner, Ordering::AcqRel) != owner {
                w.wake.notify_one();
            }
            true
        }
    });
    for (key, role) in &roles {
        if workers.contains_key(*key) {
            continue;
        }
        let wake = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let active = Arc::new(AtomicBool::new(*role == Role::Owner));
        let bucket = Arc::new(AtomicU32::new(registry.get(*key).copied().unwrap_or(0)));
        let full = Arc::new(AtomicBool::new(false));
        let source = Arc::new(AtomicBool::new(false));
        tracker.spawn(worker::run(
            shared.clone(),
            (*key).clone(),
            worker::Control {
                wake: wake.clone(),
                stop: stop.clone(),
                active: active.clone(),
                bucket: bucket.clone(),
                full: full.clone(),
                source: source.clone(),
            },
        ));
        workers.insert(
            (*key).clone(),
            Worker {
                wake,
                stop,
                active,
                bucket,
                full,
                source,
            },
        );
    }
    let owned = roles.values().filter(|r| **r == Role::Owner).count();
    worker::set_owned(owned);
    orc_telemetry::metrics::instances_probed(owned);
}

async fn publish_heartbeat(
    bus: &dyn Bus,
    cfg: &ProberConfig,
    started_at: orc_model::Timestamp,
    owned: usize,
    leaving: bool,
) {
    let hb = wire::ProberHeartbeat {
        prober_id: cfg.id.clone(),
        vantage: cfg.vantage.clone(),
        started_at_ms: started_at.as_millis(),
        sent_at_ms: wall_clock().as_millis(),
        ttl_ms: u32::try_from(cfg.membership_ttl.as_millis()).unwrap_or(u32::MAX),
        owned: u32::try_from(owned).unwrap_or(u32::MAX),
        leaving,
        answers_liveness: true,
    };
    if let Err(e) = bus
        .publish(subjects::PROBER_HEARTBEAT, orc_bus::encode(&hb))
        .await
    {
        tracing::warn!(error = %e, "heartbeat not published");
    }
}

fn ask_registry(bus: Arc<dyn Bus>, tracker: &TaskTracker) {
    tracker.spawn(async move {
        let req = orc_bus::encode(&wire::RegistryRequest {});
        match bus
            .request(subjects::REGISTRY_GET, req, Duration::from_secs(2))
            .await
        {
            // The answer is also broadcast on REGISTRY by the analyzer.
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "registry not available yet"),
        }
    });
}

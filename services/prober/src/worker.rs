//! Probing one instance: on schedule over a persistent connection, or once on request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use orc_bus::{Bus, Message, subjects};
use orc_model::{InstanceKey, InstanceSnapshot, ProbeErrorKind, ProbeOutcome};
use orc_mysql::{InstanceProbe, ProbeResult};
use orc_proto::v1 as wire;
use orc_runtime::wall_clock;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::ProberConfig;

/// What every worker of a prober shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub cfg: Arc<ProberConfig>,
    pub bus: Arc<dyn Bus>,
    pub grid: crate::grid::Grid,
    /// First connection set-ups in flight: when a prober takes on thousands
    /// of servers at once (a peer died, the prober started), connecting
    /// them all at once would starve the polls of the others and time out.
    pub connects: Arc<Semaphore>,
}

/// Connection set-ups a prober runs at once.
pub(crate) const CONNECTS_IN_FLIGHT: usize = 256;

/// A standby connection that could not be opened is tried again after
/// this many poll intervals.
const STANDBY_RETRY_POLLS: u32 = 10;

/// Standby connections are opened spread over this long, by key, so that
/// a membership change does not open thousands at once.
const STANDBY_SPREAD: std::time::Duration = std::time::Duration::from_secs(5);

/// How the prober steers one worker.
pub(crate) struct Control {
    /// Probe now.
    pub wake: Arc<Notify>,
    /// Stop for good.
    pub stop: CancellationToken,
    /// Owner (probes) or standby (holds a connection).
    pub active: Arc<AtomicBool>,
    /// The shard bucket snapshots are published in.
    pub bucket: Arc<AtomicU32>,
    /// The next snapshot goes out whole (an analyzer asked).
    pub full: Arc<AtomicBool>,
    /// Others replicate from the server, as last seen (kept while it
    /// fails): such servers are woken first when many are asked for.
    pub source: Arc<AtomicBool>,
}

/// Probes `key` every poll interval (and whenever woken) while `active`
/// (an owner); otherwise stands by, holding a connection open to it so
/// that the probe made when it becomes an owner costs no set-up. Runs
/// until stopped.
pub(crate) async fn run(shared: Shared, key: InstanceKey, control: Control) {
    let Control {
        wake,
        stop,
        active,
        bucket,
        full,
        source,
    } = control;
    let Shared {
        cfg,
        bus,
        grid,
        connects,
    } = shared;
    let mut probe = InstanceProbe::new(key.clone(), cfg.connect_options(&key));
    let mut last_full: Option<(orc_model::InstanceData, tokio::time::Instant)> = None;
    let mut watch: Option<CancellationToken> = None;
    // The open connection was opened or last used while standing by.
    let mut idle_connection = false;
    // Whether this worker has probed (as an owner) yet.
    let mut probed = false;
    let mut standby_connect_at = Some(tokio::time::Instant::now() + spread(STANDBY_SPREAD, &key));
    tracing::debug!(instance = %key, prober = %cfg.id, "probing");
    loop {
        if !active.load(Ordering::Acquire) {
            if let Some(w) = watch.take() {
                w.cancel();
            }
            last_full = None;
            idle_connection = probe.is_connected();
            let due = standby_connect_at.filter(|_| !probe.is_connected());
            tokio::select! {
                () = stop.cancelled() => break,
                () = wake.notified() => continue,
                () = grid.sleep_until(due.unwrap_or_else(far_future)), if due.is_some() => {}
            }
            if active.load(Ordering::Acquire) {
                continue;
            }
            let Some(_permit) = acquire(&connects, &stop).await else {
                break;
            };
            match probe.connect().await {
                Ok(()) => standby_connect_at = None,
                Err(e) => {
                    tracing::debug!(instance = %key, error = %e.message, "standby connection not opened");
                    standby_connect_at =
                        Some(tokio::time::Instant::now() + cfg.poll_interval * STANDBY_RETRY_POLLS);
                }
            }
            continue;
        }
        let next = next_slot(cfg.poll_interval, &key);
        // Only a worker's first connection waits for the gate: a server
        // this worker was already probing reconnects at once, so the
        // report of a failing server is never queued behind a storm.
        let permit = if probe.is_connected() || probed {
            None
        } else {
            match acquire(&connects, &stop).await {
                Some(p) => Some(p),
                None => break,
            }
        };
        let mut snap = probe_once(&cfg, &mut probe).await;
        probed = true;
        if std::mem::take(&mut idle_connection)
            && matches!(&snap.outcome, ProbeOutcome::Failed(e) if e.kind == ProbeErrorKind::ConnectionLost)
        {
            // The server closed the idle standby connection (wait_timeout,
            // a restart): that says nothing about the server now.
            snap = probe_once(&cfg, &mut probe).await;
        }
        drop(permit);
        standby_connect_at = Some(tokio::time::Instant::now());
        // Servers others replicate from are watched over a connection that
        // waits on the server, so a crash wakes us at once.
        let watched = snap
            .data
            .as_ref()
            .is_some_and(|d| d.replication.is_none() || !d.replicas.is_empty());
        if snap.data.is_some() {
            source.store(watched, Ordering::Relaxed);
        }
        if watched && watch.is_none() {
            let token = stop.child_token();
            tokio::spawn(watch_server(
                cfg.clone(),
                key.clone(),
                wake.clone(),
                token.clone(),
            ));
            watch = Some(token);
        }
        if full.swap(false, Ordering::AcqRel) {
            last_full = None;
        }
        compact(&mut snap, &mut last_full);
        publish(&*bus, &snap, bucket.load(Ordering::Relaxed)).await;
        tokio::select! {
            () = stop.cancelled() => break,
            () = wake.notified() => {}
            () = grid.sleep_until(next) => {}
        }
    }
    if let Some(w) = watch {
        w.cancel();
    }
    tracing::debug!(instance = %key, prober = %cfg.id, "no longer probing");
}

/// A connection set-up permit, unless stopped first.
async fn acquire<'a>(
    connects: &'a Semaphore,
    stop: &CancellationToken,
) -> Option<tokio::sync::SemaphorePermit<'a>> {
    tokio::select! {
        () = stop.cancelled() => None,
        p = connects.acquire() => p.ok(),
    }
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(86_400)
}

/// A stable offset within `span` for `key`.
fn spread(span: std::time::Duration, key: &InstanceKey) -> std::time::Duration {
    let h = key_hash(key);
    let nanos = span.as_nanos().max(1);
    std::time::Duration::from_nanos(u64::try_from(u128::from(h) % nanos).unwrap_or(0))
}

fn key_hash(key: &InstanceKey) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// How many servers share one poll phase.
const PER_PHASE: usize = 64;

/// Poll phases: set from the number of owned servers by the prober.
static PHASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Spreads polls over `ceil(owned / 64)` phases of the interval.
pub(crate) fn set_owned(owned: usize) {
    PHASES.store(
        owned.div_ceil(PER_PHASE).max(1),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// The start of the process-wide time grid polls and heartbeats align on.
pub(crate) fn epoch() -> tokio::time::Instant {
    static EPOCH: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(tokio::time::Instant::now)
}

/// The next point of the grid of `interval` after now.
pub(crate) fn aligned(interval: std::time::Duration) -> tokio::time::Instant {
    let step = interval.as_nanos().max(1);
    let epoch = epoch();
    let elapsed = tokio::time::Instant::now().duration_since(epoch).as_nanos();
    let at = (elapsed / step + 1) * step;
    epoch + std::time::Duration::from_nanos(u64::try_from(at).unwrap_or(u64::MAX))
}

/// The next poll time of `key`. Polls are aligned on a process-wide grid
/// of `interval`, so the probes of up to 64 servers fire in one timer tick
/// and share one wake-up (which, on a virtual machine, costs more CPU than
/// a probe itself at low poll rates); larger fleets are spread over phases
/// of the interval, by key, so they do not all fire at once.
pub(crate) fn next_slot(interval: std::time::Duration, key: &InstanceKey) -> tokio::time::Instant {
    let phases = PHASES.load(std::sync::atomic::Ordering::Relaxed).max(1) as u128;
    let step = interval.as_nanos().max(1);
    let h = key_hash(key);
    let offset = (u128::from(h) % phases) * step / phases;
    let epoch = epoch();
    let elapsed = tokio::time::Instant::now().duration_since(epoch).as_nanos();
    let slots = (elapsed + step - offset) / step;
    let at = slots * step + offset;
    let at = if at <= elapsed { at + step } else { at };
    epoch + std::time::Duration::from_nanos(u64::try_from(at).unwrap_or(u64::MAX))
}

/// How long the watch query waits on the server.
const WATCH_SLEEP_SECONDS: u64 = 30;

/// Keeps a query waiting on the server; when the connection breaks (the
/// server died, or restarted), wakes the worker for an immediate probe.
/// A hung server keeps the query waiting: polling catches that.
async fn watch_server(
    cfg: Arc<ProberConfig>,
    key: InstanceKey,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut opts = cfg.connect_options(&key);
    opts.read_timeout = std::time::Duration::from_secs(WATCH_SLEEP_SECONDS + 5);
    let sql = format!("DO SLEEP({WATCH_SLEEP_SECONDS})");
    while !stop.is_cancelled() {
        let session = tokio::select! {
            () = stop.cancelled() => return,
            s = orc_mysql::Session::connect(&opts) => s,
        };
        let Ok(mut session) = session else {
            // Unreachable: the worker's polling reports it; retry at its pace.
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(cfg.poll_interval) => continue,
            }
        };
        loop {
            let done = tokio::select! {
                () = stop.cancelled() => return,
                r = session.exec(&sql) => r,
            };
            if let Err(e) = done {
                tracing::debug!(instance = %key, error = %e, "watch connection broke; probing now");
                wake.notify_one();
                break;
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
        }
    }
}

/// How often a full snapshot is sent even when nothing changed, so that
/// analyzers joining late learn every instance's data.
const FULL_SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Drops the data of a successful snapshot when it equals the last full one
/// (uptime aside): analyzers keep the data they have. Returns whether it did.
fn compact(
    snap: &mut InstanceSnapshot,
    last_full: &mut Option<(orc_model::InstanceData, tokio::time::Instant)>,
) -> bool {
    let now = tokio::time::Instant::now();
    let ok = matches!(snap.outcome, ProbeOutcome::Ok);
    let (true, Some(data)) = (ok, snap.data.as_mut()) else {
        *last_full = None;
        return false;
    };
    if let Some((prev, at)) = last_full.as_ref()
        && now.duration_since(*at) < FULL_SNAPSHOT_EVERY
    {
        let uptime = data.uptime_seconds;
        data.uptime_seconds = prev.uptime_seconds;
        let same = *data == *prev;
        data.uptime_seconds = uptime;
        if same {
            snap.data = None;
            return true;
        }
    }
    *last_full = Some((data.clone(), now));
    false
}

async fn probe_once(cfg: &ProberConfig, probe: &mut InstanceProbe) -> InstanceSnapshot {
    let started_at = wall_clock();
    let clock = std::time::Instant::now();
    let result = probe.probe(&cfg.probe).await;
    let ok = !matches!(result, ProbeResult::Failed(_));
    orc_telemetry::metrics::probe(&probe.key().to_string(), clock.elapsed().as_secs_f64(), ok);
    let (outcome, mut data) = match result {
        ProbeResult::Ok(d) => (ProbeOutcome::Ok, Some(d)),
        ProbeResult::Partial(d, e) => (ProbeOutcome::Partial(e), Some(d)),
        ProbeResult::Failed(e) => {
            tracing::debug!(instance = %probe.key(), kind = ?e.kind, error = %e.message, "probe failed");
            (ProbeOutcome::Failed(e), None)
        }
    };
    if let Some(d) = data.as_mut()
        && cfg.resolver.is_active()
    {
        resolve_names(&cfg.resolver, d).await;
    }
    InstanceSnapshot {
        key: probe.key().clone(),
        vantage: cfg.vantage.clone(),
        started_at,
        observed_at: wall_clock(),
        outcome,
        data,
        one_off: false,
    }
}

/// Applies `HostnameResolveMethod` to the hosts a server names: its
/// sources and its replicas.
async fn resolve_names(r: &orc_runtime::resolve::Resolver, d: &mut orc_model::InstanceData) {
    for channel in d.replication.iter_mut().chain(d.extra_channels.iter_mut()) {
        channel.master_host = r.hostname(&channel.master_host).await;
    }
    let mut replicas = Vec::with_capacity(d.replicas.len());
    for k in &d.replicas {
        replicas.push(r.key(k).await);
    }
    replicas.sort();
    replicas.dedup();
    d.replicas = replicas;
}

async fn publish(bus: &dyn Bus, snap: &InstanceSnapshot, bucket: u32) {
    let msg = wire::InstanceSnapshot::from(snap);
    if let Err(e) = bus
        .publish(&subjects::snapshot(bucket), orc_bus::encode(&msg))
        .await
    {
        tracing::warn!(instance = %snap.key, error = %e, "snapshot not published");
    }
}

/// The instance a `PROBE_ONE` request names.
pub(crate) fn requested_key(msg: &Message) -> Option<InstanceKey> {
    orc_bus::decode::<wire::ProbeOneRequest>(&msg.subject, &msg.payload)
        .ok()
        .and_then(|r| r.key)
        .and_then(|k| InstanceKey::try_from(&k).ok())
}

/// Answers a `PROBE_ONE` request: probes on a fresh connection, publishes
/// the snapshot (a one-off: this prober may not own the instance) and
/// replies with it. `buckets` names the shard bucket of the instances the
/// registry names.
pub(crate) async fn probe_one(
    cfg: &ProberConfig,
    bus: &dyn Bus,
    msg: Message,
    bucket: impl FnOnce(&InstanceKey) -> u32,
) {
    let key = requested_key(&msg);
    let Some(key) = key else {
        let _ = bus
            .respond(&msg, orc_bus::encode(&wire::InstanceSnapshot::default()))
            .await;
        return;
    };
    let mut probe = InstanceProbe::new(key.clone(), cfg.connect_options(&key));
    let mut snap = probe_once(cfg, &mut probe).await;
    snap.one_off = true;
    publish(bus, &snap, bucket(&key)).await;
    let reply = orc_bus::encode(&wire::InstanceSnapshot::from(&snap));
    if let Err(e) = bus.respond(&msg, reply).await {
        tracing::warn!(instance = %key, error = %e, "probe reply not sent");
    }
}

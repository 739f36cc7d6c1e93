//! Fencing returning old masters. A master replaced by a failover is
//! downtimed `lost-in-recovery`; if it comes back (restarted, or the
//! partition healed) it would still take writes — a split brain. While that
//! downtime lasts, any such server found writable is made read-only (a
//! lost replica is read-only already; a returning co-master that resumes
//! replicating must not take writes either). To use it again, an operator ends its downtime (or it is
//! ended automatically once it replicates from the new topology).
//!
//! A hung master that resumes is raced by every client that queued a
//! connection while it was frozen; a fresh connection of ours would finish
//! its handshake no sooner than theirs. So every writable server also has a
//! *fence line* ([`orc_planner::fencing::fence_line`]): an idle
//! connection opened while it answers. When the server is lost in a
//! recovery, the fencing statement is sent down its line at once; a frozen
//! server finds it waiting in the socket and runs it the moment it
//! resumes, before any new connection has finished its handshake. Fresh
//! attempts go on beside it (a line may be broken, or the server restarted).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orc_model::InstanceKey;
use orc_mysql::Operator;
use orc_planner::fencing::{FenceLine, fence_line};
use orc_runtime::wall_clock;
use orc_store::StoredInstance;

use crate::Ctx;

/// How often returning old masters are looked for.
pub const EVERY: Duration = Duration::from_millis(500);

/// Between two new connection attempts towards a server still away: each
/// pass starts [`EVERY`] / `STAGGER` attempts, this far apart.
const STAGGER: Duration = Duration::from_millis(100);

/// How long one attempt waits for a server to answer. Attempts overlap: a
/// hung server's pending connections are served first thing when it
/// resumes, and across a partition a fresh attempt is never more than
/// [`STAGGER`] old when the network heals (an old attempt only retries its
/// handshake on the kernel's backoff, a second and more).
const ATTEMPT: Duration = Duration::from_secs(1);

/// At most this many attempts towards one server at once.
const MAX_IN_FLIGHT: usize = 10;

/// Fence lines are opened, checked and closed every this many passes.
const LINES_EVERY_PASSES: u64 = 2;

/// A line unused for this long is checked (a restarted server broke it).
const LINE_CHECK_AFTER: Duration = Duration::from_secs(30);

/// A server gets a line while a probe found it writable within this long.
const LINE_SEEN_WITHIN: Duration = Duration::from_secs(60);

/// How long a line's check, or its opening, may take.
const LINE_OPEN: Duration = Duration::from_secs(2);

/// How long the fencing statement sent down a line waits for a hung server
/// to resume (fresh attempts go on meanwhile).
const LINE_WAIT: Duration = Duration::from_secs(600);

/// Attempts in flight towards one server, and a lock so attempts that get
/// through together fence it once.
#[derive(Default)]
struct Attempts {
    in_flight: usize,
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

/// One server's fence line.
enum Line {
    /// Being opened or checked.
    Busy,
    /// Idle, last known good at `checked`.
    Open { op: Box<Operator>, checked: Instant },
}

/// Attempts in flight and fence lines, per server.
#[derive(Default)]
pub(crate) struct Fencer {
    servers: Mutex<HashMap<InstanceKey, Attempts>>,
    lines: Mutex<HashMap<InstanceKey, Line>>,
    passes: AtomicU64,
    /// The stored instances as of a generation, kept up to date from the
    /// store's changes feed: tending lines reads only the rows written
    /// since its last pass, not the whole fleet each time.
    stored:
        tokio::sync::Mutex<Option<(orc_store::Generation, HashMap<InstanceKey, StoredInstance>)>>,
}

impl Fencer {
    /// The stored instances, brought up to date; `None` when the store
    /// cannot be read (nothing is opened or closed then).
    async fn stored(
        &self,
        store: &orc_store::Store,
    ) -> Option<tokio::sync::MappedMutexGuard<'_, HashMap<InstanceKey, StoredInstance>>> {
        let mut held = self.stored.lock().await;
        let since = held.as_ref().map(|(g, _)| *g);
        let (generation, changes) = store.instances().changes(since).await.ok()?;
        match (changes, held.as_mut()) {
            (orc_store::Changes::Since(rows), Some((g, map))) => {
                *g = generation;
                for row in rows {
                    map.insert(row.state.key.clone(), row);
                }
            }
            (orc_store::Changes::Since(rows) | orc_store::Changes::Full(rows), _) => {
                let map = rows.into_iter().map(|r| (r.state.key.clone(), r)).collect();
                *held = Some((generation, map));
            }
        }
        tokio::sync::MutexGuard::try_map(held, |h| h.as_mut().map(|(_, m)| m)).ok()
    }

    /// Registers one more attempt towards `key` unless enough are in flight
    /// (a line's statement always registers).
    fn begin(&self, key: &InstanceKey, capped: bool) -> Option<Arc<tokio::sync::Mutex<()>>> {
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        let entry = servers.entry(key.clone()).or_default();
        if capped && entry.in_flight >= MAX_IN_FLIGHT {
            return None;
        }
        entry.in_flight += 1;
        Some(entry.one_at_a_time.clone())
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceKey, Line>> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `key`'s idle line, if it has one.
    fn take_line(&self, key: &InstanceKey) -> Option<Operator> {
        let mut lines = self.lines();
        if !matches!(lines.get(key), Some(Line::Open { .. })) {
            return None;
        }
        match lines.remove(key) {
            Some(Line::Open { op, .. }) => Some(*op),
            _ => None,
        }
    }

    /// Puts a line back after its check, unless it was dropped meanwhile.
    fn put_line(&self, key: &InstanceKey, op: Operator) {
        let mut lines = self.lines();
        if let Some(slot @ Line::Busy) = lines.get_mut(key) {
            *slot = Line::Open {
                op: Box::new(op),
                checked: Instant::now(),
            };
        }
    }

    fn drop_line(&self, key: &InstanceKey) {
        self.lines().remove(key);
    }

    fn end(&self, key: &InstanceKey) {
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = servers.get_mut(key) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if entry.in_flight == 0 {
                servers.remove(key);
            }
        }
    }
}

/// One pass: sends the fencing statement down the line of every server lost
/// in recovery that has one, starts an attempt towards each (each runs on
/// its own and fences the server if it finds it writable), and now and then
/// tends the lines.
pub(crate) async fn pass(ctx: &Arc<Ctx>, fencer: &Arc<Fencer>) {
    let now = wall_clock();
    let Ok(all) = ctx.store.metadata().all().await else {
        return;
    };
    if fencer
        .passes
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(LINES_EVERY_PASSES)
    {
        tend_lines(ctx, fencer, &all).await;
    }
    for (key, meta) in all {
        if !orc_planner::fencing::is_lost_in_recovery(&meta, now) {
            continue;
        }
        if let Some(op) = fencer.take_line(&key)
            && let Some(lock) = fencer.begin(&key, false)
        {
            let (ctx2, fencer2, key2, meta2) =
                (ctx.clone(), fencer.clone(), key.clone(), meta.clone());
            ctx.tracker.spawn(async move {
                down_the_line(&ctx2, op, &key2, &meta2, &lock).await;
                fencer2.end(&key2);
            });
        }
        let staggered = u32::try_from(EVERY.as_millis() / STAGGER.as_millis()).unwrap_or(1);
        for i in 0..staggered {
            let Some(lock) = fencer.begin(&key, true) else {
                break;
            };
            let (ctx2, fencer2, key2, meta2) =
                (ctx.clone(), fencer.clone(), key.clone(), meta.clone());
            ctx.tracker.spawn(async move {
                tokio::time::sleep(STAGGER * i).await;
                attempt(&ctx2, &key2, &meta2, &lock).await;
                fencer2.end(&key2);
            });
        }
    }
}

/// Opens a line to every server that needs one and has none, checks lines
/// unused for [`LINE_CHECK_AFTER`], and closes those no longer needed. An
/// unreadable store changes nothing.
async fn tend_lines(
    ctx: &Arc<Ctx>,
    fencer: &Arc<Fencer>,
    meta: &std::collections::BTreeMap<InstanceKey, orc_model::InstanceMetadata>,
) {
    let Some(instances) = fencer.stored(&ctx.store).await else {
        return;
    };
    let now = wall_clock();
    let wanted: HashMap<InstanceKey, (FenceLine, InstanceKey)> = instances
        .values()
        .map(|i| {
            let m = meta.get(&i.state.key);
            let line = fence_line(&i.state, m, now, LINE_SEEN_WITHIN);
            (i.state.key.clone(), (line, i.state.probe_address().clone()))
        })
        .collect();
    drop(instances);
    let mut to_open = Vec::new();
    let mut to_check = Vec::new();
    {
        let mut lines = fencer.lines();
        lines.retain(|key, _| wanted.get(key).is_some_and(|(l, _)| *l != FenceLine::Close));
        for (key, (line, address)) in &wanted {
            if *line != FenceLine::Open {
                continue;
            }
            match lines.get_mut(key) {
                None => {
                    lines.insert(key.clone(), Line::Busy);
                    to_open.push((key.clone(), address.clone()));
                }
                Some(Line::Open { checked, .. }) if checked.elapsed() >= LINE_CHECK_AFTER => {
                    if let Some(Line::Open { op, .. }) = lines.insert(key.clone(), Line::Busy) {
                        to_check.push((key.clone(), *op));
                    }
                }
                Some(_) => {}
            }
        }
    }
    for (key, address) in to_open {
        let (ctx2, fencer2) = (ctx.clone(), fencer.clone());
        ctx.tracker.spawn(async move {
            match open_line(&ctx2, &key, &address).await {
                Some(op) => fencer2.put_line(&key, op),
                None => fencer2.drop_line(&key),
            }
        });
    }
    for (key, mut op) in to_check {
        let fencer2 = fencer.clone();
        ctx.tracker.spawn(async move {
            match tokio::time::timeout(LINE_OPEN, op.value("SELECT 1")).await {
                Ok(Ok(_)) => fencer2.put_line(&key, op),
                _ => fencer2.drop_line(&key),
            }
        });
    }
}

/// Opens a fence line: a connection that the server will not time out
/// for idleness, whose statements may wait [`LINE_WAIT`] for an answer.
async fn open_line(ctx: &Ctx, key: &InstanceKey, address: &InstanceKey) -> Option<Operator> {
    let mut opts = ctx.cfg.connect_options(address);
    opts.connect_timeout = LINE_OPEN;
    opts.read_timeout = LINE_OPEN;
    let mut op = Operator::connect(key.clone(), &opts).await.ok()?;
    op.exec("SET SESSION wait_timeout = 31536000").await.ok()?;
    op.set_read_timeout(LINE_WAIT);
    Some(op)
}

/// Sends the fencing statement down `key`'s line while it is still lost in
/// recovery; a hung server runs it the moment it resumes.
async fn down_the_line(
    ctx: &Ctx,
    op: Operator,
    key: &InstanceKey,
    meta: &orc_model::InstanceMetadata,
    lock: &tokio::sync::Mutex<()>,
) -> bool {
    let _one_at_a_time = lock.lock().await;
    fence(ctx, op, key, meta, "line").await
}

/// Connects to `key` (waiting up to [`ATTEMPT`]) and fences it.
async fn attempt(
    ctx: &Ctx,
    key: &InstanceKey,
    meta: &orc_model::InstanceMetadata,
    lock: &tokio::sync::Mutex<()>,
) -> bool {
    let mut opts = ctx.cfg.connect_options(key);
    opts.connect_timeout = ATTEMPT;
    opts.read_timeout = Duration::from_secs(2);
    let Ok(op) = Operator::connect(key.clone(), &opts).await else {
        return false;
    };
    let _one_at_a_time = lock.lock().await;
    fence(ctx, op, key, meta, "connection").await
}

/// While `key` is still lost in recovery, makes it read-only in the first
/// statement run on `op`; returns whether it had been writable. `meta` was
/// read when the attempt began: the downtime's end is checked again here,
/// and a server whose downtime an operator ended meanwhile is at worst set
/// read-only, never made writable.
async fn fence(
    ctx: &Ctx,
    mut op: Operator,
    key: &InstanceKey,
    meta: &orc_model::InstanceMetadata,
    via: &str,
) -> bool {
    let mut fenced = false;
    if orc_planner::fencing::is_lost_in_recovery(meta, wall_clock()) {
        match op.fence_read_only(ctx.cfg.use_super_read_only).await {
            Ok(true) => {
                tracing::warn!(instance = %key, via, "old master is back and writable: made read-only (lost-in-recovery)");
                note(ctx, key).await;
                fenced = true;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(instance = %key, via, error = %e, "old master is back but could not be made read-only");
            }
        }
    }
    op.close().await;
    fenced
}

/// Writes a step on the latest recovery of `key`.
async fn note(ctx: &Ctx, key: &InstanceKey) {
    let repo = ctx.store.recoveries();
    if let Ok(list) = repo.list(None).await
        && let Some(r) = list.iter().find(|r| &r.failed == key)
    {
        let _ = repo
            .add_step(
                &r.uid,
                wall_clock(),
                r.lease_revision,
                &format!("{key} came back writable while lost in recovery: set read-only"),
            )
            .await;
    }
}

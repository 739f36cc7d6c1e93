//! Pseudo-GTID: reading binary logs for `orc_planner::pseudo_gtid`, which
//! decides where a stopped replica stands in another server's logs. Files
//! are read in chunks of `BinlogEventsChunkSize` events, newest file first,
//! keeping only what follows the latest marker.

use std::sync::Arc;

use orc_model::{BinlogCoordinates, InstanceKey};
use orc_mysql::{BinlogEventRow, Operator};
use orc_planner::pseudo_gtid::{BinlogEvent, Matcher};
use orc_proto::v1 as wire;

use super::{Captured, Conns, Executor, StepError};
use crate::config::PseudoGtid;

fn event(r: BinlogEventRow) -> BinlogEvent {
    BinlogEvent {
        log_file: r.log_file,
        pos: r.pos,
        event_type: r.event_type,
        server_id: r.server_id,
        end_log_pos: r.end_log_pos,
        info: r.info,
    }
}

fn io(k: &InstanceKey, e: impl std::fmt::Display) -> StepError {
    StepError::Failed(format!("{k}: {e}"))
}

/// Every event of one file, in chunks, handed to `each` in order; `each`
/// answers `false` to stop early.
async fn scan(
    op: &mut Operator,
    k: &InstanceKey,
    file: &str,
    chunk: u64,
    mut each: impl FnMut(BinlogEvent) -> bool,
) -> Result<(), StepError> {
    let mut from = 4;
    loop {
        let rows = op
            .binlog_events(file, from, chunk)
            .await
            .map_err(|e| io(k, e))?;
        let n = rows.len();
        for r in rows {
            let next = r.end_log_pos;
            if !each(event(r)) {
                return Ok(());
            }
            from = next.max(from + 1);
        }
        if (n as u64) < chunk {
            return Ok(());
        }
    }
}

/// The last marker of a server's binary logs and every event after it.
async fn last_marker(
    op: &mut Operator,
    k: &InstanceKey,
    m: &Matcher,
    chunk: u64,
) -> Result<Option<(BinlogEvent, Vec<BinlogEvent>)>, StepError> {
    let logs = op.binary_logs().await.map_err(|e| io(k, e))?;
    for (i, (file, _)) in logs.iter().enumerate().rev() {
        let mut marker: Option<BinlogEvent> = None;
        let mut tail = Vec::new();
        scan(op, k, file, chunk, |e| {
            if m.is_marker(&e) {
                marker = Some(e);
                tail.clear();
            } else if marker.is_some() {
                tail.push(e);
            }
            true
        })
        .await?;
        if let Some(found) = marker {
            for (later, _) in &logs[i + 1..] {
                scan(op, k, later, chunk, |e| {
                    tail.push(e);
                    true
                })
                .await?;
            }
            return Ok(Some((found, tail)));
        }
    }
    Ok(None)
}

/// The same marker in another server's logs, and up to `want` events after it.
async fn find_marker(
    op: &mut Operator,
    k: &InstanceKey,
    m: &Matcher,
    marker: &BinlogEvent,
    want: usize,
    chunk: u64,
) -> Result<Option<(BinlogEvent, Vec<BinlogEvent>)>, StepError> {
    let logs = op.binary_logs().await.map_err(|e| io(k, e))?;
    for (i, (file, _)) in logs.iter().enumerate().rev() {
        let mut found: Option<BinlogEvent> = None;
        let mut after = Vec::new();
        scan(op, k, file, chunk, |e| {
            if found.is_none() {
                if m.is_marker(&e) && e.info == marker.info {
                    found = Some(e);
                }
                return true;
            }
            after.push(e);
            after.len() <= want
        })
        .await?;
        if let Some(f) = found {
            for (later, _) in &logs[i + 1..] {
                if after.len() > want {
                    break;
                }
                scan(op, k, later, chunk, |e| {
                    after.push(e);
                    after.len() <= want
                })
                .await?;
            }
            return Ok(Some((f, after)));
        }
    }
    Ok(None)
}

fn settings(cfg: &crate::config::RecoveryConfig) -> Result<&PseudoGtid, StepError> {
    cfg.pseudo_gtid.as_ref().ok_or_else(|| {
        StepError::Failed("Pseudo-GTID is not configured (PseudoGTIDPattern)".into())
    })
}

impl Executor {
    /// Where `replica` (stopped) stands in `target`'s binary logs.
    pub(crate) async fn pseudo_gtid_match(
        &self,
        conns: &mut Conns,
        replica: &InstanceKey,
        target: &InstanceKey,
    ) -> Result<Captured, StepError> {
        let s = settings(&self.cfg)?;
        let m = Matcher::new(s.pattern.clone(), s.skip.clone());
        let op = self.conn(conns, replica).await?;
        let (marker, tail) = last_marker(op, replica, &m, s.chunk).await?.ok_or_else(|| {
            StepError::Failed(format!(
                "no Pseudo-GTID entry in the binary logs of {replica}: is the injection running?"
            ))
        })?;
        self.note(format!(
            "{replica}: last Pseudo-GTID entry at {}:{} ({} events after it)",
            marker.log_file,
            marker.pos,
            tail.len()
        ));
        let want = tail.iter().filter(|e| m.counts(e)).count() + 1;
        let op = self.conn(conns, target).await?;
        let (found, after) = find_marker(op, target, &m, &marker, want, s.chunk)
            .await?
            .ok_or_else(|| {
                StepError::Failed(format!(
                    "the Pseudo-GTID entry {:?} of {replica} is not in the binary logs of {target}",
                    marker.info
                ))
            })?;
        let at = m
            .correlate(&found, &tail, after.iter())
            .map_err(|e| StepError::Failed(format!("matching {replica} below {target}: {e}")))?;
        self.note(format!("{replica} matches {target} at {at}"));
        Ok(Captured::Coordinates(at))
    }
}

/// The last Pseudo-GTID entry of a server (`last-pseudo-gtid`).
pub(crate) async fn last_pseudo_gtid(
    ctx: &Arc<crate::Ctx>,
    t: &orc_planner::Topology,
    instance: &InstanceKey,
) -> wire::OperationResult {
    let fail = |kind: &str, e: String| wire::OperationResult {
        error: e,
        error_kind: kind.into(),
        ..Default::default()
    };
    let s = match settings(&ctx.cfg) {
        Ok(s) => s,
        Err(e) => return fail("refused", e.to_string()),
    };
    let address = t
        .get(instance)
        .map_or_else(|| instance.clone(), |x| x.address.clone());
    let mut op = match Operator::connect(address.clone(), &ctx.cfg.connect_options(&address)).await
    {
        Ok(op) => op,
        Err(e) => return fail("unavailable", e.to_string()),
    };
    let m = Matcher::new(s.pattern.clone(), s.skip.clone());
    let found = last_marker(&mut op, instance, &m, s.chunk).await;
    op.close().await;
    match found {
        Ok(Some((marker, _))) => wire::OperationResult {
            answer: marker.info.clone(),
            answers: vec![BinlogCoordinates::binary(marker.log_file, marker.pos).to_string()],
            subject: Some(instance.into()),
            ..Default::default()
        },
        Ok(None) => fail(
            "not_found",
            format!("no Pseudo-GTID entry in the binary logs of {instance}"),
        ),
        Err(e) => fail("failed", e.to_string()),
    }
}

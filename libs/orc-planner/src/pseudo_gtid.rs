//! Pseudo-GTID: where a replica stands in another server's binary logs,
//! found without GTID by matching marker statements injected on the master
//! (`PseudoGTIDPattern`), which every server of the cluster logs alike.
//!
//! The replica's last marker is found in its own binary logs; the same
//! marker (same text) is found in the target's; from there both event
//! streams are walked in lockstep, event by event, until the replica's
//! stream ends. The replica's position on the target is right after the
//! last event matched. If the replica has events the target lacks, the
//! replica is ahead and cannot be placed there. Reading the logs is the
//! executor's job; this module decides.

use orc_model::BinlogCoordinates;
use serde::{Deserialize, Serialize};

/// One row of `SHOW BINLOG EVENTS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinlogEvent {
    /// `Log_name`.
    pub log_file: String,
    /// `Pos`.
    pub pos: u64,
    /// `Event_type`.
    pub event_type: String,
    /// `Server_id`.
    pub server_id: u32,
    /// `End_log_pos`.
    pub end_log_pos: u64,
    /// `Info`.
    pub info: String,
}

impl BinlogEvent {
    /// The position right after this event.
    pub fn next(&self) -> BinlogCoordinates {
        BinlogCoordinates::binary(self.log_file.clone(), self.end_log_pos)
    }
}

/// Event types that describe a log rather than a transaction: never compared.
const LOG_EVENTS: &[&str] = &[
    "Format_desc",
    "Rotate",
    "Stop",
    "Binlog_checkpoint",
    "Gtid_list",
    "Previous_gtids",
    "Start_encryption",
    "Heartbeat",
    "Anonymous_Gtid",
];

/// Recognises markers and compares events.
#[derive(Debug, Clone)]
pub struct Matcher {
    pattern: regex::Regex,
    skip: Vec<String>,
}

/// Why no position was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The replica's stream goes on where the target's ended.
    #[error("the replica is ahead: its event {0} is not (yet) in the target's binary logs")]
    ReplicaAhead(String),
    /// The streams differ.
    #[error(
        "the streams differ after the Pseudo-GTID entry: replica {replica} versus target {target}"
    )]
    Diverged {
        /// The replica's event.
        replica: String,
        /// The target's.
        target: String,
    },
}

fn describe(e: &BinlogEvent) -> String {
    format!("{}:{} {} {}", e.log_file, e.pos, e.event_type, e.info)
}

/// The part of `Info` that is the same on every server for an event of
/// this type (table ids, transaction ids and thread ids are local).
fn comparable_info(e: &BinlogEvent) -> Option<&str> {
    match e.event_type.as_str() {
        "Query" | "Gtid" | "Annotate_rows" | "Rows_query" | "User var" | "Intvar" | "Rand" => {
            Some(e.info.as_str())
        }
        "Table_map" => e.info.find('(').map(|i| &e.info[i..]),
        _ => None,
    }
}

impl Matcher {
    /// A matcher for `PseudoGTIDPattern` (compiled) ignoring events that
    /// contain any of `skip` (`SkipBinlogEventsContaining`).
    pub fn new(pattern: regex::Regex, skip: Vec<String>) -> Self {
        Self { pattern, skip }
    }

    /// Whether an event is a Pseudo-GTID marker.
    pub fn is_marker(&self, e: &BinlogEvent) -> bool {
        e.event_type == "Query" && self.pattern.is_match(&e.info)
    }

    /// Whether an event takes part in the comparison.
    pub fn counts(&self, e: &BinlogEvent) -> bool {
        !LOG_EVENTS.contains(&e.event_type.as_str())
            && !self
                .skip
                .iter()
                .any(|s| !s.is_empty() && e.info.contains(s.as_str()))
    }

    /// Whether two events are the same transaction's same part.
    pub fn same(&self, a: &BinlogEvent, b: &BinlogEvent) -> bool {
        a.event_type == b.event_type && comparable_info(a) == comparable_info(b)
    }

    /// The last marker among `events` (in log order), if any.
    pub fn last_marker<'e>(&self, events: &'e [BinlogEvent]) -> Option<&'e BinlogEvent> {
        events.iter().rev().find(|e| self.is_marker(e))
    }

    /// Walks `replica` (its events after its last marker, to its end) and
    /// `target` (the target's events after the same marker) in lockstep;
    /// returns the target's position after the last event matched. An
    /// empty replica tail answers the position right after `marker` on the
    /// target.
    pub fn correlate<'a>(
        &self,
        target_marker: &BinlogEvent,
        replica: &[BinlogEvent],
        target: impl IntoIterator<Item = &'a BinlogEvent>,
    ) -> Result<BinlogCoordinates, MatchError> {
        let mut at = target_marker.next();
        let mut theirs = target.into_iter().filter(|e| self.counts(e));
        for mine in replica.iter().filter(|e| self.counts(e)) {
            let Some(t) = theirs.next() else {
                return Err(MatchError::ReplicaAhead(describe(mine)));
            };
            if !self.same(mine, t) {
                return Err(MatchError::Diverged {
                    replica: describe(mine),
                    target: describe(t),
                });
            }
            at = t.next();
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ev(file: &str, pos: u64, end: u64, t: &str, info: &str) -> BinlogEvent {
        BinlogEvent {
            log_file: file.into(),
            pos,
            event_type: t.into(),
            server_id: 1,
            end_log_pos: end,
            info: info.into(),
        }
    }

    fn matcher() -> Matcher {
        Matcher::new(
            regex::Regex::new(&regex::escape(
                "drop view if exists `meta`.`_pseudo_gtid_hint__asc:",
            ))
            .unwrap(),
            vec![],
        )
    }

    fn marker(file: &str, pos: u64, n: u32) -> BinlogEvent {
        ev(
            file,
            pos,
            pos + 100,
            "Query",
            &format!("drop view if exists `meta`.`_pseudo_gtid_hint__asc:{n:08x}`"),
        )
    }

    fn trx(file: &str, pos: u64, id: u32, table_id: u32) -> Vec<BinlogEvent> {
        vec![
            ev(file, pos, pos + 40, "Gtid", &format!("BEGIN GTID 0-1-{id}")),
            ev(
                file,
                pos + 40,
                pos + 90,
                "Table_map",
                &format!("table_id: {table_id} (app.t)"),
            ),
            ev(
                file,
                pos + 90,
                pos + 130,
                "Write_rows_v1",
                &format!("table_id: {table_id} flags: STMT_END_F"),
            ),
            ev(
                file,
                pos + 130,
                pos + 160,
                "Xid",
                &format!("COMMIT /* xid={} */", id * 7),
            ),
        ]
    }

    #[test]
    fn the_replica_lands_right_after_the_last_matched_event_on_the_target() {
        let m = matcher();
        let mut replica = vec![marker("r.000001", 400, 1)];
        replica.extend(trx("r.000001", 500, 10, 33));
        replica.extend(trx("r.000001", 660, 11, 33));
        let mut target = vec![marker("t.000003", 1000, 1)];
        target.extend(trx("t.000003", 1100, 10, 71));
        target.push(ev("t.000003", 1260, 1300, "Rotate", "t.000004;pos=4"));
        target.extend(trx("t.000004", 256, 11, 71));
        target.extend(trx("t.000004", 416, 12, 71));
        let last = m.last_marker(&replica).unwrap();
        let tm = target.iter().find(|e| e.info == last.info).unwrap();
        let tail: Vec<BinlogEvent> = replica
            .iter()
            .skip_while(|e| *e != last)
            .skip(1)
            .cloned()
            .collect();
        let after: Vec<&BinlogEvent> = target.iter().skip_while(|e| *e != tm).skip(1).collect();
        let at = m.correlate(tm, &tail, after).unwrap();
        assert_eq!(at, BinlogCoordinates::binary("t.000004", 256 + 160));
    }

    #[test]
    fn a_replica_at_the_marker_starts_right_after_it() {
        let m = matcher();
        let tm = marker("t.000001", 1000, 9);
        let at = m.correlate(&tm, &[], std::iter::empty()).unwrap();
        assert_eq!(at, BinlogCoordinates::binary("t.000001", 1100));
    }

    #[test]
    fn a_replica_ahead_of_the_target_is_refused() {
        let m = matcher();
        let tm = marker("t.000001", 1000, 9);
        let tail = trx("r.000001", 500, 10, 33);
        let err = m.correlate(&tm, &tail, std::iter::empty()).unwrap_err();
        assert!(matches!(err, MatchError::ReplicaAhead(_)), "{err}");
    }

    #[test]
    fn diverging_streams_are_refused() {
        let m = matcher();
        let tm = marker("t.000001", 1000, 9);
        let tail = trx("r.000001", 500, 10, 33);
        let other = trx("t.000001", 1100, 99, 33);
        let err = m.correlate(&tm, &tail, other.iter()).unwrap_err();
        assert!(matches!(err, MatchError::Diverged { .. }), "{err}");
    }

    #[test]
    fn skipped_events_do_not_count() {
        let m = Matcher::new(
            regex::Regex::new("_pseudo_gtid_").unwrap(),
            vec!["heartbeat".into()],
        );
        let tm = marker("t.000001", 1000, 9);
        let tail = vec![ev(
            "r.000001",
            500,
            600,
            "Query",
            "update meta.heartbeat set ts=now()",
        )];
        let at = m.correlate(&tm, &tail, std::iter::empty()).unwrap();
        assert_eq!(at, BinlogCoordinates::binary("t.000001", 1100));
    }
}

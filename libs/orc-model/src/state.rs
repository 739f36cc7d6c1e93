//! An instance's probe history folded into what the analysis needs:
//! the last data seen and the `last_checked` / `last_seen` bookkeeping.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::key::InstanceKey;
use crate::snapshot::{InstanceData, InstanceSnapshot, ProbeError, ProbeErrorKind, ProbeOutcome};
use crate::time::Timestamp;

/// What one vantage point saw last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VantageObservation {
    /// When.
    pub observed_at: Timestamp,
    /// Whether the server answered its identity query.
    pub reached: bool,
    /// Failure kind, when it did not.
    pub error_kind: Option<ProbeErrorKind>,
    /// Since when this vantage has been failing to reach the server.
    #[serde(default)]
    pub failing_since: Option<Timestamp>,
}

/// The folded state of one instance.
///
/// Mirrors orchestrator's bookkeeping: `last_checked` moves on every probe,
/// `last_seen` only on a fully successful one, so a probe is *valid* when the
/// last check is also the last sighting. Data is replaced only by full
/// successes; a partial success keeps the previous data and sets
/// `last_partial_success`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceState {
    /// The instance (its identity).
    pub key: InstanceKey,
    /// Where probers connect to it, when that differs from its identity
    /// (identity from `@@report_host` / `@@hostname`, reached at another address).
    #[serde(default)]
    pub address: Option<InstanceKey>,
    /// Data of the last full success.
    pub data: Option<InstanceData>,
    /// When the instance was first known.
    pub first_known: Timestamp,
    /// Last probe end, whatever its outcome.
    pub last_checked: Option<Timestamp>,
    /// Last fully successful probe end.
    pub last_seen: Option<Timestamp>,
    /// Last probe start.
    pub last_attempted: Option<Timestamp>,
    /// Whether the last probe got past the identity query.
    pub last_partial_success: bool,
    /// Error of the last probe, if it failed or partly failed.
    pub last_error: Option<ProbeError>,
    /// When the current streak of failed probes began.
    pub failing_since: Option<Timestamp>,
    /// Duration of the last probe.
    pub last_probe_latency: Duration,
    /// Latest observation per vantage point.
    pub vantages: BTreeMap<String, VantageObservation>,
    /// Since when the server's own binary log position has not moved (a
    /// locked semi-sync master stops moving).
    #[serde(default)]
    pub self_coordinates_since: Option<Timestamp>,
}

/// What a snapshot changed in an instance's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing (or the snapshot was older than what is known).
    None,
    /// Only figures that move all the time on a healthy server: binary log
    /// positions, GTID sets, lag, uptime.
    Figures,
    /// Something an analysis may turn on: reachability, error kind, role,
    /// replication threads, source, replicas, settings.
    Shape,
}

impl InstanceState {
    /// A known but not yet probed instance.
    pub fn new(key: InstanceKey, now: Timestamp) -> Self {
        Self {
            key,
            address: None,
            data: None,
            first_known: now,
            last_checked: None,
            last_seen: None,
            last_attempted: None,
            last_partial_success: false,
            last_error: None,
            failing_since: None,
            last_probe_latency: Duration::ZERO,
            vantages: BTreeMap::new(),
            self_coordinates_since: None,
        }
    }

    /// Folds one snapshot in. Returns whether anything the analysis reads
    /// changed (outcome, validity or data), so callers can skip re-analysis.
    pub fn apply(&mut self, snap: &InstanceSnapshot) -> bool {
        self.apply_classified(snap) != Change::None
    }

    /// [`apply`](Self::apply), telling what kind of change the snapshot
    /// made: none, only moving figures (positions, GTID sets, lag, uptime),
    /// or something an analysis may turn on (reachability, errors, roles,
    /// replication threads and sources, replicas, settings).
    pub fn apply_classified(&mut self, snap: &InstanceSnapshot) -> Change {
        let newer_for_vantage = !snap.one_off
            && self
                .vantages
                .get(&snap.vantage)
                .is_none_or(|v| v.observed_at <= snap.observed_at);
        if newer_for_vantage {
            let error_kind = match &snap.outcome {
                ProbeOutcome::Failed(e) => Some(e.kind),
                _ => None,
            };
            let failing_since = if snap.reached() {
                None
            } else {
                self.vantages
                    .get(&snap.vantage)
                    .and_then(|v| v.failing_since)
                    .or(Some(snap.observed_at))
            };
            self.vantages.insert(
                snap.vantage.clone(),
                VantageObservation {
                    observed_at: snap.observed_at,
                    reached: snap.reached(),
                    error_kind,
                    failing_since,
                },
            );
        }
        if self.last_checked.is_some_and(|t| snap.observed_at < t) {
            return Change::None;
        }
        let was_valid = self.last_probe_succeeded();
        let old_error = self.last_error.as_ref().map(|e| e.kind);
        self.last_checked = Some(snap.observed_at);
        self.last_attempted = Some(snap.started_at.max(self.last_attempted.unwrap_or_default()));
        self.last_probe_latency = snap.observed_at.since(snap.started_at);
        let mut data_changed = false;
        let mut shape_changed = false;
        match &snap.outcome {
            ProbeOutcome::Ok => {
                self.last_seen = Some(snap.observed_at);
                self.last_partial_success = true;
                self.last_error = None;
                self.failing_since = None;
                if let Some(data) = &snap.data {
                    data_changed = self.data.as_ref() != Some(data);
                    if data_changed {
                        shape_changed = self.data.as_ref().is_none_or(|old| !old.same_shape(data));
                        let old = self.data.as_ref().and_then(|d| d.self_coordinates.as_ref());
                        if old != data.self_coordinates.as_ref()
                            || self.self_coordinates_since.is_none()
                        {
                            self.self_coordinates_since = Some(snap.observed_at);
                        }
                        self.data = Some(data.clone());
                    }
                }
            }
            ProbeOutcome::Partial(e) => {
                self.last_partial_success = true;
                self.last_error = Some(e.clone());
                self.failing_since.get_or_insert(snap.observed_at);
            }
            ProbeOutcome::Failed(e) => {
                self.last_partial_success = false;
                self.last_error = Some(e.clone());
                self.failing_since.get_or_insert(snap.observed_at);
            }
        }
        if shape_changed
            || was_valid != self.last_probe_succeeded()
            || old_error != self.last_error.as_ref().map(|e| e.kind)
        {
            Change::Shape
        } else if data_changed {
            Change::Figures
        } else {
            Change::None
        }
    }

    /// Whether the last probe fully succeeded (`last_checked <= last_seen`).
    pub fn last_probe_succeeded(&self) -> bool {
        match (self.last_checked, self.last_seen) {
            (Some(c), Some(s)) => c <= s,
            _ => false,
        }
    }

    /// orchestrator's `LastCheckValid`, plus staleness: the last probe
    /// succeeded and it is no older than `stale_after` at `now`.
    pub fn is_last_check_valid(&self, now: Timestamp, stale_after: Duration) -> bool {
        self.last_probe_succeeded() && self.last_seen.is_some_and(|s| now.since(s) <= stale_after)
    }

    /// Seconds since the last full success, if any.
    pub fn seconds_since_seen(&self, now: Timestamp) -> Option<u64> {
        self.last_seen.map(|s| now.since(s).as_secs())
    }

    /// Where to connect: the address when set, else the identity.
    pub fn probe_address(&self) -> &InstanceKey {
        self.address.as_ref().unwrap_or(&self.key)
    }

    /// The observations that vote on whether the server is reachable: the
    /// `voters` most recent fresh ones (`ProbersPerInstance`). Probers
    /// that keep probing the server report every poll, so they are the
    /// most recent; a vantage that stopped (its instances moved to another
    /// prober when one joined or left) falls behind them and stops voting
    /// at once instead of when its observation goes stale — it would
    /// otherwise outvote the new owner's evidence of a crash for seconds.
    pub fn voting_vantages(
        &self,
        now: Timestamp,
        stale_after: Duration,
        voters: usize,
    ) -> Vec<&VantageObservation> {
        let mut fresh: Vec<&VantageObservation> = self
            .vantages
            .values()
            .filter(|v| now.since(v.observed_at) <= stale_after)
            .collect();
        fresh.sort_by_key(|v| std::cmp::Reverse(v.observed_at));
        fresh.truncate(voters.max(1));
        fresh
    }

    /// Fresh vantages that reached / did not reach the server within `stale_after`.
    pub fn vantage_votes(
        &self,
        now: Timestamp,
        stale_after: Duration,
        voters: usize,
    ) -> (usize, usize) {
        self.voting_vantages(now, stale_after, voters)
            .into_iter()
            .fold((0, 0), |(up, down), v| {
                if v.reached {
                    (up + 1, down)
                } else {
                    (up, down + 1)
                }
            })
    }

    /// The master key this instance replicates from (per its last data).
    pub fn master_key(&self) -> Option<InstanceKey> {
        self.data.as_ref().and_then(InstanceData::master_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ProbeErrorKind;

    fn key() -> InstanceKey {
        InstanceKey::parse("db1:3306").unwrap()
    }

    fn snap(at: i64, outcome: ProbeOutcome, data: Option<InstanceData>) -> InstanceSnapshot {
        InstanceSnapshot {
            key: key(),
            vantage: "p1".into(),
            started_at: Timestamp(at - 5),
            observed_at: Timestamp(at),
            outcome,
            data,
            one_off: false,
        }
    }

    fn failed(kind: ProbeErrorKind) -> ProbeOutcome {
        ProbeOutcome::Failed(ProbeError {
            kind,
            message: "x".into(),
        })
    }

    #[test]
    fn a_failed_probe_after_a_success_invalidates_but_keeps_data() {
        let mut s = InstanceState::new(key(), Timestamp(0));
        let data = InstanceData {
            server_id: 7,
            ..Default::default()
        };
        assert!(s.apply(&snap(100, ProbeOutcome::Ok, Some(data.clone()))));
        assert!(s.is_last_check_valid(Timestamp(150), Duration::from_secs(5)));
        assert!(s.apply(&snap(200, failed(ProbeErrorKind::Refused), None)));
        assert!(!s.is_last_check_valid(Timestamp(250), Duration::from_secs(5)));
        assert_eq!(s.data.as_ref().unwrap().server_id, 7);
        assert_eq!(s.failing_since, Some(Timestamp(200)));
        assert!(!s.last_partial_success);
    }

    #[test]
    fn one_off_probes_update_the_instance_but_cast_no_vote() {
        let mut s = InstanceState::new(key(), Timestamp(0));
        s.apply(&snap(100, ProbeOutcome::Ok, Some(InstanceData::default())));
        let once = InstanceSnapshot {
            vantage: "p2".into(),
            one_off: true,
            ..snap(150, ProbeOutcome::Ok, Some(InstanceData::default()))
        };
        s.apply(&once);
        assert_eq!(s.last_checked, Some(Timestamp(150)));
        assert_eq!(s.vantages.keys().collect::<Vec<_>>(), vec!["p1"]);
        // The owner's failure is then the only vote: not outweighed.
        s.apply(&snap(200, failed(ProbeErrorKind::Refused), None));
        assert_eq!(
            s.vantage_votes(Timestamp(210), Duration::from_secs(5), 2),
            (0, 1)
        );
    }

    #[test]
    fn stale_successes_are_not_valid() {
        let mut s = InstanceState::new(key(), Timestamp(0));
        s.apply(&snap(100, ProbeOutcome::Ok, Some(InstanceData::default())));
        assert!(!s.is_last_check_valid(Timestamp(100 + 6000), Duration::from_secs(5)));
    }

    #[test]
    fn out_of_order_snapshots_do_not_regress_state() {
        let mut s = InstanceState::new(key(), Timestamp(0));
        s.apply(&snap(200, failed(ProbeErrorKind::Timeout), None));
        assert!(!s.apply(&snap(100, ProbeOutcome::Ok, Some(InstanceData::default()))));
        assert!(!s.last_probe_succeeded());
        assert!(s.data.is_none());
    }

    #[test]
    fn identical_successes_report_no_change() {
        let mut s = InstanceState::new(key(), Timestamp(0));
        assert!(s.apply(&snap(100, ProbeOutcome::Ok, Some(InstanceData::default()))));
        assert!(!s.apply(&snap(200, ProbeOutcome::Ok, Some(InstanceData::default()))));
    }
}

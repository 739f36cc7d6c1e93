//! Event-driven failure detection: analysis on every change, urgent
//! re-probes of a failing server and its replicas, and findings
//! de-duplicated per incident and grouped into detections.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use orc_analysis::{Analysis, AnalysisInput, AnalysisPolicy, analyze, analyze_keys};
use orc_model::{InstanceKey, InstanceMetadata, Timestamp};

use crate::view::View;

/// How fast a failing server and its replicas are re-probed: every 100 ms
/// for the first 3 s, then every 500 ms, for at most a minute (polling
/// goes on after that).
const FAST_FOR: Duration = Duration::from_secs(3);
const FAST_EVERY: Duration = Duration::from_millis(100);
const SLOW_EVERY: Duration = Duration::from_millis(500);
const HOT_FOR: Duration = Duration::from_secs(60);

/// A finding to publish.
#[derive(Debug, Clone)]
pub struct Emit {
    /// The analysis.
    pub analysis: Analysis,
    /// Same outage, same code → same id.
    pub incident_id: String,
    /// The detection it belongs to.
    pub detection_id: String,
    /// Whether it opened the detection.
    pub new_detection: bool,
}

#[derive(Debug)]
struct Hot {
    since: Timestamp,
    next: Timestamp,
}

#[derive(Debug)]
struct Detection {
    id: String,
    until: Timestamp,
}

/// Detection state of one analyzer.
#[derive(Debug)]
pub struct Detector {
    policy: AnalysisPolicy,
    period: Duration,
    emitted: HashMap<String, Timestamp>,
    detections: HashMap<(InstanceKey, bool), Detection>,
    hot: HashMap<InstanceKey, Hot>,
    latest: Vec<Analysis>,
}

fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// How long an "unreachable, but its replicas still replicate" verdict
/// waits for replicas to be heard from after the server became unreachable.
const TESTIMONY_WAIT: Duration = Duration::from_secs(1);

/// Whether an unreachable-but-replicating verdict rests on replicas last
/// heard from before the failure began: they are being re-probed right now,
/// and their fresh answer decides between "unreachable" and "dead". Without
/// this hold a crash would first be reported as `UnreachableMaster` (its
/// replicas' last word predating it) and run detection hooks for it.
fn awaits_fresh_testimony(a: &Analysis, now: Timestamp) -> bool {
    use orc_analysis::AnalysisCode::*;
    if !matches!(
        a.code,
        UnreachableMaster
            | UnreachableMasterWithLaggingReplicas
            | UnreachableIntermediateMasterWithLaggingReplicas
            | UnreachableCoMaster
    ) {
        return false;
    }
    let Some(since) = a.evidence.failing_since else {
        return false;
    };
    now.since(since) < TESTIMONY_WAIT
        && a.replica_evidence
            .iter()
            .any(|r| r.valid && r.last_seen.is_none_or(|seen| seen < since))
}

/// The incident an analysis belongs to: cluster, instance, code and when
/// the instance's trouble began.
pub fn incident_id(a: &Analysis) -> String {
    let since = a
        .evidence
        .failing_since
        .map_or_else(|| "-".to_string(), |t| t.as_millis().to_string());
    fnv(&format!("{}|{}|{}|{since}", a.cluster, a.key, a.code))
}

impl Detector {
    /// A detector with a policy and `FailureDetectionPeriodBlockMinutes`.
    pub fn new(policy: AnalysisPolicy, period: Duration) -> Self {
        Self {
            policy,
            period,
            emitted: HashMap::new(),
            detections: HashMap::new(),
            hot: HashMap::new(),
            latest: Vec::new(),
        }
    }

    /// The entries of the last evaluation.
    pub fn latest(&self) -> &[Analysis] {
        &self.latest
    }

    /// Analyzes everything; returns new findings and the servers to
    /// re-probe now (probe addresses).
    pub fn evaluate(
        &mut self,
        view: &View,
        metadata: &BTreeMap<InstanceKey, InstanceMetadata>,
        now: Timestamp,
    ) -> (Vec<Emit>, Vec<InstanceKey>) {
        let states = view.states();
        let topology = view.topology();
        let input = AnalysisInput {
            states,
            topology: &topology,
            metadata,
        };
        let entries = analyze(&input, &self.policy, now);
        self.latest.clear();
        self.conclude(view, entries, None, now)
    }

    /// Analyzes only what a change of `changed` may affect: the instance,
    /// the sources above it and its replicas. Costs what those weigh, not
    /// what the fleet weighs; the periodic [`evaluate`](Self::evaluate)
    /// covers the rest.
    pub fn evaluate_around(
        &mut self,
        view: &View,
        metadata: &BTreeMap<InstanceKey, InstanceMetadata>,
        changed: &InstanceKey,
        now: Timestamp,
    ) -> (Vec<Emit>, Vec<InstanceKey>) {
        let topology = view.topology();
        let mut scope: HashSet<InstanceKey> = HashSet::new();
        scope.insert(changed.clone());
        if let Some(p) = topology.placement(changed) {
            scope.extend(p.ancestry.iter().cloned());
            scope.extend(p.replicas.iter().cloned());
        }
        let input = AnalysisInput {
            states: view.states(),
            topology: &topology,
            metadata,
        };
        let entries = analyze_keys(&input, scope.iter(), &self.policy, now);
        self.latest.retain(|a| !scope.contains(&a.key));
        self.conclude(view, entries, Some(&scope), now)
    }

    /// Emits what is new among `entries` and heats or cools the servers
    /// they cover (`scope`: every server when `None`).
    fn conclude(
        &mut self,
        view: &View,
        entries: Vec<Analysis>,
        scope: Option<&HashSet<InstanceKey>>,
        now: Timestamp,
    ) -> (Vec<Emit>, Vec<InstanceKey>) {
        let mut emits = Vec::new();
        let mut failing = HashSet::new();
        for a in &entries {
            // Failing: its last probe failed (a server not yet probed is
            // not failing, only unknown: discovery must not heat it).
            let probe_failed = view.get(&a.key).is_some_and(|s| s.failing_since.is_some());
            if !a.last_check_valid && probe_failed && (a.counts.replicas > 0 || a.is_master) {
                failing.insert(a.key.clone());
            }
            if !a.code.has_handler()
                || awaits_fresh_testimony(a, now)
                || view.awaits_first_probe(&a.key, now)
            {
                continue;
            }
            let incident = incident_id(a);
            if self.emitted.contains_key(&incident) {
                continue;
            }
            self.emitted.insert(incident.clone(), now);
            let slot = (a.key.clone(), a.is_actionable);
            let (detection_id, new_detection) = match self.detections.get(&slot) {
                Some(d) if now < d.until => (d.id.clone(), false),
                _ => {
                    self.detections.insert(
                        slot,
                        Detection {
                            id: incident.clone(),
                            until: now.plus(self.period),
                        },
                    );
                    (incident.clone(), true)
                }
            };
            emits.push(Emit {
                analysis: a.clone(),
                incident_id: incident,
                detection_id,
                new_detection,
            });
        }
        // Servers that recovered cool down; newly failing ones heat up.
        // A change is concluded around the server that changed: only that
        // scope is looked at (a pass over everything hot, or over every
        // incident, per snapshot would cost what the fleet weighs); the
        // periodic whole-fleet pass expires the rest.
        match scope {
            Some(scope) => {
                for k in scope {
                    if !failing.contains(k) {
                        self.hot.remove(k);
                    }
                }
            }
            None => {
                self.hot
                    .retain(|k, h| failing.contains(k) && now.since(h.since) < HOT_FOR);
                self.emitted
                    .retain(|_, at| now.since(*at) < Duration::from_secs(3600).max(self.period));
                self.detections.retain(|_, d| now < d.until);
            }
        }
        for k in failing {
            self.hot.entry(k).or_insert(Hot {
                since: now,
                next: now,
            });
        }
        self.latest.extend(entries);
        let probes = self.due_probes(view, now);
        (emits, probes)
    }

    /// Servers to re-probe now: each hot server and its replicas, on the
    /// fast then slow cadence.
    pub fn due_probes(&mut self, view: &View, now: Timestamp) -> Vec<InstanceKey> {
        if self.hot.is_empty() {
            return Vec::new();
        }
        let topology = view.recent_topology();
        let mut out = Vec::new();
        for (key, hot) in &mut self.hot {
            if now < hot.next {
                continue;
            }
            let every = if now.since(hot.since) < FAST_FOR {
                FAST_EVERY
            } else {
                SLOW_EVERY
            };
            hot.next = now.plus(every);
            out.push(view.probe_address_of(key));
            if let Some(p) = topology.placement(key) {
                out.extend(p.replicas.iter().map(|r| view.probe_address_of(r)));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether `key` is failing, or replicates from a failing server: its
    /// snapshots are testimony a pending verdict waits for.
    pub fn concerns(&self, view: &View, key: &InstanceKey) -> bool {
        if self.hot.is_empty() {
            return false;
        }
        self.hot.contains_key(key)
            || view
                .get(key)
                .and_then(|s| s.data.as_ref())
                .and_then(|d| d.master_key())
                .is_some_and(|m| self.hot.contains_key(&view.identity_of(&m)))
    }

    /// Whether anything is being re-probed.
    pub fn has_hot(&self) -> bool {
        !self.hot.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orc_model::{
        InstanceData, InstanceSnapshot, ProbeError, ProbeErrorKind, ProbeOutcome,
        ReplicationStatus, ThreadState,
    };

    fn k(p: u16) -> InstanceKey {
        InstanceKey::new("127.0.0.1", p).unwrap()
    }

    fn ok(
        port: u16,
        master: Option<u16>,
        replicas: &[u16],
        io: ThreadState,
        at: i64,
    ) -> InstanceSnapshot {
        InstanceSnapshot {
            key: k(port),
            vantage: "p".into(),
            started_at: Timestamp(at),
            observed_at: Timestamp(at),
            outcome: ProbeOutcome::Ok,
            data: Some(InstanceData {
                replication: master.map(|m| ReplicationStatus {
                    master_host: "127.0.0.1".into(),
                    master_port: m,
                    io_thread: io,
                    sql_thread: ThreadState::Running,
                    last_io_error: if io.is_running() {
                        String::new()
                    } else {
                        "error connecting to master".into()
                    },
                    using_gtid: "Slave_Pos".into(),
                    ..Default::default()
                }),
                replicas: replicas.iter().map(|p| k(*p)).collect(),
                log_bin: true,
                log_replica_updates: true,
                ..Default::default()
            }),
            one_off: false,
        }
    }

    fn refused(port: u16, at: i64) -> InstanceSnapshot {
        InstanceSnapshot {
            key: k(port),
            vantage: "p".into(),
            started_at: Timestamp(at),
            observed_at: Timestamp(at),
            outcome: ProbeOutcome::Failed(ProbeError {
                kind: ProbeErrorKind::Refused,
                message: "refused".into(),
            }),
            data: None,
            one_off: false,
        }
    }

    fn detector() -> Detector {
        Detector::new(
            AnalysisPolicy {
                stale_after: Duration::from_secs(30),
                ..Default::default()
            },
            Duration::from_secs(3600),
        )
    }

    /// Master 1 with `replicas` replicating from it, all probed at 1 s.
    fn healthy(replicas: &[u16]) -> View {
        let mut view = View::default();
        view.add(&k(1), Timestamp(0));
        view.ingest(
            &ok(1, None, replicas, ThreadState::Running, 1_000),
            Timestamp(1_000),
        );
        for &r in replicas {
            view.ingest(
                &ok(r, Some(1), &[], ThreadState::Running, 1_000),
                Timestamp(1_000),
            );
        }
        view
    }

    #[test]
    fn a_dead_master_is_found_once_after_its_replicas_agree_and_they_are_reprobed_meanwhile() {
        let mut view = healthy(&[2, 3]);
        let none = BTreeMap::new();
        let mut d = detector();
        let (emits, probes) = d.evaluate(&view, &none, Timestamp(1_000));
        assert!(emits.is_empty() && probes.is_empty());

        // The master refuses; replicas have not noticed yet. Their word
        // predates the failure: no verdict until they are heard again.
        view.ingest(&refused(1, 2_000), Timestamp(2_000));
        let (emits, probes) = d.evaluate(&view, &none, Timestamp(2_000));
        assert!(emits.is_empty(), "{emits:?}");
        assert_eq!(
            probes,
            vec![k(1), k(2), k(3)],
            "master and replicas re-probed at once"
        );
        assert!(d.due_probes(&view, Timestamp(2_050)).is_empty());
        assert_eq!(
            d.due_probes(&view, Timestamp(2_100)).len(),
            3,
            "again 100 ms later"
        );

        // The replicas lose it too: dead master, once.
        view.ingest(
            &ok(2, Some(1), &[], ThreadState::Connecting, 2_150),
            Timestamp(2_150),
        );
        view.ingest(
            &ok(3, Some(1), &[], ThreadState::Connecting, 2_150),
            Timestamp(2_150),
        );
        let (emits, _) = d.evaluate(&view, &none, Timestamp(2_150));
        let dead: Vec<_> = emits
            .iter()
            .filter(|e| e.analysis.code.to_string() == "DeadMaster")
            .collect();
        assert_eq!(dead.len(), 1);
        assert!(dead[0].new_detection);
        let (again, _) = d.evaluate(&view, &none, Timestamp(2_300));
        assert!(
            again
                .iter()
                .all(|e| e.analysis.code.to_string() != "DeadMaster"),
            "one finding per incident"
        );
        assert_eq!(incident_id(&dead[0].analysis), dead[0].incident_id);
    }

    #[test]
    fn servers_taken_over_are_judged_only_once_probed_here_or_after_their_deadline() {
        let none = BTreeMap::new();
        // Stored rows last probed at 1 s, read at 40 s: judged as they
        // stand, they make findings (the check is stale).
        let (unmarked, _) = detector().evaluate(&healthy(&[2]), &none, Timestamp(40_000));
        assert!(!unmarked.is_empty(), "the case means something");

        let mut view = healthy(&[2]);
        let mut d = detector();
        for p in [1, 2] {
            view.await_first_probe(&k(p), Timestamp(45_000));
        }
        assert!(view.awaits_first_probe(&k(1), Timestamp(40_000)));
        let (emits, _) = d.evaluate(&view, &none, Timestamp(40_000));
        assert!(emits.is_empty(), "{emits:?}");

        // Probed here: the mark goes, and what the probe says counts.
        view.ingest(&refused(1, 41_000), Timestamp(41_000));
        assert!(!view.awaits_first_probe(&k(1), Timestamp(41_000)));
        assert!(view.awaits_first_probe(&k(2), Timestamp(41_000)));

        // Past the deadline, unprobed servers are judged as they stand.
        view.expire_awaiting(Timestamp(46_000));
        assert!(!view.awaits_first_probe(&k(2), Timestamp(46_000)));
        let (emits, _) = d.evaluate(&view, &none, Timestamp(46_000));
        assert!(!emits.is_empty());
    }

    #[test]
    fn an_unreachable_master_is_reported_once_its_replicas_say_they_still_replicate() {
        let mut view = healthy(&[2]);
        let none = BTreeMap::new();
        let mut d = detector();
        d.evaluate(&view, &none, Timestamp(1_000));
        view.ingest(&refused(1, 2_000), Timestamp(2_000));
        assert!(d.evaluate(&view, &none, Timestamp(2_000)).0.is_empty());
        // Fresh testimony: still replicating, so unreachable, not dead.
        view.ingest(
            &ok(2, Some(1), &[], ThreadState::Running, 2_050),
            Timestamp(2_050),
        );
        let (emits, _) = d.evaluate(&view, &none, Timestamp(2_050));
        assert_eq!(emits.len(), 1);
        assert_eq!(emits[0].analysis.code.to_string(), "UnreachableMaster");
    }

    #[test]
    fn without_fresh_testimony_the_verdict_waits_at_most_a_second() {
        let mut view = healthy(&[2]);
        let none = BTreeMap::new();
        let mut d = detector();
        view.ingest(&refused(1, 2_000), Timestamp(2_000));
        assert!(d.evaluate(&view, &none, Timestamp(2_900)).0.is_empty());
        let (emits, _) = d.evaluate(&view, &none, Timestamp(3_000));
        assert_eq!(emits.len(), 1);
        assert_eq!(emits[0].analysis.code.to_string(), "UnreachableMaster");
    }

    #[test]
    fn a_recovered_server_is_no_longer_reprobed() {
        let mut view = healthy(&[2]);
        let none = BTreeMap::new();
        let mut d = detector();
        view.ingest(&refused(1, 2_000), Timestamp(2_000));
        d.evaluate(&view, &none, Timestamp(2_000));
        assert!(d.has_hot());
        view.ingest(
            &ok(1, None, &[2], ThreadState::Running, 2_500),
            Timestamp(2_500),
        );
        d.evaluate(&view, &none, Timestamp(2_500));
        assert!(!d.has_hot());
    }
}

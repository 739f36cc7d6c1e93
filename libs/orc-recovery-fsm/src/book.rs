//! The per-cluster recovery state machine.
//!
//! One [`RecoveryBook`] per recovery service. Every cluster is either idle
//! or working on exactly one trigger, in four phases: waiting for the
//! cluster's lease, being admitted (anti-flapping, filters, downtime, the
//! global switch and "is it still failing?" are read under the lease),
//! running, and done. Further triggers of a busy cluster queue behind the
//! current one; triggers refused because of an earlier recovery wait in
//! the blocked list until an acknowledgement, a re-enable or the end of
//! the block period lets them be tried again.
//!
//! The book decides; the service does: [`RecoveryBook::handle`] takes an
//! [`Event`] and the time and returns the [`Action`]s to carry out, whose
//! results come back as further events.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use orc_model::{InstanceKey, Timestamp};
use serde::{Deserialize, Serialize};

use crate::dispatch::Handler;

/// Something to recover from: a finding of the analysis or an operator's command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// De-duplication key: the finding's incident id, or a command's request id.
    pub incident: String,
    /// The failure detection it belongs to (empty for commands without one).
    pub detection_id: String,
    /// The cluster.
    pub cluster: String,
    /// The failed instance (for takeovers: the current master).
    pub instance: InstanceKey,
    /// The analysis code (`DeadMaster`, ...).
    pub code: String,
    /// What recovery does about it.
    pub handler: Handler,
    /// An operator asked: blocks, filters, downtime and the global switch do not apply.
    pub forced: bool,
    /// Automated recovery may act on it (orchestrator's `IsActionableRecovery`).
    pub actionable: bool,
    /// The failed instance is downtimed (orchestrator's `SkippableDueToDowntime`).
    pub skippable: bool,
    /// `graceful-master-takeover`, `force-master-failover`, ... or empty.
    pub command: String,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The replica to promote, when one must be: the successor an
    /// interrupted recovery of the same failure had chosen (it may already
    /// have been promoted; promoting another would make two masters).
    pub designated: Option<InstanceKey>,
}

/// What the service read under the lease, for the book to judge a trigger by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// `disable-global-recoveries` is in force.
    pub globally_disabled: bool,
    /// The cluster matches the recovery filters of the trigger's kind.
    pub filters_match: bool,
    /// The failed instance is downtimed now.
    pub downtimed: bool,
    /// An unacknowledged recovery of the cluster whose block period is not
    /// over: its uid and when the block ends.
    pub blocking: Option<(String, Timestamp)>,
    /// A recovery that already answered this detection (another service's, say).
    pub already_recovered: Option<String>,
    /// Recoveries of the cluster still marked active although their
    /// service lost the cluster's lease (it died in the middle): they are
    /// closed as interrupted, and neither block nor answer this trigger.
    pub interrupted: Vec<String>,
    /// The successor the interrupted recoveries' plans chose, if any.
    pub interrupted_successor: Option<InstanceKey>,
    /// The freshest analysis still shows the failure.
    pub still_failing: bool,
    /// A fact above could not be read (the store did not answer): nothing
    /// may be assumed, so nothing is done (fail closed).
    pub unreadable: Option<String>,
}

/// Why a trigger ends without a recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SkipReason {
    /// Recovery does not act on this code automatically.
    NotActionable,
    /// The failed instance is downtimed.
    Downtimed,
    /// The cluster is not in the recovery filters.
    FilteredOut,
    /// Recoveries are disabled globally.
    GloballyDisabled,
    /// The same incident is already queued or running.
    Duplicate,
    /// Another recovery answered this detection.
    AlreadyRecovered(String),
    /// The failure is gone.
    NoLongerFailing,
    /// The cluster's lease could not be had in time.
    LeaseUnavailable,
    /// The admission facts could not be read: the recovery waits (an
    /// automated one is retried a little later).
    FactsUnreadable(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotActionable => f.write_str("not actionable"),
            Self::Downtimed => f.write_str("the failed instance is downtimed"),
            Self::FilteredOut => f.write_str("the cluster is not in the recovery filters"),
            Self::GloballyDisabled => f.write_str("recoveries are disabled globally"),
            Self::Duplicate => f.write_str("already being handled"),
            Self::AlreadyRecovered(uid) => write!(f, "already recovered by {uid}"),
            Self::NoLongerFailing => f.write_str("the failure is gone"),
            Self::LeaseUnavailable => f.write_str("the cluster's lease is held elsewhere"),
            Self::FactsUnreadable(why) => write!(
                f,
                "the facts that decide whether to recover cannot be read ({why}): nothing is done"
            ),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A finding or command arrived.
    Triggered(Trigger),
    /// The cluster's lease is ours, with this fencing token.
    LeaseGranted {
        /// Cluster.
        cluster: String,
        /// Lease revision.
        token: u64,
    },
    /// Someone else holds the cluster's lease.
    LeaseBusy {
        /// Cluster.
        cluster: String,
    },
    /// The admission facts were read.
    Admitted {
        /// Cluster.
        cluster: String,
        /// The facts.
        admission: Admission,
    },
    /// The recovery ended (either way); the lease may go.
    Finished {
        /// Cluster.
        cluster: String,
    },
    /// Blocked triggers may be tried again (acknowledgement, re-enable).
    Retry {
        /// One cluster, or all.
        cluster: Option<String>,
    },
    /// Time passed.
    Tick,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Register the failure detection and, when it is new, run the
    /// detection hooks.
    RegisterDetection(Trigger),
    /// Try to take the cluster's lease; answer with `LeaseGranted` or `LeaseBusy`.
    AcquireLease {
        /// Cluster.
        cluster: String,
    },
    /// Read the admission facts under the lease; answer with `Admitted`.
    Admit {
        /// The trigger.
        trigger: Trigger,
        /// Fencing token.
        token: u64,
    },
    /// Recover; answer with `Finished`.
    Run {
        /// The trigger.
        trigger: Trigger,
        /// Fencing token.
        token: u64,
    },
    /// Record that an automated recovery was refused by an earlier one.
    RecordBlocked {
        /// The trigger.
        trigger: Trigger,
        /// The blocking recovery.
        blocking_uid: String,
    },
    /// The trigger ends here.
    Skipped {
        /// The trigger.
        trigger: Trigger,
        /// Why.
        reason: SkipReason,
    },
    /// Close recoveries interrupted by the death of their service (before
    /// this trigger is answered).
    CloseInterrupted {
        /// The cluster.
        cluster: String,
        /// Their uids.
        uids: Vec<String>,
        /// The incident about to be answered.
        by: String,
    },
    /// Give the cluster's lease back.
    ReleaseLease {
        /// Cluster.
        cluster: String,
    },
}

/// When an automated recovery whose admission facts could not be read is
/// tried again.
const UNREADABLE_RETRY: Duration = Duration::from_secs(2);

/// How patient the book is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookPolicy {
    /// Between two attempts at a busy lease.
    pub lease_retry_every: Duration,
    /// How long to keep trying for a lease before giving up.
    pub lease_patience: Duration,
    /// How long a blocked trigger is remembered for a retry.
    pub remember_blocked_for: Duration,
}

impl Default for BookPolicy {
    fn default() -> Self {
        Self {
            lease_retry_every: Duration::from_millis(100),
            lease_patience: Duration::from_secs(60),
            remember_blocked_for: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Idle,
    Acquiring {
        since: Timestamp,
        retry_at: Option<Timestamp>,
    },
    Admitting {
        token: u64,
    },
    Running,
}

#[derive(Debug, Clone)]
struct Blocked {
    trigger: Trigger,
    retry_at: Timestamp,
    forget_at: Timestamp,
}

#[derive(Debug, Clone)]
struct Cluster {
    phase: Phase,
    current: Option<Trigger>,
    queue: VecDeque<Trigger>,
    blocked: Vec<Blocked>,
}

impl Cluster {
    fn new() -> Self {
        Self {
            phase: Phase::Idle,
            current: None,
            queue: VecDeque::new(),
            blocked: Vec::new(),
        }
    }

    fn knows(&self, incident: &str) -> bool {
        self.current
            .as_ref()
            .is_some_and(|t| t.incident == incident)
            || self.queue.iter().any(|t| t.incident == incident)
    }
}

/// The recovery state of every cluster one service handles.
#[derive(Debug, Clone)]
pub struct RecoveryBook {
    policy: BookPolicy,
    clusters: BTreeMap<String, Cluster>,
}

impl RecoveryBook {
    /// An empty book.
    pub fn new(policy: BookPolicy) -> Self {
        Self {
            policy,
            clusters: BTreeMap::new(),
        }
    }

    /// Whether a cluster has a trigger in hand (acquiring, admitting or running).
    pub fn is_busy(&self, cluster: &str) -> bool {
        self.clusters
            .get(cluster)
            .is_some_and(|c| c.phase != Phase::Idle)
    }

    /// Triggers waiting for a retry, per cluster.
    pub fn blocked(&self) -> Vec<&Trigger> {
        self.clusters
            .values()
            .flat_map(|c| c.blocked.iter().map(|b| &b.trigger))
            .collect()
    }

    /// The earliest time a [`Event::Tick`] has something to do.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.clusters
            .values()
            .flat_map(|c| {
                let acquiring = match c.phase {
                    Phase::Acquiring {
                        retry_at: Some(t), ..
                    } => Some(t),
                    _ => None,
                };
                acquiring
                    .into_iter()
                    .chain(c.blocked.iter().map(|b| b.retry_at.min(b.forget_at)))
            })
            .min()
    }

    /// Handles one event at `now`.
    pub fn handle(&mut self, event: Event, now: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Triggered(t) => self.triggered(t, now, &mut out),
            Event::LeaseGranted { cluster, token } => {
                let c = self.cluster(&cluster);
                match (&c.phase, &c.current) {
                    (Phase::Acquiring { .. }, Some(t)) => {
                        let trigger = t.clone();
                        c.phase = Phase::Admitting { token };
                        out.push(Action::Admit { trigger, token });
                    }
                    // A grant nobody waits for: give it back.
                    _ => out.push(Action::ReleaseLease { cluster }),
                }
            }
            Event::LeaseBusy { cluster } => {
                let patience = self.policy.lease_patience;
                let every = self.policy.lease_retry_every;
                let c = self.cluster(&cluster);
                if let Phase::Acquiring { since, .. } = c.phase {
                    if now.since(since) >= patience {
                        if let Some(trigger) = c.current.take() {
                            out.push(Action::Skipped {
                                trigger,
                                reason: SkipReason::LeaseUnavailable,
                            });
                        }
                        c.phase = Phase::Idle;
                        self.start_next(&cluster, now, &mut out);
                    } else {
                        c.phase = Phase::Acquiring {
                            since,
                            retry_at: Some(now.plus(every)),
                        };
                    }
                }
            }
            Event::Admitted { cluster, admission } => {
                self.admitted(&cluster, admission, now, &mut out);
            }
            Event::Finished { cluster } => {
                let c = self.cluster(&cluster);
                if matches!(c.phase, Phase::Running | Phase::Admitting { .. }) {
                    c.phase = Phase::Idle;
                    c.current = None;
                    out.push(Action::ReleaseLease {
                        cluster: cluster.clone(),
                    });
                    self.start_next(&cluster, now, &mut out);
                }
            }
            Event::Retry { cluster } => {
                let names: Vec<String> = match cluster {
                    Some(c) => vec![c],
                    None => self.clusters.keys().cloned().collect(),
                };
                for name in names {
                    let c = self.cluster(&name);
                    let retry: Vec<Trigger> = c.blocked.drain(..).map(|b| b.trigger).collect();
                    for t in retry {
                        if !c.knows(&t.incident) {
                            c.queue.push_back(t);
                        }
                    }
                    if c.phase == Phase::Idle {
                        self.start_next(&name, now, &mut out);
                    }
                }
            }
            Event::Tick => self.tick(now, &mut out),
        }
        out
    }

    fn cluster(&mut self, name: &str) -> &mut Cluster {
        self.clusters
            .entry(name.to_string())
            .or_insert_with(Cluster::new)
    }

    fn triggered(&mut self, t: Trigger, now: Timestamp, out: &mut Vec<Action>) {
        if !t.forced {
            if !t.detection_id.is_empty() {
                out.push(Action::RegisterDetection(t.clone()));
            }
            if !t.handler.acts() || !t.actionable {
                out.push(Action::Skipped {
                    trigger: t,
                    reason: SkipReason::NotActionable,
                });
                return;
            }
            if t.skippable {
                out.push(Action::Skipped {
                    trigger: t,
                    reason: SkipReason::Downtimed,
                });
                return;
            }
        }
        let name = t.cluster.clone();
        let c = self.cluster(&name);
        if c.knows(&t.incident) {
            out.push(Action::Skipped {
                trigger: t,
                reason: SkipReason::Duplicate,
            });
            return;
        }
        // A new trigger supersedes a blocked one of the same incident.
        c.blocked.retain(|b| b.trigger.incident != t.incident);
        c.queue.push_back(t);
        if c.phase == Phase::Idle {
            self.start_next(&name, now, out);
        }
    }

    fn start_next(&mut self, name: &str, now: Timestamp, out: &mut Vec<Action>) {
        let c = self.cluster(name);
        if c.phase != Phase::Idle {
            return;
        }
        if let Some(next) = c.queue.pop_front() {
            c.current = Some(next);
            c.phase = Phase::Acquiring {
                since: now,
                retry_at: None,
            };
            out.push(Action::AcquireLease {
                cluster: name.to_string(),
            });
        }
    }

    fn admitted(&mut self, name: &str, a: Admission, now: Timestamp, out: &mut Vec<Action>) {
        let remember = self.policy.remember_blocked_for;
        let c = self.cluster(name);
        let (token, trigger) = match (&c.phase, &c.current) {
            (Phase::Admitting { token }, Some(t)) => (*token, t.clone()),
            _ => return,
        };
        if !a.interrupted.is_empty() && a.unreadable.is_none() {
            out.push(Action::CloseInterrupted {
                cluster: name.to_string(),
                uids: a.interrupted.clone(),
                by: trigger.incident.clone(),
            });
        }
        let refusal = if let Some(why) = a.unreadable.clone() {
            Some(SkipReason::FactsUnreadable(why))
        } else if let Some(uid) = a.already_recovered.clone() {
            Some(SkipReason::AlreadyRecovered(uid))
        } else if !a.still_failing {
            Some(SkipReason::NoLongerFailing)
        } else if trigger.forced {
            None
        } else if a.globally_disabled {
            Some(SkipReason::GloballyDisabled)
        } else if !a.filters_match {
            Some(SkipReason::FilteredOut)
        } else if a.downtimed {
            Some(SkipReason::Downtimed)
        } else {
            None
        };
        let blocking = if trigger.forced || refusal.is_some() {
            None
        } else {
            // An interrupted recovery is being taken over, not waited for.
            a.blocking
                .clone()
                .filter(|(uid, _)| !a.interrupted.contains(uid))
        };
        if let Some(reason) = refusal {
            if matches!(reason, SkipReason::FactsUnreadable(_)) && !trigger.forced {
                c.blocked.push(Blocked {
                    trigger: trigger.clone(),
                    retry_at: now.plus(UNREADABLE_RETRY),
                    forget_at: now.plus(remember),
                });
            }
            if reason == SkipReason::GloballyDisabled {
                c.blocked.push(Blocked {
                    trigger: trigger.clone(),
                    retry_at: now.plus(remember),
                    forget_at: now.plus(remember),
                });
            }
            out.push(Action::Skipped { trigger, reason });
        } else if let Some((uid, until)) = blocking {
            c.blocked.push(Blocked {
                trigger: trigger.clone(),
                retry_at: until,
                forget_at: now.plus(remember),
            });
            out.push(Action::RecordBlocked {
                trigger,
                blocking_uid: uid,
            });
        } else {
            let mut trigger = trigger;
            if trigger.designated.is_none() {
                trigger.designated = a.interrupted_successor.clone();
            }
            c.phase = Phase::Running;
            out.push(Action::Run { trigger, token });
            return;
        }
        c.phase = Phase::Idle;
        c.current = None;
        out.push(Action::ReleaseLease {
            cluster: name.to_string(),
        });
        self.start_next(name, now, out);
    }

    fn tick(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        let names: Vec<String> = self.clusters.keys().cloned().collect();
        for name in names {
            let c = self.cluster(&name);
            if let Phase::Acquiring {
                since,
                retry_at: Some(at),
            } = c.phase
                && at <= now
            {
                c.phase = Phase::Acquiring {
                    since,
                    retry_at: None,
                };
                out.push(Action::AcquireLease {
                    cluster: name.clone(),
                });
            }
            let mut due = Vec::new();
            c.blocked.retain(|b| {
                if b.forget_at <= now {
                    false
                } else if b.retry_at <= now {
                    due.push(b.trigger.clone());
                    false
                } else {
                    true
                }
            });
            for t in due {
                if !c.knows(&t.incident) {
                    c.queue.push_back(t);
                }
            }
            if c.phase == Phase::Idle {
                self.start_next(&name, now, out);
            }
        }
    }
}

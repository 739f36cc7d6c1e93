//! What a plan is: phases of lanes of steps, each step an action with the
//! preconditions that must still hold when it runs and the effect it has.
//!
//! Lanes of one phase run concurrently and touch different servers; steps
//! of a lane run in order; a phase ends when its lanes (background ones
//! aside) have ended. A failed or refused step ends its lane; when the lane
//! is critical, no later phase runs and the plan's `on_failure` steps do.

use std::fmt;

use orc_model::InstanceKey;
use orc_promotion::PromotionDecision;
use orc_recovery_fsm::HookStage;
use serde::{Deserialize, Serialize};

use crate::intent::Intent;

/// How a plan moves replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// GTID (MariaDB `slave_pos`/`current_pos`, MySQL auto-positioning).
    Gtid,
    /// Pseudo-GTID: positions found by matching injected marker events.
    PseudoGtid,
    /// Binary log coordinates, kept equivalent by stopping servers at the same point.
    BinlogFile,
    /// No replica changes its source.
    None,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Gtid => "GTID",
            Method::PseudoGtid => "Pseudo-GTID",
            Method::BinlogFile => "binlog file:pos",
            Method::None => "no source change",
        })
    }
}

/// Where a replica starts reading from a new source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// MariaDB `MASTER_USE_GTID = slave_pos`.
    MariadbSlavePos,
    /// MariaDB `MASTER_USE_GTID = current_pos` (a former master: its own
    /// writes count).
    MariadbCurrentPos,
    /// MySQL `MASTER_AUTO_POSITION = 1`.
    AutoPosition,
    /// Binary log coordinates of the new source captured by an earlier step.
    Captured(String),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::MariadbSlavePos => f.write_str("GTID slave_pos"),
            Position::MariadbCurrentPos => f.write_str("GTID current_pos"),
            Position::AutoPosition => f.write_str("GTID auto-position"),
            Position::Captured(name) => write!(f, "coordinates {name}"),
        }
    }
}

/// Replication credentials a `CHANGE MASTER` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credentials {
    /// Leave the replica's user and password as they are.
    Keep,
    /// The configured ones (`ReplicationCredentialsQuery`, `ReplicationUser`),
    /// resolved by the executor; never written into a plan.
    Configured,
}

/// A value read while the plan runs, named for later steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Capture {
    /// The server's own binary log position (`SHOW MASTER STATUS`).
    SelfCoordinates(InstanceKey),
    /// The replica's position in its source's binary logs
    /// (`Relay_Master_Log_File:Exec_Master_Log_Pos`).
    ExecCoordinates(InstanceKey),
    /// The GTID position the server has executed (MariaDB
    /// `gtid_binlog_pos`, or `gtid_slave_pos` for a replica's applied
    /// position; MySQL `gtid_executed`).
    GtidExecuted(InstanceKey),
    /// MariaDB `gtid_slave_pos`: what a replica applied from its sources.
    GtidApplied(InstanceKey),
    /// Pseudo-GTID: the coordinates in `target`'s binary logs matching
    /// where `replica` (stopped) is.
    PseudoGtidMatch {
        /// The replica to be moved.
        replica: InstanceKey,
        /// Its new source.
        target: InstanceKey,
    },
}

impl Capture {
    /// The server read.
    pub fn server(&self) -> &InstanceKey {
        match self {
            Capture::SelfCoordinates(k)
            | Capture::ExecCoordinates(k)
            | Capture::GtidExecuted(k)
            | Capture::GtidApplied(k) => k,
            Capture::PseudoGtidMatch { replica, .. } => replica,
        }
    }
}

impl fmt::Display for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capture::SelfCoordinates(k) => write!(f, "binary log position of {k}"),
            Capture::ExecCoordinates(k) => {
                write!(f, "executed position of {k} in its source's logs")
            }
            Capture::GtidExecuted(k) => write!(f, "GTID position of {k}"),
            Capture::GtidApplied(k) => write!(f, "GTID position {k} applied as a replica"),
            Capture::PseudoGtidMatch { replica, target } => {
                write!(
                    f,
                    "position in {target}'s binary logs matching {replica} (Pseudo-GTID)"
                )
            }
        }
    }
}

/// Which semi-sync role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SemiSyncRole {
    /// `rpl_semi_sync_master_enabled`.
    Master,
    /// `rpl_semi_sync_slave_enabled`.
    Replica,
}

/// One thing done to one server (or two, for a synchronisation), or to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// `STOP SLAVE`.
    StopReplica(InstanceKey),
    /// `STOP SLAVE IO_THREAD`.
    StopIoThread(InstanceKey),
    /// `START SLAVE SQL_THREAD`.
    StartSqlThread(InstanceKey),
    /// `START SLAVE`, then wait until both threads run (or say why not).
    StartReplica(InstanceKey),
    /// Wait until the SQL thread has applied everything the IO thread read.
    WaitRelayLogApplied(InstanceKey),
    /// `START SLAVE UNTIL` the captured coordinates (in its source's
    /// logs), wait until reached, `STOP SLAVE`.
    RunUntil {
        /// The replica.
        on: InstanceKey,
        /// Name of captured coordinates.
        until: String,
    },
    /// Both replicas stopped under one source: the one behind runs until
    /// the other's executed position; both end stopped at the same place.
    SyncSiblings {
        /// One replica.
        a: InstanceKey,
        /// The other.
        b: InstanceKey,
    },
    /// Wait until `on` has applied a captured GTID position.
    WaitForGtid {
        /// The server waiting.
        on: InstanceKey,
        /// Name of the captured GTID position.
        position: String,
    },
    /// `CHANGE MASTER TO` the new source.
    ChangeSource {
        /// The replica.
        on: InstanceKey,
        /// Its new source.
        source: InstanceKey,
        /// Where it starts.
        position: Position,
        /// User and password.
        credentials: Credentials,
    },
    /// `CHANGE MASTER TO MASTER_HOST='//host'`: reversible detach.
    DetachSource(InstanceKey),
    /// Strips the `//` of a detached source host.
    ReattachSource(InstanceKey),
    /// `RESET SLAVE ALL`.
    ResetReplica(InstanceKey),
    /// `read_only` (and `super_read_only` per `UseSuperReadOnly`).
    SetReadOnly {
        /// The server.
        on: InstanceKey,
        /// Read-only or writable.
        read_only: bool,
    },
    /// Reads a value for later steps.
    Capture {
        /// The name later steps use.
        name: String,
        /// What is read.
        what: Capture,
    },
    /// Skips one event or transaction on the SQL thread.
    SkipQuery(InstanceKey),
    /// `FLUSH BINARY LOGS`.
    FlushBinaryLogs(InstanceKey),
    /// `PURGE BINARY LOGS TO` a file.
    PurgeBinaryLogs {
        /// The server.
        on: InstanceKey,
        /// First file kept.
        to: String,
    },
    /// Enables or disables a semi-sync role.
    SetSemiSync {
        /// The server.
        on: InstanceKey,
        /// Which role.
        role: SemiSyncRole,
        /// On or off.
        enabled: bool,
    },
    /// `CHANGE MASTER TO MASTER_DELAY`.
    DelayReplication {
        /// The replica.
        on: InstanceKey,
        /// Seconds.
        seconds: u32,
    },
    /// `KILL QUERY`.
    KillQuery {
        /// The server.
        on: InstanceKey,
        /// Process id.
        process: u64,
    },
    /// Writes one empty transaction per errant GTID on the cluster's master.
    InjectEmptyTransactions {
        /// The master.
        on: InstanceKey,
        /// The GTIDs (MySQL syntax).
        gtids: String,
    },
    /// `RESET MASTER` and `gtid_purged` = executed minus errant.
    ResetMasterKeeping {
        /// The server.
        on: InstanceKey,
        /// The errant GTIDs removed.
        errant: String,
    },
    /// Downtimes a server in the store.
    Downtime {
        /// The server.
        on: InstanceKey,
        /// Why.
        reason: String,
    },
    /// Ends a server's downtime in the store.
    EndDowntime(InstanceKey),
    /// Runs a hook list (`PreFailoverProcesses`, ...).
    Hooks(HookStage),
    /// Publishes the server as its cluster's master in the KV stores
    /// (`KVClusterMasterPrefix`), with the plan's fencing token.
    PublishMaster(InstanceKey),
}

impl Action {
    /// The servers the action changes or reads.
    pub fn servers(&self) -> Vec<&InstanceKey> {
        match self {
            Action::StopReplica(k)
            | Action::StopIoThread(k)
            | Action::StartSqlThread(k)
            | Action::StartReplica(k)
            | Action::WaitRelayLogApplied(k)
            | Action::DetachSource(k)
            | Action::ReattachSource(k)
            | Action::ResetReplica(k)
            | Action::SkipQuery(k)
            | Action::FlushBinaryLogs(k)
            | Action::EndDowntime(k)
            | Action::PublishMaster(k) => vec![k],
            Action::RunUntil { on, .. }
            | Action::WaitForGtid { on, .. }
            | Action::SetReadOnly { on, .. }
            | Action::PurgeBinaryLogs { on, .. }
            | Action::SetSemiSync { on, .. }
            | Action::DelayReplication { on, .. }
            | Action::KillQuery { on, .. }
            | Action::InjectEmptyTransactions { on, .. }
            | Action::ResetMasterKeeping { on, .. }
            | Action::Downtime { on, .. } => vec![on],
            Action::SyncSiblings { a, b } => vec![a, b],
            Action::ChangeSource { on, .. } => vec![on],
            Action::Capture { what, .. } => match what {
                Capture::PseudoGtidMatch { replica, target } => vec![replica, target],
                other => vec![other.server()],
            },
            Action::Hooks(_) => vec![],
        }
    }

    /// Whether the action talks to a server at all (store and hook actions
    /// do not).
    pub fn touches_a_server(&self) -> bool {
        !matches!(
            self,
            Action::Downtime { .. }
                | Action::EndDowntime(_)
                | Action::Hooks(_)
                | Action::PublishMaster(_)
        )
    }

    /// Whether the action changes a server (reads and waits do not).
    pub fn changes_a_server(&self) -> bool {
        !matches!(
            self,
            Action::Capture { .. }
                | Action::WaitForGtid { .. }
                | Action::WaitRelayLogApplied(_)
                | Action::Downtime { .. }
                | Action::EndDowntime(_)
                | Action::Hooks(_)
                | Action::PublishMaster(_)
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::StopReplica(k) => write!(f, "stop replication on {k}"),
            Action::StopIoThread(k) => write!(f, "stop the IO thread of {k}"),
            Action::StartSqlThread(k) => write!(f, "start the SQL thread of {k}"),
            Action::StartReplica(k) => write!(f, "start replication on {k}"),
            Action::WaitRelayLogApplied(k) => {
                write!(f, "wait until {k} applied its relay logs")
            }
            Action::RunUntil { on, until } => {
                write!(f, "run {on} until {until}, then stop it")
            }
            Action::SyncSiblings { a, b } => {
                write!(
                    f,
                    "bring {a} and {b} to the same position (the one behind runs until the other's)"
                )
            }
            Action::WaitForGtid { on, position } => {
                write!(f, "wait until {on} has applied {position}")
            }
            Action::ChangeSource {
                on,
                source,
                position,
                credentials,
            } => {
                write!(f, "point {on} at {source} ({position}")?;
                if *credentials == Credentials::Configured {
                    f.write_str(", configured replication credentials")?;
                }
                f.write_str(")")
            }
            Action::DetachSource(k) => write!(f, "detach {k} from its source (//host)"),
            Action::ReattachSource(k) => write!(f, "reattach {k} to its source"),
            Action::ResetReplica(k) => write!(f, "forget the replication of {k} (RESET SLAVE ALL)"),
            Action::SetReadOnly { on, read_only } => {
                if *read_only {
                    write!(f, "make {on} read-only")
                } else {
                    write!(f, "make {on} writable")
                }
            }
            Action::Capture { name, what } => write!(f, "read {what} as {name}"),
            Action::SkipQuery(k) => write!(f, "skip one query on {k}"),
            Action::FlushBinaryLogs(k) => write!(f, "flush binary logs on {k}"),
            Action::PurgeBinaryLogs { on, to } => write!(f, "purge binary logs of {on} to {to}"),
            Action::SetSemiSync { on, role, enabled } => write!(
                f,
                "{} semi-sync {} on {on}",
                if *enabled { "enable" } else { "disable" },
                match role {
                    SemiSyncRole::Master => "master",
                    SemiSyncRole::Replica => "replica",
                }
            ),
            Action::DelayReplication { on, seconds } => {
                write!(f, "delay replication of {on} by {seconds}s")
            }
            Action::KillQuery { on, process } => write!(f, "kill query {process} on {on}"),
            Action::InjectEmptyTransactions { on, gtids } => {
                write!(f, "inject empty transactions {gtids} on {on}")
            }
            Action::ResetMasterKeeping { on, errant } => {
                write!(f, "reset the binary logs of {on}, dropping errant {errant}")
            }
            Action::Downtime { on, reason } => write!(f, "downtime {on} ({reason})"),
            Action::EndDowntime(k) => write!(f, "end the downtime of {k}"),
            Action::Hooks(stage) => write!(f, "run {}", stage.config_key()),
            Action::PublishMaster(k) => write!(f, "publish {k} as the master in the KV stores"),
        }
    }
}

/// Something that must hold (before a step) or holds (after it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// The server answers.
    Reachable(InstanceKey),
    /// Its configured source is `source`.
    ReplicatesFrom {
        /// The replica.
        replica: InstanceKey,
        /// Its source.
        source: InstanceKey,
    },
    /// It has no source (a master, or reset).
    NoSource(InstanceKey),
    /// Both replication threads stopped.
    ReplicationStopped(InstanceKey),
    /// Both replication threads running.
    ReplicationRunning(InstanceKey),
    /// `read_only` on.
    ReadOnly(InstanceKey),
    /// `read_only` off.
    Writable(InstanceKey),
    /// Binary logs with replica updates (`log_bin`, `log_slave_updates`).
    LogsReplicaUpdates(InstanceKey),
    /// Its source host is `//`-detached.
    Detached(InstanceKey),
    /// Both executed the same position of their common source.
    SameExecPosition(InstanceKey, InstanceKey),
    /// It executed up to captured coordinates.
    ExecutedUpTo {
        /// The replica.
        on: InstanceKey,
        /// Name of the captured coordinates.
        capture: String,
    },
}

impl Condition {
    /// The servers the condition is about.
    pub fn servers(&self) -> Vec<&InstanceKey> {
        match self {
            Condition::Reachable(k)
            | Condition::NoSource(k)
            | Condition::ReplicationStopped(k)
            | Condition::ReplicationRunning(k)
            | Condition::ReadOnly(k)
            | Condition::Writable(k)
            | Condition::LogsReplicaUpdates(k)
            | Condition::Detached(k) => vec![k],
            Condition::ReplicatesFrom { replica, source } => vec![replica, source],
            Condition::SameExecPosition(a, b) => vec![a, b],
            Condition::ExecutedUpTo { on, .. } => vec![on],
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Reachable(k) => write!(f, "{k} answers"),
            Condition::ReplicatesFrom { replica, source } => {
                write!(f, "{replica} replicates from {source}")
            }
            Condition::NoSource(k) => write!(f, "{k} has no source"),
            Condition::ReplicationStopped(k) => write!(f, "replication stopped on {k}"),
            Condition::ReplicationRunning(k) => write!(f, "replication running on {k}"),
            Condition::ReadOnly(k) => write!(f, "{k} is read-only"),
            Condition::Writable(k) => write!(f, "{k} is writable"),
            Condition::LogsReplicaUpdates(k) => {
                write!(f, "{k} has binary logs with replica updates")
            }
            Condition::Detached(k) => write!(f, "{k} is detached from its source"),
            Condition::SameExecPosition(a, b) => {
                write!(f, "{a} and {b} executed the same position")
            }
            Condition::ExecutedUpTo { on, capture } => {
                write!(f, "{on} executed up to {capture}")
            }
        }
    }
}

/// One step: an action, what must hold before it, what holds after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What is done.
    pub action: Action,
    /// What must still hold, on fresh reads, when it runs.
    pub preconditions: Vec<Condition>,
    /// What holds once it is done.
    pub effects: Vec<Condition>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.action.fmt(f)
    }
}

/// Steps done in order, concurrently with the other lanes of its phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    /// What the lane achieves, in words.
    pub label: String,
    /// A failure stops the plan (after the phase), and `on_failure` runs.
    pub critical: bool,
    /// The phase does not wait for it (best effort, e.g. fencing an old
    /// master that may hang).
    pub background: bool,
    /// The server whose move the lane is: when it fails, that server is
    /// reported lost or not moved.
    pub moves: Option<InstanceKey>,
    /// Its steps.
    pub steps: Vec<Step>,
    /// Best-effort steps when the lane fails (downtime a lost replica,
    /// restart one left stopped).
    #[serde(default)]
    pub on_failure: Vec<Step>,
}

/// Lanes run together; the next phase starts when they are done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// What the phase does, in words.
    pub label: String,
    /// Its lanes.
    pub lanes: Vec<Lane>,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What was asked.
    pub intent: Intent,
    /// How replicas are moved.
    pub method: Method,
    /// One line saying what the plan does.
    pub summary: String,
    /// Why this plan: the method chosen and why, candidates, lost replicas.
    pub notes: Vec<String>,
    /// The phases, in order.
    pub phases: Vec<Phase>,
    /// Best-effort steps when the plan stops early (restore what was
    /// stopped, revert a read-only master, run unsuccessful-failover hooks).
    pub on_failure: Vec<Step>,
    /// What holds once the plan is done; the executor waits a while for
    /// each and reports the ones that do not.
    pub expect: Vec<Condition>,
    /// The server the operation is about (whose state the caller reports).
    pub subject: Option<InstanceKey>,
    /// The new master (or new source of moved replicas) after a recovery.
    pub successor: Option<InstanceKey>,
    /// Replicas left behind, with the reason.
    pub lost: Vec<(InstanceKey, String)>,
    /// The promotion decision of a failover.
    pub decision: Option<PromotionDecision>,
    /// Done when at least one replica moved (intermediate-master recovery):
    /// lanes with `moves` all failing makes the plan unsuccessful.
    pub needs_a_moved_replica: bool,
    /// What to plan and run next on fresh reads (the hand-over to an
    /// ideal replica after an emergency promotion).
    pub followup: Option<Intent>,
}

impl Plan {
    /// An empty plan for `intent`.
    pub fn new(intent: Intent, method: Method, summary: impl Into<String>) -> Self {
        Self {
            intent,
            method,
            summary: summary.into(),
            notes: Vec::new(),
            phases: Vec::new(),
            on_failure: Vec::new(),
            expect: Vec::new(),
            subject: None,
            successor: None,
            lost: Vec::new(),
            decision: None,
            needs_a_moved_replica: false,
            followup: None,
        }
    }

    /// Every step in order (phase by phase, lane by lane).
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.phases
            .iter()
            .flat_map(|p| p.lanes.iter().flat_map(|l| l.steps.iter()))
    }

    /// Servers the plan changes.
    pub fn changed_servers(&self) -> Vec<InstanceKey> {
        let mut out: Vec<InstanceKey> = self
            .steps()
            .filter(|s| s.action.changes_a_server())
            .flat_map(|s| s.action.servers().into_iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The plan in words, one line per step, numbered `phase.lane.step`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (p, phase) in self.phases.iter().enumerate() {
            for (l, lane) in phase.lanes.iter().enumerate() {
                for (s, step) in lane.steps.iter().enumerate() {
                    out.push(format!("{}.{}.{} {step}", p + 1, l + 1, s + 1));
                }
            }
        }
        out
    }
}

//! Reading orchestrator's `/api/all-instances` JSON back into folded
//! instance states, for offline analysis (post-mortems, tests).

use std::collections::BTreeMap;
use std::time::Duration;

use orc_model::{
    BinlogCoordinates, CandidateRegistration, Downtime, Flavor, InstanceData, InstanceKey,
    InstanceMetadata, InstanceSnapshot, InstanceState, LogKind, ProbeError, ProbeErrorKind,
    ProbeOutcome, PromotionRule, ReplicationStatus, SemiSync, ThreadState, Timestamp,
};

use crate::instance::{CoordinatesJson, InstanceJson};

/// A document that is not an array of orchestrator instances.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Not JSON of the right shape.
    #[error("not an array of orchestrator instances: {0}")]
    Shape(String),
    /// An instance whose key is unusable.
    #[error("instance #{index}: {reason}")]
    Instance {
        /// Position in the array.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

fn coordinates(c: &CoordinatesJson) -> BinlogCoordinates {
    BinlogCoordinates {
        log_file: c.LogFile.clone(),
        log_pos: c.LogPos,
        kind: if c.Type == 1 {
            LogKind::Relay
        } else {
            LogKind::Binary
        },
    }
}

fn thread(code: i32) -> ThreadState {
    match code {
        1 => ThreadState::Running,
        2 => ThreadState::Connecting,
        _ => ThreadState::Stopped,
    }
}

fn data_of(j: &InstanceJson) -> InstanceData {
    let flavor = match j.FlavorName.as_str() {
        "MariaDB" => Flavor::Mariadb,
        "Percona" => Flavor::Percona,
        _ => Flavor::detect(&j.Version, &j.VersionComment),
    };
    let replication =
        (!j.MasterKey.Hostname.is_empty() && j.ReplicationIOThreadState >= 0).then(|| {
            ReplicationStatus {
                master_host: j.MasterKey.Hostname.clone(),
                master_port: u16::try_from(j.MasterKey.Port).unwrap_or(0),
                master_user: if j.HasReplicationCredentials {
                    "repl".into()
                } else {
                    String::new()
                },
                master_uuid: j.MasterUUID.clone(),
                io_thread: thread(j.ReplicationIOThreadState),
                sql_thread: thread(j.ReplicationSQLThreadState),
                read_coordinates: coordinates(&j.ReadBinlogCoordinates),
                exec_coordinates: coordinates(&j.ExecBinlogCoordinates),
                relay_coordinates: coordinates(&j.RelaylogCoordinates),
                last_io_error: j.LastIOError.clone(),
                last_sql_error: j.LastSQLError.clone(),
                seconds_behind_master: j.SecondsBehindMaster.to_option(),
                sql_delay: j.SQLDelay,
                auto_position: j.UsingOracleGTID,
                using_gtid: if j.UsingMariaDBGTID {
                    "Slave_Pos".into()
                } else {
                    String::new()
                },
                has_filters: j.HasReplicationFilters,
                ..Default::default()
            }
        });
    InstanceData {
        server_id: j.ServerID,
        server_uuid: j.ServerUUID.clone(),
        version: j.Version.clone(),
        version_comment: j.VersionComment.clone(),
        flavor,
        read_only: j.ReadOnly,
        log_bin: j.LogBinEnabled,
        log_replica_updates: j.LogReplicationUpdatesEnabled || j.LogSlaveUpdatesEnabled,
        binlog_format: j.Binlog_format.clone(),
        binlog_row_image: j.BinlogRowImage.clone(),
        gtid_mode: j.GTIDMode.clone(),
        gtid_executed: j.ExecutedGtidSet.clone(),
        gtid_purged: j.GtidPurged.clone(),
        self_coordinates: (!j.SelfBinlogCoordinates.LogFile.is_empty())
            .then(|| coordinates(&j.SelfBinlogCoordinates)),
        replication,
        replicas: j
            .Replicas
            .iter()
            .filter_map(|k| InstanceKey::new(&k.Hostname, u16::try_from(k.Port).ok()?).ok())
            .collect(),
        semi_sync: SemiSync {
            available: j.SemiSyncAvailable,
            master_enabled: j.SemiSyncMasterEnabled,
            replica_enabled: j.SemiSyncReplicaEnabled,
            master_timeout_ms: j.SemiSyncMasterTimeout,
            master_wait_for_replica_count: j.SemiSyncMasterWaitForReplicaCount,
            master_status: j.SemiSyncMasterStatus,
            master_clients: j.SemiSyncMasterClients,
            replica_status: j.SemiSyncReplicaStatus,
        },
        uptime_seconds: j.Uptime,
        replication_lag_seconds: j.ReplicationLagSeconds.to_option(),
        data_center: j.DataCenter.clone(),
        region: j.Region.clone(),
        physical_environment: j.PhysicalEnvironment.clone(),
        instance_alias: j.InstanceAlias.clone(),
        suggested_cluster_alias: j.SuggestedClusterAlias.clone(),
        semi_sync_priority: j.SemiSyncPriority,
        replication_credentials_available: j.ReplicationCredentialsAvailable,
        using_pseudo_gtid: j.UsingPseudoGTID,
        reported_gtid_errant: j.GtidErrant.clone(),
        ..Default::default()
    }
}

/// Folded states, operator metadata and the instant the document describes.
pub type Replayed = (
    BTreeMap<InstanceKey, InstanceState>,
    BTreeMap<InstanceKey, InstanceMetadata>,
    Timestamp,
);

/// orchestrator's default hang threshold: `InstancePollSeconds` (5) plus
/// `ReasonableInstanceCheckSeconds` (1).
pub const DEFAULT_HANGING_AFTER: Duration = Duration::from_secs(6);

/// Reads an `/api/all-instances` document, with orchestrator's default
/// hang threshold ([`states_from_instances_with`]).
pub fn states_from_instances(json: &str) -> Result<Replayed, ReplayError> {
    states_from_instances_with(json, DEFAULT_HANGING_AFTER)
}

/// Reads an `/api/all-instances` document. The document holds no error
/// kinds, so its timestamps speak:
/// - an instance whose last check is invalid is taken as refusing
///   connections (dead at once), orchestrator's own reading;
/// - an instance whose last check is valid but that was last seen more than
///   `hanging_after` before the document was taken (orchestrator: an
///   attempted check newer than `last_seen + InstancePollSeconds +
///   ReasonableInstanceCheckSeconds`) has stopped answering since then: its
///   probes are replayed as timing out from `last seen + hanging_after`, so
///   the hung-versus-dead grace is measured from the document's own clock;
/// - one observation says nothing about binary log coordinates standing
///   still, so no staleness is assumed (a locked semi-sync master stays a
///   hypothesis, as orchestrator reports it without a history).
pub fn states_from_instances_with(
    json: &str,
    hanging_after: Duration,
) -> Result<Replayed, ReplayError> {
    let instances: Vec<InstanceJson> =
        serde_json::from_str(json).map_err(|e| ReplayError::Shape(e.to_string()))?;
    let seen = |j: &InstanceJson| Timestamp::parse(&j.LastSeenTimestamp);
    let now = instances
        .iter()
        .filter_map(|j| {
            let since = j.SecondsSinceLastSeen.to_option().unwrap_or(0).max(0);
            seen(j).map(|t| t.plus(Duration::from_secs(u64::try_from(since).unwrap_or(0))))
        })
        .max()
        .unwrap_or(Timestamp(0));
    let mut states = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for (index, j) in instances.iter().enumerate() {
        let port = u16::try_from(j.Key.Port).map_err(|_| ReplayError::Instance {
            index,
            reason: format!("port {} out of range", j.Key.Port),
        })?;
        let key = InstanceKey::new(&j.Key.Hostname, port).map_err(|e| ReplayError::Instance {
            index,
            reason: e.to_string(),
        })?;
        let mut state = InstanceState::new(key.clone(), Timestamp(0));
        if let Some(at) = seen(j) {
            let snap = |at: Timestamp, outcome: ProbeOutcome, data: Option<InstanceData>| {
                InstanceSnapshot {
                    key: key.clone(),
                    vantage: "replay".into(),
                    started_at: at,
                    observed_at: at,
                    outcome,
                    data,
                    one_off: false,
                }
            };
            state.apply(&snap(at, ProbeOutcome::Ok, Some(data_of(j))));
            state.self_coordinates_since = None;
            let unseen_for = Duration::from_secs(
                u64::try_from(j.SecondsSinceLastSeen.to_option().unwrap_or(0).max(0)).unwrap_or(0),
            );
            if j.IsLastCheckValid && unseen_for > hanging_after {
                let hung = || {
                    ProbeOutcome::Failed(ProbeError {
                        kind: ProbeErrorKind::Timeout,
                        message: "no answer since last seen (replayed from instance JSON)".into(),
                    })
                };
                state.apply(&snap(at.plus(hanging_after), hung(), None));
                state.apply(&snap(now.max(at.plus(hanging_after)), hung(), None));
            }
            if !j.IsLastCheckValid {
                let failed = ProbeOutcome::Failed(ProbeError {
                    kind: ProbeErrorKind::Refused,
                    message: "last check invalid (replayed from instance JSON)".into(),
                });
                state.apply(&snap(
                    now.max(at.plus(Duration::from_secs(1))),
                    failed,
                    None,
                ));
            }
        }
        let mut m = InstanceMetadata::default();
        if j.IsDowntimed {
            m.downtime = Some(Downtime {
                owner: j.DowntimeOwner.clone(),
                reason: j.DowntimeReason.clone(),
                begins_at: Timestamp(0),
                ends_at: Timestamp::parse(&j.DowntimeEndTimestamp)
                    .unwrap_or(now.plus(Duration::from_secs(60))),
            });
        }
        if let Ok(rule) = j.PromotionRule.parse::<PromotionRule>()
            && rule != PromotionRule::Neutral
        {
            m.candidate = Some(CandidateRegistration {
                rule,
                registered_at: now,
                expires_at: now.plus(Duration::from_secs(3600)),
            });
        }
        metadata.insert(key.clone(), m);
        states.insert(key, state);
    }
    Ok((states, metadata, now))
}

//! Conversions between `orc-model`'s observation types (keys, coordinates,
//! snapshots) and their wire messages.
//!
//! Model → wire is infallible (`From`); wire → model validates (`TryFrom`)
//! because a message may come from another process or version.

use orc_model as m;

use crate::Error;
use crate::v1 as w;

fn out_of_range(message: &'static str, field: &'static str) -> Error {
    Error::OutOfRange { message, field }
}

impl From<&m::InstanceKey> for w::InstanceKey {
    fn from(k: &m::InstanceKey) -> Self {
        Self {
            hostname: k.hostname().to_string(),
            port: u32::from(k.port()),
        }
    }
}

impl TryFrom<&w::InstanceKey> for m::InstanceKey {
    type Error = Error;
    fn try_from(k: &w::InstanceKey) -> Result<Self, Error> {
        let port = u16::try_from(k.port).map_err(|_| out_of_range("InstanceKey", "port"))?;
        m::InstanceKey::new(&k.hostname, port).map_err(|source| Error::InvalidField {
            message: "InstanceKey",
            field: "hostname",
            source,
        })
    }
}

/// Converts an optional wire key, naming the field when absent.
pub fn key_from(
    k: Option<&w::InstanceKey>,
    message: &'static str,
    field: &'static str,
) -> Result<m::InstanceKey, Error> {
    m::InstanceKey::try_from(k.ok_or(Error::MissingField { message, field })?)
}

/// Converts an optional wire key (absent stays absent).
pub fn opt_key_from(k: Option<&w::InstanceKey>) -> Result<Option<m::InstanceKey>, Error> {
    k.map(m::InstanceKey::try_from).transpose()
}

/// Converts a list of wire keys.
pub fn keys_from(keys: &[w::InstanceKey]) -> Result<Vec<m::InstanceKey>, Error> {
    keys.iter().map(m::InstanceKey::try_from).collect()
}

/// Keys on the wire.
pub fn keys_to_wire(keys: &[m::InstanceKey]) -> Vec<w::InstanceKey> {
    keys.iter().map(Into::into).collect()
}

impl From<&m::BinlogCoordinates> for w::BinlogCoordinates {
    fn from(c: &m::BinlogCoordinates) -> Self {
        Self {
            log_file: c.log_file.clone(),
            log_pos: c.log_pos,
            kind: crate::enums::log_kind_to_wire(c.kind),
        }
    }
}

impl From<&w::BinlogCoordinates> for m::BinlogCoordinates {
    fn from(c: &w::BinlogCoordinates) -> Self {
        Self {
            log_file: c.log_file.clone(),
            log_pos: c.log_pos,
            kind: match w::LogKind::try_from(c.kind) {
                Ok(w::LogKind::Relay) => m::LogKind::Relay,
                _ => m::LogKind::Binary,
            },
        }
    }
}

fn coords(c: Option<&w::BinlogCoordinates>) -> m::BinlogCoordinates {
    c.map(m::BinlogCoordinates::from).unwrap_or_default()
}

fn thread_to_wire(t: m::ThreadState) -> i32 {
    (match t {
        m::ThreadState::Stopped => w::ThreadState::Stopped,
        m::ThreadState::Running => w::ThreadState::Running,
        m::ThreadState::Connecting => w::ThreadState::Connecting,
        m::ThreadState::Other => w::ThreadState::Other,
    }) as i32
}

fn thread_from_wire(v: i32) -> m::ThreadState {
    match w::ThreadState::try_from(v) {
        Ok(w::ThreadState::Running) => m::ThreadState::Running,
        Ok(w::ThreadState::Connecting) => m::ThreadState::Connecting,
        Ok(w::ThreadState::Other) => m::ThreadState::Other,
        _ => m::ThreadState::Stopped,
    }
}

/// Promotion rule to its wire enum value.
pub fn rule_to_wire(r: Option<m::PromotionRule>) -> i32 {
    (match r {
        None => w::PromotionRule::Unspecified,
        Some(m::PromotionRule::Must) => w::PromotionRule::Must,
        Some(m::PromotionRule::Prefer) => w::PromotionRule::Prefer,
        Some(m::PromotionRule::Neutral) => w::PromotionRule::Neutral,
        Some(m::PromotionRule::PreferNot) => w::PromotionRule::PreferNot,
        Some(m::PromotionRule::MustNot) => w::PromotionRule::MustNot,
    }) as i32
}

/// Wire enum value to a promotion rule (`None` when unspecified or unknown).
pub fn rule_from_wire(v: i32) -> Option<m::PromotionRule> {
    match w::PromotionRule::try_from(v) {
        Ok(w::PromotionRule::Must) => Some(m::PromotionRule::Must),
        Ok(w::PromotionRule::Prefer) => Some(m::PromotionRule::Prefer),
        Ok(w::PromotionRule::Neutral) => Some(m::PromotionRule::Neutral),
        Ok(w::PromotionRule::PreferNot) => Some(m::PromotionRule::PreferNot),
        Ok(w::PromotionRule::MustNot) => Some(m::PromotionRule::MustNot),
        _ => None,
    }
}

impl From<&m::ReplicationStatus> for w::ReplicationStatus {
    fn from(r: &m::ReplicationStatus) -> Self {
        Self {
            channel: r.channel.clone(),
            master_host: r.master_host.clone(),
            master_port: u32::from(r.master_port),
            master_user: r.master_user.clone(),
            master_server_id: r.master_server_id,
            master_uuid: r.master_uuid.clone(),
            io_thread: thread_to_wire(r.io_thread),
            sql_thread: thread_to_wire(r.sql_thread),
            io_state_text: r.io_state_text.clone(),
            read_coordinates: Some((&r.read_coordinates).into()),
            exec_coordinates: Some((&r.exec_coordinates).into()),
            relay_coordinates: Some((&r.relay_coordinates).into()),
            last_io_errno: r.last_io_errno,
            last_io_error: r.last_io_error.clone(),
            last_sql_errno: r.last_sql_errno,
            last_sql_error: r.last_sql_error.clone(),
            seconds_behind_master: r.seconds_behind_master,
            sql_delay: r.sql_delay,
            auto_position: r.auto_position,
            using_gtid: r.using_gtid.clone(),
            gtid_io_pos: r.gtid_io_pos.clone(),
            retrieved_gtid_set: r.retrieved_gtid_set.clone(),
            executed_gtid_set: r.executed_gtid_set.clone(),
            has_filters: r.has_filters,
            ssl_allowed: r.ssl_allowed,
        }
    }
}

impl TryFrom<&w::ReplicationStatus> for m::ReplicationStatus {
    type Error = Error;
    fn try_from(r: &w::ReplicationStatus) -> Result<Self, Error> {
        Ok(Self {
            channel: r.channel.clone(),
            master_host: r.master_host.clone(),
            master_port: u16::try_from(r.master_port)
                .map_err(|_| out_of_range("ReplicationStatus", "master_port"))?,
            master_user: r.master_user.clone(),
            master_server_id: r.master_server_id,
            master_uuid: r.master_uuid.clone(),
            io_thread: thread_from_wire(r.io_thread),
            sql_thread: thread_from_wire(r.sql_thread),
            io_state_text: r.io_state_text.clone(),
            read_coordinates: coords(r.read_coordinates.as_ref()),
            exec_coordinates: coords(r.exec_coordinates.as_ref()),
            relay_coordinates: coords(r.relay_coordinates.as_ref()),
            last_io_errno: r.last_io_errno,
            last_io_error: r.last_io_error.clone(),
            last_sql_errno: r.last_sql_errno,
            last_sql_error: r.last_sql_error.clone(),
            seconds_behind_master: r.seconds_behind_master,
            sql_delay: r.sql_delay,
            auto_position: r.auto_position,
            using_gtid: r.using_gtid.clone(),
            gtid_io_pos: r.gtid_io_pos.clone(),
            retrieved_gtid_set: r.retrieved_gtid_set.clone(),
            executed_gtid_set: r.executed_gtid_set.clone(),
            has_filters: r.has_filters,
            ssl_allowed: r.ssl_allowed,
        })
    }
}

impl From<&m::SemiSync> for w::SemiSync {
    fn from(s: &m::SemiSync) -> Self {
        Self {
            available: s.available,
            master_enabled: s.master_enabled,
            replica_enabled: s.replica_enabled,
            master_timeout_ms: s.master_timeout_ms,
            master_wait_for_replica_count: s.master_wait_for_replica_count,
            master_status: s.master_status,
            master_clients: s.master_clients,
            replica_status: s.replica_status,
        }
    }
}

impl From<&w::SemiSync> for m::SemiSync {
    fn from(s: &w::SemiSync) -> Self {
        Self {
            available: s.available,
            master_enabled: s.master_enabled,
            replica_enabled: s.replica_enabled,
            master_timeout_ms: s.master_timeout_ms,
            master_wait_for_replica_count: s.master_wait_for_replica_count,
            master_status: s.master_status,
            master_clients: s.master_clients,
            replica_status: s.replica_status,
        }
    }
}

impl From<&m::InstanceData> for w::InstanceData {
    fn from(d: &m::InstanceData) -> Self {
        Self {
            server_id: d.server_id,
            server_uuid: d.server_uuid.clone(),
            hostname: d.hostname.clone(),
            report_host: d.report_host.clone(),
            version: d.version.clone(),
            version_comment: d.version_comment.clone(),
            flavor: (match d.flavor {
                m::Flavor::Mysql => w::Flavor::Mysql,
                m::Flavor::Percona => w::Flavor::Percona,
                m::Flavor::Mariadb => w::Flavor::Mariadb,
            }) as i32,
            read_only: d.read_only,
            super_read_only: d.super_read_only,
            log_bin: d.log_bin,
            log_replica_updates: d.log_replica_updates,
            binlog_format: d.binlog_format.clone(),
            binlog_row_image: d.binlog_row_image.clone(),
            gtid_mode: d.gtid_mode.clone(),
            gtid_executed: d.gtid_executed.clone(),
            gtid_purged: d.gtid_purged.clone(),
            gtid_current_pos: d.gtid_current_pos.clone(),
            gtid_slave_pos: d.gtid_slave_pos.clone(),
            self_coordinates: d.self_coordinates.as_ref().map(Into::into),
            replication: d.replication.as_ref().map(Into::into),
            extra_channels: d.extra_channels.iter().map(Into::into).collect(),
            replicas: d.replicas.iter().map(Into::into).collect(),
            semi_sync: Some((&d.semi_sync).into()),
            uptime_seconds: d.uptime_seconds,
            replication_lag_seconds: d.replication_lag_seconds,
            data_center: d.data_center.clone(),
            region: d.region.clone(),
            physical_environment: d.physical_environment.clone(),
            instance_alias: d.instance_alias.clone(),
            suggested_cluster_alias: d.suggested_cluster_alias.clone(),
            cluster_domain: d.cluster_domain.clone(),
            promotion_rule_hint: rule_to_wire(d.promotion_rule_hint),
            semi_sync_priority: d.semi_sync_priority,
            replication_credentials_available: d.replication_credentials_available,
            using_pseudo_gtid: d.using_pseudo_gtid,
            reported_gtid_errant: d.reported_gtid_errant.clone(),
        }
    }
}

impl TryFrom<&w::InstanceData> for m::InstanceData {
    type Error = Error;
    fn try_from(d: &w::InstanceData) -> Result<Self, Error> {
        Ok(Self {
            server_id: d.server_id,
            server_uuid: d.server_uuid.clone(),
            hostname: d.hostname.clone(),
            report_host: d.report_host.clone(),
            version: d.version.clone(),
            version_comment: d.version_comment.clone(),
            flavor: match w::Flavor::try_from(d.flavor) {
                Ok(w::Flavor::Mariadb) => m::Flavor::Mariadb,
                Ok(w::Flavor::Percona) => m::Flavor::Percona,
                _ => m::Flavor::Mysql,
            },
            read_only: d.read_only,
            super_read_only: d.super_read_only,
            log_bin: d.log_bin,
            log_replica_updates: d.log_replica_updates,
            binlog_format: d.binlog_format.clone(),
            binlog_row_image: d.binlog_row_image.clone(),
            gtid_mode: d.gtid_mode.clone(),
            gtid_executed: d.gtid_executed.clone(),
            gtid_purged: d.gtid_purged.clone(),
            gtid_current_pos: d.gtid_current_pos.clone(),
            gtid_slave_pos: d.gtid_slave_pos.clone(),
            self_coordinates: d.self_coordinates.as_ref().map(Into::into),
            replication: d
                .replication
                .as_ref()
                .map(m::ReplicationStatus::try_from)
                .transpose()?,
            extra_channels: d
                .extra_channels
                .iter()
                .map(m::ReplicationStatus::try_from)
                .collect::<Result<_, _>>()?,
            replicas: d
                .replicas
                .iter()
                .map(m::InstanceKey::try_from)
                .collect::<Result<_, _>>()?,
            semi_sync: d.semi_sync.as_ref().map(Into::into).unwrap_or_default(),
            uptime_seconds: d.uptime_seconds,
            replication_lag_seconds: d.replication_lag_seconds,
            data_center: d.data_center.clone(),
            region: d.region.clone(),
            physical_environment: d.physical_environment.clone(),
            instance_alias: d.instance_alias.clone(),
            suggested_cluster_alias: d.suggested_cluster_alias.clone(),
            cluster_domain: d.cluster_domain.clone(),
            promotion_rule_hint: rule_from_wire(d.promotion_rule_hint),
            semi_sync_priority: d.semi_sync_priority,
            replication_credentials_available: d.replication_credentials_available,
            using_pseudo_gtid: d.using_pseudo_gtid,
            reported_gtid_errant: d.reported_gtid_errant.clone(),
        })
    }
}

fn error_kind_to_wire(k: m::ProbeErrorKind) -> i32 {
    use m::ProbeErrorKind as K;
    (match k {
        K::Refused => w::ProbeErrorKind::Refused,
        K::Timeout => w::ProbeErrorKind::Timeout,
        K::ConnectionLost => w::ProbeErrorKind::ConnectionLost,
        K::AccessDenied => w::ProbeErrorKind::AccessDenied,
        K::Unresolvable => w::ProbeErrorKind::Unresolvable,
        K::Query => w::ProbeErrorKind::Query,
        K::Other => w::ProbeErrorKind::Other,
    }) as i32
}

fn error_kind_from_wire(v: i32) -> m::ProbeErrorKind {
    use w::ProbeErrorKind as K;
    match K::try_from(v) {
        Ok(K::Refused) => m::ProbeErrorKind::Refused,
        Ok(K::Timeout) => m::ProbeErrorKind::Timeout,
        Ok(K::ConnectionLost) => m::ProbeErrorKind::ConnectionLost,
        Ok(K::AccessDenied) => m::ProbeErrorKind::AccessDenied,
        Ok(K::Unresolvable) => m::ProbeErrorKind::Unresolvable,
        Ok(K::Query) => m::ProbeErrorKind::Query,
        _ => m::ProbeErrorKind::Other,
    }
}

impl From<&m::ProbeError> for w::ProbeError {
    fn from(e: &m::ProbeError) -> Self {
        Self {
            kind: error_kind_to_wire(e.kind),
            message: e.message.clone(),
        }
    }
}

impl From<&w::ProbeError> for m::ProbeError {
    fn from(e: &w::ProbeError) -> Self {
        Self {
            kind: error_kind_from_wire(e.kind),
            message: e.message.clone(),
        }
    }
}

impl From<&m::InstanceSnapshot> for w::InstanceSnapshot {
    fn from(s: &m::InstanceSnapshot) -> Self {
        let (status, error) = match &s.outcome {
            m::ProbeOutcome::Ok => (w::ProbeStatus::Ok, None),
            m::ProbeOutcome::Partial(e) => (w::ProbeStatus::Partial, Some(e.into())),
            m::ProbeOutcome::Failed(e) => (w::ProbeStatus::Failed, Some(e.into())),
        };
        Self {
            key: Some((&s.key).into()),
            vantage: s.vantage.clone(),
            started_at_ms: s.started_at.as_millis(),
            observed_at_ms: s.observed_at.as_millis(),
            status: status as i32,
            error,
            data: s.data.as_ref().map(Into::into),
            one_off: s.one_off,
        }
    }
}

impl TryFrom<&w::InstanceSnapshot> for m::InstanceSnapshot {
    type Error = Error;
    fn try_from(s: &w::InstanceSnapshot) -> Result<Self, Error> {
        let error = || -> m::ProbeError {
            s.error.as_ref().map(Into::into).unwrap_or(m::ProbeError {
                kind: m::ProbeErrorKind::Other,
                message: String::new(),
            })
        };
        let outcome = match w::ProbeStatus::try_from(s.status) {
            Ok(w::ProbeStatus::Ok) => m::ProbeOutcome::Ok,
            Ok(w::ProbeStatus::Partial) => m::ProbeOutcome::Partial(error()),
            _ => m::ProbeOutcome::Failed(error()),
        };
        Ok(Self {
            key: key_from(s.key.as_ref(), "InstanceSnapshot", "key")?,
            vantage: s.vantage.clone(),
            started_at: m::Timestamp(s.started_at_ms),
            observed_at: m::Timestamp(s.observed_at_ms),
            outcome,
            data: s.data.as_ref().map(m::InstanceData::try_from).transpose()?,
            one_off: s.one_off,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn sample() -> m::InstanceSnapshot {
        let replication = m::ReplicationStatus {
            master_host: "127.0.0.1".into(),
            master_port: 22101,
            io_thread: m::ThreadState::Connecting,
            sql_thread: m::ThreadState::Running,
            read_coordinates: m::BinlogCoordinates::binary("mysql-bin.000001", 1918),
            exec_coordinates: m::BinlogCoordinates::binary("mysql-bin.000001", 1900),
            relay_coordinates: m::BinlogCoordinates::relay("relay-bin.000002", 2217),
            seconds_behind_master: Some(3),
            using_gtid: "Slave_Pos".into(),
            last_io_error: "error reconnecting to master".into(),
            ..Default::default()
        };
        m::InstanceSnapshot {
            key: m::InstanceKey::parse("127.0.0.1:22102").unwrap(),
            vantage: "prober-a".into(),
            started_at: m::Timestamp(1_000),
            observed_at: m::Timestamp(1_004),
            outcome: m::ProbeOutcome::Ok,
            data: Some(m::InstanceData {
                server_id: 2,
                version: "10.11.19-MariaDB-log".into(),
                flavor: m::Flavor::Mariadb,
                read_only: true,
                log_bin: true,
                log_replica_updates: true,
                binlog_format: "ROW".into(),
                gtid_executed: "0-1-12".into(),
                self_coordinates: Some(m::BinlogCoordinates::binary("mysql-bin.000001", 1918)),
                replication: Some(replication.clone()),
                extra_channels: vec![m::ReplicationStatus {
                    channel: "other".into(),
                    ..replication
                }],
                replicas: vec![m::InstanceKey::parse("127.0.0.1:22105").unwrap()],
                replication_lag_seconds: Some(3),
                promotion_rule_hint: Some(m::PromotionRule::PreferNot),
                semi_sync: m::SemiSync {
                    available: true,
                    master_timeout_ms: 10_000,
                    ..Default::default()
                },
                ..Default::default()
            }),
            one_off: false,
        }
    }

    #[test]
    fn a_snapshot_survives_the_wire() {
        let snap = sample();
        let bytes = w::InstanceSnapshot::from(&snap).encode_to_vec();
        let decoded = w::InstanceSnapshot::decode(bytes.as_slice()).unwrap();
        assert_eq!(m::InstanceSnapshot::try_from(&decoded).unwrap(), snap);
    }

    #[test]
    fn failed_probes_keep_their_error_kind() {
        let snap = m::InstanceSnapshot {
            outcome: m::ProbeOutcome::Failed(m::ProbeError {
                kind: m::ProbeErrorKind::Timeout,
                message: "timed out".into(),
            }),
            data: None,
            ..sample()
        };
        let wire = w::InstanceSnapshot::from(&snap);
        assert_eq!(m::InstanceSnapshot::try_from(&wire).unwrap(), snap);
    }

    #[test]
    fn a_snapshot_without_key_or_with_a_bad_port_is_refused() {
        let mut wire = w::InstanceSnapshot::from(&sample());
        wire.key = None;
        assert!(matches!(
            m::InstanceSnapshot::try_from(&wire),
            Err(Error::MissingField { field: "key", .. })
        ));
        wire.key = Some(w::InstanceKey {
            hostname: "db".into(),
            port: 70_000,
        });
        assert!(matches!(
            m::InstanceSnapshot::try_from(&wire),
            Err(Error::OutOfRange { .. })
        ));
    }
}

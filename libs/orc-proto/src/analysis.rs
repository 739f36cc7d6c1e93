//! Analyses on the wire: `InstanceAnalysis` ↔ [`orc_analysis::Analysis`]
//! with its evidence, the findings analyzers publish and the gRPC analysis
//! entry.

use orc_analysis as a;
use orc_model as m;

use crate::Error;
use crate::convert::{key_from, keys_from, keys_to_wire, opt_key_from};
use crate::enums::{
    code_from_wire, code_to_wire, coordinates_from_wire, error_kind_to_wire,
    opt_error_kind_from_wire, thread_from_wire, thread_to_wire, warning_from_wire, warning_to_wire,
};
use crate::v1 as w;

const ANALYSIS: &str = "InstanceAnalysis";

fn ms(t: Option<m::Timestamp>) -> Option<i64> {
    t.map(m::Timestamp::as_millis)
}

fn at(ms: Option<i64>) -> Option<m::Timestamp> {
    ms.map(m::Timestamp::from_millis)
}

impl From<&a::ReplicaCounts> for w::ReplicaCounts {
    fn from(c: &a::ReplicaCounts) -> Self {
        Self {
            replicas: c.replicas,
            valid: c.valid,
            valid_replicating: c.valid_replicating,
            failing_to_connect: c.failing_to_connect,
            downtimed: c.downtimed,
            lagging: c.lagging,
            delayed: c.delayed,
            logging: c.logging,
            statement_logging: c.statement_logging,
            mixed_logging: c.mixed_logging,
            row_logging: c.row_logging,
            distinct_major_versions_logging: c.distinct_major_versions_logging,
            semi_sync_enabled: c.semi_sync_enabled,
            oracle_gtid: c.oracle_gtid,
            mariadb_gtid: c.mariadb_gtid,
        }
    }
}

impl From<&w::ReplicaCounts> for a::ReplicaCounts {
    fn from(c: &w::ReplicaCounts) -> Self {
        Self {
            replicas: c.replicas,
            valid: c.valid,
            valid_replicating: c.valid_replicating,
            failing_to_connect: c.failing_to_connect,
            downtimed: c.downtimed,
            lagging: c.lagging,
            delayed: c.delayed,
            logging: c.logging,
            statement_logging: c.statement_logging,
            mixed_logging: c.mixed_logging,
            row_logging: c.row_logging,
            distinct_major_versions_logging: c.distinct_major_versions_logging,
            semi_sync_enabled: c.semi_sync_enabled,
            oracle_gtid: c.oracle_gtid,
            mariadb_gtid: c.mariadb_gtid,
        }
    }
}

impl From<&a::VantageEvidence> for w::VantageEvidence {
    fn from(v: &a::VantageEvidence) -> Self {
        Self {
            vantage: v.vantage.clone(),
            observed_at_ms: v.observed_at.as_millis(),
            reached: v.reached,
            error_kind: v.error_kind.map(error_kind_to_wire),
        }
    }
}

impl TryFrom<&w::VantageEvidence> for a::VantageEvidence {
    type Error = Error;
    fn try_from(v: &w::VantageEvidence) -> Result<Self, Error> {
        Ok(Self {
            vantage: v.vantage.clone(),
            observed_at: m::Timestamp::from_millis(v.observed_at_ms),
            reached: v.reached,
            error_kind: opt_error_kind_from_wire(v.error_kind, "VantageEvidence", "error_kind")?,
        })
    }
}

impl From<&a::InstanceEvidence> for w::InstanceEvidence {
    fn from(e: &a::InstanceEvidence) -> Self {
        Self {
            last_checked_ms: ms(e.last_checked),
            last_seen_ms: ms(e.last_seen),
            failing_since_ms: ms(e.failing_since),
            error_kind: e.error_kind.map(error_kind_to_wire),
            error: e.error.clone(),
            vantages: e.vantages.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<&w::InstanceEvidence> for a::InstanceEvidence {
    type Error = Error;
    fn try_from(e: &w::InstanceEvidence) -> Result<Self, Error> {
        Ok(Self {
            last_checked: at(e.last_checked_ms),
            last_seen: at(e.last_seen_ms),
            failing_since: at(e.failing_since_ms),
            error_kind: opt_error_kind_from_wire(e.error_kind, "InstanceEvidence", "error_kind")?,
            error: e.error.clone(),
            vantages: e
                .vantages
                .iter()
                .map(a::VantageEvidence::try_from)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl From<&a::ReplicaEvidence> for w::ReplicaEvidence {
    fn from(r: &a::ReplicaEvidence) -> Self {
        Self {
            key: Some((&r.key).into()),
            valid: r.valid,
            last_seen_ms: ms(r.last_seen),
            io_thread: thread_to_wire(r.io_thread),
            sql_thread: thread_to_wire(r.sql_thread),
            last_io_error: r.last_io_error.clone(),
            downtimed: r.downtimed,
        }
    }
}

impl TryFrom<&w::ReplicaEvidence> for a::ReplicaEvidence {
    type Error = Error;
    fn try_from(r: &w::ReplicaEvidence) -> Result<Self, Error> {
        const MSG: &str = "ReplicaEvidence";
        Ok(Self {
            key: key_from(r.key.as_ref(), MSG, "key")?,
            valid: r.valid,
            last_seen: at(r.last_seen_ms),
            io_thread: thread_from_wire(r.io_thread, MSG, "io_thread")?,
            sql_thread: thread_from_wire(r.sql_thread, MSG, "sql_thread")?,
            last_io_error: r.last_io_error.clone(),
            downtimed: r.downtimed,
        })
    }
}

impl From<&a::Analysis> for w::InstanceAnalysis {
    fn from(x: &a::Analysis) -> Self {
        Self {
            key: Some((&x.key).into()),
            master_key: x.master_key.as_ref().map(Into::into),
            cluster: Some((&x.cluster).into()),
            code: code_to_wire(x.code),
            description: x.description.clone(),
            structure: x.structure.iter().map(|s| warning_to_wire(*s)).collect(),
            is_master: x.is_master,
            is_co_master: x.is_co_master,
            last_check_valid: x.last_check_valid,
            last_check_partial_success: x.last_check_partial_success,
            counts: Some((&x.counts).into()),
            replication_depth: x.replication_depth,
            replicas: keys_to_wire(&x.replicas),
            is_failing_to_connect_to_master: x.is_failing_to_connect_to_master,
            is_downtimed: x.is_downtimed,
            is_replicas_downtimed: x.is_replicas_downtimed,
            downtime_end_ms: ms(x.downtime_end),
            skippable_due_to_downtime: x.skippable_due_to_downtime,
            is_actionable: x.is_actionable,
            binlog_coordinates: x.binlog_coordinates.as_ref().map(Into::into),
            data_center: x.data_center.clone(),
            region: x.region.clone(),
            physical_environment: x.physical_environment.clone(),
            is_read_only: x.is_read_only,
            gtid_mode: x.gtid_mode.clone(),
            min_replica_gtid_mode: x.min_replica_gtid_mode.clone(),
            max_replica_gtid_mode: x.max_replica_gtid_mode.clone(),
            max_replica_gtid_errant: x.max_replica_gtid_errant.clone(),
            oracle_gtid_immediate_topology: x.oracle_gtid_immediate_topology,
            mariadb_gtid_immediate_topology: x.mariadb_gtid_immediate_topology,
            semi_sync_master_enabled: x.semi_sync_master_enabled,
            semi_sync_master_status: x.semi_sync_master_status,
            semi_sync_master_wait_for_replica_count: x.semi_sync_master_wait_for_replica_count,
            semi_sync_master_clients: x.semi_sync_master_clients,
            evidence: Some((&x.evidence).into()),
            replica_evidence: x.replica_evidence.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<&w::InstanceAnalysis> for a::Analysis {
    type Error = Error;
    fn try_from(x: &w::InstanceAnalysis) -> Result<Self, Error> {
        Ok(Self {
            key: key_from(x.key.as_ref(), ANALYSIS, "key")?,
            master_key: opt_key_from(x.master_key.as_ref())?,
            cluster: key_from(x.cluster.as_ref(), ANALYSIS, "cluster")?,
            code: code_from_wire(x.code, ANALYSIS, "code")?,
            description: x.description.clone(),
            structure: x
                .structure
                .iter()
                .map(|s| warning_from_wire(*s, ANALYSIS, "structure"))
                .collect::<Result<_, _>>()?,
            is_master: x.is_master,
            is_co_master: x.is_co_master,
            last_check_valid: x.last_check_valid,
            last_check_partial_success: x.last_check_partial_success,
            counts: x.counts.as_ref().map(Into::into).unwrap_or_default(),
            replication_depth: x.replication_depth,
            replicas: keys_from(&x.replicas)?,
            is_failing_to_connect_to_master: x.is_failing_to_connect_to_master,
            is_downtimed: x.is_downtimed,
            is_replicas_downtimed: x.is_replicas_downtimed,
            downtime_end: at(x.downtime_end_ms),
            skippable_due_to_downtime: x.skippable_due_to_downtime,
            is_actionable: x.is_actionable,
            binlog_coordinates: x
                .binlog_coordinates
                .as_ref()
                .map(|c| coordinates_from_wire(c, ANALYSIS, "binlog_coordinates"))
                .transpose()?,
            data_center: x.data_center.clone(),
            region: x.region.clone(),
            physical_environment: x.physical_environment.clone(),
            is_read_only: x.is_read_only,
            gtid_mode: x.gtid_mode.clone(),
            min_replica_gtid_mode: x.min_replica_gtid_mode.clone(),
            max_replica_gtid_mode: x.max_replica_gtid_mode.clone(),
            max_replica_gtid_errant: x.max_replica_gtid_errant.clone(),
            oracle_gtid_immediate_topology: x.oracle_gtid_immediate_topology,
            mariadb_gtid_immediate_topology: x.mariadb_gtid_immediate_topology,
            semi_sync_master_enabled: x.semi_sync_master_enabled,
            semi_sync_master_status: x.semi_sync_master_status,
            semi_sync_master_wait_for_replica_count: x.semi_sync_master_wait_for_replica_count,
            semi_sync_master_clients: x.semi_sync_master_clients,
            evidence: x
                .evidence
                .as_ref()
                .map(a::InstanceEvidence::try_from)
                .transpose()?
                .unwrap_or_default(),
            replica_evidence: x
                .replica_evidence
                .iter()
                .map(a::ReplicaEvidence::try_from)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// A finding as published on the bus.
pub fn finding(
    x: &a::Analysis,
    incident_id: &str,
    detection_id: &str,
    new_detection: bool,
    analyzer_id: &str,
    detected_at: m::Timestamp,
) -> w::Finding {
    w::Finding {
        incident_id: incident_id.to_string(),
        detection_id: detection_id.to_string(),
        new_detection,
        analyzer_id: analyzer_id.to_string(),
        detected_at_ms: detected_at.as_millis(),
        instance: Some((&x.key).into()),
        cluster: x.cluster.to_string(),
        code: x.code.to_string(),
        description: x.description.clone(),
        actionable: x.is_actionable,
        skippable: x.skippable_due_to_downtime,
        structure: x.structure.iter().map(ToString::to_string).collect(),
        analysis: Some(x.into()),
    }
}

/// The analysis a finding carries.
pub fn finding_analysis(f: &w::Finding) -> Result<a::Analysis, Error> {
    let x = f.analysis.as_ref().ok_or(Error::MissingField {
        message: "Finding",
        field: "analysis",
    })?;
    a::Analysis::try_from(x)
}

/// An analysis entry of the gRPC API.
pub fn analysis_entry(x: &a::Analysis) -> w::AnalysisEntry {
    w::AnalysisEntry {
        instance: Some((&x.key).into()),
        master: x.master_key.as_ref().map(Into::into),
        cluster: x.cluster.to_string(),
        code: x.code.to_string(),
        description: x.description.clone(),
        structure: x.structure.iter().map(ToString::to_string).collect(),
        actionable: x.is_actionable,
        skippable: x.skippable_due_to_downtime,
        last_check_valid: x.last_check_valid,
        count_replicas: x.counts.replicas,
        count_valid_replicas: x.counts.valid,
        count_valid_replicating_replicas: x.counts.valid_replicating,
        analysis: Some(x.into()),
    }
}

/// The analysis a record keeps as text (`RecoveryRecord::analysis_json`,
/// `DetectionRecord::analysis_json`), on the wire; `None` when the text is
/// empty or not an analysis (a record written without one).
pub fn recorded_analysis(text: &str) -> Option<w::InstanceAnalysis> {
    serde_json::from_str::<a::Analysis>(text)
        .ok()
        .map(|x| (&x).into())
}

/// The text a record keeps for an analysis received on the wire.
pub fn analysis_text(x: &w::InstanceAnalysis) -> Result<String, Error> {
    let x = a::Analysis::try_from(x)?;
    serde_json::to_string(&x).map_err(|e| Error::Malformed {
        message: ANALYSIS,
        field: "analysis",
        reason: e.to_string(),
    })
}

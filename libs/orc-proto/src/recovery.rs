//! Recovery records on the wire: `RecoveryRecord` ↔
//! [`orc_model::RecoveryRecord`], as the recovery service answers an
//! operator's command.
//!
//! The model keeps the triggering analysis and the plan as text
//! (`analysis_json`, `decision_json`); here they travel typed. Text that is
//! empty or unreadable travels as an absent field and comes back empty.

use orc_model as m;

use crate::Error;
use crate::analysis::{analysis_text, recorded_analysis};
use crate::convert::{key_from, keys_from, keys_to_wire, opt_key_from};
use crate::enums::{recovery_kind_from_wire, recovery_kind_to_wire};
use crate::plan::{plan_text, recorded_plan};
use crate::v1 as w;

const RECORD: &str = "RecoveryRecord";

impl From<&m::RecoveryRecord> for w::RecoveryRecord {
    fn from(r: &m::RecoveryRecord) -> Self {
        Self {
            id: r.id,
            uid: r.uid.clone(),
            cluster: r.cluster.clone(),
            cluster_alias: r.cluster_alias.clone(),
            failed: Some((&r.failed).into()),
            analysis: r.analysis.clone(),
            analysis_detail: recorded_analysis(&r.analysis_json),
            kind: recovery_kind_to_wire(r.kind),
            recovery_type: r.recovery_type.clone(),
            command_hint: r.command_hint.clone(),
            is_active: r.is_active,
            is_successful: r.is_successful,
            successor: r.successor.as_ref().map(Into::into),
            successor_alias: r.successor_alias.clone(),
            lost_replicas: keys_to_wire(&r.lost_replicas),
            participating: keys_to_wire(&r.participating),
            errors: r.errors.clone(),
            started_at_ms: r.started_at.as_millis(),
            ended_at_ms: r.ended_at.map(m::Timestamp::as_millis),
            block_until_ms: r.block_until.as_millis(),
            acknowledged: r.acknowledged,
            acknowledged_at_ms: r.acknowledged_at.map(m::Timestamp::as_millis),
            acknowledged_by: r.acknowledged_by.clone(),
            acknowledged_comment: r.acknowledged_comment.clone(),
            processing_node: r.processing_node.clone(),
            lease_revision: r.lease_revision,
            detection_id: r.detection_id.clone(),
            plan: recorded_plan(&r.decision_json),
        }
    }
}

impl TryFrom<&w::RecoveryRecord> for m::RecoveryRecord {
    type Error = Error;
    fn try_from(r: &w::RecoveryRecord) -> Result<Self, Error> {
        Ok(Self {
            id: r.id,
            uid: r.uid.clone(),
            cluster: r.cluster.clone(),
            cluster_alias: r.cluster_alias.clone(),
            failed: key_from(r.failed.as_ref(), RECORD, "failed")?,
            analysis: r.analysis.clone(),
            analysis_json: r
                .analysis_detail
                .as_ref()
                .map(analysis_text)
                .transpose()?
                .unwrap_or_default(),
            kind: recovery_kind_from_wire(r.kind, RECORD, "kind")?,
            recovery_type: r.recovery_type.clone(),
            command_hint: r.command_hint.clone(),
            is_active: r.is_active,
            is_successful: r.is_successful,
            successor: opt_key_from(r.successor.as_ref())?,
            successor_alias: r.successor_alias.clone(),
            lost_replicas: keys_from(&r.lost_replicas)?,
            participating: keys_from(&r.participating)?,
            errors: r.errors.clone(),
            started_at: m::Timestamp::from_millis(r.started_at_ms),
            ended_at: r.ended_at_ms.map(m::Timestamp::from_millis),
            block_until: m::Timestamp::from_millis(r.block_until_ms),
            acknowledged: r.acknowledged,
            acknowledged_at: r.acknowledged_at_ms.map(m::Timestamp::from_millis),
            acknowledged_by: r.acknowledged_by.clone(),
            acknowledged_comment: r.acknowledged_comment.clone(),
            processing_node: r.processing_node.clone(),
            lease_revision: r.lease_revision,
            detection_id: r.detection_id.clone(),
            decision_json: r
                .plan
                .as_ref()
                .map(plan_text)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

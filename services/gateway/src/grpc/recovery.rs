//! The gRPC `orc.v1.Recovery` service: the operations of `operations`,
//! in protobuf messages.

use orc_model::{InstanceKey, InstanceMetadata, RecoveryRecord, Timestamp};
use orc_proto::analysis::recorded_analysis;
use orc_proto::convert::{rule_from_wire, rule_to_wire};
use orc_proto::plan::recorded_plan;
use orc_proto::v1 as wire;
use orc_proto::v1::recovery_server::Recovery;
use tonic::{Request, Response, Status};

use super::{GrpcApi, key_of, list, st};
use crate::operations::ack::{self, AckTarget};
use crate::operations::audit::{self, AuditView, DetectionQuery, RecoveryQuery};
use crate::operations::metadata::{self, MetadataChange};
use crate::operations::recovery::{self, Intent, Outcome};

fn ms(t: Option<Timestamp>) -> i64 {
    t.map_or(0, Timestamp::as_millis)
}

fn keys(v: &[InstanceKey]) -> Vec<wire::InstanceKey> {
    v.iter().map(Into::into).collect()
}

/// Operator metadata in force at `now`.
pub(super) fn operator_metadata(
    key: &InstanceKey,
    m: Option<&InstanceMetadata>,
    now: Timestamp,
) -> wire::OperatorMetadata {
    let m = m.cloned().unwrap_or_default();
    wire::OperatorMetadata {
        key: Some(key.into()),
        downtime: m
            .downtime
            .as_ref()
            .filter(|d| d.is_active(now))
            .map(|d| wire::Downtime {
                owner: d.owner.clone(),
                reason: d.reason.clone(),
                begins_at_ms: d.begins_at.as_millis(),
                ends_at_ms: d.ends_at.as_millis(),
            }),
        maintenance: m
            .maintenance
            .as_ref()
            .filter(|_| m.in_maintenance(now))
            .map(|l| wire::MaintenanceLock {
                id: l.id,
                owner: l.owner.clone(),
                reason: l.reason.clone(),
                begins_at_ms: l.begins_at.as_millis(),
                ends_at_ms: l.ends_at.as_millis(),
            }),
        candidate: m.candidate.filter(|c| now < c.expires_at).map(|c| {
            wire::CandidateRegistration {
                rule: rule_to_wire(Some(c.rule)),
                registered_at_ms: c.registered_at.as_millis(),
                expires_at_ms: c.expires_at.as_millis(),
            }
        }),
        promotion_rule: rule_to_wire(Some(m.promotion_rule(now))),
    }
}

fn changed(c: MetadataChange) -> Response<wire::OperatorMetadata> {
    Response::new(operator_metadata(&c.key, Some(&c.metadata), c.now))
}

fn topology_recovery(r: &RecoveryRecord, detection_row_id: i64) -> wire::TopologyRecovery {
    wire::TopologyRecovery {
        id: r.id,
        uid: r.uid.clone(),
        cluster: r.cluster.clone(),
        cluster_alias: r.cluster_alias.clone(),
        failed: Some((&r.failed).into()),
        analysis: r.analysis.clone(),
        kind: r.kind.as_str().to_string(),
        recovery_type: r.recovery_type.clone(),
        command_hint: r.command_hint.clone(),
        is_active: r.is_active,
        is_successful: r.is_successful,
        successor: r.successor.as_ref().map(Into::into),
        successor_alias: r.successor_alias.clone(),
        lost_replicas: keys(&r.lost_replicas),
        participating: keys(&r.participating),
        errors: r.errors.clone(),
        started_at_ms: r.started_at.as_millis(),
        ended_at_ms: ms(r.ended_at),
        block_until_ms: r.block_until.as_millis(),
        acknowledged: r.acknowledged,
        acknowledged_at_ms: ms(r.acknowledged_at),
        acknowledged_by: r.acknowledged_by.clone(),
        acknowledged_comment: r.acknowledged_comment.clone(),
        processing_node: r.processing_node.clone(),
        fencing_token: r.lease_revision,
        detection_id: r.detection_id.clone(),
        detection_row_id,
        analysis_detail: recorded_analysis(&r.analysis_json),
        plan: recorded_plan(&r.decision_json),
    }
}

fn result(o: Outcome) -> Response<wire::RecoveryResult> {
    let detection_row = o.recovery_json.as_ref().map_or(0, |j| j.LastDetectionId);
    Response::new(wire::RecoveryResult {
        recovery: o
            .recovery
            .as_ref()
            .map(|r| topology_recovery(r, detection_row)),
        successor: o.successor.as_ref().map(Into::into),
        dry_run: o.dry_run,
        cluster: o.cluster,
        plan: o.plan,
    })
}

fn optional_key(k: Option<&wire::InstanceKey>) -> Result<Option<InstanceKey>, Status> {
    k.map(|k| key_of(Some(k))).transpose()
}

fn page(p: u32) -> Option<usize> {
    Some(usize::try_from(p).unwrap_or(usize::MAX))
}

impl GrpcApi {
    async fn execute(
        &self,
        intent: Intent,
        dry_run: bool,
        by: &str,
    ) -> Result<Response<wire::RecoveryResult>, Status> {
        recovery::execute(&self.gw, &intent, dry_run, by)
            .await
            .map(result)
            .map_err(st)
    }
}

#[tonic::async_trait]
impl Recovery for GrpcApi {
    async fn recover(
        &self,
        req: Request<wire::RecoverRequest>,
    ) -> Result<Response<wire::RecoveryResult>, Status> {
        let r = req.get_ref();
        let intent = Intent::Recover {
            failed: key_of(r.instance.as_ref())?,
            candidate: optional_key(r.candidate.as_ref())?,
            lite: r.lite,
        };
        self.execute(
            intent,
            r.dry_run,
            &crate::access::actor(&req, &r.requested_by),
        )
        .await
    }

    async fn graceful_master_takeover(
        &self,
        req: Request<wire::GracefulMasterTakeoverRequest>,
    ) -> Result<Response<wire::RecoveryResult>, Status> {
        let r = req.get_ref();
        let intent = Intent::GracefulTakeover {
            hint: r.cluster_hint.clone(),
            designated: optional_key(r.designated.as_ref())?,
            auto: r.auto,
        };
        self.execute(
            intent,
            r.dry_run,
            &crate::access::actor(&req, &r.requested_by),
        )
        .await
    }

    async fn force_master_failover(
        &self,
        req: Request<wire::ForceMasterFailoverRequest>,
    ) -> Result<Response<wire::RecoveryResult>, Status> {
        let r = req.get_ref();
        let intent = Intent::ForceFailover {
            hint: r.cluster_hint.clone(),
        };
        self.execute(
            intent,
            r.dry_run,
            &crate::access::actor(&req, &r.requested_by),
        )
        .await
    }

    async fn force_master_takeover(
        &self,
        req: Request<wire::ForceMasterTakeoverRequest>,
    ) -> Result<Response<wire::RecoveryResult>, Status> {
        let r = req.get_ref();
        let intent = Intent::ForceTakeover {
            hint: r.cluster_hint.clone(),
            designated: key_of(r.designated.as_ref())?,
        };
        self.execute(
            intent,
            r.dry_run,
            &crate::access::actor(&req, &r.requested_by),
        )
        .await
    }

    async fn register_candidate(
        &self,
        req: Request<wire::RegisterCandidateRequest>,
    ) -> Result<Response<wire::OperatorMetadata>, Status> {
        let r = req.get_ref();
        let key = key_of(r.key.as_ref())?;
        let rule = rule_from_wire(r.rule)
            .ok_or_else(|| Status::invalid_argument("a promotion rule is required"))?;
        metadata::register_candidate(&self.gw, &key, rule)
            .await
            .map(changed)
            .map_err(st)
    }

    async fn begin_downtime(
        &self,
        req: Request<wire::BeginDowntimeRequest>,
    ) -> Result<Response<wire::OperatorMetadata>, Status> {
        let r = req.get_ref();
        let key = key_of(r.key.as_ref())?;
        let duration = std::time::Duration::from_secs(r.duration_seconds);
        metadata::begin_downtime(&self.gw, &key, &r.owner, &r.reason, duration)
            .await
            .map(changed)
            .map_err(st)
    }

    async fn end_downtime(
        &self,
        req: Request<wire::InstanceRequest>,
    ) -> Result<Response<wire::OperatorMetadata>, Status> {
        let key = key_of(req.get_ref().key.as_ref())?;
        metadata::end_downtime(&self.gw, &key)
            .await
            .map(changed)
            .map_err(st)
    }

    async fn begin_maintenance(
        &self,
        req: Request<wire::BeginMaintenanceRequest>,
    ) -> Result<Response<wire::OperatorMetadata>, Status> {
        let r = req.get_ref();
        let key = key_of(r.key.as_ref())?;
        metadata::begin_maintenance(&self.gw, &key, &r.owner, &r.reason)
            .await
            .map(changed)
            .map_err(st)
    }

    async fn end_maintenance(
        &self,
        req: Request<wire::InstanceRequest>,
    ) -> Result<Response<wire::OperatorMetadata>, Status> {
        let key = key_of(req.get_ref().key.as_ref())?;
        metadata::end_maintenance(&self.gw, &key)
            .await
            .map(changed)
            .map_err(st)
    }

    async fn list_downtimed(
        &self,
        req: Request<wire::ClusterRequest>,
    ) -> Result<Response<wire::InstanceList>, Status> {
        let (cat, keys) = metadata::downtimed(&self.gw, Some(&req.get_ref().cluster_hint))
            .await
            .map_err(st)?;
        Ok(Response::new(list(&cat, &keys)))
    }

    async fn list_maintenance(
        &self,
        _: Request<wire::ListMaintenanceRequest>,
    ) -> Result<Response<wire::OperatorMetadataList>, Status> {
        let (locks, now) = metadata::active_maintenance(&self.gw).await.map_err(st)?;
        let instances = locks
            .iter()
            .map(|(k, lock)| {
                let m = InstanceMetadata {
                    maintenance: Some(lock.clone()),
                    ..Default::default()
                };
                operator_metadata(k, Some(&m), now)
            })
            .collect();
        Ok(Response::new(wire::OperatorMetadataList { instances }))
    }

    async fn acknowledge_recoveries(
        &self,
        req: Request<wire::AcknowledgeRecoveriesRequest>,
    ) -> Result<Response<wire::AcknowledgeRecoveriesResponse>, Status> {
        use wire::acknowledge_recoveries_request::Scope;
        let r = req.get_ref();
        let target = match &r.scope {
            Some(Scope::ClusterHint(h)) => AckTarget::Cluster(h.clone()),
            Some(Scope::ClusterAlias(a)) => AckTarget::Alias(a.clone()),
            Some(Scope::Instance(k)) => AckTarget::Instance(key_of(Some(k))?),
            Some(Scope::Id(id)) => AckTarget::Id(*id),
            Some(Scope::Uid(uid)) => AckTarget::Uid(uid.clone()),
            Some(Scope::All(true)) => AckTarget::All,
            Some(Scope::All(false)) | None => {
                return Err(Status::invalid_argument(
                    "say which recoveries to acknowledge (cluster, alias, instance, id, uid or all)",
                ));
            }
        };
        let done = ack::acknowledge(&self.gw, &target, &r.acknowledged_by, &r.comment)
            .await
            .map_err(st)?;
        Ok(Response::new(wire::AcknowledgeRecoveriesResponse {
            count: u32::try_from(done.len()).unwrap_or(u32::MAX),
            acknowledged: done.iter().map(|r| topology_recovery(r, 0)).collect(),
        }))
    }

    async fn set_global_recoveries(
        &self,
        req: Request<wire::SetGlobalRecoveriesRequest>,
    ) -> Result<Response<wire::GlobalRecoveries>, Status> {
        let enabled = req.get_ref().enabled;
        ack::set_global_recoveries(&self.gw, enabled)
            .await
            .map_err(st)?;
        Ok(Response::new(wire::GlobalRecoveries { enabled }))
    }

    async fn check_global_recoveries(
        &self,
        _: Request<wire::CheckGlobalRecoveriesRequest>,
    ) -> Result<Response<wire::GlobalRecoveries>, Status> {
        let enabled = ack::global_recoveries_enabled(&self.gw).await.map_err(st)?;
        Ok(Response::new(wire::GlobalRecoveries { enabled }))
    }

    async fn list_recoveries(
        &self,
        req: Request<wire::ListRecoveriesRequest>,
    ) -> Result<Response<wire::TopologyRecoveryList>, Status> {
        use wire::list_recoveries_request::Filter;
        let r = req.get_ref();
        let (query, paged) = match &r.filter {
            None => (RecoveryQuery::All, true),
            Some(Filter::ClusterHint(h)) => (RecoveryQuery::Cluster(h.clone()), true),
            Some(Filter::ClusterAlias(a)) => (RecoveryQuery::Alias(a.clone()), true),
            Some(Filter::Id(id)) => (RecoveryQuery::Id(*id), false),
            Some(Filter::Uid(uid)) => (RecoveryQuery::Uid(uid.clone()), false),
            Some(Filter::ActiveInCluster(c)) => (RecoveryQuery::Active(c.clone()), false),
            Some(Filter::RecentInCluster(c)) => (RecoveryQuery::RecentInCluster(c.clone()), false),
            Some(Filter::RecentOfInstance(k)) => {
                (RecoveryQuery::RecentOfInstance(key_of(Some(k))?), false)
            }
        };
        let listing = audit::recoveries(
            &self.gw,
            &query,
            paged.then(|| page(r.page)).flatten(),
            r.unacknowledged_only,
        )
        .await
        .map_err(st)?;
        Ok(Response::new(rendered(&listing.view, &listing.records)))
    }

    async fn list_recovery_steps(
        &self,
        req: Request<wire::ListRecoveryStepsRequest>,
    ) -> Result<Response<wire::RecoveryStepList>, Status> {
        let steps = audit::recovery_steps(&self.gw, &req.get_ref().uid)
            .await
            .map_err(st)?;
        Ok(Response::new(wire::RecoveryStepList {
            steps: steps
                .into_iter()
                .map(|s| wire::RecoveryStep {
                    id: s.id,
                    recovery_uid: s.recovery_uid,
                    at_ms: s.at.as_millis(),
                    fencing_token: s.fencing_token,
                    message: s.message,
                })
                .collect(),
        }))
    }

    async fn list_failure_detections(
        &self,
        req: Request<wire::ListFailureDetectionsRequest>,
    ) -> Result<Response<wire::FailureDetectionList>, Status> {
        use wire::list_failure_detections_request::Filter;
        let r = req.get_ref();
        let query = match &r.filter {
            None => DetectionQuery::All,
            Some(Filter::Id(id)) => DetectionQuery::Id(*id),
            Some(Filter::ClusterAlias(a)) => DetectionQuery::Alias(a.clone()),
            Some(Filter::ClusterHint(h)) => DetectionQuery::Cluster(h.clone()),
        };
        let rows = audit::detections(&self.gw, &query, page(r.page))
            .await
            .map_err(st)?;
        Ok(Response::new(wire::FailureDetectionList {
            detections: rows
                .into_iter()
                .map(|row| wire::FailureDetection {
                    id: row.record.id,
                    detection_id: row.record.detection_id,
                    instance: Some((&row.record.instance).into()),
                    cluster: row.record.cluster,
                    analysis: row.record.analysis,
                    is_actionable: row.record.is_actionable,
                    detected_at_ms: row.record.detected_at.as_millis(),
                    is_active: row.is_active,
                    related_recovery_id: row.related_recovery_id,
                    analysis_detail: recorded_analysis(&row.record.analysis_json),
                })
                .collect(),
        }))
    }

    async fn list_blocked_recoveries(
        &self,
        req: Request<wire::ListBlockedRecoveriesRequest>,
    ) -> Result<Response<wire::BlockedRecoveryList>, Status> {
        let hint = Some(req.get_ref().cluster_hint.as_str()).filter(|h| !h.trim().is_empty());
        let rows = audit::blocked(&self.gw, hint).await.map_err(st)?;
        Ok(Response::new(wire::BlockedRecoveryList {
            blocked: rows
                .into_iter()
                .map(|row| wire::BlockedTopologyRecovery {
                    failed: Some((&row.record.failed).into()),
                    cluster: row.record.cluster,
                    analysis: row.record.analysis,
                    blocked_at_ms: row.record.blocked_at.as_millis(),
                    blocking_uid: row.record.blocking_uid,
                    blocking_recovery_id: row.blocking_id,
                })
                .collect(),
        }))
    }
}

fn rendered(view: &AuditView, records: &[RecoveryRecord]) -> wire::TopologyRecoveryList {
    wire::TopologyRecoveryList {
        recoveries: records
            .iter()
            .map(|r| topology_recovery(r, view.detection_row(r)))
            .collect(),
    }
}

//! The gRPC API (`orc.v1.Orchestrator`, `orc.v1.Analysis`,
//! `orc.v1.Recovery` in [`recovery`], `orc.v1.Topology` in [`topology`]
//! and `orc.v1.Operator` in [`operator`]), answering from the same catalog and operations as HTTP.

mod operator;
mod recovery;
mod topology;

use std::sync::Arc;

use orc_model::InstanceKey;
use orc_proto::v1 as wire;
use orc_proto::v1::orchestrator_server::Orchestrator;
use tonic::{Request, Response, Status};

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::{Gateway, commands};

/// The gRPC service.
#[derive(Clone)]
pub struct GrpcApi {
    pub(crate) gw: Arc<Gateway>,
}

fn key_of(k: Option<&wire::InstanceKey>) -> Result<InstanceKey, Status> {
    let k = k.ok_or_else(|| Status::invalid_argument("an instance key is required"))?;
    InstanceKey::try_from(k).map_err(|e| Status::invalid_argument(e.to_string()))
}

fn instance(cat: &Catalog, key: &InstanceKey) -> Option<wire::Instance> {
    let view = cat.view(key)?;
    let state = view.state;
    let placement = view.placement;
    let cluster = cat.cluster_of(key);
    let metadata = recovery::operator_metadata(key, view.metadata, cat.now());
    Some(wire::Instance {
        key: Some(key.into()),
        data: state.data.as_ref().map(Into::into),
        cluster_name: cluster
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        cluster_alias: cluster
            .as_ref()
            .map(|c| cat.cluster_alias(c))
            .unwrap_or_default(),
        replication_depth: placement.map_or(0, |p| p.depth),
        is_co_master: placement.is_some_and(|p| p.is_co_master),
        master_key: placement.and_then(|p| p.master.as_ref()).map(Into::into),
        replicas: placement
            .map(|p| p.replicas.iter().map(Into::into).collect())
            .unwrap_or_default(),
        last_check_valid: view.is_last_check_valid(),
        is_up_to_date: view.is_up_to_date(),
        is_recently_checked: view.is_recently_checked(),
        last_checked_ms: state.last_checked.map_or(0, |t| t.as_millis()),
        last_seen_ms: state.last_seen.map_or(0, |t| t.as_millis()),
        last_error: state.last_error.as_ref().map(Into::into),
        promotion_rule: metadata.promotion_rule,
        is_downtimed: view.is_downtimed(),
        problems: view.problems(),
        metadata: Some(metadata),
    })
}

fn list(cat: &Catalog, keys: &[InstanceKey]) -> wire::InstanceList {
    wire::InstanceList {
        instances: keys.iter().filter_map(|k| instance(cat, k)).collect(),
    }
}

fn cluster_info(cat: &Catalog, c: &InstanceKey) -> wire::ClusterInfo {
    let info = cat.cluster_info(c);
    wire::ClusterInfo {
        cluster_name: info.ClusterName,
        cluster_alias: info.ClusterAlias,
        cluster_domain: info.ClusterDomain,
        count_instances: info.CountInstances,
        heuristic_lag: info.HeuristicLag,
        has_automated_master_recovery: info.HasAutomatedMasterRecovery,
        has_automated_intermediate_master_recovery: info.HasAutomatedIntermediateMasterRecovery,
    }
}

impl GrpcApi {
    async fn catalog(&self) -> Result<Catalog, Status> {
        self.gw.catalog().await.map_err(|e| e.to_status())
    }
}

fn st(e: ApiError) -> Status {
    e.to_status()
}

#[tonic::async_trait]
impl Orchestrator for GrpcApi {
    async fn discover(
        &self,
        req: Request<wire::InstanceRequest>,
    ) -> Result<Response<wire::Instance>, Status> {
        let key = key_of(req.get_ref().key.as_ref())?;
        let identity = commands::discover(&*self.gw.bus, &key, self.gw.command_timeout)
            .await
            .map_err(st)?;
        let cat = self.catalog().await?;
        let found = cat.require_instance(&identity).map_err(st)?;
        instance(&cat, &found)
            .map(Response::new)
            .ok_or_else(|| Status::not_found(key.to_string()))
    }

    async fn forget(
        &self,
        req: Request<wire::InstanceRequest>,
    ) -> Result<Response<wire::ForgetResponse>, Status> {
        let key = key_of(req.get_ref().key.as_ref())?;
        let gone = commands::forget(&*self.gw.bus, &[key], None, self.gw.command_timeout)
            .await
            .map_err(st)?;
        Ok(Response::new(wire::ForgetResponse {
            forgotten: gone.iter().map(Into::into).collect(),
        }))
    }

    async fn forget_cluster(
        &self,
        req: Request<wire::ClusterRequest>,
    ) -> Result<Response<wire::ForgetResponse>, Status> {
        let cat = self.catalog().await?;
        let c = cat
            .resolve_cluster(&req.get_ref().cluster_hint)
            .map_err(st)?;
        let gone = commands::forget(
            &*self.gw.bus,
            &[],
            Some(&c.to_string()),
            self.gw.command_timeout,
        )
        .await
        .map_err(st)?;
        Ok(Response::new(wire::ForgetResponse {
            forgotten: gone.iter().map(Into::into).collect(),
        }))
    }

    async fn get_instance(
        &self,
        req: Request<wire::InstanceRequest>,
    ) -> Result<Response<wire::Instance>, Status> {
        let key = key_of(req.get_ref().key.as_ref())?;
        let cat = self.catalog().await?;
        let found = cat.require_instance(&key).map_err(st)?;
        instance(&cat, &found)
            .map(Response::new)
            .ok_or_else(|| Status::not_found(key.to_string()))
    }

    async fn list_replicas(
        &self,
        req: Request<wire::InstanceRequest>,
    ) -> Result<Response<wire::InstanceList>, Status> {
        let key = key_of(req.get_ref().key.as_ref())?;
        let cat = self.catalog().await?;
        let found = cat.require_instance(&key).map_err(st)?;
        Ok(Response::new(list(&cat, &cat.replicas_of(&found))))
    }

    async fn list_clusters(
        &self,
        _: Request<wire::ListClustersRequest>,
    ) -> Result<Response<wire::ClusterInfoList>, Status> {
        let cat = self.catalog().await?;
        Ok(Response::new(wire::ClusterInfoList {
            clusters: cat
                .clusters()
                .iter()
                .map(|c| cluster_info(&cat, c))
                .collect(),
        }))
    }

    async fn get_cluster_info(
        &self,
        req: Request<wire::ClusterRequest>,
    ) -> Result<Response<wire::ClusterInfo>, Status> {
        let cat = self.catalog().await?;
        let c = cat
            .resolve_cluster(&req.get_ref().cluster_hint)
            .map_err(st)?;
        Ok(Response::new(cluster_info(&cat, &c)))
    }

    async fn list_cluster_instances(
        &self,
        req: Request<wire::ClusterRequest>,
    ) -> Result<Response<wire::InstanceList>, Status> {
        let cat = self.catalog().await?;
        let c = cat
            .resolve_cluster(&req.get_ref().cluster_hint)
            .map_err(st)?;
        Ok(Response::new(list(&cat, &cat.members(&c))))
    }

    async fn get_cluster_master(
        &self,
        req: Request<wire::ClusterRequest>,
    ) -> Result<Response<wire::Instance>, Status> {
        let cat = self.catalog().await?;
        let c = cat
            .resolve_cluster(&req.get_ref().cluster_hint)
            .map_err(st)?;
        let m = cat
            .master_of(&c)
            .ok_or_else(|| Status::not_found(format!("no master known for cluster {c}")))?;
        instance(&cat, &m)
            .map(Response::new)
            .ok_or_else(|| Status::not_found(m.to_string()))
    }

    async fn list_masters(
        &self,
        _: Request<wire::ListMastersRequest>,
    ) -> Result<Response<wire::InstanceList>, Status> {
        let cat = self.catalog().await?;
        Ok(Response::new(list(&cat, &cat.masters())))
    }

    async fn list_instances(
        &self,
        _: Request<wire::ListInstancesRequest>,
    ) -> Result<Response<wire::InstanceList>, Status> {
        let cat = self.catalog().await?;
        Ok(Response::new(list(&cat, &cat.all_keys())))
    }

    async fn get_topology(
        &self,
        req: Request<wire::TopologyRequest>,
    ) -> Result<Response<wire::TopologyText>, Status> {
        let cat = self.catalog().await?;
        let c = cat
            .resolve_cluster(&req.get_ref().cluster_hint)
            .map_err(st)?;
        Ok(Response::new(wire::TopologyText {
            cluster_name: c.to_string(),
            text: cat.topology_text(&c, req.get_ref().tabulated),
        }))
    }

    async fn search(
        &self,
        req: Request<wire::SearchRequest>,
    ) -> Result<Response<wire::InstanceList>, Status> {
        let cat = self.catalog().await?;
        Ok(Response::new(list(&cat, &cat.search(&req.get_ref().query))))
    }
}

#[tonic::async_trait]
impl orc_proto::v1::analysis_server::Analysis for GrpcApi {
    async fn replication_analysis(
        &self,
        req: Request<wire::AnalysisRequest>,
    ) -> Result<Response<wire::AnalysisList>, Status> {
        let cat = self.catalog().await?;
        let hint = &req.get_ref().cluster_hint;
        let cluster = if hint.is_empty() {
            None
        } else {
            Some(cat.resolve_cluster(hint).map_err(st)?)
        };
        let entries = cat
            .analysis()
            .iter()
            .filter(|a| cluster.as_ref().is_none_or(|c| &a.cluster == c))
            .map(orc_proto::analysis::analysis_entry)
            .collect();
        Ok(Response::new(wire::AnalysisList { entries }))
    }

    type StreamFindingsStream =
        std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<wire::Finding, Status>> + Send>>;

    async fn stream_findings(
        &self,
        req: Request<wire::StreamFindingsRequest>,
    ) -> Result<Response<Self::StreamFindingsStream>, Status> {
        let start = if req.get_ref().from_start {
            orc_bus::StartAt::All
        } else {
            orc_bus::StartAt::New
        };
        let mut sub = self
            .gw
            .bus
            .follow_durable(&orc_bus::subjects::FINDINGS_STREAM, start)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let shutdown = self.gw.shutdown.clone();
        self.gw.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tx.closed() => break,
                    msg = sub.next() => {
                        let Some(msg) = msg else { break };
                        let finding = orc_bus::decode::<wire::Finding>(&msg.subject, &msg.payload)
                            .map_err(|e| Status::internal(e.to_string()));
                        if tx.send(finding).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

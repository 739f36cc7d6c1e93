//! The gRPC `orc.v1.Operator` service: tags, pools, manual aliases,
//! snapshots, lookups, the general audit, leadership and configuration
//! reload, through the same operations as the HTTP routes.

use orc_model::InstanceKey;
use orc_proto::v1 as wire;
use orc_proto::v1::operator_server::Operator;
use tonic::{Request, Response, Status};

use super::{GrpcApi, cluster_info, key_of, list, st};
use crate::error::ApiError;
use crate::leadership::View;
use crate::operations::clusters;
use crate::operations::metadata::{self as meta, Tag};

fn keys(list: &[InstanceKey]) -> wire::InstanceKeyList {
    wire::InstanceKeyList {
        keys: list.iter().map(Into::into).collect(),
    }
}

fn leadership(v: View) -> wire::Leadership {
    wire::Leadership {
        state: v.state().to_string(),
        me: v.me,
        is_leader: v.is_leader,
        leader: v.leader.unwrap_or_default(),
        peers: v.peers,
        healthy: v.healthy,
    }
}

fn tag_of(name: &str, value: Option<&str>) -> Result<Tag, Status> {
    let text = match value {
        Some(v) => format!("{name}={v}"),
        None => name.to_string(),
    };
    Tag::parse(&text).map_err(st)
}

impl GrpcApi {
    async fn cluster(
        &self,
        hint: &str,
    ) -> Result<(crate::catalog::Catalog, Option<InstanceKey>), Status> {
        let cat = self.catalog().await?;
        if hint.trim().is_empty() {
            return Ok((cat, None));
        }
        let c = cat.resolve_cluster(hint).map_err(st)?;
        Ok((cat, Some(c)))
    }

    async fn require_cluster(
        &self,
        hint: &str,
    ) -> Result<(crate::catalog::Catalog, InstanceKey), Status> {
        match self.cluster(hint).await? {
            (cat, Some(c)) => Ok((cat, c)),
            (_, None) => Err(Status::invalid_argument("a cluster hint is required")),
        }
    }
}

#[tonic::async_trait]
impl Operator for GrpcApi {
    async fn tag(
        &self,
        req: Request<wire::TagRequest>,
    ) -> Result<Response<wire::InstanceKey>, Status> {
        let r = req.into_inner();
        let key = key_of(r.instance.as_ref())?;
        let tag = tag_of(&r.name, Some(&r.value))?;
        let done = meta::tag(&self.gw, &key, &tag).await.map_err(st)?;
        crate::operations::audit(
            &self.gw,
            "tag",
            Some(&done.key),
            "",
            &format!("{}={}", tag.name, r.value),
        )
        .await;
        Ok(Response::new((&done.key).into()))
    }

    async fn untag(
        &self,
        req: Request<wire::UntagRequest>,
    ) -> Result<Response<wire::InstanceKeyList>, Status> {
        let r = req.into_inner();
        let only = r
            .instance
            .as_ref()
            .filter(|k| !k.hostname.is_empty() || k.port != 0)
            .map(|k| key_of(Some(k)))
            .transpose()?;
        let tag = tag_of(&r.name, r.has_value.then_some(r.value.as_str()))?;
        let untagged = meta::untag(&self.gw, only.as_ref(), &tag)
            .await
            .map_err(st)?;
        for k in &untagged {
            crate::operations::audit(&self.gw, "untag", Some(k), "", &tag.name).await;
        }
        Ok(Response::new(keys(&untagged)))
    }

    async fn list_tags(
        &self,
        req: Request<wire::InstanceRequest>,
    ) -> Result<Response<wire::TagList>, Status> {
        let key = key_of(req.get_ref().key.as_ref())?;
        let cat = self.catalog().await?;
        let found = cat.require_instance(&key).map_err(st)?;
        let tags = cat
            .metadata(&found)
            .map(|m| {
                m.tags
                    .iter()
                    .map(|(name, value)| wire::Tag {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Response::new(wire::TagList { tags }))
    }

    async fn tagged(
        &self,
        req: Request<wire::TaggedRequest>,
    ) -> Result<Response<wire::InstanceKeyList>, Status> {
        let cat = self.catalog().await?;
        let found = meta::tagged(&cat, &req.get_ref().expression).map_err(st)?;
        Ok(Response::new(keys(&found)))
    }

    async fn submit_pool(
        &self,
        req: Request<wire::SubmitPoolRequest>,
    ) -> Result<Response<wire::SubmitPoolResponse>, Status> {
        let r = req.into_inner();
        let members = r
            .instances
            .iter()
            .map(|k| key_of(Some(k)))
            .collect::<Result<Vec<_>, _>>()?;
        let n = clusters::submit_pool(&self.gw, &r.pool, &members)
            .await
            .map_err(st)?;
        Ok(Response::new(wire::SubmitPoolResponse {
            count: u32::try_from(n).unwrap_or(u32::MAX),
        }))
    }

    async fn list_pool_instances(
        &self,
        req: Request<wire::PoolRequest>,
    ) -> Result<Response<wire::PoolInstanceList>, Status> {
        let r = req.into_inner();
        let (cat, cluster) = self.cluster(&r.cluster_hint).await?;
        let pool = (!r.pool.is_empty()).then_some(r.pool.as_str());
        let rows = clusters::pool_instances(&self.gw, &cat, cluster.as_ref(), pool)
            .await
            .map_err(st)?;
        let mut instances: Vec<wire::PoolInstance> = rows
            .into_iter()
            .map(|row| wire::PoolInstance {
                key: Some(wire::InstanceKey {
                    hostname: row.Hostname,
                    port: u32::from(row.Port),
                }),
                cluster_name: row.ClusterName,
                cluster_alias: row.ClusterAlias,
                pool: row.Pool,
            })
            .collect();
        let mut lag_seconds = 0;
        if r.heuristic {
            let c = cluster.ok_or_else(|| {
                Status::invalid_argument("heuristic pool instances need a cluster hint")
            })?;
            let fit = clusters::heuristic_pool_instances(&self.gw, &cat, &c, pool)
                .await
                .map_err(st)?;
            instances.retain(|i| {
                i.key
                    .as_ref()
                    .and_then(|k| InstanceKey::try_from(k).ok())
                    .is_some_and(|k| fit.contains(&k))
            });
            lag_seconds = fit
                .iter()
                .filter_map(|k| cat.view(k).and_then(|v| v.lag_seconds()))
                .max()
                .unwrap_or(0);
        }
        Ok(Response::new(wire::PoolInstanceList {
            instances,
            lag_seconds,
        }))
    }

    async fn set_cluster_alias(
        &self,
        req: Request<wire::SetClusterAliasRequest>,
    ) -> Result<Response<wire::ClusterInfo>, Status> {
        let r = req.into_inner();
        let name = clusters::set_alias(&self.gw, &r.cluster_hint, &r.alias)
            .await
            .map_err(st)?;
        let (cat, c) = self.require_cluster(&name).await?;
        Ok(Response::new(cluster_info(&cat, &c)))
    }

    async fn snapshot_topologies(
        &self,
        _: Request<wire::SnapshotTopologiesRequest>,
    ) -> Result<Response<wire::SnapshotTopologiesResponse>, Status> {
        let n = clusters::snapshot_topologies(&self.gw).await.map_err(st)?;
        Ok(Response::new(wire::SnapshotTopologiesResponse {
            instances: u32::try_from(n).unwrap_or(u32::MAX),
        }))
    }

    async fn list_problems(
        &self,
        req: Request<wire::ClusterRequest>,
    ) -> Result<Response<wire::InstanceList>, Status> {
        let (cat, cluster) = self.cluster(&req.get_ref().cluster_hint).await?;
        let found = clusters::problems(&cat, cluster.as_ref());
        Ok(Response::new(list(&cat, &found)))
    }

    async fn list_osc_replicas(
        &self,
        req: Request<wire::ClusterRequest>,
    ) -> Result<Response<wire::InstanceList>, Status> {
        let (cat, c) = self.require_cluster(&req.get_ref().cluster_hint).await?;
        Ok(Response::new(list(&cat, &clusters::osc_replicas(&cat, &c))))
    }

    async fn master_key_values(
        &self,
        req: Request<wire::ClusterRequest>,
    ) -> Result<Response<wire::KeyValueList>, Status> {
        let (cat, cluster) = self.cluster(&req.get_ref().cluster_hint).await?;
        let targets = match cluster {
            Some(c) => vec![c],
            None => cat.clusters(),
        };
        let pairs = targets
            .iter()
            .flat_map(|c| clusters::master_key_values(&cat, c, self.gw.kv.prefix()))
            .map(|kv| wire::KeyValue {
                key: kv.Key,
                value: kv.Value,
            })
            .collect();
        Ok(Response::new(wire::KeyValueList { pairs }))
    }

    async fn resolve_hostname(
        &self,
        req: Request<wire::InstanceRequest>,
    ) -> Result<Response<wire::InstanceKey>, Status> {
        let key = key_of(req.get_ref().key.as_ref())?;
        let resolved = self.gw.resolver.key(&key).await;
        Ok(Response::new((&resolved).into()))
    }

    async fn list_audit(
        &self,
        req: Request<wire::AuditRequest>,
    ) -> Result<Response<wire::AuditEntryList>, Status> {
        let r = req.into_inner();
        let instance = r
            .instance
            .as_ref()
            .filter(|k| !k.hostname.is_empty() || k.port != 0)
            .map(|k| key_of(Some(k)))
            .transpose()?;
        let per_page = u32::try_from(crate::operations::PAGE_SIZE).unwrap_or(20);
        let rows = self
            .gw
            .store
            .audit()
            .page(instance.as_ref(), r.page, per_page)
            .await
            .map_err(|e| st(ApiError::from(e)))?;
        let entries = rows
            .into_iter()
            .map(|e| wire::AuditEntry {
                id: e.id,
                at_ms: e.at.as_millis(),
                kind: e.kind,
                instance: e.instance.as_ref().map(Into::into),
                cluster_name: e.cluster,
                message: e.message,
            })
            .collect();
        Ok(Response::new(wire::AuditEntryList { entries }))
    }

    async fn get_leadership(
        &self,
        _: Request<wire::LeadershipRequest>,
    ) -> Result<Response<wire::Leadership>, Status> {
        Ok(Response::new(leadership(self.gw.leadership.view())))
    }

    async fn move_leadership(
        &self,
        req: Request<wire::MoveLeadershipRequest>,
    ) -> Result<Response<wire::Leadership>, Status> {
        self.gw
            .leadership
            .ask_to_move(&*self.gw.bus, &req.get_ref().to)
            .await
            .map_err(|e| Status::unavailable(format!("cannot reach the other gateways: {e}")))?;
        Ok(Response::new(leadership(self.gw.leadership.view())))
    }

    async fn reload_configuration(
        &self,
        _: Request<wire::ReloadConfigurationRequest>,
    ) -> Result<Response<wire::ReloadReport>, Status> {
        let Some(reloader) = &self.gw.reloader else {
            return Err(Status::unavailable(
                "this gateway was started without a configuration to reload",
            ));
        };
        let report = reloader
            .reload()
            .map_err(|e| Status::failed_precondition(format!("Configuration not reloaded: {e}")))?;
        Ok(Response::new(wire::ReloadReport {
            applied: report.applied,
            needs_restart: report.needs_restart,
        }))
    }
}

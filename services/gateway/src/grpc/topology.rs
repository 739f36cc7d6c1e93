//! The gRPC `orc.v1.Topology` service: refactoring and replication control
//! with typed requests and plans, through the same operation as HTTP.

use orc_model::InstanceKey;
use orc_proto::v1 as wire;
use orc_proto::v1::topology_server::Topology;
use tonic::{Request, Response, Status};

use super::{GrpcApi, key_of, st};
use crate::operations::topology::{self, Ask};

#[tonic::async_trait]
impl Topology for GrpcApi {
    async fn operate(
        &self,
        request: Request<wire::OperationRequest>,
    ) -> Result<Response<wire::OperationResult>, Status> {
        let caller = crate::access::grpc_caller(&request);
        let r = request.into_inner();
        let op = wire::Operation::try_from(r.operation)
            .ok()
            .filter(|o| *o != wire::Operation::Unspecified)
            .ok_or_else(|| {
                Status::invalid_argument(format!("unknown operation {}", r.operation))
            })?;
        // Each operation needs what its HTTP route needs.
        crate::access::require(&caller, crate::routes::operation_need(op))?;
        let instance = key_of(r.instance.as_ref())?;
        let target = r
            .target
            .as_ref()
            .filter(|t| !t.hostname.is_empty() || t.port != 0)
            .map(|t| InstanceKey::try_from(t).map_err(|e| Status::invalid_argument(e.to_string())))
            .transpose()?;
        let mut ask = Ask::new(op, instance, target);
        ask.pattern = r.pattern;
        ask.binlog = r.binlog;
        ask.number = r.number;
        ask.force = r.force;
        ask.dry_run = r.dry_run;
        ask.by = if caller.user.is_empty() {
            r.requested_by
        } else {
            caller.user
        };
        let answer = topology::operate(&self.gw, ask).await.map_err(st)?;
        Ok(Response::new(answer.result))
    }
}

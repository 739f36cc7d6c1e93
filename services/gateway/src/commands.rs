//! Commands the gateway forwards over the bus: discover and forget (to
//! analyzers), operator recovery commands (to a recovery service), and the
//! notices it publishes after writing operator facts (`MetadataChanged`,
//! `RecoveryRetry`).

use std::time::Duration;

use orc_bus::{Bus, subjects};
use orc_model::InstanceKey;
use orc_proto::v1 as wire;

use crate::error::ApiError;

/// How long a command waits for an analyzer to appear (one may be starting).
const PATIENCE: Duration = Duration::from_secs(3);

fn bus_error(e: orc_bus::Error, role: &str) -> ApiError {
    match e {
        orc_bus::Error::NoResponders { .. } => {
            ApiError::Unavailable(format!("no {role} is running"))
        }
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// Asks an analyzer to discover `key` and waits until it is probed and
/// stored; returns the instance's identity.
pub async fn discover(
    bus: &dyn Bus,
    key: &InstanceKey,
    timeout: Duration,
) -> Result<InstanceKey, ApiError> {
    let req = orc_bus::encode(&wire::DiscoverRequest {
        key: Some(key.into()),
    });
    let bytes = orc_bus::request_patiently(bus, subjects::DISCOVER, req, timeout, PATIENCE)
        .await
        .map_err(|e| bus_error(e, "analyzer"))?;
    let reply: wire::DiscoverReply = orc_bus::decode(subjects::DISCOVER, &bytes)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if reply.error.is_empty() {
        Ok(reply
            .identity
            .as_ref()
            .and_then(|k| InstanceKey::try_from(k).ok())
            .unwrap_or_else(|| key.clone()))
    } else {
        Err(ApiError::Failed(reply.error))
    }
}

/// Asks an analyzer to forget instances or a whole cluster.
pub async fn forget(
    bus: &dyn Bus,
    keys: &[InstanceKey],
    cluster: Option<&str>,
    timeout: Duration,
) -> Result<Vec<InstanceKey>, ApiError> {
    let req = orc_bus::encode(&wire::ForgetRequest {
        keys: keys.iter().map(Into::into).collect(),
        cluster: cluster.unwrap_or_default().to_string(),
    });
    let bytes = orc_bus::request_patiently(bus, subjects::FORGET, req, timeout, PATIENCE)
        .await
        .map_err(|e| bus_error(e, "analyzer"))?;
    let reply: wire::ForgetReply =
        orc_bus::decode(subjects::FORGET, &bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
    if !reply.error.is_empty() && reply.forgotten.is_empty() {
        return Err(ApiError::NotFound(reply.error));
    }
    Ok(reply
        .forgotten
        .iter()
        .filter_map(|k| InstanceKey::try_from(k).ok())
        .collect())
}

/// Sends an operator command to a recovery service and waits for its reply
/// (up to `timeout`: a recovery runs hooks and may take minutes).
pub async fn recovery_command(
    bus: &dyn Bus,
    command: &wire::RecoveryCommand,
    timeout: Duration,
) -> Result<wire::RecoveryCommandReply, ApiError> {
    let bytes = orc_bus::request_patiently(
        bus,
        subjects::RECOVERY_COMMAND,
        orc_bus::encode(command),
        timeout,
        PATIENCE,
    )
    .await
    .map_err(|e| bus_error(e, "recovery service"))?;
    orc_bus::decode(subjects::RECOVERY_COMMAND, &bytes)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Tells every reader that operator metadata of `keys` changed. The store
/// already holds the change, so a failure here is logged, not returned.
pub async fn metadata_changed(bus: &dyn Bus, keys: &[InstanceKey]) {
    let msg = wire::MetadataChanged {
        keys: keys.iter().map(Into::into).collect(),
    };
    if let Err(e) = bus
        .publish(subjects::METADATA_CHANGED, orc_bus::encode(&msg))
        .await
    {
        tracing::warn!(error = %e, "cannot announce a metadata change");
    }
}

/// Tells recovery services that blocked recoveries of `cluster` (every
/// cluster when empty) may run now. Logged, not returned, on failure.
pub async fn recovery_retry(bus: &dyn Bus, cluster: &str) {
    let msg = wire::RecoveryRetry {
        cluster: cluster.to_string(),
    };
    if let Err(e) = bus
        .publish(subjects::RECOVERY_RETRY, orc_bus::encode(&msg))
        .await
    {
        tracing::warn!(cluster, error = %e, "cannot announce a recovery retry");
    }
}

/// Sends a topology operation to a recovery service and waits for its
/// answer (up to `timeout`: an operation may wait for replicas).
pub async fn topology_operation(
    bus: &dyn Bus,
    request: &wire::OperationRequest,
    timeout: Duration,
) -> Result<wire::OperationResult, ApiError> {
    let bytes = orc_bus::request_patiently(
        bus,
        subjects::TOPOLOGY_OPERATION,
        orc_bus::encode(request),
        timeout,
        PATIENCE,
    )
    .await
    .map_err(|e| bus_error(e, "recovery service"))?;
    orc_bus::decode(subjects::TOPOLOGY_OPERATION, &bytes)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

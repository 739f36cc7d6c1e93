//! Commands the gateway forwards over the bus: discover and forget.

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

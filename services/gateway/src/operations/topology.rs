//! Topology operations (relocate, move-up, set-read-only, ...): names
//! resolved with the catalog, the operation forwarded to a recovery service
//! (`OperationRequest` on `orc.recovery.operation`), and the servers it
//! touched probed again, so the answer shows them as they are now.

use futures_util::future::join_all;
use orc_model::InstanceKey;
use orc_proto::v1 as wire;

use super::{actor, catalog};
use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::{Gateway, commands};

/// An operation as an operator asks for it.
#[derive(Debug, Clone)]
pub(crate) struct Ask {
    /// Which.
    pub op: wire::Operation,
    /// The server operated on.
    pub instance: InstanceKey,
    /// The other server, when the operation names one.
    pub target: Option<InstanceKey>,
    /// Replica filter (`?pattern=`).
    pub pattern: String,
    /// purge-binary-logs: the binary log.
    pub binlog: String,
    /// delay-replication seconds, kill-query process id.
    pub number: u64,
    /// `?force=true`.
    pub force: bool,
    /// `?dry_run=true`: plan only.
    pub dry_run: bool,
    /// Who asks.
    pub by: String,
}

impl Ask {
    /// An operation on `instance` (and `target`).
    pub(crate) fn new(
        op: wire::Operation,
        instance: InstanceKey,
        target: Option<InstanceKey>,
    ) -> Self {
        Self {
            op,
            instance,
            target,
            pattern: String::new(),
            binlog: String::new(),
            number: 0,
            force: false,
            dry_run: false,
            by: String::new(),
        }
    }
}

/// What came back, with the read model after the operation.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The recovery service's result.
    pub result: wire::OperationResult,
    /// The catalog, refreshed with the servers the operation touched.
    pub catalog: Catalog,
    /// The operated instance, resolved.
    pub instance: InstanceKey,
    /// The other server, resolved.
    pub target: Option<InstanceKey>,
}

fn error_of(result: &wire::OperationResult) -> ApiError {
    let message = result.error.clone();
    match result.error_kind.as_str() {
        "invalid" => ApiError::BadRequest(message),
        "not_found" => ApiError::NotFound(message),
        "unavailable" => ApiError::Unavailable(message),
        _ => ApiError::Failed(message),
    }
}

fn keys(list: &[wire::InstanceKey]) -> Vec<InstanceKey> {
    list.iter()
        .filter_map(|k| InstanceKey::try_from(k).ok())
        .collect()
}

/// Runs one operation.
pub(crate) async fn operate(gw: &Gateway, ask: Ask) -> Result<Answer, ApiError> {
    let cat = catalog(gw).await?;
    let instance = cat.require_instance(&ask.instance)?;
    let target = ask
        .target
        .as_ref()
        .map(|t| cat.require_instance(t))
        .transpose()?;
    let request = wire::OperationRequest {
        operation: ask.op as i32,
        instance: Some((&instance).into()),
        target: target.as_ref().map(Into::into),
        pattern: ask.pattern.clone(),
        binlog: ask.binlog.clone(),
        number: ask.number,
        force: ask.force,
        dry_run: ask.dry_run,
        requested_by: actor(&ask.by),
    };
    let result = commands::topology_operation(&*gw.bus, &request, gw.recovery_timeout).await?;
    if !result.error.is_empty() {
        return Err(error_of(&result));
    }
    let changes = !ask.dry_run
        && !matches!(
            ask.op,
            wire::Operation::CanReplicateFrom
                | wire::Operation::LocateGtidErrant
                | wire::Operation::LastPseudoGtid
        );
    let catalog = if changes {
        let mut touched = vec![instance.clone()];
        touched.extend(target.iter().cloned());
        touched.extend(keys(&result.moved));
        touched.extend(
            result
                .subject
                .as_ref()
                .and_then(|k| InstanceKey::try_from(k).ok()),
        );
        touched.sort();
        touched.dedup();
        let timeout = gw.command_timeout;
        for r in join_all(
            touched
                .iter()
                .map(|k| commands::discover(&*gw.bus, k, timeout)),
        )
        .await
        {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a server the operation touched was not probed again");
            }
        }
        self::catalog(gw).await?
    } else {
        cat
    };
    Ok(Answer {
        result,
        catalog,
        instance,
        target,
    })
}

/// The moved replicas of an answer.
pub(crate) fn moved(answer: &Answer) -> Vec<InstanceKey> {
    keys(&answer.result.moved)
}

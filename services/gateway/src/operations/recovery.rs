//! Recoveries and takeovers: the gateway resolves names with the catalog,
//! then a recovery service does the work (`RecoveryCommand` on
//! `orc.recovery.command`) and answers with the recovery it ran.

use orc_compat::TopologyRecoveryJson;
use orc_model::{InstanceKey, RecoveryRecord};
use orc_proto::v1 as wire;

use super::{actor, audit::AuditView, catalog};
use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::{Gateway, commands};

/// What an operator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Intent {
    /// Recover a failed instance now (`recover`, `recover-lite` without hooks).
    Recover {
        /// The failed instance.
        failed: InstanceKey,
        /// The replica to promote, if the operator names one.
        candidate: Option<InstanceKey>,
        /// Without hooks.
        lite: bool,
    },
    /// Planned master switch (`graceful-master-takeover[-auto]`).
    GracefulTakeover {
        /// Cluster hint.
        hint: String,
        /// The replica to promote.
        designated: Option<InstanceKey>,
        /// Choose among several replicas and restart the old master as a replica.
        auto: bool,
    },
    /// Fail the master over as if it were dead (`force-master-failover`).
    ForceFailover {
        /// Cluster hint.
        hint: String,
    },
    /// Fail the master over to a given replica (`force-master-takeover`).
    ForceTakeover {
        /// Cluster hint.
        hint: String,
        /// The replica to promote.
        designated: InstanceKey,
    },
}

impl Intent {
    /// orchestrator's name of the operation.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Intent::Recover { lite: false, .. } => "recover",
            Intent::Recover { lite: true, .. } => "recover-lite",
            Intent::GracefulTakeover { auto: false, .. } => "graceful-master-takeover",
            Intent::GracefulTakeover { auto: true, .. } => "graceful-master-takeover-auto",
            Intent::ForceFailover { .. } => "force-master-failover",
            Intent::ForceTakeover { .. } => "force-master-takeover",
        }
    }
}

/// What a recovery service answered.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// The failed instance, or the master taken over.
    pub subject: InstanceKey,
    /// Its cluster's name.
    pub cluster: String,
    /// Nothing was changed; `plan` says what would be.
    pub dry_run: bool,
    /// The recovery that ran.
    pub recovery: Option<RecoveryRecord>,
    /// It in orchestrator's JSON.
    pub recovery_json: Option<TopologyRecoveryJson>,
    /// The promoted instance.
    pub successor: Option<InstanceKey>,
    /// The plan, with a failover's promotion decision, as the service sent it.
    pub plan: Option<wire::Plan>,
}

impl Outcome {
    /// The plan as the HTTP API shows it (`null` when none): the text a
    /// recovery record keeps (`orc_proto::plan::recorded_json`).
    pub(crate) fn plan_details(&self) -> Result<serde_json::Value, ApiError> {
        let Some(plan) = &self.plan else {
            return Ok(serde_json::Value::Null);
        };
        let plan = orc_planner::Plan::try_from(plan).map_err(|e| {
            ApiError::Internal(format!(
                "the recovery service answered an unreadable plan: {e}"
            ))
        })?;
        Ok(orc_proto::plan::recorded_json(&plan))
    }
}

fn designated_key(
    cat: &Catalog,
    key: Option<&InstanceKey>,
) -> Result<Option<InstanceKey>, ApiError> {
    key.map(|k| cat.require_instance(k)).transpose()
}

/// The command for `intent`, its subject and cluster, names resolved.
fn command_for(
    cat: &Catalog,
    intent: &Intent,
) -> Result<(wire::RecoveryCommand, InstanceKey, String), ApiError> {
    use wire::RecoveryCommandKind as Kind;
    let (kind, subject, cluster, designated) = match intent {
        Intent::Recover {
            failed,
            candidate,
            lite,
        } => {
            let failed = cat.require_instance(failed)?;
            let cluster = cat
                .cluster_of(&failed)
                .map(|c| c.to_string())
                .unwrap_or_default();
            let kind = if *lite {
                Kind::RecoverLite
            } else {
                Kind::Recover
            };
            (
                kind,
                failed,
                cluster,
                designated_key(cat, candidate.as_ref())?,
            )
        }
        Intent::GracefulTakeover {
            hint,
            designated,
            auto,
        } => {
            let kind = if *auto {
                Kind::GracefulMasterTakeoverAuto
            } else {
                Kind::GracefulMasterTakeover
            };
            let (master, cluster) = master_of(cat, hint)?;
            (
                kind,
                master,
                cluster,
                designated_key(cat, designated.as_ref())?,
            )
        }
        Intent::ForceFailover { hint } => {
            let (master, cluster) = master_of(cat, hint)?;
            (Kind::ForceMasterFailover, master, cluster, None)
        }
        Intent::ForceTakeover { hint, designated } => {
            let (master, cluster) = master_of(cat, hint)?;
            let d = designated_key(cat, Some(designated))?;
            (Kind::ForceMasterTakeover, master, cluster, d)
        }
    };
    if designated.as_ref() == Some(&subject) {
        return Err(ApiError::BadRequest(format!(
            "{}: the designated instance {subject} is the instance being replaced",
            intent.name()
        )));
    }
    let command = wire::RecoveryCommand {
        kind: kind as i32,
        instance: Some((&subject).into()),
        designated: designated.as_ref().map(Into::into),
        cluster: cluster.clone(),
        dry_run: false,
        requested_by: String::new(),
    };
    Ok((command, subject, cluster))
}

fn master_of(cat: &Catalog, hint: &str) -> Result<(InstanceKey, String), ApiError> {
    let cluster = cat.resolve_cluster(hint)?;
    let master = cat
        .master_of(&cluster)
        .ok_or_else(|| ApiError::NotFound(format!("Cannot deduce cluster master for {hint}")))?;
    Ok((master, cluster.to_string()))
}

fn reply_error(kind: &str, message: String, details: Option<serde_json::Value>) -> ApiError {
    match (kind, details) {
        ("invalid", _) => ApiError::BadRequest(message),
        ("not_found", _) => ApiError::NotFound(message),
        ("unavailable", _) => ApiError::Unavailable(message),
        (_, Some(details)) => ApiError::FailedWith {
            message,
            details: Box::new(details),
        },
        (_, None) => ApiError::Failed(message),
    }
}

/// Asks a recovery service to carry out `intent` (or, with `dry_run`, to
/// explain what it would do) and waits for the result. A run that promotes
/// nobody is an error carrying the recovery.
pub(crate) async fn execute(
    gw: &Gateway,
    intent: &Intent,
    dry_run: bool,
    requested_by: &str,
) -> Result<Outcome, ApiError> {
    let cat = catalog(gw).await?;
    let (mut command, subject, cluster) = command_for(&cat, intent)?;
    command.dry_run = dry_run;
    command.requested_by = actor(requested_by);
    let timeout = if dry_run {
        gw.command_timeout
    } else {
        gw.recovery_timeout
    };
    tracing::info!(
        operation = intent.name(),
        cluster = %cluster,
        instance = %subject,
        dry_run,
        "forwarding a recovery command"
    );
    let reply = commands::recovery_command(&*gw.bus, &command, timeout).await?;
    let recovery = reply
        .recovery
        .as_ref()
        .map(RecoveryRecord::try_from)
        .transpose()
        .map_err(|e| {
            ApiError::Internal(format!(
                "the recovery service answered an unreadable recovery: {e}"
            ))
        })?;
    let recovery_json = match &recovery {
        Some(r) => Some(AuditView::load(gw).await?.recovery_json(r)),
        None => None,
    };
    let details = recovery_json
        .as_ref()
        .and_then(|j| serde_json::to_value(j).ok());
    if !reply.error.is_empty() {
        return Err(reply_error(&reply.error_kind, reply.error, details));
    }
    let successor = reply
        .successor
        .as_ref()
        .and_then(|k| InstanceKey::try_from(k).ok())
        .or_else(|| recovery.as_ref().and_then(|r| r.successor.clone()));
    if successor.is_none() && !dry_run {
        let message = match intent {
            Intent::Recover { .. } => "Recovery attempted but no instance promoted",
            Intent::GracefulTakeover { .. } => "graceful-master-takeover: no successor promoted",
            Intent::ForceFailover { .. } | Intent::ForceTakeover { .. } => "Master not failed over",
        };
        return Err(reply_error("failed", message.to_string(), details));
    }
    Ok(Outcome {
        subject,
        cluster,
        dry_run,
        recovery,
        recovery_json,
        successor,
        plan: reply.plan,
    })
}

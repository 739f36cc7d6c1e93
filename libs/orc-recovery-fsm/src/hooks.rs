//! Hooks: which list runs when, and what a hook command sees — orchestrator's
//! `{placeholders}` in the command text and `ORC_*` environment variables.

use orc_model::InstanceKey;
use serde::{Deserialize, Serialize};

/// The hook lists, named by their configuration keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HookStage {
    /// `OnFailureDetectionProcesses`: once per detection.
    OnFailureDetection,
    /// `PreGracefulTakeoverProcesses`: a failure aborts the takeover.
    PreGracefulTakeover,
    /// `PreFailoverProcesses`: a failure aborts the recovery.
    PreFailover,
    /// `PostMasterFailoverProcesses`: after a master or co-master recovery.
    PostMasterFailover,
    /// `PostIntermediateMasterFailoverProcesses`.
    PostIntermediateMasterFailover,
    /// `PostFailoverProcesses`: after any successful recovery.
    PostFailover,
    /// `PostUnsuccessfulFailoverProcesses`: a recovery ended without successor.
    PostUnsuccessfulFailover,
    /// `PostGracefulTakeoverProcesses`.
    PostGracefulTakeover,
    /// `PostTakeMasterProcesses`: after `take-master` (the instance that
    /// took over is the successor, its former source the failed host).
    PostTakeMaster,
}

impl HookStage {
    /// The configuration key of the list.
    pub fn config_key(self) -> &'static str {
        match self {
            Self::OnFailureDetection => "OnFailureDetectionProcesses",
            Self::PreGracefulTakeover => "PreGracefulTakeoverProcesses",
            Self::PreFailover => "PreFailoverProcesses",
            Self::PostMasterFailover => "PostMasterFailoverProcesses",
            Self::PostIntermediateMasterFailover => "PostIntermediateMasterFailoverProcesses",
            Self::PostFailover => "PostFailoverProcesses",
            Self::PostUnsuccessfulFailover => "PostUnsuccessfulFailoverProcesses",
            Self::PostGracefulTakeover => "PostGracefulTakeoverProcesses",
            Self::PostTakeMaster => "PostTakeMasterProcesses",
        }
    }

    /// Whether a failing command stops what follows.
    pub fn aborts_on_failure(self) -> bool {
        matches!(self, Self::PreFailover | Self::PreGracefulTakeover)
    }
}

/// Everything a hook may be told about a failure and its recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookContext {
    /// Analysis code (`DeadMaster`, ...).
    pub failure_type: String,
    /// `master`, `co-master`, `intermediate-master`.
    pub instance_type: String,
    /// The failed instance was a master.
    pub is_master: bool,
    /// The failed instance was a co-master.
    pub is_co_master: bool,
    /// The analysis description.
    pub failure_description: String,
    /// `graceful-master-takeover`, `force-master-failover`, ... or empty.
    pub command: String,
    /// The failed instance.
    pub failed: InstanceKey,
    /// Cluster name.
    pub cluster: String,
    /// Cluster alias.
    pub cluster_alias: String,
    /// Cluster domain.
    pub cluster_domain: String,
    /// Replicas of the failed instance.
    pub replicas: Vec<InstanceKey>,
    /// The failed instance is downtimed.
    pub is_downtimed: bool,
    /// Automated master recovery is enabled for the cluster.
    pub auto_master_recovery: bool,
    /// Automated intermediate-master recovery is enabled for the cluster.
    pub auto_intermediate_master_recovery: bool,
    /// The recovery service's host.
    pub orchestrator_host: String,
    /// The recovery's uid.
    pub recovery_uid: String,
    /// Whether the recovery succeeded (so far).
    pub is_successful: bool,
    /// The promoted or replacing instance.
    pub successor: Option<InstanceKey>,
    /// Its binary log position (`file:pos`).
    pub successor_binlog_coordinates: String,
    /// Its alias.
    pub successor_alias: String,
    /// Replicas left behind.
    pub lost_replicas: Vec<InstanceKey>,
}

impl HookContext {
    /// A context about `failed` with everything else empty.
    pub fn new(failed: InstanceKey) -> Self {
        Self {
            failure_type: String::new(),
            instance_type: String::new(),
            is_master: false,
            is_co_master: false,
            failure_description: String::new(),
            command: String::new(),
            failed,
            cluster: String::new(),
            cluster_alias: String::new(),
            cluster_domain: String::new(),
            replicas: Vec::new(),
            is_downtimed: false,
            auto_master_recovery: false,
            auto_intermediate_master_recovery: false,
            orchestrator_host: String::new(),
            recovery_uid: String::new(),
            is_successful: false,
            successor: None,
            successor_binlog_coordinates: String::new(),
            successor_alias: String::new(),
            lost_replicas: Vec::new(),
        }
    }
}

fn keys(list: &[InstanceKey]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl HookContext {
    /// `(placeholder, value)` pairs, orchestrator's names.
    pub fn placeholders(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("failureType", self.failure_type.clone()),
            ("instanceType", self.instance_type.clone()),
            ("isMaster", self.is_master.to_string()),
            ("isCoMaster", self.is_co_master.to_string()),
            ("failureDescription", self.failure_description.clone()),
            ("command", self.command.clone()),
            ("failedHost", self.failed.hostname().to_string()),
            ("failedPort", self.failed.port().to_string()),
            ("failureCluster", self.cluster.clone()),
            ("failureClusterAlias", self.cluster_alias.clone()),
            ("failureClusterDomain", self.cluster_domain.clone()),
            ("countSlaves", self.replicas.len().to_string()),
            ("countReplicas", self.replicas.len().to_string()),
            ("isDowntimed", self.is_downtimed.to_string()),
            ("autoMasterRecovery", self.auto_master_recovery.to_string()),
            (
                "autoIntermediateMasterRecovery",
                self.auto_intermediate_master_recovery.to_string(),
            ),
            ("orchestratorHost", self.orchestrator_host.clone()),
            ("recoveryUID", self.recovery_uid.clone()),
            ("isSuccessful", self.is_successful.to_string()),
            ("lostSlaves", keys(&self.lost_replicas)),
            ("lostReplicas", keys(&self.lost_replicas)),
            ("countLostReplicas", self.lost_replicas.len().to_string()),
            ("slaveHosts", keys(&self.replicas)),
            ("replicaHosts", keys(&self.replicas)),
        ];
        if let Some(s) = &self.successor {
            v.extend([
                ("successorHost", s.hostname().to_string()),
                ("successorPort", s.port().to_string()),
                (
                    "successorBinlogCoordinates",
                    self.successor_binlog_coordinates.clone(),
                ),
                ("successorAlias", self.successor_alias.clone()),
            ]);
        }
        v
    }

    /// The command with every `{placeholder}` replaced. Unknown braces are
    /// left as they are (a shell `${VAR}` keeps working).
    pub fn expand(&self, command: &str) -> String {
        let mut out = command.to_string();
        for (name, value) in self.placeholders() {
            out = out.replace(&format!("{{{name}}}"), &value);
        }
        out
    }

    /// The `ORC_*` environment variables.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("ORC_FAILURE_TYPE", self.failure_type.clone()),
            ("ORC_INSTANCE_TYPE", self.instance_type.clone()),
            ("ORC_IS_MASTER", self.is_master.to_string()),
            ("ORC_IS_CO_MASTER", self.is_co_master.to_string()),
            ("ORC_FAILURE_DESCRIPTION", self.failure_description.clone()),
            ("ORC_COMMAND", self.command.clone()),
            ("ORC_FAILED_HOST", self.failed.hostname().to_string()),
            ("ORC_FAILED_PORT", self.failed.port().to_string()),
            ("ORC_FAILURE_CLUSTER", self.cluster.clone()),
            ("ORC_FAILURE_CLUSTER_ALIAS", self.cluster_alias.clone()),
            ("ORC_FAILURE_CLUSTER_DOMAIN", self.cluster_domain.clone()),
            ("ORC_COUNT_REPLICAS", self.replicas.len().to_string()),
            ("ORC_IS_DOWNTIMED", self.is_downtimed.to_string()),
            (
                "ORC_AUTO_MASTER_RECOVERY",
                self.auto_master_recovery.to_string(),
            ),
            (
                "ORC_AUTO_INTERMEDIATE_MASTER_RECOVERY",
                self.auto_intermediate_master_recovery.to_string(),
            ),
            ("ORC_ORCHESTRATOR_HOST", self.orchestrator_host.clone()),
            ("ORC_IS_SUCCESSFUL", self.is_successful.to_string()),
            ("ORC_LOST_REPLICAS", keys(&self.lost_replicas)),
            ("ORC_REPLICA_HOSTS", keys(&self.replicas)),
            ("ORC_RECOVERY_UID", self.recovery_uid.clone()),
        ];
        if let Some(s) = &self.successor {
            v.extend([
                ("ORC_SUCCESSOR_HOST", s.hostname().to_string()),
                ("ORC_SUCCESSOR_PORT", s.port().to_string()),
                (
                    "ORC_SUCCESSOR_BINLOG_COORDINATES",
                    self.successor_binlog_coordinates.clone(),
                ),
                ("ORC_SUCCESSOR_ALIAS", self.successor_alias.clone()),
            ]);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::unwrap_used)]
    fn key(s: &str) -> InstanceKey {
        InstanceKey::parse(s).unwrap()
    }

    fn context() -> HookContext {
        HookContext {
            failure_type: "DeadMaster".into(),
            instance_type: "master".into(),
            is_master: true,
            cluster: "127.0.0.1:22101".into(),
            replicas: vec![key("127.0.0.1:22102"), key("127.0.0.1:22103")],
            ..HookContext::new(key("127.0.0.1:22101"))
        }
    }

    #[test]
    fn placeholders_expand_as_orchestrator_names_them() {
        let c = context();
        assert_eq!(
            c.expand("echo {failureType} {failedHost}:{failedPort} replicas={countReplicas}"),
            "echo DeadMaster 127.0.0.1:22101 replicas=2"
        );
        assert_eq!(
            c.expand("{replicaHosts} {slaveHosts} ${HOME} {unknown}"),
            "127.0.0.1:22102,127.0.0.1:22103 127.0.0.1:22102,127.0.0.1:22103 ${HOME} {unknown}"
        );
        // Without a successor its placeholders stay untouched.
        assert_eq!(c.expand("{successorHost}"), "{successorHost}");
        let mut done = c.clone();
        done.successor = Some(key("127.0.0.1:22104"));
        done.is_successful = true;
        assert_eq!(
            done.expand(
                "successor={successorHost}:{successorPort} ok={isSuccessful} lost={lostReplicas}"
            ),
            "successor=127.0.0.1:22104 ok=true lost="
        );
    }

    #[test]
    fn environment_carries_the_same_facts() {
        let mut c = context();
        let env = c.env();
        assert!(env.contains(&("ORC_FAILED_PORT", "22101".into())));
        assert!(!env.iter().any(|(k, _)| *k == "ORC_SUCCESSOR_HOST"));
        c.successor = Some(key("127.0.0.1:22104"));
        assert!(
            c.env()
                .contains(&("ORC_SUCCESSOR_HOST", "127.0.0.1".into()))
        );
    }

    #[test]
    fn only_pre_hooks_abort() {
        assert!(HookStage::PreFailover.aborts_on_failure());
        assert!(HookStage::PreGracefulTakeover.aborts_on_failure());
        assert!(!HookStage::PostFailover.aborts_on_failure());
        assert_eq!(
            HookStage::PostIntermediateMasterFailover.config_key(),
            "PostIntermediateMasterFailoverProcesses"
        );
    }
}

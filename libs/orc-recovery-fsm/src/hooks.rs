//! Hooks: which list runs when, and what a hook command sees — orchestrator's
//! `{placeholders}` in the command text and `ORC_*` environment variables.
//!
//! **Placeholder values cannot inject commands.** The command text goes to
//! `ProcessesShellCommand -c`, and some values come from the topology's
//! servers (cluster alias and domain from `Detect*Query` results, a
//! successor's alias, binary log names), so whoever can write a meta table
//! could otherwise run commands on the manager's host. The rule
//! ([`neutralise`]): a value made only of ASCII letters, digits, space and
//! `. _ : @ / + , = -` is substituted byte for byte (hostnames, ports,
//! cluster names, aliases, timestamps, coordinates, key lists, booleans,
//! orchestrator's descriptions); in any other value every other character
//! is replaced by `_`. None of the kept characters has a meaning to `sh` or
//! `bash` inside double quotes, inside single quotes or unquoted (a space
//! only separates words: write `"{placeholder}"` to keep one argument), so
//! the rule holds wherever the placeholder sits in the command. Substitution
//! is one pass: a value is never scanned for placeholders again. The
//! `ORC_*` variables keep the raw values (the environment is not parsed by
//! the shell).

use std::borrow::Cow;

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

/// A hook command with its placeholders substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// The command to run.
    pub command: String,
    /// Placeholders whose values held other characters than the safe ones,
    /// in order of first use.
    pub neutralised: Vec<&'static str>,
}

/// Whether a character is substituted as it is: ASCII letters, digits,
/// space and `. _ : @ / + , = -`.
pub fn is_shell_safe(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, ' ' | '.' | '_' | ':' | '@' | '/' | '+' | ',' | '=' | '-')
}

/// A placeholder value made safe to substitute into a shell command: the
/// value itself (borrowed) when every character is safe
/// ([`is_shell_safe`]), else a copy with each other character replaced by
/// `_` (one `_` per character, multi-byte ones included).
pub fn neutralise(value: &str) -> Cow<'_, str> {
    if value.chars().all(is_shell_safe) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(
            value
                .chars()
                .map(|c| if is_shell_safe(c) { c } else { '_' })
                .collect(),
        )
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

    /// The command with every `{placeholder}` replaced by its value,
    /// neutralised by [`neutralise`]. Unknown braces are left as they are (a
    /// shell `${VAR}` keeps working).
    pub fn expand(&self, command: &str) -> String {
        self.expand_reporting(command).command
    }

    /// As [`HookContext::expand`], and which placeholders of the command had
    /// their values neutralised (to be logged).
    pub fn expand_reporting(&self, command: &str) -> Expansion {
        let values = self.placeholders();
        let mut out = Expansion {
            command: String::with_capacity(command.len()),
            neutralised: Vec::new(),
        };
        let mut rest = command;
        while let Some(open) = rest.find('{') {
            out.command.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let found = after.find('}').and_then(|close| {
                let name = &after[..close];
                values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(n, v)| (*n, v, close))
            });
            match found {
                Some((name, value, close)) => {
                    let safe = neutralise(value);
                    if matches!(safe, Cow::Owned(_)) && !out.neutralised.contains(&name) {
                        out.neutralised.push(name);
                    }
                    out.command.push_str(&safe);
                    rest = &after[close + 1..];
                }
                None => {
                    out.command.push('{');
                    rest = after;
                }
            }
        }
        out.command.push_str(rest);
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
    fn ordinary_values_are_substituted_byte_for_byte() {
        for value in [
            "127.0.0.1",
            "db-7.eu-west.example.com",
            "22101",
            "127.0.0.1:22101,127.0.0.1:22102",
            "my_cluster",
            "shop-main",
            "mysql-bin.000003:1234",
            "2026-11-30 12:34:56",
            "2026-11-30T12:34:56+01:00",
            "::1",
            "user@host",
            "a/b=c",
            "DeadMaster",
            "Master cannot be reached by orchestrator and none of its replicas is replicating",
            "graceful-master-takeover",
            "true",
            "",
        ] {
            assert!(
                matches!(neutralise(value), Cow::Borrowed(v) if v == value),
                "{value}"
            );
            let c = HookContext {
                cluster_alias: value.into(),
                ..context()
            };
            let e = c.expand_reporting("echo {failureClusterAlias} >> log");
            assert_eq!(e.command, format!("echo {value} >> log"));
            assert!(e.neutralised.is_empty(), "{value}");
        }
    }

    #[test]
    fn an_alias_with_a_command_in_it_cannot_run_the_command() {
        let c = HookContext {
            cluster_alias: "x; touch FILE #".into(),
            ..context()
        };
        let e = c.expand_reporting("echo {failureClusterAlias} >> log");
        assert_eq!(e.command, "echo x_ touch FILE _ >> log");
        assert_eq!(e.neutralised, vec!["failureClusterAlias"]);
        // The environment keeps the value as the server gave it.
        assert!(
            c.env()
                .contains(&("ORC_FAILURE_CLUSTER_ALIAS", "x; touch FILE #".into()))
        );
    }

    #[test]
    fn every_shell_metacharacter_is_replaced_whatever_the_quoting() {
        // Characters with a meaning to sh or bash unquoted, inside double
        // quotes or inside single quotes, and control characters.
        for c in "|&;<>()$`\\\"'*?[]{}~#!%^\n\t\r\0".chars() {
            assert!(!is_shell_safe(c), "{c:?} must not be kept");
        }
        for value in [
            "$(touch /tmp/pwned)",
            "`touch /tmp/pwned`",
            "a\"; touch /tmp/pwned; echo \"",
            "a'; touch /tmp/pwned; echo '",
            "a\ntouch /tmp/pwned",
            "a && touch /tmp/pwned",
            "a | sh",
            "${IFS}touch${IFS}x",
            "~root",
            "*",
            "caf\u{e9} \u{1F600}",
        ] {
            let safe = neutralise(value);
            assert!(matches!(safe, Cow::Owned(_)), "{value:?}");
            assert!(safe.chars().all(is_shell_safe), "{value:?} -> {safe:?}");
            assert_eq!(safe.chars().count(), value.chars().count(), "{value:?}");
        }
        assert_eq!(neutralise("$(id)"), "__id_");
        assert_eq!(neutralise("caf\u{e9}"), "caf_");
        // Exhaustively over ASCII: kept exactly when in the safe set.
        for b in 0u8..=127 {
            let c = char::from(b);
            let kept = c.is_ascii_alphanumeric() || " ._:@/+,=-".contains(c);
            assert_eq!(is_shell_safe(c), kept, "{c:?}");
            assert_eq!(neutralise(&c.to_string()) == c.to_string(), kept, "{c:?}");
        }
    }

    #[test]
    fn substitution_is_one_pass_and_only_used_placeholders_are_reported() {
        let c = HookContext {
            cluster_alias: "{failedHost}".into(),
            cluster_domain: "evil;domain".into(),
            ..context()
        };
        // A value is not scanned for placeholders again.
        assert_eq!(c.expand("{failureClusterAlias}"), "_failedHost_");
        // The domain is unsafe but not used: nothing to report.
        let e = c.expand_reporting("echo {failedHost}:{failedPort} {failureClusterAlias}");
        assert_eq!(e.command, "echo 127.0.0.1:22101 _failedHost_");
        assert_eq!(e.neutralised, vec!["failureClusterAlias"]);
        // Reported once however often it is used; braces around a
        // placeholder stay.
        let e = c.expand_reporting("{{failureClusterDomain}} {failureClusterDomain}");
        assert_eq!(e.command, "{evil_domain} evil_domain");
        assert_eq!(e.neutralised, vec!["failureClusterDomain"]);
        assert_eq!(c.expand("{unterminated"), "{unterminated");
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

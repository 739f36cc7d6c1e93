//! What `--help` and `--version` print: usage, every flag with its long
//! form, every environment variable, and every command.

use std::fmt::Write as _;

/// Information, discovery and recovery commands, as `help` lists them.
pub(crate) const GENERAL: &[(&str, &str)] = &[
    ("help", "Show this help"),
    ("which-api", "Output the HTTP API to be used"),
    ("api", "Invoke any API request; provide --path argument"),
    ("clusters", "List all clusters known to orchestrator"),
    (
        "clusters-alias",
        "List all clusters known to orchestrator, with their aliases",
    ),
    ("all-instances", "List all instances known to orchestrator"),
    ("instance", "Output the given instance's key"),
    ("which-instance", "Output the given instance's key"),
    ("which-master", "Output the master of a given instance"),
    ("which-replicas", "Output the replicas of a given instance"),
    (
        "which-cluster",
        "Output the name of the cluster an instance belongs to, or the cluster whose name or alias is given",
    ),
    (
        "which-cluster-alias",
        "Output the alias of the cluster an instance belongs to",
    ),
    ("which-cluster-master", "Output the master of a cluster"),
    (
        "which-cluster-instances",
        "Output the list of instances participating in the same cluster as the given instance",
    ),
    (
        "all-clusters-masters",
        "List of writeable masters, one per cluster",
    ),
    (
        "topology",
        "Show an ascii-graph of a replication topology, given a member of that topology",
    ),
    (
        "topology-tabulated",
        "Show an ascii-graph of a replication topology, tabulated",
    ),
    (
        "topology-tags",
        "Show an ascii-graph of a replication topology and instance tags",
    ),
    (
        "snapshot-topologies",
        "Trigger a topology snapshot (recording host/master settings of all hosts)",
    ),
    (
        "which-cluster-osc-replicas",
        "Output the replicas of a cluster that could serve as pt-online-schema-change control replicas",
    ),
    (
        "which-cluster-osc-running-replicas",
        "Output the healthy, replicating replicas of a cluster that could serve as pt-online-schema-change control replicas",
    ),
    ("search", "Search for instances matching given substring"),
    ("discover", "Look up an instance, investigate it"),
    (
        "async-discover",
        "Look up an instance, investigate it asynchronously",
    ),
    ("forget", "Forget about an instance's existence"),
    ("forget-cluster", "Forget about a cluster"),
    (
        "replication-analysis",
        "Request an analysis of potential crash incidents in all known topologies",
    ),
    (
        "begin-downtime",
        "Mark an instance as downtimed (-o owner, -r reason, -u duration)",
    ),
    (
        "end-downtime",
        "Indicate an instance is no longer downtimed",
    ),
    (
        "downtimed",
        "List downtimed instances, optionally of the cluster given by -i/-a",
    ),
    (
        "begin-maintenance",
        "Request a maintenance lock on an instance (-o owner, -r reason)",
    ),
    (
        "end-maintenance",
        "Remove maintenance lock from an instance",
    ),
    (
        "register-candidate",
        "Indicate the promotion rule of an instance (-R prefer|neutral|prefer_not|must_not)",
    ),
    (
        "recover",
        "Do auto-recovery given a dead instance, optionally promoting -d",
    ),
    (
        "recover-lite",
        "Do auto-recovery given a dead instance, without executing hooks",
    ),
    (
        "graceful-master-takeover",
        "Gracefully promote a new master: -d, or the master's only direct replica",
    ),
    (
        "graceful-master-takeover-auto",
        "Gracefully promote a new master (-d or orchestrator's choice); the old master replicates from it",
    ),
    (
        "force-master-failover",
        "Forcibly fail over the cluster's master, as if it were dead",
    ),
    (
        "force-master-takeover",
        "Forcibly promote -d as the cluster's master, as if the master were dead",
    ),
    (
        "ack-cluster-recoveries",
        "Acknowledge recoveries of a cluster (-r reason); unblocks future recoveries",
    ),
    (
        "ack-instance-recoveries",
        "Acknowledge recoveries of an instance (-r reason); unblocks future recoveries",
    ),
    (
        "ack-all-recoveries",
        "Acknowledge all recoveries (-r reason); unblocks future recoveries",
    ),
    (
        "disable-global-recoveries",
        "Disallow orchestrator from performing recoveries globally",
    ),
    (
        "enable-global-recoveries",
        "Allow orchestrator to perform recoveries globally",
    ),
    (
        "check-global-recoveries",
        "Show the global recovery configuration",
    ),
    (
        "audit-recovery",
        "List recent recoveries, optionally of the cluster given by -i/-a",
    ),
    (
        "blocked-recoveries",
        "List blocked automated recoveries, optionally of the cluster given by -i/-a",
    ),
];

/// Flags: short, long, value, meaning.
const FLAGS: &[(&str, &str, &str, &str)] = &[
    (
        "-h",
        "--help",
        "",
        "print this help (also: -c help, or the word help)",
    ),
    ("", "--version", "", "print the version"),
    (
        "-c",
        "--command",
        "<command>",
        "the operation to perform (see the listing below)",
    ),
    (
        "-i",
        "--instance",
        "<host[:port]>",
        "the instance (default $ORCHESTRATOR_INSTANCE; port default -D); for search, a substring; for submit-pool-instances, a comma-separated list",
    ),
    (
        "-d",
        "--destination",
        "<host[:port]>",
        "the destination instance (-s is the same)",
    ),
    (
        "-s",
        "",
        "<host[:port]>",
        "the destination instance (as -d)",
    ),
    (
        "-a",
        "--alias",
        "<alias>",
        "cluster alias; cluster commands use it before -i",
    ),
    (
        "-o",
        "--owner",
        "<owner>",
        "owner for downtime/maintenance (default: the current user)",
    ),
    (
        "-r",
        "--reason",
        "<reason>",
        "reason for downtime/maintenance/acknowledgements",
    ),
    (
        "-u",
        "--duration",
        "<duration>",
        "duration for downtime (default 10m)",
    ),
    (
        "-R",
        "--promotion-rule",
        "<rule>",
        "rule for register-candidate: prefer, neutral, prefer_not, must_not",
    ),
    (
        "-t",
        "--tag",
        "<tag>",
        "tag for tag commands: name or name=value (tagged: a,b=1,~c)",
    ),
    ("-l", "--pool", "<pool>", "pool name for pool commands"),
    (
        "-H",
        "--hostname",
        "<hostname>",
        "host for hostname-unresolve and raft commands",
    ),
    (
        "-D",
        "--default-port",
        "<port>",
        "port of instances given without one (default 3306)",
    ),
    (
        "-U",
        "--api",
        "<url>",
        "the API to use, overriding $ORCHESTRATOR_API",
    ),
    (
        "-P",
        "--path",
        "<path>",
        "with -c api: the API path to call",
    ),
    (
        "-q",
        "--query",
        "<query>",
        "query for restart-replica-statements",
    ),
    (
        "-b",
        "--auth",
        "<user:password>",
        "basic HTTP authentication (overrides ORCHESTRATOR_AUTH_USER/ORCHESTRATOR_AUTH_PASSWORD)",
    ),
    (
        "-e",
        "--headers-auth",
        "<'Header: value'>",
        "header authentication (overrides ORCHESTRATOR_AUTH_USER_HEADER; replaces basic authentication)",
    ),
    (
        "-n",
        "--binlog",
        "<binlog>",
        "binary log for purge-binary-logs",
    ),
    (
        "-S",
        "--seconds",
        "<seconds>",
        "seconds for delay-replication",
    ),
];

/// Environment variables and their meaning.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "ORCHESTRATOR_API",
        "API URL, or several space-separated (the leader is found by leader-check, then routed-leader-check); default http://localhost:3000; /api is appended if missing; http:// or https://; user:password@ in a URL is used for basic authentication",
    ),
    ("ORCHESTRATOR_INSTANCE", "default -i"),
    (
        "ORCHESTRATOR_AUTH_USER",
        "basic authentication user (-b overrides)",
    ),
    (
        "ORCHESTRATOR_AUTH_PASSWORD",
        "basic authentication password (-b overrides)",
    ),
    (
        "ORCHESTRATOR_AUTH_USER_HEADER",
        "'Header: value' sent with every request, for AuthenticationMethod proxy (-e overrides)",
    ),
    (
        "ORC_CLIENT_CA_FILE",
        "PEM file of the CA certificates to trust for https:// instead of the system's",
    ),
    (
        "ORC_CLIENT_INSECURE",
        "1 to accept any server certificate (as curl -k; testing only)",
    ),
    (
        "ORC_CLIENT_CERT",
        "PEM client certificate (chain) presented to servers that require mutual TLS",
    ),
    (
        "ORC_CLIENT_KEY",
        "PEM private key of ORC_CLIENT_CERT (default: looked for in ORC_CLIENT_CERT's file)",
    ),
    (
        "ORC_CLIENT_RETRIES",
        "retries when the API cannot be reached or answers no JSON (default 8)",
    ),
    ("USER, LOGNAME", "default -o"),
];

/// Every command, in the order help lists them.
pub(crate) fn commands() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    GENERAL
        .iter()
        .chain(crate::metadata::COMMANDS)
        .chain(crate::topology::COMMANDS)
        .chain(crate::raft::COMMANDS)
}

/// Whether `command` is one this client runs.
pub(crate) fn is_known(command: &str) -> bool {
    commands().any(|(n, _)| *n == command)
}

/// `--version`.
pub(crate) fn version() -> String {
    format!("orchestrator-client {}\n", env!("CARGO_PKG_VERSION"))
}

/// `--help`.
pub(crate) fn usage() -> String {
    let mut s = String::from(
        "Usage: orchestrator-client -c <command> [flags...]\n\
         Example: orchestrator-client -c which-master -i some.replica\n\
         Long flags take one or two dashes, and their value after a space or '='.\n\nOptions:\n",
    );
    for (short, long, value, meaning) in FLAGS {
        let names = match (*short, *long) {
            ("", l) => l.to_string(),
            (s, "") => s.to_string(),
            (s, l) => format!("{s}, {l}"),
        };
        let flag = if value.is_empty() {
            names
        } else {
            format!("{names} {value}")
        };
        let _ = writeln!(s, "  {flag}\n      {meaning}");
    }
    s.push_str("\nEnvironment:\n");
    for (name, meaning) in ENVIRONMENT {
        let _ = writeln!(s, "  {name}\n      {meaning}");
    }
    s.push_str(
        "  (unset variables are read from NAME=value lines of /etc/profile.d/orchestrator-client.sh)\n",
    );
    s.push_str("\nCommands:\n");
    for (name, help) in commands() {
        let _ = writeln!(s, "  {name:<38} {help}");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn help_documents_every_flag_and_variable() {
        let text = usage();
        for (short, long, _, _) in FLAGS {
            assert!(text.contains(short) && text.contains(long));
        }
        for (long, short) in crate::args::LONG {
            assert!(text.contains(&format!("-{short}, --{long}")), "--{long}");
        }
        for var in [
            "ORCHESTRATOR_API",
            "ORCHESTRATOR_INSTANCE",
            "ORCHESTRATOR_AUTH_USER",
            "ORCHESTRATOR_AUTH_PASSWORD",
            "ORCHESTRATOR_AUTH_USER_HEADER",
            "ORC_CLIENT_CA_FILE",
            "ORC_CLIENT_INSECURE",
            "ORC_CLIENT_CERT",
            "ORC_CLIENT_KEY",
            "ORC_CLIENT_RETRIES",
        ] {
            assert!(text.contains(var), "{var}");
        }
    }

    #[test]
    fn every_command_is_listed_once() {
        let mut names: Vec<&str> = commands().map(|(n, _)| *n).collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), total, "a command is listed twice");
        let text = usage();
        for name in names {
            assert!(text.contains(&format!("  {name} ")), "{name}");
        }
    }

    #[test]
    fn the_version_names_the_program() {
        assert!(version().starts_with("orchestrator-client "));
    }
}

//! orchestrator-client's refactoring, replication-control and instance
//! questions: `relocate`, `move-up`, `take-master`, `set-read-only`,
//! `which-gtid-errant`, ... each calling orchestrator's route and printing
//! what orchestrator-client prints.

use std::io::Write;

use serde_json::Value;

use crate::commands::{Ctx, array, check, echo_json, key, str_field, to_path, write_lines};
use crate::fetch::urlencode;
use crate::{Api, Failure};

/// The commands of this module, with their help, as `help` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "relocate",
        "Relocate a replica beneath another (-d) instance",
    ),
    (
        "relocate-replicas",
        "Relocates all or part of the replicas of a given instance below another (-d) instance",
    ),
    (
        "match",
        "Matches a replica beneath another (-d) instance using Pseudo-GTID",
    ),
    ("move-up", "Move a replica one level up the topology"),
    (
        "move-up-replicas",
        "Moves replicas of the given instance one level up the topology",
    ),
    (
        "move-below",
        "Moves a replica beneath its sibling (-d); both must be actively replicating from the same master",
    ),
    (
        "move-equivalent",
        "Moves a replica beneath another (-d) server at an equivalent position",
    ),
    (
        "move-gtid",
        "Move a replica beneath another (-d) instance via GTID",
    ),
    (
        "move-replicas-gtid",
        "Moves all replicas of a given instance under another (-d) instance using GTID",
    ),
    (
        "repoint",
        "Make the given instance replicate from another (-d) instance without changing its position",
    ),
    (
        "repoint-replicas",
        "Repoint all replicas of the given instance to replicate back from it",
    ),
    (
        "take-siblings",
        "Turn all siblings of a replica into its sub-replicas",
    ),
    (
        "take-master",
        "Turn an instance into a master of its own master; essentially switch the two",
    ),
    (
        "make-co-master",
        "Create a master-master replication; the given instance's master replicates from it",
    ),
    (
        "match-up",
        "Transport the replica one level up the hierarchy using Pseudo-GTID",
    ),
    (
        "match-up-replicas",
        "Matches replicas of the given instance one level up the topology using Pseudo-GTID",
    ),
    (
        "regroup-replicas",
        "Given an instance, pick one of its replicas and make it the local master of its siblings",
    ),
    ("enable-gtid", "If possible, turn on GTID replication"),
    (
        "disable-gtid",
        "Turn off GTID replication, back to file-based replication",
    ),
    ("stop-replica", "Issue a STOP SLAVE on an instance"),
    (
        "stop-replica-nice",
        "Issue a STOP SLAVE on an instance, letting its SQL thread apply its relay logs first",
    ),
    ("start-replica", "Issue a START SLAVE on an instance"),
    (
        "restart-replica",
        "Issue a STOP SLAVE + START SLAVE on an instance",
    ),
    ("reset-replica", "Issue a RESET SLAVE ALL on an instance"),
    (
        "detach-replica",
        "Stops replication and detaches the replica from its master, reversibly",
    ),
    ("reattach-replica", "Undo a detach-replica operation"),
    (
        "detach-replica-master-host",
        "Stops replication and points the replica at //its-master, reversibly",
    ),
    (
        "reattach-replica-master-host",
        "Undo a detach-replica-master-host operation",
    ),
    ("skip-query", "Skip a single statement on a replica"),
    ("set-read-only", "Turn an instance read-only"),
    ("set-writeable", "Turn an instance writeable"),
    ("flush-binary-logs", "Flush binary logs on an instance"),
    (
        "purge-binary-logs",
        "Purge binary logs of an instance up to -n (or latest)",
    ),
    (
        "restart-replica-statements",
        "The statements wrapping -q so replication threads end as they were",
    ),
    (
        "delay-replication",
        "Set the replication delay of a replica to -S seconds",
    ),
    (
        "enable-semi-sync-master",
        "Enable semi-sync replication (master-side)",
    ),
    (
        "disable-semi-sync-master",
        "Disable semi-sync replication (master-side)",
    ),
    (
        "enable-semi-sync-replica",
        "Enable semi-sync replication (replica-side)",
    ),
    (
        "disable-semi-sync-replica",
        "Disable semi-sync replication (replica-side)",
    ),
    (
        "can-replicate-from",
        "Can an instance (-i) replicate from another (-d) according to replication rules? Prints the destination if so",
    ),
    (
        "can-replicate-from-gtid",
        "Can an instance (-i) replicate from another (-d) by GTID? Prints the destination if so",
    ),
    (
        "which-gtid-errant",
        "Get the errant GTID set of an instance",
    ),
    (
        "locate-gtid-errant",
        "List the binary logs holding the errant GTID of an instance",
    ),
    (
        "gtid-errant-reset-master",
        "Remove the errant GTID of an instance (RESET MASTER, MySQL)",
    ),
    (
        "gtid-errant-inject-empty",
        "Inject empty transactions on the master for an instance's errant GTID (MySQL)",
    ),
    (
        "last-pseudo-gtid",
        "Output the last Pseudo-GTID entry of an instance's binary logs",
    ),
    (
        "which-broken-replicas",
        "Output the replicas of an instance whose replication is broken",
    ),
    (
        "is-replicating",
        "Output the instance if both its replication threads run",
    ),
    (
        "is-replication-stopped",
        "Output the instance if both its replication threads are stopped",
    ),
    ("dominant-dc", "Output the data center most masters live in"),
    (
        "audit",
        "List recent audited operations, optionally of the instance given by -i",
    ),
];

impl Ctx<'_> {
    /// `host/port` of `-d` (or `-s`).
    fn destination_path(&self) -> Result<String, Failure> {
        let d = self
            .args
            .get('d')
            .or_else(|| self.args.get('s'))
            .ok_or_else(|| Failure("destination must be provided".into()))?;
        to_path(d, self.default_port()?)
    }

    fn has_destination(&self) -> bool {
        self.args.get('d').or_else(|| self.args.get('s')).is_some()
    }
}

/// `key<masterKey` of the instance in `Details`.
fn moved_line(v: &Value) -> String {
    format!(
        "{}<{}",
        key(&v["Details"]["Key"]),
        key(&v["Details"]["MasterKey"])
    )
}

async fn op(api: &Api, path: &str) -> Result<Value, Failure> {
    check(api.get_recovery(path).await?)
}

/// Runs `command` if it is one of this module's; `None` otherwise.
pub(crate) async fn execute(
    command: &str,
    ctx: &Ctx<'_>,
    api: &Api,
    out: &mut dyn Write,
) -> Option<Result<(), Failure>> {
    if !COMMANDS.iter().any(|(n, _)| *n == command) {
        return None;
    }
    Some(run(command, ctx, api, out).await)
}

async fn run(command: &str, ctx: &Ctx<'_>, api: &Api, out: &mut dyn Write) -> Result<(), Failure> {
    let i = || ctx.instance_path();
    match command {
        "relocate" | "match" | "move-below" | "move-equivalent" => {
            let v = op(
                api,
                &format!("{command}/{}/{}", i()?, ctx.destination_path()?),
            )
            .await?;
            write_lines(out, [moved_line(&v)])
        }
        "move-gtid" => {
            let v = op(
                api,
                &format!("move-below-gtid/{}/{}", i()?, ctx.destination_path()?),
            )
            .await?;
            write_lines(out, [moved_line(&v)])
        }
        "repoint" => {
            let path = if ctx.has_destination() {
                format!("repoint/{}/{}", i()?, ctx.destination_path()?)
            } else {
                format!("repoint/{}", i()?)
            };
            let v = op(api, &path).await?;
            write_lines(out, [moved_line(&v)])
        }
        "move-up" | "match-up" | "make-co-master" | "take-master" | "take-siblings" => {
            let v = op(api, &format!("{command}/{}", i()?)).await?;
            write_lines(out, [moved_line(&v)])
        }
        "relocate-replicas" | "move-replicas-gtid" => {
            let v = op(
                api,
                &format!("{command}/{}/{}", i()?, ctx.destination_path()?),
            )
            .await?;
            write_lines(out, array(&v["Details"]).iter().map(|r| key(&r["Key"])))
        }
        "move-up-replicas" | "match-up-replicas" | "repoint-replicas" => {
            let path = if ctx.has_destination() {
                format!("{command}/{}/{}", i()?, ctx.destination_path()?)
            } else {
                format!("{command}/{}", i()?)
            };
            let v = op(api, &path).await?;
            write_lines(out, array(&v["Details"]).iter().map(|r| key(&r["Key"])))
        }
        "regroup-replicas" => {
            let v = op(api, &format!("{command}/{}", i()?)).await?;
            write_lines(out, [key(&v["Details"])])
        }
        "enable-gtid"
        | "disable-gtid"
        | "stop-replica"
        | "stop-replica-nice"
        | "start-replica"
        | "restart-replica"
        | "reset-replica"
        | "detach-replica"
        | "reattach-replica"
        | "detach-replica-master-host"
        | "reattach-replica-master-host"
        | "skip-query"
        | "set-read-only"
        | "set-writeable"
        | "flush-binary-logs"
        | "enable-semi-sync-master"
        | "disable-semi-sync-master"
        | "enable-semi-sync-replica"
        | "disable-semi-sync-replica"
        | "gtid-errant-reset-master"
        | "gtid-errant-inject-empty" => {
            let v = op(api, &format!("{command}/{}", i()?)).await?;
            write_lines(out, [key(&v["Details"]["Key"])])
        }
        "purge-binary-logs" => {
            let binlog = ctx
                .args
                .get('n')
                .ok_or_else(|| Failure("binlog must be provided (-n)".into()))?;
            let v = op(
                api,
                &format!("purge-binary-logs/{}/{}", i()?, urlencode(binlog)),
            )
            .await?;
            write_lines(out, [key(&v["Details"]["Key"])])
        }
        "delay-replication" => {
            let seconds = ctx
                .args
                .get('S')
                .ok_or_else(|| Failure("seconds must be provided (-S)".into()))?;
            op(
                api,
                &format!("delay-replication/{}/{}", i()?, urlencode(seconds)),
            )
            .await?;
            write_lines(out, [seconds.to_string()])
        }
        "restart-replica-statements" => {
            let q = ctx
                .args
                .get('q')
                .ok_or_else(|| Failure("query must be provided".into()))?;
            let v = op(
                api,
                &format!("restart-replica-statements/{}?q={}", i()?, urlencode(q)),
            )
            .await?;
            write_lines(out, [echo_json(&v["Details"])])
        }
        "can-replicate-from" | "can-replicate-from-gtid" => {
            let v = op(
                api,
                &format!("{command}/{}/{}", i()?, ctx.destination_path()?),
            )
            .await?;
            if str_field(&v, "Message").contains("true") {
                write_lines(out, [key(&v["Details"])])
            } else {
                Ok(())
            }
        }
        "which-gtid-errant" => {
            let v = check(api.get(&format!("instance/{}", i()?)).await?)?;
            write_lines(out, [str_field(&v, "GtidErrant")])
        }
        "locate-gtid-errant" => {
            let v = op(api, &format!("locate-gtid-errant/{}", i()?)).await?;
            write_lines(
                out,
                array(&v["Details"])
                    .iter()
                    .map(|s| s.as_str().unwrap_or_default().to_string()),
            )
        }
        "last-pseudo-gtid" => {
            let v = op(api, &format!("last-pseudo-gtid/{}", i()?)).await?;
            write_lines(out, [str_field(&v, "Details")])
        }
        "which-broken-replicas" => {
            let v = check(api.get(&format!("instance-replicas/{}", i()?)).await?)?;
            write_lines(
                out,
                array(&v)
                    .iter()
                    .filter(|r| {
                        let stopped = r["ReplicationSQLThreadRuning"] == false
                            || r["ReplicationIOThreadRuning"] == false;
                        let errors = !str_field(r, "LastSQLError").is_empty()
                            || !str_field(r, "LastIOError").is_empty();
                        stopped && errors
                    })
                    .map(|r| key(&r["Key"])),
            )
        }
        "is-replicating" | "is-replication-stopped" => {
            let v = check(api.get(&format!("instance/{}", i()?)).await?)?;
            let want = if command == "is-replicating" { 1 } else { 0 };
            if v["ReplicationSQLThreadState"] == want && v["ReplicationIOThreadState"] == want {
                write_lines(out, [key(&v["Key"])])
            } else {
                Ok(())
            }
        }
        "dominant-dc" => {
            let v = check(api.get("masters").await?)?;
            let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
            for m in array(&v) {
                *counts.entry(str_field(m, "DataCenter")).or_default() += 1;
            }
            let best = counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(dc, _)| dc)
                .unwrap_or_default();
            write_lines(out, [best])
        }
        "audit" => {
            let path = match ctx.instance_raw() {
                Some(_) => format!("audit/instance/{}", i()?),
                None => "audit".to_string(),
            };
            let v = check(api.get(&path).await?)?;
            write_lines(
                out,
                array(&v).iter().map(|a| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        str_field(a, "AuditTimestamp"),
                        str_field(a, "AuditType"),
                        key(&a["AuditInstanceKey"]),
                        str_field(a, "Message")
                    )
                }),
            )
        }
        other => Err(Failure(format!("Unsupported command: {other}"))),
    }
}

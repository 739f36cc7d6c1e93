//! orchestrator-client's recovery and operator-metadata commands: downtime,
//! maintenance, candidates, recover/takeovers, acknowledgements, the global
//! switch, and (ours) the recovery audit and blocked recoveries.

use std::io::Write;

use serde_json::Value;

use crate::commands::{Ctx, array, call, check, jq_raw, key, str_field, to_path, write_lines};
use crate::fetch::urlencode;
use crate::{Api, Failure};

fn required<'a>(what: &str, v: Option<&'a str>) -> Result<&'a str, Failure> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Failure(format!("{what} must be provided")))
}

impl Ctx<'_> {
    fn owner(&self) -> String {
        self.args
            .get('o')
            .map(str::to_string)
            .or_else(|| self.env.user.clone())
            .unwrap_or_else(|| "orchestrator-client".to_string())
    }

    fn reason(&self) -> Result<&str, Failure> {
        required("reason", self.args.get('r'))
    }

    /// `/DH/DP` of `-d`, or nothing.
    fn destination_suffix(&self) -> Result<String, Failure> {
        match self.args.get('d') {
            Some(d) => Ok(format!("/{}", to_path(d, self.default_port()?)?)),
            None => Ok(String::new()),
        }
    }

    /// `-i`/`-a` as a path segment, when given.
    fn optional_hint(&self) -> Option<String> {
        self.args
            .get('a')
            .map(str::to_string)
            .or_else(|| self.instance_raw())
            .map(|h| urlencode(&h))
    }
}

/// `jq -r .Details`: strings bare, anything else as JSON.
fn details_text(v: &Value) -> String {
    jq_raw(&v["Details"])
}

/// A recovery's row in `audit-recovery`.
fn recovery_line(r: &Value) -> String {
    let successor = match &r["SuccessorKey"] {
        Value::Null => "-".to_string(),
        k => key(k),
    };
    let acknowledged = if r["Acknowledged"].as_bool().unwrap_or(false) {
        "acknowledged"
    } else {
        "unacknowledged"
    };
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        r["Id"],
        str_field(r, "UID"),
        key(&r["AnalysisEntry"]["AnalyzedInstanceKey"]),
        str_field(&r["AnalysisEntry"], "Analysis"),
        successor,
        str_field(r, "RecoveryStartTimestamp"),
        acknowledged
    )
}

/// A blocked recovery's row in `blocked-recoveries`.
fn blocked_line(b: &Value) -> String {
    format!(
        "{} (cluster {}): {} blocked by recovery {} at {}",
        key(&b["FailedInstanceKey"]),
        str_field(b, "ClusterName"),
        str_field(b, "Analysis"),
        b["BlockingRecoveryId"],
        str_field(b, "LastBlockedTimestamp")
    )
}

async fn recovery_call(api: &Api, path: &str) -> Result<Value, Failure> {
    check(api.get_recovery(path).await?)
}

/// Runs `command` if it is one of this module's; `None` otherwise.
pub(crate) async fn execute(
    command: &str,
    ctx: &Ctx<'_>,
    api: &Api,
    out: &mut dyn Write,
) -> Option<Result<(), Failure>> {
    let done = match command {
        "begin-downtime" => begin_downtime(ctx, api, out).await,
        "end-downtime" | "end-maintenance" => instance_command(command, ctx, api, out).await,
        "downtimed" => {
            let path = match ctx.optional_hint() {
                Some(h) => format!("downtimed/{h}"),
                None => "downtimed".to_string(),
            };
            match call(api, &path).await {
                Ok(v) => write_lines(out, array(&v).iter().map(|i| key(&i["Key"]))),
                Err(e) => Err(e),
            }
        }
        "begin-maintenance" => begin_maintenance(ctx, api, out).await,
        "register-candidate" => register_candidate(ctx, api, out).await,
        "recover" | "recover-lite" => recover(command, ctx, api, out).await,
        "graceful-master-takeover"
        | "graceful-master-takeover-auto"
        | "force-master-failover"
        | "force-master-takeover" => takeover(command, ctx, api, out).await,
        "ack-cluster-recoveries" | "ack-instance-recoveries" | "ack-all-recoveries" => {
            acknowledge(command, ctx, api, out).await
        }
        "disable-global-recoveries" | "enable-global-recoveries" | "check-global-recoveries" => {
            match call(api, command).await {
                Ok(v) => write_lines(out, [details_text(&v)]),
                Err(e) => Err(e),
            }
        }
        "audit-recovery" => {
            let path = match ctx.optional_hint() {
                Some(h) => format!("audit-recovery/cluster/{h}"),
                None => "audit-recovery".to_string(),
            };
            match call(api, &path).await {
                Ok(v) => write_lines(out, array(&v).iter().map(recovery_line)),
                Err(e) => Err(e),
            }
        }
        "blocked-recoveries" => {
            let path = match ctx.optional_hint() {
                Some(h) => format!("blocked-recoveries/cluster/{h}"),
                None => "blocked-recoveries".to_string(),
            };
            match call(api, &path).await {
                Ok(v) => write_lines(out, array(&v).iter().map(blocked_line)),
                Err(e) => Err(e),
            }
        }
        _ => return None,
    };
    Some(done)
}

async fn begin_downtime(ctx: &Ctx<'_>, api: &Api, out: &mut dyn Write) -> Result<(), Failure> {
    let instance = ctx.instance_path()?;
    let reason = ctx.reason()?;
    let duration = ctx.args.get('u').unwrap_or("10m");
    let path = format!(
        "begin-downtime/{instance}/{}/{}/{}",
        urlencode(&ctx.owner()),
        urlencode(reason),
        urlencode(duration)
    );
    let v = call(api, &path).await?;
    write_lines(out, [key(&v["Details"])])
}

async fn begin_maintenance(ctx: &Ctx<'_>, api: &Api, out: &mut dyn Write) -> Result<(), Failure> {
    let instance = ctx.instance_path()?;
    let reason = ctx.reason()?;
    let path = format!(
        "begin-maintenance/{instance}/{}/{}",
        urlencode(&ctx.owner()),
        urlencode(reason)
    );
    let v = call(api, &path).await?;
    write_lines(out, [key(&v["Details"])])
}

async fn register_candidate(ctx: &Ctx<'_>, api: &Api, out: &mut dyn Write) -> Result<(), Failure> {
    let instance = ctx.instance_path()?;
    let rule = required("promotion-rule", ctx.args.get('R'))?;
    let v = call(
        api,
        &format!("register-candidate/{instance}/{}", urlencode(rule)),
    )
    .await?;
    write_lines(out, [key(&v["Details"])])
}

/// `<command>/H/P` → the key in `Details`.
async fn instance_command(
    command: &str,
    ctx: &Ctx<'_>,
    api: &Api,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let v = call(api, &format!("{command}/{}", ctx.instance_path()?)).await?;
    write_lines(out, [key(&v["Details"])])
}

async fn recover(
    command: &str,
    ctx: &Ctx<'_>,
    api: &Api,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let path = format!(
        "{command}/{}{}",
        ctx.instance_path()?,
        ctx.destination_suffix()?
    );
    let v = recovery_call(api, &path).await?;
    write_lines(out, [key(&v["Details"])])
}

async fn takeover(
    command: &str,
    ctx: &Ctx<'_>,
    api: &Api,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let hint = urlencode(&ctx.cluster_hint()?);
    let destination = match command {
        "force-master-failover" => String::new(),
        "force-master-takeover" => {
            required("destination", ctx.args.get('d'))?;
            ctx.destination_suffix()?
        }
        _ => ctx.destination_suffix()?,
    };
    let v = recovery_call(api, &format!("{command}/{hint}{destination}")).await?;
    write_lines(out, [key(&v["Details"]["SuccessorKey"])])
}

async fn acknowledge(
    command: &str,
    ctx: &Ctx<'_>,
    api: &Api,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let reason = urlencode(ctx.reason()?);
    let path = match command {
        "ack-cluster-recoveries" => format!(
            "ack-recovery/cluster/{}?comment={reason}",
            urlencode(&ctx.cluster_hint()?)
        ),
        "ack-instance-recoveries" => format!(
            "ack-recovery/instance/{}?comment={reason}",
            ctx.instance_path()?
        ),
        _ => format!("ack-all-recoveries?comment={reason}"),
    };
    let v = call(api, &path).await?;
    write_lines(out, [details_text(&v)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_print_like_jq_raw_output() {
        assert_eq!(
            details_text(&serde_json::json!({"Details": "enabled"})),
            "enabled"
        );
        assert_eq!(details_text(&serde_json::json!({"Details": 2})), "2");
    }

    #[test]
    fn audit_rows_name_the_failed_instance_and_successor() {
        let r = serde_json::json!({
            "Id": 3, "UID": "u", "Acknowledged": false,
            "AnalysisEntry": {"AnalyzedInstanceKey": {"Hostname": "db1", "Port": 3306}, "Analysis": "DeadMaster"},
            "SuccessorKey": {"Hostname": "db2", "Port": 3306},
            "RecoveryStartTimestamp": "2026-11-26T00:59:22Z"
        });
        assert_eq!(
            recovery_line(&r),
            "3\tu\tdb1:3306\tDeadMaster\tdb2:3306\t2026-11-26T00:59:22Z\tunacknowledged"
        );
        let b = serde_json::json!({
            "FailedInstanceKey": {"Hostname": "db1", "Port": 3306}, "ClusterName": "c",
            "Analysis": "DeadMaster", "BlockingRecoveryId": 3, "LastBlockedTimestamp": "t"
        });
        assert_eq!(
            blocked_line(&b),
            "db1:3306 (cluster c): DeadMaster blocked by recovery 3 at t"
        );
    }
}

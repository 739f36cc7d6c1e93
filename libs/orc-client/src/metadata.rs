//! orchestrator-client's commands on what operators attach to instances and
//! clusters: tags, pools, unresolved hostnames and the masters published to
//! key-value stores. Each calls orchestrator's route and prints what
//! orchestrator-client prints.

use std::io::Write;

use serde_json::Value;

use crate::commands::{Ctx, array, call, jq_raw, key, str_field, write_lines};
use crate::fetch::urlencode;
use crate::{Api, Failure};

/// The commands of this module, with their help, as `help` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    ("tags", "List tags of a given instance"),
    (
        "tag-value",
        "Output the value of a given tag (-t) of an instance",
    ),
    (
        "tag",
        "Add a tag to a given instance; -t tagname or tagname=tagvalue",
    ),
    ("untag", "Remove a tag (-t) from an instance"),
    ("untag-all", "Remove a tag (-t) from all matching instances"),
    (
        "tagged",
        "List instances tagged by -t: tagname, tagname=tagvalue, or comma separated tag0,tag1=val1,~tag2 for the intersection",
    ),
    (
        "submit-pool-instances",
        "Submit a pool name (-l) with its instances (-i, comma separated)",
    ),
    (
        "which-heuristic-cluster-pool-instances",
        "List instances of a cluster which are in any pool, or in the pool -l",
    ),
    (
        "register-hostname-unresolve",
        "Assign the given instance a virtual (unresolved) name (-H)",
    ),
    (
        "deregister-hostname-unresolve",
        "Remove the virtual (unresolved) name of the given instance",
    ),
    (
        "submit-masters-to-kv-stores",
        "Submit a cluster's master (-a), or all clusters' masters, to KV stores",
    ),
];

fn required<'a>(what: &str, v: Option<&'a str>) -> Result<&'a str, Failure> {
    v.ok_or_else(|| Failure(format!("{what} must be provided")))
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
    let tag = || required("tag", ctx.args.get('t')).map(urlencode);
    match command {
        "tags" => {
            let v = call(api, &format!("tags/{}", ctx.instance_path()?)).await?;
            write_lines(out, array(&v).iter().map(jq_raw))
        }
        "tag-value" => {
            let path = format!("tag-value/{}?tag={}", ctx.instance_path()?, tag()?);
            let v = call(api, &path).await?;
            write_lines(out, [jq_raw(&v)])
        }
        "tag" => {
            let v = call(api, &format!("tag/{}?tag={}", ctx.instance_path()?, tag()?)).await?;
            write_lines(out, [key(&v["Details"])])
        }
        "untag" => {
            let path = format!("untag/{}?tag={}", ctx.instance_path()?, tag()?);
            let v = call(api, &path).await?;
            write_lines(out, array(&v["Details"]).iter().map(key))
        }
        "untag-all" => {
            let v = call(api, &format!("untag-all?tag={}", tag()?)).await?;
            write_lines(out, array(&v["Details"]).iter().map(key))
        }
        "tagged" => {
            // orchestrator-client appends `-i` to the path (`tagged/H/P?tag=`),
            // a route orchestrator does not have; the tag alone is what counts.
            let v = call(api, &format!("tagged?tag={}", tag()?)).await?;
            write_lines(out, array(&v).iter().map(key))
        }
        "submit-pool-instances" => {
            let instances = required("instance", ctx.instance_raw().as_deref())?.to_string();
            let pool = required("pool", ctx.args.get('l'))?;
            let path = format!(
                "submit-pool-instances/{}?instances={}",
                urlencode(pool),
                urlencode(&instances)
            );
            let v = call(api, &path).await?;
            write_lines(out, [jq_raw(&v["Details"])])
        }
        "which-heuristic-cluster-pool-instances" => {
            let hint = urlencode(&ctx.cluster_hint()?);
            let path = match ctx.args.get('l') {
                Some(pool) => format!(
                    "heuristic-cluster-pool-instances/{hint}/{}",
                    urlencode(pool)
                ),
                None => format!("heuristic-cluster-pool-instances/{hint}"),
            };
            let v = call(api, &path).await?;
            write_lines(out, array(&v["Details"]).iter().map(|i| key(&i["Key"])))
        }
        "register-hostname-unresolve" => {
            let hostname = required("hostname", ctx.args.get('H'))?;
            let path = format!(
                "register-hostname-unresolve/{}/{}",
                ctx.instance_path()?,
                urlencode(hostname)
            );
            let v = call(api, &path).await?;
            write_lines(out, [key(&v["Details"])])
        }
        "deregister-hostname-unresolve" => {
            let path = format!("deregister-hostname-unresolve/{}", ctx.instance_path()?);
            let v = call(api, &path).await?;
            write_lines(out, [key(&v["Details"])])
        }
        "submit-masters-to-kv-stores" => {
            let path = match ctx.args.get('a') {
                Some(alias) => format!("submit-masters-to-kv-stores/{}", urlencode(alias)),
                None => "submit-masters-to-kv-stores".to_string(),
            };
            let v = call(api, &path).await?;
            write_lines(out, array(&v["Details"]).iter().map(kv_line))
        }
        other => Err(Failure(format!("Unsupported command: {other}"))),
    }
}

/// A key-value pair as `Key:Value`.
fn kv_line(pair: &Value) -> String {
    format!("{}:{}", str_field(pair, "Key"), str_field(pair, "Value"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn kv_pairs_print_as_key_colon_value() {
        let v = serde_json::json!({"Key": "mysql/master/c1", "Value": "db1:3306"});
        assert_eq!(kv_line(&v), "mysql/master/c1:db1:3306");
    }
}

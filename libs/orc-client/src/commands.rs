//! The command table: which route each command calls and what it prints.

use std::io::Write;

use serde_json::Value;

use crate::{Api, Args, Env, Failure, fetch::urlencode, select_api};

pub(crate) struct Ctx<'a> {
    pub(crate) args: &'a Args,
    pub(crate) env: &'a Env,
}

impl Ctx<'_> {
    pub(crate) fn default_port(&self) -> Result<u16, Failure> {
        match self.args.get('D') {
            Some(p) => p
                .parse()
                .map_err(|_| Failure(format!("invalid default port: {p}"))),
            None => Ok(3306),
        }
    }

    pub(crate) fn instance_raw(&self) -> Option<String> {
        self.args
            .get('i')
            .map(str::to_string)
            .or_else(|| self.env.instance.clone())
    }

    /// `host/port` of `-i` (default port applied).
    pub(crate) fn instance_path(&self) -> Result<String, Failure> {
        let raw = self
            .instance_raw()
            .ok_or_else(|| Failure("instance must be provided".into()))?;
        to_path(&raw, self.default_port()?)
    }

    /// `${alias:-$instance}`, raw.
    pub(crate) fn cluster_hint(&self) -> Result<String, Failure> {
        self.args
            .get('a')
            .map(str::to_string)
            .or_else(|| self.instance_raw())
            .ok_or_else(|| Failure("instance or alias must be provided".into()))
    }
}

pub(crate) fn to_path(raw: &str, default_port: u16) -> Result<String, Failure> {
    let raw = raw.trim();
    let (host, port) = match raw.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
            (h.trim_matches(|c| c == '[' || c == ']'), p)
        }
        _ => (raw, ""),
    };
    if host.is_empty() {
        return Err(Failure(format!("invalid instance: {raw}")));
    }
    let port = if port.is_empty() {
        default_port.to_string()
    } else {
        port.to_string()
    };
    Ok(format!("{}/{}", urlencode(host), urlencode(&port)))
}

/// `host:port` of a `{Hostname, Port}` object (as jq's print_key).
pub(crate) fn key(v: &Value) -> String {
    let host = v
        .get("Hostname")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let port = v
        .get("Port")
        .map(|p| p.to_string())
        .unwrap_or_else(|| "null".into());
    format!("{host}:{port}")
}

pub(crate) fn write_lines(
    out: &mut dyn Write,
    lines: impl IntoIterator<Item = String>,
) -> Result<(), Failure> {
    for l in lines {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

pub(crate) fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Fails when the answer is orchestrator's error envelope.
pub(crate) fn check(v: Value) -> Result<Value, Failure> {
    let is_error = v
        .get("Code")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains("ERROR"));
    if !is_error {
        return Ok(v);
    }
    let mut message = v
        .get("Message")
        .and_then(Value::as_str)
        .unwrap_or("unknown error")
        .replace('"', "");
    if let Some(details) = v.get("Details").filter(|d| !d.is_null()) {
        message.push('\n');
        message.push_str(&details.to_string());
    }
    Err(Failure(message))
}

pub(crate) async fn call(api: &Api, path: &str) -> Result<Value, Failure> {
    check(api.get(path).await?)
}

/// Parses `argv` and runs the command, printing to `out`.
pub async fn execute(argv: &[String], env: &Env, out: &mut dyn Write) -> Result<(), Failure> {
    let args = Args::parse(argv)?;
    if args.version {
        write!(out, "{}", crate::help::version())?;
        return Ok(());
    }
    let command = match args.get('c') {
        _ if args.help => "help".to_string(),
        Some(c) => c.replacen("slave", "replica", 1),
        None => {
            return Err(Failure(
                "No command given. Use -c <command>; -c help lists them".into(),
            ));
        }
    };
    if command == "help" {
        write!(out, "{}", crate::help::usage())?;
        return Ok(());
    }
    if !crate::help::is_known(&command) {
        return Err(Failure(format!("Unsupported command: {command}")));
    }
    let ctx = Ctx { args: &args, env };
    let api = select_api(env, &args).await?;
    if let Some(done) = crate::recovery::execute(&command, &ctx, &api, out).await {
        return done;
    }
    if let Some(done) = crate::topology::execute(&command, &ctx, &api, out).await {
        return done;
    }
    if let Some(done) = crate::metadata::execute(&command, &ctx, &api, out).await {
        return done;
    }
    if let Some(done) = crate::raft::execute(&command, &ctx, &api, out).await {
        return done;
    }
    information(&command, &ctx, &api, out).await
}

/// Information and discovery commands.
async fn information(
    command: &str,
    ctx: &Ctx<'_>,
    api: &Api,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let args = ctx.args;
    match command {
        "which-api" => write_lines(out, [api.shown.clone()]),
        "api" => {
            let path = args
                .get('P')
                .ok_or_else(|| Failure("path must be provided".into()))?;
            let v = api.get(path).await?;
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            // An error envelope is printed as it is, and fails the command.
            match check(v) {
                Ok(_) => Ok(()),
                Err(_) => Err(Failure(String::new())),
            }
        }
        "clusters" => {
            let v = call(api, "clusters-info").await?;
            write_lines(out, array(&v).iter().map(|c| str_field(c, "ClusterName")))
        }
        "clusters-alias" => {
            let v = call(api, "clusters-info").await?;
            write_lines(
                out,
                array(&v).iter().map(|c| {
                    format!(
                        "{},{}",
                        str_field(c, "ClusterName"),
                        str_field(c, "ClusterAlias")
                    )
                }),
            )
        }
        "all-instances" => {
            let v = call(api, "all-instances").await?;
            write_lines(out, array(&v).iter().map(|i| key(&i["Key"])))
        }
        "instance" | "which-instance" => {
            let v = call(api, &format!("instance/{}", ctx.instance_path()?)).await?;
            write_lines(out, [key(&v["Key"])])
        }
        "which-master" => {
            let v = call(api, &format!("instance/{}", ctx.instance_path()?)).await?;
            write_lines(out, [key(&v["MasterKey"])])
        }
        "which-replicas" => {
            let v = call(api, &format!("instance-replicas/{}", ctx.instance_path()?)).await?;
            write_lines(out, array(&v).iter().map(|i| key(&i["Key"])))
        }
        "which-cluster" => {
            let v = call(
                api,
                &format!("cluster-info/{}", urlencode(&ctx.cluster_hint()?)),
            )
            .await?;
            write_lines(out, [str_field(&v, "ClusterName")])
        }
        "which-cluster-alias" => {
            let v = call(
                api,
                &format!("cluster-info/{}", urlencode(&ctx.cluster_hint()?)),
            )
            .await?;
            write_lines(out, [str_field(&v, "ClusterAlias")])
        }
        "which-cluster-master" => {
            let v = call(api, &format!("master/{}", urlencode(&ctx.cluster_hint()?))).await?;
            write_lines(out, [str_field(&v, "ClusterName")])
        }
        "which-cluster-instances" => {
            let v = call(api, &format!("cluster/{}", urlencode(&ctx.cluster_hint()?))).await?;
            write_lines(out, array(&v).iter().map(|i| key(&i["Key"])))
        }
        "all-clusters-masters" => {
            let v = call(api, "masters").await?;
            write_lines(out, array(&v).iter().map(|i| key(&i["Key"])))
        }
        "topology" | "topology-tabulated" | "topology-tags" => {
            let v = call(
                api,
                &format!("{command}/{}", urlencode(&ctx.cluster_hint()?)),
            )
            .await?;
            write_lines(out, [str_field(&v, "Details")])
        }
        "snapshot-topologies" => {
            let v = call(api, "snapshot-topologies").await?;
            write_lines(out, [jq_raw(&v["Details"])])
        }
        "which-cluster-osc-replicas" | "which-cluster-osc-running-replicas" => {
            let v = call(
                api,
                &format!("cluster-osc-replicas/{}", urlencode(&ctx.cluster_hint()?)),
            )
            .await?;
            let running = command == "which-cluster-osc-running-replicas";
            write_lines(
                out,
                array(&v)
                    .iter()
                    .filter(|r| {
                        !running
                            || (r["ReplicationSQLThreadRuning"] == true
                                && r["ReplicationIOThreadRuning"] == true)
                    })
                    .map(|r| key(&r["Key"])),
            )
        }
        "search" => {
            let term = ctx
                .instance_raw()
                .ok_or_else(|| Failure("instance must be provided".into()))?;
            let v = call(api, &format!("search?s={}", urlencode(&term))).await?;
            write_lines(out, array(&v).iter().map(|i| key(&i["Key"])))
        }
        "discover" => {
            let v = call(api, &format!("discover/{}", ctx.instance_path()?)).await?;
            write_lines(out, [key(&v["Details"]["Key"])])
        }
        "async-discover" => {
            call(api, &format!("async-discover/{}", ctx.instance_path()?)).await?;
            Ok(())
        }
        "forget" => {
            call(api, &format!("forget/{}", ctx.instance_path()?)).await?;
            Ok(())
        }
        "replication-analysis" => {
            let v = call(api, "replication-analysis").await?;
            let entries = v.get("Details").map(array).unwrap_or_default();
            write_lines(
                out,
                entries.iter().map(|e| {
                    let structure: Vec<String> = e["StructureAnalysis"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    // orchestrator's AnalysisString: the code, then every warning.
                    let what = orc_compat::analysis_string(&str_field(e, "Analysis"), &structure);
                    format!(
                        "{} (cluster {}): {what}",
                        key(&e["AnalyzedInstanceKey"]),
                        str_field(&e["ClusterDetails"], "ClusterName")
                    )
                }),
            )
        }
        "forget-cluster" => {
            call(
                api,
                &format!("forget-cluster/{}", urlencode(&ctx.cluster_hint()?)),
            )
            .await?;
            Ok(())
        }
        other => Err(Failure(format!("Unsupported command: {other}"))),
    }
}

/// `jq -r .`: a string bare, anything else as (pretty) JSON.
pub(crate) fn jq_raw(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// `echo $(jq . <<< v)`: the JSON on one line, as bash's word splitting
/// leaves it (orchestrator-client prints `Details` so).
pub(crate) fn echo_json(v: &Value) -> String {
    serde_json::to_string_pretty(v)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn str_field(v: &Value, field: &str) -> String {
    v.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_become_host_slash_port_with_the_default_port() {
        assert_eq!(to_path("db1:3307", 3306).unwrap(), "db1/3307");
        assert_eq!(to_path("db1", 3306).unwrap(), "db1/3306");
        assert_eq!(to_path("db1", 3310).unwrap(), "db1/3310");
        assert_eq!(to_path("[::1]:3307", 3306).unwrap(), "%3A%3A1/3307");
        assert!(to_path(":3306", 3306).is_err());
    }

    #[test]
    fn error_envelopes_fail_with_their_message() {
        let v: Value = serde_json::json!({"Code":"ERROR","Message":"Cannot read instance: \"x:1\"","Details":null});
        assert_eq!(check(v), Err(Failure("Cannot read instance: x:1".into())));
        let ok: Value = serde_json::json!({"Code":"OK","Message":"fine","Details":1});
        assert!(check(ok).is_ok());
        assert!(check(serde_json::json!([1, 2])).is_ok());
    }

    #[test]
    fn keys_print_like_orchestrator_client() {
        assert_eq!(
            key(&serde_json::json!({"Hostname":"db","Port":3306})),
            "db:3306"
        );
        assert_eq!(key(&serde_json::json!({"Hostname":"","Port":0})), ":0");
    }
}

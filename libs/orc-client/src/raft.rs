//! orchestrator-client's HA commands: `raft-leader`, `raft-health`,
//! `raft-leader-hostname`, `raft-elect-leader`. Each but `raft-health`
//! first asks `raft-state` and goes on only when its answer mentions
//! `Leader` (a healthy group), as orchestrator-client does.

use std::io::Write;

use crate::commands::{Ctx, call, jq_raw, write_lines};
use crate::fetch::urlencode;
use crate::{Api, Failure};

/// The commands of this module, with their help, as `help` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "raft-leader",
        "Get identity of raft leader, assuming raft setup",
    ),
    (
        "raft-health",
        "Whether node is part of a healthy raft group",
    ),
    (
        "raft-leader-hostname",
        "Get hostname of raft leader, assuming raft setup",
    ),
    (
        "raft-elect-leader",
        "Request raft re-elections, with -H as a hint for the new leader's identity",
    ),
];

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

/// Fails unless `raft-state` answers with a state naming a leader.
async fn require_leader(api: &Api) -> Result<(), Failure> {
    let state = call(api, "raft-state").await?;
    if jq_raw(&state).contains("Leader") {
        Ok(())
    } else {
        Err(Failure("Cannot determine raft state".into()))
    }
}

async fn run(command: &str, ctx: &Ctx<'_>, api: &Api, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        "raft-leader" => {
            require_leader(api).await?;
            let v = call(api, "raft-leader").await?;
            write_lines(out, [jq_raw(&v)])
        }
        "raft-health" => {
            let v = call(api, "raft-health").await?;
            write_lines(out, [jq_raw(&v)])
        }
        "raft-leader-hostname" => {
            require_leader(api).await?;
            let v = call(api, "status").await?;
            write_lines(out, [jq_raw(&v["Details"]["Hostname"])])
        }
        "raft-elect-leader" => {
            let hostname = ctx
                .args
                .get('H')
                .ok_or_else(|| Failure("hostname must be provided".into()))?;
            require_leader(api).await?;
            let v = call(api, &format!("raft-yield-hint/{}", urlencode(hostname))).await?;
            write_lines(out, [jq_raw(&v["Details"])])
        }
        other => Err(Failure(format!("Unsupported command: {other}"))),
    }
}

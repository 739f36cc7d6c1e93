//! Running hook commands: through `ProcessesShellCommand`, one after the
//! other, with the `{placeholders}` expanded (values with shell
//! metacharacters neutralised, a warning naming the placeholder; see
//! `orc_recovery_fsm::hooks`) and `ORC_*` variables set, each
//! bounded by the hook timeout (the whole process group is killed when it
//! runs over). A command ending in `&` runs in the background and is not
//! waited for. Every start and end is a recovery step.

use std::process::Stdio;
use tracing::Instrument as _;

use orc_recovery_fsm::{HookContext, HookStage};
use tokio::process::Command;

use crate::config::RecoveryConfig;
use crate::journal::Notes;

/// A hook failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{stage} hook {index} failed: {reason}")]
pub struct HookFailed {
    /// The list's configuration key.
    pub stage: &'static str,
    /// Position in the list.
    pub index: usize,
    /// Exit status, timeout or spawn error.
    pub reason: String,
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let start = text.len().saturating_sub(400);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

/// Runs every command of `stage`. For Pre hooks the first failure stops the
/// list and is returned; for others failures are logged and the list goes on.
pub async fn run(
    cfg: &RecoveryConfig,
    stage: HookStage,
    ctx: &HookContext,
    journal: Option<&dyn Notes>,
) -> Result<(), HookFailed> {
    let commands = cfg.hooks(stage);
    if commands.is_empty() {
        return Ok(());
    }
    let span = tracing::info_span!("hooks", stage = stage.config_key(), count = commands.len());
    run_stage(cfg, stage, ctx, journal, commands)
        .instrument(span)
        .await
}

async fn run_stage(
    cfg: &RecoveryConfig,
    stage: HookStage,
    ctx: &HookContext,
    journal: Option<&dyn Notes>,
    commands: &[String],
) -> Result<(), HookFailed> {
    let key = stage.config_key();
    for (index, raw) in commands.iter().enumerate() {
        let expansion = ctx.expand_reporting(raw);
        let command = expansion.command;
        let background = command.trim_end().ends_with('&');
        let note = |m: String| {
            if let Some(j) = journal {
                j.step(m);
            } else {
                tracing::info!("{m}");
            }
        };
        for placeholder in expansion.neutralised {
            tracing::warn!(
                hook = key,
                index,
                placeholder,
                recovery_uid = %ctx.recovery_uid,
                "placeholder value holds shell metacharacters: each replaced by _ in the command (its ORC_* variable keeps the value)"
            );
            note(format!(
                "{key} hook {index}: {{{placeholder}}} held characters unsafe in a shell command; replaced by _"
            ));
        }
        note(format!("running {key} hook {index}: {command}"));
        let started = tokio::time::Instant::now();
        let result = run_one(cfg, &command, ctx, background).await;
        let took = started.elapsed();
        match result {
            Ok(()) => note(format!(
                "{key} hook {index} done in {:.3}s",
                took.as_secs_f64()
            )),
            Err(reason) => {
                let failed = HookFailed {
                    stage: key,
                    index,
                    reason,
                };
                note(format!("{failed} after {:.3}s", took.as_secs_f64()));
                if stage.aborts_on_failure() {
                    return Err(failed);
                }
                tracing::warn!(error = %failed, "hook failed");
            }
        }
    }
    Ok(())
}

async fn run_one(
    cfg: &RecoveryConfig,
    command: &str,
    ctx: &HookContext,
    background: bool,
) -> Result<(), String> {
    let mut cmd = Command::new(&cfg.shell);
    cmd.arg("-c")
        .arg(command)
        .envs(ctx.env())
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(!background);
    if background {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", cfg.shell))?;
    let pid = child.id();
    let wait = child.wait_with_output();
    let output = match cfg.hook_timeout {
        Some(limit) => match tokio::time::timeout(limit, wait).await {
            Ok(r) => r,
            Err(_) => {
                kill_group(pid);
                return Err(format!("timed out after {limit:?} (killed)"));
            }
        },
        None => wait.await,
    }
    .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        let err = tail(&output.stderr);
        let out = tail(&output.stdout);
        let detail = if err.is_empty() { out } else { err };
        Err(format!("{}: {detail}", output.status))
    }
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

//! `orchestrator`: the server binary of orchestrator-rs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use orchestrator::sandbox;

#[derive(Parser)]
#[command(
    name = "orchestrator",
    version,
    about = "MySQL/MariaDB replication topology manager"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a local MariaDB replication topology to try orchestrator on.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
}

#[derive(Subcommand)]
enum SandboxAction {
    /// Start a master with replicas (and a chained replica) that keep running.
    Up {
        /// Direct replicas of the master.
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// Replicas chained below the first replica.
        #[arg(long, default_value_t = 1)]
        chained: usize,
        /// Sandbox directory.
        #[arg(long, env = "ORC_SANDBOX_DIR", default_value_os_t = sandbox::default_dir())]
        dir: PathBuf,
    },
    /// Stop the sandbox and remove its files.
    Down {
        /// Sandbox directory.
        #[arg(long, env = "ORC_SANDBOX_DIR", default_value_os_t = sandbox::default_dir())]
        dir: PathBuf,
    },
    /// Show the sandbox's servers.
    Status {
        /// Sandbox directory.
        #[arg(long, env = "ORC_SANDBOX_DIR", default_value_os_t = sandbox::default_dir())]
        dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sandbox { action } => match action {
            SandboxAction::Up {
                replicas,
                chained,
                dir,
            } => sandbox::up(&dir, replicas, chained).await,
            SandboxAction::Down { dir } => sandbox::down(&dir),
            SandboxAction::Status { dir } => sandbox::status(&dir),
        },
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("orchestrator: {e}");
            ExitCode::FAILURE
        }
    }
}

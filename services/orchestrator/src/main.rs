//! `orchestrator`: the server binary of orchestrator-rs.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use orc_runtime::reload::ConfigSource;
use orc_runtime::{Config, EXIT_BAD_CONFIG};
use orchestrator::roles::{self, Roles};
use orchestrator::sandbox;

/// glibc's allocator spends a third of a busy prober's CPU in its bins
/// once the heap holds thousands of connections; mimalloc a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "orchestrator",
    version,
    about = "MySQL/MariaDB replication topology manager"
)]
struct Cli {
    /// orchestrator JSON configuration file (also `-config`). Without it,
    /// /etc/orchestrator.conf.json, conf/orchestrator.conf.json and
    /// orchestrator.conf.json are read, those that exist, in that order.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every role in one process (in-process bus, SQLite by default).
    /// `http` is a synonym (what orchestrator's service files run).
    #[command(alias = "http")]
    Serve {
        /// Use NATS instead of the in-process bus.
        #[arg(long)]
        nats: Option<String>,
    },
    /// Run the prober role (over NATS).
    Prober {
        /// NATS URL (or NatsUrl in the configuration).
        #[arg(long)]
        nats: Option<String>,
    },
    /// Run the analyzer role (over NATS).
    Analyzer {
        /// NATS URL (or NatsUrl in the configuration).
        #[arg(long)]
        nats: Option<String>,
    },
    /// Run the recovery role (over NATS): failovers, takeovers, hooks.
    Recovery {
        /// NATS URL (or NatsUrl in the configuration).
        #[arg(long)]
        nats: Option<String>,
    },
    /// Run the gateway role (over NATS).
    Gateway {
        /// NATS URL (or NatsUrl in the configuration).
        #[arg(long)]
        nats: Option<String>,
    },
    /// Analyze instances offline: reads an `/api/all-instances` JSON document
    /// (a file, or `-` for standard input) and prints the replication analysis.
    Analyze {
        /// The instances, as `/api/all-instances` returns them.
        #[arg(long)]
        instances: PathBuf,
        /// Print the analysis as orchestrator's JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
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
    /// Stop the sandbox (SIGTERM, SIGKILL after 10 s) and remove its files;
    /// returns once every server has exited.
    Down {
        /// Sandbox directory.
        #[arg(long, env = "ORC_SANDBOX_DIR", default_value_os_t = sandbox::default_dir())]
        dir: PathBuf,
    },
    /// kill -9 one server (node name such as `m`, or host:port), to try a failover.
    Kill {
        /// The server.
        server: String,
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

/// Where the configuration comes from: `--config`, else the default
/// locations that exist; and the environment.
fn config_source(path: Option<&PathBuf>) -> ConfigSource {
    let files = match path {
        Some(p) => vec![p.clone()],
        None => orc_runtime::config::DEFAULT_CONFIG_FILES
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect(),
    };
    ConfigSource {
        files,
        env: std::env::vars().collect(),
    }
}

fn load_config(source: &ConfigSource) -> Result<Config, ExitCode> {
    match source.load() {
        Ok((config, report)) => {
            log_load(source, &report);
            Ok(config)
        }
        Err(e) => {
            eprintln!("orchestrator: {e}");
            Err(ExitCode::from(EXIT_BAD_CONFIG))
        }
    }
}

fn log_load(source: &ConfigSource, report: &orc_runtime::LoadReport) {
    for file in &source.files {
        tracing::info!(file = %file.display(), "configuration read");
    }
    for w in report.warnings() {
        tracing::warn!("{w}");
    }
}

async fn run_roles(
    path: Option<&PathBuf>,
    roles: Roles,
    nats: Option<String>,
    service: &str,
) -> ExitCode {
    let source = config_source(path);
    let (config, report) = match source.load() {
        Ok(loaded) => loaded,
        Err(e) => {
            orc_runtime::init_tracing();
            eprintln!("orchestrator: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let telemetry = match orc_runtime::init_telemetry(&config, service) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("orchestrator: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    log_load(&source, &report);
    if telemetry.exports_traces() {
        tracing::info!(endpoint = %config.otlp_endpoint, "exporting traces over OTLP");
    }
    let scheme = if config.use_ssl { "https" } else { "http" };
    let shutdown = orc_runtime::shutdown_on_signals();
    let result = roles::run_from(config, Some(source), roles, nats, shutdown, |bound| {
        // A closed stdout must not stop a server: ignore write errors.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "orchestrator: HTTP API on {scheme}://{}/api",
            bound.http
        );
        let _ = writeln!(out, "orchestrator: gRPC API on {}", bound.grpc);
        let _ = out.flush();
    })
    .await;
    // Pending spans go out before the process ends (blocking: off the runtime).
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orchestrator: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    // orchestrator's own flags take one dash (`-config FILE`).
    let argv = std::env::args().map(|a| match a.as_str() {
        "-config" => "--config".to_string(),
        _ => match a.strip_prefix("-config=") {
            Some(v) => format!("--config={v}"),
            None => a,
        },
    });
    let cli = Cli::parse_from(argv);
    // A prober process waits on sockets and timers; one thread serves it
    // best (no wake-ups handed between worker threads: about a third less
    // CPU per poll, see the probe_cpu benchmark). Probing scales out by
    // running more prober processes.
    let runtime = match cli.command {
        Command::Prober { .. } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    match runtime {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => {
            eprintln!("orchestrator: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    let config = cli.config.as_ref();
    // Servers set up logging once their configuration is read (its
    // `LogFormat`, `OtlpEndpoint`); the other commands log plain text.
    let serves = matches!(
        cli.command,
        Command::Serve { .. }
            | Command::Prober { .. }
            | Command::Analyzer { .. }
            | Command::Recovery { .. }
            | Command::Gateway { .. }
    );
    if !serves {
        orc_runtime::init_tracing();
    }
    let only = |prober, analyzer, recovery, gateway| Roles {
        prober,
        analyzer,
        recovery,
        gateway,
    };
    let result = match cli.command {
        Command::Serve { nats } => {
            return run_roles(config, Roles::ALL, nats, "orchestrator").await;
        }
        Command::Prober { nats } => {
            return run_roles(
                config,
                only(true, false, false, false),
                nats,
                "orchestrator-prober",
            )
            .await;
        }
        Command::Analyzer { nats } => {
            return run_roles(
                config,
                only(false, true, false, false),
                nats,
                "orchestrator-analyzer",
            )
            .await;
        }
        Command::Recovery { nats } => {
            return run_roles(
                config,
                only(false, false, true, false),
                nats,
                "orchestrator-recovery",
            )
            .await;
        }
        Command::Gateway { nats } => {
            return run_roles(
                config,
                only(false, false, false, true),
                nats,
                "orchestrator-gateway",
            )
            .await;
        }
        Command::Analyze { instances, json } => {
            let config = match load_config(&config_source(config)) {
                Ok(c) => c,
                Err(code) => return code,
            };
            orchestrator::replay::analyze_file(&instances, json, &config).map_err(|e| e.to_string())
        }
        Command::Sandbox { action } => match action {
            SandboxAction::Up {
                replicas,
                chained,
                dir,
            } => sandbox::up(&dir, replicas, chained).await,
            SandboxAction::Down { dir } => sandbox::down(&dir),
            SandboxAction::Status { dir } => sandbox::status(&dir),
            SandboxAction::Kill { server, dir } => sandbox::kill(&dir, &server),
        }
        .map_err(|e| e.to_string()),
    };
    match result {
        Ok(text) => {
            let _ = write!(std::io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("orchestrator: {e}");
            ExitCode::FAILURE
        }
    }
}

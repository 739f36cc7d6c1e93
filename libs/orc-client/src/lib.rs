//! orchestrator-client, in Rust: the same commands, flags, environment and
//! output as orchestrator's bash `orchestrator-client`, over the HTTP API.
//!
//! [`run`] takes the arguments and environment and writes to the given
//! streams, so tests drive it in-process exactly as the binary does. This
//! crate owns: the command line ([`args`], `--help`/`--version` in `help`),
//! leader detection among several `ORCHESTRATOR_API` URLs ([`select_api`]),
//! the retry policy, the `{Code, Message, Details}` error convention, and
//! the output of each command ([`commands`]; operator metadata and recovery
//! in `recovery`, refactoring and replication control in `topology`, tags,
//! pools, unresolved hostnames and KV stores in `metadata`, raft in `raft`).
//! It must not know the gateway's internals: it speaks only orchestrator's
//! routes, so it works against orchestrator itself as well.
//!
//! HTTP goes through [`fetch::Transport`] (reqwest, rustls with the ring
//! provider; no other TLS stack). `https://` APIs are verified against the
//! system's roots, or only against `ORC_CLIENT_CA_FILE` when set;
//! `ORC_CLIENT_INSECURE=1` accepts any certificate; `ORC_CLIENT_CERT` and
//! `ORC_CLIENT_KEY` present a client certificate ([`tls`]). A bad file fails
//! before any request, naming the file and its variable; a TLS handshake
//! failure is not retried and says what to set.
//!
//! Credentials ([`credentials`]): `-b user:pass` over
//! `ORCHESTRATOR_AUTH_USER`/`ORCHESTRATOR_AUTH_PASSWORD` over a URL's
//! `user:pass@`; `-e "Header: value"` over `ORCHESTRATOR_AUTH_USER_HEADER`,
//! which replaces basic authentication (as orchestrator-client's curl call
//! did). A 401 aborts at once with orchestrator-client's "Cannot access
//! orchestrator at ..." and the URL's password masked. Passwords never
//! reach output, errors or `Debug`.
//!
//! Deliberate differences from the bash script: `move-gtid` calls
//! `move-below-gtid` (the script called a route orchestrator never had),
//! `tagged` calls `tagged?tag=` without the instance (the script's
//! `tagged/H/P` is a 404), `async-discover` prints nothing (the script
//! printed `:null`), query and path values are always percent-encoded, and
//! unknown flags or stray words are refused instead of ignored.

pub mod args;
pub mod commands;
pub mod credentials;
pub mod fetch;
mod help;
mod metadata;
mod raft;
mod recovery;
pub mod tls;
mod topology;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub use args::Args;
pub use credentials::{Credentials, mask_url};
pub use fetch::Transport;
pub use tls::TlsOptions;

/// The environment orchestrator-client reads.
#[derive(Clone, Default)]
pub struct Env {
    /// `ORCHESTRATOR_API`: one URL or several, space-separated.
    pub api: Option<String>,
    /// `ORCHESTRATOR_INSTANCE`: default `-i`.
    pub instance: Option<String>,
    /// `ORCHESTRATOR_AUTH_USER`.
    pub auth_user: Option<String>,
    /// `ORCHESTRATOR_AUTH_PASSWORD`.
    pub auth_password: Option<String>,
    /// `ORCHESTRATOR_AUTH_USER_HEADER`: a full `Header: value`.
    pub auth_header: Option<String>,
    /// `ORC_CLIENT_RETRIES` (ours): retries on unreachable APIs (default 8, as orchestrator-client).
    pub retries: Option<usize>,
    /// `USER` (or `LOGNAME`): the default `-o` owner, as `whoami`.
    pub user: Option<String>,
    /// `ORC_CLIENT_CA_FILE` (ours): PEM CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// `ORC_CLIENT_INSECURE` (ours): `1`/`true`/`yes` accepts any server certificate.
    pub insecure: bool,
    /// `ORC_CLIENT_CERT` (ours): PEM client certificate for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// `ORC_CLIENT_KEY` (ours): PEM private key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// `ORC_CLIENT_PROGRESS` (ours): show progress of long operations on
    /// stderr (default: when stderr is a terminal; `0` turns it off).
    pub progress: bool,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Env")
            .field("api", &self.api.as_deref().map(masked_list))
            .field("instance", &self.instance)
            .field("auth_user", &self.auth_user)
            .field("auth_password", &hidden(&self.auth_password))
            .field("auth_header", &hidden(&self.auth_header))
            .field("retries", &self.retries)
            .field("user", &self.user)
            .field("ca_file", &self.ca_file)
            .field("insecure", &self.insecure)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .finish()
    }
}

/// The site file orchestrator-client reads its environment from.
pub const SITE_PROFILE: &str = "/etc/profile.d/orchestrator-client.sh";

/// `NAME=value` assignments of a shell profile (`export` optional, one
/// level of quotes removed); anything else in it (commands, expansions) is
/// ignored, since no shell runs it.
pub fn profile_assignments(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l).trim();
            let (name, value) = l.split_once('=')?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            if unquoted.contains('$') || unquoted.contains('`') {
                return None;
            }
            Some((name.to_string(), unquoted.to_string()))
        })
        .collect()
}

impl Env {
    /// Reads the process environment, with [`SITE_PROFILE`]'s assignments
    /// for what the environment does not set (as the bash client sources it).
    pub fn from_process() -> Self {
        use std::io::IsTerminal as _;
        let site = std::fs::read_to_string(SITE_PROFILE).unwrap_or_default();
        let mut env = Self::from_lookup(|k| std::env::var(k).ok(), &site);
        if std::env::var_os("ORC_CLIENT_PROGRESS").is_none() {
            env.progress = std::io::stderr().is_terminal();
        }
        env
    }

    /// Reads variables through `lookup`, then the `site` profile's text.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, site: &str) -> Self {
        let site = profile_assignments(site);
        let var = |k: &str| {
            lookup(k).filter(|v| !v.is_empty()).or_else(|| {
                site.iter()
                    .rev()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            })
        };
        Self {
            api: var("ORCHESTRATOR_API"),
            instance: var("ORCHESTRATOR_INSTANCE"),
            auth_user: var("ORCHESTRATOR_AUTH_USER"),
            auth_password: var("ORCHESTRATOR_AUTH_PASSWORD"),
            auth_header: var("ORCHESTRATOR_AUTH_USER_HEADER"),
            retries: var("ORC_CLIENT_RETRIES").and_then(|v| v.parse().ok()),
            user: var("USER").or_else(|| var("LOGNAME")),
            ca_file: var("ORC_CLIENT_CA_FILE").map(PathBuf::from),
            insecure: var("ORC_CLIENT_INSECURE").is_some_and(|v| is_true(&v)),
            client_cert: var("ORC_CLIENT_CERT").map(PathBuf::from),
            client_key: var("ORC_CLIENT_KEY").map(PathBuf::from),
            progress: var("ORC_CLIENT_PROGRESS").is_some_and(|v| is_true(&v)),
        }
    }

    /// The TLS settings of this environment.
    pub fn tls(&self) -> TlsOptions {
        TlsOptions {
            ca_file: self.ca_file.clone(),
            insecure: self.insecure,
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        }
    }
}

fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

fn masked_list(spec: &str) -> String {
    spec.split_whitespace()
        .map(mask_url)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A failure that ends the command with exit status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Talks to one selected API.
#[derive(Debug, Clone)]
pub struct Api {
    /// The base URL, ending in `/api`, without credentials.
    pub base: String,
    /// The base URL as shown to people: a password in it masked.
    pub shown: String,
    credentials: Credentials,
    transport: Transport,
    retries: usize,
}

/// Normalizes one API URL: no trailing `/`, `/api` appended if missing, and
/// `http://` assumed without a scheme (as curl does).
pub fn normalize_api(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("http://{trimmed}")
    };
    if with_scheme.ends_with("/api") {
        with_scheme
    } else {
        format!("{with_scheme}/api")
    }
}

const BACKOFF_MS: [u64; 8] = [100, 200, 500, 1000, 2000, 2500, 5000, 5000];
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a recovery or takeover may take (hooks included).
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Leader checks answer at once or not at all (orchestrator-client: `curl -m 1`).
const LEADER_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// orchestrator-client's words when an API cannot be used.
fn cannot_access(shown: &str, why: &str) -> Failure {
    Failure(format!(
        "Cannot access orchestrator at {shown}.  Check ORCHESTRATOR_API is configured correctly and orchestrator is running ({why})"
    ))
}

fn unauthorized(shown: &str) -> Failure {
    cannot_access(
        shown,
        "401 Unauthorized: check -b/--auth, ORCHESTRATOR_AUTH_USER and ORCHESTRATOR_AUTH_PASSWORD, or -e/--headers-auth and ORCHESTRATOR_AUTH_USER_HEADER",
    )
}

impl Api {
    /// An API at `url` (normalized; credentials in it are taken out and
    /// used unless `-b`/`-e` or the environment give others).
    pub fn new(
        url: &str,
        auth: &AuthSpec,
        transport: Transport,
        retries: usize,
    ) -> Result<Self, Failure> {
        let normalized = normalize_api(url);
        let (base, userinfo) = credentials::split_userinfo(&normalized);
        let credentials =
            Credentials::resolve(auth.header.as_deref(), auth.basic.as_deref(), userinfo)?;
        Ok(Self {
            shown: mask_url(&normalized),
            base,
            credentials,
            transport,
            retries,
        })
    }

    /// GETs `<base>/<path>` and parses JSON, retrying (as orchestrator-client
    /// does) only when the server cannot be reached or does not answer JSON.
    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.get_within(path, REQUEST_TIMEOUT, true).await
    }

    /// GETs a path that starts a recovery: waits long for the answer and
    /// never sends it again once it may have reached the server (a request
    /// that timed out is not retried).
    pub async fn get_recovery(&self, path: &str) -> Result<Value, Failure> {
        self.get_within(path, RECOVERY_TIMEOUT, false).await
    }

    async fn get_within(
        &self,
        path: &str,
        timeout: Duration,
        retry_timeouts: bool,
    ) -> Result<Value, Failure> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                let wait = BACKOFF_MS[(attempt - 1).min(BACKOFF_MS.len() - 1)];
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            match self.transport.get(&url, &self.credentials, timeout).await {
                Ok(resp) if resp.status == 401 => return Err(unauthorized(&self.shown)),
                Ok(resp) => match serde_json::from_slice::<Value>(&resp.body) {
                    Ok(v) => return Ok(v),
                    Err(_) => {
                        last = format!(
                            "{url}: HTTP {} with a non-JSON answer: {}",
                            resp.status,
                            String::from_utf8_lossy(&resp.body).trim()
                        );
                    }
                },
                Err(e @ fetch::FetchError::Tls { .. }) => {
                    return Err(cannot_access(&self.shown, &e.to_string()));
                }
                Err(e @ fetch::FetchError::Timeout { .. }) if !retry_timeouts => {
                    return Err(Failure(format!("No answer from orchestrator: {e}")));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(cannot_access(&self.shown, &last))
    }

    /// GETs a leader check (`leader-check` or `routed-leader-check`).
    async fn leader_check(&self, check: &str) -> LeaderCheck {
        let url = format!("{}/{check}", self.base);
        match self
            .transport
            .get(&url, &self.credentials, LEADER_CHECK_TIMEOUT)
            .await
        {
            Ok(r) if r.status == 200 => LeaderCheck::Leader,
            Ok(r) if r.status == 401 => LeaderCheck::Unauthorized,
            Ok(r) => LeaderCheck::Failed(format!("{url}: HTTP {}", r.status)),
            Err(e) => LeaderCheck::Failed(e.to_string()),
        }
    }
}

/// What one API answered to a leader check.
enum LeaderCheck {
    Leader,
    Unauthorized,
    Failed(String),
}

/// Authentication as given by flags or environment (flags win).
#[derive(Clone, Default)]
pub struct AuthSpec {
    /// `user:password` (`-b`, else `ORCHESTRATOR_AUTH_USER:ORCHESTRATOR_AUTH_PASSWORD`).
    pub basic: Option<String>,
    /// `Header: value` (`-e`, else `ORCHESTRATOR_AUTH_USER_HEADER`).
    pub header: Option<String>,
}

impl std::fmt::Debug for AuthSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSpec")
            .field("basic", &self.basic.as_ref().map(|_| "<redacted>"))
            .field("header", &self.header.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl AuthSpec {
    /// `-b`/`-e` over the environment's variables.
    pub fn from(args: &Args, env: &Env) -> Self {
        let env_basic = match (&env.auth_user, &env.auth_password) {
            (None, None) => None,
            (u, p) => Some(format!(
                "{}:{}",
                u.as_deref().unwrap_or_default(),
                p.as_deref().unwrap_or_default()
            )),
        };
        Self {
            basic: args.get('b').map(str::to_string).or(env_basic),
            header: args
                .get('e')
                .map(str::to_string)
                .or_else(|| env.auth_header.clone()),
        }
    }
}

/// Picks the API: one URL as is; among several, the first answering 200
/// to `leader-check`, else to `routed-leader-check`.
pub async fn select_api(env: &Env, args: &Args) -> Result<Api, Failure> {
    let spec = args
        .get('U')
        .map(str::to_string)
        .or_else(|| env.api.clone())
        .unwrap_or_else(|| "http://localhost:3000".to_string());
    let urls: Vec<String> = spec.split_whitespace().map(str::to_string).collect();
    let https = urls
        .iter()
        .any(|u| normalize_api(u).starts_with("https://"));
    let transport = Transport::new(&env.tls(), https)?;
    let auth = AuthSpec::from(args, env);
    let retries = env.retries.unwrap_or(8);
    let apis = urls
        .iter()
        .map(|u| Api::new(u, &auth, transport.clone(), retries))
        .collect::<Result<Vec<_>, _>>()?;
    match apis.as_slice() {
        [] => Err(Failure("ORCHESTRATOR_API is empty".into())),
        [one] => Ok(one.clone()),
        many => {
            let mut last = String::new();
            for check in ["leader-check", "routed-leader-check"] {
                for api in many {
                    match api.leader_check(check).await {
                        LeaderCheck::Leader => return Ok(api.clone()),
                        LeaderCheck::Unauthorized => return Err(unauthorized(&api.shown)),
                        LeaderCheck::Failed(e) => last = e,
                    }
                }
            }
            let tried = many
                .iter()
                .map(|a| a.shown.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let why = if last.is_empty() {
                String::new()
            } else {
                format!(" (last error: {last})")
            };
            Err(Failure(format!(
                "Cannot determine leader from {tried}{why}"
            )))
        }
    }
}

/// Runs orchestrator-client with `argv` (without the program name); returns the exit status.
pub async fn run(argv: &[String], env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let command = command_of(argv);
    let done = if env.progress && LONG_COMMANDS.contains(&command.as_str()) {
        with_progress(&command, commands::execute(argv, env, out), err).await
    } else {
        commands::execute(argv, env, out).await
    };
    match done {
        Ok(()) => 0,
        Err(Failure(message)) => {
            if !message.is_empty() {
                let _ = writeln!(err, "{message}");
            }
            1
        }
    }
}

/// Commands that can take long (they move several servers, or wait for a
/// replica to catch up): progress is shown while they run.
pub const LONG_COMMANDS: &[&str] = &[
    "graceful-master-takeover",
    "graceful-master-takeover-auto",
    "force-master-failover",
    "force-master-takeover",
    "recover",
    "recover-lite",
    "relocate-replicas",
    "relocate-slaves",
    "regroup-replicas",
    "regroup-slaves",
    "move-up-replicas",
    "move-up-slaves",
    "repoint-replicas",
    "repoint-slaves",
    "take-master",
    "make-co-master",
    "move-replicas-gtid",
    "move-slaves-gtid",
    "match-replicas",
    "match-slaves",
];

fn command_of(argv: &[String]) -> String {
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == "-c" || a == "--command" || a == "-command" {
            return it.next().cloned().unwrap_or_default();
        }
        if let Some(v) = a
            .strip_prefix("--command=")
            .or_else(|| a.strip_prefix("-c="))
        {
            return v.to_string();
        }
    }
    String::new()
}

/// Runs `work`, writing `<command>: working… Ns` on `err` every second
/// (one line, rewritten in place), then erasing it.
async fn with_progress<F: std::future::Future<Output = Result<(), Failure>>>(
    command: &str,
    work: F,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.tick().await;
    tokio::pin!(work);
    let mut shown = false;
    loop {
        // A second that passed is shown even when the work ended too (a
        // slow or busy client polls both at once): the operator asked to
        // see that it took long.
        tokio::select! {
            biased;
            _ = tick.tick() => {
                let _ = write!(
                    err,
                    "\r{command}: working… {}s",
                    started.elapsed().as_secs()
                );
                let _ = err.flush();
                shown = true;
            }
            done = &mut work => {
                if shown {
                    let _ = write!(err, "\r\x1b[K");
                    let _ = err.flush();
                }
                return done;
            }
        }
    }
}

#[cfg(test)]
mod profile_tests {
    use super::*;

    #[test]
    fn the_site_profile_fills_what_the_environment_leaves_unset() {
        let site = "# site defaults\nexport ORCHESTRATOR_API=\"http://a:3000 http://b:3000\"\nORCHESTRATOR_AUTH_USER='ops'\nexport PATH=$PATH:/x\necho hi\n";
        let env = Env::from_lookup(
            |k| (k == "ORCHESTRATOR_AUTH_USER").then(|| "me".to_string()),
            site,
        );
        assert_eq!(env.api.as_deref(), Some("http://a:3000 http://b:3000"));
        assert_eq!(env.auth_user.as_deref(), Some("me"), "the environment wins");
        assert!(profile_assignments(site).iter().all(|(n, _)| n != "PATH"));
    }
}

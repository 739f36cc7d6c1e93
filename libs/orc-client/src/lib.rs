//! orchestrator-client, in Rust: the same commands, flags, environment and
//! output as orchestrator's bash `orchestrator-client`, over the HTTP API.
//!
//! [`run`] takes the arguments and environment and writes to the given
//! streams, so tests drive it in-process exactly as the binary does. It
//! owns leader detection among several `ORCHESTRATOR_API` URLs, the retry
//! policy, the `{Code, Message, Details}` error convention, and the output
//! of each command ([`commands`]; recovery and operator-metadata commands
//! in `recovery`).

pub mod args;
pub mod commands;
pub mod fetch;
mod recovery;
mod topology;

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

pub use args::Args;

/// The environment orchestrator-client reads.
#[derive(Debug, Clone, Default)]
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
}

impl Env {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            api: var("ORCHESTRATOR_API"),
            instance: var("ORCHESTRATOR_INSTANCE"),
            auth_user: var("ORCHESTRATOR_AUTH_USER"),
            auth_password: var("ORCHESTRATOR_AUTH_PASSWORD"),
            auth_header: var("ORCHESTRATOR_AUTH_USER_HEADER"),
            retries: var("ORC_CLIENT_RETRIES").and_then(|v| v.parse().ok()),
            user: var("USER").or_else(|| var("LOGNAME")),
        }
    }
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
    /// The base URL, ending in `/api`.
    pub base: String,
    headers: Vec<(String, String)>,
    retries: usize,
}

/// Normalizes one API URL: no trailing `/`, `/api` appended if missing.
pub fn normalize_api(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.ends_with("/api") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/api")
    }
}

const BACKOFF_MS: [u64; 8] = [100, 200, 500, 1000, 2000, 2500, 5000, 5000];
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a recovery or takeover may take (hooks included).
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);

impl Api {
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
            match fetch::get(&url, &self.headers, timeout).await {
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
                Err(e @ fetch::FetchError::Timeout { .. }) if !retry_timeouts => {
                    return Err(Failure(format!("No answer from orchestrator: {e}")));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(Failure(format!("Cannot access orchestrator: {last}")))
    }
}

/// Picks the API: one URL as is; among several, the first answering 200
/// to `leader-check`, else to `routed-leader-check`.
pub async fn select_api(env: &Env, override_url: Option<&str>) -> Result<Api, Failure> {
    let spec = override_url
        .map(str::to_string)
        .or_else(|| env.api.clone())
        .unwrap_or_else(|| "http://localhost:3000".to_string());
    let urls: Vec<String> = spec.split_whitespace().map(normalize_api).collect();
    let mut headers = Vec::new();
    if let (Some(u), Some(p)) = (&env.auth_user, &env.auth_password) {
        headers.push((
            "Authorization".to_string(),
            format!("Basic {}", fetch::base64(format!("{u}:{p}").as_bytes())),
        ));
    }
    if let Some((k, v)) = env.auth_header.as_deref().and_then(|h| h.split_once(':')) {
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let make = |base: String| Api {
        base,
        headers: headers.clone(),
        retries: env.retries.unwrap_or(8),
    };
    match urls.as_slice() {
        [] => Err(Failure("ORCHESTRATOR_API is empty".into())),
        [one] => Ok(make(one.clone())),
        many => {
            for check in ["leader-check", "routed-leader-check"] {
                for base in many {
                    let url = format!("{base}/{check}");
                    if let Ok(r) = fetch::get(&url, &headers, Duration::from_secs(1)).await
                        && r.status == 200
                    {
                        return Ok(make(base.clone()));
                    }
                }
            }
            Err(Failure(format!(
                "Cannot determine leader from {}",
                many.join(" ")
            )))
        }
    }
}

/// Runs orchestrator-client with `argv` (without the program name); returns the exit status.
pub async fn run(argv: &[String], env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match commands::execute(argv, env, out).await {
        Ok(()) => 0,
        Err(Failure(message)) => {
            let _ = writeln!(err, "{message}");
            1
        }
    }
}

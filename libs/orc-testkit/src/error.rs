use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong while running sandboxes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required program is not installed.
    #[error("{program} not found (looked in: {looked_in}); install it or set {env}")]
    MissingBinary {
        /// Program name.
        program: &'static str,
        /// Where we looked.
        looked_in: String,
        /// Environment variable that overrides the path.
        env: &'static str,
    },
    /// A filesystem or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A server did not come up.
    #[error("{name} did not start: {reason}\n--- last lines of {log} ---\n{log_tail}")]
    Startup {
        /// Instance name.
        name: String,
        /// Why we gave up.
        reason: String,
        /// Its error log.
        log: PathBuf,
        /// The end of that log.
        log_tail: String,
    },
    /// A SQL call failed.
    #[error("{name}: {source}")]
    Sql {
        /// Instance name.
        name: String,
        /// The driver error.
        source: orc_mysql::Error,
    },
    /// Something did not happen in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What we waited for.
        what: String,
        /// How long.
        after: Duration,
    },
    /// A name that the sandbox does not have, or a bad topology spec.
    #[error("{0}")]
    Spec(String),
    /// Sandbox state file unreadable.
    #[error("sandbox state {path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Wraps an IO error with context.
pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

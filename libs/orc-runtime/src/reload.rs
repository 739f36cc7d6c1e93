//! Reloading the configuration (SIGHUP, `/api/reload-configuration`).
//!
//! The files and environment are read again and validated as at start-up;
//! a configuration that does not load changes nothing. Keys in
//! [`RELOADABLE_KEYS`] take effect at once (each part of the process that
//! uses them subscribes with [`Reloader::on_reload`]); any other key whose
//! value changed is named in the report as needing a restart, never
//! silently ignored.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::{Config, Error, LoadReport};

/// Keys a reload puts in force without a restart: who may call the APIs
/// and the APIs' certificates (rotation).
pub const RELOADABLE_KEYS: &[&str] = &[
    "ReadOnly",
    "AuthenticationMethod",
    "HTTPAuthUser",
    "HTTPAuthPassword",
    "AuthUserHeader",
    "PowerAuthUsers",
    "PowerAuthGroups",
    "SSLCertFile",
    "SSLPrivateKeyFile",
    "SSLCAFile",
    "SSLValidOUs",
];

/// Where the configuration comes from: files (in order) and the environment.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// Files read, later ones overriding earlier ones.
    pub files: Vec<PathBuf>,
    /// `ORC__<Key>` variables (and anything else; only those are read).
    pub env: Vec<(String, String)>,
}

impl ConfigSource {
    /// Loads and validates.
    pub fn load(&self) -> Result<(Config, LoadReport), Error> {
        let files: Vec<&std::path::Path> = self.files.iter().map(PathBuf::as_path).collect();
        Config::load_files(&files, &self.env)
    }
}

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Keys whose value changed and that are now in force.
    pub applied: Vec<String>,
    /// Keys whose value changed but that take effect only after a restart.
    pub needs_restart: Vec<String>,
}

impl std::fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.applied.is_empty(), self.needs_restart.is_empty()) {
            (true, true) => write!(f, "no change"),
            _ => {
                write!(f, "applied: [{}]", self.applied.join(", "))?;
                if !self.needs_restart.is_empty() {
                    write!(
                        f,
                        "; changed but in force only after a restart: [{}]",
                        self.needs_restart.join(", ")
                    )?;
                }
                Ok(())
            }
        }
    }
}

type Subscriber = Box<dyn Fn(&Config) + Send + Sync>;

/// Reloads on request and tells subscribers.
pub struct Reloader {
    source: ConfigSource,
    current: Mutex<Config>,
    subscribers: Mutex<Vec<Subscriber>>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("source", &self.source.files)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader for a configuration loaded from `source`.
    pub fn new(source: ConfigSource, current: Config) -> Arc<Self> {
        Arc::new(Self {
            source,
            current: Mutex::new(current),
            subscribers: Mutex::new(Vec::new()),
        })
    }

    /// Calls `f` with every configuration a reload puts in force.
    pub fn on_reload(&self, f: impl Fn(&Config) + Send + Sync + 'static) {
        if let Ok(mut s) = self.subscribers.lock() {
            s.push(Box::new(f));
        }
    }

    /// Reads the configuration again; on success puts the reloadable keys
    /// in force and reports what changed.
    pub fn reload(&self) -> Result<ReloadReport, Error> {
        let (config, load_report) = self.source.load()?;
        for w in load_report.warnings() {
            tracing::warn!("{w}");
        }
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let changed = changed_keys(&current, &config);
        let (applied, needs_restart): (Vec<String>, Vec<String>) = changed
            .into_iter()
            .partition(|k| RELOADABLE_KEYS.contains(&k.as_str()));
        if let Ok(subscribers) = self.subscribers.lock() {
            for s in subscribers.iter() {
                s(&config);
            }
        }
        *current = config;
        let report = ReloadReport {
            applied,
            needs_restart,
        };
        tracing::info!(%report, "configuration reloaded");
        if !report.needs_restart.is_empty() {
            tracing::warn!(
                keys = ?report.needs_restart,
                "configuration keys changed that take effect only after a restart"
            );
        }
        Ok(report)
    }
}

/// Keys whose values differ (names only: values may be secrets).
pub fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_reload_applies_what_it_can_and_names_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orchestrator.conf.json");
        std::fs::write(&path, r#"{"InstancePollSeconds":5}"#).unwrap();
        let source = ConfigSource {
            files: vec![path.clone()],
            env: Vec::new(),
        };
        let (config, _) = source.load().unwrap();
        let reloader = Reloader::new(source, config);
        let read_only = Arc::new(AtomicBool::new(false));
        let seen = read_only.clone();
        reloader.on_reload(move |c| seen.store(c.read_only, Ordering::SeqCst));

        std::fs::write(
            &path,
            r#"{"InstancePollSeconds":1,"ReadOnly":true,"HTTPAuthPassword":"x"}"#,
        )
        .unwrap();
        let report = reloader.reload().unwrap();
        assert!(read_only.load(Ordering::SeqCst));
        assert_eq!(report.applied, vec!["ReadOnly", "HTTPAuthPassword"]);
        assert_eq!(report.needs_restart, vec!["InstancePollSeconds"]);
        assert!(!report.to_string().contains('x'), "no values: {report}");

        // A broken file changes nothing.
        std::fs::write(&path, r#"{"ReadOnly":false,"InstancePollSeconds":0}"#).unwrap();
        assert!(reloader.reload().is_err());
        assert!(read_only.load(Ordering::SeqCst));
        std::fs::write(
            &path,
            r#"{"InstancePollSeconds":1,"ReadOnly":true,"HTTPAuthPassword":"x"}"#,
        )
        .unwrap();
        assert_eq!(reloader.reload().unwrap(), ReloadReport::default());
    }
}

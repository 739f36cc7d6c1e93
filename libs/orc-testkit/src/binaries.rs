//! Finding the server programs on this machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::Error;

fn on_path(program: &str) -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(program)).collect())
        .unwrap_or_default()
}

fn first_existing(
    program: &'static str,
    env: &'static str,
    extra: &[&str],
) -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let mut candidates = on_path(program);
    candidates.extend(extra.iter().map(PathBuf::from));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| Error::MissingBinary {
            program,
            looked_in: describe(&candidates),
            env,
        })
}

fn describe(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `mariadbd` (env `ORC_MARIADBD`).
pub fn mariadbd() -> Result<PathBuf, Error> {
    first_existing(
        "mariadbd",
        "ORC_MARIADBD",
        &["/usr/sbin/mariadbd", "/usr/bin/mariadbd"],
    )
}

/// `mariadb-install-db` (env `ORC_MARIADB_INSTALL_DB`).
pub fn mariadb_install_db() -> Result<PathBuf, Error> {
    first_existing(
        "mariadb-install-db",
        "ORC_MARIADB_INSTALL_DB",
        &[
            "/usr/bin/mariadb-install-db",
            "/usr/sbin/mariadb-install-db",
        ],
    )
}

/// The newest `nats-server` found (env `ORC_NATS_SERVER` wins): tests prefer
/// 2.10+ (per-key TTLs, KV creation through the API) but work with 2.9.
pub fn nats_server() -> Result<PathBuf, Error> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        if let Some(p) = std::env::var_os("ORC_NATS_SERVER") {
            return Ok(PathBuf::from(p));
        }
        let mut candidates = on_path("nats-server");
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(Path::new(&home).join(".local/bin/nats-server"));
        }
        candidates.push(PathBuf::from("/usr/local/bin/nats-server"));
        candidates.push(PathBuf::from("/usr/sbin/nats-server"));
        candidates.push(PathBuf::from("/usr/bin/nats-server"));
        candidates
            .iter()
            .filter(|p| p.is_file())
            .filter_map(|p| version_of(p).map(|v| (v, p.clone())))
            .max()
            .map(|(_, p)| p)
            .ok_or_else(|| describe(&candidates))
    });
    found.clone().map_err(|looked_in| Error::MissingBinary {
        program: "nats-server",
        looked_in,
        env: "ORC_NATS_SERVER",
    })
}

/// `(major, minor, patch)` printed by `<binary> --version`.
pub fn version_of(binary: &Path) -> Option<(u32, u32, u32)> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().find_map(|w| {
        let w = w.trim_start_matches('v');
        let mut it = w.split(['.', '-']).map(|p| p.parse::<u32>());
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(a)), Some(Ok(b)), Some(Ok(c))) => Some((a, b, c)),
            _ => None,
        }
    })
}

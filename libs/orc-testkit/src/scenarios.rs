//! Data-driven scenario tests: every `*.json` file of a directory runs
//! through one checking function, and every failure is reported together
//! (one broken scenario does not hide the others).

use std::path::{Path, PathBuf};

/// The scenario files of `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Runs `check` on every scenario file of `dir` (a check fails by
/// panicking) and returns how many ran, or every failure's message.
pub fn run_all(dir: &Path, check: impl Fn(&Path)) -> Result<usize, String> {
    let files = files(dir);
    if files.is_empty() {
        return Err(format!("no scenario files in {}", dir.display()));
    }
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(f)))
                .err()
                .map(|e| {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
                        .unwrap_or_default();
                    format!("{}: {msg}", f.display())
                })
        })
        .collect();
    if failures.is_empty() {
        Ok(files.len())
    } else {
        Err(format!(
            "{} of {} scenarios failed:\n{}",
            failures.len(),
            files.len(),
            failures.join("\n")
        ))
    }
}

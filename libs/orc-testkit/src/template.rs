//! A MariaDB data directory initialised once per machine and copied per instance.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::binaries;
use crate::error::{Error, io};

/// The topology user every sandbox server knows (password
/// `orc_topology_password`).
pub(crate) const TOPOLOGY_USER: &str = "orchestrator";

/// SQL run once while initialising the template: an administrative user that
/// TCP logins match under skip-name-resolve, and a replication user.
const USERS_SQL: &str = "\
FLUSH PRIVILEGES;
CREATE USER 'root'@'%' IDENTIFIED BY '';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE USER 'repl'@'%' IDENTIFIED BY 'repl';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';
CREATE USER 'orchestrator'@'%' IDENTIFIED BY 'orc_topology_password';
GRANT SUPER, PROCESS, REPLICATION SLAVE, REPLICATION CLIENT, RELOAD, BINLOG MONITOR, REPLICA MONITOR, REPLICATION MASTER ADMIN, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN ON *.* TO 'orchestrator'@'%';
GRANT SELECT ON mysql.* TO 'orchestrator'@'%';
CREATE DATABASE IF NOT EXISTS test;
CREATE DATABASE IF NOT EXISTS meta;
GRANT SELECT ON meta.* TO 'orchestrator'@'%';
";

/// Returns the template's `data` directory, creating it on first use.
///
/// Concurrent test processes share one template: creation happens under an
/// exclusive file lock into a scratch directory that is renamed into place.
pub fn template_datadir(root: &Path) -> Result<PathBuf, Error> {
    let mariadbd = binaries::mariadbd()?;
    let version = binaries::version_of(&mariadbd)
        .map(|(a, b, c)| format!("{a}.{b}.{c}"))
        .unwrap_or_else(|| "unknown".into());
    let dir = root.join(format!("orc-template-{version}-v2"));
    let data = dir.join("data");
    let ready = dir.join("ready");
    if ready.exists() {
        return Ok(data);
    }
    fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let lock = File::create(dir.join("lock")).map_err(io("creating template lock"))?;
    lock.lock().map_err(io("locking template"))?;
    if ready.exists() {
        return Ok(data);
    }
    let scratch = dir.join(format!("scratch-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).map_err(io("creating template scratch dir"))?;
    let users = scratch.join("users.sql");
    fs::write(&users, USERS_SQL).map_err(io("writing users.sql"))?;
    let scratch_data = scratch.join("data");
    let out = Command::new(binaries::mariadb_install_db()?)
        .arg("--no-defaults")
        .arg("--user=root")
        .arg(format!("--datadir={}", scratch_data.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg("--skip-name-resolve")
        .arg(format!("--extra-file={}", users.display()))
        .arg("--innodb-log-file-size=8M")
        .arg("--innodb-buffer-pool-size=8M")
        .stdin(Stdio::null())
        .output()
        .map_err(io("running mariadb-install-db"))?;
    if !out.status.success() {
        return Err(Error::Startup {
            name: "template".into(),
            reason: format!("mariadb-install-db exited with {}", out.status),
            log: scratch.clone(),
            log_tail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let _ = fs::remove_dir_all(&data);
    fs::rename(&scratch_data, &data).map_err(io("moving template into place"))?;
    let _ = fs::remove_dir_all(&scratch);
    File::create(&ready).map_err(io("marking template ready"))?;
    Ok(data)
}

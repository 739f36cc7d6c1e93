//! Schema migrations, applied in order at start-up; each version once.
//!
//! Each step has an SQLite and a MySQL spelling. Add steps at the end; never
//! edit a released one.

use crate::{Error, Pool, Store};

/// One schema step.
pub struct Migration {
    /// Monotonic version.
    pub version: i64,
    /// What it does.
    pub description: &'static str,
    /// SQLite statements.
    pub sqlite: &'static [&'static str],
    /// MySQL statements.
    pub mysql: &'static [&'static str],
}

/// Every step, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "instance states",
        sqlite: &[
            "CREATE TABLE database_instance (
            hostname TEXT NOT NULL,
            port INTEGER NOT NULL,
            cluster_name TEXT NOT NULL DEFAULT '',
            master_host TEXT NOT NULL DEFAULT '',
            master_port INTEGER NOT NULL DEFAULT 0,
            last_checked_ms INTEGER NULL,
            last_seen_ms INTEGER NULL,
            state_json TEXT NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            PRIMARY KEY (hostname, port))",
            "CREATE INDEX database_instance_cluster_idx ON database_instance (cluster_name)",
        ],
        mysql: &["CREATE TABLE database_instance (
            hostname VARCHAR(255) NOT NULL,
            port INT NOT NULL,
            cluster_name VARCHAR(300) NOT NULL DEFAULT '',
            master_host VARCHAR(255) NOT NULL DEFAULT '',
            master_port INT NOT NULL DEFAULT 0,
            last_checked_ms BIGINT NULL,
            last_seen_ms BIGINT NULL,
            state_json MEDIUMTEXT NOT NULL,
            updated_at_ms BIGINT NOT NULL,
            PRIMARY KEY (hostname, port),
            KEY database_instance_cluster_idx (cluster_name)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"],
    },
    Migration {
        version: 2,
        description: "recoveries, detections, operator metadata",
        sqlite: &[
            "CREATE TABLE topology_recovery (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                uid TEXT NOT NULL UNIQUE,
                cluster_name TEXT NOT NULL,
                hostname TEXT NOT NULL,
                port INTEGER NOT NULL,
                start_ms INTEGER NOT NULL,
                block_until_ms INTEGER NOT NULL,
                acknowledged INTEGER NOT NULL DEFAULT 0,
                record_json TEXT NOT NULL)",
            "CREATE INDEX topology_recovery_cluster_idx ON topology_recovery (cluster_name, start_ms)",
            "CREATE TABLE topology_recovery_steps (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                recovery_uid TEXT NOT NULL,
                at_ms INTEGER NOT NULL,
                fencing_token INTEGER NOT NULL,
                message TEXT NOT NULL)",
            "CREATE INDEX topology_recovery_steps_uid_idx ON topology_recovery_steps (recovery_uid)",
            "CREATE TABLE topology_failure_detection (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                detection_id TEXT NOT NULL UNIQUE,
                cluster_name TEXT NOT NULL,
                detected_at_ms INTEGER NOT NULL,
                record_json TEXT NOT NULL)",
            "CREATE TABLE blocked_topology_recovery (
                hostname TEXT NOT NULL,
                port INTEGER NOT NULL,
                cluster_name TEXT NOT NULL,
                blocked_at_ms INTEGER NOT NULL,
                record_json TEXT NOT NULL,
                PRIMARY KEY (hostname, port))",
            "CREATE TABLE global_recovery_disable (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                disabled_at_ms INTEGER NOT NULL)",
            "CREATE TABLE instance_metadata (
                hostname TEXT NOT NULL,
                port INTEGER NOT NULL,
                metadata_json TEXT NOT NULL,
                updated_at_ms INTEGER NOT NULL,
                PRIMARY KEY (hostname, port))",
        ],
        mysql: &[
            "CREATE TABLE topology_recovery (
                id BIGINT AUTO_INCREMENT PRIMARY KEY,
                uid VARCHAR(128) NOT NULL UNIQUE,
                cluster_name VARCHAR(300) NOT NULL,
                hostname VARCHAR(255) NOT NULL,
                port INT NOT NULL,
                start_ms BIGINT NOT NULL,
                block_until_ms BIGINT NOT NULL,
                acknowledged TINYINT NOT NULL DEFAULT 0,
                record_json MEDIUMTEXT NOT NULL,
                KEY topology_recovery_cluster_idx (cluster_name, start_ms)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "CREATE TABLE topology_recovery_steps (
                id BIGINT AUTO_INCREMENT PRIMARY KEY,
                recovery_uid VARCHAR(128) NOT NULL,
                at_ms BIGINT NOT NULL,
                fencing_token BIGINT NOT NULL,
                message TEXT NOT NULL,
                KEY topology_recovery_steps_uid_idx (recovery_uid)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "CREATE TABLE topology_failure_detection (
                id BIGINT AUTO_INCREMENT PRIMARY KEY,
                detection_id VARCHAR(128) NOT NULL UNIQUE,
                cluster_name VARCHAR(300) NOT NULL,
                detected_at_ms BIGINT NOT NULL,
                record_json MEDIUMTEXT NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "CREATE TABLE blocked_topology_recovery (
                hostname VARCHAR(255) NOT NULL,
                port INT NOT NULL,
                cluster_name VARCHAR(300) NOT NULL,
                blocked_at_ms BIGINT NOT NULL,
                record_json MEDIUMTEXT NOT NULL,
                PRIMARY KEY (hostname, port)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "CREATE TABLE global_recovery_disable (
                singleton INT PRIMARY KEY,
                disabled_at_ms BIGINT NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "CREATE TABLE instance_metadata (
                hostname VARCHAR(255) NOT NULL,
                port INT NOT NULL,
                metadata_json MEDIUMTEXT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                PRIMARY KEY (hostname, port)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        ],
    },
    Migration {
        version: 3,
        description: "audit of operations",
        sqlite: &[
            "CREATE TABLE audit (
                audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
                audit_timestamp_ms INTEGER NOT NULL,
                audit_type TEXT NOT NULL,
                hostname TEXT NOT NULL DEFAULT '',
                port INTEGER NOT NULL DEFAULT 0,
                cluster_name TEXT NOT NULL DEFAULT '',
                message TEXT NOT NULL)",
            "CREATE INDEX audit_instance_idx ON audit (hostname, port, audit_timestamp_ms)",
        ],
        mysql: &["CREATE TABLE audit (
                audit_id BIGINT AUTO_INCREMENT PRIMARY KEY,
                audit_timestamp_ms BIGINT NOT NULL,
                audit_type VARCHAR(128) NOT NULL,
                hostname VARCHAR(255) NOT NULL DEFAULT '',
                port INT NOT NULL DEFAULT 0,
                cluster_name VARCHAR(300) NOT NULL DEFAULT '',
                message TEXT NOT NULL,
                KEY audit_instance_idx (hostname, port, audit_timestamp_ms)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"],
    },
    Migration {
        version: 4,
        description: "cluster alias overrides, instance pools, topology snapshots",
        sqlite: &[
            "CREATE TABLE cluster_alias_override (
                cluster_name TEXT NOT NULL PRIMARY KEY,
                alias TEXT NOT NULL,
                updated_at_ms INTEGER NOT NULL)",
            "CREATE TABLE database_instance_pool (
                hostname TEXT NOT NULL,
                port INTEGER NOT NULL,
                pool TEXT NOT NULL,
                registered_at_ms INTEGER NOT NULL,
                PRIMARY KEY (hostname, port, pool))",
            "CREATE INDEX database_instance_pool_idx ON database_instance_pool (pool)",
            "CREATE TABLE database_instance_topology_history (
                snapshot_ms INTEGER NOT NULL,
                hostname TEXT NOT NULL,
                port INTEGER NOT NULL,
                master_host TEXT NOT NULL,
                master_port INTEGER NOT NULL,
                cluster_name TEXT NOT NULL,
                version TEXT NOT NULL,
                binary_log_file TEXT NOT NULL,
                binary_log_pos INTEGER NOT NULL,
                PRIMARY KEY (snapshot_ms, hostname, port))",
        ],
        mysql: &[
            "CREATE TABLE cluster_alias_override (
                cluster_name VARCHAR(300) NOT NULL PRIMARY KEY,
                alias VARCHAR(300) NOT NULL,
                updated_at_ms BIGINT NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "CREATE TABLE database_instance_pool (
                hostname VARCHAR(255) NOT NULL,
                port INT NOT NULL,
                pool VARCHAR(128) NOT NULL,
                registered_at_ms BIGINT NOT NULL,
                PRIMARY KEY (hostname, port, pool),
                KEY database_instance_pool_idx (pool)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "CREATE TABLE database_instance_topology_history (
                snapshot_ms BIGINT NOT NULL,
                hostname VARCHAR(255) NOT NULL,
                port INT NOT NULL,
                master_host VARCHAR(255) NOT NULL,
                master_port INT NOT NULL,
                cluster_name VARCHAR(300) NOT NULL,
                version VARCHAR(128) NOT NULL,
                binary_log_file VARCHAR(128) NOT NULL,
                binary_log_pos BIGINT NOT NULL,
                PRIMARY KEY (snapshot_ms, hostname, port)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        ],
    },
    Migration {
        version: 5,
        description: "instance write sequence, so readers fetch only what changed",
        sqlite: &[
            "ALTER TABLE database_instance ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX database_instance_seq_idx ON database_instance (seq)",
            "CREATE TABLE orc_counter (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL)",
            "INSERT INTO orc_counter (name, value) VALUES ('instance_seq', 0), ('instance_deletes', 0)",
        ],
        mysql: &[
            "ALTER TABLE database_instance ADD COLUMN seq BIGINT NOT NULL DEFAULT 0, \
             ADD KEY database_instance_seq_idx (seq)",
            "CREATE TABLE orc_counter (
                name VARCHAR(64) NOT NULL PRIMARY KEY,
                value BIGINT NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "INSERT INTO orc_counter (name, value) VALUES ('instance_seq', 0), ('instance_deletes', 0)",
        ],
    },
];

/// Tables only orchestrator's own (Go) schema has. A database holding one
/// of them and none of ours is orchestrator's backend: we refuse it rather
/// than mix two schemas (ours would fail on `database_instance`, which both
/// have, and orchestrator's rows mean nothing to us).
const UPSTREAM_TABLES: &[&str] = &[
    "orchestrator_db_deployments",
    "orchestrator_metadata",
    "node_health",
    "active_node",
    "database_instance_maintenance",
];

/// The message for a database that holds orchestrator's schema.
pub fn upstream_schema_message(table: &str) -> String {
    format!(
        "this database holds orchestrator's own schema (table {table}); orchestrator-rs keeps \
         its own tables and does not share a database with orchestrator: point BackendDB / \
         MySQLOrchestratorDatabase / SQLite3DataFile at a new, empty database. Nothing needs \
         migrating: topologies are rediscovered within a poll, and downtimes, candidates and \
         aliases are set again through the same API calls"
    )
}

const CREATE_VERSIONS_SQLITE: &str = "CREATE TABLE IF NOT EXISTS orc_schema_version (
    version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)";
const CREATE_VERSIONS_MYSQL: &str = "CREATE TABLE IF NOT EXISTS orc_schema_version (
    version BIGINT PRIMARY KEY, description VARCHAR(255) NOT NULL, applied_at_ms BIGINT NOT NULL)";

/// The highest applied version.
pub async fn current_version(store: &Store) -> Result<i64, Error> {
    let v: Option<i64> = crate::on_pool!(store, pool => store
        .bounded("reading schema version", sqlx::query_scalar("SELECT MAX(version) FROM orc_schema_version").fetch_one(pool))
        .await?);
    Ok(v.unwrap_or(0))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Records one applied step on the migrating connection.
macro_rules! record {
    ($conn:expr, $m:expr) => {{
        sqlx::query(
            "INSERT INTO orc_schema_version (version, description, applied_at_ms) VALUES (?, ?, ?)",
        )
        .bind($m.version)
        .bind($m.description)
        .bind(now_ms())
        .execute($conn)
        .await?;
        tracing::info!(
            version = $m.version,
            description = $m.description,
            "applied schema migration"
        );
    }};
}

/// Applies every missing step. Processes sharing a backend may start
/// together, so the steps run under a lock: SQLite's write lock
/// (`BEGIN IMMEDIATE`, DDL is transactional there) or MySQL's
/// `GET_LOCK` (MySQL commits DDL implicitly, so each step is recorded right
/// after it runs).
pub async fn apply(store: &Store) -> Result<(), Error> {
    match &store.pool {
        Pool::Sqlite(pool) => {
            let work = async {
                let mut conn = pool.acquire().await?;
                sqlx::query(CREATE_VERSIONS_SQLITE)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                let result = async {
                    let current: Option<i64> =
                        sqlx::query_scalar("SELECT MAX(version) FROM orc_schema_version")
                            .fetch_one(&mut *conn)
                            .await?;
                    if current.is_none() {
                        for table in UPSTREAM_TABLES {
                            let found: Option<String> = sqlx::query_scalar(
                                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
                            )
                            .bind(*table)
                            .fetch_optional(&mut *conn)
                            .await?;
                            if found.is_some() {
                                return Err(sqlx::Error::Protocol(upstream_schema_message(table)));
                            }
                        }
                    }
                    for m in MIGRATIONS
                        .iter()
                        .filter(|m| m.version > current.unwrap_or(0))
                    {
                        for sql in m.sqlite {
                            sqlx::query(*sql).execute(&mut *conn).await?;
                        }
                        record!(&mut *conn, m);
                    }
                    Ok::<_, sqlx::Error>(())
                }
                .await;
                let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
                sqlx::query(end).execute(&mut *conn).await?;
                result
            };
            store.bounded("migrating schema", work).await
        }
        Pool::Mysql(pool) => {
            let work = async {
                let mut conn = pool.acquire().await?;
                sqlx::query(CREATE_VERSIONS_MYSQL)
                    .execute(&mut *conn)
                    .await?;
                let got: Option<i64> =
                    sqlx::query_scalar("SELECT GET_LOCK('orchestrator_rs_migrations', 60)")
                        .fetch_one(&mut *conn)
                        .await?;
                if got != Some(1) {
                    return Err(sqlx::Error::Protocol(
                        "could not take the migration lock".into(),
                    ));
                }
                let result = async {
                    let current: Option<i64> =
                        sqlx::query_scalar("SELECT MAX(version) FROM orc_schema_version")
                            .fetch_one(&mut *conn)
                            .await?;
                    if current.is_none() {
                        for table in UPSTREAM_TABLES {
                            let found: Option<String> = sqlx::query_scalar(
                                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                                 WHERE table_schema = DATABASE() AND table_name = ?",
                            )
                            .bind(*table)
                            .fetch_optional(&mut *conn)
                            .await?;
                            if found.is_some() {
                                return Err(sqlx::Error::Protocol(upstream_schema_message(table)));
                            }
                        }
                    }
                    for m in MIGRATIONS
                        .iter()
                        .filter(|m| m.version > current.unwrap_or(0))
                    {
                        for sql in m.mysql {
                            sqlx::query(*sql).execute(&mut *conn).await?;
                        }
                        record!(&mut *conn, m);
                    }
                    Ok::<_, sqlx::Error>(())
                }
                .await;
                sqlx::query("SELECT RELEASE_LOCK('orchestrator_rs_migrations')")
                    .execute(&mut *conn)
                    .await?;
                result
            };
            store.bounded("migrating schema", work).await
        }
    }
}

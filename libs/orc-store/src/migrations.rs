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
pub const MIGRATIONS: &[Migration] = &[Migration {
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
}];

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

/// Applies every missing step, each in its own transaction where the
/// backend allows (MySQL commits DDL implicitly).
pub async fn apply(store: &Store) -> Result<(), Error> {
    match &store.pool {
        Pool::Sqlite(p) => {
            let q = sqlx::query(CREATE_VERSIONS_SQLITE).execute(p);
            store
                .bounded("creating version table", async { q.await.map(|_| ()) })
                .await?
        }
        Pool::Mysql(p) => {
            let q = sqlx::query(CREATE_VERSIONS_MYSQL).execute(p);
            store
                .bounded("creating version table", async { q.await.map(|_| ()) })
                .await?
        }
    };
    let current = current_version(store).await?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let statements = match store.pool {
            Pool::Sqlite(_) => m.sqlite,
            Pool::Mysql(_) => m.mysql,
        };
        for sql in statements {
            crate::on_pool!(store, pool => store
                .bounded(&format!("migration {}", m.version), async {
                    sqlx::query(*sql).execute(pool).await.map(|_| ())
                })
                .await?);
        }
        crate::on_pool!(store, pool => store
            .bounded(
                "recording migration",
                sqlx::query("INSERT INTO orc_schema_version (version, description, applied_at_ms) VALUES (?, ?, ?)")
                    .bind(m.version)
                    .bind(m.description)
                    .bind(now_ms)
                    .execute(pool),
            )
            .await
            .map(|_| ())?);
        tracing::info!(
            version = m.version,
            description = m.description,
            "applied schema migration"
        );
    }
    Ok(())
}

//! Persistence of orchestrator-rs; the only crate that names `sqlx`.
//!
//! [`Store`] opens the embedded SQLite file (the default) or a shared MySQL
//! backend, applies the schema migrations ([`migrations`]), and hands out one
//! repository per aggregate ([`Store::instances`], ...). Every call is
//! bounded by the configured timeout. Instance state is kept as JSON beside
//! indexed columns (`hostname`, `port`, `cluster_name`, check times), so the
//! schema does not have to follow every field the probe learns.
//! The MySQL backend is reached over TLS when the configuration asks
//! (`MySQLOrchestratorUseMutualTLS`: the server verified against
//! `MySQLOrchestratorSSLCAFile`, a client certificate presented), and
//! plainly otherwise; a connection refused for want of TLS, or a failed
//! handshake, is reported with the keys to change.

mod audit;
mod clusters;
mod instances;
mod metadata;
pub mod migrations;
mod recoveries;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use orc_runtime::tls::ClientTls;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use audit::{AuditEntry, AuditRepo};
pub use clusters::{ClusterRepo, PoolMember, SnapshotRow};
pub use instances::{Changes, Generation, InstanceRepo, KEYS_PER_READ, StoredInstance};
pub use metadata::MetadataRepo;
pub use recoveries::{AckScope, RecoveryRepo};

/// Where the store lives.
#[derive(Clone)]
pub enum BackendConfig {
    /// An SQLite file (created when missing).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A MySQL-protocol server shared by every process.
    Mysql {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Database (created when missing and permitted).
        database: String,
        /// User.
        user: String,
        /// Password (never logged).
        password: String,
        /// TLS (`MySQLOrchestratorUseMutualTLS`); `None`: plain.
        tls: Option<Box<ClientTls>>,
    },
}

impl std::fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite { path } => write!(f, "sqlite:{}", path.display()),
            Self::Mysql {
                host,
                port,
                database,
                user,
                tls,
                ..
            } => {
                write!(f, "mysql://{user}@{host}:{port}/{database}")?;
                if tls.is_some() {
                    write!(f, " (TLS)")?;
                }
                Ok(())
            }
        }
    }
}

/// A failed store operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The backend could not be opened or migrated.
    #[error("opening store {backend}: {reason}")]
    Open {
        /// Which backend.
        backend: String,
        /// Why.
        reason: String,
    },
    /// A statement failed.
    #[error("store: {operation}: {reason}")]
    Query {
        /// What we were doing.
        operation: String,
        /// Why.
        reason: String,
    },
    /// A statement did not finish in time.
    #[error("store: {operation}: timed out after {after:?}")]
    Timeout {
        /// What we were doing.
        operation: String,
        /// Bound.
        after: Duration,
    },
    /// A row that does not decode.
    #[error("store: instance {key}: unreadable state: {reason}")]
    Corrupt {
        /// Which instance.
        key: String,
        /// Why.
        reason: String,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Mysql(MySqlPool),
}

/// The store: a connection pool and its repositories.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
    pub(crate) timeout: Duration,
}

impl Store {
    /// Opens (creating when missing) and migrates the store.
    pub async fn open(config: &BackendConfig, timeout: Duration) -> Result<Self, Error> {
        let open_err = |reason: String| Error::Open {
            backend: format!("{config:?}"),
            reason,
        };
        let pool = match config {
            BackendConfig::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
                }
                let opts = SqliteConnectOptions::from_str("sqlite://")
                    .map_err(|e| open_err(e.to_string()))?
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(timeout);
                // Connecting sets WAL mode, which SQLite may refuse at once
                // (no busy wait) while another process does the same.
                let deadline = tokio::time::Instant::now() + timeout;
                let pool = loop {
                    let pool = SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(timeout)
                        .connect_with(opts.clone());
                    match tokio::time::timeout_at(deadline, pool).await {
                        Err(_) => {
                            return Err(open_err(format!("no connection within {timeout:?}")));
                        }
                        Ok(Ok(pool)) => break pool,
                        Ok(Err(e))
                            if e.to_string().contains("database is locked")
                                && tokio::time::Instant::now() < deadline =>
                        {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Ok(Err(e)) => return Err(open_err(e.to_string())),
                    }
                };
                Pool::Sqlite(pool)
            }
            BackendConfig::Mysql {
                host,
                port,
                database,
                user,
                password,
                tls,
            } => {
                let mut base = with_tls(
                    MySqlConnectOptions::new()
                        .host(host)
                        .port(*port)
                        .username(user),
                    tls.as_deref(),
                );
                // An empty password must be sent as none at all: a scramble of
                // "" is not what a password-less account expects.
                if !password.is_empty() {
                    base = base.password(password);
                }
                let create = async {
                    use sqlx::ConnectOptions as _;
                    let mut conn = base.connect().await?;
                    let sql = format!(
                        "CREATE DATABASE IF NOT EXISTS `{}`",
                        database.replace('`', "``")
                    );
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await?;
                    Ok::<_, sqlx::Error>(())
                };
                match tokio::time::timeout(timeout, create).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "could not create backend database; assuming it exists")
                    }
                    Err(_) => return Err(open_err(format!("no connection within {timeout:?}"))),
                }
                let pool = MySqlPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(timeout)
                    .connect_with(base.database(database));
                Pool::Mysql(
                    tokio::time::timeout(timeout, pool)
                        .await
                        .map_err(|_| open_err(format!("no connection within {timeout:?}")))?
                        .map_err(|e| open_err(explain_refusal(&e, tls.as_deref())))?,
                )
            }
        };
        let store = Self { pool, timeout };
        // Processes opening a new SQLite file together can meet SQLITE_BUSY
        // where SQLite does not wait (switching to WAL, upgrading a lock):
        // the migration lock is retried until the timeout.
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match migrations::apply(&store).await {
                Ok(()) => return Ok(store),
                Err(e)
                    if store.backend_name() == "sqlite"
                        && e.to_string().contains("database is locked")
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(open_err(e.to_string())),
            }
        }
    }

    /// Which backend this is (`sqlite` or `mysql`).
    pub fn backend_name(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Mysql(_) => "mysql",
        }
    }

    /// Instance states.
    pub fn instances(&self) -> InstanceRepo<'_> {
        InstanceRepo { store: self }
    }

    /// Recoveries, detections, blocked recoveries, the global switch.
    pub fn recoveries(&self) -> RecoveryRepo<'_> {
        RecoveryRepo { store: self }
    }

    /// Operator metadata.
    pub fn metadata(&self) -> MetadataRepo<'_> {
        MetadataRepo { store: self }
    }

    /// The general audit of operations.
    pub fn audit(&self) -> AuditRepo<'_> {
        AuditRepo { store: self }
    }

    /// Operator-given cluster facts: aliases, pools, snapshots.
    pub fn clusters(&self) -> ClusterRepo<'_> {
        ClusterRepo { store: self }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Mysql(p) => p.close().await,
        }
    }

    pub(crate) async fn bounded<T>(
        &self,
        operation: &str,
        fut: impl std::future::Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Error::Query {
                operation: operation.to_string(),
                reason: e.to_string(),
            }),
            Err(_) => Err(Error::Timeout {
                operation: operation.to_string(),
                after: self.timeout,
            }),
        }
    }
}

/// The backend's TLS as sqlx takes it. Without TLS the connection is
/// plain (no opportunistic TLS: an account that requires TLS is refused,
/// and the refusal says which keys to set).
fn with_tls(base: MySqlConnectOptions, tls: Option<&ClientTls>) -> MySqlConnectOptions {
    let Some(tls) = tls else {
        return base.ssl_mode(MySqlSslMode::Disabled);
    };
    let mut opts = base.ssl_mode(if tls.skip_verify {
        MySqlSslMode::Required
    } else {
        MySqlSslMode::VerifyIdentity
    });
    if let Some(ca) = &tls.ca_file {
        opts = opts.ssl_ca(ca);
    }
    if let Some((cert, key)) = &tls.identity {
        opts = opts.ssl_client_cert(cert).ssl_client_key(key);
    }
    opts
}

/// A failed connection's message, with what to change when TLS is why.
fn explain_refusal(e: &sqlx::Error, tls: Option<&ClientTls>) -> String {
    use orc_runtime::tls::BACKEND_KEYS as K;
    let message = e.to_string();
    if let Some(failure) = orc_runtime::tls::rustls_error_in(e) {
        return format!(
            "{message}: {}",
            orc_runtime::tls::explain_failure(failure, &K)
        );
    }
    // ER_ACCESS_DENIED_ERROR is also how a server refuses an account that
    // requires TLS (REQUIRE SSL / X509) to a client that has none.
    let denied = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .is_some_and(|d| d.number() == 1045);
    match tls {
        _ if !denied => message,
        None => format!(
            "{message}: the connection was not encrypted: if the account requires TLS \
             (REQUIRE SSL or X509), set {} with {} (and {}, {} for X509)",
            K.enable, K.ca, K.cert, K.key
        ),
        Some(t) if t.identity.is_none() => format!(
            "{message}: no client certificate was presented: if the account requires one \
             (REQUIRE X509), set {} and {}",
            K.cert, K.key
        ),
        Some(_) => message,
    }
}

/// Runs the same query-building expression against whichever pool backs the store.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Mysql($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

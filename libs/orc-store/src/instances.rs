//! The instance repository: folded probe states by `host:port`.

use orc_model::{InstanceKey, InstanceState};

use crate::{Error, Pool, Store};

/// One instance as stored: its state and the cluster it was last placed in.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInstance {
    /// Folded probe state.
    pub state: InstanceState,
    /// Cluster name at the time of writing.
    pub cluster_name: String,
}

/// Instance states.
#[derive(Debug)]
pub struct InstanceRepo<'a> {
    pub(crate) store: &'a Store,
}

const UPSERT_SQLITE: &str = "INSERT INTO database_instance
    (hostname, port, cluster_name, master_host, master_port, last_checked_ms, last_seen_ms, state_json, updated_at_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (hostname, port) DO UPDATE SET
    cluster_name = excluded.cluster_name, master_host = excluded.master_host,
    master_port = excluded.master_port, last_checked_ms = excluded.last_checked_ms,
    last_seen_ms = excluded.last_seen_ms, state_json = excluded.state_json,
    updated_at_ms = excluded.updated_at_ms";

const UPSERT_MYSQL: &str = "INSERT INTO database_instance
    (hostname, port, cluster_name, master_host, master_port, last_checked_ms, last_seen_ms, state_json, updated_at_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON DUPLICATE KEY UPDATE
    cluster_name = VALUES(cluster_name), master_host = VALUES(master_host),
    master_port = VALUES(master_port), last_checked_ms = VALUES(last_checked_ms),
    last_seen_ms = VALUES(last_seen_ms), state_json = VALUES(state_json),
    updated_at_ms = VALUES(updated_at_ms)";

const SELECT_ALL: &str = "SELECT hostname, port, cluster_name, state_json FROM database_instance";
const SELECT_ONE: &str = "SELECT hostname, port, cluster_name, state_json FROM database_instance WHERE hostname = ? AND port = ?";
const DELETE_ONE: &str = "DELETE FROM database_instance WHERE hostname = ? AND port = ?";

type RowTuple = (String, i64, String, String);

fn decode(row: RowTuple) -> Result<StoredInstance, Error> {
    let (host, port, cluster_name, json) = row;
    let state: InstanceState = serde_json::from_str(&json).map_err(|e| Error::Corrupt {
        key: format!("{host}:{port}"),
        reason: e.to_string(),
    })?;
    Ok(StoredInstance {
        state,
        cluster_name,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl InstanceRepo<'_> {
    /// Inserts or replaces instances, all in one transaction.
    pub async fn upsert(&self, items: &[StoredInstance]) -> Result<(), Error> {
        if items.is_empty() {
            return Ok(());
        }
        let store = self.store;
        let sql = match store.pool {
            Pool::Sqlite(_) => UPSERT_SQLITE,
            Pool::Mysql(_) => UPSERT_MYSQL,
        };
        let updated = now_ms();
        let mut rows = Vec::with_capacity(items.len());
        for item in items {
            let json = serde_json::to_string(&item.state).map_err(|e| Error::Corrupt {
                key: item.state.key.to_string(),
                reason: e.to_string(),
            })?;
            let master = item.state.master_key();
            rows.push((item, json, master));
        }
        crate::on_pool!(store, pool => {
            let work = async {
                let mut tx = pool.begin().await?;
                for (item, json, master) in &rows {
                    let key = &item.state.key;
                    sqlx::query(sql)
                        .bind(key.hostname())
                        .bind(i64::from(key.port()))
                        .bind(&item.cluster_name)
                        .bind(master.as_ref().map(|m| m.hostname().to_string()).unwrap_or_default())
                        .bind(master.as_ref().map_or(0i64, |m| i64::from(m.port())))
                        .bind(item.state.last_checked.map(|t| t.as_millis()))
                        .bind(item.state.last_seen.map(|t| t.as_millis()))
                        .bind(json)
                        .bind(updated)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            };
            store.bounded("upserting instances", work).await
        })
    }

    /// One instance.
    pub async fn get(&self, key: &InstanceKey) -> Result<Option<StoredInstance>, Error> {
        let store = self.store;
        // fetch_all, never fetch_optional: a statement left on a row keeps
        // SQLite's read transaction (a stale snapshot) on its connection.
        let rows: Vec<RowTuple> = crate::on_pool!(store, pool => store
            .bounded(
                "reading instance",
                sqlx::query_as(SELECT_ONE)
                    .bind(key.hostname())
                    .bind(i64::from(key.port()))
                    .fetch_all(pool),
            )
            .await?);
        rows.into_iter().next().map(decode).transpose()
    }

    /// Every instance.
    pub async fn all(&self) -> Result<Vec<StoredInstance>, Error> {
        let store = self.store;
        let rows: Vec<RowTuple> = crate::on_pool!(store, pool => store
            .bounded("reading instances", sqlx::query_as(SELECT_ALL).fetch_all(pool))
            .await?);
        rows.into_iter().map(decode).collect()
    }

    /// Removes instances; returns how many existed.
    pub async fn delete(&self, keys: &[InstanceKey]) -> Result<u64, Error> {
        let store = self.store;
        let mut n = 0;
        for key in keys {
            let done = crate::on_pool!(store, pool => store
                .bounded(
                    "deleting instance",
                    sqlx::query(DELETE_ONE)
                        .bind(key.hostname())
                        .bind(i64::from(key.port()))
                        .execute(pool),
                )
                .await?
                .rows_affected());
            n += done;
        }
        Ok(n)
    }
}

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
    (hostname, port, cluster_name, master_host, master_port, last_checked_ms, last_seen_ms, state_json, updated_at_ms, seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (hostname, port) DO UPDATE SET
    cluster_name = excluded.cluster_name, master_host = excluded.master_host,
    master_port = excluded.master_port, last_checked_ms = excluded.last_checked_ms,
    last_seen_ms = excluded.last_seen_ms, state_json = excluded.state_json,
    updated_at_ms = excluded.updated_at_ms, seq = excluded.seq";

const UPSERT_MYSQL: &str = "INSERT INTO database_instance
    (hostname, port, cluster_name, master_host, master_port, last_checked_ms, last_seen_ms, state_json, updated_at_ms, seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON DUPLICATE KEY UPDATE
    cluster_name = VALUES(cluster_name), master_host = VALUES(master_host),
    master_port = VALUES(master_port), last_checked_ms = VALUES(last_checked_ms),
    last_seen_ms = VALUES(last_seen_ms), state_json = VALUES(state_json),
    updated_at_ms = VALUES(updated_at_ms), seq = VALUES(seq)";

const SELECT_ALL: &str =
    "SELECT hostname, port, cluster_name, state_json, seq FROM database_instance";
const SELECT_SINCE: &str =
    "SELECT hostname, port, cluster_name, state_json, seq FROM database_instance WHERE seq > ?";
const SELECT_ONE: &str = "SELECT hostname, port, cluster_name, state_json, seq FROM database_instance WHERE hostname = ? AND port = ?";
const DELETE_ONE: &str = "DELETE FROM database_instance WHERE hostname = ? AND port = ?";
const BUMP_SEQ: &str = "UPDATE orc_counter SET value = value + 1 WHERE name = 'instance_seq'";
const READ_SEQ: &str = "SELECT value FROM orc_counter WHERE name = 'instance_seq'";
const BUMP_DELETES: &str =
    "UPDATE orc_counter SET value = value + 1 WHERE name = 'instance_deletes'";
const READ_GENERATION: &str = "SELECT name, value FROM orc_counter";

type RowTuple = (String, i64, String, String, i64);

/// Keys per statement of [`InstanceRepo::get_many`] (two placeholders
/// each, well under SQLite's and MySQL's limits).
pub const KEYS_PER_READ: usize = 500;

/// Where a reader of the instance table stands: the write sequence it has
/// seen and how many deletions had happened. Every upsert transaction takes
/// the next sequence number for all its rows while holding the counter's
/// row lock, so transactions commit in sequence order and "rows with a
/// sequence above mine" is exactly what changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    seq: i64,
    deletes: i64,
}

/// What changed in the instance table since a [`Generation`].
#[derive(Debug)]
pub enum Changes {
    /// Every row: there was no generation, or rows were deleted since.
    Full(Vec<StoredInstance>),
    /// Only the rows written since (possibly none).
    Since(Vec<StoredInstance>),
}

fn decode(row: RowTuple) -> Result<StoredInstance, Error> {
    let (host, port, cluster_name, json, _seq) = row;
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
                // Taking the next sequence number locks the counter until
                // commit: writers commit in sequence order.
                sqlx::query(BUMP_SEQ).execute(&mut *tx).await?;
                let seq: i64 = sqlx::query_scalar(READ_SEQ).fetch_one(&mut *tx).await?;
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
                        .bind(seq)
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

    /// The stored ones among `keys` (a shard taken over reads only its
    /// own), in statements of at most [`KEYS_PER_READ`] keys.
    pub async fn get_many(&self, keys: &[InstanceKey]) -> Result<Vec<StoredInstance>, Error> {
        let store = self.store;
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(KEYS_PER_READ) {
            // Only placeholders are added to the constant statement; the
            // keys are bound.
            let sql = format!(
                "{SELECT_ALL} WHERE (hostname, port) IN ({})",
                vec!["(?, ?)"; chunk.len()].join(", ")
            );
            let rows: Vec<RowTuple> = crate::on_pool!(store, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for key in chunk {
                    q = q.bind(key.hostname()).bind(i64::from(key.port()));
                }
                store.bounded("reading instances", q.fetch_all(pool)).await?
            });
            for row in rows {
                out.push(decode(row)?);
            }
        }
        Ok(out)
    }

    /// Every instance.
    pub async fn all(&self) -> Result<Vec<StoredInstance>, Error> {
        let store = self.store;
        let rows: Vec<RowTuple> = crate::on_pool!(store, pool => store
            .bounded("reading instances", sqlx::query_as(SELECT_ALL).fetch_all(pool))
            .await?);
        rows.into_iter().map(decode).collect()
    }

    /// Where the instance table stands now (see [`Generation`]).
    pub async fn generation(&self) -> Result<Generation, Error> {
        let store = self.store;
        let rows: Vec<(String, i64)> = crate::on_pool!(store, pool => store
            .bounded("reading instance generation", sqlx::query_as(READ_GENERATION).fetch_all(pool))
            .await?);
        let value = |name: &str| rows.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v);
        Ok(Generation {
            seq: value("instance_seq"),
            deletes: value("instance_deletes"),
        })
    }

    /// What changed since `since` (everything when `None`), and the
    /// generation the answer brings the reader to.
    pub async fn changes(&self, since: Option<Generation>) -> Result<(Generation, Changes), Error> {
        let store = self.store;
        let now = self.generation().await?;
        let (sql, from) = match since {
            Some(g) if g.deletes == now.deletes && g.seq == now.seq => {
                return Ok((now, Changes::Since(Vec::new())));
            }
            Some(g) if g.deletes == now.deletes => (SELECT_SINCE, Some(g.seq)),
            _ => (SELECT_ALL, None),
        };
        let rows: Vec<RowTuple> = crate::on_pool!(store, pool => {
            let mut q = sqlx::query_as(sql);
            if let Some(seq) = from {
                q = q.bind(seq);
            }
            store.bounded("reading changed instances", q.fetch_all(pool)).await?
        });
        // Rows committed after the counters were read may be here too; a
        // reader that saw one has seen every earlier one.
        let seq = rows.iter().map(|r| r.4).max().unwrap_or(0).max(now.seq);
        let decoded = rows
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let reached = Generation {
            seq,
            deletes: now.deletes,
        };
        Ok(match from {
            Some(_) => (reached, Changes::Since(decoded)),
            None => (reached, Changes::Full(decoded)),
        })
    }

    /// Removes instances, in one transaction; returns how many existed.
    pub async fn delete(&self, keys: &[InstanceKey]) -> Result<u64, Error> {
        if keys.is_empty() {
            return Ok(0);
        }
        let store = self.store;
        crate::on_pool!(store, pool => {
            let work = async {
                let mut tx = pool.begin().await?;
                let mut n = 0;
                for key in keys {
                    n += sqlx::query(DELETE_ONE)
                        .bind(key.hostname())
                        .bind(i64::from(key.port()))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                if n > 0 {
                    sqlx::query(BUMP_DELETES).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(n)
            };
            store.bounded("deleting instances", work).await
        })
    }
}

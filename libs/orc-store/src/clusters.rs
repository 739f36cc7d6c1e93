//! Facts about clusters and instances that operators give: manual cluster
//! aliases (`set-cluster-alias`), instance pools (`submit-pool-instances`),
//! and topology snapshots (`snapshot-topologies`).

use std::collections::BTreeMap;

use orc_model::{InstanceKey, Timestamp};

use crate::{Error, Store};

/// Operator-given cluster facts.
#[derive(Debug, Clone, Copy)]
pub struct ClusterRepo<'a> {
    pub(crate) store: &'a Store,
}

/// One instance in a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolMember {
    /// The pool.
    pub pool: String,
    /// The instance.
    pub instance: InstanceKey,
    /// When it was last submitted.
    pub registered_at: Timestamp,
}

/// One instance as a topology snapshot recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    /// The instance.
    pub instance: InstanceKey,
    /// Its master (`None`: none).
    pub master: Option<InstanceKey>,
    /// Its cluster.
    pub cluster: String,
    /// Server version.
    pub version: String,
    /// Its binary log coordinates (file, position).
    pub binlog: (String, u64),
}

fn key(host: &str, port: i64) -> Result<InstanceKey, Error> {
    u16::try_from(port)
        .ok()
        .and_then(|p| InstanceKey::new(host, p).ok())
        .ok_or_else(|| Error::Corrupt {
            key: format!("{host}:{port}"),
            reason: "bad key".into(),
        })
}

impl ClusterRepo<'_> {
    /// Every manual alias: cluster name → alias.
    pub async fn alias_overrides(&self) -> Result<BTreeMap<String, String>, Error> {
        let store = self.store;
        let rows: Vec<(String, String)> = crate::on_pool!(store, pool => store
            .bounded(
                "reading cluster aliases",
                sqlx::query_as("SELECT cluster_name, alias FROM cluster_alias_override").fetch_all(pool),
            )
            .await?);
        Ok(rows.into_iter().collect())
    }

    /// Sets a cluster's manual alias (an empty alias removes it).
    pub async fn set_alias(&self, cluster: &str, alias: &str, now: Timestamp) -> Result<(), Error> {
        let store = self.store;
        if alias.is_empty() {
            return crate::on_pool!(store, pool => store
                .bounded("removing a cluster alias", async {
                    sqlx::query("DELETE FROM cluster_alias_override WHERE cluster_name = ?")
                        .bind(cluster)
                        .execute(pool)
                        .await
                        .map(|_| ())
                })
                .await);
        }
        crate::on_pool!(store, pool => store
            .bounded("writing a cluster alias", async {
                sqlx::query("REPLACE INTO cluster_alias_override (cluster_name, alias, updated_at_ms) VALUES (?, ?, ?)")
                    .bind(cluster)
                    .bind(alias)
                    .bind(now.as_millis())
                    .execute(pool)
                    .await
                    .map(|_| ())
            })
            .await)
    }

    /// Makes `members` the whole of `pool`, registered at `now`.
    pub async fn submit_pool(
        &self,
        pool_name: &str,
        members: &[InstanceKey],
        now: Timestamp,
    ) -> Result<(), Error> {
        let store = self.store;
        crate::on_pool!(store, pool => store
            .bounded("writing a pool", async {
                let mut tx = pool.begin().await?;
                sqlx::query("DELETE FROM database_instance_pool WHERE pool = ?")
                    .bind(pool_name)
                    .execute(&mut *tx)
                    .await?;
                for k in members {
                    sqlx::query("REPLACE INTO database_instance_pool (hostname, port, pool, registered_at_ms) VALUES (?, ?, ?, ?)")
                        .bind(k.hostname())
                        .bind(i64::from(k.port()))
                        .bind(pool_name)
                        .bind(now.as_millis())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            })
            .await)
    }

    /// Every pool member registered at or after `since`.
    pub async fn pool_members(&self, since: Timestamp) -> Result<Vec<PoolMember>, Error> {
        let store = self.store;
        let rows: Vec<(String, i64, String, i64)> = crate::on_pool!(store, pool => store
            .bounded(
                "reading pools",
                sqlx::query_as("SELECT hostname, port, pool, registered_at_ms FROM database_instance_pool WHERE registered_at_ms >= ? ORDER BY pool, hostname, port")
                    .bind(since.as_millis())
                    .fetch_all(pool),
            )
            .await?);
        rows.into_iter()
            .map(|(h, p, pool, at)| {
                Ok(PoolMember {
                    pool,
                    instance: key(&h, p)?,
                    registered_at: Timestamp::from_millis(at),
                })
            })
            .collect()
    }

    /// Records a topology snapshot taken at `at`.
    pub async fn snapshot(&self, at: Timestamp, rows: &[SnapshotRow]) -> Result<(), Error> {
        let store = self.store;
        crate::on_pool!(store, pool => store
            .bounded("writing a topology snapshot", async {
                let mut tx = pool.begin().await?;
                for r in rows {
                    let (mh, mp) = r
                        .master
                        .as_ref()
                        .map_or((String::new(), 0), |m| (m.hostname().to_string(), i64::from(m.port())));
                    sqlx::query("INSERT INTO database_instance_topology_history (snapshot_ms, hostname, port, master_host, master_port, cluster_name, version, binary_log_file, binary_log_pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
                        .bind(at.as_millis())
                        .bind(r.instance.hostname())
                        .bind(i64::from(r.instance.port()))
                        .bind(mh)
                        .bind(mp)
                        .bind(&r.cluster)
                        .bind(&r.version)
                        .bind(&r.binlog.0)
                        .bind(i64::try_from(r.binlog.1).unwrap_or(i64::MAX))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            })
            .await)
    }

    /// The rows of the snapshot taken at `at`.
    pub async fn snapshot_rows(&self, at: Timestamp) -> Result<Vec<SnapshotRow>, Error> {
        let store = self.store;
        type Row = (String, i64, String, i64, String, String, String, i64);
        let rows: Vec<Row> = crate::on_pool!(store, pool => store
            .bounded(
                "reading a topology snapshot",
                sqlx::query_as("SELECT hostname, port, master_host, master_port, cluster_name, version, binary_log_file, binary_log_pos FROM database_instance_topology_history WHERE snapshot_ms = ? ORDER BY hostname, port")
                    .bind(at.as_millis())
                    .fetch_all(pool),
            )
            .await?);
        rows.into_iter()
            .map(|(h, p, mh, mp, cluster, version, file, pos)| {
                Ok(SnapshotRow {
                    instance: key(&h, p)?,
                    master: (!mh.is_empty() && mp != 0)
                        .then(|| key(&mh, mp))
                        .transpose()?,
                    cluster,
                    version,
                    binlog: (file, u64::try_from(pos).unwrap_or(0)),
                })
            })
            .collect()
    }
}

//! Recoveries, their steps, failure detections, blocked recoveries and the
//! global recovery switch.

use orc_model::{
    BlockedRecovery, DetectionRecord, InstanceKey, RecoveryRecord, RecoveryStep, Timestamp,
};

use crate::{Error, Store};

/// Recovery audit.
#[derive(Debug)]
pub struct RecoveryRepo<'a> {
    pub(crate) store: &'a Store,
}

/// Which unacknowledged recoveries an acknowledgement covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckScope {
    /// Every recovery of a cluster.
    Cluster(String),
    /// Every recovery of a failed instance.
    Instance(InstanceKey),
    /// One recovery by row id.
    Id(i64),
    /// One recovery by uid.
    Uid(String),
    /// Everything.
    All,
}

fn json<T: serde::Serialize>(what: &str, v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::Corrupt {
        key: what.to_string(),
        reason: e.to_string(),
    })
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt {
        key: what.to_string(),
        reason: e.to_string(),
    })
}

impl RecoveryRepo<'_> {
    /// Stores a new recovery; returns it with its row id.
    pub async fn insert(&self, record: &RecoveryRecord) -> Result<RecoveryRecord, Error> {
        let store = self.store;
        let body = json(&record.uid, record)?;
        crate::on_pool!(store, pool => store
            .bounded(
                "inserting recovery",
                async {
                    sqlx::query(
                        "INSERT INTO topology_recovery (uid, cluster_name, hostname, port, start_ms, block_until_ms, acknowledged, record_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(&record.uid)
                    .bind(&record.cluster)
                    .bind(record.failed.hostname())
                    .bind(i64::from(record.failed.port()))
                    .bind(record.started_at.as_millis())
                    .bind(record.block_until.as_millis())
                    .bind(i64::from(record.acknowledged))
                    .bind(&body)
                    .execute(pool)
                    .await
                    .map(|_| ())
                },
            )
            .await?);
        let ids: Vec<i64> = crate::on_pool!(store, pool => store
            .bounded(
                "reading recovery id",
                sqlx::query_scalar("SELECT id FROM topology_recovery WHERE uid = ?").bind(&record.uid).fetch_all(pool),
            )
            .await?);
        let id = ids.into_iter().next().unwrap_or_default();
        let stored = RecoveryRecord {
            id,
            ..record.clone()
        };
        self.update(&stored).await?;
        Ok(stored)
    }

    /// Rewrites a stored recovery.
    pub async fn update(&self, record: &RecoveryRecord) -> Result<(), Error> {
        let store = self.store;
        let body = json(&record.uid, record)?;
        crate::on_pool!(store, pool => store
            .bounded(
                "updating recovery",
                async {
                    sqlx::query("UPDATE topology_recovery SET block_until_ms = ?, acknowledged = ?, record_json = ? WHERE uid = ?")
                        .bind(record.block_until.as_millis())
                        .bind(i64::from(record.acknowledged))
                        .bind(&body)
                        .bind(&record.uid)
                        .execute(pool)
                        .await
                        .map(|_| ())
                },
            )
            .await)
    }

    async fn select(
        &self,
        sql: &'static str,
        bind: Option<String>,
    ) -> Result<Vec<RecoveryRecord>, Error> {
        let store = self.store;
        let rows: Vec<(String,)> = crate::on_pool!(store, pool => {
            let mut q = sqlx::query_as(sql);
            if let Some(b) = &bind {
                q = q.bind(b.clone());
            }
            store.bounded("reading recoveries", q.fetch_all(pool)).await?
        });
        rows.iter().map(|(j,)| parse("recovery", j)).collect()
    }

    /// Recoveries, newest first (optionally of one cluster).
    pub async fn list(&self, cluster: Option<&str>) -> Result<Vec<RecoveryRecord>, Error> {
        match cluster {
            Some(c) => {
                self.select(
                    "SELECT record_json FROM topology_recovery WHERE cluster_name = ? ORDER BY id DESC",
                    Some(c.to_string()),
                )
                .await
            }
            None => self.select("SELECT record_json FROM topology_recovery ORDER BY id DESC", None).await,
        }
    }

    /// One recovery by uid.
    pub async fn get(&self, uid: &str) -> Result<Option<RecoveryRecord>, Error> {
        Ok(self
            .select(
                "SELECT record_json FROM topology_recovery WHERE uid = ?",
                Some(uid.to_string()),
            )
            .await?
            .into_iter()
            .next())
    }

    /// Recoveries still blocking automated recoveries (of a cluster, or all).
    pub async fn blocking(
        &self,
        cluster: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<RecoveryRecord>, Error> {
        Ok(self
            .select(
                "SELECT record_json FROM topology_recovery WHERE acknowledged = 0 ORDER BY id DESC",
                None,
            )
            .await?
            .into_iter()
            .filter(|r| r.blocks_at(now) && cluster.is_none_or(|c| r.cluster == c))
            .collect())
    }

    /// Acknowledges recoveries; returns those acknowledged.
    pub async fn acknowledge(
        &self,
        scope: &AckScope,
        by: &str,
        comment: &str,
        now: Timestamp,
    ) -> Result<Vec<RecoveryRecord>, Error> {
        let open = self
            .select(
                "SELECT record_json FROM topology_recovery WHERE acknowledged = 0 ORDER BY id DESC",
                None,
            )
            .await?;
        let mut done = Vec::new();
        for mut r in open.into_iter().filter(|r| match scope {
            AckScope::Cluster(c) => &r.cluster == c,
            AckScope::Instance(k) => &r.failed == k,
            AckScope::Id(id) => r.id == *id,
            AckScope::Uid(uid) => &r.uid == uid,
            AckScope::All => true,
        }) {
            r.acknowledged = true;
            r.acknowledged_at = Some(now);
            r.acknowledged_by = by.to_string();
            r.acknowledged_comment = comment.to_string();
            self.update(&r).await?;
            done.push(r);
        }
        Ok(done)
    }

    /// Records a step.
    pub async fn add_step(
        &self,
        uid: &str,
        at: Timestamp,
        token: u64,
        message: &str,
    ) -> Result<(), Error> {
        let store = self.store;
        let token = i64::try_from(token).unwrap_or(i64::MAX);
        crate::on_pool!(store, pool => store
            .bounded(
                "recording recovery step",
                async {
                    sqlx::query("INSERT INTO topology_recovery_steps (recovery_uid, at_ms, fencing_token, message) VALUES (?, ?, ?, ?)")
                        .bind(uid)
                        .bind(at.as_millis())
                        .bind(token)
                        .bind(message)
                        .execute(pool)
                        .await
                        .map(|_| ())
                },
            )
            .await)
    }

    /// The steps of a recovery, in order.
    pub async fn steps(&self, uid: &str) -> Result<Vec<RecoveryStep>, Error> {
        let store = self.store;
        let rows: Vec<(i64, String, i64, i64, String)> = crate::on_pool!(store, pool => store
            .bounded(
                "reading recovery steps",
                sqlx::query_as("SELECT id, recovery_uid, at_ms, fencing_token, message FROM topology_recovery_steps WHERE recovery_uid = ? ORDER BY id")
                    .bind(uid)
                    .fetch_all(pool),
            )
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, recovery_uid, at, token, message)| RecoveryStep {
                id,
                recovery_uid,
                at: Timestamp(at),
                fencing_token: u64::try_from(token).unwrap_or(0),
                message,
            })
            .collect())
    }

    /// Registers a detection once (a second registration is a no-op); returns
    /// whether it was new.
    pub async fn register_detection(&self, d: &DetectionRecord) -> Result<bool, Error> {
        let store = self.store;
        let exists: Vec<i64> = crate::on_pool!(store, pool => store
            .bounded(
                "reading detection",
                sqlx::query_scalar("SELECT id FROM topology_failure_detection WHERE detection_id = ?")
                    .bind(&d.detection_id)
                    .fetch_all(pool),
            )
            .await?);
        if !exists.is_empty() {
            return Ok(false);
        }
        let body = json(&d.detection_id, d)?;
        let inserted = crate::on_pool!(store, pool => store
            .bounded(
                "registering detection",
                async {
                    sqlx::query("INSERT INTO topology_failure_detection (detection_id, cluster_name, detected_at_ms, record_json) VALUES (?, ?, ?, ?)")
                        .bind(&d.detection_id)
                        .bind(&d.cluster)
                        .bind(d.detected_at.as_millis())
                        .bind(&body)
                        .execute(pool)
                        .await
                        .map(|_| ())
                },
            )
            .await);
        // Another recovery service may have registered it a moment before.
        Ok(inserted.is_ok())
    }

    /// Detections, newest first.
    pub async fn detections(&self, cluster: Option<&str>) -> Result<Vec<DetectionRecord>, Error> {
        let store = self.store;
        let rows: Vec<(String, String)> = crate::on_pool!(store, pool => store
            .bounded(
                "reading detections",
                sqlx::query_as("SELECT cluster_name, record_json FROM topology_failure_detection ORDER BY id DESC").fetch_all(pool),
            )
            .await?);
        let mut out = Vec::new();
        for (c, j) in rows {
            if cluster.is_none_or(|want| want == c) {
                out.push(parse("detection", &j)?);
            }
        }
        Ok(out)
    }

    /// Records a refused automated recovery.
    pub async fn record_blocked(&self, b: &BlockedRecovery) -> Result<(), Error> {
        let store = self.store;
        let body = json("blocked recovery", b)?;
        crate::on_pool!(store, pool => store
            .bounded(
                "recording blocked recovery",
                async {
                    sqlx::query("REPLACE INTO blocked_topology_recovery (hostname, port, cluster_name, blocked_at_ms, record_json) VALUES (?, ?, ?, ?, ?)")
                        .bind(b.failed.hostname())
                        .bind(i64::from(b.failed.port()))
                        .bind(&b.cluster)
                        .bind(b.blocked_at.as_millis())
                        .bind(&body)
                        .execute(pool)
                        .await
                        .map(|_| ())
                },
            )
            .await)
    }

    /// Blocked recoveries (of a cluster, or all), newest first.
    pub async fn blocked(&self, cluster: Option<&str>) -> Result<Vec<BlockedRecovery>, Error> {
        let store = self.store;
        let rows: Vec<(String, String)> = crate::on_pool!(store, pool => store
            .bounded(
                "reading blocked recoveries",
                sqlx::query_as("SELECT cluster_name, record_json FROM blocked_topology_recovery ORDER BY blocked_at_ms DESC").fetch_all(pool),
            )
            .await?);
        let mut out = Vec::new();
        for (c, j) in rows {
            if cluster.is_none_or(|want| want == c) {
                out.push(parse("blocked recovery", &j)?);
            }
        }
        Ok(out)
    }

    /// Forgets blocked recoveries of a failed instance (it was recovered or acknowledged).
    pub async fn clear_blocked(&self, failed: &InstanceKey) -> Result<(), Error> {
        let store = self.store;
        crate::on_pool!(store, pool => store
            .bounded(
                "clearing blocked recovery",
                async {
                    sqlx::query("DELETE FROM blocked_topology_recovery WHERE hostname = ? AND port = ?")
                        .bind(failed.hostname())
                        .bind(i64::from(failed.port()))
                        .execute(pool)
                        .await
                        .map(|_| ())
                },
            )
            .await)
    }

    /// Whether automated recoveries are globally disabled.
    pub async fn globally_disabled(&self) -> Result<bool, Error> {
        let store = self.store;
        let n: Vec<i64> = crate::on_pool!(store, pool => store
            .bounded(
                "reading global recovery switch",
                sqlx::query_scalar("SELECT COUNT(*) FROM global_recovery_disable").fetch_all(pool),
            )
            .await?);
        Ok(n.first().is_some_and(|n| *n > 0))
    }

    /// Disables or enables automated recoveries everywhere.
    pub async fn set_globally_disabled(&self, disabled: bool, now: Timestamp) -> Result<(), Error> {
        let store = self.store;
        if disabled {
            crate::on_pool!(store, pool => store
                .bounded(
                    "disabling recoveries",
                    async {
                        sqlx::query("REPLACE INTO global_recovery_disable (singleton, disabled_at_ms) VALUES (1, ?)")
                            .bind(now.as_millis())
                            .execute(pool)
                            .await
                            .map(|_| ())
                    },
                )
                .await)
        } else {
            crate::on_pool!(store, pool => store
                .bounded(
                    "enabling recoveries",
                    async { sqlx::query("DELETE FROM global_recovery_disable").execute(pool).await.map(|_| ()) },
                )
                .await)
        }
    }
}

//! The audit trail of one recovery: its record and its steps, each step
//! stamped with the fencing token it ran under.
//!
//! Writes go through a background task in order, so a slow store never
//! delays a failover; [`Journal::finish`] waits until everything is written
//! (before the lease is given back, so a peer that takes the lease next
//! sees the whole record).

use orc_model::{RecoveryRecord, Timestamp};
use orc_runtime::wall_clock;
use orc_store::Store;
use tokio::sync::{mpsc, oneshot};

enum Write {
    Insert(Box<RecoveryRecord>),
    Update(Box<RecoveryRecord>),
    Step(Timestamp, String),
    Flush(oneshot::Sender<i64>),
}

/// A recovery being written down.
#[derive(Debug)]
pub struct Journal {
    record: RecoveryRecord,
    tx: mpsc::UnboundedSender<Write>,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Insert(_) => "Insert",
            Self::Update(_) => "Update",
            Self::Step(..) => "Step",
            Self::Flush(_) => "Flush",
        })
    }
}

impl Journal {
    /// Opens the journal of a new recovery and stores its record.
    pub fn open(store: Store, record: RecoveryRecord) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
        let uid = record.uid.clone();
        let token = record.lease_revision;
        tokio::spawn(async move {
            let repo = store.recoveries();
            // The row id is known once inserted; later writes carry it.
            let mut id = 0;
            while let Some(w) = rx.recv().await {
                let result = match w {
                    Write::Insert(r) => repo.insert(&r).await.map(|stored| id = stored.id),
                    Write::Update(mut r) => {
                        r.id = id;
                        repo.update(&r).await
                    }
                    Write::Step(at, message) => repo.add_step(&uid, at, token, &message).await,
                    Write::Flush(done) => {
                        let _ = done.send(id);
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    tracing::error!(recovery = %uid, error = %e, "recovery audit not written");
                }
            }
        });
        let _ = tx.send(Write::Insert(Box::new(record.clone())));
        Self { record, tx }
    }

    /// The record as it stands.
    pub fn record(&self) -> &RecoveryRecord {
        &self.record
    }

    /// Changes the record and writes it.
    pub fn update(&mut self, change: impl FnOnce(&mut RecoveryRecord)) {
        change(&mut self.record);
        let _ = self.tx.send(Write::Update(Box::new(self.record.clone())));
    }

    /// Notes an error (kept in `AllErrors`).
    pub fn error(&mut self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!(recovery = %self.record.uid, "{message}");
        self.step(format!("error: {message}"));
        self.update(|r| r.errors.push(message));
    }

    /// A handle that writes steps from other tasks.
    pub fn stepper(&self) -> Stepper {
        Stepper {
            uid: self.record.uid.clone(),
            token: self.record.lease_revision,
            tx: self.tx.clone(),
        }
    }

    /// Writes a step.
    pub fn step(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(recovery = %self.record.uid, token = self.record.lease_revision, "{message}");
        let _ = self.tx.send(Write::Step(wall_clock(), message));
    }

    /// Waits, at most `within`, until everything sent so far (the record
    /// first) is written; returns whether it was.
    pub async fn written(&self, within: std::time::Duration) -> bool {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Write::Flush(done)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, wait).await, Ok(Ok(_)))
    }

    /// Ends the recovery and waits until everything is written.
    pub async fn finish(mut self, successful: bool) -> RecoveryRecord {
        self.update(|r| {
            r.is_active = false;
            r.is_successful = successful;
            r.ended_at = Some(wall_clock());
        });
        let (done, wait) = oneshot::channel();
        let _ = self.tx.send(Write::Flush(done));
        if let Ok(id) = wait.await {
            self.record.id = id;
        }
        self.record
    }
}

/// Where steps are written: a recovery's journal, or an operation's log.
pub trait Notes: Send + Sync {
    /// Writes one step.
    fn step(&self, message: String);
}

impl Notes for Journal {
    fn step(&self, message: String) {
        Journal::step(self, message);
    }
}

impl Notes for Stepper {
    fn step(&self, message: String) {
        Stepper::step(self, message);
    }
}

/// Writes steps of one recovery from anywhere.
#[derive(Debug, Clone)]
pub struct Stepper {
    uid: String,
    token: u64,
    tx: mpsc::UnboundedSender<Write>,
}

impl Stepper {
    /// Writes a step.
    pub fn step(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(recovery = %self.uid, token = self.token, "{message}");
        let _ = self.tx.send(Write::Step(wall_clock(), message));
    }
}

//! The store writer: batches of upserts and deletes, off the analyzer's loop.

use orc_model::InstanceKey;
use orc_store::{Store, StoredInstance};
use tokio::sync::{mpsc, oneshot};

/// One batch to write.
pub(crate) struct Job {
    pub upserts: Vec<StoredInstance>,
    pub deletes: Vec<InstanceKey>,
    pub done: Option<oneshot::Sender<Result<(), String>>>,
}

/// Writes jobs in order until the channel closes.
pub(crate) async fn run(store: Store, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let mut result = store
            .instances()
            .upsert(&job.upserts)
            .await
            .map_err(|e| e.to_string());
        if result.is_ok() && !job.deletes.is_empty() {
            result = store
                .instances()
                .delete(&job.deletes)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
        }
        if let Err(e) = &result {
            tracing::error!(error = %e, upserts = job.upserts.len(), "store write failed");
        }
        if let Some(done) = job.done {
            let _ = done.send(result);
        }
    }
}

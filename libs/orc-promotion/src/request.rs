//! What promotion is asked: the failed master and its replicas as they are now.

use orc_model::{InstanceData, InstanceKey, PromotionRule};

/// One direct replica of the failed master.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaFacts<'a> {
    /// The replica.
    pub key: &'a InstanceKey,
    /// What it reports now (or, when unreachable, what it last reported).
    pub data: &'a InstanceData,
    /// Whether it answers now.
    pub reachable: bool,
    /// The operator's promotion rule for it.
    pub rule: PromotionRule,
}

/// A failed master and everything needed to choose its replacement.
#[derive(Debug, Clone)]
pub struct PromotionRequest<'a> {
    /// The master that failed.
    pub failed_master: &'a InstanceKey,
    /// Its last known data (data centre, region, physical environment).
    pub failed_master_data: Option<&'a InstanceData>,
    /// Its direct replicas as they are now: replication stopped, relay logs applied.
    pub replicas: Vec<ReplicaFacts<'a>>,
    /// An operator-chosen candidate: it is promoted or the request is refused;
    /// no other replica is ever picked instead.
    pub designated: Option<&'a InstanceKey>,
}

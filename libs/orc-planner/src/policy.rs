//! The switches planning follows (orchestrator's configuration keys).

use orc_promotion::PromotionPolicy;

/// How plans are made.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Promotion vetoes and preferences of a failover.
    pub promotion: PromotionPolicy,
    /// `ApplyMySQLPromotionAfterMasterFailover`: the promoted replica
    /// forgets its source (`RESET SLAVE ALL`) and turns writable.
    pub apply_promotion: bool,
    /// `DetachLostReplicasAfterMasterFailover`.
    pub detach_lost_replicas: bool,
    /// `MasterFailoverDetachReplicaMasterHost`: when the promotion is not
    /// applied, the promoted replica is detached from the failed master.
    pub detach_promoted_master_host: bool,
    /// `CoMasterRecoveryMustPromoteOtherCoMaster`.
    pub co_master_must_promote_other: bool,
    /// Replication credentials are known (`ReplicationCredentialsQuery`
    /// answered, or `ReplicationUser` set): a demoted master can replicate.
    pub credentials_known: bool,
    /// Pseudo-GTID is configured (`PseudoGTIDPattern`).
    pub pseudo_gtid: bool,
    /// `ReasonableMaintenanceReplicationLagSeconds`: a replica lagging more
    /// may not be moved or take over.
    pub maintenance_lag_seconds: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            promotion: PromotionPolicy::default(),
            apply_promotion: true,
            detach_lost_replicas: true,
            detach_promoted_master_host: false,
            co_master_must_promote_other: false,
            credentials_known: true,
            pseudo_gtid: false,
            maintenance_lag_seconds: 20,
        }
    }
}

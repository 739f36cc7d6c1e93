//! What the recovery service needs to know, derived from the configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use orc_model::InstanceKey;
use orc_mysql::{ConnectOptions, ProbeSettings, TopologyAccess};
use orc_promotion::PromotionPolicy;
use orc_recovery_fsm::HookStage;
use orc_runtime::Config;

/// Settings of one recovery service.
#[derive(Debug, Clone)]
pub struct RecoveryConfig {
    /// Unique id among recovery services (lease holder, audit).
    pub node_id: String,
    /// This host's name (`{orchestratorHost}`).
    pub hostname: String,
    /// Credentials, connect timeout and TLS for topology servers.
    pub access: TopologyAccess,
    /// Per-statement timeout of the reads a plan is made from (probes,
    /// as orchestrator's discovery reads).
    pub probe_timeout: Duration,
    /// Per-statement timeout of everything else done on a server:
    /// operations, recovery steps and their reads
    /// (`MySQLTopologyReadTimeoutSeconds`).
    pub statement_timeout: Duration,
    /// What a probe reads.
    pub probe: ProbeSettings,
    /// Promotion constraints.
    pub promotion: PromotionPolicy,
    /// Hook lists.
    pub hooks: BTreeMap<HookStage, Vec<String>>,
    /// `ProcessesShellCommand`.
    pub shell: String,
    /// Per-hook time limit (`None`: unlimited).
    pub hook_timeout: Option<Duration>,
    /// `RecoveryPeriodBlockSeconds`.
    pub block_period: Duration,
    /// `RecoverMasterClusterFilters`.
    pub master_filters: Vec<String>,
    /// `RecoverIntermediateMasterClusterFilters`.
    pub intermediate_master_filters: Vec<String>,
    /// `ClusterNameToAlias`.
    pub cluster_name_to_alias: Vec<(regex::Regex, String)>,
    /// `ApplyMySQLPromotionAfterMasterFailover`.
    pub apply_promotion: bool,
    /// `DetachLostReplicasAfterMasterFailover`.
    pub detach_lost_replicas: bool,
    /// Downtime of the failed master and lost replicas.
    pub lost_downtime: Duration,
    /// `MasterFailoverDetachReplicaMasterHost`.
    pub detach_promoted_master_host: bool,
    /// `DelayMasterPromotionIfSQLThreadNotUpToDate`.
    pub delay_until_sql_thread_up_to_date: bool,
    /// `InstanceBulkOperationsWaitTimeoutSeconds`.
    pub bulk_wait: Duration,
    /// `MaxConcurrentReplicaOperations`.
    pub max_concurrency: usize,
    /// `UseSuperReadOnly`.
    pub use_super_read_only: bool,
    /// `ReplicationCredentialsQuery`.
    pub credentials_query: String,
    /// `ReplicationUser` / `ReplicationPassword`.
    pub replication_credentials: Option<(String, String)>,
    /// `RecoveryLeaseTtlMilliseconds`.
    pub lease_ttl: Duration,
    /// `ReasonableMaintenanceReplicationLagSeconds`: takeover catch-up limit.
    pub maintenance_lag: Duration,
    /// `ReasonableReplicationLagSeconds`: stalled-progress limit.
    pub replication_lag: Duration,
    /// `CoMasterRecoveryMustPromoteOtherCoMaster`.
    pub co_master_must_promote_other: bool,
    /// `CandidateInstanceExpireMinutes`.
    pub candidate_expiry: Duration,
    /// How old a finding may be when read from the stream and still acted on.
    pub max_finding_age: Duration,
    /// Pseudo-GTID matching, when `PseudoGTIDPattern` is set.
    pub pseudo_gtid: Option<PseudoGtid>,
    /// Where masters are published after a failover (`KVClusterMasterPrefix`,
    /// `EtcdAddress`).
    pub kv: orc_kv::Publisher,
    /// `NatsKVBucket`: masters are also published there, over the bus.
    pub nats_kv_bucket: String,
}

/// How Pseudo-GTID markers are recognised and searched.
#[derive(Debug, Clone)]
pub struct PseudoGtid {
    /// `PseudoGTIDPattern`, compiled (a fixed substring is escaped).
    pub pattern: regex::Regex,
    /// `PseudoGTIDMonotonicHint`.
    pub monotonic_hint: String,
    /// `BinlogEventsChunkSize`.
    pub chunk: u64,
    /// `SkipBinlogEventsContaining`.
    pub skip: Vec<String>,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

impl RecoveryConfig {
    /// Derives the settings from the process configuration.
    pub fn from_config(c: &Config) -> Self {
        let regexes = |v: &[String]| -> Vec<regex::Regex> {
            v.iter().filter_map(|r| regex::Regex::new(r).ok()).collect()
        };
        let host = hostname();
        let hooks = [
            (
                HookStage::OnFailureDetection,
                &c.on_failure_detection_processes,
            ),
            (
                HookStage::PreGracefulTakeover,
                &c.pre_graceful_takeover_processes,
            ),
            (HookStage::PreFailover, &c.pre_failover_processes),
            (
                HookStage::PostMasterFailover,
                &c.post_master_failover_processes,
            ),
            (
                HookStage::PostIntermediateMasterFailover,
                &c.post_intermediate_master_failover_processes,
            ),
            (HookStage::PostFailover, &c.post_failover_processes),
            (
                HookStage::PostUnsuccessfulFailover,
                &c.post_unsuccessful_failover_processes,
            ),
            (
                HookStage::PostGracefulTakeover,
                &c.post_graceful_takeover_processes,
            ),
            (HookStage::PostTakeMaster, &c.post_take_master_processes),
        ]
        .into_iter()
        .map(|(stage, list)| (stage, list.clone()))
        .collect();
        let lost_minutes = c.master_failover_lost_instances_downtime_minutes;
        Self {
            node_id: if c.recovery_node_id.is_empty() {
                format!("recovery-{host}-{}", std::process::id())
            } else {
                c.recovery_node_id.clone()
            },
            hostname: host,
            access: TopologyAccess::from_config(c),
            probe_timeout: Duration::from_secs_f64(
                c.mysql_discovery_read_timeout_seconds
                    .max(c.instance_bulk_operations_wait_timeout_seconds),
            ),
            statement_timeout: Duration::from_secs_f64(c.mysql_topology_read_timeout_seconds),
            probe: ProbeSettings::from_config(c),
            promotion: PromotionPolicy {
                prevent_cross_data_center: c.prevent_cross_data_center_master_failover,
                prevent_cross_region: c.prevent_cross_region_master_failover,
                fail_on_lag: (c.fail_master_promotion_on_lag_minutes > 0).then(|| {
                    Duration::from_secs(c.fail_master_promotion_on_lag_minutes.saturating_mul(60))
                }),
                fail_if_sql_thread_not_up_to_date: c
                    .fail_master_promotion_if_sql_thread_not_up_to_date,
                ignore_hostname_filters: regexes(&c.promotion_ignore_hostname_filters),
            },
            hooks,
            shell: c.processes_shell_command.clone(),
            hook_timeout: (c.hook_timeout_seconds > 0.0)
                .then(|| Duration::from_secs_f64(c.hook_timeout_seconds)),
            block_period: c.recovery_period_block(),
            master_filters: c.recover_master_cluster_filters.clone(),
            intermediate_master_filters: c.recover_intermediate_master_cluster_filters.clone(),
            cluster_name_to_alias: c
                .cluster_name_to_alias
                .iter()
                .filter_map(|(re, alias)| regex::Regex::new(re).ok().map(|r| (r, alias.clone())))
                .collect(),
            apply_promotion: c.apply_mysql_promotion_after_master_failover,
            detach_lost_replicas: c.detach_lost_replicas_after_master_failover,
            lost_downtime: if lost_minutes > 0.0 {
                Duration::from_secs_f64(lost_minutes * 60.0)
            } else {
                Duration::from_secs(365 * 24 * 3600)
            },
            detach_promoted_master_host: c.master_failover_detach_replica_master_host,
            delay_until_sql_thread_up_to_date: c
                .delay_master_promotion_if_sql_thread_not_up_to_date,
            bulk_wait: Duration::from_secs_f64(c.instance_bulk_operations_wait_timeout_seconds),
            max_concurrency: c.max_concurrent_replica_operations.max(1),
            use_super_read_only: c.use_super_read_only,
            credentials_query: c.replication_credentials_query.clone(),
            replication_credentials: (!c.replication_user.is_empty())
                .then(|| (c.replication_user.clone(), c.replication_password.clone())),
            lease_ttl: Duration::from_millis(c.recovery_lease_ttl_milliseconds),
            maintenance_lag: Duration::from_secs(
                u64::try_from(c.reasonable_maintenance_replication_lag_seconds.max(1))
                    .unwrap_or(20),
            ),
            replication_lag: Duration::from_secs(
                u64::try_from(c.reasonable_replication_lag_seconds.max(1)).unwrap_or(10),
            ),
            co_master_must_promote_other: c.co_master_recovery_must_promote_other_co_master,
            candidate_expiry: Duration::from_secs_f64(c.candidate_instance_expire_minutes * 60.0),
            max_finding_age: Duration::from_secs(600),
            kv: orc_kv::Publisher::from_validated(
                &c.kv_cluster_master_prefix,
                &c.etcd_address,
                &c.zk_address,
                &c.consul(),
            ),
            nats_kv_bucket: c.nats_kv_bucket.clone(),
            pseudo_gtid: (!c.pseudo_gtid_pattern.is_empty())
                .then(|| {
                    let source = if c.pseudo_gtid_pattern_is_fixed_substring {
                        regex::escape(&c.pseudo_gtid_pattern)
                    } else {
                        c.pseudo_gtid_pattern.clone()
                    };
                    regex::Regex::new(&source).ok()
                })
                .flatten()
                .map(|pattern| PseudoGtid {
                    pattern,
                    monotonic_hint: c.pseudo_gtid_monotonic_hint.clone(),
                    chunk: c.binlog_events_chunk_size.max(1),
                    skip: c.skip_binlog_events_containing.clone(),
                }),
        }
    }

    /// Connection options for changing a topology server (statements
    /// bounded by `MySQLTopologyReadTimeoutSeconds`).
    pub fn connect_options(&self, address: &InstanceKey) -> ConnectOptions {
        self.access.options(address, self.statement_timeout)
    }

    /// Connection options for probing a server's facts (statements bounded
    /// like discovery reads, so that a hung server is noticed quickly).
    pub fn probe_options(&self, address: &InstanceKey) -> ConnectOptions {
        let mut o = self.connect_options(address);
        o.read_timeout = self.probe_timeout;
        o
    }

    /// The hook commands of a stage.
    pub fn hooks(&self, stage: HookStage) -> &[String] {
        self.hooks.get(&stage).map_or(&[], Vec::as_slice)
    }

    /// A cluster's alias from `ClusterNameToAlias` or the detected alias.
    pub fn cluster_alias(&self, cluster: &str, detected: &str) -> String {
        if !detected.is_empty() {
            return detected.to_string();
        }
        self.cluster_name_to_alias
            .iter()
            .find(|(re, _)| re.is_match(cluster))
            .map_or_else(|| cluster.to_string(), |(_, a)| a.clone())
    }
}

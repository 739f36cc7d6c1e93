//! orchestrator's JSON configuration, accepted as it is, plus our own keys.
//!
//! Keys are orchestrator's Go field names (`InstancePollSeconds`,
//! `MySQLTopologyUser`, ...). Loading reads the file, then `ORC__<Key>`
//! environment variables (a JSON value, or a plain string), reports every key
//! it does not act on (unknown, or known but not implemented yet) and
//! validates the result. Defaults are orchestrator's except where noted
//! (`BackendDB` defaults to the embedded SQLite).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Error;

/// The whole configuration. Its `Debug` output hides every password.
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Config {
    // --- service / HTTP ---
    /// `ListenAddress`: HTTP API (`:3000`).
    #[serde(rename = "ListenAddress")]
    pub listen_address: String,
    /// `GrpcListenAddress` (ours): gRPC API (`:3001`).
    #[serde(rename = "GrpcListenAddress")]
    pub grpc_listen_address: String,
    /// `HTTPAdvertise`: the URL other gateways and clients know this one by
    /// (`raft-leader`, `RaftLeaderURI`); default `http[s]://<hostname>:<port>`.
    #[serde(rename = "HTTPAdvertise")]
    pub http_advertise: String,
    /// `URLPrefix`: serve the API under a path prefix.
    #[serde(rename = "URLPrefix")]
    pub url_prefix: String,
    /// `ReadOnly`: refuse every mutating API call.
    #[serde(rename = "ReadOnly")]
    pub read_only: bool,
    /// `AuthenticationMethod`: `""` (none), `basic`, `multi` (the user
    /// `readonly` may read) or `proxy` (a trusted proxy names the user in
    /// `AuthUserHeader`). `token` and `oauth` stop start-up.
    #[serde(rename = "AuthenticationMethod")]
    pub authentication_method: String,
    /// `HTTPAuthUser`: the user (with `HTTPAuthPassword`) that `basic` and
    /// `multi` authentication require; under `multi` it may not be `readonly`.
    #[serde(rename = "HTTPAuthUser")]
    pub http_auth_user: String,
    /// `HTTPAuthPassword` (`${ENV}` expanded).
    #[serde(rename = "HTTPAuthPassword")]
    pub http_auth_password: String,
    /// `AuthUserHeader`: the header a proxy names the user in.
    #[serde(rename = "AuthUserHeader")]
    pub auth_user_header: String,
    /// `PowerAuthUsers`: under `proxy`, who may change things (`*`: anyone).
    #[serde(rename = "PowerAuthUsers")]
    pub power_auth_users: Vec<String>,
    /// `PowerAuthGroups`: under `proxy`, members of these unix groups may
    /// change things too.
    #[serde(rename = "PowerAuthGroups")]
    pub power_auth_groups: Vec<String>,
    /// `RaftEnabled`: refused when true (this build is highly available
    /// over NATS: `NatsUrl` and one process per role).
    #[serde(rename = "RaftEnabled")]
    pub raft_enabled: bool,

    // --- TLS of the APIs ---
    /// `UseSSL`: serve HTTP and gRPC over TLS.
    #[serde(rename = "UseSSL")]
    pub use_ssl: bool,
    /// `UseMutualTLS`: clients must present a certificate signed by `SSLCAFile`.
    #[serde(rename = "UseMutualTLS")]
    pub use_mutual_tls: bool,
    /// `SSLCertFile` (PEM, the chain).
    #[serde(rename = "SSLCertFile")]
    pub ssl_cert_file: String,
    /// `SSLPrivateKeyFile` (PEM).
    #[serde(rename = "SSLPrivateKeyFile")]
    pub ssl_private_key_file: String,
    /// `SSLCAFile`: the authority client certificates must chain to.
    #[serde(rename = "SSLCAFile")]
    pub ssl_ca_file: String,
    /// `SSLValidOUs`: with mutual TLS, a client certificate must carry one
    /// of these organizational units.
    #[serde(rename = "SSLValidOUs")]
    pub ssl_valid_ous: Vec<String>,

    // --- backend ---
    /// `BackendDB`: `sqlite` (default here) or `mysql`.
    #[serde(rename = "BackendDB")]
    pub backend_db: String,
    /// `SQLite3DataFile`: the SQLite backend's file, created if missing, when
    /// `BackendDB` is `sqlite` (default `orchestrator.sqlite3`).
    #[serde(rename = "SQLite3DataFile")]
    pub sqlite3_data_file: String,
    /// `MySQLOrchestratorHost`: host of the MySQL backend; required when
    /// `BackendDB` is `mysql`.
    #[serde(rename = "MySQLOrchestratorHost")]
    pub mysql_orchestrator_host: String,
    /// `MySQLOrchestratorPort`: port of the MySQL backend (3306).
    #[serde(rename = "MySQLOrchestratorPort")]
    pub mysql_orchestrator_port: u16,
    /// `MySQLOrchestratorDatabase`: schema of the MySQL backend that holds
    /// orchestrator's tables (default `orchestrator`).
    #[serde(rename = "MySQLOrchestratorDatabase")]
    pub mysql_orchestrator_database: String,
    /// `MySQLOrchestratorUser`: user of the MySQL backend (the one in
    /// `MySQLOrchestratorCredentialsConfigFile` wins when that is set).
    #[serde(rename = "MySQLOrchestratorUser")]
    pub mysql_orchestrator_user: String,
    /// `MySQLOrchestratorPassword` (`${ENV}` expanded).
    #[serde(rename = "MySQLOrchestratorPassword")]
    pub mysql_orchestrator_password: String,
    /// `MySQLOrchestratorCredentialsConfigFile` (`[client]` user/password).
    #[serde(rename = "MySQLOrchestratorCredentialsConfigFile")]
    pub mysql_orchestrator_credentials_config_file: String,
    /// `MySQLOrchestratorReadTimeoutSeconds`: limit on opening the backend
    /// and on every call to it, SQLite included (default 30).
    #[serde(rename = "MySQLOrchestratorReadTimeoutSeconds")]
    pub mysql_orchestrator_read_timeout_seconds: f64,
    /// `MySQLOrchestratorUseMutualTLS`: reach the MySQL backend over TLS.
    #[serde(rename = "MySQLOrchestratorUseMutualTLS")]
    pub mysql_orchestrator_use_mutual_tls: bool,
    /// `MySQLOrchestratorSSLCAFile`: with `MySQLOrchestratorUseMutualTLS`, the
    /// PEM authority the backend's certificate must chain to.
    #[serde(rename = "MySQLOrchestratorSSLCAFile")]
    pub mysql_orchestrator_ssl_ca_file: String,
    /// `MySQLOrchestratorSSLCertFile`: PEM client certificate presented to
    /// the MySQL backend (with `MySQLOrchestratorSSLPrivateKeyFile`).
    #[serde(rename = "MySQLOrchestratorSSLCertFile")]
    pub mysql_orchestrator_ssl_cert_file: String,
    /// `MySQLOrchestratorSSLPrivateKeyFile`: PEM private key of
    /// `MySQLOrchestratorSSLCertFile`.
    #[serde(rename = "MySQLOrchestratorSSLPrivateKeyFile")]
    pub mysql_orchestrator_ssl_private_key_file: String,
    /// `MySQLOrchestratorSSLSkipVerify`: do not verify the MySQL backend's
    /// certificate (encrypted, not authenticated).
    #[serde(rename = "MySQLOrchestratorSSLSkipVerify")]
    pub mysql_orchestrator_ssl_skip_verify: bool,

    // --- topology access ---
    /// `MySQLTopologyUser`: user for probing and changing topology servers (the
    /// one in `MySQLTopologyCredentialsConfigFile` wins when that is set).
    #[serde(rename = "MySQLTopologyUser")]
    pub mysql_topology_user: String,
    /// `MySQLTopologyPassword` (`${ENV}` expanded).
    #[serde(rename = "MySQLTopologyPassword")]
    pub mysql_topology_password: String,
    /// `MySQLTopologyCredentialsConfigFile`: a my.cnf file whose `[client]`
    /// user and password replace `MySQLTopologyUser`/`MySQLTopologyPassword`.
    #[serde(rename = "MySQLTopologyCredentialsConfigFile")]
    pub mysql_topology_credentials_config_file: String,
    /// `MySQLConnectTimeoutSeconds`: limit on connecting to a topology
    /// server (probes, operations, recoveries); default 2.
    #[serde(rename = "MySQLConnectTimeoutSeconds")]
    pub mysql_connect_timeout_seconds: f64,
    /// `MySQLDiscoveryReadTimeoutSeconds`: limit on each statement of a
    /// probe; default 3 here (orchestrator: 10), to notice hung servers sooner.
    #[serde(rename = "MySQLDiscoveryReadTimeoutSeconds")]
    pub mysql_discovery_read_timeout_seconds: f64,
    /// `MySQLTopologyReadTimeoutSeconds`: limit on each statement of an
    /// operation or recovery step on a topology server (default 600).
    #[serde(rename = "MySQLTopologyReadTimeoutSeconds")]
    pub mysql_topology_read_timeout_seconds: f64,
    /// `DefaultInstancePort`: port assumed for a host named without one
    /// (seeds, API and command arguments); default 3306.
    #[serde(rename = "DefaultInstancePort")]
    pub default_instance_port: u16,
    /// `MySQLTopologyUseMutualTLS`: connect to topology servers over TLS,
    /// verifying them against `MySQLTopologySSLCAFile` and presenting the
    /// client certificate when one is given.
    #[serde(rename = "MySQLTopologyUseMutualTLS")]
    pub mysql_topology_use_mutual_tls: bool,
    /// `MySQLTopologyUseMixedTLS`: accepted for compatibility; without
    /// mutual TLS, connections are plain (as orchestrator's fallback).
    #[serde(rename = "MySQLTopologyUseMixedTLS")]
    pub mysql_topology_use_mixed_tls: bool,
    /// `MySQLTopologySSLCAFile`: with `MySQLTopologyUseMutualTLS`, the PEM
    /// authority topology servers' certificates must chain to.
    #[serde(rename = "MySQLTopologySSLCAFile")]
    pub mysql_topology_ssl_ca_file: String,
    /// `MySQLTopologySSLCertFile`: PEM client certificate presented to
    /// topology servers (with `MySQLTopologySSLPrivateKeyFile`).
    #[serde(rename = "MySQLTopologySSLCertFile")]
    pub mysql_topology_ssl_cert_file: String,
    /// `MySQLTopologySSLPrivateKeyFile`: PEM private key of
    /// `MySQLTopologySSLCertFile`.
    #[serde(rename = "MySQLTopologySSLPrivateKeyFile")]
    pub mysql_topology_ssl_private_key_file: String,
    /// `MySQLTopologySSLSkipVerify`: do not verify the servers' certificates.
    #[serde(rename = "MySQLTopologySSLSkipVerify")]
    pub mysql_topology_ssl_skip_verify: bool,

    // --- discovery ---
    /// `InstancePollSeconds` (fractions allowed).
    #[serde(rename = "InstancePollSeconds")]
    pub instance_poll_seconds: f64,
    /// `DiscoverySeeds`: `host[:port]` instances discovered at start-up, the
    /// topology being crawled from them (unless discovery filters ignore them).
    #[serde(rename = "DiscoverySeeds")]
    pub discovery_seeds: Vec<String>,
    /// `DiscoverByShowSlaveHosts`: find replicas with `SHOW SLAVE HOSTS`
    /// before the processlist. This build always does so: the default is
    /// true, and false is reported as not honoured.
    #[serde(rename = "DiscoverByShowSlaveHosts")]
    pub discover_by_show_slave_hosts: bool,
    /// `DiscoveryIgnoreHostnameFilters`: hosts never discovered: an IP
    /// matches exactly, another entry is a regex searched in `host:port`.
    #[serde(rename = "DiscoveryIgnoreHostnameFilters")]
    pub discovery_ignore_hostname_filters: Vec<String>,
    /// `DiscoveryIgnoreReplicaHostnameFilters`: replicas (matched the same
    /// way) not followed from their master's list of replicas.
    #[serde(rename = "DiscoveryIgnoreReplicaHostnameFilters")]
    pub discovery_ignore_replica_hostname_filters: Vec<String>,
    /// `DiscoveryIgnoreMasterHostnameFilters`: masters (matched the same
    /// way) not followed from a replica's source.
    #[serde(rename = "DiscoveryIgnoreMasterHostnameFilters")]
    pub discovery_ignore_master_hostname_filters: Vec<String>,
    /// `HostnameResolveMethod`: `default`/`none` (no-op), `cname` (the
    /// canonical name) or `ip` (the address), applied to every host name
    /// discovered (seeds, `discover`, `Master_Host`, replica hosts).
    #[serde(rename = "HostnameResolveMethod")]
    pub hostname_resolve_method: String,
    /// `ExpiryHostnameResolvesMinutes`: how long a resolution is cached.
    #[serde(rename = "ExpiryHostnameResolvesMinutes")]
    pub expiry_hostname_resolves_minutes: f64,
    /// `RejectHostnameResolvePattern`: resolutions matching it are ignored
    /// (the name is kept).
    #[serde(rename = "RejectHostnameResolvePattern")]
    pub reject_hostname_resolve_pattern: String,
    /// `MySQLHostnameResolveMethod`: `@@hostname`, `@@report_host` or `none`
    /// (the default here: instances are known by the address they are
    /// probed at). With the others, an instance's identity is what it
    /// reports, and it keeps being probed at the address it was found at.
    #[serde(rename = "MySQLHostnameResolveMethod")]
    pub mysql_hostname_resolve_method: String,
    /// `ReplicationLagQuery` (synonym `SlaveLagQuery`).
    #[serde(rename = "ReplicationLagQuery", alias = "SlaveLagQuery")]
    pub replication_lag_query: String,
    /// `DetectDataCenterQuery`: single-value query run at every probe;
    /// its answer is the server's data center (wins over `DataCenterPattern`).
    #[serde(rename = "DetectDataCenterQuery")]
    pub detect_data_center_query: String,
    /// `DetectRegionQuery`: as `DetectDataCenterQuery`, for the region (wins
    /// over `RegionPattern`).
    #[serde(rename = "DetectRegionQuery")]
    pub detect_region_query: String,
    /// `DetectPhysicalEnvironmentQuery`: as `DetectDataCenterQuery`, for the
    /// physical environment (wins over `PhysicalEnvironmentPattern`).
    #[serde(rename = "DetectPhysicalEnvironmentQuery")]
    pub detect_physical_environment_query: String,
    /// `DetectInstanceAliasQuery`: single-value query whose answer is the
    /// server's alias (`InstanceAlias`, shown beside it in topologies).
    #[serde(rename = "DetectInstanceAliasQuery")]
    pub detect_instance_alias_query: String,
    /// `DetectClusterAliasQuery`: single-value query; the answer on a
    /// cluster's master is the cluster's alias, unless set by hand
    /// (`set-cluster-alias`).
    #[serde(rename = "DetectClusterAliasQuery")]
    pub detect_cluster_alias_query: String,
    /// `DetectClusterDomainQuery`: single-value query; the answer on a
    /// cluster's master is its domain (`ClusterDomain`, passed to hooks).
    #[serde(rename = "DetectClusterDomainQuery")]
    pub detect_cluster_domain_query: String,
    /// `DetectPromotionRuleQuery`: single-value query whose answer (`must`
    /// ... `must_not`) is the server's promotion rule unless one is registered.
    #[serde(rename = "DetectPromotionRuleQuery")]
    pub detect_promotion_rule_query: String,
    /// `DetectSemiSyncEnforcedQuery`: single-value query whose number is the
    /// server's semi-sync priority (`SemiSyncPriority`; 0: asynchronous).
    #[serde(rename = "DetectSemiSyncEnforcedQuery")]
    pub detect_semi_sync_enforced_query: String,
    /// `DataCenterPattern`: regex on the hostname whose first group is the
    /// data center when `DetectDataCenterQuery` gives none.
    #[serde(rename = "DataCenterPattern")]
    pub data_center_pattern: String,
    /// `RegionPattern`: regex on the hostname whose first group is the region
    /// when `DetectRegionQuery` gives none.
    #[serde(rename = "RegionPattern")]
    pub region_pattern: String,
    /// `PhysicalEnvironmentPattern`: regex on the hostname whose first group
    /// is the physical environment when `DetectPhysicalEnvironmentQuery`
    /// gives none.
    #[serde(rename = "PhysicalEnvironmentPattern")]
    pub physical_environment_pattern: String,
    /// `ClusterNameToAlias`: regex on cluster name → alias.
    #[serde(rename = "ClusterNameToAlias")]
    pub cluster_name_to_alias: BTreeMap<String, String>,

    // --- thresholds ---
    /// `ReasonableReplicationLagSeconds`: lag above which a replica has the
    /// `replication_lag` problem and counts as lagging in analysis (default 10).
    #[serde(rename = "ReasonableReplicationLagSeconds")]
    pub reasonable_replication_lag_seconds: i64,
    /// `ReasonableMaintenanceReplicationLagSeconds`: a takeover refuses a
    /// replica lagging more; it also bounds catch-up waits in operations
    /// (default 20).
    #[serde(rename = "ReasonableMaintenanceReplicationLagSeconds")]
    pub reasonable_maintenance_replication_lag_seconds: i64,

    // --- recovery scope shown in cluster info ---
    /// `RecoverMasterClusterFilters`: clusters whose failed masters are
    /// recovered automatically (`*`, name, alias, `alias=`, `alias~=` or a
    /// regex on the name); empty by default: none.
    #[serde(rename = "RecoverMasterClusterFilters")]
    pub recover_master_cluster_filters: Vec<String>,
    /// `RecoverIntermediateMasterClusterFilters`: as
    /// `RecoverMasterClusterFilters`, for failed intermediate masters.
    #[serde(rename = "RecoverIntermediateMasterClusterFilters")]
    pub recover_intermediate_master_cluster_filters: Vec<String>,

    // --- detection ---
    /// `FailureDetectionPeriodBlockMinutes`: one detection per instance per period.
    #[serde(rename = "FailureDetectionPeriodBlockMinutes")]
    pub failure_detection_period_block_minutes: f64,
    /// `RecoveryIgnoreHostnameFilters`: analysis entries for matching hostnames are dropped.
    #[serde(rename = "RecoveryIgnoreHostnameFilters")]
    pub recovery_ignore_hostname_filters: Vec<String>,
    /// `RecoverNonWriteableMaster`: treat a read-only master with replicating
    /// replicas as a failure to recover, by setting `read_only=0` on it.
    #[serde(rename = "RecoverNonWriteableMaster")]
    pub recover_non_writeable_master: bool,
    /// `EnforceExactSemiSyncReplicas`: report a semi-sync master with more
    /// semi-sync replicas than its wait count (detection only in this build).
    #[serde(rename = "EnforceExactSemiSyncReplicas")]
    pub enforce_exact_semi_sync_replicas: bool,
    /// `ReasonableLockedSemiSyncMasterSeconds`: how long a semi-sync master
    /// short of replicas may make no progress before it is locked (0: use
    /// `ReasonableReplicationLagSeconds`).
    #[serde(rename = "ReasonableLockedSemiSyncMasterSeconds")]
    pub reasonable_locked_semi_sync_master_seconds: f64,
    /// `HungMasterGraceSeconds` (ours): how long a server that does not
    /// refuse connections but does not answer stays "unreachable" before
    /// it may be declared dead, its replicas agreeing.
    #[serde(rename = "HungMasterGraceSeconds")]
    pub hung_master_grace_seconds: f64,
    /// `UnreachableVantageQuorum` (ours): vantages that must fail to reach a
    /// server for it to be unreachable (0: a majority).
    #[serde(rename = "UnreachableVantageQuorum")]
    pub unreachable_vantage_quorum: u32,
    /// `ProbersPerInstance` (ours): vantage points probing each instance.
    #[serde(rename = "ProbersPerInstance")]
    pub probers_per_instance: u32,

    // --- recovery ---
    /// `RecoveryPeriodBlockSeconds`: after a recovery, automated recoveries
    /// of the same cluster wait this long unless acknowledged.
    #[serde(rename = "RecoveryPeriodBlockSeconds")]
    pub recovery_period_block_seconds: u64,
    /// `RecoveryPeriodBlockMinutes` (legacy; used when the seconds key is left at its default).
    #[serde(rename = "RecoveryPeriodBlockMinutes")]
    pub recovery_period_block_minutes: u64,
    /// `PromotionIgnoreHostnameFilters`: never promote matching hosts.
    #[serde(rename = "PromotionIgnoreHostnameFilters")]
    pub promotion_ignore_hostname_filters: Vec<String>,
    /// `ProcessesShellCommand`: the shell hooks run in.
    #[serde(rename = "ProcessesShellCommand")]
    pub processes_shell_command: String,
    /// `OnFailureDetectionProcesses`: commands run when a failure with a
    /// handler is first detected (once per `FailureDetectionPeriodBlockMinutes`).
    #[serde(rename = "OnFailureDetectionProcesses")]
    pub on_failure_detection_processes: Vec<String>,
    /// `PreGracefulTakeoverProcesses` (a failure aborts the takeover).
    #[serde(rename = "PreGracefulTakeoverProcesses")]
    pub pre_graceful_takeover_processes: Vec<String>,
    /// `PreFailoverProcesses` (a failure aborts the recovery).
    #[serde(rename = "PreFailoverProcesses")]
    pub pre_failover_processes: Vec<String>,
    /// `PostFailoverProcesses`: commands run after any successful recovery.
    #[serde(rename = "PostFailoverProcesses")]
    pub post_failover_processes: Vec<String>,
    /// `PostUnsuccessfulFailoverProcesses`: commands run after a recovery
    /// that found no successor.
    #[serde(rename = "PostUnsuccessfulFailoverProcesses")]
    pub post_unsuccessful_failover_processes: Vec<String>,
    /// `PostMasterFailoverProcesses`: commands run after a successful master
    /// or co-master recovery (before `PostFailoverProcesses`).
    #[serde(rename = "PostMasterFailoverProcesses")]
    pub post_master_failover_processes: Vec<String>,
    /// `PostIntermediateMasterFailoverProcesses`: commands run after a
    /// successful intermediate-master recovery.
    #[serde(rename = "PostIntermediateMasterFailoverProcesses")]
    pub post_intermediate_master_failover_processes: Vec<String>,
    /// `PostGracefulTakeoverProcesses`: commands run at the end of a graceful
    /// master takeover.
    #[serde(rename = "PostGracefulTakeoverProcesses")]
    pub post_graceful_takeover_processes: Vec<String>,
    /// `PostTakeMasterProcesses`: commands run after `take-master` (the
    /// successor is the replica that took over, the failed host its old source).
    #[serde(rename = "PostTakeMasterProcesses")]
    pub post_take_master_processes: Vec<String>,

    // --- Pseudo-GTID ---
    /// `PseudoGTIDPattern`: what a Pseudo-GTID marker statement looks like
    /// in the binary logs (a regular expression, or a fixed substring).
    #[serde(rename = "PseudoGTIDPattern")]
    pub pseudo_gtid_pattern: String,
    /// `PseudoGTIDPatternIsFixedSubstring`: match `PseudoGTIDPattern` as
    /// plain text rather than as a regular expression.
    #[serde(rename = "PseudoGTIDPatternIsFixedSubstring")]
    pub pseudo_gtid_pattern_is_fixed_substring: bool,
    /// `PseudoGTIDMonotonicHint`: markers containing this grow monotonically.
    #[serde(rename = "PseudoGTIDMonotonicHint")]
    pub pseudo_gtid_monotonic_hint: String,
    /// `BinlogEventsChunkSize`: events read per `SHOW BINLOG EVENTS`.
    #[serde(rename = "BinlogEventsChunkSize")]
    pub binlog_events_chunk_size: u64,
    /// `SkipBinlogEventsContaining`: events ignored when matching.
    #[serde(rename = "SkipBinlogEventsContaining")]
    pub skip_binlog_events_containing: Vec<String>,
    /// `HookTimeoutSeconds` (ours): a hook still running after this is
    /// killed and counts as failed (0: no limit).
    #[serde(rename = "HookTimeoutSeconds")]
    pub hook_timeout_seconds: f64,
    /// `CoMasterRecoveryMustPromoteOtherCoMaster`: when a co-master fails,
    /// promote the other co-master (default true; false: any replica may be).
    #[serde(rename = "CoMasterRecoveryMustPromoteOtherCoMaster")]
    pub co_master_recovery_must_promote_other_co_master: bool,
    /// `DetachLostReplicasAfterMasterFailover`: after a master failover,
    /// detach the replicas that could not be moved below the new master
    /// (their replication is broken on purpose so that they cannot follow
    /// a returning old master); default true. The older
    /// `DetachLostSlavesAfterMasterFailover` is accepted as a synonym.
    #[serde(
        rename = "DetachLostReplicasAfterMasterFailover",
        alias = "DetachLostSlavesAfterMasterFailover"
    )]
    pub detach_lost_replicas_after_master_failover: bool,
    /// `ApplyMySQLPromotionAfterMasterFailover`: reset the promoted
    /// replica's replication and make it writable.
    #[serde(rename = "ApplyMySQLPromotionAfterMasterFailover")]
    pub apply_mysql_promotion_after_master_failover: bool,
    /// `PreventCrossDataCenterMasterFailover`: never promote a replica
    /// outside the failed master's data center (when that is known).
    #[serde(rename = "PreventCrossDataCenterMasterFailover")]
    pub prevent_cross_data_center_master_failover: bool,
    /// `PreventCrossRegionMasterFailover`: never promote a replica outside
    /// the failed master's region (when that is known).
    #[serde(rename = "PreventCrossRegionMasterFailover")]
    pub prevent_cross_region_master_failover: bool,
    /// `MasterFailoverLostInstancesDowntimeMinutes`: downtime given to the
    /// failed master and lost replicas (0: a year, as orchestrator does);
    /// it ends early once the instance is seen replicating again.
    #[serde(rename = "MasterFailoverLostInstancesDowntimeMinutes")]
    pub master_failover_lost_instances_downtime_minutes: f64,
    /// `MasterFailoverDetachReplicaMasterHost`: after a master failover,
    /// point the promoted replica's (now unused) replication settings at a
    /// detached host so that it can never replicate from the old master
    /// again; default false. `MasterFailoverDetachSlaveMasterHost` is a
    /// synonym.
    #[serde(
        rename = "MasterFailoverDetachReplicaMasterHost",
        alias = "MasterFailoverDetachSlaveMasterHost"
    )]
    pub master_failover_detach_replica_master_host: bool,
    /// `FailMasterPromotionOnLagMinutes`: refuse to promote a replica
    /// lagging at least this many minutes (0: off; an unknown lag passes).
    #[serde(rename = "FailMasterPromotionOnLagMinutes")]
    pub fail_master_promotion_on_lag_minutes: u64,
    /// `FailMasterPromotionIfSQLThreadNotUpToDate`: refuse to promote a
    /// replica that has not applied all the relay log it received.
    #[serde(rename = "FailMasterPromotionIfSQLThreadNotUpToDate")]
    pub fail_master_promotion_if_sql_thread_not_up_to_date: bool,
    /// `DelayMasterPromotionIfSQLThreadNotUpToDate`: before promoting, wait
    /// up to 6 × `ReasonableReplicationLagSeconds` more for relay logs to apply.
    #[serde(rename = "DelayMasterPromotionIfSQLThreadNotUpToDate")]
    pub delay_master_promotion_if_sql_thread_not_up_to_date: bool,
    /// `InstanceBulkOperationsWaitTimeoutSeconds`: how long replicas get to
    /// apply their relay logs during a recovery.
    #[serde(rename = "InstanceBulkOperationsWaitTimeoutSeconds")]
    pub instance_bulk_operations_wait_timeout_seconds: f64,
    /// `MaxConcurrentReplicaOperations`: most servers a recovery or
    /// operation changes at once (default 5).
    #[serde(rename = "MaxConcurrentReplicaOperations")]
    pub max_concurrent_replica_operations: usize,
    /// `InstancePoolExpiryMinutes`: a pool submission lapses after this.
    #[serde(rename = "InstancePoolExpiryMinutes")]
    pub instance_pool_expiry_minutes: f64,
    /// `CandidateInstanceExpireMinutes`: a registered promotion rule lapses after this.
    #[serde(rename = "CandidateInstanceExpireMinutes")]
    pub candidate_instance_expire_minutes: f64,
    /// `UseSuperReadOnly`: also set `super_read_only` with `read_only` (MySQL,
    /// not MariaDB) when making a server read-only or writable.
    #[serde(rename = "UseSuperReadOnly")]
    pub use_super_read_only: bool,
    /// `ReplicationCredentialsQuery`: returns user and password for a
    /// demoted master to replicate from its successor.
    #[serde(rename = "ReplicationCredentialsQuery")]
    pub replication_credentials_query: String,
    /// `ReplicationUser` (ours): replication user when no credentials query is set.
    #[serde(rename = "ReplicationUser")]
    pub replication_user: String,
    /// `ReplicationPassword` (ours).
    #[serde(rename = "ReplicationPassword")]
    pub replication_password: String,
    /// `RecoveryLeaseTtlMilliseconds` (ours): a recovery service that stops
    /// renewing its cluster lease loses it after this long.
    #[serde(rename = "RecoveryLeaseTtlMilliseconds")]
    pub recovery_lease_ttl_milliseconds: u64,
    /// `RecoveryNodeId` (ours): id of a recovery service (default: hostname-pid).
    #[serde(rename = "RecoveryNodeId")]
    pub recovery_node_id: String,

    // --- ours: distribution ---
    /// `NatsUrl` (ours): the bus for distributed roles (also `--nats`).
    #[serde(rename = "NatsUrl")]
    pub nats_url: String,
    /// `KVClusterMasterPrefix`: where masters are published in the KV
    /// stores (`<prefix>/<cluster alias>`).
    #[serde(rename = "KVClusterMasterPrefix")]
    pub kv_cluster_master_prefix: String,
    /// `ZkAddress`: comma-separated `host:port` servers of a ZooKeeper
    /// ensemble masters are published to (znodes `/<KVClusterMasterPrefix>/<alias>`,
    /// `/hostname`, `/port`, and the fencing token); empty: none.
    #[serde(rename = "ZkAddress")]
    pub zk_address: String,
    /// `NatsKVBucket` (ours): a NATS JetStream key-value bucket masters are
    /// published to over the bus (one JSON value per cluster: master and
    /// fencing token); empty: none.
    #[serde(rename = "NatsKVBucket")]
    pub nats_kv_bucket: String,
    /// `EtcdAddress` (ours): comma-separated `http://host:port` endpoints
    /// of an etcd cluster masters are published to (empty: none).
    #[serde(rename = "EtcdAddress")]
    pub etcd_address: String,
    /// `ConsulAddress`: `host:port` of a Consul agent masters are
    /// published to (empty: none).
    #[serde(rename = "ConsulAddress")]
    pub consul_address: String,
    /// `ConsulScheme`: `http` (https is refused at start-up for now).
    #[serde(rename = "ConsulScheme")]
    pub consul_scheme: String,
    /// `ConsulAclToken`: sent to Consul as `X-Consul-Token`.
    #[serde(rename = "ConsulAclToken")]
    pub consul_acl_token: String,
    /// `ConsulKVStoreProvider`: `consul` or `consul-txn`; both write one
    /// transaction per cluster (the fencing check commits with the keys).
    #[serde(rename = "ConsulKVStoreProvider")]
    pub consul_kv_store_provider: String,
    /// `ConsulMaxKVsPerTransaction`: orchestrator's bound (5..64) on a
    /// transaction's operations; a cluster's publication is five
    /// operations, within any value (out-of-range values are clamped, as
    /// orchestrator does).
    #[serde(rename = "ConsulMaxKVsPerTransaction")]
    pub consul_max_kvs_per_transaction: u32,
    /// `ConsulCrossDataCenterDistribution`: also publish in every other
    /// datacenter the agent's catalog lists.
    #[serde(rename = "ConsulCrossDataCenterDistribution")]
    pub consul_cross_data_center_distribution: bool,
    /// `NatsReplicas` (ours): JetStream replicas of every stream and bucket
    /// the roles create (findings, leases, ...): 3 on a 3-node NATS cluster
    /// so that losing a node loses nothing. Default 1 (one server).
    #[serde(rename = "NatsReplicas")]
    pub nats_replicas: u32,
    /// `NatsCAFile` (ours): the authority the NATS server's certificate
    /// must chain to (implies TLS).
    #[serde(rename = "NatsCAFile")]
    pub nats_ca_file: String,
    /// `NatsCertFile` (ours): client certificate for NATS (mutual TLS).
    #[serde(rename = "NatsCertFile")]
    pub nats_cert_file: String,
    /// `NatsKeyFile` (ours): its private key.
    #[serde(rename = "NatsKeyFile")]
    pub nats_key_file: String,
    /// `ProberId` (ours): stable id of a prober process (default: hostname-pid).
    #[serde(rename = "ProberId")]
    pub prober_id: String,
    /// `ProberVantage` (ours): failure domain of a prober (data centre, zone).
    #[serde(rename = "ProberVantage")]
    pub prober_vantage: String,
    /// `ProberHeartbeatMilliseconds` (ours).
    #[serde(rename = "ProberHeartbeatMilliseconds")]
    pub prober_heartbeat_milliseconds: u64,
    /// `ProberMembershipTtlMilliseconds` (ours): a prober silent this long is dead.
    #[serde(rename = "ProberMembershipTtlMilliseconds")]
    pub prober_membership_ttl_milliseconds: u64,
    /// `ProberStandbyConnections` (ours, default true): with several
    /// probers, each instance's next prober in rank keeps a connection open
    /// to it, so that it probes at once when the owner dies.
    #[serde(rename = "ProberStandbyConnections")]
    pub prober_standby_connections: bool,
    /// `AnalyzerShardReplicas` (ours, default 0): 0, every analyzer holds
    /// every cluster (replicated); above 0, analyzers divide the clusters
    /// among themselves, this many holding each.
    #[serde(rename = "AnalyzerShardReplicas")]
    pub analyzer_shard_replicas: u32,

    // --- ours: telemetry ---
    /// `LogFormat` (ours): `text` (default; coloured only on a terminal)
    /// or `json` (one JSON object per line).
    #[serde(rename = "LogFormat")]
    pub log_format: String,
    /// `OtlpEndpoint` (ours): OTLP/gRPC collector (`http://host:4317`)
    /// spans are exported to; empty: no export.
    #[serde(rename = "OtlpEndpoint")]
    pub otlp_endpoint: String,
    /// `MetricsListenAddress` (ours): where a process without the gateway
    /// (a prober, analyzer or recovery process) serves `/metrics` and
    /// `/health`; empty: nowhere. The gateway serves them on
    /// `ListenAddress`.
    #[serde(rename = "MetricsListenAddress")]
    pub metrics_listen_address: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => {
                for (key, value) in map.iter_mut() {
                    if is_secret_key(key) && value.as_str().is_some_and(|v| !v.is_empty()) {
                        *value = Value::String("<redacted>".into());
                    }
                }
                write!(f, "Config {}", Value::Object(map))
            }
            _ => f.write_str("Config { .. }"),
        }
    }
}

/// Keys whose values are secrets: never logged, never answered.
pub fn is_secret_key(key: &str) -> bool {
    key.contains("Password") || key.contains("Secret") || key.contains("Token")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen_address: ":3000".into(),
            grpc_listen_address: ":3001".into(),
            url_prefix: String::new(),
            http_advertise: String::new(),
            read_only: false,
            authentication_method: String::new(),
            http_auth_user: String::new(),
            http_auth_password: String::new(),
            auth_user_header: "X-Forwarded-User".into(),
            power_auth_users: vec!["*".into()],
            power_auth_groups: Vec::new(),
            raft_enabled: false,
            use_ssl: false,
            use_mutual_tls: false,
            ssl_cert_file: String::new(),
            ssl_private_key_file: String::new(),
            ssl_ca_file: String::new(),
            ssl_valid_ous: Vec::new(),
            backend_db: "sqlite".into(),
            sqlite3_data_file: "orchestrator.sqlite3".into(),
            mysql_orchestrator_host: String::new(),
            mysql_orchestrator_port: 3306,
            mysql_orchestrator_database: "orchestrator".into(),
            mysql_orchestrator_user: String::new(),
            mysql_orchestrator_password: String::new(),
            mysql_orchestrator_credentials_config_file: String::new(),
            mysql_orchestrator_read_timeout_seconds: 30.0,
            mysql_orchestrator_use_mutual_tls: false,
            mysql_orchestrator_ssl_ca_file: String::new(),
            mysql_orchestrator_ssl_cert_file: String::new(),
            mysql_orchestrator_ssl_private_key_file: String::new(),
            mysql_orchestrator_ssl_skip_verify: false,
            mysql_topology_user: String::new(),
            mysql_topology_password: String::new(),
            mysql_topology_credentials_config_file: String::new(),
            mysql_connect_timeout_seconds: 2.0,
            mysql_discovery_read_timeout_seconds: 3.0,
            mysql_topology_read_timeout_seconds: 600.0,
            default_instance_port: 3306,
            mysql_topology_use_mutual_tls: false,
            mysql_topology_use_mixed_tls: true,
            mysql_topology_ssl_ca_file: String::new(),
            mysql_topology_ssl_cert_file: String::new(),
            mysql_topology_ssl_private_key_file: String::new(),
            mysql_topology_ssl_skip_verify: false,
            instance_poll_seconds: 5.0,
            discovery_seeds: Vec::new(),
            // What this build always does (orchestrator's default is false).
            discover_by_show_slave_hosts: true,
            discovery_ignore_hostname_filters: Vec::new(),
            discovery_ignore_replica_hostname_filters: Vec::new(),
            discovery_ignore_master_hostname_filters: Vec::new(),
            hostname_resolve_method: "default".into(),
            expiry_hostname_resolves_minutes: 60.0,
            reject_hostname_resolve_pattern: String::new(),
            mysql_hostname_resolve_method: "none".into(),
            replication_lag_query: String::new(),
            detect_data_center_query: String::new(),
            detect_region_query: String::new(),
            detect_physical_environment_query: String::new(),
            detect_instance_alias_query: String::new(),
            detect_cluster_alias_query: String::new(),
            detect_cluster_domain_query: String::new(),
            detect_promotion_rule_query: String::new(),
            detect_semi_sync_enforced_query: String::new(),
            data_center_pattern: String::new(),
            region_pattern: String::new(),
            physical_environment_pattern: String::new(),
            cluster_name_to_alias: BTreeMap::new(),
            reasonable_replication_lag_seconds: 10,
            reasonable_maintenance_replication_lag_seconds: 20,
            recover_master_cluster_filters: Vec::new(),
            recover_intermediate_master_cluster_filters: Vec::new(),
            failure_detection_period_block_minutes: 60.0,
            recovery_ignore_hostname_filters: Vec::new(),
            recover_non_writeable_master: false,
            enforce_exact_semi_sync_replicas: false,
            reasonable_locked_semi_sync_master_seconds: 0.0,
            hung_master_grace_seconds: 10.0,
            unreachable_vantage_quorum: 0,
            probers_per_instance: 1,
            recovery_period_block_seconds: 3600,
            recovery_period_block_minutes: 0,
            promotion_ignore_hostname_filters: Vec::new(),
            processes_shell_command: "bash".into(),
            on_failure_detection_processes: Vec::new(),
            pre_graceful_takeover_processes: Vec::new(),
            pre_failover_processes: Vec::new(),
            post_failover_processes: Vec::new(),
            post_unsuccessful_failover_processes: Vec::new(),
            post_master_failover_processes: Vec::new(),
            post_intermediate_master_failover_processes: Vec::new(),
            post_graceful_takeover_processes: Vec::new(),
            post_take_master_processes: Vec::new(),
            pseudo_gtid_pattern: String::new(),
            pseudo_gtid_pattern_is_fixed_substring: false,
            pseudo_gtid_monotonic_hint: String::new(),
            binlog_events_chunk_size: 10_000,
            skip_binlog_events_containing: Vec::new(),
            hook_timeout_seconds: 60.0,
            co_master_recovery_must_promote_other_co_master: true,
            detach_lost_replicas_after_master_failover: true,
            apply_mysql_promotion_after_master_failover: true,
            prevent_cross_data_center_master_failover: false,
            prevent_cross_region_master_failover: false,
            master_failover_lost_instances_downtime_minutes: 0.0,
            master_failover_detach_replica_master_host: false,
            fail_master_promotion_on_lag_minutes: 0,
            fail_master_promotion_if_sql_thread_not_up_to_date: false,
            delay_master_promotion_if_sql_thread_not_up_to_date: false,
            instance_bulk_operations_wait_timeout_seconds: 10.0,
            max_concurrent_replica_operations: 5,
            candidate_instance_expire_minutes: 60.0,
            instance_pool_expiry_minutes: 60.0,
            use_super_read_only: false,
            replication_credentials_query: String::new(),
            replication_user: String::new(),
            replication_password: String::new(),
            recovery_lease_ttl_milliseconds: 5000,
            recovery_node_id: String::new(),
            nats_url: String::new(),
            nats_replicas: 1,
            kv_cluster_master_prefix: "mysql/master".into(),
            etcd_address: String::new(),
            consul_address: String::new(),
            consul_scheme: "http".into(),
            consul_acl_token: String::new(),
            consul_kv_store_provider: "consul".into(),
            consul_max_kvs_per_transaction: 5,
            consul_cross_data_center_distribution: false,
            zk_address: String::new(),
            nats_kv_bucket: String::new(),
            nats_ca_file: String::new(),
            nats_cert_file: String::new(),
            nats_key_file: String::new(),
            prober_id: String::new(),
            prober_vantage: String::new(),
            // One heartbeat a second lands on the poll grid (whole
            // seconds), so it shares the poll's wake-up; the TTL lets one
            // heartbeat be up to 1.5 s late without a membership change.
            prober_heartbeat_milliseconds: 1000,
            prober_membership_ttl_milliseconds: 2500,
            prober_standby_connections: true,
            analyzer_shard_replicas: 0,
            log_format: String::new(),
            otlp_endpoint: String::new(),
            metrics_listen_address: String::new(),
        }
    }
}

/// Keys this build acts on: every field of [`Config`] (by its JSON name)
/// and the synonyms it accepts.
pub fn implemented_keys() -> Vec<String> {
    let mut keys: Vec<String> = match serde_json::to_value(Config::default()) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    keys.extend(SYNONYM_OF.iter().map(|(s, _)| s.to_string()));
    keys
}

/// Accepted synonyms (orchestrator's legacy spellings) of implemented keys.
const SYNONYM_OF: &[(&str, &str)] = &[
    ("SlaveLagQuery", "ReplicationLagQuery"),
    (
        "DetachLostSlavesAfterMasterFailover",
        "DetachLostReplicasAfterMasterFailover",
    ),
    (
        "MasterFailoverDetachSlaveMasterHost",
        "MasterFailoverDetachReplicaMasterHost",
    ),
];

/// Where orchestrator looks for its configuration without `--config`, in
/// the order it reads them (a later file overrides an earlier one).
pub const DEFAULT_CONFIG_FILES: &[&str] = &[
    "/etc/orchestrator.conf.json",
    "conf/orchestrator.conf.json",
    "orchestrator.conf.json",
];

/// reported at start-up, never silently dropped.
pub const NOT_YET_IMPLEMENTED_KEYS: &[&str] = &[
    "Debug",
    "EnableSyslog",
    "ListenSocket",
    "AgentsServerPort",
    "StatusEndpoint",
    "SSLSkipVerify",
    "AccessTokenUseExpirySeconds",
    "AccessTokenExpiryMinutes",
    "OAuthClientId",
    "OAuthClientSecret",
    "OAuthScopes",
    "MySQLOrchestratorMaxPoolConnections",
    "MySQLOrchestratorRejectReadOnly",
    "MySQLConnectionLifetimeSeconds",
    "MySQLTopologyMaxPoolConnections",
    "SkipOrchestratorDatabaseUpdate",
    "PanicIfDifferentDatabaseDeploy",
    "RaftBind",
    "RaftAdvertise",
    "RaftDataDir",
    "DefaultRaftPort",
    "RaftNodes",
    "ExpectFailureAnalysisConcensus",
    "BackendDBConnectTimeout",
    "DiscoveryMaxConcurrency",
    "DiscoveryQueueCapacity",
    "DiscoveryQueueMaxStatisticsSize",
    "DiscoveryCollectionRetentionSeconds",
    "UnseenInstanceForgetHours",
    "SnapshotTopologiesIntervalHours",
    // A probe's answer reaches the analyzer only when it completes, and a
    // probe that hangs ends as a timeout after MySQLDiscoveryReadTimeoutSeconds,
    // which is what invalidates the last check here.
    "ReasonableInstanceCheckSeconds",
    "ProblemIgnoreHostnameFilters",
    "VerifyReplicationFilters",
    "AuditLogFile",
    "AuditToSyslog",
    "AuditToBackendDB",
    "AuditPurgeDays",
    "RemoveTextFromHostnameDisplay",
    "ReadLongRunningQueries",
    "SkipMaxScaleCheck",
    "UnseenAgentForgetHours",
    "StaleSeedFailMinutes",
    "SeedAcceptableBytesDiff",
    "SeedWaitSecondsBeforeSend",
    "AutoPseudoGTID",
    "DetectPseudoGTIDQuery",
    "ReduceReplicationAnalysisCount",
    "PostponeSlaveRecoveryOnLagMinutes",
    "PostponeReplicaRecoveryOnLagMinutes",
    "OSCIgnoreHostnameFilters",
    "GraphiteAddr",
    "GraphitePath",
    "GraphiteConvertHostnameDotsToUnderscores",
    "GraphitePollSeconds",
    "WebMessage",
    "RecoverLockedSemiSyncMaster",
    "BufferInstanceWrites",
    "InstanceWriteBufferSize",
    "InstanceFlushIntervalMilliseconds",
    "MySQLInterpolateParams",
];

/// What loading found worth telling the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Keys nobody knows (typos, other tools' keys).
    pub unknown_keys: Vec<String>,
    /// orchestrator keys accepted but not acted on by this build.
    pub not_implemented_keys: Vec<String>,
    /// Keys set from the environment.
    pub from_environment: Vec<String>,
    /// Values this build accepts but does not act on as orchestrator
    /// would, with what it does instead.
    pub partly_implemented: Vec<String>,
}

impl LoadReport {
    /// One line per finding, for logs.
    pub fn warnings(&self) -> Vec<String> {
        let mut w: Vec<String> = self
            .unknown_keys
            .iter()
            .map(|k| format!("unknown configuration key {k:?} (ignored): check its spelling"))
            .collect();
        w.extend(self.not_implemented_keys.iter().map(|k| {
            format!("configuration key {k:?} is not supported by this version yet (ignored)")
        }));
        w.extend(self.partly_implemented.iter().cloned());
        w
    }
}

fn config_error(path: Option<&Path>, reason: impl Into<String>) -> Error {
    Error::Config {
        path: path.map(Path::to_path_buf),
        reason: reason.into(),
    }
}

impl Config {
    /// Loads a file (when given), applies `ORC__<Key>` variables from `env`,
    /// checks every key and validates.
    pub fn load(
        path: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<(Self, LoadReport), Error> {
        let files: Vec<&Path> = path.into_iter().collect();
        Self::load_files(&files, env)
    }

    /// Loads `files` in order (a key in a later file overrides the same key
    /// in an earlier one, as orchestrator reads its default locations),
    /// then `ORC__<Key>` variables from `env`; checks every key and validates.
    pub fn load_files(
        files: &[&Path],
        env: &[(String, String)],
    ) -> Result<(Self, LoadReport), Error> {
        let path = files.last().copied();
        let mut object = Map::new();
        for p in files {
            let text = std::fs::read_to_string(p)
                .map_err(|e| config_error(Some(p), format!("cannot read: {e}")))?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => object.extend(map),
                Ok(_) => {
                    return Err(config_error(Some(p), "the file must hold one JSON object"));
                }
                Err(e) => return Err(config_error(Some(p), format!("not valid JSON: {e}"))),
            }
        }
        let mut report = LoadReport::default();
        for (name, raw) in env {
            if let Some(key) = name.strip_prefix("ORC__") {
                let value =
                    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()));
                object.insert(key.to_string(), value);
                report.from_environment.push(key.to_string());
            }
        }
        let implemented = implemented_keys();
        let mut known = Map::new();
        for (key, value) in object {
            if implemented.contains(&key) {
                let single: Map<String, Value> =
                    [(key.clone(), value.clone())].into_iter().collect();
                if let Err(e) = serde_json::from_value::<Config>(Value::Object(single)) {
                    return Err(config_error(path, format!("key {key}: {e}")));
                }
                known.insert(key, value);
            } else if NOT_YET_IMPLEMENTED_KEYS.contains(&key.as_str()) {
                report.not_implemented_keys.push(key);
            } else {
                report.unknown_keys.push(key);
            }
        }
        report.unknown_keys.sort();
        report.not_implemented_keys.sort();
        for (synonym, key) in SYNONYM_OF {
            if known.contains_key(*synonym) && known.contains_key(*key) {
                return Err(config_error(
                    path,
                    format!("{synonym} and {key} are the same setting: keep only {key}"),
                ));
            }
        }
        if known.get("DiscoverByShowSlaveHosts") == Some(&Value::Bool(false)) {
            report.partly_implemented.push(
                "DiscoverByShowSlaveHosts false is not honoured: replicas are always looked up with SHOW SLAVE HOSTS first, then the processlist".into(),
            );
        }
        if known.get("EnforceExactSemiSyncReplicas") == Some(&Value::Bool(true)) {
            report.partly_implemented.push(
                "EnforceExactSemiSyncReplicas is detection only in this version: MasterWithTooManySemiSyncReplicas is reported, but semi-sync is not turned off on the extra replicas".into(),
            );
        }
        let mut config: Config = serde_json::from_value(Value::Object(known))
            .map_err(|e| config_error(path, e.to_string()))?;
        config.expand_secrets(path)?;
        config
            .validate()
            .map_err(|reason| config_error(path, reason))?;
        Ok((config, report))
    }

    fn expand_secrets(&mut self, path: Option<&Path>) -> Result<(), Error> {
        for secret in [
            &mut self.mysql_topology_password,
            &mut self.mysql_orchestrator_password,
            &mut self.http_auth_password,
        ] {
            if let Some(var) = secret.strip_prefix("${").and_then(|s| s.strip_suffix('}')) {
                *secret = std::env::var(var).map_err(|_| {
                    config_error(
                        path,
                        format!("password refers to unset environment variable {var}"),
                    )
                })?;
            }
        }
        if !self.mysql_topology_credentials_config_file.is_empty() {
            let (u, p) =
                read_credentials_file(Path::new(&self.mysql_topology_credentials_config_file))?;
            self.mysql_topology_user = u;
            self.mysql_topology_password = p;
        }
        if !self.mysql_orchestrator_credentials_config_file.is_empty() {
            let (u, p) =
                read_credentials_file(Path::new(&self.mysql_orchestrator_credentials_config_file))?;
            self.mysql_orchestrator_user = u;
            self.mysql_orchestrator_password = p;
        }
        Ok(())
    }

    /// Consul's settings (orchestrator's `Consul*` keys).
    pub fn consul(&self) -> crate::consul::ConsulSettings {
        crate::consul::ConsulSettings {
            address: self.consul_address.clone(),
            scheme: self.consul_scheme.clone(),
            acl_token: self.consul_acl_token.clone(),
            provider: self.consul_kv_store_provider.clone(),
            cross_datacenter: self.consul_cross_data_center_distribution,
        }
    }

    /// Checks values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64, max: f64| {
            if v.is_finite() && v > 0.0 && v <= max {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be greater than 0 and at most {max}, got {v}"
                ))
            }
        };
        positive("InstancePollSeconds", self.instance_poll_seconds, 3600.0)?;
        for a in self
            .etcd_address
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            let endpoint = a
                .strip_prefix("http://")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
            if !endpoint {
                return Err(format!(
                    "EtcdAddress: {a:?} is not an http://host:port endpoint"
                ));
            }
        }
        self.log_format.parse::<orc_telemetry::LogFormat>()?;
        if !self.otlp_endpoint.is_empty() {
            let endpoint = ["http://", "https://"].iter().any(|scheme| {
                self.otlp_endpoint
                    .strip_prefix(scheme)
                    .is_some_and(|rest| !rest.is_empty())
            });
            if !endpoint {
                return Err(format!(
                    "OtlpEndpoint: {:?} is not an http(s)://host:port endpoint",
                    self.otlp_endpoint
                ));
            }
        }
        if !self.metrics_listen_address.is_empty() {
            parse_listen_address(&self.metrics_listen_address)
                .map_err(|e| format!("MetricsListenAddress: {e}"))?;
        }
        for z in self
            .zk_address
            .split(',')
            .map(str::trim)
            .filter(|z| !z.is_empty())
        {
            let server = z
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
                && !z.contains('/');
            if !server {
                return Err(format!("ZkAddress: {z:?} is not a host:port server"));
            }
        }
        self.consul().validate()?;
        if !self
            .nats_kv_bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "NatsKVBucket: {:?} may hold only letters, digits, - and _",
                self.nats_kv_bucket
            ));
        }
        if !(1..=5).contains(&self.nats_replicas) {
            return Err(format!(
                "NatsReplicas must be between 1 and 5 (JetStream's limit), got {}",
                self.nats_replicas
            ));
        }
        positive(
            "MySQLConnectTimeoutSeconds",
            self.mysql_connect_timeout_seconds,
            3600.0,
        )?;
        positive(
            "MySQLDiscoveryReadTimeoutSeconds",
            self.mysql_discovery_read_timeout_seconds,
            3600.0,
        )?;
        positive(
            "MySQLTopologyReadTimeoutSeconds",
            self.mysql_topology_read_timeout_seconds,
            86400.0,
        )?;
        positive(
            "MySQLOrchestratorReadTimeoutSeconds",
            self.mysql_orchestrator_read_timeout_seconds,
            3600.0,
        )?;
        if self.default_instance_port == 0 {
            return Err("DefaultInstancePort must be between 1 and 65535".into());
        }
        match self.backend_db.to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => {
                if self.sqlite3_data_file.trim().is_empty() {
                    return Err("SQLite3DataFile is required when BackendDB is sqlite".into());
                }
            }
            "mysql" => {
                if self.mysql_orchestrator_host.trim().is_empty() {
                    return Err("MySQLOrchestratorHost is required when BackendDB is mysql".into());
                }
            }
            other => return Err(format!("BackendDB must be sqlite or mysql, got {other:?}")),
        }
        match self.mysql_hostname_resolve_method.as_str() {
            "@@hostname" | "@@report_host" | "none" | "" => {}
            other => {
                return Err(format!(
                    "MySQLHostnameResolveMethod must be @@hostname, @@report_host or none, got {other:?}"
                ));
            }
        }
        match self.hostname_resolve_method.as_str() {
            "default" | "none" | "cname" | "ip" | "" => {}
            other => {
                return Err(format!(
                    "HostnameResolveMethod must be default, cname, ip or none, got {other:?}"
                ));
            }
        }
        parse_listen_address(&self.listen_address).map_err(|e| format!("ListenAddress: {e}"))?;
        parse_listen_address(&self.grpc_listen_address)
            .map_err(|e| format!("GrpcListenAddress: {e}"))?;
        for (name, pattern) in [
            (
                "RejectHostnameResolvePattern",
                &self.reject_hostname_resolve_pattern,
            ),
            ("DataCenterPattern", &self.data_center_pattern),
            ("RegionPattern", &self.region_pattern),
            (
                "PhysicalEnvironmentPattern",
                &self.physical_environment_pattern,
            ),
        ] {
            if !pattern.is_empty() {
                regex::Regex::new(pattern).map_err(|e| format!("{name}: {e}"))?;
            }
        }
        for pattern in self.cluster_name_to_alias.keys().chain(
            self.discovery_ignore_hostname_filters
                .iter()
                .chain(&self.discovery_ignore_replica_hostname_filters)
                .chain(&self.discovery_ignore_master_hostname_filters),
        ) {
            regex::Regex::new(pattern)
                .map_err(|e| format!("bad regular expression {pattern:?}: {e}"))?;
        }
        if !self.pseudo_gtid_pattern.is_empty() && !self.pseudo_gtid_pattern_is_fixed_substring {
            regex::Regex::new(&self.pseudo_gtid_pattern)
                .map_err(|e| format!("PseudoGTIDPattern: {e}"))?;
        }
        if self.binlog_events_chunk_size == 0 {
            return Err("BinlogEventsChunkSize must be at least 1".into());
        }
        for pattern in &self.recovery_ignore_hostname_filters {
            regex::Regex::new(pattern).map_err(|e| {
                format!("RecoveryIgnoreHostnameFilters: bad regular expression {pattern:?}: {e}")
            })?;
        }
        if !(self.hung_master_grace_seconds.is_finite() && self.hung_master_grace_seconds >= 0.0) {
            return Err("HungMasterGraceSeconds must be 0 or more".into());
        }
        if self.probers_per_instance == 0 {
            return Err("ProbersPerInstance must be at least 1".into());
        }
        for seed in &self.discovery_seeds {
            orc_model::InstanceKey::parse_with_default_port(seed, self.default_instance_port)
                .map_err(|e| format!("DiscoverySeeds: {e}"))?;
        }
        for pattern in &self.promotion_ignore_hostname_filters {
            regex::Regex::new(pattern).map_err(|e| {
                format!("PromotionIgnoreHostnameFilters: bad regular expression {pattern:?}: {e}")
            })?;
        }
        if self.processes_shell_command.trim().is_empty() {
            return Err("ProcessesShellCommand must name a shell, e.g. bash".into());
        }
        if !(self.hook_timeout_seconds.is_finite() && self.hook_timeout_seconds >= 0.0) {
            return Err("HookTimeoutSeconds must be 0 (no limit) or more".into());
        }
        positive(
            "InstanceBulkOperationsWaitTimeoutSeconds",
            self.instance_bulk_operations_wait_timeout_seconds,
            3600.0,
        )?;
        if self.max_concurrent_replica_operations == 0 {
            return Err("MaxConcurrentReplicaOperations must be at least 1".into());
        }
        if !(self
            .master_failover_lost_instances_downtime_minutes
            .is_finite()
            && self.master_failover_lost_instances_downtime_minutes >= 0.0)
        {
            return Err("MasterFailoverLostInstancesDowntimeMinutes must be 0 or more".into());
        }
        positive(
            "InstancePoolExpiryMinutes",
            self.instance_pool_expiry_minutes,
            1e7,
        )?;
        positive(
            "CandidateInstanceExpireMinutes",
            self.candidate_instance_expire_minutes,
            1e7,
        )?;
        if self.recovery_lease_ttl_milliseconds < 500 {
            return Err("RecoveryLeaseTtlMilliseconds must be at least 500".into());
        }
        if self.prober_membership_ttl_milliseconds < self.prober_heartbeat_milliseconds * 2 {
            return Err("ProberMembershipTtlMilliseconds must be at least twice ProberHeartbeatMilliseconds".into());
        }
        self.validate_security()
    }

    /// The keys that guard access: each works as asked or stops start-up.
    fn validate_security(&self) -> Result<(), String> {
        if self.raft_enabled {
            return Err(
                "RaftEnabled: raft is not supported; orchestrator-rs is highly \
                available without it: set NatsUrl (or --nats) and run the prober, analyzer, \
                recovery and gateway roles as separate processes, several of each \
                (README, \"Distributed mode\"), and remove RaftEnabled"
                    .into(),
            );
        }
        match self.auth_method() {
            Ok(AuthMethod::None | AuthMethod::Proxy) => {}
            Ok(m @ (AuthMethod::Basic | AuthMethod::Multi)) => {
                if self.http_auth_user.is_empty() {
                    return Err(format!(
                        "AuthenticationMethod {:?} needs HTTPAuthUser and HTTPAuthPassword",
                        m.name()
                    ));
                }
                if self.http_auth_password.is_empty() {
                    return Err(format!(
                        "AuthenticationMethod {:?} needs a non-empty HTTPAuthPassword",
                        m.name()
                    ));
                }
                if m == AuthMethod::Multi && self.http_auth_user == "readonly" {
                    return Err(
                        "HTTPAuthUser cannot be \"readonly\" with AuthenticationMethod multi: \
                         that name is the read-only user"
                            .into(),
                    );
                }
            }
            Err(e) => return Err(e),
        }
        if self.auth_method() == Ok(AuthMethod::Proxy)
            && axum_like_header_name(&self.auth_user_header).is_err()
        {
            return Err(format!(
                "AuthUserHeader {:?} is not a valid HTTP header name",
                self.auth_user_header
            ));
        }
        if !self.use_ssl {
            for (key, set) in [
                ("UseMutualTLS", self.use_mutual_tls),
                ("SSLValidOUs", !self.ssl_valid_ous.is_empty()),
            ] {
                if set {
                    return Err(format!("{key} needs UseSSL: true"));
                }
            }
        }
        if !self.ssl_valid_ous.is_empty() && !self.use_mutual_tls {
            return Err(
                "SSLValidOUs needs UseMutualTLS: true (OUs are read from client certificates)"
                    .into(),
            );
        }
        if self.mysql_topology_use_mutual_tls
            && self.mysql_topology_ssl_ca_file.is_empty()
            && !self.mysql_topology_ssl_skip_verify
        {
            return Err("MySQLTopologyUseMutualTLS needs MySQLTopologySSLCAFile (or MySQLTopologySSLSkipVerify: true)".into());
        }
        if self.mysql_orchestrator_use_mutual_tls {
            if self.uses_sqlite() {
                return Err(
                    "MySQLOrchestratorUseMutualTLS applies to BackendDB mysql, not sqlite".into(),
                );
            }
            if self.mysql_orchestrator_ssl_ca_file.is_empty()
                && !self.mysql_orchestrator_ssl_skip_verify
            {
                return Err("MySQLOrchestratorUseMutualTLS needs MySQLOrchestratorSSLCAFile (or MySQLOrchestratorSSLSkipVerify: true)".into());
            }
        }
        crate::tls::check_files(self).map_err(|e| e.to_string())
    }

    /// `AuthenticationMethod`, parsed.
    pub fn auth_method(&self) -> Result<AuthMethod, String> {
        match self.authentication_method.to_ascii_lowercase().as_str() {
            "" => Ok(AuthMethod::None),
            "basic" => Ok(AuthMethod::Basic),
            "multi" => Ok(AuthMethod::Multi),
            "proxy" => Ok(AuthMethod::Proxy),
            m @ ("token" | "oauth") => Err(format!(
                "AuthenticationMethod {m:?} is not supported: use basic, multi or proxy \
                 (an authenticating proxy in front of the API)"
            )),
            other => Err(format!(
                "AuthenticationMethod must be \"\", basic, multi or proxy, got {other:?}"
            )),
        }
    }

    /// `InstancePollSeconds` as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs_f64(self.instance_poll_seconds)
    }

    /// How stale an observation may be before it says nothing: a prober
    /// that stopped reporting cannot keep a server "valid".
    pub fn stale_after(&self) -> Duration {
        let poll = self.instance_poll_seconds;
        let probe = self.mysql_connect_timeout_seconds + self.mysql_discovery_read_timeout_seconds;
        Duration::from_secs_f64((3.0 * poll).max(poll + probe) + 1.0)
    }

    /// The analysis policy this configuration asks for.
    pub fn analysis_policy(&self) -> orc_analysis::AnalysisPolicy {
        orc_analysis::AnalysisPolicy {
            poll_interval: self.poll_interval(),
            stale_after: self.stale_after(),
            reasonable_replication_lag_seconds: self.reasonable_replication_lag_seconds,
            reasonable_locked_semi_sync_master: Duration::from_secs_f64(
                self.reasonable_locked_semi_sync_master_seconds.max(0.0),
            ),
            enforce_exact_semi_sync_replicas: self.enforce_exact_semi_sync_replicas,
            recover_non_writeable_master: self.recover_non_writeable_master,
            recovery_ignore_hostname_filters: self
                .recovery_ignore_hostname_filters
                .iter()
                .filter_map(|r| regex::Regex::new(r).ok())
                .collect(),
            hung_grace: Duration::from_secs_f64(self.hung_master_grace_seconds.max(0.0)),
            vantages_per_instance: usize::try_from(self.probers_per_instance)
                .unwrap_or(1)
                .max(1),
            vantage_quorum: (self.unreachable_vantage_quorum > 0)
                .then(|| usize::try_from(self.unreachable_vantage_quorum).unwrap_or(usize::MAX)),
            include_no_problem: false,
            pseudo_gtid: !self.pseudo_gtid_pattern.is_empty(),
        }
    }

    /// The anti-flapping block after a recovery (`RecoveryPeriodBlockSeconds`,
    /// or the legacy minutes key when only that one is set).
    pub fn recovery_period_block(&self) -> Duration {
        if self.recovery_period_block_seconds == 3600 && self.recovery_period_block_minutes > 0 {
            Duration::from_secs(self.recovery_period_block_minutes.saturating_mul(60))
        } else {
            Duration::from_secs(self.recovery_period_block_seconds)
        }
    }

    /// Whether the backend is SQLite.
    pub fn uses_sqlite(&self) -> bool {
        self.backend_db.to_ascii_lowercase().starts_with("sqlite")
    }

    /// The SQLite file.
    pub fn sqlite_path(&self) -> PathBuf {
        PathBuf::from(&self.sqlite3_data_file)
    }
}

/// How API callers are authenticated (`AuthenticationMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `""`: everyone may do everything (unless `ReadOnly`).
    None,
    /// `basic`: every call needs `HTTPAuthUser`/`HTTPAuthPassword`.
    Basic,
    /// `multi`: as basic, and the user `readonly` (any password) may read.
    Multi,
    /// `proxy`: a trusted proxy names the user in `AuthUserHeader`;
    /// `PowerAuthUsers`/`PowerAuthGroups` may change things.
    Proxy,
}

impl AuthMethod {
    /// orchestrator's name.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "",
            AuthMethod::Basic => "basic",
            AuthMethod::Multi => "multi",
            AuthMethod::Proxy => "proxy",
        }
    }
}

fn axum_like_header_name(name: &str) -> Result<(), ()> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !name.is_empty() && name.chars().all(token) {
        Ok(())
    } else {
        Err(())
    }
}

/// `:3000` → `0.0.0.0:3000`; `host:port` kept.
pub fn parse_listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    full.parse()
        .map_err(|_| format!("{text:?} is not [host]:port"))
}

/// Reads `user` and `password` from the `[client]` section of a my.cnf file.
pub fn read_credentials_file(path: &Path) -> Result<(String, String), Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| config_error(Some(path), format!("cannot read credentials file: {e}")))?;
    let mut in_client = false;
    let (mut user, mut password) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_client = line.eq_ignore_ascii_case("[client]");
            continue;
        }
        if !in_client || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
            match k.trim() {
                "user" => user = Some(v),
                "password" => password = Some(v),
                _ => {}
            }
        }
    }
    match user {
        Some(u) => Ok((u, password.unwrap_or_default())),
        None => Err(config_error(Some(path), "no user in its [client] section")),
    }
}

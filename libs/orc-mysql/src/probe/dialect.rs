//! Which statements a server understands, by flavour and version.

use orc_model::Flavor;

/// A server's flavour and version, detected once per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// Software family.
    pub flavor: Flavor,
    /// `(major, minor, patch)` of `@@version`.
    pub version: (u32, u32, u32),
}

impl Dialect {
    /// Detects the dialect from `@@version` and `@@version_comment`.
    pub fn detect(version: &str, version_comment: &str) -> Self {
        let mut nums = version
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u32>().unwrap_or(0));
        let v = (
            nums.next().unwrap_or(0),
            nums.next().unwrap_or(0),
            nums.next().unwrap_or(0),
        );
        Self {
            flavor: Flavor::detect(version, version_comment),
            version: v,
        }
    }

    fn is_mariadb(self) -> bool {
        self.flavor == Flavor::Mariadb
    }

    fn mysql_at_least(self, v: (u32, u32, u32)) -> bool {
        !self.is_mariadb() && self.version >= v
    }

    /// The statement listing replication channels.
    pub fn replica_status(self) -> &'static str {
        if self.is_mariadb() {
            "SHOW ALL SLAVES STATUS"
        } else if self.mysql_at_least((8, 0, 22)) {
            "SHOW REPLICA STATUS"
        } else {
            "SHOW SLAVE STATUS"
        }
    }

    /// The statement giving the server's own binary log position.
    pub fn binlog_status(self) -> &'static str {
        if self.mysql_at_least((8, 2, 0)) {
            "SHOW BINARY LOG STATUS"
        } else {
            "SHOW MASTER STATUS"
        }
    }

    /// The statement listing registered replicas.
    pub fn replica_hosts(self) -> &'static str {
        if self.mysql_at_least((8, 0, 22)) {
            "SHOW REPLICAS"
        } else {
            "SHOW SLAVE HOSTS"
        }
    }

    /// The variable telling whether replicated writes are logged.
    pub fn log_replica_updates_var(self) -> &'static str {
        if self.mysql_at_least((8, 0, 26)) {
            "log_replica_updates"
        } else {
            "log_slave_updates"
        }
    }

    /// The identity query: one row of global variables. Failure here means
    /// the probe failed; success makes it at least a partial success.
    pub fn identity_query(self) -> String {
        let common = format!(
            "SELECT @@global.hostname AS hostname, @@global.report_host AS report_host, \
             @@global.server_id AS server_id, @@global.version AS version, \
             @@global.version_comment AS version_comment, @@global.read_only AS read_only, \
             @@global.binlog_format AS binlog_format, @@global.log_bin AS log_bin, \
             @@global.{} AS log_replica_updates, @@global.binlog_row_image AS binlog_row_image",
            self.log_replica_updates_var()
        );
        if self.is_mariadb() {
            format!(
                "{common}, @@global.gtid_binlog_pos AS gtid_executed, \
                 @@global.gtid_current_pos AS gtid_current_pos, @@global.gtid_slave_pos AS gtid_slave_pos"
            )
        } else {
            format!(
                "{common}, @@global.server_uuid AS server_uuid, @@global.gtid_mode AS gtid_mode, \
                 @@global.gtid_executed AS gtid_executed, @@global.gtid_purged AS gtid_purged, \
                 @@global.super_read_only AS super_read_only"
            )
        }
    }

    /// `Uptime` and the semi-sync status counters.
    pub fn status_query(self) -> &'static str {
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Uptime', \
         'Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_clients', 'Rpl_semi_sync_slave_status', \
         'Rpl_semi_sync_source_status', 'Rpl_semi_sync_source_clients', 'Rpl_semi_sync_replica_status')"
    }

    /// The semi-sync configuration variables.
    pub fn semi_sync_variables_query(self) -> &'static str {
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN (\
         'rpl_semi_sync_master_enabled', 'rpl_semi_sync_master_timeout', \
         'rpl_semi_sync_master_wait_for_slave_count', 'rpl_semi_sync_slave_enabled', \
         'rpl_semi_sync_source_enabled', 'rpl_semi_sync_source_timeout', \
         'rpl_semi_sync_source_wait_for_replica_count', 'rpl_semi_sync_replica_enabled')"
    }

    /// Replica connections seen in the processlist (fallback replica discovery).
    pub fn processlist_replicas_query(self) -> &'static str {
        "SELECT SUBSTRING_INDEX(host, ':', 1) AS host FROM information_schema.processlist \
         WHERE command IN ('Binlog Dump', 'Binlog Dump GTID')"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_follow_the_server_version() {
        let maria = Dialect::detect("10.11.19-MariaDB-0+deb12u1-log", "Debian 12");
        assert_eq!(maria.replica_status(), "SHOW ALL SLAVES STATUS");
        assert_eq!(maria.binlog_status(), "SHOW MASTER STATUS");
        assert!(maria.identity_query().contains("gtid_binlog_pos"));

        let my57 = Dialect::detect("5.7.44-log", "MySQL Community Server (GPL)");
        assert_eq!(my57.replica_status(), "SHOW SLAVE STATUS");
        assert_eq!(my57.replica_hosts(), "SHOW SLAVE HOSTS");
        assert!(my57.identity_query().contains("log_slave_updates"));

        let my80 = Dialect::detect("8.0.36", "MySQL Community Server - GPL");
        assert_eq!(my80.replica_status(), "SHOW REPLICA STATUS");
        assert_eq!(my80.binlog_status(), "SHOW MASTER STATUS");
        assert_eq!(my80.replica_hosts(), "SHOW REPLICAS");
        assert!(my80.identity_query().contains("log_replica_updates"));

        let my84 = Dialect::detect("8.4.3", "MySQL Community Server - GPL");
        assert_eq!(my84.binlog_status(), "SHOW BINARY LOG STATUS");
        assert!(my84.identity_query().contains("server_uuid"));
    }
}

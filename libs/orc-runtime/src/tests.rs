use std::io::Write as _;

use super::*;

fn file(json: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(json.as_bytes()).unwrap();
    f
}

#[test]
fn defaults_are_orchestrators_with_the_embedded_backend() {
    let (c, report) = Config::load(None, &[]).unwrap();
    assert_eq!(c.listen_address, ":3000");
    assert_eq!(c.instance_poll_seconds, 5.0);
    assert_eq!(c.mysql_connect_timeout_seconds, 2.0);
    assert!(c.uses_sqlite());
    assert_eq!(report, LoadReport::default());
}

#[test]
fn orchestrator_keys_are_read_as_they_are() {
    let f = file(
        r#"{"MySQLTopologyUser":"wallace","MySQLTopologyPassword":"grom1t","InstancePollSeconds":0.5,
            "ListenAddress":"127.0.0.1:3099","BackendDB":"sqlite","SQLite3DataFile":"/tmp/x.db",
            "DiscoverByShowSlaveHosts":true,"SlaveLagQuery":"select 1",
            "DetectClusterAliasQuery":"select 'main'","ClusterNameToAlias":{"127.0.0.1:.*":"local"}}"#,
    );
    let (c, report) = Config::load(Some(f.path()), &[]).unwrap();
    assert_eq!(c.mysql_topology_user, "wallace");
    assert_eq!(c.mysql_topology_password, "grom1t");
    assert_eq!(c.poll_interval(), std::time::Duration::from_millis(500));
    assert!(c.discover_by_show_slave_hosts);
    assert_eq!(
        c.replication_lag_query, "select 1",
        "SlaveLagQuery is a synonym"
    );
    assert_eq!(c.cluster_name_to_alias["127.0.0.1:.*"], "local");
    assert!(report.unknown_keys.is_empty());
}

#[test]
fn unknown_and_unimplemented_keys_are_reported_not_dropped() {
    let f = file(
        r#"{"InstancePolSeconds":1,"RaftEnabled":true,"Debug":true,"HostnameResolveMethod":"cname"}"#,
    );
    let (_, report) = Config::load(Some(f.path()), &[]).unwrap();
    assert_eq!(report.unknown_keys, vec!["InstancePolSeconds"]);
    assert_eq!(report.not_implemented_keys, vec!["Debug", "RaftEnabled"]);
    let warnings = report.warnings();
    assert!(warnings[0].contains("InstancePolSeconds") && warnings[0].contains("unknown"));
}

#[test]
fn environment_overrides_the_file() {
    let f = file(r#"{"InstancePollSeconds":5}"#);
    let env = vec![
        ("ORC__InstancePollSeconds".to_string(), "2".to_string()),
        (
            "ORC__NatsUrl".to_string(),
            "nats://127.0.0.1:4222".to_string(),
        ),
        ("PATH".to_string(), "/bin".to_string()),
    ];
    let (c, report) = Config::load(Some(f.path()), &env).unwrap();
    assert_eq!(c.instance_poll_seconds, 2.0);
    assert_eq!(c.nats_url, "nats://127.0.0.1:4222");
    assert_eq!(report.from_environment.len(), 2);
}

#[test]
fn bad_configurations_name_the_problem() {
    let cases = [
        (r#"{"InstancePollSeconds":"often"}"#, "InstancePollSeconds"),
        (r#"{"InstancePollSeconds":0}"#, "InstancePollSeconds"),
        (r#"{"BackendDB":"oracle"}"#, "BackendDB"),
        (r#"{"BackendDB":"mysql"}"#, "MySQLOrchestratorHost"),
        (r#"{"ListenAddress":"nowhere"}"#, "ListenAddress"),
        (r#"{"DataCenterPattern":"(unclosed"}"#, "DataCenterPattern"),
        (r#"{"DiscoverySeeds":["db1:notaport"]}"#, "DiscoverySeeds"),
        (
            r#"{"MySQLHostnameResolveMethod":"@@nope"}"#,
            "MySQLHostnameResolveMethod",
        ),
        (r#"[1,2]"#, "JSON object"),
        (r#"{"InstancePollSeconds":"#, "not valid JSON"),
    ];
    for (json, needle) in cases {
        let f = file(json);
        let err = Config::load(Some(f.path()), &[]).unwrap_err().to_string();
        assert!(err.contains(needle), "{json}: {err}");
        assert!(
            err.contains(&f.path().display().to_string()),
            "names the file: {err}"
        );
    }
    let missing =
        Config::load(Some(std::path::Path::new("/nonexistent/orc.json")), &[]).unwrap_err();
    assert!(missing.to_string().contains("cannot read"));
}

#[test]
fn credentials_come_from_a_client_section() {
    let cnf = file("[mysqld]\nuser=nope\n[client]\nuser = orc\npassword = \"s3cret\"\n");
    let f = file(&format!(
        r#"{{"MySQLTopologyCredentialsConfigFile":"{}"}}"#,
        cnf.path().display()
    ));
    let (c, _) = Config::load(Some(f.path()), &[]).unwrap();
    assert_eq!(
        (
            c.mysql_topology_user.as_str(),
            c.mysql_topology_password.as_str()
        ),
        ("orc", "s3cret")
    );
}

#[test]
fn listen_addresses_accept_orchestrators_port_only_form() {
    assert_eq!(parse_listen_address(":3000").unwrap().port(), 3000);
    assert_eq!(parse_listen_address("127.0.0.1:0").unwrap().port(), 0);
    assert!(parse_listen_address("3000").is_err());
}

#[test]
fn no_key_is_both_implemented_and_reported_as_not_implemented() {
    let implemented = config::implemented_keys();
    for key in config::NOT_YET_IMPLEMENTED_KEYS {
        assert!(
            !implemented.iter().any(|k| k == key),
            "{key} is implemented"
        );
    }
    for key in [
        "ProbersPerInstance",
        "HungMasterGraceSeconds",
        "FailureDetectionPeriodBlockMinutes",
        "SlaveLagQuery",
    ] {
        assert!(implemented.iter().any(|k| k == key), "{key}");
    }
}

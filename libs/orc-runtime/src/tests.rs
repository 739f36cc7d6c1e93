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
        r#"{"InstancePolSeconds":1,"RaftBind":"x","Debug":true,"HostnameResolveMethod":"cname"}"#,
    );
    let (_, report) = Config::load(Some(f.path()), &[]).unwrap();
    assert_eq!(report.unknown_keys, vec!["InstancePolSeconds"]);
    assert_eq!(report.not_implemented_keys, vec!["Debug", "RaftBind"]);
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

fn load_err(json: &str) -> String {
    let f = file(json);
    Config::load(Some(f.path()), &[]).unwrap_err().to_string()
}

#[test]
fn keys_that_guard_access_work_or_stop_start_up() {
    let cases = [
        (r#"{"RaftEnabled":true}"#, "NatsUrl"),
        (r#"{"AuthenticationMethod":"basic"}"#, "HTTPAuthUser"),
        (
            r#"{"AuthenticationMethod":"basic","HTTPAuthUser":"admin"}"#,
            "HTTPAuthPassword",
        ),
        (
            r#"{"AuthenticationMethod":"multi","HTTPAuthUser":"readonly","HTTPAuthPassword":"x"}"#,
            "readonly",
        ),
        (r#"{"AuthenticationMethod":"token"}"#, "not supported"),
        (r#"{"AuthenticationMethod":"oauth"}"#, "not supported"),
        (r#"{"AuthenticationMethod":"ldap"}"#, "AuthenticationMethod"),
        (
            r#"{"AuthenticationMethod":"proxy","AuthUserHeader":"X User"}"#,
            "AuthUserHeader",
        ),
        (r#"{"UseSSL":true}"#, "SSLCertFile"),
        (
            r#"{"UseSSL":true,"SSLCertFile":"/nonexistent/cert.pem","SSLPrivateKeyFile":"/nonexistent/key.pem"}"#,
            "SSLCertFile: cannot read /nonexistent/cert.pem",
        ),
        (r#"{"UseMutualTLS":true}"#, "UseMutualTLS needs UseSSL"),
        (r#"{"SSLValidOUs":["dba"]}"#, "SSLValidOUs needs UseSSL"),
        (
            r#"{"MySQLTopologyUseMutualTLS":true}"#,
            "MySQLTopologySSLCAFile",
        ),
        (
            r#"{"MySQLOrchestratorUseMutualTLS":true}"#,
            "BackendDB mysql",
        ),
        (r#"{"NatsCertFile":"/tmp/c.pem"}"#, "NatsKeyFile"),
        (
            r#"{"NatsReplicas":0}"#,
            "NatsReplicas must be between 1 and 5",
        ),
        (r#"{"LogFormat":"xml"}"#, "LogFormat must be"),
        (r#"{"ZkAddress":"zk1"}"#, "ZkAddress"),
        (r#"{"ConsulAddress":"consul"}"#, "ConsulAddress"),
        (
            r#"{"ConsulAddress":"consul:8500","ConsulScheme":"https"}"#,
            "ConsulScheme: https is not supported yet",
        ),
        (
            r#"{"ConsulAddress":"consul:8500","ConsulKVStoreProvider":"etcd"}"#,
            "ConsulKVStoreProvider",
        ),
        (
            r#"{"NatsKVBucket":"a.b","NatsUrl":"nats://x:4222"}"#,
            "NatsKVBucket",
        ),
        (r#"{"OtlpEndpoint":"collector:4317"}"#, "OtlpEndpoint"),
        (
            r#"{"MetricsListenAddress":"nowhere"}"#,
            "MetricsListenAddress",
        ),
        (
            r#"{"NatsReplicas":7}"#,
            "NatsReplicas must be between 1 and 5",
        ),
        (
            r#"{"DetachLostSlavesAfterMasterFailover":false,"DetachLostReplicasAfterMasterFailover":true}"#,
            "keep only DetachLostReplicasAfterMasterFailover",
        ),
    ];
    for (json, needle) in cases {
        let e = load_err(json);
        assert!(e.contains(needle), "{json}: {e}");
    }
    let f = file(
        r#"{"AuthenticationMethod":"Basic","HTTPAuthUser":"admin","HTTPAuthPassword":"${ORC_TEST_UNSET_SECRET_VAR}"}"#,
    );
    let e = Config::load(Some(f.path()), &[]).unwrap_err().to_string();
    assert!(e.contains("ORC_TEST_UNSET_SECRET_VAR"), "{e}");
}

#[test]
fn legacy_spellings_are_accepted() {
    let f = file(
        r#"{"DetachLostSlavesAfterMasterFailover":false,"MasterFailoverDetachSlaveMasterHost":true}"#,
    );
    let (c, report) = Config::load(Some(f.path()), &[]).unwrap();
    assert!(!c.detach_lost_replicas_after_master_failover);
    assert!(c.master_failover_detach_replica_master_host);
    assert!(report.unknown_keys.is_empty() && report.not_implemented_keys.is_empty());
}

#[test]
fn later_files_override_earlier_ones() {
    let a = file(r#"{"InstancePollSeconds":2,"ListenAddress":":3100"}"#);
    let b = file(r#"{"InstancePollSeconds":3}"#);
    let (c, _) = Config::load_files(&[a.path(), b.path()], &[]).unwrap();
    assert_eq!(c.instance_poll_seconds, 3.0);
    assert_eq!(c.listen_address, ":3100");
}

#[test]
fn debug_output_hides_passwords() {
    let f = file(
        r#"{"MySQLTopologyPassword":"t0pS3cret","HTTPAuthPassword":"h77pS3cret","AuthenticationMethod":"basic","HTTPAuthUser":"admin"}"#,
    );
    let (c, _) = Config::load(Some(f.path()), &[]).unwrap();
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("t0pS3cret") && !shown.contains("h77pS3cret"),
        "{shown}"
    );
    assert!(shown.contains("<redacted>") && shown.contains("admin"));
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("junk.pem"), "not pem").unwrap();
    Pki { dir }
}

#[test]
fn tls_files_are_read_at_start_up() {
    let p = pki();
    let ok = file(&format!(
        r#"{{"UseSSL":true,"UseMutualTLS":true,"SSLCertFile":"{}","SSLPrivateKeyFile":"{}","SSLCAFile":"{}","SSLValidOUs":["dba"]}}"#,
        p.path("cert.pem"),
        p.path("key.pem"),
        p.path("ca.pem")
    ));
    let (c, _) = Config::load(Some(ok.path()), &[]).unwrap();
    let tls = tls::ServerTls::from_config(&c).unwrap().unwrap();
    assert_eq!(tls.valid_ous, vec!["dba"]);
    assert_eq!(tls.grpc.alpn_protocols, vec![b"h2".to_vec()]);
    assert!(tls.admits(None).is_err(), "OUs required, no certificate");

    let junk_key = load_err(&format!(
        r#"{{"UseSSL":true,"SSLCertFile":"{}","SSLPrivateKeyFile":"{}"}}"#,
        p.path("cert.pem"),
        p.path("junk.pem")
    ));
    assert!(junk_key.contains("SSLPrivateKeyFile"), "{junk_key}");
    let swapped = load_err(&format!(
        r#"{{"UseSSL":true,"SSLCertFile":"{}","SSLPrivateKeyFile":"{}"}}"#,
        p.path("key.pem"),
        p.path("cert.pem")
    ));
    assert!(swapped.contains("SSLCertFile"), "{swapped}");
    let no_ca = load_err(&format!(
        r#"{{"UseSSL":true,"UseMutualTLS":true,"SSLCertFile":"{}","SSLPrivateKeyFile":"{}"}}"#,
        p.path("cert.pem"),
        p.path("key.pem")
    ));
    assert!(no_ca.contains("SSLCAFile"), "{no_ca}");
    let bad_topology_ca = load_err(&format!(
        r#"{{"MySQLTopologyUseMutualTLS":true,"MySQLTopologySSLCAFile":"{}"}}"#,
        p.path("junk.pem")
    ));
    assert!(
        bad_topology_ca.contains("MySQLTopologySSLCAFile"),
        "{bad_topology_ca}"
    );
}

#[test]
fn organizational_units_are_read_from_certificates() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["client".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, "dba");
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().clone();
    assert_eq!(tls::organizational_units(&der).unwrap(), vec!["dba"]);
}

#[test]
fn client_tls_follows_each_surfaces_keys() {
    let p = pki();
    let f = file(&format!(
        r#"{{"MySQLTopologyUseMutualTLS":true,"MySQLTopologySSLCAFile":"{ca}",
            "MySQLTopologySSLCertFile":"{cert}","MySQLTopologySSLPrivateKeyFile":"{key}",
            "BackendDB":"mysql","MySQLOrchestratorHost":"db","MySQLOrchestratorUseMutualTLS":true,
            "MySQLOrchestratorSSLCAFile":"{ca}","MySQLOrchestratorSSLSkipVerify":true,
            "NatsCAFile":"{ca}"}}"#,
        ca = p.path("ca.pem"),
        cert = p.path("cert.pem"),
        key = p.path("key.pem"),
    ));
    let (c, _) = Config::load(Some(f.path()), &[]).unwrap();
    let topology = tls::ClientTls::topology(&c).unwrap();
    assert_eq!(topology.ca_file, Some(p.path("ca.pem").into()));
    assert_eq!(
        topology.identity,
        Some((p.path("cert.pem").into(), p.path("key.pem").into()))
    );
    assert!(!topology.skip_verify);
    assert_eq!(topology.keys, tls::TOPOLOGY_KEYS);
    let backend = tls::ClientTls::backend(&c).unwrap();
    assert!(backend.skip_verify);
    assert_eq!(backend.identity, None);
    let nats = tls::ClientTls::nats(&c).unwrap();
    assert_eq!(nats.ca_file, Some(p.path("ca.pem").into()));
    assert_eq!(nats.identity, None);

    let (plain, _) = Config::load(None, &[]).unwrap();
    assert_eq!(tls::ClientTls::topology(&plain), None);
    assert_eq!(tls::ClientTls::backend(&plain), None);
    assert_eq!(tls::ClientTls::nats(&plain), None);
}

#[test]
fn a_failed_handshake_is_found_inside_io_errors_and_explained_with_the_keys() {
    use rustls::{AlertDescription, CertificateError, Error as E};
    let untrusted = std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        std::io::Error::other(E::InvalidCertificate(CertificateError::UnknownIssuer)),
    );
    let found = tls::rustls_error_in(&untrusted).unwrap();
    let text = tls::explain_failure(found, &tls::TOPOLOGY_KEYS);
    assert!(text.contains("not trusted"), "{text}");
    assert!(text.contains("MySQLTopologySSLCAFile"), "{text}");
    assert!(text.contains("MySQLTopologySSLSkipVerify"), "{text}");

    let refused = E::AlertReceived(AlertDescription::CertificateRequired);
    let text = tls::explain_failure(&refused, &tls::NATS_KEYS);
    assert!(
        text.contains("NatsCertFile") && text.contains("NatsKeyFile"),
        "{text}"
    );
    assert!(!text.contains("SkipVerify"), "{text}");

    let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    assert!(tls::rustls_error_in(&plain).is_none());
}

#[test]
fn values_acted_on_differently_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(
        &path,
        r#"{"DiscoverByShowSlaveHosts": false, "EnforceExactSemiSyncReplicas": true}"#,
    )
    .unwrap();
    let (_, report) = Config::load(Some(&path), &[]).unwrap();
    let w = report.warnings().join("\n");
    assert!(
        w.contains("DiscoverByShowSlaveHosts false is not honoured"),
        "{w}"
    );
    assert!(
        w.contains("EnforceExactSemiSyncReplicas is detection only"),
        "{w}"
    );
    std::fs::write(
        &path,
        r#"{"DiscoverByShowSlaveHosts": true, "EnforceExactSemiSyncReplicas": false}"#,
    )
    .unwrap();
    let (_, report) = Config::load(Some(&path), &[]).unwrap();
    assert!(report.warnings().is_empty(), "{:?}", report.warnings());
}

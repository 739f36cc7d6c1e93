//! TLS to topology servers, to the MySQL backend and to NATS, against real
//! servers that require it, with certificates the tests make: the keys act,
//! and leaving them out (or presenting the wrong certificate) is refused
//! with a message naming the keys to set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use integration_tests::pki::{Pair, Pki};
use integration_tests::{Orc, eventually, orc_on, settled_master, test_config};
use orc_bus::NatsBus;
use orc_testkit::{NatsServer, NatsTls, Sandbox, SandboxBuilder, ServerTls, TlsRequirement};
use orchestrator::roles::Roles;
use serde_json::{Value, json};

/// Servers with TLS whose topology user must present a certificate
/// signed by `pki` (`REQUIRE X509`); replication between them stays plain.
async fn servers_requiring_certificates(pki: &Pki, replicas: usize) -> Sandbox {
    let server = pki.server("mariadb").unwrap();
    SandboxBuilder::master_with_replicas(replicas)
        .tls(ServerTls {
            ca: pki.ca(),
            cert: server.cert,
            key: server.key,
        })
        .topology_user_requires(TlsRequirement::X509)
        .start()
        .await
        .unwrap()
}

fn topology_tls(ca: &std::path::Path, client: Option<&Pair>) -> Value {
    let mut keys = json!({
        "MySQLTopologyUseMutualTLS": true,
        "MySQLTopologySSLCAFile": ca,
    });
    if let Some(c) = client {
        keys["MySQLTopologySSLCertFile"] = json!(c.cert);
        keys["MySQLTopologySSLPrivateKeyFile"] = json!(c.key);
    }
    keys
}

fn merged(mut base: Value, extra: &Value) -> Value {
    for (k, v) in extra.as_object().into_iter().flatten() {
        base[k] = v.clone();
    }
    base
}

/// Starts every role with `extra` configuration and returns what
/// `discover` of `key` answered: (exit status, stderr).
async fn discover_with(extra: &Value, key: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = merged(test_config(&dir.path().join("o.sqlite3"), 0.5), extra);
    let orc = Orc::start_with(config, Roles::ALL, None, Some(dir))
        .await
        .unwrap();
    let (code, _, err) = orc.client(&["-c", "discover", "-i", key]).await;
    orc.stop().await.unwrap();
    (code, err)
}

#[tokio::test]
async fn servers_that_require_client_certificates_are_discovered_and_failed_over_over_tls() {
    let pki = Pki::new().unwrap();
    let client = pki.client("orchestrator", "dba").unwrap();
    let sb = servers_requiring_certificates(&pki, 2).await;
    let mut extra = topology_tls(&pki.ca(), Some(&client));
    extra["RecoverMasterClusterFilters"] = json!(["*"]);
    extra["RecoveryPeriodBlockSeconds"] = json!(3600);
    // Probes of every server (discovery waits until all are valid).
    let orc = orc_on(&sb, &sb.key("m").unwrap(), extra).await.unwrap();
    let accepted = sb
        .sql("r1", "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'")
        .await
        .unwrap();
    assert_ne!(accepted[0].at(1), Some("0"), "TLS handshakes on r1");

    // The recovery service reads the replicas and changes them over TLS.
    sb.exec(
        "m",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)",
    )
    .await
    .unwrap();
    sb.wait_replicated(Duration::from_secs(5)).await.unwrap();
    sb.kill("m").unwrap();
    let new_master = eventually(Duration::from_secs(20), || {
        settled_master(&sb, &["r1", "r2"])
    })
    .await
    .expect("a replica promoted and the other replicating from it");
    let list = orc.ended_recoveries().await;
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["IsSuccessful"], true, "{:#}", list[0]);
    assert_eq!(
        list[0]["SuccessorKey"]["Port"],
        sb.instance(&new_master).unwrap().port()
    );
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn servers_that_require_tls_refuse_plain_connections_and_foreign_certificates_clearly() {
    let pki = Pki::new().unwrap();
    let sb = servers_requiring_certificates(&pki, 1).await;
    let key = sb.key("m").unwrap();

    // Without the keys: the server refuses the plain connection.
    let (code, err) = discover_with(&json!({}), &key).await;
    assert_ne!(code, 0);
    assert!(err.contains("Access denied"), "{err}");
    assert!(
        err.contains("not encrypted") && err.contains("MySQLTopologyUseMutualTLS"),
        "the refusal says which key to set: {err}"
    );

    // TLS, but no client certificate: REQUIRE X509 refuses.
    let (code, err) = discover_with(&topology_tls(&pki.ca(), None), &key).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("no client certificate") && err.contains("MySQLTopologySSLCertFile"),
        "{err}"
    );

    // A client certificate from another authority: the handshake fails.
    let other = Pki::new().unwrap();
    let stranger = other.client("orchestrator", "dba").unwrap();
    let (code, err) = discover_with(&topology_tls(&pki.ca(), Some(&stranger)), &key).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("TLS") && err.contains("MySQLTopologySSLCertFile"),
        "the refusal names the client certificate: {err}"
    );

    // A server certificate we do not trust: we refuse the server.
    let client = pki.client("orchestrator", "dba").unwrap();
    let (code, err) = discover_with(&topology_tls(&other.ca(), Some(&client)), &key).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("not trusted") && err.contains("MySQLTopologySSLCAFile"),
        "{err}"
    );

    // Skipping verification encrypts without authenticating the server.
    let mut skip = topology_tls(&other.ca(), Some(&client));
    skip["MySQLTopologySSLSkipVerify"] = json!(true);
    let (code, err) = discover_with(&skip, &key).await;
    assert_eq!(code, 0, "{err}");
}

/// A backend configuration for user `user` of `sb`'s only server.
fn backend_config(sb: &Sandbox, user: &str, tls: Value) -> orc_runtime::Config {
    let config = merged(
        json!({
            "BackendDB": "mysql",
            "MySQLOrchestratorHost": "127.0.0.1",
            "MySQLOrchestratorPort": sb.instance("backend").unwrap().port(),
            "MySQLOrchestratorDatabase": "orchestrator",
            "MySQLOrchestratorUser": user,
            "MySQLOrchestratorPassword": "backend_pw",
        }),
        &tls,
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config.to_string()).unwrap();
    orc_runtime::Config::load(Some(file.path()), &[]).unwrap().0
}

async fn open_backend(config: &orc_runtime::Config) -> Result<orc_store::Store, orc_store::Error> {
    orc_store::Store::open(
        &orchestrator::roles::backend(config),
        Duration::from_secs(10),
    )
    .await
}

#[tokio::test]
async fn the_mysql_backend_is_opened_over_tls_with_the_keys_and_refused_without_them() {
    let pki = Pki::new().unwrap();
    let server = pki.server("backend").unwrap();
    let sb = SandboxBuilder::new()
        .master("backend")
        .tls(ServerTls {
            ca: pki.ca(),
            cert: server.cert,
            key: server.key,
        })
        .start()
        .await
        .unwrap();
    sb.exec(
        "backend",
        "CREATE USER 'orc_ssl'@'%' IDENTIFIED BY 'backend_pw' REQUIRE SSL; \
         GRANT ALL ON *.* TO 'orc_ssl'@'%'; \
         CREATE USER 'orc_x509'@'%' IDENTIFIED BY 'backend_pw' REQUIRE X509; \
         GRANT ALL ON *.* TO 'orc_x509'@'%'",
    )
    .await
    .unwrap();
    let with_ca = json!({
        "MySQLOrchestratorUseMutualTLS": true,
        "MySQLOrchestratorSSLCAFile": pki.ca(),
    });

    // With the keys: opened, migrated, usable.
    let store = open_backend(&backend_config(&sb, "orc_ssl", with_ca.clone()))
        .await
        .unwrap();
    assert_eq!(store.backend_name(), "mysql");
    store
        .recoveries()
        .set_globally_disabled(true, orc_model::Timestamp(1_000))
        .await
        .unwrap();
    assert!(store.recoveries().globally_disabled().await.unwrap());
    store.close().await;
    let tables = sb
        .sql(
            "backend",
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'orchestrator'",
        )
        .await
        .unwrap();
    assert_ne!(tables[0].at(0), Some("0"), "migrated");

    // Without them: refused, and the message says what to set.
    let err = open_backend(&backend_config(&sb, "orc_ssl", json!({})))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Access denied"), "{err}");
    assert!(
        err.contains("not encrypted") && err.contains("MySQLOrchestratorUseMutualTLS"),
        "{err}"
    );
    assert!(
        !err.contains("backend_pw"),
        "no password in messages: {err}"
    );

    // A server certificate from an authority we do not trust.
    let other = Pki::new().unwrap();
    let err = open_backend(&backend_config(
        &sb,
        "orc_ssl",
        json!({"MySQLOrchestratorUseMutualTLS": true, "MySQLOrchestratorSSLCAFile": other.ca()}),
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("not trusted") && err.contains("MySQLOrchestratorSSLCAFile"),
        "{err}"
    );

    // REQUIRE X509: refused without a client certificate, opened with one.
    let err = open_backend(&backend_config(&sb, "orc_x509", with_ca.clone()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no client certificate") && err.contains("MySQLOrchestratorSSLCertFile"),
        "{err}"
    );
    let client = pki.client("orchestrator", "backend").unwrap();
    let mut mutual = with_ca;
    mutual["MySQLOrchestratorSSLCertFile"] = json!(client.cert);
    mutual["MySQLOrchestratorSSLPrivateKeyFile"] = json!(client.key);
    let store = open_backend(&backend_config(&sb, "orc_x509", mutual))
        .await
        .unwrap();
    store.close().await;
}

fn nats_tls(pki: &Pki, client: Option<&Pair>) -> Value {
    let mut keys = json!({"NatsCAFile": pki.ca()});
    if let Some(c) = client {
        keys["NatsCertFile"] = json!(c.cert);
        keys["NatsKeyFile"] = json!(c.key);
    }
    keys
}

/// What a plain (non-TLS) NATS client gets from `port`: the INFO line and
/// whatever follows a CONNECT and a PING.
async fn plain_nats_exchange(port: u16) -> (String, String) {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut reader = tokio::io::BufReader::new(stream);
    let mut info = String::new();
    reader.read_line(&mut info).await.unwrap();
    let _ = reader
        .get_mut()
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut rest)).await;
    (info, String::from_utf8_lossy(&rest).into_owned())
}

#[tokio::test]
async fn the_roles_work_over_a_tls_only_nats_and_clients_without_its_authority_are_refused() {
    let pki = Pki::new().unwrap();
    let server = pki.server("nats").unwrap();
    let nats = NatsServer::start_tls(NatsTls {
        ca: pki.ca(),
        cert: server.cert,
        key: server.key,
        verify: true,
    })
    .await
    .unwrap();
    let url = nats.url();
    assert!(url.starts_with("tls://"), "{url}");
    let client = pki.client("orchestrator", "roles").unwrap();
    let keys = nats_tls(&pki, Some(&client));

    // A plain client is told TLS is required and gets no answer.
    let (info, after) = plain_nats_exchange(nats.port()).await;
    assert!(info.contains("\"tls_required\":true"), "{info}");
    assert!(
        !after.contains("PONG"),
        "a plain client is not served: {after:?}"
    );

    // Our client without the authority: the server is not trusted.
    let err = NatsBus::connect(&url, "no-ca", Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not trusted") && err.contains("NatsCAFile"),
        "{err}"
    );
    // With the authority but no client certificate: the server refuses.
    let ca_only = orc_runtime::tls::ClientTls {
        ca_file: Some(pki.ca()),
        identity: None,
        skip_verify: false,
        keys: orc_runtime::tls::NATS_KEYS,
    };
    let err = NatsBus::connect_with_tls(
        &url,
        "no-cert",
        Duration::from_secs(5),
        true,
        Some(&ca_only),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("NatsCertFile"), "{err}");
    // The product without the keys does not start, and says why.
    let dir = tempfile::tempdir().unwrap();
    let refused = Orc::start_with(
        test_config(&dir.path().join("o.sqlite3"), 0.5),
        Roles::ALL,
        Some(&url),
        Some(dir),
    )
    .await
    .err()
    .expect("no start without the authority")
    .to_string();
    assert!(refused.contains("NatsCAFile"), "{refused}");

    // The roles, each in its own process-like instance, over TLS.
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut core_config = merged(test_config(&dir.path().join("o.sqlite3"), 0.5), &keys);
    core_config["RecoverMasterClusterFilters"] = json!(["*"]);
    let core = Orc::start_with(
        core_config,
        Roles {
            prober: false,
            analyzer: true,
            recovery: true,
            gateway: true,
        },
        Some(&url),
        Some(dir),
    )
    .await
    .unwrap();
    let prober = Orc::start_with(
        merged(
            test_config(std::path::Path::new("/nonexistent"), 0.5),
            &keys,
        ),
        Roles {
            prober: true,
            analyzer: false,
            recovery: false,
            gateway: false,
        },
        Some(&url),
        None,
    )
    .await
    .unwrap();
    let (code, _, err) = core
        .client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    eventually(Duration::from_secs(10), || async {
        let (_, all) = core.get("all-instances").await.ok()?;
        let all = all.as_array()?.clone();
        (all.len() == 3 && all.iter().all(|i| i["IsLastCheckValid"] == true)).then_some(())
    })
    .await
    .expect("every server probed and known");
    sb.kill("m").unwrap();
    let new_master = eventually(Duration::from_secs(20), || {
        settled_master(&sb, &["r1", "r2"])
    })
    .await
    .expect("failed over: findings, lease and recovery over TLS NATS");
    let list = core.ended_recoveries().await;
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(
        list[0]["SuccessorKey"]["Port"],
        sb.instance(&new_master).unwrap().port()
    );
    prober.stop().await.unwrap();
    core.stop().await.unwrap();
}

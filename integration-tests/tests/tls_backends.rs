//! TLS to topology servers, against real servers that require it, with
//! certificates the tests make: the keys act, and leaving them out (or
//! presenting the wrong certificate) is refused with a message naming the
//! keys to set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use integration_tests::pki::{Pair, Pki};
use integration_tests::{Orc, eventually, orc_on, settled_master, test_config};
use orc_testkit::{Sandbox, SandboxBuilder, ServerTls, TlsRequirement};
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

//! Master publication against a real Consul agent (`consul agent -dev`),
//! where a `consul` binary exists (`ORC_CONSUL` or `PATH`): none installs
//! from the registries this project builds from, so the real-server test
//! says so and skips without one. Errors that need no server always run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use orc_kv::{ConsulSettings, Published, Publisher};
use orc_model::InstanceKey;
use orc_testkit::ConsulServer;

fn key(port: u16) -> InstanceKey {
    InstanceKey::new("db.example", port).unwrap()
}

fn publisher(address: &str) -> Publisher {
    let consul = ConsulSettings {
        address: address.into(),
        ..ConsulSettings::default()
    };
    Publisher::from_settings("mysql/master", "", "", &consul).unwrap()
}

/// Reads one key through Consul's KV API.
async fn get(consul: &ConsulServer, key: &str) -> Option<String> {
    let resp = reqwest::Client::new()
        .get(format!("http://{}/v1/kv/{key}", consul.address()))
        .send()
        .await
        .unwrap();
    if resp.status().as_u16() == 404 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let value = v.as_array()?.first()?["Value"].as_str()?.to_string();
    Some(String::from_utf8(B64.decode(value).unwrap()).unwrap())
}

#[tokio::test]
async fn a_master_is_published_to_consul_and_a_stale_publisher_changes_nothing() {
    let Some(binary) = orc_testkit::consul_binary() else {
        eprintln!("SKIPPED: no consul binary (set ORC_CONSUL or put consul on PATH)");
        return;
    };
    eprintln!("consul: {}", binary.display());
    let consul = ConsulServer::start().await.unwrap();
    let p = publisher(&consul.address());
    let reports = p.publish("shop", &key(3306), 7).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].store, "consul");
    assert_eq!(reports[0].result.as_ref().unwrap(), &Published::Written);
    for (k, v) in [
        ("mysql/master/shop", "db.example:3306"),
        ("mysql/master/shop/hostname", "db.example"),
        ("mysql/master/shop/port", "3306"),
        ("mysql/master/shop/fencing-token", "7"),
    ] {
        assert_eq!(get(&consul, k).await.as_deref(), Some(v), "{k}");
    }
    // An older lease is refused and changes nothing.
    let reports = p.publish("shop", &key(3307), 6).await;
    assert_eq!(
        reports[0].result.as_ref().unwrap(),
        &Published::Stale { stored: 7 }
    );
    assert_eq!(
        get(&consul, "mysql/master/shop").await.as_deref(),
        Some("db.example:3306")
    );
    // The same token again, then a newer one.
    let reports = p.publish("shop", &key(3306), 7).await;
    assert_eq!(reports[0].result.as_ref().unwrap(), &Published::Written);
    let reports = p.publish("shop", &key(3308), 9).await;
    assert_eq!(reports[0].result.as_ref().unwrap(), &Published::Written);
    assert_eq!(
        get(&consul, "mysql/master/shop/port").await.as_deref(),
        Some("3308")
    );

    // Racing publishers leave the newest master.
    let racers = (1..=12u16).map(|t| {
        let p = p.clone();
        tokio::spawn(async move { p.publish("race", &key(3300 + t), u64::from(t)).await })
    });
    for r in racers {
        for report in r.await.unwrap() {
            if let Err(e) = report.result {
                assert!(e.to_string().contains("races"), "{e}");
            }
        }
    }
    assert_eq!(
        get(&consul, "mysql/master/race").await.as_deref(),
        Some("db.example:3312")
    );
}

#[tokio::test]
async fn an_unreachable_consul_is_a_clear_error() {
    let port = orc_testkit::free_port(&[]).unwrap();
    let p = publisher(&format!("127.0.0.1:{port}"));
    let reports = p.publish("shop", &key(3306), 1).await;
    assert_eq!(reports[0].store, "consul");
    let e = reports[0].result.as_ref().unwrap_err().to_string();
    assert!(e.starts_with("consul: http://127.0.0.1:"), "{e}");
}

#[tokio::test]
async fn a_server_that_is_not_consul_is_a_clear_error_and_nothing_is_written() {
    // An HTTP server answering 403 to everything: an ACL-protected agent
    // given no (or a wrong) token.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let body = "Permission denied";
            let _ = s
                .write_all(
                    format!(
                        "HTTP/1.1 403 Forbidden\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
        }
    });
    let p = publisher(&address);
    let reports = p.publish("shop", &key(3306), 1).await;
    let e = reports[0].result.as_ref().unwrap_err().to_string();
    assert!(
        e.contains("HTTP 403") && e.contains("Permission denied"),
        "{e}"
    );
}

#[test]
fn bad_consul_settings_are_refused_before_anything_is_sent() {
    for (settings, key) in [
        (
            ConsulSettings {
                address: "consul".into(),
                ..ConsulSettings::default()
            },
            "ConsulAddress",
        ),
        (
            ConsulSettings {
                address: "consul:8500".into(),
                provider: "redis".into(),
                ..ConsulSettings::default()
            },
            "ConsulKVStoreProvider",
        ),
    ] {
        let e = Publisher::from_settings("", "", "", &settings)
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{e}");
    }
}

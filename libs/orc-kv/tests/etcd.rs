//! Master publication against a real etcd (Debian's `etcd-server`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use orc_kv::{Published, Publisher};
use orc_model::InstanceKey;
use orc_testkit::EtcdServer;

/// Reads one key through etcd's JSON API.
async fn get(etcd: &EtcdServer, key: &str) -> Option<String> {
    let body = serde_json::json!({ "key": B64.encode(key) }).to_string();
    let resp = reqwest::Client::new()
        .post(format!("{}/v3/kv/range", etcd.url()))
        .body(body)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let value = v["kvs"].as_array()?.first()?["value"].as_str()?.to_string();
    Some(String::from_utf8(B64.decode(value).unwrap()).unwrap())
}

fn key(port: u16) -> InstanceKey {
    InstanceKey::new("db.example", port).unwrap()
}

#[tokio::test]
async fn a_master_is_published_and_a_stale_publisher_changes_nothing() {
    let etcd = EtcdServer::start().await.unwrap();
    let p = Publisher::from_config("mysql/master", &etcd.url()).unwrap();
    let reports = p.publish("shop", &key(3306), 7).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].result.as_ref().unwrap(), &Published::Written);
    assert_eq!(
        get(&etcd, "mysql/master/shop").await.as_deref(),
        Some("db.example:3306")
    );
    assert_eq!(
        get(&etcd, "mysql/master/shop/hostname").await.as_deref(),
        Some("db.example")
    );
    assert_eq!(
        get(&etcd, "mysql/master/shop/port").await.as_deref(),
        Some("3306")
    );
    assert_eq!(
        get(&etcd, "mysql/master/shop/fencing-token")
            .await
            .as_deref(),
        Some("7")
    );

    // A publisher holding an older lease is refused; nothing changes.
    let reports = p.publish("shop", &key(3307), 6).await;
    assert_eq!(
        reports[0].result.as_ref().unwrap(),
        &Published::Stale { stored: 7 }
    );
    assert_eq!(
        get(&etcd, "mysql/master/shop").await.as_deref(),
        Some("db.example:3306")
    );

    // The same token publishes again (submit-masters-to-kv-stores after
    // the failover that took it); a newer one replaces.
    let reports = p.publish("shop", &key(3306), 7).await;
    assert_eq!(reports[0].result.as_ref().unwrap(), &Published::Written);
    let reports = p.publish("shop", &key(3308), 9).await;
    assert_eq!(reports[0].result.as_ref().unwrap(), &Published::Written);
    assert_eq!(
        get(&etcd, "mysql/master/shop").await.as_deref(),
        Some("db.example:3308")
    );
    assert_eq!(
        get(&etcd, "mysql/master/shop/port").await.as_deref(),
        Some("3308")
    );
    // Other clusters are their own.
    p.publish("billing", &key(4000), 1).await[0]
        .result
        .as_ref()
        .unwrap();
    assert_eq!(
        get(&etcd, "mysql/master/billing").await.as_deref(),
        Some("db.example:4000")
    );
}

#[tokio::test]
async fn racing_publishers_leave_the_newest_master() {
    let etcd = EtcdServer::start().await.unwrap();
    let p = Publisher::from_config("", &etcd.url()).unwrap();
    let racers = (1..=12u16).map(|t| {
        let p = p.clone();
        tokio::spawn(async move { p.publish("shop", &key(3300 + t), u64::from(t)).await })
    });
    for r in racers {
        for report in r.await.unwrap() {
            // Losing every race in a row is possible in theory; a stale
            // answer is the normal outcome for the older ones.
            if let Err(e) = report.result {
                assert!(e.to_string().contains("races"), "{e}");
            }
        }
    }
    assert_eq!(
        get(&etcd, "mysql/master/shop").await.as_deref(),
        Some("db.example:3312")
    );
    assert_eq!(
        get(&etcd, "mysql/master/shop/fencing-token")
            .await
            .as_deref(),
        Some("12")
    );
}

#[tokio::test]
async fn an_unreachable_etcd_is_a_clear_error() {
    let port = orc_testkit::free_port(&[]).unwrap();
    let p = Publisher::from_config("", &format!("http://127.0.0.1:{port}")).unwrap();
    let reports = p.publish("shop", &key(3306), 1).await;
    let e = reports[0].result.as_ref().unwrap_err().to_string();
    assert!(e.starts_with("etcd: http://127.0.0.1:"), "{e}");
}

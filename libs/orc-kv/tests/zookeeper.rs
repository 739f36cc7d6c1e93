//! Master publication against a real ZooKeeper (Debian's `zookeeper`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use orc_kv::{Published, Publisher};
use orc_model::InstanceKey;
use orc_testkit::ZooKeeperServer;
use zookeeper_client as zk;

/// Reads one znode's value.
async fn get(c: &zk::Client, path: &str) -> Option<String> {
    match c.get_data(path).await {
        Ok((data, _)) => Some(String::from_utf8(data).unwrap()),
        Err(zk::Error::NoNode) => None,
        Err(e) => panic!("{path}: {e}"),
    }
}

fn key(port: u16) -> InstanceKey {
    InstanceKey::new("db.example", port).unwrap()
}

#[tokio::test]
async fn a_master_is_published_and_a_stale_publisher_changes_nothing() {
    let server = ZooKeeperServer::start().await.unwrap();
    let c = zk::Client::connect(&server.address()).await.unwrap();
    let p = Publisher::from_stores("mysql/master", "", &server.address()).unwrap();
    let reports = p.publish("shop", &key(3306), 7).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].store, "zookeeper");
    assert_eq!(reports[0].result.as_ref().unwrap(), &Published::Written);
    assert_eq!(
        get(&c, "/mysql/master/shop").await.as_deref(),
        Some("db.example:3306")
    );
    assert_eq!(
        get(&c, "/mysql/master/shop/hostname").await.as_deref(),
        Some("db.example")
    );
    assert_eq!(
        get(&c, "/mysql/master/shop/port").await.as_deref(),
        Some("3306")
    );
    assert_eq!(
        get(&c, "/mysql/master/shop/fencing-token").await.as_deref(),
        Some("7")
    );

    // An older token is refused and changes nothing.
    let reports = p.publish("shop", &key(3307), 6).await;
    assert_eq!(
        reports[0].result.as_ref().unwrap(),
        &Published::Stale { stored: 7 }
    );
    assert_eq!(
        get(&c, "/mysql/master/shop").await.as_deref(),
        Some("db.example:3306")
    );
    assert_eq!(
        get(&c, "/mysql/master/shop/port").await.as_deref(),
        Some("3306")
    );

    // The same token again, then a newer one.
    assert_eq!(
        p.publish("shop", &key(3306), 7).await[0]
            .result
            .as_ref()
            .unwrap(),
        &Published::Written
    );
    assert_eq!(
        p.publish("shop", &key(3308), 9).await[0]
            .result
            .as_ref()
            .unwrap(),
        &Published::Written
    );
    assert_eq!(
        get(&c, "/mysql/master/shop").await.as_deref(),
        Some("db.example:3308")
    );
    assert_eq!(
        get(&c, "/mysql/master/shop/fencing-token").await.as_deref(),
        Some("9")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_publishers_leave_the_newest_master() {
    let server = ZooKeeperServer::start().await.unwrap();
    let c = zk::Client::connect(&server.address()).await.unwrap();
    let p = Publisher::from_stores("", "", &server.address()).unwrap();
    let racers = (1..=12u16).map(|t| {
        let p = p.clone();
        tokio::spawn(async move { p.publish("shop", &key(3300 + t), u64::from(t)).await })
    });
    for r in racers {
        for report in r.await.unwrap() {
            if let Err(e) = report.result {
                assert!(e.to_string().contains("races"), "{e}");
            }
        }
    }
    assert_eq!(
        get(&c, "/mysql/master/shop").await.as_deref(),
        Some("db.example:3312")
    );
    assert_eq!(
        get(&c, "/mysql/master/shop/port").await.as_deref(),
        Some("3312")
    );
    assert_eq!(
        get(&c, "/mysql/master/shop/fencing-token").await.as_deref(),
        Some("12")
    );
}

#[tokio::test]
async fn an_unreachable_zookeeper_is_a_clear_error() {
    let port = orc_testkit::free_port(&[]).unwrap();
    let p = Publisher::from_stores("", "", &format!("127.0.0.1:{port}")).unwrap();
    let reports = p.publish("shop", &key(3306), 1).await;
    let e = reports[0].result.as_ref().unwrap_err().to_string();
    assert!(e.starts_with("zookeeper: 127.0.0.1:"), "{e}");
}

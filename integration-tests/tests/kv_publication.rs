//! Master publication on real servers: a failover writes the new master to
//! a real etcd under orchestrator's keys with the recovery's fencing token;
//! `submit-masters-to-kv-stores` writes it again, and is refused (changing
//! nothing) where the store holds a newer token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use integration_tests::{eventually, orc_on, settled_master};
use orc_testkit::{EtcdServer, SandboxBuilder};
use serde_json::json;

async fn etcd_call(etcd: &EtcdServer, path: &str, body: serde_json::Value) -> serde_json::Value {
    let resp = integration_tests::pki::http_client()
        .post(format!("{}{path}", etcd.url()))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

async fn get(etcd: &EtcdServer, key: &str) -> Option<String> {
    let v = etcd_call(etcd, "/v3/kv/range", json!({"key": B64.encode(key)})).await;
    let value = v["kvs"].as_array()?.first()?["value"].as_str()?.to_string();
    Some(String::from_utf8(B64.decode(value).unwrap()).unwrap())
}

async fn put(etcd: &EtcdServer, key: &str, value: &str) {
    etcd_call(
        etcd,
        "/v3/kv/put",
        json!({"key": B64.encode(key), "value": B64.encode(value)}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_publishes_the_new_master_with_its_fencing_token() {
    let etcd = EtcdServer::start().await.unwrap();
    let zk_server = orc_testkit::ZooKeeperServer::start().await.unwrap();
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = orc_on(
        &sb,
        &master,
        json!({
            "RecoverMasterClusterFilters": ["*"],
            "KVClusterMasterPrefix": "db/master",
            "EtcdAddress": etcd.url(),
            "ZkAddress": zk_server.address(),
            "ClusterNameToAlias": {".*": "shop"},
        }),
    )
    .await
    .unwrap();
    sb.kill("m").unwrap();
    let new_master = eventually(Duration::from_secs(15), || {
        settled_master(&sb, &["r1", "r2"])
    })
    .await
    .expect("recovered");
    let port = sb.instance(&new_master).unwrap().port();
    let published = eventually(Duration::from_secs(10), || async {
        let v = get(&etcd, "db/master/shop").await?;
        (v == format!("127.0.0.1:{port}")).then_some(v)
    })
    .await;
    assert!(published.is_some(), "the new master is published");
    assert_eq!(
        get(&etcd, "db/master/shop/hostname").await.as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        get(&etcd, "db/master/shop/port").await,
        Some(port.to_string())
    );
    let token: u64 = get(&etcd, "db/master/shop/fencing-token")
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(token > 0);
    // ZooKeeper got the same master with the same token.
    let zk = zookeeper_client::Client::connect(&zk_server.address())
        .await
        .unwrap();
    let znode = |path: &'static str| {
        let zk = zk.clone();
        async move {
            zk.get_data(path)
                .await
                .ok()
                .map(|(d, _)| String::from_utf8(d).unwrap())
        }
    };
    let in_zk = eventually(Duration::from_secs(10), || async {
        let v = znode("/db/master/shop").await?;
        (v == format!("127.0.0.1:{port}")).then_some(v)
    })
    .await;
    assert!(in_zk.is_some(), "the new master is published to ZooKeeper");
    assert_eq!(znode("/db/master/shop/port").await, Some(port.to_string()));
    assert_eq!(
        znode("/db/master/shop/fencing-token").await,
        Some(token.to_string())
    );

    // Submitting again (the same token) rewrites what a client erased.
    put(&etcd, "db/master/shop", "stale:1").await;
    // (Until the read model shows the new topology, the replaced master is
    // refused rather than published.)
    let body = eventually(Duration::from_secs(10), || async {
        let (status, body) = orc.get("submit-masters-to-kv-stores/shop").await.ok()?;
        if status != 200 {
            assert!(
                body["Message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("was replaced by"),
                "{body}"
            );
            return None;
        }
        Some(body)
    })
    .await
    .expect("submitted once the topology is read afresh");
    assert_eq!(body["Message"], "Submitted 1 masters", "{body}");
    assert_eq!(body["Details"][0]["Key"], "db/master/shop");
    assert_eq!(
        get(&etcd, "db/master/shop").await,
        Some(format!("127.0.0.1:{port}"))
    );

    // A newer publisher was there: refused, nothing changed.
    put(
        &etcd,
        "db/master/shop/fencing-token",
        &(token + 100).to_string(),
    )
    .await;
    put(&etcd, "db/master/shop", "newer:3306").await;
    let (code, out, err) = orc
        .client(&["-c", "submit-masters-to-kv-stores", "-a", "shop"])
        .await;
    assert_ne!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("newer than"), "{out}{err}");
    assert_eq!(
        get(&etcd, "db/master/shop").await.as_deref(),
        Some("newer:3306")
    );
    orc.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_publishes_the_new_master_to_nats_kv() {
    let nats = orc_testkit::NatsServer::start().await.unwrap();
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let master = sb.key("m").unwrap();
    let orc = integration_tests::orc_on_with(
        &sb,
        &master,
        json!({
            "RecoverMasterClusterFilters": ["*"],
            "NatsKVBucket": "orchestrator_masters",
        }),
        Some(&nats.url()),
    )
    .await
    .unwrap();
    sb.kill("m").unwrap();
    let new_master = eventually(Duration::from_secs(15), || {
        settled_master(&sb, &["r1", "r2"])
    })
    .await
    .expect("recovered");
    let port = sb.instance(&new_master).unwrap().port();
    // The alias defaults to the cluster's name, the old master's
    // `host:port`: its ':' is written `=3A` in the NATS key.
    let key = orc_kv::nats_key(&format!("mysql/master/{master}"));
    assert!(key.contains("=3A"), "{key}");
    let reader = orc_bus::NatsBus::connect(&nats.url(), "reader", Duration::from_secs(5))
        .await
        .unwrap();
    use orc_bus::Bus as _;
    let value = eventually(Duration::from_secs(10), || async {
        let (bytes, _) = reader.kv_get("orchestrator_masters", &key).await.ok()??;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        (v["Master"] == format!("127.0.0.1:{port}")).then_some(v)
    })
    .await
    .expect("the new master is published in the bucket");
    assert_eq!(value["Hostname"], "127.0.0.1");
    assert_eq!(value["Port"], port);
    assert!(value["FencingToken"].as_u64().unwrap() > 0, "{value}");
    orc.stop().await.unwrap();
}

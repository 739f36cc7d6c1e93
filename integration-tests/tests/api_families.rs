//! The operator route families on real servers, through the HTTP API and
//! orchestrator-client: tags, pools, manual cluster aliases, topology
//! snapshots, online-schema-change replicas, KV pairs, problems, bulk
//! listings, refresh/resolve and the host name cache, recovery filters;
//! and leadership among several gateways over NATS (leader-check,
//! routed-leader-check, the raft routes, client leader detection).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use integration_tests::{Orc, eventually, orc_on, test_config};
use orc_testkit::{NatsServer, Sandbox, SandboxBuilder};
use orchestrator::roles::Roles;
use serde_json::{Value, json};

fn path(sb: &Sandbox, name: &str) -> String {
    format!("127.0.0.1/{}", sb.instance(name).unwrap().port())
}

fn key(sb: &Sandbox, name: &str) -> String {
    sb.key(name).unwrap()
}

async fn ok(orc: &Orc, p: &str) -> Value {
    let (status, v) = orc.get(p).await.unwrap();
    assert_eq!(status, 200, "{p}: {v}");
    v
}

async fn client(orc: &Orc, args: &[&str]) -> String {
    let (code, out, err) = orc.client(args).await;
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let k = if k.get("Key").is_some() { &k["Key"] } else { k };
            format!("{}:{}", k["Hostname"].as_str().unwrap(), k["Port"])
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_pools_aliases_snapshots_and_lookups() {
    // m -> r1 -> r3 (r1 an intermediate master), m -> r2.
    let sb = SandboxBuilder::new()
        .master("m")
        .replica("r1", "m")
        .replica("r2", "m")
        .replica("r3", "r1")
        .start()
        .await
        .unwrap();
    let orc = orc_on(
        &sb,
        &key(&sb, "m"),
        json!({
            "RecoverMasterClusterFilters": ["*"],
            "RecoveryIgnoreHostnameFilters": ["^ignored-host$"],
            "ReasonableReplicationLagSeconds": 10,
        }),
    )
    .await
    .unwrap();
    let (m, r1, r2, r3) = (
        key(&sb, "m"),
        key(&sb, "r1"),
        key(&sb, "r2"),
        key(&sb, "r3"),
    );

    // --- tags ---
    let out = client(&orc, &["-c", "tag", "-i", &r1, "-t", "role=backup"]).await;
    assert_eq!(out.trim(), r1);
    client(&orc, &["-c", "tag", "-i", &r2, "-t", "role=reporting"]).await;
    client(&orc, &["-c", "tag", "-i", &r2, "-t", "ssd"]).await;
    let tags = ok(&orc, &format!("tags/{}", path(&sb, "r2"))).await;
    assert_eq!(tags, json!(["role=reporting", "ssd="]));
    let value = ok(&orc, &format!("tag-value/{}?tag=role", path(&sb, "r1"))).await;
    assert_eq!(value, json!("backup"));
    let (status, missing) = orc
        .get(&format!("tag-value/{}?tag=nope", path(&sb, "r1")))
        .await
        .unwrap();
    assert_eq!((status, missing["Code"].as_str()), (500, Some("ERROR")));
    assert_eq!(keys_of(&ok(&orc, "tagged?tag=role").await), {
        let mut v = vec![r1.clone(), r2.clone()];
        v.sort();
        v
    });
    assert_eq!(
        keys_of(&ok(&orc, "tagged?tag=role,~ssd").await),
        vec![r1.clone()]
    );
    assert_eq!(
        keys_of(&ok(&orc, "tagged?tag=role=reporting").await),
        vec![r2.clone()]
    );
    let out = client(&orc, &["-c", "tagged", "-t", "ssd"]).await;
    assert_eq!(out.trim(), r2);
    let topo = ok(&orc, &format!("topology-tags/{m}")).await;
    let text = topo["Details"].as_str().unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(&r1) && l.ends_with("[role=backup]")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(&m) && !l.ends_with("=backup]")),
        "{text}"
    );
    let untagged = ok(&orc, &format!("untag/{}?tag=role", path(&sb, "r1"))).await;
    assert_eq!(keys_of(&untagged["Details"]), vec![r1.clone()]);
    let all = ok(&orc, "untag-all?tag=ssd").await;
    assert_eq!(keys_of(&all["Details"]), vec![r2.clone()]);
    assert_eq!(
        ok(&orc, &format!("tags/{}", path(&sb, "r2"))).await,
        json!(["role=reporting"])
    );
    let (status, bad) = orc
        .get(&format!("tag/{}?tag==x", path(&sb, "r1")))
        .await
        .unwrap();
    assert_eq!(
        (status, bad["Code"].as_str()),
        (500, Some("ERROR")),
        "{bad}"
    );

    // --- pools ---
    let submitted = ok(
        &orc,
        &format!("submit-pool-instances/reads?instances={r2},{r3}"),
    )
    .await;
    assert_eq!(submitted["Code"], "OK");
    let rows = ok(&orc, &format!("cluster-pool-instances/{m}/reads")).await;
    let mut pooled: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["Pool"], "reads");
            assert_eq!(r["ClusterName"], m.as_str());
            format!("{}:{}", r["Hostname"].as_str().unwrap(), r["Port"])
        })
        .collect();
    pooled.sort();
    let mut want = vec![r2.clone(), r3.clone()];
    want.sort();
    assert_eq!(pooled, want);
    let out = client(
        &orc,
        &[
            "-c",
            "which-heuristic-cluster-pool-instances",
            "-i",
            &m,
            "-l",
            "reads",
        ],
    )
    .await;
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    assert_eq!(got, want);
    // A replica that stops replicating leaves the heuristic pool.
    client(&orc, &["-c", "stop-replica", "-i", &r3]).await;
    let heuristic = ok(&orc, &format!("heuristic-cluster-pool-instances/{m}/reads")).await;
    assert_eq!(keys_of(&heuristic["Details"]), vec![r2.clone()]);
    let lag = ok(&orc, &format!("heuristic-cluster-pool-lag/{m}/reads")).await;
    assert!(lag["Details"].as_i64().unwrap() >= 0);
    // Resubmitting replaces the pool.
    ok(&orc, &format!("submit-pool-instances/reads?instances={r1}")).await;
    let rows = ok(&orc, &format!("cluster-pool-instances/{m}")).await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let (status, bad) = orc
        .get("submit-pool-instances/reads?instances=not%20a%20host:x")
        .await
        .unwrap();
    assert_eq!(
        (status, bad["Code"].as_str()),
        (500, Some("ERROR")),
        "{bad}"
    );

    // --- problems: the stopped replica, until downtimed ---
    let problems = eventually(Duration::from_secs(5), || async {
        let p = ok(&orc, "problems").await;
        keys_of(&p).contains(&r3).then_some(p)
    })
    .await
    .expect("a stopped replica is a problem");
    assert!(!keys_of(&problems).contains(&r2));
    assert_eq!(
        keys_of(&ok(&orc, &format!("problems/{m}")).await),
        vec![r3.clone()]
    );
    client(
        &orc,
        &["-c", "begin-downtime", "-i", &r3, "-r", "test", "-o", "me"],
    )
    .await;
    assert!(!keys_of(&ok(&orc, "problems").await).contains(&r3));
    client(&orc, &["-c", "start-replica", "-i", &r3]).await;

    // --- manual alias ---
    let set = ok(&orc, &format!("set-cluster-alias/{m}?alias=payments")).await;
    assert_eq!(set["Code"], "OK");
    let out = client(&orc, &["-c", "which-cluster-alias", "-i", &r2]).await;
    assert_eq!(out.trim(), "payments");
    let info = ok(&orc, "cluster-info/alias/payments").await;
    assert_eq!(info["ClusterName"], m.as_str());
    let out = client(&orc, &["-c", "which-cluster-master", "-a", "payments"]).await;
    assert_eq!(out.trim(), m);
    let (status, retired) = orc.get("reload-cluster-alias").await.unwrap();
    assert_eq!(status, 500);
    assert_eq!(retired["Message"], "This API call has been retired");

    // --- KV pairs use the alias ---
    let kv = ok(&orc, "submit-masters-to-kv-stores/payments").await;
    assert_eq!(
        kv["Details"],
        json!([
            {"Key": "mysql/master/payments", "Value": m},
            {"Key": "mysql/master/payments/hostname", "Value": "127.0.0.1"},
            {"Key": "mysql/master/payments/port", "Value": sb.instance("m").unwrap().port().to_string()},
        ])
    );
    let out = client(
        &orc,
        &["-c", "submit-masters-to-kv-stores", "-a", "payments"],
    )
    .await;
    assert!(out.contains(&format!("mysql/master/payments:{m}")), "{out}");

    // --- OSC replicas: the intermediate master, its leaf, the master's leaf ---
    let osc = ok(&orc, &format!("cluster-osc-replicas/{m}")).await;
    let mut want = vec![r1.clone(), r2.clone(), r3.clone()];
    want.sort();
    assert_eq!(keys_of(&osc), want);
    let out = client(&orc, &["-c", "which-cluster-osc-replicas", "-i", &m]).await;
    assert_eq!(out.lines().count(), 3, "{out}");

    // --- snapshots, bulk listings, refresh, resolve ---
    let snap = ok(&orc, "snapshot-topologies").await;
    assert!(
        snap["Message"].as_str().unwrap().contains("4 instances"),
        "{snap}"
    );
    assert_eq!(keys_of(&ok(&orc, "bulk-instances").await).len(), 4);
    client(
        &orc,
        &["-c", "register-candidate", "-i", &r2, "-R", "prefer"],
    )
    .await;
    let rules = ok(&orc, "bulk-promotion-rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert_eq!(rules[0]["PromotionRule"], "prefer");
    let refreshed = ok(&orc, &format!("refresh/{}", path(&sb, "r2"))).await;
    assert_eq!(
        refreshed["Details"]["Port"],
        sb.instance("r2").unwrap().port()
    );
    let resolved = ok(&orc, &format!("resolve/{}", path(&sb, "r2"))).await;
    assert_eq!(resolved["Details"]["Hostname"], "127.0.0.1");
    assert_eq!(ok(&orc, "hostname-resolve-cache").await["Code"], "OK");
    assert_eq!(ok(&orc, "reset-hostname-resolve-cache").await["Code"], "OK");

    // --- configuration shown ---
    let filters = ok(&orc, "automated-recovery-filters").await;
    assert_eq!(
        filters["Details"],
        json!({
            "RecoverMasterClusterFilters": ["*"],
            "RecoverIntermediateMasterClusterFilters": [],
            "RecoveryIgnoreHostnameFilters": ["^ignored-host$"],
        })
    );
    assert_eq!(ok(&orc, "replication-analysis-changelog").await, json!([]));

    // --- the same through gRPC (orc.v1.Operator) ---
    use orc_proto::v1 as wire;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", orc.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut op = wire::operator_client::OperatorClient::new(channel);
    let wkey = |name: &str| wire::InstanceKey {
        hostname: "127.0.0.1".into(),
        port: u32::from(sb.instance(name).unwrap().port()),
    };
    let tagged = op
        .tag(wire::TagRequest {
            instance: Some(wkey("r3")),
            name: "dc".into(),
            value: "east".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tagged.port, u32::from(sb.instance("r3").unwrap().port()));
    let found = op
        .tagged(wire::TaggedRequest {
            expression: "dc=east".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.keys, vec![wkey("r3")]);
    let tags = op
        .list_tags(wire::InstanceRequest {
            key: Some(wkey("r3")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        tags.tags,
        vec![wire::Tag {
            name: "dc".into(),
            value: "east".into()
        }]
    );
    let gone = op
        .untag(wire::UntagRequest {
            instance: None,
            name: "dc".into(),
            value: "west".into(),
            has_value: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(gone.keys.is_empty(), "only dc=west is removed");
    let bad = op
        .tag(wire::TagRequest {
            instance: Some(wkey("r3")),
            name: "".into(),
            value: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let submitted = op
        .submit_pool(wire::SubmitPoolRequest {
            pool: "batch".into(),
            instances: vec![wkey("r1"), wkey("r2")],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.count, 2);
    let pool = op
        .list_pool_instances(wire::PoolRequest {
            cluster_hint: "payments".into(),
            pool: "batch".into(),
            heuristic: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pool.instances.len(), 2, "{pool:?}");
    assert!(pool.instances.iter().all(|i| i.cluster_alias == "payments"));
    let info = op
        .set_cluster_alias(wire::SetClusterAliasRequest {
            cluster_hint: m.clone(),
            alias: "ledger".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.cluster_alias, "ledger");
    let kv = op
        .master_key_values(wire::ClusterRequest {
            cluster_hint: "ledger".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kv.pairs[0].key, "mysql/master/ledger");
    assert_eq!(kv.pairs[0].value, m);
    let osc = op
        .list_osc_replicas(wire::ClusterRequest {
            cluster_hint: "ledger".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(osc.instances.len(), 3);
    let problems = op
        .list_problems(wire::ClusterRequest {
            cluster_hint: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(problems.instances.is_empty(), "{problems:?}");
    let audit = op
        .list_audit(wire::AuditRequest {
            instance: Some(wkey("r3")),
            page: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(audit.entries.iter().any(|e| e.kind == "tag"), "{audit:?}");
    let lead = op
        .get_leadership(wire::LeadershipRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(lead.is_leader && lead.state == "Leader", "{lead:?}");
    let snap = op
        .snapshot_topologies(wire::SnapshotTopologiesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(snap.instances, 4);
    let reload = op
        .reload_configuration(wire::ReloadConfigurationRequest {})
        .await
        .unwrap_err();
    assert_eq!(reload.code(), tonic::Code::Unavailable, "{reload:?}");

    // Every change above is in the audit.
    let audit = ok(&orc, "audit").await;
    let kinds: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["AuditType"].as_str())
        .collect();
    for kind in ["tag", "untag", "submit-pool-instances", "set-cluster-alias"] {
        assert!(kinds.contains(&kind), "{kind} not audited: {kinds:?}");
    }
    orc.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_elect_one_leader_that_proxies_and_scripts_can_find() {
    let nats = NatsServer::start().await.unwrap();
    let sb = SandboxBuilder::master_with_replicas(1)
        .start()
        .await
        .unwrap();
    // One full process, and a second gateway sharing its backend.
    let dir = tempfile::tempdir().unwrap();
    let backend = dir.path().join("shared.sqlite3");
    let mut config = test_config(&backend, 0.5);
    let first = Orc::start_with(config.clone(), Roles::ALL, Some(&nats.url()), None)
        .await
        .unwrap();
    config["SQLite3DataFile"] = json!(backend.display().to_string());
    let second = Orc::start_with(
        config,
        Roles {
            prober: false,
            analyzer: false,
            recovery: false,
            gateway: true,
        },
        Some(&nats.url()),
        None,
    )
    .await
    .unwrap();
    let leader_of = |o: &Orc| {
        let o = o.api();
        async move {
            let http = integration_tests::pki::http_client();
            http.get(format!("{o}/leader-check"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    // Exactly one leads, and both agree on who.
    let statuses = eventually(Duration::from_secs(10), || async {
        let s = (leader_of(&first).await, leader_of(&second).await);
        (s == (200, 404) || s == (404, 200)).then_some(s)
    })
    .await
    .expect("one leader");
    let (leader, follower) = if statuses.0 == 200 {
        (&first, &second)
    } else {
        (&second, &first)
    };
    let named = ok(leader, "raft-leader").await;
    assert_eq!(ok(follower, "raft-leader").await, named);
    assert!(
        named
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}", leader.http.port())),
        "{named}"
    );
    assert_eq!(ok(leader, "raft-state").await, json!("Leader"));
    assert_eq!(ok(follower, "raft-state").await, json!("Follower"));
    assert_eq!(ok(follower, "routed-leader-check").await, json!("OK"));
    assert_eq!(ok(follower, "raft-health").await, json!("healthy"));
    let peers = eventually(Duration::from_secs(5), || async {
        let p = ok(follower, "raft-peers").await;
        (p.as_array()?.len() == 2).then_some(p)
    })
    .await
    .expect("both gateways known");
    assert_eq!(peers.as_array().unwrap().len(), 2);
    let (status, _) = leader
        .get("leader-check/503")
        .await
        .unwrap_or((0, Value::Null));
    assert_eq!(status, 200);
    let http = integration_tests::pki::http_client();
    let code = http
        .get(format!("{}/leader-check/503", follower.api()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(code, 503);
    let health = ok(follower, "health").await;
    assert_eq!(health["Details"]["IsActiveNode"], false);
    assert_eq!(health["Details"]["RaftLeader"], named);

    // orchestrator-client finds the leader among several URLs.
    let env = orc_client::Env {
        api: Some(format!("{} {}", follower.api(), leader.api())),
        retries: Some(0),
        ..Default::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = orc_client::run(&["-c".into(), "which-api".into()], &env, &mut out, &mut err).await;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    assert_eq!(String::from_utf8_lossy(&out).trim(), leader.api());
    // Discovery through whichever gateway: both serve.
    let (code, _, err) = follower
        .client(&["-c", "discover", "-i", &key(&sb, "m")])
        .await;
    assert_eq!(code, 0, "{err}");

    // Yielding moves the leadership to the other gateway.
    let other = follower.http.port().to_string();
    let y = ok(leader, &format!("raft-yield/{other}")).await;
    assert_eq!(y["Code"], "OK");
    let moved = eventually(Duration::from_secs(10), || async {
        (leader_of(follower).await == 200 && leader_of(leader).await == 404).then_some(())
    })
    .await;
    assert!(moved.is_some(), "leadership did not move");
    // The leader stopping hands over to the survivor.
    let (stopping, staying) = if leader_of(&second).await == 200 {
        (second, first)
    } else {
        (first, second)
    };
    stopping.stop().await.unwrap();
    let took_over = eventually(Duration::from_secs(10), || async {
        (leader_of(&staying).await == 200).then_some(())
    })
    .await;
    assert!(took_over.is_some(), "no leader after the leader stopped");
    staying.stop().await.unwrap();
}

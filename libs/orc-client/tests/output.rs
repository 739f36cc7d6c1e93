//! What the client calls and prints, from orchestrator's captured answers
//! (`testdata/upstream`: orchestrator 3.2.6's JSON and orchestrator-client's
//! output for the same topology) and, for commands without a capture,
//! answers in orchestrator's shapes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use support::{FakeApi, client, env};

fn upstream(name: &str) -> String {
    let path = format!("{}/testdata/upstream/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Serves fixed bodies by request target (path and query, without `/api`).
async fn serving(routes: &[(&str, String)]) -> FakeApi {
    let routes: BTreeMap<String, String> = routes
        .iter()
        .map(|(k, v)| (format!("/api/{k}"), v.clone()))
        .collect();
    FakeApi::http(Arc::new(move |r| match routes.get(&r.target) {
        Some(body) => (200, body.clone()),
        None => (404, "404 page not found".to_string()),
    }))
    .await
}

/// Runs a command that must succeed; returns its output.
async fn output(api: &FakeApi, args: &[&str]) -> String {
    let (code, out, err) = client(&env(&api.url("http")), args).await;
    assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
    out
}

fn replicas_of_the_master() -> String {
    let cluster: Value = serde_json::from_str(&upstream("api-cluster.json")).unwrap();
    let replicas: Vec<&Value> = cluster
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["MasterKey"]["Port"] == 22101)
        .collect();
    serde_json::to_string(&replicas).unwrap()
}

#[tokio::test]
async fn information_commands_print_what_orchestrator_client_printed() {
    let api = serving(&[
        ("clusters-info", upstream("api-clusters-info.json")),
        ("all-instances", upstream("api-cluster.json")),
        (
            "instance/127.0.0.1/22102",
            upstream("api-instance-replica.json"),
        ),
        (
            "instance-replicas/127.0.0.1/22101",
            replicas_of_the_master(),
        ),
        (
            "master/127.0.0.1%3A22101",
            upstream("api-instance-master.json"),
        ),
        ("topology/127.0.0.1%3A22101", upstream("api-topology.json")),
        (
            "replication-analysis",
            upstream("api-replication-analysis-healthy.json"),
        ),
    ])
    .await;
    let cases: &[(&[&str], &str)] = &[
        (&["-c", "clusters"], "client-clusters.txt"),
        (&["-c", "clusters-alias"], "client-clusters-alias.txt"),
        (&["-c", "all-instances"], "client-all-instances.txt"),
        (
            &["-c", "instance", "-i", "127.0.0.1:22102"],
            "client-instance.txt",
        ),
        (
            &["-c", "which-master", "-i", "127.0.0.1:22102"],
            "client-which-master.txt",
        ),
        (
            &["-c", "which-replicas", "-i", "127.0.0.1:22101"],
            "client-which-replicas.txt",
        ),
        (
            &["-c", "which-cluster-master", "-i", "127.0.0.1:22101"],
            "client-which-cluster-master.txt",
        ),
        (
            &["-c", "topology", "-i", "127.0.0.1:22101"],
            "client-topology.txt",
        ),
        (
            &["-c", "replication-analysis"],
            "client-replication-analysis-healthy.txt",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(output(&api, args).await, upstream(expected), "{args:?}");
    }
}

#[tokio::test]
async fn replication_analysis_names_instance_cluster_and_problem() {
    for (capture, problem) in [
        ("unreachable-master", "UnreachableMaster"),
        ("after-failover", "DeadMasterWithoutReplicas"),
    ] {
        let api = serving(&[(
            "replication-analysis",
            upstream(&format!("api-replication-analysis-{capture}.json")),
        )])
        .await;
        assert_eq!(
            output(&api, &["-c", "replication-analysis"]).await,
            format!("127.0.0.1:22101 (cluster 127.0.0.1:22101): {problem}\n")
        );
    }
}

#[tokio::test]
async fn tabulated_topologies_keep_their_padding() {
    let text = upstream("client-topology-tabulated.txt");
    let details = text.strip_suffix('\n').unwrap();
    let api = serving(&[("topology-tabulated/c1", ok(json!(details)))]).await;
    assert_eq!(
        output(&api, &["-c", "topology-tabulated", "-a", "c1"]).await,
        text
    );
}

#[tokio::test]
async fn instance_questions_filter_as_orchestrator_client_does() {
    let master: Value = serde_json::from_str(&upstream("api-instance-master.json")).unwrap();
    let replica: Value = serde_json::from_str(&upstream("api-instance-replica.json")).unwrap();
    let mut broken = replica.clone();
    broken["ReplicationSQLThreadRuning"] = json!(false);
    broken["LastSQLError"] = json!("Duplicate entry");
    broken["Key"]["Port"] = json!(22109);
    let replicas = json!([replica, broken]).to_string();
    let api = serving(&[
        ("instance/127.0.0.1/22101", master.to_string()),
        ("instance/127.0.0.1/22102", replica.to_string()),
        ("instance-replicas/127.0.0.1/22101", replicas.clone()),
        ("cluster-osc-replicas/c1", replicas),
        ("masters", json!([master, master]).to_string()),
    ])
    .await;
    let run = |args: &'static [&'static str]| {
        let api = &api;
        async move { output(api, args).await }
    };
    assert_eq!(
        run(&["-c", "is-replicating", "-i", "127.0.0.1:22102"]).await,
        "127.0.0.1:22102\n"
    );
    assert_eq!(
        run(&["-c", "is-replicating", "-i", "127.0.0.1:22101"]).await,
        ""
    );
    assert_eq!(
        run(&["-c", "which-broken-replicas", "-i", "127.0.0.1:22101"]).await,
        "127.0.0.1:22109\n"
    );
    assert_eq!(
        run(&["-c", "which-cluster-osc-replicas", "-a", "c1"]).await,
        "127.0.0.1:22102\n127.0.0.1:22109\n"
    );
    assert_eq!(
        run(&["-c", "which-cluster-osc-running-replicas", "-a", "c1"]).await,
        "127.0.0.1:22102\n"
    );
    assert_eq!(
        run(&["-c", "which-gtid-errant", "-i", "127.0.0.1:22102"]).await,
        "\n"
    );
    assert_eq!(run(&["-c", "dominant-dc"]).await, "\n");
}

fn ok(details: Value) -> String {
    json!({"Code": "OK", "Message": "", "Details": details}).to_string()
}

fn k(port: u16) -> Value {
    json!({"Hostname": "db", "Port": port})
}

#[tokio::test]
async fn tag_commands_call_orchestrators_routes() {
    let api = serving(&[
        ("tags/db/3306", json!(["role=primary", "dc"]).to_string()),
        ("tag-value/db/3306?tag=role", json!("primary").to_string()),
        ("tag/db/3306?tag=role%3Dprimary", ok(k(3306))),
        ("untag/db/3306?tag=role", ok(json!([k(3306), k(3307)]))),
        ("untag-all?tag=role%3Dprimary", ok(json!([k(3307)]))),
        (
            "tagged?tag=role%2C~dc",
            json!([k(3306), k(3308)]).to_string(),
        ),
        (
            "topology-tags/db%3A3306",
            ok(json!("db:3306 [role=primary]\n+ db:3307")),
        ),
    ])
    .await;
    let cases: &[(&[&str], &str)] = &[
        (&["-c", "tags", "-i", "db"], "role=primary\ndc\n"),
        (&["-c", "tag-value", "-i", "db", "-t", "role"], "primary\n"),
        (
            &["-c", "tag", "-i", "db:3306", "-t", "role=primary"],
            "db:3306\n",
        ),
        (
            &["-c", "untag", "-i", "db", "--tag", "role"],
            "db:3306\ndb:3307\n",
        ),
        (&["-c", "untag-all", "-t", "role=primary"], "db:3307\n"),
        (&["-c", "tagged", "-t", "role,~dc"], "db:3306\ndb:3308\n"),
        (
            &["-c", "topology-tags", "-i", "db:3306"],
            "db:3306 [role=primary]\n+ db:3307\n",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(output(&api, args).await, *expected, "{args:?}");
    }
    let (code, _, err) = client(&env(&api.url("http")), &["-c", "tag", "-i", "db"]).await;
    assert_eq!((code, err.trim()), (1, "tag must be provided"));
}

#[tokio::test]
async fn pool_hostname_and_kv_commands_call_orchestrators_routes() {
    let pooled = json!([{"Key": k(3306)}, {"Key": k(3307)}]);
    let api = serving(&[
        (
            "submit-pool-instances/web?instances=db%3A3306%2Cdb%3A3307",
            ok(json!("Submitted 2 instances")),
        ),
        (
            "heuristic-cluster-pool-instances/c1/web",
            ok(pooled.clone()),
        ),
        ("heuristic-cluster-pool-instances/c1", ok(pooled)),
        (
            "register-hostname-unresolve/db/3306/vip.example",
            ok(k(3306)),
        ),
        ("deregister-hostname-unresolve/db/3306", ok(k(3306))),
        (
            "submit-masters-to-kv-stores/c1",
            ok(json!([{"Key": "mysql/master/c1", "Value": "db:3306"}])),
        ),
        ("snapshot-topologies", ok(json!("OK"))),
    ])
    .await;
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "-c",
                "submit-pool-instances",
                "-l",
                "web",
                "-i",
                "db:3306,db:3307",
            ],
            "Submitted 2 instances\n",
        ),
        (
            &[
                "-c",
                "which-heuristic-cluster-pool-instances",
                "-a",
                "c1",
                "-l",
                "web",
            ],
            "db:3306\ndb:3307\n",
        ),
        (
            &["-c", "which-heuristic-cluster-pool-instances", "-a", "c1"],
            "db:3306\ndb:3307\n",
        ),
        (
            &[
                "-c",
                "register-hostname-unresolve",
                "-i",
                "db",
                "-H",
                "vip.example",
            ],
            "db:3306\n",
        ),
        (
            &["-c", "deregister-hostname-unresolve", "-i", "db"],
            "db:3306\n",
        ),
        (
            &["-c", "submit-masters-to-kv-stores", "-a", "c1"],
            "mysql/master/c1:db:3306\n",
        ),
        (&["-c", "snapshot-topologies"], "OK\n"),
    ];
    for (args, expected) in cases {
        assert_eq!(output(&api, args).await, *expected, "{args:?}");
    }
}

#[tokio::test]
async fn raft_commands_first_check_the_raft_state() {
    let api = serving(&[
        ("raft-state", json!("Leader").to_string()),
        ("raft-leader", json!("10.0.0.1:10008").to_string()),
        ("raft-health", json!("healthy").to_string()),
        ("status", ok(json!({"Hostname": "orc-1", "Healthy": true}))),
        ("raft-yield-hint/orc-2", ok(json!("orc-2"))),
    ])
    .await;
    let cases: &[(&[&str], &str)] = &[
        (&["-c", "raft-leader"], "10.0.0.1:10008\n"),
        (&["-c", "raft-health"], "healthy\n"),
        (&["-c", "raft-leader-hostname"], "orc-1\n"),
        (&["-c", "raft-elect-leader", "-H", "orc-2"], "orc-2\n"),
    ];
    for (args, expected) in cases {
        assert_eq!(output(&api, args).await, *expected, "{args:?}");
    }
    let follower = serving(&[("raft-state", json!("Follower").to_string())]).await;
    let (code, out, err) = client(&env(&follower.url("http")), &["-c", "raft-leader"]).await;
    assert_eq!(
        (code, out.as_str(), err.trim()),
        (1, "", "Cannot determine raft state")
    );
}

#[tokio::test]
async fn restart_replica_statements_print_the_array_on_one_line() {
    let api = serving(&[(
        "restart-replica-statements/db/3306?q=set%20global%20x%3D1",
        ok(json!([
            "stop slave io_thread",
            "set global x=1",
            "start slave io_thread"
        ])),
    )])
    .await;
    assert_eq!(
        output(
            &api,
            &[
                "-c",
                "restart-slave-statements",
                "-i",
                "db",
                "-q",
                "set global x=1"
            ]
        )
        .await,
        "[ \"stop slave io_thread\", \"set global x=1\", \"start slave io_thread\" ]\n"
    );
}

#[tokio::test]
async fn errors_print_the_message_and_the_api_command_prints_the_envelope() {
    let error =
        json!({"Code": "ERROR", "Message": "Cannot read instance: \"db:1\"", "Details": null});
    let api = serving(&[("instance/db/1", error.to_string())]).await;
    let (code, out, err) = client(&env(&api.url("http")), &["-c", "instance", "-i", "db:1"]).await;
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "", "Cannot read instance: db:1\n")
    );
    let (code, out, err) = client(
        &env(&api.url("http")),
        &["-c", "api", "-P", "instance/db/1"],
    )
    .await;
    assert_eq!((code, err.as_str()), (1, ""));
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed, error);
}

#[tokio::test]
async fn help_and_version_need_no_api() {
    let e = env("http://127.0.0.1:1");
    for args in [&["--help"][..], &["-h"], &["help"], &["-c", "help"]] {
        let (code, out, _) = client(&e, args).await;
        assert_eq!(code, 0);
        assert!(
            out.starts_with("Usage: orchestrator-client -c <command>"),
            "{args:?}"
        );
        for word in [
            "--headers-auth",
            "ORC_CLIENT_CA_FILE",
            "raft-elect-leader",
            "tagged",
        ] {
            assert!(out.contains(word), "{word}");
        }
    }
    let (code, out, _) = client(&e, &["--version"]).await;
    assert_eq!(
        (code, out),
        (
            0,
            format!("orchestrator-client {}\n", env!("CARGO_PKG_VERSION"))
        )
    );
    let (code, _, err) = client(&e, &["-c", "clusters", "--bogus=1"]).await;
    assert_eq!((code, err.as_str()), (1, "unknown option: --bogus\n"));
}

#[tokio::test]
async fn replication_analysis_lists_every_structure_warning() {
    let mut doc: Value = serde_json::from_str(&upstream(
        "api-replication-analysis-unreachable-master.json",
    ))
    .unwrap();
    let mut second = doc["Details"][0].clone();
    second["Analysis"] = json!("NoProblem");
    second["AnalyzedInstanceKey"]["Port"] = json!(22102);
    second["StructureAnalysis"] = json!([
        "NoFailoverSupportStructureWarning",
        "NoLoggingReplicasStructureWarning"
    ]);
    doc["Details"][0]["StructureAnalysis"] = json!(["ErrantGTIDStructureWarning"]);
    doc["Details"].as_array_mut().unwrap().push(second);
    let api = serving(&[("replication-analysis", doc.to_string())]).await;
    assert_eq!(
        output(&api, &["-c", "replication-analysis"]).await,
        "127.0.0.1:22101 (cluster 127.0.0.1:22101): UnreachableMaster, ErrantGTIDStructureWarning\n\
         127.0.0.1:22102 (cluster 127.0.0.1:22101): NoFailoverSupportStructureWarning, NoLoggingReplicasStructureWarning\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_operations_show_progress_on_stderr_only_when_asked() {
    let api = FakeApi::http(Arc::new(|_| {
        // A regroup that takes a while.
        std::thread::sleep(std::time::Duration::from_millis(2300));
        (
            500,
            json!({"Code": "ERROR", "Message": "regroup refused", "Details": null}).to_string(),
        )
    }))
    .await;
    let mut e = env(&api.url("http"));
    e.progress = true;
    let (code, out, err) = client(&e, &["-c", "regroup-replicas", "-i", "db1:3306"]).await;
    assert_eq!(code, 1);
    assert!(out.is_empty(), "progress never goes to stdout: {out:?}");
    assert!(
        err.matches("\rregroup-replicas: working… ").count() >= 1,
        "{err:?}"
    );
    assert!(
        err.contains("\r\u{1b}[K"),
        "the progress line is erased: {err:?}"
    );
    assert!(err.contains("regroup refused"), "{err:?}");

    // Off (a pipe, or ORC_CLIENT_PROGRESS=0): no progress at all.
    e.progress = false;
    let (_, _, err) = client(&e, &["-c", "regroup-replicas", "-i", "db1:3306"]).await;
    assert!(!err.contains("working"), "{err:?}");
    // And a quick command never shows any.
    e.progress = true;
    let (_, _, err) = client(&e, &["-c", "clusters"]).await;
    assert!(!err.contains("working"), "{err:?}");
}

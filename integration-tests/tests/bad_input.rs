//! Bad input gets a clear error in orchestrator's envelope, stores nothing,
//! and the service keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use integration_tests::{Orc, eventually, test_config};
use orc_testkit::SandboxBuilder;
use serde_json::Value;

async fn assert_error(orc: &Orc, path: &str, needle: &str) {
    let (status, body) = orc.get(path).await.unwrap();
    assert_eq!(
        status, 500,
        "{path}: orchestrator answers errors with HTTP 500"
    );
    assert_eq!(body["Code"], "ERROR", "{path}: {body}");
    let message = body["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{path}: {message:?} should mention {needle:?}"
    );
}

async fn nothing_stored(orc: &Orc) {
    let (status, body) = orc.get("all-instances").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, Value::Array(vec![]), "nothing may be stored");
}

#[tokio::test]
async fn malformed_keys_and_unknown_names_are_refused_clearly() {
    let orc = Orc::start(None).await.unwrap();
    assert_error(&orc, "instance/bad%20host/3306", "invalid character").await;
    assert_error(&orc, "discover/db1/notaport", "Invalid port").await;
    assert_error(&orc, "discover/db1/0", "port").await;
    assert_error(&orc, "discover/db1/70000", "Invalid port").await;
    assert_error(
        &orc,
        "instance/127.0.0.1/1",
        "Cannot read instance: 127.0.0.1:1",
    )
    .await;
    assert_error(
        &orc,
        "instance-replicas/127.0.0.1/1",
        "Cannot read instance",
    )
    .await;
    assert_error(
        &orc,
        "cluster/no-such-cluster",
        "Unable to determine cluster name",
    )
    .await;
    assert_error(
        &orc,
        "topology/no-such-cluster",
        "Unable to determine cluster name",
    )
    .await;
    assert_error(
        &orc,
        "cluster-info/alias/nope",
        "Unable to determine cluster name",
    )
    .await;
    assert_error(&orc, "forget/127.0.0.1/1", "not found").await;
    nothing_stored(&orc).await;
    // Unknown routes answer 404 text, as orchestrator's router does.
    let resp = orc_client::fetch::get(
        &format!("{}/no-such-route", orc.api()),
        &[],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 404);
    // The client reports the same errors and exits 1.
    let (code, _, err) = orc.client(&["-c", "which-master", "-i", "bad host"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("invalid character"), "{err}");
    let (code, _, err) = orc.client(&["-c", "no-such-command"]).await;
    assert_eq!(
        (code, err.trim()),
        (1, "Unsupported command: no-such-command")
    );
    let (code, _, err) = orc.client(&["-c", "instance"]).await;
    assert_eq!((code, err.trim()), (1, "instance must be provided"));
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_host_is_not_stored_and_the_service_keeps_running() {
    let sb = SandboxBuilder::new().master("m").start().await.unwrap();
    let orc = Orc::start(None).await.unwrap();
    let dead_port = orc_testkit::free_port(&[]).unwrap();
    assert_error(&orc, &format!("discover/127.0.0.1/{dead_port}"), "refused").await;
    assert_error(
        &orc,
        "discover/no-such-host.invalid/3306",
        "no-such-host.invalid",
    )
    .await;
    nothing_stored(&orc).await;
    let (code, out, _) = orc
        .client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!((code, out.trim()), (0, sb.key("m").unwrap().as_str()));
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_are_reported_and_nothing_is_stored() {
    let sb = SandboxBuilder::new().master("m").start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir.path().join("o.sqlite3"), 1.0);
    config["MySQLTopologyPassword"] = Value::from("wrong-password");
    let orc = Orc::start_with(config, orchestrator::roles::Roles::ALL, None, Some(dir))
        .await
        .unwrap();
    let key = sb.key("m").unwrap().replace(':', "/");
    assert_error(&orc, &format!("discover/{key}"), "Access denied").await;
    nothing_stored(&orc).await;
    let (code, _, err) = orc
        .client(&["-c", "discover", "-i", &sb.key("m").unwrap()])
        .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("Access denied") && !err.contains("wrong-password"),
        "{err}"
    );
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_answers_with_proper_status_codes_health_and_reflection() {
    use orc_proto::v1::orchestrator_client::OrchestratorClient;
    use orc_proto::v1::{ClusterRequest, InstanceKey, InstanceRequest, TopologyRequest};

    let sb = SandboxBuilder::master_with_replicas(1)
        .start()
        .await
        .unwrap();
    let orc = Orc::start(None).await.unwrap();
    let endpoint = format!("http://{}", orc.grpc);
    let mut client = OrchestratorClient::connect(endpoint.clone()).await.unwrap();
    let key = |host: &str, port: u32| InstanceRequest {
        key: Some(InstanceKey {
            hostname: host.into(),
            port,
        }),
    };

    let bad = client
        .get_instance(key("bad host", 3306))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad:?}");
    let missing = client.get_instance(key("127.0.0.1", 1)).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let dead = orc_testkit::free_port(&[]).unwrap();
    let refused = client
        .discover(key("127.0.0.1", u32::from(dead)))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    let none = client
        .get_instance(InstanceRequest { key: None })
        .await
        .unwrap_err();
    assert_eq!(none.code(), tonic::Code::InvalidArgument);

    let m = sb.instance("m").unwrap();
    let found = client
        .discover(key("127.0.0.1", u32::from(m.port())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.cluster_name, sb.key("m").unwrap());
    assert_eq!(found.data.unwrap().server_id, 1);
    let topo = eventually(Duration::from_secs(3), || {
        let mut c = client.clone();
        let hint = sb.key("m").unwrap();
        async move {
            let t = c
                .get_topology(TopologyRequest {
                    cluster_hint: hint,
                    tabulated: false,
                })
                .await
                .ok()?
                .into_inner();
            (t.text.lines().count() == 2).then_some(t)
        }
    })
    .await
    .expect("topology over gRPC");
    assert!(
        topo.text.contains(&format!("+ {}", sb.key("r1").unwrap())),
        "{}",
        topo.text
    );
    let members = client
        .list_cluster_instances(ClusterRequest {
            cluster_hint: sb.key("r1").unwrap(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.instances.len(), 2);

    let channel = tonic::transport::Channel::from_shared(endpoint)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "orc.v1.Orchestrator".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", orc.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"orc.v1.Orchestrator".to_string()),
        "{names:?}"
    );
    orc.stop().await.unwrap();
}

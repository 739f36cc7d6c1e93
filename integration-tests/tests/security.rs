//! Who may call what, on real servers: every route and gRPC method that
//! changes something is refused to the anonymous user under `basic`, to
//! `readonly` under `multi`, to a non-power user under `proxy` and to
//! everyone under `ReadOnly`, and the refused calls change nothing; TLS on
//! both APIs, with client certificates refused by `SSLValidOUs`; start-up
//! refusals of configurations that would run open; configuration reload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine as _;
use gateway::access::Need;
use gateway::routes::{ROUTES, grpc_need_of, operation_need};
use integration_tests::pki::Pki;
use integration_tests::{Orc, orc_on, read_only, source_of, test_config, workspace_binary};
use orc_proto::v1 as wire;
use orc_testkit::SandboxBuilder;
use orchestrator::roles::Roles;
use prost::Message as _;
use serde_json::{Value, json};

/// A path for a route of the catalogue: optional parts dropped, each
/// `:param` given a plausible value for the sandbox (`:host/:port` a
/// replica, `:belowHost/:belowPort` the master).
fn sample(path: &str, master: u16, replica: u16, sibling: u16) -> String {
    let mut out = Vec::new();
    let required = path.split('[').next().unwrap_or(path);
    let segments: Vec<&str> = required.split('/').collect();
    for seg in &segments {
        let value = match *seg {
            ":host" | ":belowHost" | ":siblingHost" | ":designatedHost" | ":candidateHost" => {
                "127.0.0.1".to_string()
            }
            ":port" => replica.to_string(),
            ":belowPort" | ":designatedPort" | ":candidatePort" => master.to_string(),
            ":siblingPort" => sibling.to_string(),
            ":clusterHint" | ":clusterName" => format!("127.0.0.1:{master}"),
            ":clusterAlias" => "no-such-alias".into(),
            ":owner" => "tester".into(),
            ":reason" => "testing".into(),
            ":duration" => "1m".into(),
            ":promotionRule" => "prefer".into(),
            ":logFile" => "mysql-bin.000001".into(),
            ":seconds" => "5".into(),
            ":process" | ":maintenanceKey" | ":recoveryId" | ":id" => "1".into(),
            ":page" => "0".into(),
            ":errorStatusCode" => "503".into(),
            s if s.starts_with(':') => format!("x{}", &s[1..]),
            s => s.to_string(),
        };
        out.push(value);
    }
    let query = "?comment=test&tag=t&instances=127.0.0.1:1&alias=a&s=x";
    format!("{}{}", out.join("/"), query)
}

async fn get(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    headers: &[(&str, String)],
) -> (u16, String) {
    let mut req = client.get(format!("{base}/{path}"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Every method of every service, as `/package.Service/Method`.
fn grpc_methods() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(orc_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = Vec::new();
    for file in set.file {
        let package = file.package.clone().unwrap_or_default();
        for service in file.service {
            for method in service.method {
                out.push(format!(
                    "/{package}.{}/{}",
                    service.name.clone().unwrap_or_default(),
                    method.name.unwrap_or_default()
                ));
            }
        }
    }
    out
}

/// Calls a unary gRPC method with an empty message (the access layer
/// decides before anything is decoded).
async fn call_empty(
    channel: tonic::transport::Channel,
    path: &str,
    headers: &[(&'static str, String)],
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(());
    for (k, v) in headers {
        request.metadata_mut().insert(*k, v.parse().unwrap());
    }
    let path: tonic::codegen::http::uri::PathAndQuery = path.parse().unwrap();
    match grpc
        .unary::<(), (), _>(request, path, tonic_prost::ProstCodec::<(), ()>::default())
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(s) => s,
    }
}

/// How each server replicates and whether it is read-only.
async fn servers(
    sb: &orc_testkit::Sandbox,
) -> Vec<(String, Option<(u16, bool, bool)>, Option<bool>)> {
    let mut out = Vec::new();
    for i in sb.instances() {
        out.push((
            i.name().to_string(),
            source_of(sb, i.name()).await,
            read_only(sb, i.name()).await,
        ));
    }
    out
}

struct Case {
    label: &'static str,
    config: Value,
    /// Who calls (headers), and what a change gets: 401 or "Unauthorized".
    refused: Vec<(&'static str, String)>,
    unauthenticated: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_refused_to_whoever_may_not_change_and_changes_nothing() {
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let (m, r1, r2) = (
        sb.instance("m").unwrap().port(),
        sb.instance("r1").unwrap().port(),
        sb.instance("r2").unwrap().port(),
    );
    let before = servers(&sb).await;
    let cases = vec![
        Case {
            label: "basic, anonymous",
            config: json!({"AuthenticationMethod":"basic","HTTPAuthUser":"admin","HTTPAuthPassword":"s3cret"}),
            refused: vec![],
            unauthenticated: true,
        },
        Case {
            label: "basic, wrong password",
            config: json!({"AuthenticationMethod":"basic","HTTPAuthUser":"admin","HTTPAuthPassword":"s3cret"}),
            refused: vec![("authorization", basic("admin", "guess"))],
            unauthenticated: true,
        },
        Case {
            label: "multi, readonly",
            config: json!({"AuthenticationMethod":"multi","HTTPAuthUser":"admin","HTTPAuthPassword":"s3cret"}),
            refused: vec![("authorization", basic("readonly", "whatever"))],
            unauthenticated: false,
        },
        Case {
            label: "proxy, not a power user",
            config: json!({"AuthenticationMethod":"proxy","AuthUserHeader":"X-Auth-User","PowerAuthUsers":["alice"]}),
            refused: vec![("x-auth-user", "bob".to_string())],
            unauthenticated: false,
        },
        Case {
            label: "ReadOnly, anyone",
            config: json!({"ReadOnly": true}),
            refused: vec![],
            unauthenticated: false,
        },
    ];
    let http = integration_tests::pki::http_client();
    let methods = grpc_methods();
    for case in cases {
        let read_only_mode = case.label.starts_with("ReadOnly");
        // The harness discovers as the configured user; under ReadOnly,
        // discovery is itself a change, so seed the instances instead.
        let orc = if read_only_mode {
            let mut config = case.config.clone();
            config["DiscoverySeeds"] = json!([format!("127.0.0.1:{m}")]);
            let dir = tempfile::tempdir().unwrap();
            let mut full = test_config(&dir.path().join("o.sqlite3"), 0.5);
            for (k, v) in config.as_object().unwrap() {
                full[k] = v.clone();
            }
            let orc = Orc::start_with(full, Roles::ALL, None, Some(dir))
                .await
                .unwrap();
            integration_tests::eventually(Duration::from_secs(10), || async {
                let (_, all) = orc.get("all-instances").await.ok()?;
                (all.as_array()?.len() == 3).then_some(())
            })
            .await
            .expect("seeded topology known");
            orc
        } else {
            orc_on(&sb, &sb.key("m").unwrap(), case.config.clone())
                .await
                .unwrap()
        };
        let base = orc.api();
        let mut checked = 0;
        for route in ROUTES
            .iter()
            .filter(|r| r.need == Need::Change && r.absent.is_none())
        {
            let path = sample(route.path, m, r1, r2);
            let (status, body) = get(&http, &base, &path, &case.refused).await;
            if case.unauthenticated {
                assert_eq!(status, 401, "{}: {path}: {body}", case.label);
            } else {
                assert_eq!(status, 500, "{}: {path}: {body}", case.label);
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["Code"], "ERROR", "{}: {path}", case.label);
                assert_eq!(v["Message"], "Unauthorized", "{}: {path}", case.label);
            }
            checked += 1;
        }
        assert!(checked > 100, "{checked} changing routes checked");

        if case.label == "basic, anonymous" {
            // orchestrator-client: -b works, no credentials is a clear 401.
            let run = |auth: Option<&str>| {
                let mut argv = vec!["-c".to_string(), "clusters".to_string()];
                if let Some(a) = auth {
                    argv.extend(["-b".to_string(), a.to_string()]);
                }
                let env = orc_client::Env {
                    api: Some(base.clone()),
                    retries: Some(0),
                    ..Default::default()
                };
                async move {
                    let (mut out, mut err) = (Vec::new(), Vec::new());
                    let code = orc_client::run(&argv, &env, &mut out, &mut err).await;
                    (code, String::from_utf8_lossy(&err).into_owned())
                }
            };
            assert_eq!(run(Some("admin:s3cret")).await.0, 0);
            let (code, err) = run(Some("admin:wrong")).await;
            assert_eq!(code, 1);
            assert!(
                err.contains("401") || err.contains("Cannot access"),
                "{err}"
            );
            assert!(!err.contains("wrong"), "the password is not shown: {err}");
            assert_eq!(run(None).await.0, 1);
        }
        // Reads: refused to the anonymous under basic, allowed otherwise.
        let (status, body) = get(&http, &base, "clusters", &case.refused).await;
        if case.unauthenticated {
            assert_eq!(status, 401, "{}", case.label);
            assert!(!body.contains("s3cret"));
        } else {
            assert_eq!(status, 200, "{}: {body}", case.label);
        }
        // Probes answer everyone.
        let (status, _) = get(&http, &base, "lb-check", &case.refused).await;
        assert_eq!(status, 200);

        // gRPC: every changing method, and every changing operation.
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", orc.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let expected = if case.unauthenticated {
            tonic::Code::Unauthenticated
        } else {
            tonic::Code::PermissionDenied
        };
        let mut grpc_checked = 0;
        for method in methods.iter().filter(|m| grpc_need_of(m) == Need::Change) {
            let status = call_empty(channel.clone(), method, &case.refused).await;
            assert_eq!(
                status.code(),
                expected,
                "{}: {method}: {status:?}",
                case.label
            );
            grpc_checked += 1;
        }
        assert!(
            grpc_checked >= 14,
            "{grpc_checked} changing gRPC methods checked"
        );
        let mut topology = wire::topology_client::TopologyClient::new(channel.clone());
        for value in 1..200 {
            let Ok(op) = wire::Operation::try_from(value) else {
                continue;
            };
            let need = operation_need(op);
            let mut request = tonic::Request::new(wire::OperationRequest {
                operation: value,
                instance: Some(wire::InstanceKey {
                    hostname: "127.0.0.1".into(),
                    port: u32::from(r1),
                }),
                target: Some(wire::InstanceKey {
                    hostname: "127.0.0.1".into(),
                    port: u32::from(m),
                }),
                dry_run: false,
                ..Default::default()
            });
            for (k, v) in &case.refused {
                request.metadata_mut().insert(*k, v.parse().unwrap());
            }
            let answer = topology.operate(request).await;
            if need == Need::Change || case.unauthenticated {
                let status = answer.expect_err("refused");
                assert_eq!(status.code(), expected, "{}: {op:?}", case.label);
            }
        }

        // Nothing changed in what orchestrator keeps either.
        let (_, downtimed) = orc.get("downtimed").await.unwrap();
        assert_eq!(downtimed, json!([]), "{}", case.label);
        let (_, maintenance) = orc.get("maintenance").await.unwrap();
        assert_eq!(maintenance, json!([]), "{}", case.label);
        let (_, switch) = orc.get("check-global-recoveries").await.unwrap();
        assert_eq!(switch["Details"], "enabled", "{}", case.label);
        let (_, all) = orc.get("all-instances").await.unwrap();
        assert_eq!(all.as_array().unwrap().len(), 3, "{}", case.label);
        let (_, recoveries) = orc.get("audit-recovery").await.unwrap();
        assert_eq!(recoveries, json!([]), "{}", case.label);
        orc.stop().await.unwrap();
        assert_eq!(
            servers(&sb).await,
            before,
            "{}: servers changed",
            case.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_both_apis_and_refuses_certificates_outside_the_valid_units() {
    let pki = Pki::new().unwrap();
    let server = pki.server("server").unwrap();
    let dba = pki.client("alice", "dba").unwrap();
    let intern = pki.client("bob", "interns").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir.path().join("o.sqlite3"), 1.0);
    config["UseSSL"] = json!(true);
    config["UseMutualTLS"] = json!(true);
    config["SSLCertFile"] = json!(server.cert);
    config["SSLPrivateKeyFile"] = json!(server.key);
    config["SSLCAFile"] = json!(pki.ca());
    config["SSLValidOUs"] = json!(["dba"]);
    let orc = Orc::start_with(config, Roles::ALL, None, Some(dir))
        .await
        .unwrap();
    let https = format!("https://127.0.0.1:{}/api", orc.http.port());

    let (status, body) = get(&pki.https(Some(&dba)).unwrap(), &https, "clusters", &[]).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    let refused = pki
        .https(Some(&intern))
        .unwrap()
        .get(format!("{https}/clusters"))
        .send()
        .await;
    assert!(refused.is_err(), "OU interns admitted: {refused:?}");
    let anonymous = pki
        .https(None)
        .unwrap()
        .get(format!("{https}/clusters"))
        .send()
        .await;
    assert!(anonymous.is_err(), "no certificate admitted");
    let plain = integration_tests::pki::http_client()
        .get(format!("http://127.0.0.1:{}/api/clusters", orc.http.port()))
        .send()
        .await;
    assert!(
        plain.map(|r| r.status().as_u16() != 200).unwrap_or(true),
        "plain HTTP served on the TLS port"
    );

    // orchestrator-client over HTTPS with a CA file and a client certificate.
    let run_client = |cert: Option<&integration_tests::pki::Pair>, ca: bool| {
        let env = orc_client::Env {
            api: Some(https.clone()),
            retries: Some(0),
            ca_file: ca.then(|| pki.ca()),
            client_cert: cert.map(|p| p.cert.clone()),
            client_key: cert.map(|p| p.key.clone()),
            ..Default::default()
        };
        async move {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let argv = vec!["-c".to_string(), "clusters".to_string()];
            let code = orc_client::run(&argv, &env, &mut out, &mut err).await;
            (code, String::from_utf8_lossy(&err).into_owned())
        }
    };
    assert_eq!(run_client(Some(&dba), true).await.0, 0);
    let (code, err) = run_client(Some(&dba), false).await;
    assert_eq!(
        code, 1,
        "a server certificate nobody vouches for is refused"
    );
    assert!(!err.is_empty());
    assert_eq!(
        run_client(Some(&intern), true).await.0,
        1,
        "OU interns refused"
    );
    assert_eq!(
        run_client(None, true).await.0,
        1,
        "no client certificate refused"
    );

    // gRPC over TLS, with reflection.
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let channel = pki.grpc(orc.grpc, Some(&dba)).await.unwrap();
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let answer = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in ["orc.v1.Orchestrator", "orc.v1.Recovery", "orc.v1.Topology"] {
        assert!(names.contains(&service.to_string()), "{names:?}");
    }
    let mut api = wire::orchestrator_client::OrchestratorClient::new(channel);
    let masters = api.list_masters(wire::ListMastersRequest {}).await.unwrap();
    assert!(masters.into_inner().instances.is_empty());
    let intern_channel = pki.grpc(orc.grpc, Some(&intern)).await;
    let intern_call = match intern_channel {
        Err(_) => true,
        Ok(c) => wire::orchestrator_client::OrchestratorClient::new(c)
            .list_masters(wire::ListMastersRequest {})
            .await
            .is_err(),
    };
    assert!(intern_call, "gRPC admitted OU interns");
    orc.stop().await.unwrap();
}

fn write_config(dir: &std::path::Path, config: &Value) -> std::path::PathBuf {
    let path = dir.join("orchestrator.conf.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_that_would_run_open_stop_start_up_with_status_64() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (json!({"AuthenticationMethod":"basic"}), "HTTPAuthUser"),
        (json!({"UseSSL": true}), "SSLCertFile"),
        (json!({"RaftEnabled": true}), "RaftEnabled"),
        (
            json!({"AuthenticationMethod":"token"}),
            "AuthenticationMethod",
        ),
    ];
    for (config, key) in cases {
        let mut full = test_config(&dir.path().join("o.sqlite3"), 1.0);
        for (k, v) in config.as_object().unwrap() {
            full[k] = v.clone();
        }
        let path = write_config(dir.path(), &full);
        let out = tokio::process::Command::new(workspace_binary("orchestrator"))
            .arg("--config")
            .arg(&path)
            .arg("serve")
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{config}: {stderr}");
        assert!(stderr.contains(key), "{config}: {stderr}");
    }
}

/// Reads the line announcing the HTTP address from a starting binary.
async fn announced_api(child: &mut tokio::process::Child) -> String {
    use tokio::io::AsyncBufReadExt as _;
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("orchestrator: HTTP API on ") {
                return rest.to_string();
            }
        }
        String::new()
    })
    .await
    .unwrap();
    assert!(!line.is_empty(), "no HTTP address announced");
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_written_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(&dir.path().join("o.sqlite3"), 1.0);
    write_config(dir.path(), &config);
    let log = dir.path().join("stderr.log");
    let mut child = tokio::process::Command::new(workspace_binary("orchestrator"))
        .arg("http")
        .current_dir(dir.path())
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let _api = announced_api(&mut child).await;
    child.kill().await.unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(" INFO "), "something was logged: {text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a file: {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_configuration_file_is_read_and_sighup_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir.path().join("o.sqlite3"), 1.0);
    write_config(dir.path(), &config);
    // `orchestrator http`, in a directory holding orchestrator.conf.json,
    // without --config (as orchestrator's service files run it).
    let mut child = tokio::process::Command::new(workspace_binary("orchestrator"))
        .arg("http")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let api = announced_api(&mut child).await;
    assert!(
        api.starts_with("http://127.0.0.1:"),
        "{api}: the file's ListenAddress"
    );
    let http = integration_tests::pki::http_client();
    let (status, _) = get(&http, &api, "disable-global-recoveries", &[]).await;
    assert_eq!(status, 200);
    let (status, _) = get(&http, &api, "enable-global-recoveries", &[]).await;
    assert_eq!(status, 200);

    // ReadOnly through SIGHUP.
    config["ReadOnly"] = json!(true);
    write_config(dir.path(), &config);
    let pid = child.id().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let refused = integration_tests::eventually(Duration::from_secs(5), || async {
        // A change that changes nothing that matters here.
        let (status, body) = get(&http, &api, "grab-election", &[]).await;
        (status == 500 && body.contains("Unauthorized")).then_some(())
    })
    .await;
    assert!(refused.is_some(), "ReadOnly not in force after SIGHUP");
    let (status, body) = get(&http, &api, "disable-global-recoveries", &[]).await;
    assert_eq!(status, 500, "{body}");
    let (_, switch) = get(&http, &api, "check-global-recoveries", &[]).await;
    assert!(switch.contains("enabled"), "{switch}");

    // Basic authentication through the reload route; a change of
    // InstancePollSeconds is reported as needing a restart.
    config["ReadOnly"] = json!(false);
    config["AuthenticationMethod"] = json!("basic");
    config["HTTPAuthUser"] = json!("admin");
    config["HTTPAuthPassword"] = json!("n3w-s3cret");
    config["InstancePollSeconds"] = json!(2);
    write_config(dir.path(), &config);
    let (status, body) = get(&http, &api, "reload-configuration", &[]).await;
    assert_eq!(status, 500, "ReadOnly still in force: {body}");
    // Refused: the reload itself is a change, and ReadOnly forbids it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let locked = integration_tests::eventually(Duration::from_secs(5), || async {
        let (status, _) = get(&http, &api, "clusters", &[]).await;
        (status == 401).then_some(())
    })
    .await;
    assert!(
        locked.is_some(),
        "basic authentication not in force after SIGHUP"
    );
    let admin = [("authorization", basic("admin", "n3w-s3cret"))];
    let (status, body) = get(&http, &api, "reload-configuration", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no change"), "{body}");
    config["InstancePollSeconds"] = json!(3);
    write_config(dir.path(), &config);
    let (status, body) = get(&http, &api, "reload-configuration", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("after a restart") && body.contains("InstancePollSeconds"),
        "{body}"
    );
    assert!(!body.contains("n3w-s3cret"), "{body}");
    // A broken file changes nothing.
    std::fs::write(dir.path().join("orchestrator.conf.json"), "{").unwrap();
    let (status, body) = get(&http, &api, "reload-configuration", &admin).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("not reloaded"), "{body}");
    let (status, _) = get(&http, &api, "clusters", &admin).await;
    assert_eq!(status, 200);
    child.kill().await.unwrap();
}

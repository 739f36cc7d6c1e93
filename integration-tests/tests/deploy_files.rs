//! The deployment material parses and names only things that exist: the
//! compose file's services, images (built by a stage of our Dockerfile),
//! files and ports; the Kubernetes manifests' images, roles, probes,
//! config maps and selectors; the systemd units' commands; the sample
//! configuration (every key at its default) and the configuration
//! reference. No container engine runs here: `scripts/stack` (tests/stack.rs)
//! runs the same topology from the same files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The build stages of deploy/docker/Dockerfile (`FROM ... AS <stage>`).
fn docker_stages() -> BTreeSet<String> {
    read("deploy/docker/Dockerfile")
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("FROM ")?;
            let (_, stage) = rest.split_once(" AS ")?;
            Some(stage.trim().to_string())
        })
        .collect()
}

/// The orchestrator binary's subcommands, from its own `--help`.
fn subcommands() -> BTreeSet<String> {
    let out = std::process::Command::new(integration_tests::workspace_binary("orchestrator"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

const ROLES: &[&str] = &["serve", "prober", "analyzer", "recovery", "gateway"];

/// Loads a configuration text as the product does: no error, no warning
/// (an unknown or unused key would be one).
fn config_loads(name: &str, text: &str) -> orc_runtime::Config {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let (config, report) = orc_runtime::Config::load(Some(file.path()), &[])
        .unwrap_or_else(|e| panic!("{name} does not load: {e}"));
    let warnings: Vec<String> = report
        .warnings()
        .into_iter()
        .map(|w| w.to_string())
        .collect();
    assert!(warnings.is_empty(), "{name}: {warnings:?}");
    config
}

fn port_of(address: &str) -> u16 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn the_compose_file_names_only_what_exists() {
    let compose: Yaml = serde_yaml_ng::from_str(&read("docker-compose.yml")).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let names: BTreeSet<String> = services
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let stages = docker_stages();
    let commands = subcommands();
    for role in ROLES {
        assert!(stages.contains(*role), "the Dockerfile builds {role}");
        assert!(
            commands.contains(*role),
            "orchestrator has a {role} command"
        );
    }
    let stack_config = read("deploy/stack/orchestrator.conf.json");
    let config = config_loads("deploy/stack/orchestrator.conf.json", &stack_config);
    let mut built_roles = BTreeSet::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap();
        for dep in svc["depends_on"].as_sequence().into_iter().flatten() {
            let dep = dep.as_str().unwrap();
            assert!(names.contains(dep), "{name} depends on unknown {dep}");
        }
        if let Some(build) = svc["build"].as_mapping() {
            let dockerfile = build[&Yaml::from("dockerfile")].as_str().unwrap();
            assert!(repo().join(dockerfile).is_file(), "{name}: {dockerfile}");
            let target = build[&Yaml::from("target")].as_str().unwrap();
            assert!(stages.contains(target), "{name}: no stage {target}");
            assert_eq!(
                svc["image"].as_str().unwrap(),
                format!("orchestrator-rs/{target}"),
                "{name}: the image is the stage's"
            );
            built_roles.insert(target.to_string());
        }
        for volume in svc["volumes"].as_sequence().into_iter().flatten() {
            let v = volume.as_str().unwrap();
            if let Some(rest) = v.strip_prefix("./") {
                let source = rest.split(':').next().unwrap();
                assert!(
                    repo().join(source).exists(),
                    "{name}: {source} does not exist"
                );
            } else {
                let named = v.split(':').next().unwrap();
                assert!(
                    compose["volumes"].get(named).is_some(),
                    "{name}: volume {named} is not declared"
                );
            }
        }
    }
    for role in ["prober", "analyzer", "recovery", "gateway"] {
        assert!(built_roles.contains(role), "compose runs a {role}");
        for i in [1, 2] {
            assert!(names.contains(&format!("{role}-{i}")), "two {role}s");
        }
    }
    // The configuration's hosts are services, on the ports they serve.
    for url in config.nats_url.split(',') {
        let host = url.trim_start_matches("nats://").split(':').next().unwrap();
        assert!(names.contains(host), "NatsUrl names {host}");
    }
    assert!(names.contains(&config.mysql_orchestrator_host));
    let otlp = config.otlp_endpoint.trim_start_matches("http://");
    assert!(names.contains(otlp.split(':').next().unwrap()));
    assert_eq!(port_of(otlp), 4317);
    assert!(read("deploy/otel/collector.yaml").contains("0.0.0.0:4317"));
    // HAProxy and Prometheus address the gateways and roles where they listen.
    let http_port = port_of(&config.listen_address);
    let metrics_port = port_of(&config.metrics_listen_address);
    let haproxy = &services[&Yaml::from("haproxy")];
    for key in ["ORC_GATEWAY_1", "ORC_GATEWAY_2"] {
        let target = haproxy["environment"][key].as_str().unwrap();
        let (host, port) = target.split_once(':').unwrap();
        assert!(names.contains(host), "HAProxy: {host}");
        assert_eq!(port.parse::<u16>().unwrap(), http_port);
    }
    let prometheus: Yaml =
        serde_yaml_ng::from_str(&read("deploy/prometheus/prometheus.yml")).unwrap();
    let mut scraped = BTreeSet::new();
    for job in prometheus["scrape_configs"].as_sequence().unwrap() {
        for sc in job["static_configs"].as_sequence().unwrap() {
            for t in sc["targets"].as_sequence().unwrap() {
                let (host, port) = t.as_str().unwrap().split_once(':').unwrap();
                assert!(names.contains(host), "Prometheus scrapes unknown {host}");
                let want = if host.starts_with("gateway") {
                    http_port
                } else {
                    metrics_port
                };
                assert_eq!(port.parse::<u16>().unwrap(), want, "{host}");
                scraped.insert(host.to_string());
            }
        }
    }
    for role in ["prober", "analyzer", "recovery", "gateway"] {
        for i in [1, 2] {
            assert!(
                scraped.contains(&format!("{role}-{i}")),
                "{role}-{i} is scraped"
            );
        }
    }
}

#[test]
fn the_kubernetes_manifests_name_only_what_exists() {
    let stages = docker_stages();
    let dir = repo().join("deploy/kubernetes");
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            for doc in serde_yaml_ng::Deserializer::from_str(&text) {
                let v = <Yaml as serde::Deserialize>::deserialize(doc).unwrap();
                docs.push((path.clone(), v));
            }
        }
    }
    let kind_of = |v: &Yaml| v["kind"].as_str().unwrap_or_default().to_string();
    let config_maps: BTreeSet<String> = docs
        .iter()
        .filter(|(_, v)| kind_of(v) == "ConfigMap")
        .map(|(_, v)| v["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let mut pod_labels = Vec::new();
    let mut workloads = BTreeSet::new();
    for (path, v) in &docs {
        let kind = kind_of(v);
        assert!(
            [
                "Namespace",
                "ConfigMap",
                "Deployment",
                "StatefulSet",
                "Service"
            ]
            .contains(&kind.as_str()),
            "{}: unexpected kind {kind}",
            path.display()
        );
        if kind == "Namespace" {
            continue;
        }
        assert_eq!(v["metadata"]["namespace"].as_str(), Some("orchestrator"));
        if kind == "ConfigMap" {
            if let Some(conf) = v["data"]["orchestrator.conf.json"].as_str() {
                config_loads("the orchestrator-config ConfigMap", conf);
            }
            if let Some(cfg) = v["data"]["haproxy.cfg"].as_str() {
                assert_eq!(
                    cfg,
                    read("deploy/haproxy/haproxy.cfg"),
                    "the proxy's ConfigMap is deploy/haproxy/haproxy.cfg"
                );
            }
        }
        if kind == "Deployment" || kind == "StatefulSet" {
            let spec = &v["spec"];
            let labels = spec["template"]["metadata"]["labels"]
                .as_mapping()
                .unwrap()
                .clone();
            for (k, want) in spec["selector"]["matchLabels"].as_mapping().unwrap() {
                assert_eq!(labels.get(k), Some(want), "the selector matches the pods");
            }
            pod_labels.push(labels);
            let pod = &spec["template"]["spec"];
            for c in pod["containers"].as_sequence().unwrap() {
                let image = c["image"].as_str().unwrap();
                let ports: BTreeSet<String> = c["ports"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap().to_string())
                    .collect();
                if let Some(role) = image.strip_prefix("orchestrator-rs/") {
                    let role = role.split(':').next().unwrap();
                    assert!(stages.contains(role), "{image} is built by no stage");
                    let args: Vec<&str> = c["args"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap())
                        .collect();
                    assert_eq!(args, vec![role], "the container runs its role");
                    workloads.insert(role.to_string());
                    for probe in ["livenessProbe", "readinessProbe"] {
                        let get = &c[probe]["httpGet"];
                        let path = get["path"].as_str().unwrap();
                        let on_gateway = role == "gateway" || role == "serve";
                        let served: &[&str] = if on_gateway {
                            &["/api/health", "/api/leader-check"]
                        } else {
                            &["/health", "/metrics"]
                        };
                        assert!(served.contains(&path), "{role}: {probe} on {path}");
                        let port = get["port"].as_str().unwrap();
                        assert!(
                            ports.contains(port),
                            "{role}: {probe} on undeclared port {port}"
                        );
                    }
                } else {
                    assert!(image.starts_with("haproxy:"), "unexpected image {image}");
                }
            }
            for vol in pod["volumes"].as_sequence().into_iter().flatten() {
                if let Some(name) = vol["configMap"]["name"].as_str() {
                    assert!(
                        config_maps.contains(name),
                        "ConfigMap {name} is not defined"
                    );
                }
            }
        }
    }
    for role in ["prober", "analyzer", "recovery", "gateway"] {
        assert!(workloads.contains(role), "Kubernetes runs a {role}");
    }
    for (path, v) in &docs {
        if kind_of(v) != "Service" {
            continue;
        }
        let selector = v["spec"]["selector"].as_mapping().unwrap();
        assert!(
            pod_labels
                .iter()
                .any(|labels| selector.iter().all(|(k, want)| labels.get(k) == Some(want))),
            "{}: Service {} selects no pods",
            path.display(),
            v["metadata"]["name"].as_str().unwrap_or_default()
        );
    }
}

#[test]
fn the_systemd_units_run_commands_that_exist() {
    let commands = subcommands();
    for unit in ["orchestrator.service", "orchestrator@.service"] {
        let text = read(&format!("deploy/systemd/{unit}"));
        for section in ["[Unit]", "[Service]", "[Install]"] {
            assert!(text.contains(section), "{unit}: {section}");
        }
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        let words: Vec<&str> = exec.split_whitespace().collect();
        assert!(words[0].ends_with("/orchestrator"), "{unit}: {exec}");
        assert_eq!(words[1], "--config");
        let role = words[3];
        if role == "%i" {
            for r in ["prober", "analyzer", "recovery", "gateway"] {
                assert!(commands.contains(r), "{unit}: orchestrator {r}");
            }
        } else {
            assert!(commands.contains(role), "{unit}: orchestrator {role}");
        }
    }
}

#[test]
fn the_sample_configuration_holds_every_key_at_its_default_and_each_is_documented() {
    let sample = read("deploy/orchestrator.conf.json");
    let parsed: Json = serde_json::from_str(&sample).unwrap();
    let expected = serde_json::to_value(orc_runtime::Config::default()).unwrap();
    let keys = |v: &Json| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&parsed),
        keys(&expected),
        "deploy/orchestrator.conf.json must hold every key; expected:\n{}",
        serde_json::to_string_pretty(&expected).unwrap()
    );
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&parsed[k], v, "{k}: the sample shows the default");
    }
    let reference = read("docs/configuration.md");
    for k in keys(&expected) {
        assert!(
            reference.contains(&format!("| `{k}` |")),
            "docs/configuration.md lacks {k}: run scripts/config-reference"
        );
    }
    assert!(!reference.contains("| . |"), "a key without a description");
}

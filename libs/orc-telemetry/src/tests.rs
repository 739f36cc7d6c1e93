use super::*;

#[test]
fn log_format_reads_text_and_json_and_refuses_the_rest() {
    assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
    assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
    assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
    assert_eq!("".parse::<LogFormat>(), Ok(LogFormat::Text));
    let err = "yaml".parse::<LogFormat>().err().unwrap_or_default();
    assert!(err.contains("LogFormat"), "{err}");
}

#[test]
fn recorded_metrics_are_rendered_in_prometheus_text() {
    assert!(install_metrics().is_some());
    metrics::probe("db1:3306", 0.003, true);
    metrics::probe("db1:3306", 0.004, false);
    metrics::finding("DeadMaster", Some(0.2));
    metrics::recovery_ended("DeadMaster", true, Some(0.09));
    let text = render_metrics();
    assert!(
        text.contains("# TYPE orchestrator_probe_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("orchestrator_probe_errors_total{instance=\"db1:3306\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("orchestrator_findings_total{code=\"DeadMaster\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "orchestrator_recoveries_total{analysis=\"DeadMaster\",result=\"success\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("orchestrator_finding_to_recovered_seconds_bucket{le=\"0.1\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("orchestrator_crash_to_finding_seconds_count 1"),
        "{text}"
    );
}

#[test]
fn no_context_is_carried_when_traces_are_not_exported() {
    let span = tracing::info_span!("x");
    assert!(propagation::context_of(&span).is_empty());
    // A parent given to a span that exports nothing is accepted silently.
    propagation::set_parent(
        &span,
        [(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
    );
}

/// Metric names used in a text (`orchestrator_...`), histogram series
/// suffixes taken off.
fn names_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("orchestrator_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_lowercase() || bytes[end] == b'_') {
            end += 1;
        }
        let mut name = &text[start..end];
        for suffix in ["_bucket", "_count", "_sum"] {
            if let Some(base) = name.strip_suffix(suffix)
                && metrics::HISTOGRAM_BUCKETS.iter().any(|(h, _)| *h == base)
            {
                name = base;
            }
        }
        out.push(name.to_string());
        i = end;
    }
    out
}

fn deploy_file(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    std::fs::read_to_string(root.join(path)).unwrap_or_default()
}

#[test]
fn the_dashboard_and_alert_rules_use_only_exported_metrics() {
    let dashboard = deploy_file("grafana/orchestrator-rs.json");
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap_or_default();
    let panels = parsed["panels"].as_array().cloned().unwrap_or_default();
    assert!(panels.len() >= 10, "the dashboard has its panels");
    for p in &panels {
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        assert!(
            !targets.is_empty(),
            "panel {} queries something",
            p["title"]
        );
    }
    let alerts = deploy_file("prometheus/alerts.yml");
    assert!(
        alerts.matches("- alert: ").count() >= 5,
        "alert rules exist"
    );
    let scrape = deploy_file("prometheus/prometheus.yml");
    assert!(scrape.contains("alerts.yml") && scrape.contains("metrics_path: /metrics"));
    let mut used = names_in(&dashboard);
    used.extend(names_in(&alerts));
    assert!(used.len() > 20);
    for name in &used {
        assert!(
            metrics::ALL.contains(&name.as_str()),
            "{name} is used in deploy/ but not exported"
        );
    }
    // And every exported metric is shown somewhere.
    for name in metrics::ALL {
        if *name == metrics::PROBE_LAST_DURATION {
            continue; // per instance, for drill-down queries
        }
        assert!(
            used.iter().any(|u| u == name),
            "{name} is on no panel or alert"
        );
    }
}

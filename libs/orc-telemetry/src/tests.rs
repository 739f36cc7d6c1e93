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

//! Trace context across processes: a span's context as W3C `traceparent`
//! (and `tracestate`) pairs, written into NATS headers and gRPC metadata by
//! the sender and set as the parent of the receiver's span.
//!
//! Without trace export the pairs are empty and nothing is carried.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header names carried.
pub const TRACEPARENT: &str = "traceparent";
/// The vendor part of the context.
pub const TRACESTATE: &str = "tracestate";

/// `span`'s trace context as header pairs (empty when it is not exported).
pub fn context_of(span: &tracing::Span) -> Vec<(String, String)> {
    let cx = span.context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    let mut pairs: Vec<(String, String)> = carrier.into_iter().collect();
    pairs.sort();
    pairs
}

/// The current span's trace context as header pairs.
pub fn current_context() -> Vec<(String, String)> {
    context_of(&tracing::Span::current())
}

/// Makes the remote context in `pairs` the parent of `span` (no-op when
/// `pairs` carry none).
pub fn set_parent<'a>(span: &tracing::Span, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let carrier: HashMap<String, String> = pairs
        .into_iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(TRACEPARENT) || k.eq_ignore_ascii_case(TRACESTATE))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    if carrier.is_empty() {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(cx);
}

//! Requests seen from outside: every HTTP and gRPC request gets a span (a
//! child of the caller's `traceparent`, when it sends one) and is counted
//! and timed by route (`orchestrator_http_*`, `orchestrator_grpc_*`). The
//! `/metrics` route renders this process's metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument as _;

fn header_pairs(headers: &axum::http::HeaderMap) -> Vec<(&str, &str)> {
    [
        orc_telemetry::propagation::TRACEPARENT,
        orc_telemetry::propagation::TRACESTATE,
    ]
    .into_iter()
    .filter_map(|k| headers.get(k).and_then(|v| v.to_str().ok()).map(|v| (k, v)))
    .collect()
}

/// Traces, counts and times an HTTP request by its route (the route's
/// pattern, never its values: one series per route).
pub async fn http_middleware(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().as_str().to_string();
    let span = tracing::info_span!("http_request", http.method = %method, http.route = %route, http.status = tracing::field::Empty);
    orc_telemetry::propagation::set_parent(&span, header_pairs(request.headers()));
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.status", status);
    orc_telemetry::metrics::http_request(&route, &method, status, started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        orc_telemetry::render_metrics(),
    )
        .into_response()
}

/// Traces, counts and times gRPC calls by method.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcTelemetryLayer;

impl<S> tower::Layer<S> for GrpcTelemetryLayer {
    type Service = GrpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTelemetry { inner }
    }
}

/// See [`GrpcTelemetryLayer`].
#[derive(Debug, Clone)]
pub struct GrpcTelemetry<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<axum::http::Request<ReqBody>> for GrpcTelemetry<S>
where
    S: tower::Service<axum::http::Request<ReqBody>, Response = axum::http::Response<ResBody>>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<ReqBody>) -> Self::Future {
        let method = request.uri().path().to_string();
        let span = tracing::info_span!("grpc_request", rpc.method = %method, rpc.code = tracing::field::Empty);
        orc_telemetry::propagation::set_parent(&span, header_pairs(request.headers()));
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(
            async move {
                let result = call.await;
                // A unary call's status is in its headers; a stream's ends
                // in trailers, which count as OK here.
                let code = match &result {
                    Ok(r) => r
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("0")
                        .to_string(),
                    Err(_) => "transport".to_string(),
                };
                tracing::Span::current().record("rpc.code", code.as_str());
                orc_telemetry::metrics::grpc_request(
                    &method,
                    &code,
                    started.elapsed().as_secs_f64(),
                );
                result
            }
            .instrument(span),
        )
    }
}

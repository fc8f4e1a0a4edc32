//! Per-request observability: request id, the server span (continuing an incoming W3C
//! `traceparent`), Prometheus metrics and one log line per finished request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::TraceContextExt;
use tracing::{Instrument, field};
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids from clients are kept when they are short and printable, so they can be
/// followed through a load balancer; anything else is replaced.
fn request_id(request: &Request) -> HeaderValue {
    request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.to_str().is_ok())
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid header value")
        })
}

/// Keeps `http_requests_in_flight` right even when a request is cancelled mid-way.
struct InFlight;

impl InFlight {
    fn start() -> Self {
        metrics::gauge!("http_requests_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("http_requests_in_flight").decrement(1.0);
    }
}

fn server_span(request: &Request, route: &str, id: &HeaderValue) -> tracing::Span {
    let method = request.method().as_str();
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        url.path = %request.uri().path(),
        request_id = %id.to_str().unwrap_or_default(),
        trace_id = field::Empty,
        // Filled by the authentication layer, so the request's log line names the caller.
        caller = field::Empty,
        http.response.status_code = field::Empty,
        otel.status_code = field::Empty,
    );
    crate::telemetry::continue_trace(
        &span,
        &opentelemetry_http::HeaderExtractor(request.headers()),
    );
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", field::display(trace_id));
    span
}

/// The middleware: wraps every routed request.
pub async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = InFlight::start();
    let id = request_id(&request);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let span = server_span(&request, &route, &id);

    let mut response = next.run(request).instrument(span.clone()).await;

    let status = response.status();
    let elapsed = started.elapsed();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response.headers_mut().insert(REQUEST_ID, id);
    let labels = [
        ("method", method),
        ("route", route.clone()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    let _entered = span.enter();
    let duration_ms = elapsed.as_millis() as u64;
    if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
        tracing::debug!(
            http.status = status.as_u16(),
            duration_ms,
            "request finished"
        );
    } else {
        tracing::info!(
            http.status = status.as_u16(),
            duration_ms,
            "request finished"
        );
    }
    response
}

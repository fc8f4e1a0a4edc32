//! Prometheus metrics: one recorder per process, rendered at `/metrics`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Latency buckets in seconds, from a fast health check to a slow Nomad call.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the global recorder on first use; later calls share it (tests start several
/// apps in one process).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, which this crate never does.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "gateway_tool_calls_total",
        "MCP tool calls, by tool and outcome (ok, error, invalid, refused)"
    );
    metrics::describe_histogram!(
        "gateway_tool_call_duration_seconds",
        metrics::Unit::Seconds,
        "MCP tool call duration, by tool (waits included)"
    );
    metrics::describe_counter!(
        "gateway_nomad_requests_total",
        "Nomad API requests, by endpoint (path template), method and status (or unreachable)"
    );
    metrics::describe_histogram!(
        "gateway_nomad_request_duration_seconds",
        metrics::Unit::Seconds,
        "Nomad API request duration until the answer's head, by endpoint (blocking queries left out)"
    );
    metrics::describe_counter!(
        "gateway_operations_finished_total",
        "tracked operations that reached a final state, by kind and state"
    );
    metrics::describe_gauge!(
        "gateway_operations_followed",
        "unfinished operations this replica follows now"
    );
    metrics::describe_gauge!(
        "gateway_mcp_sessions",
        "open MCP sessions on this replica, by transport (streamable_http, sse)"
    );
    metrics::describe_counter!(
        "gateway_rate_limited_total",
        "calls refused by a rate limit, by budget (read, write, auth)"
    );
    // Series that exist from the start, so dashboards and alerts see zeros, not gaps.
    for budget in ["read", "write", "auth"] {
        metrics::counter!("gateway_rate_limited_total", "budget" => budget).absolute(0);
    }
    for transport in ["streamable_http", "sse"] {
        metrics::gauge!("gateway_mcp_sessions", "transport" => transport).set(0.0);
    }
    metrics::gauge!("gateway_operations_followed").set(0.0);
    metrics::counter!("gateway_audit_lost_total").absolute(0);
    metrics::counter!("gateway_audit_refused_total").absolute(0);
    metrics::describe_counter!(
        "http_requests_total",
        "HTTP requests served, by method, route and status"
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "time until the response started, by method and route"
    );
    metrics::describe_gauge!("http_requests_in_flight", "HTTP requests being served now");
    metrics::describe_counter!(
        "gateway_tls_reloads_total",
        "TLS certificate reload attempts, by outcome"
    );
    metrics::describe_gauge!(
        "gateway_audit_waiting",
        "audit events not yet in the database (queued, spooled or in memory)"
    );
    metrics::describe_gauge!(
        "gateway_audit_spooled",
        "audit events waiting in the spool (or, without one, in memory) for the database"
    );
    metrics::describe_gauge!(
        "gateway_audit_oldest_waiting_seconds",
        metrics::Unit::Seconds,
        "age of the oldest audit event waiting for the database; 0 when none waits"
    );
    metrics::describe_gauge!(
        "gateway_audit_seconds_since_last_write",
        metrics::Unit::Seconds,
        "time since audit events were last written to the database"
    );
    metrics::describe_gauge!(
        "gateway_audit_database_away",
        "1 while the audit writer cannot reach the database"
    );
    metrics::describe_counter!(
        "gateway_audit_events_written_total",
        "audit events inserted into the database"
    );
    metrics::describe_counter!(
        "gateway_audit_events_skipped_total",
        "audit events sent again that the database already had (a lost acknowledgement)"
    );
    metrics::describe_counter!(
        "gateway_audit_events_rejected_total",
        "audit events the database refused; each is logged in full and kept in audit-rejected.jsonl"
    );
    metrics::describe_counter!(
        "gateway_audit_refused_total",
        "writes refused because their audit event could not be taken"
    );
    metrics::describe_counter!(
        "gateway_audit_lost_total",
        "refused calls not recorded because the refusals' places were all taken"
    );
}

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

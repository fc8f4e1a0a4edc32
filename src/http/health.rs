//! Liveness and readiness.
//!
//! `/healthz` says the process runs. `/readyz` checks what a request needs (the database
//! and Nomad), each bounded by `GATEWAY_READY_TIMEOUT`, and turns 503 once shutdown starts
//! so a load balancer stops sending new work. It also shows the audit log's queue: how
//! many events wait for the database, the oldest one's age, the time since the last write.

use std::future::Future;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize)]
pub struct Health {
    pub status: &'static str,
}

pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize)]
pub struct Check {
    pub status: &'static str,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize)]
pub struct Checks {
    pub database: Check,
    pub nomad: Check,
}

#[derive(Serialize)]
pub struct Readiness {
    pub status: &'static str,
    pub checks: Checks,
    /// The audit log's queue: shown, not part of the decision (the database check
    /// already fails while the database is away, and reads go on meanwhile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<crate::service::audit::Status>,
}

async fn timed<F, T, E>(timeout: std::time::Duration, work: F) -> Check
where
    F: Future<Output = Result<T, E>>,
    T: std::fmt::Display,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, work).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (status, detail, error) = match result {
        Ok(Ok(value)) => ("ok", Some(value.to_string()), None),
        Ok(Err(e)) => ("failed", None, Some(e.to_string())),
        Err(_) => (
            "failed",
            None,
            Some(format!("no answer within {latency_ms} ms")),
        ),
    };
    Check {
        status,
        latency_ms,
        detail: detail.filter(|d| !d.is_empty()),
        error,
    }
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let timeout = state.config.server.ready_timeout;
    let backend = crate::db::backend_name(&state.config.database);
    let database = timed(timeout, async {
        crate::db::ping(&state.db).await.map(|()| backend)
    });
    let nomad = timed(timeout, async {
        state
            .nomad
            .leader(timeout)
            .await
            .map(|leader| format!("leader {leader}"))
    });
    let (database, nomad) = tokio::join!(database, nomad);
    let draining = state.draining.is_cancelled() || state.shutdown.is_cancelled();
    let ready = !draining && database.status == "ok" && nomad.status == "ok";
    let status = match (ready, draining) {
        (true, _) => "ready",
        (false, true) => "draining",
        (false, false) => "not_ready",
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Readiness {
            status,
            checks: Checks { database, nomad },
            audit: state.service.audit().map(|audit| audit.status()),
        }),
    )
}

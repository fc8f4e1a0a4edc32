//! The HTTP surface: Nomad's `/v1` routes, plus `/_fake/*` for tests (request log,
//! faults). Errors are plain text with Nomad's status codes and messages.

mod cluster;
mod diff;
mod filter;
mod jobs;
mod objects;
mod plan;
mod stream;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::Value;

use crate::acl::{self, Need};
use crate::faults::FaultKind;
use crate::{RequestRecord, Shared};

pub type Ctx = State<Arc<Shared>>;
pub use axum::extract::Query as Q;
pub type Params = axum::extract::Query<HashMap<String, String>>;

/// A byte range of a log that a handler served, for the request log.
#[derive(Clone, Copy)]
pub struct LogRange(pub u64, pub u64);

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/status/leader", get(cluster::leader))
        .route("/v1/status/peers", get(cluster::peers))
        .route("/v1/agent/self", get(cluster::agent_self))
        .route("/v1/agent/members", get(cluster::members))
        .route("/v1/regions", get(cluster::regions))
        .route("/v1/namespaces", get(cluster::namespaces))
        .route("/v1/namespace/{name}", get(cluster::namespace))
        .route("/v1/event/stream", get(stream::events))
        .route(
            "/v1/jobs",
            get(jobs::list).post(jobs::register).put(jobs::register),
        )
        .route("/v1/jobs/parse", post(jobs::parse).put(jobs::parse))
        .route(
            "/v1/job/{id}",
            get(jobs::read)
                .post(jobs::register_at)
                .put(jobs::register_at)
                .delete(jobs::deregister),
        )
        .route("/v1/job/{id}/summary", get(jobs::summary))
        .route("/v1/job/{id}/allocations", get(jobs::allocations))
        .route("/v1/job/{id}/evaluations", get(jobs::evaluations))
        .route("/v1/job/{id}/deployments", get(jobs::deployments))
        .route("/v1/job/{id}/deployment", get(jobs::latest_deployment))
        .route("/v1/job/{id}/versions", get(jobs::versions))
        .route("/v1/job/{id}/revert", post(jobs::revert).put(jobs::revert))
        .route(
            "/v1/job/{id}/scale",
            get(jobs::scale_status).post(jobs::scale).put(jobs::scale),
        )
        .route(
            "/v1/job/{id}/dispatch",
            post(jobs::dispatch).put(jobs::dispatch),
        )
        .route(
            "/v1/job/{id}/evaluate",
            post(jobs::evaluate).put(jobs::evaluate),
        )
        .route("/v1/job/{id}/plan", post(plan::plan).put(plan::plan))
        .route("/v1/allocations", get(objects::allocations))
        .route("/v1/allocation/{id}", get(objects::allocation))
        .route(
            "/v1/allocation/{id}/stop",
            post(objects::stop_allocation).put(objects::stop_allocation),
        )
        .route(
            "/v1/client/allocation/{id}/restart",
            post(objects::restart_allocation).put(objects::restart_allocation),
        )
        .route(
            "/v1/allocation/{id}/checks",
            get(objects::allocation_checks),
        )
        .route(
            "/v1/client/allocation/{id}/checks",
            get(objects::allocation_checks),
        )
        .route("/v1/services", get(objects::services))
        .route("/v1/service/{name}", get(objects::service))
        .route(
            "/v1/vars",
            get(objects::vars).fallback(objects::vars_invalid_method),
        )
        .route("/v1/var/", any(objects::var_missing_path))
        .route(
            "/v1/var/{*path}",
            get(objects::var_read)
                .put(objects::var_put)
                .post(objects::var_put)
                .delete(objects::var_delete)
                .fallback(objects::var_invalid_method),
        )
        .route("/v1/client/fs/logs/{id}", get(stream::logs))
        .route("/v1/evaluations", get(objects::evaluations))
        .route("/v1/evaluation/{id}", get(objects::evaluation))
        .route(
            "/v1/evaluation/{id}/allocations",
            get(objects::evaluation_allocations),
        )
        .route("/v1/deployments", get(objects::deployments))
        .route("/v1/deployment/{id}", get(objects::deployment))
        .route(
            "/v1/deployment/allocations/{id}",
            get(objects::deployment_allocations),
        )
        .route(
            "/v1/deployment/promote/{id}",
            post(objects::promote).put(objects::promote),
        )
        .route(
            "/v1/deployment/fail/{id}",
            post(objects::fail).put(objects::fail),
        )
        .route(
            "/v1/deployment/pause/{id}",
            post(objects::pause).put(objects::pause),
        )
        .route(
            "/v1/deployment/unblock/{id}",
            post(objects::unblock).put(objects::unblock),
        )
        .route(
            "/v1/deployment/allocation-health/{id}",
            post(objects::allocation_health).put(objects::allocation_health),
        )
        .route("/v1/search", post(objects::search).put(objects::search))
        .route("/v1/acl/token/self", get(objects::token_self))
        .route("/v1/volumes", get(objects::volumes))
        .route("/v1/volume/csi/{id}", get(objects::csi_volume))
        .route("/v1/volume/host/{id}", get(objects::host_volume))
        .route("/v1/scaling/policies", get(objects::scaling_policies))
        .route("/v1/scaling/policy/{id}", get(objects::scaling_policy))
        .route("/v1/node/pools", get(objects::node_pools))
        .route("/v1/node/pool/{name}", get(objects::node_pool))
        .route(
            "/v1/node/{id}/purge",
            post(objects::purge).put(objects::purge),
        )
        .route(
            "/v1/client/allocation/{id}/stats",
            get(objects::allocation_stats),
        )
        .route(
            "/v1/client/allocation/{id}/signal",
            post(objects::signal_allocation).put(objects::signal_allocation),
        )
        .route("/v1/nodes", get(objects::nodes))
        .route("/v1/node/{id}", get(objects::node))
        .route("/v1/node/{id}/allocations", get(objects::node_allocations))
        .route(
            "/v1/node/{id}/drain",
            post(objects::drain).put(objects::drain),
        )
        .route(
            "/v1/node/{id}/eligibility",
            post(objects::eligibility).put(objects::eligibility),
        )
        .route(
            "/v1/client/metadata",
            get(objects::metadata)
                .post(objects::set_metadata)
                .put(objects::set_metadata),
        )
        .route("/_fake/requests", get(admin_requests))
        .route("/_fake/faults", get(admin_faults).put(admin_set_faults))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "Invalid URL") })
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            observe,
        ))
        .with_state(shared)
}

/// Records every request and applies injected faults before the handler runs.
async fn observe(State(shared): Ctx, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let mut record = RequestRecord {
        method: request.method().to_string(),
        path: path.clone(),
        query: request.uri().query().unwrap_or("").to_string(),
        status: 0,
        had_token: request.headers().contains_key("x-nomad-token"),
        log_range: None,
        traceparent: request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    };
    let admin = path.starts_with("/_fake/");
    let (latency, fault) = {
        let mut faults = shared.faults.lock().unwrap_or_else(|p| p.into_inner());
        if admin {
            (0, None)
        } else {
            (faults.latency_ms, faults.draw(&path))
        }
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let response = match fault {
        Some(FaultKind::Drop) => {
            record.status = 0;
            shared.record(record);
            // Unwinding the connection's task closes the socket before any response
            // byte; `resume_unwind` skips the panic hook, so nothing is printed.
            std::panic::resume_unwind(Box::new("fake-nomad: dropped connection"));
        }
        Some(FaultKind::ServerError) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "rpc error: fake-nomad injected fault",
        ),
        Some(FaultKind::NoLeader) => text(StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader"),
        Some(FaultKind::NotFound) => text(StatusCode::NOT_FOUND, "404 page not found"),
        None => next.run(request).await,
    };
    record.status = response.status().as_u16();
    record.log_range = response.extensions().get::<LogRange>().map(|r| (r.0, r.1));
    if !admin {
        shared.record(record);
    }
    response
}

async fn admin_requests(State(shared): Ctx) -> Response {
    let requests = shared
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    axum::Json(requests).into_response()
}

async fn admin_faults(State(shared): Ctx) -> Response {
    let faults = shared
        .faults
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    axum::Json(faults).into_response()
}

async fn admin_set_faults(
    State(shared): Ctx,
    axum::Json(faults): axum::Json<crate::Faults>,
) -> Response {
    *shared.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    StatusCode::NO_CONTENT.into_response()
}

pub fn text(status: StatusCode, message: &str) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}

pub fn refusal((status, message): (u16, String)) -> Response {
    text(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &message,
    )
}

/// JSON with Nomad's query meta headers.
pub fn json(shared: &Shared, value: &Value) -> Response {
    let index = shared.read(|w| w.index);
    let mut response = (
        StatusCode::OK,
        [("content-type", "application/json")],
        serde_json::to_vec(value).unwrap_or_default(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert("x-nomad-index", HeaderValue::from(index));
    headers.insert("x-nomad-knownleader", HeaderValue::from_static("true"));
    headers.insert("x-nomad-lastcontact", HeaderValue::from_static("0"));
    response
}

pub fn namespace_of(query: &HashMap<String, String>) -> String {
    query
        .get("namespace")
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| "default".into())
}

pub fn flag(query: &HashMap<String, String>, name: &str) -> bool {
    query.get(name).is_some_and(|v| v == "true" || v == "1")
}

/// Checks the token; the error is Nomad's 403 text.
pub fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    need: Need,
) -> Result<Option<crate::Token>, Response> {
    let secret = headers.get("x-nomad-token").and_then(|v| v.to_str().ok());
    acl::check(&shared.tokens, secret, &need)
        .map(|t| t.cloned())
        .map_err(|message| text(StatusCode::FORBIDDEN, message))
}

/// Resolves the caller as Nomad's Authenticate does (`acl::resolve`); the handler decides
/// what a secret that does not resolve answers.
pub fn principal<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
) -> Result<acl::Principal<'a>, acl::Unresolved> {
    let secret = headers.get("x-nomad-token").and_then(|v| v.to_str().ok());
    acl::resolve(&shared.tokens, secret)
}

/// [`principal`] for the RPCs that answer a failed authentication with
/// `ErrPermissionDenied` (`if authErr != nil { return structs.ErrPermissionDenied }`, as
/// most of Nomad 1.11's RPCs begin).
pub fn caller<'a>(shared: &'a Shared, headers: &HeaderMap) -> Result<acl::Principal<'a>, Response> {
    principal(shared, headers).map_err(|_| denied())
}

/// `403 Permission denied`.
pub fn denied() -> Response {
    text(StatusCode::FORBIDDEN, acl::PERMISSION_DENIED)
}

/// Whether a token may see objects of a namespace (for `namespace=*` lists).
pub fn visible(token: &Option<crate::Token>, namespace: &str) -> bool {
    token
        .as_ref()
        .is_none_or(|t| t.covers(namespace, crate::Capability::Read))
}

/// Go duration text (`5s`, `1m30s`, `250ms`) as a `Duration`.
pub fn go_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        any = true;
    }
    if !num.is_empty() {
        return None;
    }
    any.then(|| Duration::from_secs_f64(total))
}

/// A blocking query's `index` and `wait` (default 5 minutes, at most 10, as Nomad does);
/// `None` when the request does not block.
fn blocking_args(query: &HashMap<String, String>) -> Result<Option<(u64, Duration)>, Response> {
    let Some(index) = query.get("index") else {
        return Ok(None);
    };
    let Ok(index) = index.parse::<u64>() else {
        return Err(text(StatusCode::BAD_REQUEST, "Invalid index"));
    };
    let wait = match query.get("wait") {
        None => Duration::from_secs(300),
        Some(w) => match go_duration(w) {
            Some(d) => d.min(Duration::from_secs(600)),
            None => {
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid wait time: time: invalid duration {w:?}"),
                ));
            }
        },
    };
    Ok(Some((index, wait)))
}

/// A blocking query: waits until the index passes `index` or `wait` elapses.
pub async fn block(shared: &Shared, query: &HashMap<String, String>) -> Result<(), Response> {
    let Some((index, wait)) = blocking_args(query)? else {
        return Ok(());
    };
    let mut receiver = shared.index.subscribe();
    let _ = tokio::time::timeout(wait, receiver.wait_for(|&now| now > index)).await;
    Ok(())
}

/// A blocking query on one table or object, as Nomad runs those: waits until the index
/// `of` the world reports (a table's or an object's ModifyIndex) passes `index`, or `wait`
/// elapses. Other changes to the world do not end the wait.
pub async fn block_on(
    shared: &Shared,
    query: &HashMap<String, String>,
    of: impl Fn(&crate::world::World) -> u64,
) -> Result<(), Response> {
    let Some((index, wait)) = blocking_args(query)? else {
        return Ok(());
    };
    let mut receiver = shared.index.subscribe();
    let passed = async {
        while shared.read(&of) <= index {
            if receiver.changed().await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(wait, passed).await;
    Ok(())
}

/// Pagination by `per_page` and `next_token` over items sorted by their token.
pub fn paginate(
    shared: &Shared,
    query: &HashMap<String, String>,
    items: Vec<(String, Value)>,
) -> Response {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|&p| p > 0);
    let start = match query.get("next_token").filter(|t| !t.is_empty()) {
        Some(token) => items
            .iter()
            .position(|(key, _)| key >= token)
            .unwrap_or(items.len()),
        None => 0,
    };
    let rest = &items[start..];
    let (page, next) = match per_page {
        Some(n) if rest.len() > n => (&rest[..n], Some(rest[n].0.clone())),
        _ => (rest, None),
    };
    let body = Value::Array(page.iter().map(|(_, v)| v.clone()).collect());
    let mut response = json(shared, &body);
    if let Some(next) = next
        && let Ok(value) = HeaderValue::from_str(&next)
    {
        response.headers_mut().insert("x-nomad-nexttoken", value);
    }
    response
}

pub fn body_json(bytes: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(bytes).map_err(|e| {
        text(
            StatusCode::BAD_REQUEST,
            &format!("Failed to decode request body: {e}"),
        )
    })
}

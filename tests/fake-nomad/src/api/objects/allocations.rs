//! Allocation reads, stop, restart, signal and resource usage.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{list, read_one, write_on};
use crate::Capability;
use crate::acl::Need;
use crate::api::{Ctx, Params, Q, authorize, body_json, json, refusal, text};
use crate::render;

pub async fn allocations(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    list(&shared, &headers, &query, |w, wanted| {
        w.allocs
            .values()
            .filter(|a| wanted(&a.namespace))
            .map(|a| (a.id.clone(), render::alloc_stub(a)))
            .collect()
    })
    .await
}

pub async fn allocation(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_one(&shared, &headers, &query, "alloc not found", |w| {
        w.allocs
            .get(&id)
            .map(|a| (a.namespace.clone(), render::alloc(w, a)))
    })
    .await
}

pub async fn stop_allocation(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let ns = shared.read(|w| w.allocs.get(&id).map(|a| a.namespace.clone()));
    match write_on(&shared, &headers, ns, "alloc not found", |w| {
        w.stop_allocation(&id)
    }) {
        Ok(Ok(eval)) => {
            let index = shared.read(|w| w.index);
            json(&shared, &json!({"EvalID": eval, "Index": index}))
        }
        Ok(Err(r)) => refusal(r),
        Err(e) => e,
    }
}

pub async fn restart_allocation(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let body = if bytes.is_empty() {
        json!({})
    } else {
        match body_json(&bytes) {
            Ok(b) => b,
            Err(e) => return e,
        }
    };
    let task = body
        .get("TaskName")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(String::from);
    let ns = shared.read(|w| w.allocs.get(&id).map(|a| a.namespace.clone()));
    // The client endpoint answers an unknown allocation with 404 "Unknown allocation".
    match write_on(&shared, &headers, ns, "Unknown allocation", |w| {
        w.restart_allocation(&id, task.as_deref())
    }) {
        Ok(Ok(())) => json(&shared, &json!({})),
        Ok(Err(r)) => refusal(r),
        Err(e) => e,
    }
}

/// The allocation's namespace, or Nomad's `404 Unknown allocation "<id>"` for one the
/// servers do not have (`nomad/util.go` getAlloc, which the client endpoints answer with
/// 404).
fn client_alloc(shared: &crate::Shared, id: &str) -> Result<String, Response> {
    shared
        .read(|w| w.allocs.get(id).map(|a| a.namespace.clone()))
        .ok_or_else(|| text(StatusCode::NOT_FOUND, &format!("Unknown allocation {id:?}")))
}

/// `GET /v1/client/allocation/:id/stats` (`command/agent/alloc_endpoint.go` allocStats,
/// `nomad/client_alloc_endpoint.go` and `client/alloc_endpoint.go` Stats): read-job in
/// the allocation's namespace; an allocation whose node is gone is `500 Unknown node
/// <node>`, on a node that is down `404 No path to node`. A stopped allocation still has
/// its runner on the client, so it answers too, with nothing running (see
/// `render::alloc_stats` for the numbers).
pub async fn allocation_stats(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let ns = match client_alloc(&shared, &id) {
        Ok(ns) => ns,
        Err(e) => return e,
    };
    if let Err(e) = authorize(&shared, &headers, Need::Namespace(ns, Capability::Read)) {
        return e;
    }
    let task = query.get("task").cloned().unwrap_or_default();
    let stats = shared.read(|w| {
        let alloc = w.allocs.get(&id)?;
        Some(
            w.client_of(alloc)
                .map(|()| render::alloc_stats(w, alloc, &task)),
        )
    });
    match stats {
        Some(Ok(v)) => json(&shared, &v),
        Some(Err(r)) => refusal(r),
        None => text(StatusCode::NOT_FOUND, &format!("Unknown allocation {id:?}")),
    }
}

/// `POST /v1/client/allocation/:id/signal` with `{Signal, Task}` (`alloc_endpoint.go`
/// allocSignal): a body that does not decode is `400 Failed to decode body: ...`; then
/// alloc-lifecycle (the fake's write) in the allocation's namespace, and the client's
/// answer (`World::signal_allocation`). Success is `{}`.
pub async fn signal_allocation(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    if bytes.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "Failed to decode body: Request body is empty",
        );
    }
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Failed to decode body: {e}"),
            );
        }
    };
    let ns = match client_alloc(&shared, &id) {
        Ok(ns) => ns,
        Err(e) => return e,
    };
    if let Err(e) = authorize(&shared, &headers, Need::Namespace(ns, Capability::Write)) {
        return e;
    }
    let signal = body.get("Signal").and_then(Value::as_str).unwrap_or("");
    let task = body
        .get("Task")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    match shared.change(|w| w.signal_allocation(&id, task, signal)) {
        Ok(()) => json(&shared, &json!({})),
        Err(r) => refusal(r),
    }
}

//! Allocation reads, stop and restart.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::{list, read_one, write_on};
use crate::api::{Ctx, Params, Q, body_json, json, refusal};
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

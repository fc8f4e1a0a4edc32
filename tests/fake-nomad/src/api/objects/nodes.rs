//! Node reads, drains and scheduling eligibility.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::acl::Need;
use crate::api::{
    Ctx, Params, Q, authorize, block, body_json, flag, json, paginate, refusal, text,
};
use crate::render;

pub async fn nodes(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeRead) {
        return e;
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let resources = flag(&query, "resources");
    let items = shared.read(|w| {
        w.nodes
            .iter()
            .map(|n| (n.id.clone(), render::node_stub(n, resources)))
            .collect::<Vec<_>>()
    });
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let items = items
        .into_iter()
        .filter(|(id, _)| id.starts_with(&prefix))
        .collect();
    paginate(&shared, &query, items)
}

pub async fn node(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeRead) {
        return e;
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    match shared.read(|w| w.node(&id).map(render::node)) {
        Some(n) => json(&shared, &n),
        None => text(StatusCode::NOT_FOUND, "node not found"),
    }
}

pub async fn node_allocations(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeRead) {
        return e;
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    // `Node.GetAllocs` reads the allocations by node ID without looking the node up, and
    // nodeAllocations answers a nil list as `[]` (`command/agent/node_endpoint.go`), so
    // a node Nomad does not know has no allocations rather than a 404.
    let allocs = shared.read(|w| {
        w.allocs
            .values()
            .filter(|a| a.node_id == id)
            .map(|a| render::alloc(w, a))
            .collect::<Vec<_>>()
    });
    json(&shared, &Value::Array(allocs))
}

fn node_update(shared: &crate::Shared, evals: Vec<String>, node_id: &str) -> Response {
    let (index, modify, create) = shared.read(|w| {
        (
            w.index,
            w.node(node_id).map(|n| n.modify_index).unwrap_or(0),
            evals
                .first()
                .and_then(|e| w.evals.get(e))
                .map(|e| e.create_index)
                .unwrap_or(0),
        )
    });
    json(
        shared,
        &json!({
            "EvalIDs": if evals.is_empty() { Value::Null } else { json!(evals) },
            "EvalCreateIndex": create,
            "NodeModifyIndex": modify,
            "Index": index
        }),
    )
}

pub async fn drain(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeWrite) {
        return e;
    }
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let spec = body.get("DrainSpec").filter(|s| s.is_object()).map(|s| {
        (
            s.get("Deadline").and_then(Value::as_i64).unwrap_or(0),
            s.get("IgnoreSystemJobs")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        )
    });
    let mark = body
        .get("MarkEligible")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match shared.change(|w| w.drain_node(&id, spec, mark)) {
        Ok(evals) => node_update(&shared, evals, &id),
        Err(r) => refusal(r),
    }
}

pub async fn eligibility(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeWrite) {
        return e;
    }
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let eligible = match body.get("Eligibility").and_then(Value::as_str) {
        Some("eligible") => true,
        Some("ineligible") => false,
        other => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("invalid scheduling eligibility {:?}", other.unwrap_or("")),
            );
        }
    };
    match shared.change(|w| w.set_eligibility(&id, eligible)) {
        Ok(()) => node_update(&shared, Vec::new(), &id),
        Err(r) => refusal(r),
    }
}

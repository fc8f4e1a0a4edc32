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

/// `GET /v1/nodes` (`nomad/node_endpoint.go` List at 1.11.2). `prefix` goes to the
/// nodes' UUID index, so it must be hex of an even length (hyphens aside), else the
/// lookup fails: `500 node lookup failed: index error: <go-memdb's reason>`. `filter`
/// is evaluated against the whole node (`structs.Node`: `Status`, `NodePool`,
/// `NodeClass`, `Datacenter`, `Meta.<key>`, `Attributes`...), not the stub it lists.
pub async fn nodes(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeRead) {
        return e;
    }
    let filter = match super::pools::parse_filter(&query) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let hex = if prefix.is_empty() {
        String::new()
    } else {
        match uuid_index_prefix(&prefix) {
            Ok(h) => h,
            Err(reason) => {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("node lookup failed: index error: {reason}"),
                );
            }
        }
    };
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let resources = flag(&query, "resources");
    let items = shared.read(|w| {
        let mut nodes: Vec<_> = w
            .nodes
            .iter()
            .filter(|n| n.id.replace('-', "").starts_with(&hex))
            .filter(|n| filter.as_ref().is_none_or(|f| f.matches(&render::node(n))))
            .map(|n| (n.id.clone(), render::node_stub(n, resources)))
            .collect();
        nodes.sort_by(|a, b| a.0.cmp(&b.0));
        nodes
    });
    paginate(&shared, &query, items)
}

/// go-memdb's UUIDFieldIndex prefix (`index.go` parseString at v1.3.5): the hex digits
/// in lower case, or its error text.
fn uuid_index_prefix(prefix: &str) -> Result<String, String> {
    if prefix.len() > 36 {
        return Err(format!(
            "Invalid UUID length. UUID have 36 characters; got {}",
            prefix.len()
        ));
    }
    let hyphens = prefix.matches('-').count();
    if hyphens > 4 {
        return Err(format!(
            r#"UUID should have maximum of 4 "-"; got {hyphens}"#
        ));
    }
    let digits = prefix.replace('-', "");
    if !digits.len().is_multiple_of(2) {
        return Err("Input (without hyphens) must be even length".into());
    }
    // Go's hex.DecodeString reports the first byte that is not hex (%#U).
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "Invalid UUID: encoding/hex: invalid byte: U+{:04X} {c:?}",
            c as u32
        ));
    }
    Ok(digits.to_lowercase())
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

/// `POST /v1/node/:id/purge` (`command/agent/node_endpoint.go` nodePurge, the
/// `Node.Deregister` RPC): `node:write` first, then a node Nomad does not have is
/// `500 node not found`. The answer is `structs.NodeUpdateResponse`.
pub async fn purge(State(shared): Ctx, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeWrite) {
        return e;
    }
    match shared.change(|w| w.purge_node(&id)) {
        Ok((evals, index)) => {
            let create = shared.read(|w| {
                evals
                    .first()
                    .and_then(|e| w.evals.get(e))
                    .map(|e| e.create_index)
                    .unwrap_or(0)
            });
            let mut response = json(
                &shared,
                &json!({
                    "HeartbeatTTL": 0,
                    "EvalIDs": if evals.is_empty() { Value::Null } else { json!(evals) },
                    "EvalCreateIndex": create,
                    "NodeModifyIndex": index,
                    "Features": 0,
                    "LeaderRPCAddr": "",
                    "NumNodes": 0,
                    "Servers": null,
                    "SchedulingEligibility": "",
                    "SignedIdentity": null,
                    "Index": index,
                    "LastContact": 0,
                    "KnownLeader": false,
                    "NextToken": ""
                }),
            );
            response
                .headers_mut()
                .insert("x-nomad-index", axum::http::HeaderValue::from(index));
            response
        }
        Err(r) => refusal(r),
    }
}

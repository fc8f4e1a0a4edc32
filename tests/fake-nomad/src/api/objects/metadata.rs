//! `/v1/client/metadata`: a node's static and dynamic metadata.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::acl::Need;
use crate::api::{Ctx, Params, Q, authorize, body_json, json, text};
use crate::world::World;

fn metadata_of(w: &World, id: &str) -> Option<Value> {
    let node = w.node(id)?;
    let mut meta = node.static_meta.clone();
    meta.extend(node.meta.clone());
    Some(json!({"Meta": meta, "Dynamic": node.meta, "Static": node.static_meta}))
}

pub async fn metadata(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeRead) {
        return e;
    }
    let Some(id) = query.get("node_id").cloned() else {
        return text(StatusCode::BAD_REQUEST, "missing node_id");
    };
    match shared.read(|w| metadata_of(w, &id)) {
        Some(m) => json(&shared, &m),
        None => text(StatusCode::NOT_FOUND, "Unknown node"),
    }
}

pub async fn set_metadata(
    State(shared): Ctx,
    headers: HeaderMap,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeWrite) {
        return e;
    }
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(id) = body
        .get("NodeID")
        .and_then(Value::as_str)
        .map(String::from)
        .or_else(|| query.get("node_id").cloned())
    else {
        return text(StatusCode::BAD_REQUEST, "missing node_id");
    };
    let changes = body
        .get("Meta")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let updated = shared.change(|w| {
        let node = w.node_mut(&id)?;
        for (k, v) in &changes {
            match v.as_str() {
                Some(v) => {
                    node.meta.insert(k.clone(), v.to_string());
                }
                None => {
                    node.meta.remove(k);
                }
            }
        }
        w.node_event(&id, "NodeMetadata", "Node metadata updated");
        metadata_of(w, &id)
    });
    match updated {
        Some(m) => json(&shared, &m),
        None => text(StatusCode::NOT_FOUND, "Unknown node"),
    }
}

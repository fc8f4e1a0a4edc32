//! Allocations, evaluations, deployments, nodes and node metadata.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{
    Ctx, Params, Q, authorize, block, body_json, flag, json, namespace_of, paginate, refusal, text,
    visible,
};
use crate::Capability::{Read, Write};
use crate::acl::Need;
use crate::render;
use crate::world::World;

type Query = std::collections::HashMap<String, String>;

/// Namespace-scoped list: `namespace=*` lists what the token may see.
async fn list<F>(shared: &crate::Shared, headers: &HeaderMap, query: &Query, f: F) -> Response
where
    F: FnOnce(&World, &dyn Fn(&str) -> bool) -> Vec<(String, Value)>,
{
    let namespace = namespace_of(query);
    let all = namespace == "*";
    let token = match authorize(
        shared,
        headers,
        if all {
            Need::AnyNamespace
        } else {
            Need::Namespace(namespace.clone(), Read)
        },
    ) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if let Err(e) = block(shared, query).await {
        return e;
    }
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let wanted = |ns: &str| {
        if all {
            visible(&token, ns)
        } else {
            ns == namespace
        }
    };
    let items = shared.read(|w| f(w, &wanted));
    let items = items
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    paginate(shared, query, items)
}

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

pub async fn evaluations(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    let job = query.get("job").cloned();
    let status = query.get("status").cloned();
    list(&shared, &headers, &query, |w, wanted| {
        w.evals
            .values()
            .filter(|e| wanted(&e.namespace))
            .filter(|e| job.as_ref().is_none_or(|j| &e.job_id == j))
            .filter(|e| status.as_ref().is_none_or(|s| &e.status == s))
            .map(|e| (e.id.clone(), render::eval(e)))
            .collect()
    })
    .await
}

pub async fn deployments(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    list(&shared, &headers, &query, |w, wanted| {
        w.deployments
            .values()
            .filter(|d| wanted(&d.namespace))
            .map(|d| (d.id.clone(), render::deployment(d)))
            .collect()
    })
    .await
}

/// Reads one namespaced object by ID (Nomad checks the object's own namespace).
async fn read_one<F>(
    shared: &crate::Shared,
    headers: &HeaderMap,
    query: &Query,
    missing: &str,
    f: F,
) -> Response
where
    F: Fn(&World) -> Option<(String, Value)>,
{
    if let Err(e) = block(shared, query).await {
        return e;
    }
    match shared.read(|w| f(w)) {
        None => text(StatusCode::NOT_FOUND, missing),
        Some((ns, value)) => match authorize(shared, headers, Need::Namespace(ns, Read)) {
            Ok(_) => json(shared, &value),
            Err(e) => e,
        },
    }
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

pub async fn evaluation(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let related = flag(&query, "related");
    read_one(&shared, &headers, &query, "eval not found", |w| {
        w.evals.get(&id).map(|e| {
            let v = if related {
                render::eval_with_related(w, e)
            } else {
                render::eval(e)
            };
            (e.namespace.clone(), v)
        })
    })
    .await
}

pub async fn evaluation_allocations(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_one(&shared, &headers, &query, "eval not found", |w| {
        w.evals.get(&id).map(|e| {
            let allocs: Vec<Value> = w
                .allocs
                .values()
                .filter(|a| a.eval_id == id)
                .map(render::alloc_stub)
                .collect();
            (e.namespace.clone(), Value::Array(allocs))
        })
    })
    .await
}

pub async fn deployment(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_one(&shared, &headers, &query, "deployment not found", |w| {
        w.deployments
            .get(&id)
            .map(|d| (d.namespace.clone(), render::deployment(d)))
    })
    .await
}

pub async fn deployment_allocations(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_one(&shared, &headers, &query, "deployment not found", |w| {
        w.deployments.get(&id).map(|d| {
            let allocs: Vec<Value> = w
                .allocs
                .values()
                .filter(|a| a.deployment_id == id)
                .map(render::alloc_stub)
                .collect();
            (d.namespace.clone(), Value::Array(allocs))
        })
    })
    .await
}

/// A write on an existing namespaced object: 404 first, then the token check.
fn write_on<T>(
    shared: &crate::Shared,
    headers: &HeaderMap,
    namespace: Option<String>,
    missing: &str,
    f: impl FnOnce(&mut World) -> T,
) -> Result<T, Response> {
    let Some(ns) = namespace else {
        return Err(text(StatusCode::NOT_FOUND, missing));
    };
    authorize(shared, headers, Need::Namespace(ns, Write))?;
    Ok(shared.change(f))
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

fn promote_or_fail(
    shared: &crate::Shared,
    headers: &HeaderMap,
    id: &str,
    promote: Option<Vec<String>>,
) -> Response {
    let ns = shared.read(|w| w.deployments.get(id).map(|d| d.namespace.clone()));
    let result = write_on(
        shared,
        headers,
        ns,
        "deployment not found",
        |w| match &promote {
            Some(groups) => w.promote(id, groups),
            None => w.fail_deployment(id),
        },
    );
    match result {
        Ok(Ok(eval)) => {
            let (index, modify) = shared.read(|w| {
                (
                    w.index,
                    w.deployments.get(id).map(|d| d.modify_index).unwrap_or(0),
                )
            });
            let create = shared.read(|w| w.evals.get(&eval).map(|e| e.create_index).unwrap_or(0));
            json(
                shared,
                &json!({
                    "EvalID": eval, "EvalCreateIndex": create, "DeploymentModifyIndex": modify,
                    "RevertedJobVersion": null, "Index": index
                }),
            )
        }
        Ok(Err(r)) => refusal(r),
        Err(e) => e,
    }
}

pub async fn promote(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let groups: Vec<String> = if body.get("All").and_then(Value::as_bool).unwrap_or(false) {
        Vec::new()
    } else {
        body.get("Groups")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    promote_or_fail(&shared, &headers, &id, Some(groups))
}

pub async fn fail(State(shared): Ctx, headers: HeaderMap, Path(id): Path<String>) -> Response {
    promote_or_fail(&shared, &headers, &id, None)
}

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
    let allocs = shared.read(|w| {
        w.node(&id).map(|_| {
            w.allocs
                .values()
                .filter(|a| a.node_id == id)
                .map(|a| render::alloc(w, a))
                .collect::<Vec<_>>()
        })
    });
    match allocs {
        Some(a) => json(&shared, &Value::Array(a)),
        None => text(StatusCode::NOT_FOUND, "node not found"),
    }
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

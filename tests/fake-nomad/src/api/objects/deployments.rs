//! Deployment reads, promotion and failing.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::{allocs_by, list, read_one, write_on};
use crate::api::{Ctx, Params, Q, body_json, json, refusal};
use crate::render;

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
    allocs_by(&shared, &headers, &query, |w| {
        w.allocs
            .values()
            .filter(|a| a.deployment_id == id)
            .map(|a| (a.namespace.clone(), render::alloc_stub(a)))
            .collect()
    })
    .await
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

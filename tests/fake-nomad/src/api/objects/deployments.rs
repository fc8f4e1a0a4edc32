//! Deployment reads, promotion, failing, pausing, unblocking and allocation health.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{allocs_by, list, read_one, write_on};
use crate::api::{Ctx, Params, Q, body_json, caller, denied, json, refusal, text};
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

/// The body of a deployment write as `command/agent/deployment_endpoint.go` checks it:
/// `400 Request body is empty`, `400 DeploymentID must be specified`, `400 Deployment ID
/// does not match`.
fn deployment_body(bytes: &Bytes, id: &str) -> Result<Value, Response> {
    if bytes.is_empty() {
        return Err(text(StatusCode::BAD_REQUEST, "Request body is empty"));
    }
    let body = body_json(bytes)?;
    match body
        .get("DeploymentID")
        .and_then(Value::as_str)
        .unwrap_or("")
    {
        "" => Err(text(
            StatusCode::BAD_REQUEST,
            "DeploymentID must be specified",
        )),
        given if given != id => Err(text(
            StatusCode::BAD_REQUEST,
            "Deployment ID does not match",
        )),
        _ => Ok(body),
    }
}

/// The RPC's checks (`nomad/deployment_endpoint.go` Pause, Unblock, SetAllocHealth): a
/// deployment Nomad does not have is `500 deployment not found` (a plain error), then
/// submit-job (the fake's write) in its namespace, then `500 <terminal>` for one that is
/// no longer active.
fn active_deployment(
    shared: &crate::Shared,
    headers: &HeaderMap,
    id: &str,
    terminal: &str,
) -> Result<(), Response> {
    let who = caller(shared, headers)?;
    let Some((ns, active)) = shared.read(|w| {
        w.deployments
            .get(id)
            .map(|d| (d.namespace.clone(), d.active()))
    }) else {
        return Err(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "deployment not found",
        ));
    };
    if !who.allows(&ns, crate::Capability::Write) {
        return Err(denied());
    }
    if !active {
        return Err(text(StatusCode::INTERNAL_SERVER_ERROR, terminal));
    }
    Ok(())
}

/// `structs.DeploymentUpdateResponse`, with `X-Nomad-Index` its index (setIndex).
fn update_response(
    shared: &crate::Shared,
    eval: Option<&str>,
    deployment: Option<&str>,
    reverted: Option<u64>,
) -> Response {
    let (eval_create, modify, index) = shared.read(|w| {
        (
            eval.and_then(|e| w.evals.get(e))
                .map(|e| e.create_index)
                .unwrap_or(0),
            deployment
                .and_then(|d| w.deployments.get(d))
                .map(|d| d.modify_index)
                .unwrap_or(0),
            if deployment.is_some() { w.index } else { 0 },
        )
    });
    let mut response = json(
        shared,
        &json!({
            "EvalID": eval.unwrap_or(""), "EvalCreateIndex": eval_create,
            "DeploymentModifyIndex": modify, "RevertedJobVersion": reverted, "Index": index
        }),
    );
    response
        .headers_mut()
        .insert("x-nomad-index", HeaderValue::from(index));
    response
}

/// `POST /v1/deployment/pause/:id` with `{DeploymentID, Pause}`: paused ("Deployment is
/// paused", no evaluation) or resumed ("Deployment is running", with an evaluation); a
/// terminal deployment is `500 can't pause terminal deployment` or `500 can't resume
/// terminal deployment` (`structs.ErrDeploymentTerminalNoPause` / `NoResume`).
pub async fn pause(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let body = match deployment_body(&bytes, &id) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let pause = body.get("Pause").and_then(Value::as_bool).unwrap_or(false);
    let terminal = if pause {
        "can't pause terminal deployment"
    } else {
        "can't resume terminal deployment"
    };
    if let Err(e) = active_deployment(&shared, &headers, &id, terminal) {
        return e;
    }
    let eval = shared.change(|w| w.pause_deployment(&id, pause));
    update_response(&shared, eval.as_deref(), Some(&id), None)
}

/// `POST /v1/deployment/unblock/:id` with `{DeploymentID}`. Only a multiregion
/// deployment can be blocked, which Nomad's community edition never has: for an active
/// deployment its watcher does nothing and the answer is an empty update (no
/// evaluation, indexes 0; `nomad/deploymentwatcher/multiregion_ce.go`
/// UnblockDeployment); a terminal one is `500 can't unblock terminal deployment`.
pub async fn unblock(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    if let Err(e) = deployment_body(&bytes, &id) {
        return e;
    }
    if let Err(e) = active_deployment(&shared, &headers, &id, "can't unblock terminal deployment") {
        return e;
    }
    update_response(&shared, None, None, None)
}

/// `POST /v1/deployment/allocation-health/:id` with `{DeploymentID,
/// HealthyAllocationIDs, UnhealthyAllocationIDs}`: neither list is `500 must specify at
/// least one healthy/unhealthy allocation ID`; a terminal deployment `500 can't set
/// health of allocations for a terminal deployment`; an ID Nomad does not have
/// `500 unknown alloc "<id>"`, one of another deployment `500 alloc "<id>" is not part
/// of deployment "<deployment>"` (`state_store.go` UpdateDeploymentAllocHealth), with
/// nothing changed. See `World::set_alloc_health` for what the write does.
pub async fn allocation_health(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let body = match deployment_body(&bytes, &id) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let ids = |key: &str| -> Vec<String> {
        body.get(key)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (healthy, unhealthy) = (ids("HealthyAllocationIDs"), ids("UnhealthyAllocationIDs"));
    if let Err(e) = caller(&shared, &headers) {
        return e;
    }
    if healthy.is_empty() && unhealthy.is_empty() {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "must specify at least one healthy/unhealthy allocation ID",
        );
    }
    if let Err(e) = active_deployment(
        &shared,
        &headers,
        &id,
        "can't set health of allocations for a terminal deployment",
    ) {
        return e;
    }
    match shared.change(|w| w.set_alloc_health(&id, &healthy, &unhealthy)) {
        Ok((eval, reverted)) => update_response(&shared, Some(&eval), Some(&id), reverted),
        Err(r) => refusal(r),
    }
}

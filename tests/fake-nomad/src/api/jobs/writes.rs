//! Job writes: register, deregister, revert, scale, dispatch and forced evaluation.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::need;
use crate::Capability::Write;
use crate::api::{Ctx, Params, Q, authorize, body_json, flag, json, namespace_of, refusal, text};
use crate::scheduler::WriteOutcome;

fn write_outcome(shared: &crate::Shared, o: &WriteOutcome) -> Response {
    json(
        shared,
        &json!({
            "EvalID": o.eval_id,
            "EvalCreateIndex": o.eval_create_index,
            "JobModifyIndex": o.job_modify_index,
            "Warnings": o.warnings,
            "Index": o.index,
            "LastContact": 0,
            "KnownLeader": true
        }),
    )
}

fn register_body(bytes: &[u8]) -> Result<(Value, Option<u64>), Response> {
    let body = body_json(bytes)?;
    let Some(job) = body.get("Job").cloned().filter(Value::is_object) else {
        return Err(text(StatusCode::BAD_REQUEST, "Job must be specified"));
    };
    let enforce = body
        .get("EnforceIndex")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .then(|| {
            body.get("JobModifyIndex")
                .and_then(Value::as_u64)
                .unwrap_or(0)
        });
    Ok((job, enforce))
}

async fn do_register(
    shared: &crate::Shared,
    headers: &HeaderMap,
    query: &std::collections::HashMap<String, String>,
    path_id: Option<&str>,
    bytes: &[u8],
) -> Response {
    let (job, enforce) = match register_body(bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Err(refused) = crate::jobspec::validate(&job, path_id)
        && refused.0 == 400
    {
        return refusal(refused);
    }
    let namespace = job
        .get("Namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .unwrap_or_else(|| namespace_of(query));
    if let Err(e) = authorize(shared, headers, need(&namespace, Write)) {
        return e;
    }
    match shared.change(|w| w.register(job, &namespace, enforce)) {
        Ok(o) => write_outcome(shared, &o),
        Err(r) => refusal(r),
    }
}

pub async fn register(
    State(shared): Ctx,
    headers: HeaderMap,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    do_register(&shared, &headers, &query, None, &bytes).await
}

pub async fn register_at(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    do_register(&shared, &headers, &query, Some(&id), &bytes).await
}

pub async fn deregister(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, need(&namespace, Write)) {
        return e;
    }
    let purge = flag(&query, "purge");
    match shared.change(|w| w.deregister(&namespace, &id, purge)) {
        Ok(o) => json(
            &shared,
            &json!({"EvalID": o.eval_id, "EvalCreateIndex": o.eval_create_index, "JobModifyIndex": o.job_modify_index}),
        ),
        Err(r) => refusal(r),
    }
}

pub async fn revert(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, need(&namespace, Write)) {
        return e;
    }
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(version) = body.get("JobVersion").and_then(Value::as_u64) else {
        return text(StatusCode::BAD_REQUEST, "missing JobVersion");
    };
    let prior = body.get("EnforcePriorVersion").and_then(Value::as_u64);
    match shared.change(|w| w.revert(&namespace, &id, version, prior)) {
        Ok(o) => json(
            &shared,
            &json!({"EvalID": o.eval_id, "EvalCreateIndex": o.eval_create_index, "JobModifyIndex": o.job_modify_index}),
        ),
        Err(r) => refusal(r),
    }
}

pub async fn scale(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, need(&namespace, Write)) {
        return e;
    }
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(group) = body
        .pointer("/Target/Group")
        .and_then(Value::as_str)
        .map(String::from)
    else {
        return text(StatusCode::BAD_REQUEST, "missing task group name");
    };
    let count = body.get("Count").and_then(Value::as_i64);
    let message = body
        .get("Message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match shared.change(|w| w.scale(&namespace, &id, &group, count, &message)) {
        Ok(o) => write_outcome(&shared, &o),
        Err(r) => refusal(r),
    }
}

pub async fn dispatch(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, need(&namespace, Write)) {
        return e;
    }
    let body = if bytes.is_empty() {
        json!({})
    } else {
        match body_json(&bytes) {
            Ok(b) => b,
            Err(e) => return e,
        }
    };
    let payload = match body.get("Payload").and_then(Value::as_str) {
        Some(p) => match base64::engine::general_purpose::STANDARD.decode(p) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!("Failed to decode request body: {e}"),
                );
            }
        },
        None => None,
    };
    let meta: BTreeMap<String, String> = body
        .get("Meta")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    let token = query
        .get("idempotency_token")
        .cloned()
        .or_else(|| {
            body.get("IdempotencyToken")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .filter(|t| !t.is_empty());
    match shared.change(|w| w.dispatch(&namespace, &id, payload, meta, token)) {
        Ok((child, o)) => json(
            &shared,
            &json!({
                "Index": o.index,
                "JobCreateIndex": o.job_modify_index,
                "EvalCreateIndex": o.eval_create_index,
                "EvalID": o.eval_id,
                "DispatchedJobID": child
            }),
        ),
        Err(r) => refusal(r),
    }
}

pub async fn evaluate(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, need(&namespace, Write)) {
        return e;
    }
    match shared.change(|w| w.force_evaluate(&namespace, &id)) {
        Ok(o) => json(
            &shared,
            &json!({"EvalID": o.eval_id, "EvalCreateIndex": o.eval_create_index, "JobModifyIndex": o.job_modify_index}),
        ),
        Err(r) => refusal(r),
    }
}

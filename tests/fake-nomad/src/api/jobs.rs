//! `/v1/jobs` and `/v1/job/:id/*`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::filter::Filter;
use super::{
    Ctx, Params, Q, authorize, block, body_json, flag, json, namespace_of, paginate, refusal, text,
    visible,
};
use crate::Capability::{Read, Write};
use crate::acl::Need;
use crate::render;
use crate::scheduler::WriteOutcome;

fn need(namespace: &str, capability: crate::Capability) -> Need {
    Need::Namespace(namespace.to_string(), capability)
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "job not found")
}

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

pub async fn list(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    let namespace = namespace_of(&query);
    let all = namespace == "*";
    let token = match authorize(
        &shared,
        &headers,
        if all {
            Need::AnyNamespace
        } else {
            need(&namespace, Read)
        },
    ) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let filter = match query.get("filter").filter(|f| !f.is_empty()) {
        Some(_) if query.get("prefix").is_some_and(|p| !p.is_empty()) => {
            return text(
                StatusCode::BAD_REQUEST,
                "Filter expression cannot be used with other filter parameters",
            );
        }
        Some(f) => match Filter::parse(f) {
            Ok(f) => Some(f),
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!("failed to read filter expression: {e}"),
                );
            }
        },
        None => None,
    };
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let items = shared.read(|w| {
        w.jobs
            .values()
            .filter(|r| (all && visible(&token, &r.namespace)) || r.namespace == namespace)
            .filter(|r| r.id.starts_with(&prefix))
            .map(|r| (r.id.clone(), render::job_stub(w, r)))
            .filter(|(_, stub)| filter.as_ref().is_none_or(|f| f.matches(stub)))
            .collect::<Vec<_>>()
    });
    paginate(&shared, &query, items)
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

pub async fn parse(
    State(shared): Ctx,
    headers: HeaderMap,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    if let Err(e) = authorize(&shared, &headers, need(&namespace_of(&query), Read)) {
        return e;
    }
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(hcl) = body.get("JobHCL").and_then(Value::as_str) else {
        return text(StatusCode::BAD_REQUEST, "Job spec is empty");
    };
    let variables = body.get("Variables").and_then(Value::as_str).unwrap_or("");
    match crate::hcl::parse_job(hcl, variables) {
        Ok(mut job) => {
            if flag_value(&body, "Canonicalize") {
                crate::jobspec::canonicalize(&mut job, &namespace_of(&query));
            }
            // The parse endpoint answers with `api.Job`, which still has the job-level
            // migrate and reschedule blocks (null unless set).
            for key in ["Migrate", "Reschedule"] {
                if job.get(key).is_none() {
                    job[key] = Value::Null;
                }
            }
            json(&shared, &job)
        }
        Err(e) => text(StatusCode::BAD_REQUEST, &e),
    }
}

fn flag_value(body: &Value, key: &str) -> bool {
    body.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Reads a job-scoped value after the ACL check and the blocking wait.
async fn read_job<F>(
    shared: &crate::Shared,
    headers: &HeaderMap,
    query: &std::collections::HashMap<String, String>,
    id: &str,
    f: F,
) -> Response
where
    F: FnOnce(&crate::world::World, &str) -> Value,
{
    let namespace = namespace_of(query);
    if let Err(e) = authorize(shared, headers, need(&namespace, Read)) {
        return e;
    }
    if let Err(e) = block(shared, query).await {
        return e;
    }
    let value = shared.read(|w| w.job(&namespace, id).is_some().then(|| f(w, &namespace)));
    match value {
        Some(v) => json(shared, &v),
        None => not_found(),
    }
}

pub async fn read(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, |w, ns| {
        render::job(w, ns, &id)
    })
    .await
}

pub async fn summary(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, |w, ns| {
        render::job_summary(w, ns, &id)
    })
    .await
}

pub async fn allocations(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, |w, ns| {
        let version = w.job(ns, &id).map(|r| r.create_index).unwrap_or(0);
        let all = flag(&query, "all");
        Value::Array(
            w.job_allocs(ns, &id)
                .into_iter()
                // Without `all`, allocations of an earlier job with the same ID are left out.
                .filter(|a| all || a.create_index >= version)
                .map(render::alloc_stub)
                .collect(),
        )
    })
    .await
}

pub async fn evaluations(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, |w, ns| {
        let mut evals: Vec<&crate::world::Eval> = w
            .evals
            .values()
            .filter(|e| e.namespace == ns && e.job_id == id)
            .collect();
        evals.sort_by_key(|e| std::cmp::Reverse(e.create_index));
        Value::Array(evals.into_iter().map(render::eval).collect())
    })
    .await
}

fn job_deployments(w: &crate::world::World, ns: &str, id: &str) -> Vec<Value> {
    let mut list: Vec<&crate::world::Deployment> = w
        .deployments
        .values()
        .filter(|d| d.namespace == ns && d.job_id == id)
        .collect();
    list.sort_by_key(|d| std::cmp::Reverse(d.create_index));
    list.into_iter().map(render::deployment).collect()
}

pub async fn deployments(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, |w, ns| {
        Value::Array(job_deployments(w, ns, &id))
    })
    .await
}

pub async fn latest_deployment(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, |w, ns| {
        job_deployments(w, ns, &id)
            .into_iter()
            .next()
            .unwrap_or(Value::Null)
    })
    .await
}

pub async fn versions(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let diffs = flag(&query, "diffs");
    let index = shared.read(|w| w.index);
    read_job(&shared, &headers, &query, &id, |w, ns| {
        let record = w.job(ns, &id).expect("checked");
        let versions: Vec<Value> = record.versions.iter().rev().cloned().collect();
        let diff_list = diffs.then(|| {
            versions
                .windows(2)
                .map(|pair| super::plan::job_diff(Some(&pair[1]), &pair[0]))
                .collect::<Vec<_>>()
        });
        json!({
            "Versions": versions,
            "Diffs": diff_list,
            "Index": index,
            "KnownLeader": true,
            "LastContact": 0
        })
    })
    .await
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

pub async fn scale_status(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, |w, ns| {
        let record = w.job(ns, &id).expect("checked");
        let mut groups = serde_json::Map::new();
        for group in crate::jobspec::groups(record.current()) {
            let name = crate::jobspec::str_of(group, "Name").to_string();
            let allocs: Vec<_> = w
                .job_allocs(ns, &id)
                .into_iter()
                .filter(|a| a.task_group == name && a.desired_status == "run")
                .collect();
            groups.insert(
                name.clone(),
                json!({
                    "Desired": group["Count"],
                    "Placed": allocs.iter().filter(|a| !a.terminal()).count(),
                    "Running": allocs.iter().filter(|a| a.client_status == "running").count(),
                    "Healthy": allocs.iter().filter(|a| a.healthy == Some(true)).count(),
                    "Unhealthy": allocs.iter().filter(|a| a.healthy == Some(false)).count(),
                    "Events": record.scale_events.get(&name).cloned().unwrap_or_default()
                }),
            );
        }
        json!({
            "JobID": id,
            "Namespace": ns,
            "JobCreateIndex": record.create_index,
            "JobModifyIndex": record.job_modify_index,
            "JobStopped": record.stopped(),
            "TaskGroups": groups
        })
    })
    .await
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

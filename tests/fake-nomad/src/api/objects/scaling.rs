//! Scaling policies, `GET /v1/scaling/policies` and `GET /v1/scaling/policy/:id`, from the
//! groups' `Scaling` blocks of the jobs (`nomad/scaling_endpoint.go` at 1.11.2):
//! - The list needs `list-scaling-policies` (or list-jobs and read-job) in the request's
//!   namespace, the fake's read, else 403. With `prefix` it lists the namespace's
//!   policies whose ID has it (`job` and `type` then unused); with `job`, that job's
//!   policies of exactly `type` when given; else the namespace's, `type` a prefix of the
//!   policy type. A nil list is `[]` (`command/agent/scaling_endpoint.go`).
//! - `namespace=*` (listAllNamespaces) never refuses: it keeps the policies of the
//!   namespaces the token may list, `type` a prefix and `prefix` on the ID; `job` is not
//!   read there.
//! - The read checks `read-scaling-policy` (or list-jobs and read-job) in the *request's*
//!   namespace and then answers the policy whatever its namespace; an ID Nomad does not
//!   have is `404 policy not found`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::Capability::Read;
use crate::api::{Ctx, Params, Q, block, caller, denied, json, namespace_of, text};
use crate::render;

pub async fn scaling_policies(
    State(shared): Ctx,
    headers: HeaderMap,
    Q(query): Params,
) -> Response {
    let who = match caller(&shared, &headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let namespace = namespace_of(&query);
    let all = namespace == "*";
    if !all && !who.allows(&namespace, Read) {
        return denied();
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let param = |k: &str| query.get(k).cloned().unwrap_or_default();
    let (prefix, job, kind) = (param("prefix"), param("job"), param("type"));
    let policies = shared.read(|w| {
        let mut found: Vec<_> = w
            .scaling_policies
            .values()
            .filter(|p| {
                if all {
                    who.allows(&p.namespace, Read)
                        && p.kind.starts_with(&kind)
                        && p.id.starts_with(&prefix)
                } else if !prefix.is_empty() {
                    p.namespace == namespace && p.id.starts_with(&prefix)
                } else if !job.is_empty() {
                    p.namespace == namespace
                        && p.job_id == job
                        && (kind.is_empty() || p.kind == kind)
                } else {
                    p.namespace == namespace && p.kind.starts_with(&kind)
                }
            })
            .collect();
        // By ID from the `id` index; by target from the `target` one.
        if !all && prefix.is_empty() {
            found.sort_by(|a, b| (&a.job_id, &a.group, &a.id).cmp(&(&b.job_id, &b.group, &b.id)));
        }
        found
            .into_iter()
            .map(render::scaling_policy_stub)
            .collect::<Vec<_>>()
    });
    json(&shared, &Value::Array(policies))
}

pub async fn scaling_policy(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let who = match caller(&shared, &headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if !who.allows(&namespace_of(&query), Read) {
        return denied();
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    match shared.read(|w| w.scaling_policies.get(&id).map(render::scaling_policy)) {
        Some(p) => json(&shared, &p),
        None => text(StatusCode::NOT_FOUND, "policy not found"),
    }
}

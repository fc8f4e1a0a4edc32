//! Job reads: the list, the job and its summary, allocations, evaluations,
//! deployments, versions (with diffs) and scale status.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::need;
use crate::Capability::Read;
use crate::acl::Need;
use crate::api::filter::Filter;
use crate::api::{
    Ctx, Params, Q, authorize, block, flag, json, namespace_of, paginate, text, visible,
};
use crate::render;

const JOB_NOT_FOUND: &str = "job not found";
const VERSIONS_NOT_FOUND: &str = "job versions not found";

// What Nomad 1.11.2 answers for a job it does not have, by endpoint
// (`command/agent/job_endpoint.go` at a443448d): the job, its summary and its scale
// status are 404 "job not found" (jobQuery, jobSummaryRequest, jobScaleStatus), its
// versions 404 "job versions not found" (jobVersions). Its allocations, evaluations and
// deployments are `[]` and its latest deployment `null`, with 200: those handlers never
// look the job up (the RPCs in `nomad/job_endpoint.go` read the allocations, evaluations
// or deployments by job ID), and turn a nil list into an empty one. An existing job
// without a deployment gets the same `null`.

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
            // Nomad's page token for a job is `<namespace>.<id>` (paginator's
            // NamespaceIDTokenizer), in the (namespace, id) order of its jobs table.
            .map(|r| (format!("{}.{}", r.namespace, r.id), render::job_stub(w, r)))
            .filter(|(_, stub)| filter.as_ref().is_none_or(|f| f.matches(stub)))
            .collect::<Vec<_>>()
    });
    paginate(&shared, &query, items)
}

/// Reads a value of an existing job after the ACL check and the blocking wait; 404 with
/// `missing` when the job does not exist.
async fn read_job<F>(
    shared: &crate::Shared,
    headers: &HeaderMap,
    query: &std::collections::HashMap<String, String>,
    id: &str,
    missing: &str,
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
        None => text(StatusCode::NOT_FOUND, missing),
    }
}

/// Reads a list (or the latest deployment) under a job ID after the ACL check and the
/// blocking wait, whether or not the job exists, as Nomad does.
async fn read_by_job_id<F>(
    shared: &crate::Shared,
    headers: &HeaderMap,
    query: &std::collections::HashMap<String, String>,
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
    let value = shared.read(|w| f(w, &namespace));
    json(shared, &value)
}

pub async fn read(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, JOB_NOT_FOUND, |w, ns| {
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
    read_job(&shared, &headers, &query, &id, JOB_NOT_FOUND, |w, ns| {
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
    read_by_job_id(&shared, &headers, &query, |w, ns| {
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
    read_by_job_id(&shared, &headers, &query, |w, ns| {
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
    read_by_job_id(&shared, &headers, &query, |w, ns| {
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
    read_by_job_id(&shared, &headers, &query, |w, ns| {
        job_deployments(w, ns, &id)
            .into_iter()
            .next()
            .unwrap_or(Value::Null)
    })
    .await
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(v, 10, 64)`, its error as `strconv.ParseUint: parsing "v": ...`.
fn parse_uint(v: &str) -> Result<u64, String> {
    let fail = |why: &str| format!("strconv.ParseUint: parsing {v:?}: {why}");
    if v.is_empty() {
        return Err(fail("invalid syntax"));
    }
    let mut n: u64 = 0;
    for c in v.bytes() {
        if !c.is_ascii_digit() {
            return Err(fail("invalid syntax"));
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or_else(|| fail("value out of range"))?;
    }
    Ok(n)
}

/// `GET /v1/job/:id/versions`, Nomad 1.11.2's jobVersions (`command/agent/job_endpoint.go`)
/// and `Job.GetJobVersions` (`nomad/job_endpoint.go`). `diffs`, and since Nomad 1.9
/// `diff_version` or `diff_tag`, are parsed first; a value that does not parse is a plain
/// error, 500. With `diffs`, `Diffs[i]` is `Versions[i+1].Diff(Versions[i], true)` (one
/// fewer than the versions, `null` for a single version); with a version to compare to
/// (a tag wins over a number) it is `thatVersion.Diff(Versions[i], true)` for every
/// version, and a version or tag the job does not have is the RPC's error, 500 (the fake
/// keeps no tags of its own: a version's `VersionTag`, if one was submitted, is looked at).
pub async fn versions(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let error = |message: String| text(StatusCode::INTERNAL_SERVER_ERROR, &message);
    let diffs = match query.get("diffs").filter(|v| !v.is_empty()) {
        None => false,
        Some(v) => match parse_bool(v) {
            Some(b) => b,
            None => {
                return error(format!(
                    "Failed to parse value of \"diffs\" ({v}) as a bool: strconv.ParseBool: parsing {v:?}: invalid syntax"
                ));
            }
        },
    };
    let diff_tag = query.get("diff_tag").cloned().unwrap_or_default();
    let diff_version = match query.get("diff_version").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match parse_uint(v) {
            Ok(n) => Some(n),
            Err(e) => {
                return error(format!(
                    "Failed to parse value of \"diff_version\" ({v}) as a uint64: {e}"
                ));
            }
        },
    };
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, need(&namespace, Read)) {
        return e;
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let answer = shared.read(|w| {
        let record = w.job(&namespace, &id)?;
        let versions: Vec<Value> = record.versions.iter().rev().cloned().collect();
        let version_of = |v: &Value| v["Version"].as_u64();
        let compare = match (diffs, diff_tag.is_empty(), diff_version) {
            (false, _, _) | (true, true, None) => None,
            (true, false, _) => match versions
                .iter()
                .find(|v| v["VersionTag"]["Name"].as_str() == Some(diff_tag.as_str()))
            {
                Some(v) => Some(v),
                None => return Some(Err(format!("tag {diff_tag:?} not found"))),
            },
            (true, true, Some(n)) => match versions.iter().find(|v| version_of(v) == Some(n)) {
                Some(v) => Some(v),
                None => return Some(Err(format!("version {n} not found"))),
            },
        };
        let diff_list: Vec<Value> = match compare {
            _ if !diffs => Vec::new(),
            Some(base) => versions
                .iter()
                .map(|v| crate::api::diff::job_diff(Some(base), v, true))
                .collect(),
            None => versions
                .windows(2)
                .map(|pair| crate::api::diff::job_diff(Some(&pair[1]), &pair[0], true))
                .collect(),
        };
        Some(Ok(json!({
            "Versions": versions,
            "Diffs": if diff_list.is_empty() { Value::Null } else { Value::Array(diff_list) },
            "Index": w.index,
            "KnownLeader": true,
            "LastContact": 0
        })))
    });
    match answer {
        None => text(StatusCode::NOT_FOUND, VERSIONS_NOT_FOUND),
        Some(Err(message)) => error(message),
        Some(Ok(value)) => json(&shared, &value),
    }
}

pub async fn scale_status(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    read_job(&shared, &headers, &query, &id, JOB_NOT_FOUND, |w, ns| {
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

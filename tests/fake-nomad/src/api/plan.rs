//! `POST /v1/job/:id/plan`: the scheduler runs on a copy of the world, so the answer
//! shows what would happen (placements, stops, failures) and nothing changes. The diff
//! is Nomad's `structs.JobDiff` (`super::diff`), contextual as `Job.Plan` asks for.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{Ctx, Params, Q, authorize, body_json, json, namespace_of, refusal, text};
use crate::acl::Need;

pub async fn plan(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(job) = body.get("Job").cloned().filter(Value::is_object) else {
        return text(StatusCode::BAD_REQUEST, "Job must be specified");
    };
    if let Err(refused) = crate::jobspec::validate(&job, Some(&id)) {
        return refusal(refused);
    }
    let namespace = job
        .get("Namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .unwrap_or_else(|| namespace_of(&query));
    if let Err(e) = authorize(
        &shared,
        &headers,
        Need::Namespace(namespace.clone(), crate::Capability::Write),
    ) {
        return e;
    }
    let (mut copy, before) = shared.read(|w| {
        (
            w.clone(),
            w.job(&namespace, &id)
                .map(|r| (r.current().clone(), r.job_modify_index)),
        )
    });
    let old_allocs: BTreeMap<String, crate::world::Alloc> = copy
        .allocs
        .iter()
        .filter(|(_, a)| a.namespace == namespace && a.job_id == id)
        .map(|(k, a)| (k.clone(), a.clone()))
        .collect();
    let outcome = match copy.register(job.clone(), &namespace, None) {
        Ok(o) => o,
        Err(r) => return refusal(r),
    };
    // What register stores, so an unchanged job plans without a diff.
    let mut canonical = job;
    crate::jobspec::canonicalize(&mut canonical, &namespace);
    crate::jobspec::canonicalize_identities(&mut canonical);
    let mut updates: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for group in crate::jobspec::groups(&canonical) {
        let mut m = Map::new();
        for key in [
            "Place",
            "Stop",
            "Migrate",
            "InPlaceUpdate",
            "DestructiveUpdate",
            "Ignore",
            "Canary",
            "Preemptions",
            "Reconnect",
            "Disconnect",
        ] {
            m.insert(key.into(), json!(0));
        }
        updates.insert(crate::jobspec::str_of(group, "Name").to_string(), m);
    }
    let bump = |updates: &mut BTreeMap<String, Map<String, Value>>, group: &str, key: &str| {
        if let Some(m) = updates.get_mut(group) {
            let n = m[key].as_u64().unwrap_or(0) + 1;
            m.insert(key.into(), json!(n));
        }
    };
    for alloc in copy
        .allocs
        .values()
        .filter(|a| a.namespace == namespace && a.job_id == id)
    {
        match old_allocs.get(&alloc.id) {
            None if alloc.canary => bump(&mut updates, &alloc.task_group, "Canary"),
            None if !alloc.previous_allocation.is_empty() => {}
            None => bump(&mut updates, &alloc.task_group, "Place"),
            Some(old) if old.desired_status == "run" && alloc.desired_status != "run" => {
                if alloc.next_allocation.is_empty() {
                    bump(&mut updates, &alloc.task_group, "Stop");
                } else {
                    bump(&mut updates, &alloc.task_group, "DestructiveUpdate");
                }
            }
            Some(old) if old.desired_status == "run" && old.job_version != alloc.job_version => {
                bump(&mut updates, &alloc.task_group, "InPlaceUpdate")
            }
            Some(old) if old.desired_status == "run" && !old.terminal() => {
                bump(&mut updates, &alloc.task_group, "Ignore")
            }
            Some(_) => {}
        }
    }
    let failed = copy
        .evals
        .get(&outcome.eval_id)
        .map(|e| e.failed.clone())
        .unwrap_or_default();
    let diff = body
        .get("Diff")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .then(|| super::diff::job_diff(before.as_ref().map(|b| &b.0), &canonical, true));
    json(
        &shared,
        &json!({
            "Index": outcome.index,
            "JobModifyIndex": before.map(|b| b.1).unwrap_or(0),
            "Diff": diff,
            "Annotations": {"DesiredTGUpdates": updates, "PreemptedAllocs": null},
            "FailedTGAllocs": if failed.is_empty() { Value::Null } else { json!(failed) },
            "CreatedEvals": null,
            "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
            "Warnings": ""
        }),
    )
}

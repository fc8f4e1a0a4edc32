//! `POST /v1/job/:id/plan`: the scheduler runs on a copy of the world, so the answer
//! shows what would happen (placements, stops, failures) and nothing changes. The diff
//! follows Nomad's `structs.JobDiff` shape (Type Added/Deleted/Edited/None).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{Ctx, Params, Q, authorize, body_json, json, namespace_of, refusal, text};
use crate::acl::Need;

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "Tasks" || k == "TaskGroups" {
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(
                prefix.to_string(),
                match other {
                    Value::String(s) => s.clone(),
                    x => x.to_string(),
                },
            );
        }
    }
}

const IGNORED: [&str; 9] = [
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "Stop",
];

fn fields(old: Option<&Value>, new: Option<&Value>) -> (Vec<Value>, bool) {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    if let Some(o) = old {
        flatten("", o, &mut a);
    }
    if let Some(n) = new {
        flatten("", n, &mut b);
    }
    let mut out = Vec::new();
    let mut changed = false;
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        if IGNORED.contains(&k.as_str()) {
            continue;
        }
        let (o, n) = (a.get(k), b.get(k));
        let kind = match (o, n) {
            (None, Some(_)) => "Added",
            (Some(_), None) => "Deleted",
            (Some(x), Some(y)) if x != y => "Edited",
            _ => continue,
        };
        changed = true;
        out.push(json!({
            "Type": kind, "Name": k, "Old": o.cloned().unwrap_or_default(),
            "New": n.cloned().unwrap_or_default(), "Annotations": null
        }));
    }
    (out, changed)
}

fn named<'a>(list: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    list.and_then(Value::as_array)?
        .iter()
        .find(|x| x["Name"] == name)
}

fn names(a: Option<&Value>, b: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in [a, b].into_iter().flatten() {
        for item in list.as_array().into_iter().flatten() {
            let n = item["Name"].as_str().unwrap_or("").to_string();
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

fn kind(old: Option<&Value>, changed: bool) -> &'static str {
    match (old, changed) {
        (None, _) => "Added",
        (Some(_), true) => "Edited",
        (Some(_), false) => "None",
    }
}

/// The diff between two versions of a job (`old` is `None` for a new job).
pub fn job_diff(old: Option<&Value>, new: &Value) -> Value {
    let (job_fields, mut job_changed) = fields(old, Some(new));
    let mut groups = Vec::new();
    for name in names(old.map(|o| &o["TaskGroups"]), Some(&new["TaskGroups"])) {
        let og = named(old.map(|o| &o["TaskGroups"]), &name);
        let ng = named(Some(&new["TaskGroups"]), &name);
        let (group_fields, mut group_changed) = fields(og, ng);
        let mut tasks = Vec::new();
        for tname in names(og.map(|g| &g["Tasks"]), ng.map(|g| &g["Tasks"])) {
            let ot = named(og.map(|g| &g["Tasks"]), &tname);
            let nt = named(ng.map(|g| &g["Tasks"]), &tname);
            let (task_fields, task_changed) = fields(ot, nt);
            group_changed |= task_changed;
            let t = if nt.is_none() {
                "Deleted"
            } else {
                kind(ot, task_changed)
            };
            tasks.push(json!({
                "Type": t, "Name": tname, "Fields": task_fields, "Objects": null,
                "Annotations": null
            }));
        }
        job_changed |= group_changed;
        let t = if ng.is_none() {
            "Deleted"
        } else {
            kind(og, group_changed)
        };
        groups.push(json!({
            "Type": t, "Name": name, "Fields": group_fields, "Objects": null,
            "Tasks": tasks, "Updates": null
        }));
    }
    json!({
        "Type": kind(old, job_changed),
        "ID": new["ID"],
        "Fields": job_fields,
        "Objects": null,
        "TaskGroups": groups
    })
}

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
    let mut canonical = job;
    crate::jobspec::canonicalize(&mut canonical, &namespace);
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
        .then(|| job_diff(before.as_ref().map(|b| &b.0), &canonical));
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

//! Jobs: the job, its list stub and its summary (with children counts).

use serde_json::{Map, Value, json};

use crate::world::*;

fn summary_counts(world: &World, namespace: &str, id: &str, job: &Value) -> Map<String, Value> {
    let mut summary = Map::new();
    for group in crate::jobspec::groups(job) {
        let name = crate::jobspec::str_of(group, "Name").to_string();
        let allocs: Vec<&Alloc> = world
            .job_allocs(namespace, id)
            .into_iter()
            .filter(|a| a.task_group == name)
            .collect();
        let count = |status: &str| allocs.iter().filter(|a| a.client_status == status).count();
        let queued: u64 = world
            .evals
            .values()
            .filter(|e| e.namespace == namespace && e.job_id == id && e.status == "blocked")
            .filter_map(|e| e.queued.get(&name))
            .sum();
        summary.insert(
            name,
            json!({
                "Queued": queued, "Complete": count("complete"), "Failed": count("failed"),
                "Running": count("running"), "Starting": count("pending"), "Lost": count("lost"),
                "Unknown": count("unknown")
            }),
        );
    }
    summary
}

fn children(world: &World, namespace: &str, id: &str) -> Value {
    let mut pending = 0;
    let mut running = 0;
    let mut dead = 0;
    for record in world.jobs.values() {
        if record.namespace == namespace && record.current()["ParentID"] == id {
            match world.job_status(record) {
                "pending" => pending += 1,
                "running" => running += 1,
                _ => dead += 1,
            }
        }
    }
    json!({"Pending": pending, "Running": running, "Dead": dead})
}

pub fn job_summary(world: &World, namespace: &str, id: &str) -> Value {
    let record = world.job(namespace, id).expect("caller checked");
    json!({
        "JobID": id,
        "Namespace": namespace,
        "Summary": summary_counts(world, namespace, id, record.current()),
        "Children": children(world, namespace, id),
        "CreateIndex": record.create_index,
        "ModifyIndex": record.modify_index
    })
}

/// The job as `GET /v1/job/:id` returns it.
pub fn job(world: &World, namespace: &str, id: &str) -> Value {
    let record = world.job(namespace, id).expect("caller checked");
    let mut job = record.current().clone();
    job["Status"] = json!(world.job_status(record));
    job["CreateIndex"] = json!(record.create_index);
    job["ModifyIndex"] = json!(record.modify_index);
    job["JobModifyIndex"] = json!(record.job_modify_index);
    job
}

pub fn job_stub(world: &World, record: &JobRecord) -> Value {
    let job = record.current();
    json!({
        "ID": record.id,
        "ParentID": job["ParentID"],
        "Name": job["Name"],
        "Namespace": record.namespace,
        "Datacenters": job["Datacenters"],
        "NodePool": job["NodePool"],
        "Multiregion": job["Multiregion"],
        "Type": job["Type"],
        "Priority": job["Priority"],
        "Periodic": job["Periodic"].is_object(),
        "ParameterizedJob": job["ParameterizedJob"].is_object(),
        "Stop": job["Stop"],
        "Status": world.job_status(record),
        "StatusDescription": job["StatusDescription"],
        "JobSummary": job_summary(world, &record.namespace, &record.id),
        "CreateIndex": record.create_index,
        "ModifyIndex": record.modify_index,
        "JobModifyIndex": record.job_modify_index,
        "SubmitTime": record.submit_time
    })
}

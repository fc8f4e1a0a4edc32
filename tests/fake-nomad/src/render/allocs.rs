//! Allocations: the list stub with task states and events, and the full allocation.

use serde_json::{Map, Value, json};

use crate::world::*;

fn task_event(e: &TaskEvent) -> Value {
    json!({
        "Type": e.kind, "Time": e.at, "Message": e.message, "DisplayMessage": e.display,
        "Details": e.details, "FailsTask": e.fails_task, "RestartReason": e.restart_reason,
        "SetupError": "", "DriverError": "", "ExitCode": e.exit_code, "Signal": 0,
        "KillTimeout": 0, "KillError": "", "KillReason": "", "StartDelay": 0,
        "DownloadError": "", "ValidationError": "", "DiskLimit": 0, "FailedSibling": "",
        "VaultError": "", "TaskSignalReason": "", "TaskSignal": "", "DriverMessage": "",
        "GenericSource": ""
    })
}

/// Go's `time.Time`: the zero time when unset, never null.
fn go_time(t: Option<i64>) -> String {
    t.map(rfc3339)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string())
}

fn task_states(alloc: &Alloc) -> Value {
    let mut states = Map::new();
    for (name, t) in &alloc.tasks {
        states.insert(
            name.clone(),
            json!({
                "State": t.state,
                "Failed": t.failed,
                "Restarts": t.restarts,
                "LastRestart": go_time(t.last_restart),
                "StartedAt": go_time(t.started_at),
                "FinishedAt": go_time(t.finished_at),
                "Events": t.events.iter().map(task_event).collect::<Vec<_>>(),
                "TaskHandle": null
            }),
        );
    }
    Value::Object(states)
}

fn deployment_status(alloc: &Alloc) -> Value {
    if alloc.deployment_id.is_empty() && alloc.healthy.is_none() {
        return Value::Null;
    }
    json!({
        "Healthy": alloc.healthy,
        "Timestamp": rfc3339(alloc.modify_time),
        "Canary": alloc.canary,
        "ModifyIndex": alloc.modify_index
    })
}

/// `structs.AllocListStub`: lists and the event stream.
pub fn alloc_stub(alloc: &Alloc) -> Value {
    json!({
        "ID": alloc.id,
        "EvalID": alloc.eval_id,
        "Name": alloc.name,
        "Namespace": alloc.namespace,
        "NodeID": alloc.node_id,
        "NodeName": alloc.node_name,
        "JobID": alloc.job_id,
        "JobType": alloc.job_type,
        "JobVersion": alloc.job_version,
        "TaskGroup": alloc.task_group,
        "AllocatedResources": null,
        "DesiredStatus": alloc.desired_status,
        "DesiredDescription": alloc.desired_description,
        "ClientStatus": alloc.client_status,
        "ClientDescription": alloc.client_description,
        "DesiredTransition": {"Migrate": alloc.migrate.then_some(true), "Reschedule": null, "ForceReschedule": null},
        "TaskStates": task_states(alloc),
        "DeploymentStatus": deployment_status(alloc),
        "FollowupEvalID": alloc.followup_eval,
        "NextAllocation": alloc.next_allocation,
        "PreviousAllocation": alloc.previous_allocation,
        "RescheduleTracker": null,
        "PreemptedAllocations": null,
        "PreemptedByAllocation": "",
        "CreateIndex": alloc.create_index,
        "ModifyIndex": alloc.modify_index,
        "CreateTime": alloc.create_time,
        "ModifyTime": alloc.modify_time
    })
}

fn resources(cpu: u64, memory: u64) -> Value {
    json!({"CPU": cpu, "MemoryMB": memory, "DiskMB": 0, "IOPS": 0, "Networks": null})
}

/// `structs.Allocation`: `GET /v1/allocation/:id`, with the job it runs.
pub fn alloc(world: &World, alloc: &Alloc) -> Value {
    let mut out = alloc_stub(alloc);
    let job = world
        .job(&alloc.namespace, &alloc.job_id)
        .and_then(|r| {
            r.versions
                .iter()
                .find(|v| v["Version"].as_u64() == Some(alloc.job_version))
                .or(r.versions.last())
        })
        .cloned()
        .unwrap_or(Value::Null);
    let (cpu, memory) = alloc.ask();
    let mut task_resources = Map::new();
    for (name, t) in &alloc.tasks {
        task_resources.insert(name.clone(), resources(t.cpu, t.memory));
    }
    let o = out.as_object_mut().expect("object");
    o.insert("Job".into(), job);
    o.insert("Resources".into(), resources(cpu, memory));
    o.insert(
        "SharedResources".into(),
        json!({"CPU": 0, "MemoryMB": 0, "DiskMB": 300, "Networks": null}),
    );
    o.insert("TaskResources".into(), Value::Object(task_resources));
    o.insert("Metrics".into(), alloc.metrics.clone());
    o.insert("DeploymentID".into(), json!(alloc.deployment_id));
    o.insert("AllocModifyIndex".into(), json!(alloc.alloc_modify_index));
    o.insert("SignedIdentities".into(), Value::Null);
    out
}

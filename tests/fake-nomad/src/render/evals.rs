//! Evaluations, alone or with their related evaluations.

use serde_json::{Value, json};

use crate::world::*;

pub fn eval(e: &Eval) -> Value {
    let failed = if e.failed.is_empty() {
        Value::Null
    } else {
        json!(e.failed)
    };
    json!({
        "ID": e.id,
        "Namespace": e.namespace,
        "Priority": e.priority,
        "Type": e.kind,
        "TriggeredBy": e.triggered_by,
        "JobID": e.job_id,
        "JobModifyIndex": e.job_modify_index,
        "NodeID": e.node_id,
        "NodeModifyIndex": e.node_modify_index,
        "DeploymentID": e.deployment_id,
        "Status": e.status,
        "StatusDescription": e.status_description,
        "Wait": 0,
        "WaitUntil": null,
        "NextEval": e.next_eval,
        "PreviousEval": e.previous_eval,
        "BlockedEval": e.blocked_eval,
        "RelatedEvals": null,
        "FailedTGAllocs": failed,
        "ClassEligibility": e.class_eligibility,
        "EscapedComputedClass": false,
        "QuotaLimitReached": "",
        "AnnotatePlan": false,
        "QueuedAllocations": e.queued,
        "LeaderACL": "",
        "SnapshotIndex": e.snapshot_index,
        "CreateIndex": e.create_index,
        "ModifyIndex": e.modify_index,
        "CreateTime": e.create_time,
        "ModifyTime": e.modify_time
    })
}

/// `GET /v1/evaluation/:id?related=true` adds the stubs of related evaluations.
pub fn eval_with_related(world: &World, e: &Eval) -> Value {
    let mut out = eval(e);
    let related: Vec<Value> = world
        .evals
        .values()
        .filter(|o| {
            o.id != e.id
                && (o.previous_eval == e.id || e.previous_eval == o.id || e.blocked_eval == o.id)
        })
        .map(|o| {
            json!({
                "ID": o.id, "Namespace": o.namespace, "Priority": o.priority, "Type": o.kind,
                "TriggeredBy": o.triggered_by, "JobID": o.job_id, "NodeID": o.node_id,
                "DeploymentID": o.deployment_id, "Status": o.status,
                "StatusDescription": o.status_description, "WaitUntil": null,
                "NextEval": o.next_eval, "PreviousEval": o.previous_eval,
                "BlockedEval": o.blocked_eval, "CreateIndex": o.create_index,
                "ModifyIndex": o.modify_index, "CreateTime": o.create_time,
                "ModifyTime": o.modify_time
            })
        })
        .collect();
    out["RelatedEvals"] = json!(related);
    out
}

//! Deployments with their task group states.

use serde_json::{Map, Value, json};

use crate::world::*;

pub fn deployment(d: &Deployment) -> Value {
    let mut groups = Map::new();
    for (name, g) in &d.groups {
        groups.insert(
            name.clone(),
            json!({
                "AutoRevert": g.auto_revert,
                "AutoPromote": g.auto_promote,
                "ProgressDeadline": g.progress_deadline,
                "RequireProgressBy": rfc3339(g.require_progress_by),
                "Promoted": g.promoted,
                "PlacedCanaries": g.placed_canaries,
                "DesiredCanaries": g.desired_canaries,
                "DesiredTotal": g.desired_total,
                "PlacedAllocs": g.placed,
                "HealthyAllocs": g.healthy,
                "UnhealthyAllocs": g.unhealthy
            }),
        );
    }
    json!({
        "ID": d.id,
        "Namespace": d.namespace,
        "JobID": d.job_id,
        "JobVersion": d.job_version,
        "JobModifyIndex": d.job_modify_index,
        "JobSpecModifyIndex": d.job_spec_modify_index,
        "JobCreateIndex": d.job_create_index,
        "IsMultiregion": false,
        "TaskGroups": groups,
        "Status": d.status,
        "StatusDescription": d.status_description,
        "EvalPriority": 50,
        "CreateIndex": d.create_index,
        "ModifyIndex": d.modify_index
    })
}

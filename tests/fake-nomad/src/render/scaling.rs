//! Scaling policies: `structs.ScalingPolicy` and its `ScalingPolicyListStub`.

use serde_json::{Value, json};

use crate::world::ScalingPolicy;

fn target(p: &ScalingPolicy) -> Value {
    json!({"Namespace": p.namespace, "Job": p.job_id, "Group": p.group})
}

pub fn scaling_policy_stub(p: &ScalingPolicy) -> Value {
    json!({
        "ID": p.id, "Enabled": p.enabled, "Type": p.kind, "Target": target(p),
        "CreateIndex": p.create_index, "ModifyIndex": p.modify_index
    })
}

pub fn scaling_policy(p: &ScalingPolicy) -> Value {
    json!({
        "ID": p.id, "Type": p.kind, "Target": target(p), "Policy": p.policy,
        "Min": p.min, "Max": p.max, "Enabled": p.enabled,
        "CreateIndex": p.create_index, "ModifyIndex": p.modify_index
    })
}

//! Nomad Variables: `structs.VariableDecrypted` (a variable with its Items) and
//! `structs.VariableMetadata` (an entry of the list). `Lock` is a pointer without
//! `omitempty` in Nomad's struct, so a variable that is not a lock has `"Lock": null` (as
//! the lock conflict sample shows); the fake does not simulate locks.

use serde_json::{Value, json};

use crate::world::Variable;

/// `GET /v1/vars`: metadata only.
pub fn variable_metadata(v: &Variable) -> Value {
    json!({
        "Namespace": v.namespace,
        "Path": v.path,
        "Lock": null,
        "CreateIndex": v.create_index,
        "CreateTime": v.create_time,
        "ModifyIndex": v.modify_index,
        "ModifyTime": v.modify_time
    })
}

/// A variable with its Items; the zero value a conflict answers has `"Items": null`.
pub fn variable(v: &Variable) -> Value {
    let mut out = variable_metadata(v);
    out["Items"] = if v.items.is_empty() {
        Value::Null
    } else {
        json!(v.items)
    };
    out
}

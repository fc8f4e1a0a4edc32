//! Native services and check results: `structs.ServiceRegistrationListStub` (the list per
//! namespace), `structs.ServiceRegistration` and `structs.CheckQueryResult`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::world::{CheckResult, Registration};

/// `GET /v1/services`: per namespace, each service name with the union of its tags;
/// namespaces without a service are left out (`nomad/service_registration_endpoint.go`).
pub fn service_list(registrations: &[Registration]) -> Value {
    let mut namespaces: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for r in registrations {
        let tags = namespaces
            .entry(&r.namespace)
            .or_default()
            .entry(&r.service_name)
            .or_default();
        tags.extend(r.tags.iter().map(String::as_str));
    }
    Value::Array(
        namespaces
            .into_iter()
            .map(|(namespace, services)| {
                let services: Vec<Value> = services
                    .into_iter()
                    .map(|(name, tags)| json!({"ServiceName": name, "Tags": tags}))
                    .collect();
                json!({"Namespace": namespace, "Services": services})
            })
            .collect(),
    )
}

pub fn registration(r: &Registration) -> Value {
    json!({
        "Address": r.address,
        "AllocID": r.alloc_id,
        "CreateIndex": r.create_index,
        "Datacenter": r.datacenter,
        "ID": r.id,
        "JobID": r.job_id,
        "ModifyIndex": r.modify_index,
        "Namespace": r.namespace,
        "NodeID": r.node_id,
        "Port": r.port,
        "ServiceName": r.service_name,
        "Tags": if r.tags.is_empty() { Value::Null } else { json!(r.tags) }
    })
}

/// `GET /v1/allocation/:id/checks`: check ID → result; `StatusCode` and `Task` are
/// `omitempty` in Nomad's struct.
pub fn checks(results: &[CheckResult]) -> Value {
    let mut out = Map::new();
    for c in results {
        let mut v = json!({
            "Check": c.check,
            "Group": c.group,
            "ID": c.id,
            "Mode": c.mode,
            "Output": c.output,
            "Service": c.service,
            "Status": c.status,
            "Timestamp": c.timestamp
        });
        if c.status_code != 0 {
            v["StatusCode"] = json!(c.status_code);
        }
        if !c.task.is_empty() {
            v["Task"] = json!(c.task);
        }
        out.insert(c.id.clone(), v);
    }
    Value::Object(out)
}

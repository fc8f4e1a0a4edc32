//! Defaults filled in the way Nomad's `Canonicalize` does (values from Nomad's
//! `api/jobs.go`, `api/tasks.go` and `structs.DefaultServiceJobRestartPolicy` and
//! friends), so reads return full objects.

use serde_json::{Value, json};

use super::*;

pub(super) fn fill(target: &mut Value, defaults: Value) {
    let (Value::Object(target), Value::Object(defaults)) = (target, defaults) else {
        return;
    };
    for (key, default) in defaults {
        match target.get_mut(&key) {
            None => {
                target.insert(key, default);
            }
            Some(Value::Null) if !default.is_null() => {
                target.insert(key, default);
            }
            Some(existing) if existing.is_object() && default.is_object() => {
                fill(existing, default);
            }
            _ => {}
        }
    }
}

/// `structs.ServiceCheck` with every field at its zero value: what Nomad stores for the
/// fields a JSON submission leaves out (`nomad/structs/services.go` at 1.11.2).
pub(super) fn check_defaults() -> Value {
    json!({
        "Name": "", "Type": "", "Command": "", "Args": null, "Path": "", "Protocol": "",
        "PortLabel": "", "Expose": false, "AddressMode": "", "Interval": 0, "Timeout": 0,
        "InitialStatus": "", "Notes": "", "TLSServerName": "", "TLSSkipVerify": false,
        "Method": "", "Header": null, "CheckRestart": null, "GRPCService": "",
        "GRPCUseTLS": false, "TaskName": "", "SuccessBeforePassing": 0,
        "FailuresBeforeCritical": 0, "FailuresBeforeWarning": 0, "Body": "", "OnUpdate": ""
    })
}

/// `structs.Service` likewise (its Consul `Namespace` left out, as the fake does).
pub(super) fn service_defaults() -> Value {
    json!({
        "Name": "", "TaskName": "", "PortLabel": "", "AddressMode": "", "Address": "",
        "EnableTagOverride": false, "Tags": null, "CanaryTags": null, "Checks": null,
        "Connect": null, "Meta": null, "CanaryMeta": null, "Weights": null,
        "TaggedAddresses": null, "OnUpdate": "", "Provider": "", "Cluster": "",
        "Identity": null, "Kind": ""
    })
}

pub(super) fn update_defaults() -> Value {
    json!({
        "Stagger": 30 * SECOND, "MaxParallel": 1, "HealthCheck": "checks",
        "MinHealthyTime": 10 * SECOND, "HealthyDeadline": 5 * MINUTE,
        "ProgressDeadline": 10 * MINUTE, "AutoRevert": false, "AutoPromote": false,
        "Canary": 0
    })
}

pub(super) fn restart_defaults(job_type: &str) -> Value {
    if job_type == "batch" || job_type == "sysbatch" {
        json!({"Attempts": 3, "Interval": 24 * HOUR, "Delay": 15 * SECOND, "Mode": "fail"})
    } else {
        json!({"Attempts": 2, "Interval": 30 * MINUTE, "Delay": 15 * SECOND, "Mode": "fail"})
    }
}

pub(super) fn reschedule_defaults(job_type: &str) -> Value {
    if job_type == "batch" {
        json!({"Attempts": 1, "Interval": 24 * HOUR, "Delay": 5 * SECOND,
               "DelayFunction": "constant", "MaxDelay": 0, "Unlimited": false})
    } else {
        json!({"Attempts": 0, "Interval": 0, "Delay": 30 * SECOND,
               "DelayFunction": "exponential", "MaxDelay": HOUR, "Unlimited": true})
    }
}

/// Fills the defaults Nomad fills on register.
pub fn canonicalize(job: &mut Value, namespace: &str) {
    let job_type = job
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or("service")
        .to_string();
    let id = job
        .get("ID")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    fill(
        job,
        json!({
            "Region": "global", "Namespace": namespace, "ID": id, "ParentID": "",
            "Name": id, "Type": job_type, "Priority": 50, "AllAtOnce": false,
            "Datacenters": ["*"], "NodePool": "default", "Constraints": null,
            "Affinities": null, "Spreads": null, "TaskGroups": [], "Update": update_defaults(),
            "Multiregion": null, "Periodic": null, "ParameterizedJob": null,
            "Dispatched": false, "DispatchIdempotencyToken": "", "Payload": null, "Meta": null,
            "ConsulToken": "", "VaultToken": "", "VaultNamespace": "", "NomadTokenID": "",
            "Status": "pending", "StatusDescription": "", "Stable": false, "Version": 0,
            "SubmitTime": 0, "CreateIndex": 0, "ModifyIndex": 0, "JobModifyIndex": 0,
            "Stop": false
        }),
    );
    if job.get("Namespace").and_then(Value::as_str) == Some("") {
        job["Namespace"] = json!(namespace);
    }
    let job_update = job.get("Update").cloned().unwrap_or(Value::Null);
    let job_name = str_of(job, "Name").to_string();
    let job_ns = str_of(job, "Namespace").to_string();
    if let Some(groups) = job.get_mut("TaskGroups").and_then(Value::as_array_mut) {
        for group in groups {
            scaling_count(group);
            canonicalize_group(group, &job_type, &job_update);
            canonicalize_services(group, &job_name);
            canonicalize_scaling(group, &job_ns, &id);
        }
    }
}

/// `api.TaskGroup.Canonicalize` (`api/tasks.go`): a group without a count starts at its
/// scaling policy's minimum.
fn scaling_count(group: &mut Value) {
    if group.get("Count").is_none_or(Value::is_null)
        && let Some(min) = group.pointer("/Scaling/Min").and_then(Value::as_i64)
    {
        group["Count"] = json!(min);
    }
}

/// A group's `Scaling` block as Nomad stores it (`structs.ScalingPolicy`): `Enabled`
/// defaults to true, `Min` to the group's count and a missing `Max` to -1
/// (`command/agent/scaling_endpoint.go` ApiScalingPolicyToStructs, `api/scaling.go`),
/// `Type` to `horizontal`, and the target is the group (`ScalingPolicy.Canonicalize`).
/// The ID and indexes are the register's to set.
fn canonicalize_scaling(group: &mut Value, namespace: &str, job_id: &str) {
    let count = group.get("Count").and_then(Value::as_i64).unwrap_or(1);
    let name = str_of(group, "Name").to_string();
    let Some(scaling) = group.get_mut("Scaling").filter(|s| s.is_object()) else {
        return;
    };
    let given = scaling.clone();
    let number =
        |key: &str, default: i64| given.get(key).and_then(Value::as_i64).unwrap_or(default);
    let kind = match str_of(&given, "Type") {
        "" => "horizontal",
        t => t,
    };
    *scaling = json!({
        "ID": given.get("ID").cloned().unwrap_or(json!("")),
        "Type": kind,
        "Target": {"Namespace": namespace, "Job": job_id, "Group": name},
        "Policy": given.get("Policy").cloned().unwrap_or(Value::Null),
        "Min": number("Min", count),
        "Max": number("Max", -1),
        "Enabled": given.get("Enabled").and_then(Value::as_bool).unwrap_or(true),
        "CreateIndex": 0,
        "ModifyIndex": 0
    });
}

/// Every field of `structs.Service` and `structs.ServiceCheck` (at its zero value when left out),
/// and the defaults `api.Service.Canonicalize` fills: the name `job-group[-task]`, address
/// mode `auto`, `require_healthy` on update (inherited by the checks), the `consul`
/// provider and the `default` cluster.
pub(super) fn canonicalize_services(group: &mut Value, job_name: &str) {
    let group_name = str_of(group, "Name").to_string();
    let fix = |services: Option<&mut Value>, task: Option<&str>| {
        for service in services.and_then(Value::as_array_mut).into_iter().flatten() {
            fill(service, service_defaults());
            if str_of(service, "Name").is_empty() {
                service["Name"] = json!(match task {
                    Some(t) => format!("{job_name}-{group_name}-{t}"),
                    None => format!("{job_name}-{group_name}"),
                });
            }
            for (key, default) in [
                ("AddressMode", "auto"),
                ("OnUpdate", "require_healthy"),
                ("Provider", "consul"),
                ("Cluster", "default"),
            ] {
                if str_of(service, key).is_empty() {
                    service[key] = json!(default);
                }
            }
            let on_update = service["OnUpdate"].clone();
            for check in service
                .get_mut("Checks")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                fill(check, check_defaults());
                if str_of(check, "OnUpdate").is_empty() {
                    check["OnUpdate"] = on_update.clone();
                }
            }
            if let Some(weights) = service.get_mut("Weights").filter(|w| w.is_object()) {
                for key in ["Passing", "Warning"] {
                    if weights[key].as_i64().unwrap_or(0) <= 0 {
                        weights[key] = json!(1);
                    }
                }
            }
        }
    };
    fix(group.get_mut("Services"), None);
    for task in group
        .get_mut("Tasks")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let name = str_of(task, "Name").to_string();
        fix(task.get_mut("Services"), Some(&name));
    }
}

/// The defaults `api.Template.Canonicalize` fills; a signal is upper-cased, and the
/// signal defaults to SIGHUP for the `signal` change mode.
pub(super) fn canonicalize_template(template: &mut Value) {
    let mode = match template.get("ChangeMode").and_then(Value::as_str) {
        Some(m) => m.to_string(),
        None => "restart".to_string(),
    };
    let signal = match template.get("ChangeSignal").and_then(Value::as_str) {
        Some(s) => s.to_uppercase(),
        None if mode == "signal" => "SIGHUP".into(),
        None => String::new(),
    };
    template["ChangeMode"] = json!(mode);
    template["ChangeSignal"] = json!(signal);
    fill(
        template,
        json!({
            "SourcePath": "", "DestPath": "", "EmbeddedTmpl": "", "Once": false,
            "Splay": 5 * SECOND, "Perms": "0644", "LeftDelim": "{{", "RightDelim": "}}",
            "Envvars": false, "ErrMissingKey": false, "VaultGrace": 0
        }),
    );
}

/// What the server does to a registered job's identities (`structs.Task.Canonicalize`):
/// the default identity is named `default`, its audience is `nomadproject.io`, signals
/// are upper-cased. (Nomad also adds a default identity to tasks that declare none; the
/// fake leaves those `null`.)
pub fn canonicalize_identities(job: &mut Value) {
    for group in job
        .get_mut("TaskGroups")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        for task in group
            .get_mut("Tasks")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(identity) = task.get_mut("Identity").filter(|i| i.is_object()) {
                if str_of(identity, "Name").is_empty() {
                    identity["Name"] = json!("default");
                }
                identity["Audience"] = json!(["nomadproject.io"]);
            }
            let Some(task) = task.as_object_mut() else {
                continue;
            };
            for (key, identity) in task.iter_mut() {
                let list: Vec<&mut Value> = match (key.as_str(), identity) {
                    ("Identity", i @ Value::Object(_)) => vec![i],
                    ("Identities", Value::Array(list)) => list.iter_mut().collect(),
                    _ => continue,
                };
                for identity in list {
                    let signal = str_of(identity, "ChangeSignal").to_uppercase();
                    identity["ChangeSignal"] = json!(signal);
                }
            }
        }
    }
}

pub(super) fn canonicalize_group(group: &mut Value, job_type: &str, job_update: &Value) {
    let update = if job_type == "service" {
        job_update.clone()
    } else {
        Value::Null
    };
    fill(
        group,
        json!({
            "Name": "", "Count": 1, "Constraints": null, "Affinities": null, "Spreads": null,
            "Tasks": [], "RestartPolicy": restart_defaults(job_type),
            "ReschedulePolicy": reschedule_defaults(job_type),
            "EphemeralDisk": {"Sticky": false, "SizeMB": 300, "Migrate": false},
            "Update": update,
            "Migrate": {"MaxParallel": 1, "HealthCheck": "checks",
                        "MinHealthyTime": 10 * SECOND, "HealthyDeadline": 5 * MINUTE},
            "Networks": null, "Services": null, "Volumes": null, "Meta": null,
            "Scaling": null, "ShutdownDelay": null, "StopAfterClientDisconnect": null,
            "MaxClientDisconnect": null, "Disconnect": null, "Consul": null
        }),
    );
    let restart = group.get("RestartPolicy").cloned().unwrap_or(Value::Null);
    if let Some(tasks) = group.get_mut("Tasks").and_then(Value::as_array_mut) {
        for task in tasks {
            fill(
                task,
                json!({
                    "Name": "", "Driver": "", "User": "", "Config": {}, "Env": null,
                    "Services": null, "Vault": null, "Templates": null, "Constraints": null,
                    "Affinities": null,
                    "Resources": {"CPU": 100, "Cores": 0, "MemoryMB": 300, "MemoryMaxMB": 0,
                                  "DiskMB": 0, "IOPS": 0, "Networks": null, "Devices": null},
                    "RestartPolicy": restart.clone(), "DispatchPayload": null,
                    "Lifecycle": null, "Meta": null, "KillTimeout": 5 * SECOND,
                    "LogConfig": {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": false},
                    "Artifacts": null, "Leader": false, "ShutdownDelay": 0, "KillSignal": "",
                    "Kind": "", "ScalingPolicies": null, "VolumeMounts": null,
                    "CSIPluginConfig": null, "Identity": null, "Identities": null
                }),
            );
            for template in task
                .get_mut("Templates")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                canonicalize_template(template);
            }
        }
    }
}

//! Jobs as Nomad stores them: validation, then defaults filled in the way Nomad's
//! `Canonicalize` does (values from Nomad's `api/jobs.go`, `api/tasks.go` and
//! `structs.DefaultServiceJobRestartPolicy` and friends), so reads return full objects.

use serde_json::{Map, Value, json};

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

fn fill(target: &mut Value, defaults: Value) {
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

fn update_defaults() -> Value {
    json!({
        "Stagger": 30 * SECOND, "MaxParallel": 1, "HealthCheck": "checks",
        "MinHealthyTime": 10 * SECOND, "HealthyDeadline": 5 * MINUTE,
        "ProgressDeadline": 10 * MINUTE, "AutoRevert": false, "AutoPromote": false,
        "Canary": 0
    })
}

fn restart_defaults(job_type: &str) -> Value {
    if job_type == "batch" || job_type == "sysbatch" {
        json!({"Attempts": 3, "Interval": 24 * HOUR, "Delay": 15 * SECOND, "Mode": "fail"})
    } else {
        json!({"Attempts": 2, "Interval": 30 * MINUTE, "Delay": 15 * SECOND, "Mode": "fail"})
    }
}

fn reschedule_defaults(job_type: &str) -> Value {
    if job_type == "batch" {
        json!({"Attempts": 1, "Interval": 24 * HOUR, "Delay": 5 * SECOND,
               "DelayFunction": "constant", "MaxDelay": 0, "Unlimited": false})
    } else {
        json!({"Attempts": 0, "Interval": 0, "Delay": 30 * SECOND,
               "DelayFunction": "exponential", "MaxDelay": HOUR, "Unlimited": true})
    }
}

/// Checks a job the way Nomad's register endpoint does. `Err` carries Nomad's text and
/// the HTTP status Nomad answers with (400 for request problems, 500 for validation,
/// which Nomad returns as a multierror from the RPC layer).
pub fn validate(job: &Value, path_id: Option<&str>) -> Result<(), (u16, String)> {
    let Some(obj) = job.as_object() else {
        return Err((400, "Job must be a JSON object".into()));
    };
    let id = match obj.get("ID").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id,
        _ => return Err((400, "Job ID hasn't been provided".into())),
    };
    if let Some(path_id) = path_id
        && path_id != id
    {
        return Err((400, "Job ID does not match name".into()));
    }
    let mut errors = Vec::new();
    if id.contains(' ') {
        errors.push("Job ID contains a space".to_string());
    }
    let job_type = obj.get("Type").and_then(Value::as_str).unwrap_or("service");
    if !["service", "batch", "system", "sysbatch"].contains(&job_type) {
        errors.push(format!("Invalid job type: {job_type:?}"));
    }
    if let Some(p) = obj.get("Priority").and_then(Value::as_i64)
        && !(1..=100).contains(&p)
    {
        errors.push("Job priority must be between [1, 100]".into());
    }
    let groups = obj.get("TaskGroups").and_then(Value::as_array);
    match groups {
        None => errors.push("Missing job task groups".into()),
        Some(groups) if groups.is_empty() => errors.push("Missing job task groups".into()),
        Some(groups) => {
            for (i, group) in groups.iter().enumerate() {
                let name = group.get("Name").and_then(Value::as_str).unwrap_or("");
                let label = if name.is_empty() {
                    format!("group {}", i + 1)
                } else {
                    name.to_string()
                };
                let mut group_errors = Vec::new();
                if name.is_empty() {
                    group_errors.push("Missing task group name".to_string());
                }
                if group.get("Count").and_then(Value::as_i64).unwrap_or(1) < 0 {
                    group_errors.push("Task group count can't be negative".into());
                }
                match group.get("Tasks").and_then(Value::as_array) {
                    Some(tasks) if !tasks.is_empty() => {
                        for task in tasks {
                            let tname = task.get("Name").and_then(Value::as_str).unwrap_or("");
                            if tname.is_empty() {
                                group_errors.push("Missing task name".into());
                            }
                            if task
                                .get("Driver")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .is_empty()
                            {
                                group_errors.push(format!(
                                    "Task {tname} validation failed: Missing task driver"
                                ));
                            }
                            if let Some(mem) =
                                task.pointer("/Resources/MemoryMB").and_then(Value::as_i64)
                                && mem < 10
                            {
                                group_errors.push(format!(
                                    "Task {tname} validation failed: minimum MemoryMB value is 10; got {mem}"
                                ));
                            }
                            if let Some(cpu) =
                                task.pointer("/Resources/CPU").and_then(Value::as_i64)
                                && cpu < 1
                            {
                                group_errors.push(format!(
                                    "Task {tname} validation failed: minimum CPU value is 1; got {cpu}"
                                ));
                            }
                        }
                    }
                    _ => group_errors.push("Missing tasks for task group".into()),
                }
                for e in group_errors {
                    errors.push(format!("Task group {label} validation failed: {e}"));
                }
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    // hashicorp/go-multierror's format, as Nomad prints it.
    let mut text = format!(
        "{} error{} occurred:\n",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    for e in errors {
        text.push_str(&format!("\t* {e}\n"));
    }
    text.push('\n');
    Err((500, text))
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
    if let Some(groups) = job.get_mut("TaskGroups").and_then(Value::as_array_mut) {
        for group in groups {
            canonicalize_group(group, &job_type, &job_update);
            canonicalize_services(group, &job_name);
        }
    }
}

/// The defaults `api.Service.Canonicalize` fills: the name `job-group[-task]`, address
/// mode `auto`, `require_healthy` on update (inherited by the checks), the `consul`
/// provider and the `default` cluster.
fn canonicalize_services(group: &mut Value, job_name: &str) {
    let group_name = str_of(group, "Name").to_string();
    let fix = |services: Option<&mut Value>, task: Option<&str>| {
        for service in services.and_then(Value::as_array_mut).into_iter().flatten() {
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
fn canonicalize_template(template: &mut Value) {
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

fn canonicalize_group(group: &mut Value, job_type: &str, job_update: &Value) {
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

/// The task groups of a job, as (name, count, tasks).
pub fn groups(job: &Value) -> Vec<&Value> {
    job.get("TaskGroups")
        .and_then(Value::as_array)
        .map(|g| g.iter().collect())
        .unwrap_or_default()
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// CPU MHz and memory MB one allocation of this group needs.
pub fn group_ask(group: &Value) -> (u64, u64) {
    let mut cpu = 0;
    let mut mem = 0;
    for task in group
        .get("Tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        cpu += task
            .pointer("/Resources/CPU")
            .and_then(Value::as_u64)
            .unwrap_or(100);
        mem += task
            .pointer("/Resources/MemoryMB")
            .and_then(Value::as_u64)
            .unwrap_or(300);
    }
    (cpu, mem)
}

/// How a task behaves in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Healthy,
    Crash,
}

fn meta_value<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get("Meta")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
}

pub fn behavior(job: &Value, group: &Value, task: &Value) -> Behavior {
    for level in [task, group, job] {
        if let Some(b) = meta_value(level, "fake_nomad_behavior") {
            return if b == "crash" {
                Behavior::Crash
            } else {
                Behavior::Healthy
            };
        }
    }
    let config = task.get("Config").cloned().unwrap_or(Value::Null);
    let mentions = |key: &str| {
        config
            .get(key)
            .map(|v| v.to_string().contains("crash"))
            .unwrap_or(false)
    };
    if mentions("image") || mentions("command") || mentions("args") {
        Behavior::Crash
    } else {
        Behavior::Healthy
    }
}

pub fn log_bytes(job: &Value, group: &Value, task: &Value) -> Option<u64> {
    [task, group, job]
        .into_iter()
        .find_map(|l| meta_value(l, "fake_nomad_log_bytes"))
        .and_then(|v| v.parse().ok())
}

/// The group with the spec fields that force a replacement (everything but Count).
pub fn group_identity(group: &Value) -> Value {
    let mut g = group.clone();
    if let Some(o) = g.as_object_mut() {
        o.remove("Count");
        o.remove("Scaling");
    }
    g
}

/// Job fields outside the task groups that make a new version differ.
pub fn spec_identity(job: &Value) -> Value {
    let mut j = job.clone();
    if let Some(o) = j.as_object_mut() {
        for key in [
            "Status",
            "StatusDescription",
            "Stable",
            "Version",
            "SubmitTime",
            "CreateIndex",
            "ModifyIndex",
            "JobModifyIndex",
            "Stop",
        ] {
            o.remove(key);
        }
    }
    j
}

pub fn object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

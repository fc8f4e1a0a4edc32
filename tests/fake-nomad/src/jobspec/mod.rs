//! Jobs as Nomad stores them: validation, the defaults of `canonical.rs`, and what the
//! scheduler reads of a job (groups, asks, behaviour, identities).

use serde_json::{Map, Value};

mod canonical;

pub use canonical::{canonicalize, canonicalize_identities};

pub(super) const SECOND: i64 = 1_000_000_000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;

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
                group_errors.extend(scaling_errors(group));
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

/// `TaskGroup.validateScalingPolicy` and `ScalingPolicy.Validate`
/// (`nomad/structs/structs.go` at 1.11.2), on the block as it will be stored: a missing
/// `Min` is the group's count, a missing `Max` -1, a missing count the minimum.
fn scaling_errors(group: &Value) -> Vec<String> {
    let Some(scaling) = group.get("Scaling").filter(|s| s.is_object()) else {
        return Vec::new();
    };
    let given_min = scaling.get("Min").and_then(Value::as_i64);
    let count = group
        .get("Count")
        .and_then(Value::as_i64)
        .or(given_min)
        .unwrap_or(1);
    let min = given_min.unwrap_or(count);
    let max = scaling.get("Max").and_then(Value::as_i64).unwrap_or(-1);
    let mut errors = Vec::new();
    if max < 0 {
        errors.push("maximum count must be specified and non-negative");
    } else if max < min {
        errors.push("maximum count must not be less than minimum count");
    }
    if min < 0 {
        errors.push("minimum count must be specified and non-negative");
    }
    if max < count {
        errors.push("task group count must not be greater than maximum count in scaling policy");
    }
    if count < min {
        errors.push("task group count must not be less than minimum count in scaling policy");
    }
    errors
        .into_iter()
        .map(|e| format!("Scaling policy invalid: {e}"))
        .collect()
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
    /// Never starts: the task stays pending, downloading its image.
    Stuck,
    /// Runs until it is stopped, even in a batch job.
    Busy,
}

pub(super) fn meta_value<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get("Meta")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
}

pub fn behavior(job: &Value, group: &Value, task: &Value) -> Behavior {
    for level in [task, group, job] {
        if let Some(b) = meta_value(level, "fake_nomad_behavior") {
            return match b {
                "crash" => Behavior::Crash,
                "stuck" => Behavior::Stuck,
                "busy" => Behavior::Busy,
                _ => Behavior::Healthy,
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

pub fn log_rate(job: &Value, group: &Value, task: &Value) -> Option<u64> {
    [task, group, job]
        .into_iter()
        .find_map(|l| meta_value(l, "fake_nomad_log_lines_per_second"))
        .and_then(|v| v.parse().ok())
        .filter(|r| *r > 0)
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

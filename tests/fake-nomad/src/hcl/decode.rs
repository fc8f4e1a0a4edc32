//! How blocks map to Nomad's JSON: key names, durations, data blocks, constraints,
//! and the group, task and network blocks.

use serde_json::{Map, Value, json};

use super::ast::{Block, Body, Res};
use super::eval::Eval;

/// A Go duration text (`10s`, `1m30s`) as nanoseconds, the way Nomad's JSON holds them.
fn duration_ns(v: &Value) -> Value {
    match v.as_str().and_then(crate::api::go_duration) {
        Some(d) => json!(d.as_nanos() as i64),
        None => v.clone(),
    }
}

const DURATIONS: [&str; 10] = [
    "min_healthy_time",
    "healthy_deadline",
    "progress_deadline",
    "interval",
    "delay",
    "stagger",
    "kill_timeout",
    "timeout",
    "max_delay",
    "shutdown_delay",
];

pub(super) fn pascal(key: &str) -> String {
    match key {
        "cpu" => "CPU".into(),
        "memory" => "MemoryMB".into(),
        "memory_max" => "MemoryMaxMB".into(),
        "disk" => "DiskMB".into(),
        "size" => "SizeMB".into(),
        "id" => "ID".into(),
        _ => key
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            })
            .collect(),
    }
}

/// Attributes and nested blocks of a block as Nomad JSON, keys in PascalCase.
pub(super) fn structured(body: &Body, ev: &Eval, raw: &[&str]) -> Res<Map<String, Value>> {
    let mut m = Map::new();
    for (k, v) in &body.attrs {
        let mut value = ev.value(v)?;
        if DURATIONS.contains(&k.as_str()) {
            value = duration_ns(&value);
        }
        let key = pascal(k);
        m.insert(key, value);
    }
    for b in &body.blocks {
        if raw.contains(&b.kind.as_str()) {
            m.insert(pascal(&b.kind), Value::Object(flat(&b.body, ev)?));
        } else {
            m.insert(
                pascal(&b.kind),
                Value::Object(structured(&b.body, ev, raw)?),
            );
        }
    }
    Ok(m)
}

/// A block whose keys are data (config, env, meta): kept as written.
pub(super) fn flat(body: &Body, ev: &Eval) -> Res<Map<String, Value>> {
    let mut m = Map::new();
    for (k, v) in &body.attrs {
        m.insert(k.clone(), ev.value(v)?);
    }
    for b in &body.blocks {
        let inner = Value::Object(flat(&b.body, ev)?);
        match m.get_mut(&b.kind) {
            Some(Value::Array(a)) => a.push(inner),
            _ => {
                m.insert(b.kind.clone(), json!([inner]));
            }
        }
    }
    Ok(m)
}

const DATA_BLOCKS: [&str; 3] = ["config", "env", "meta"];

pub(super) fn data_attr(body: &Body, ev: &Eval, name: &str) -> Res<Option<Value>> {
    if let Some(b) = body.blocks.iter().find(|b| b.kind == name) {
        return Ok(Some(Value::Object(flat(&b.body, ev)?)));
    }
    match body.attrs.iter().find(|(k, _)| k == name) {
        Some((_, v)) => Ok(Some(ev.value(v)?)),
        None => Ok(None),
    }
}

pub(super) fn constraints(body: &Body, ev: &Eval, kind: &str) -> Res<Value> {
    let list: Vec<Value> = body
        .blocks
        .iter()
        .filter(|b| b.kind == kind)
        .map(|b| {
            let m = flat(&b.body, ev)?;
            Ok(json!({
                "LTarget": m.get("attribute").cloned().unwrap_or(json!("")),
                "RTarget": m.get("value").cloned().unwrap_or(json!("")),
                "Operand": m.get("operator").cloned().unwrap_or(json!("=")),
            }))
        })
        .collect::<Res<_>>()?;
    Ok(if list.is_empty() {
        Value::Null
    } else {
        json!(list)
    })
}

fn task(b: &Block, ev: &Eval) -> Res<Value> {
    let mut t = Map::new();
    t.insert(
        "Name".into(),
        json!(b.labels.first().cloned().unwrap_or_default()),
    );
    for (k, v) in &b.body.attrs {
        if DATA_BLOCKS.contains(&k.as_str()) {
            continue;
        }
        let mut value = ev.value(v)?;
        if DURATIONS.contains(&k.as_str()) {
            value = duration_ns(&value);
        }
        t.insert(pascal(k), value);
    }
    for name in DATA_BLOCKS {
        if let Some(v) = data_attr(&b.body, ev, name)? {
            t.insert(pascal(name), v);
        }
    }
    for inner in &b.body.blocks {
        match inner.kind.as_str() {
            "config" | "env" | "meta" | "constraint" | "affinity" => {}
            "service" => {
                let entry = Value::Object(structured(&inner.body, ev, &["meta"])?);
                if let Some(a) = t
                    .entry("Services")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    a.push(entry);
                }
            }
            other => {
                t.insert(
                    pascal(other),
                    Value::Object(structured(&inner.body, ev, &["meta"])?),
                );
            }
        }
    }
    t.insert(
        "Constraints".into(),
        constraints(&b.body, ev, "constraint")?,
    );
    Ok(Value::Object(t))
}

fn network(b: &Block, ev: &Eval) -> Res<Value> {
    let mut reserved = Vec::new();
    let mut dynamic = Vec::new();
    for port in b.body.blocks.iter().filter(|p| p.kind == "port") {
        let m = flat(&port.body, ev)?;
        let label = port.labels.first().cloned().unwrap_or_default();
        let to = m.get("to").and_then(Value::as_i64).unwrap_or(0);
        match m.get("static").and_then(Value::as_i64) {
            Some(value) => reserved
                .push(json!({"Label": label, "Value": value, "To": to, "HostNetwork": "default"})),
            None => dynamic
                .push(json!({"Label": label, "Value": 0, "To": to, "HostNetwork": "default"})),
        }
    }
    let m = flat(&b.body, ev)?;
    Ok(json!({
        "Mode": m.get("mode").cloned().unwrap_or(json!("host")),
        "ReservedPorts": if reserved.is_empty() { Value::Null } else { json!(reserved) },
        "DynamicPorts": if dynamic.is_empty() { Value::Null } else { json!(dynamic) },
    }))
}

pub(super) fn group(b: &Block, ev: &Eval) -> Res<Value> {
    let mut g = Map::new();
    g.insert(
        "Name".into(),
        json!(b.labels.first().cloned().unwrap_or_default()),
    );
    for (k, v) in &b.body.attrs {
        if k == "meta" {
            continue;
        }
        g.insert(pascal(k), ev.value(v)?);
    }
    if let Some(meta) = data_attr(&b.body, ev, "meta")? {
        g.insert("Meta".into(), meta);
    }
    let mut tasks = Vec::new();
    let mut networks = Vec::new();
    for inner in &b.body.blocks {
        match inner.kind.as_str() {
            "task" => tasks.push(task(inner, ev)?),
            "network" => networks.push(network(inner, ev)?),
            "meta" | "constraint" | "affinity" => {}
            "restart" => {
                g.insert(
                    "RestartPolicy".into(),
                    Value::Object(structured(&inner.body, ev, &[])?),
                );
            }
            "reschedule" => {
                g.insert(
                    "ReschedulePolicy".into(),
                    Value::Object(structured(&inner.body, ev, &[])?),
                );
            }
            "ephemeral_disk" => {
                g.insert(
                    "EphemeralDisk".into(),
                    Value::Object(structured(&inner.body, ev, &[])?),
                );
            }
            "service" => {
                let entry = Value::Object(structured(&inner.body, ev, &["meta"])?);
                if let Some(a) = g
                    .entry("Services")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    a.push(entry);
                }
            }
            other => {
                g.insert(
                    pascal(other),
                    Value::Object(structured(&inner.body, ev, &["meta"])?),
                );
            }
        }
    }
    g.insert("Tasks".into(), json!(tasks));
    if !networks.is_empty() {
        g.insert("Networks".into(), json!(networks));
    }
    g.insert(
        "Constraints".into(),
        constraints(&b.body, ev, "constraint")?,
    );
    Ok(Value::Object(g))
}

//! How blocks map to Nomad's JSON: key names, durations, data blocks, constraints,
//! and the group, task and network blocks.

use serde_json::{Map, Value, json};

use super::ast::{Block, Body, Res};
use super::blocks;
use super::eval::Eval;

/// Attributes whose values are Go durations: text such as `10s` becomes nanoseconds.
const DURATIONS: [&str; 19] = [
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
    "splay",
    "vault_grace",
    "ttl",
    "grace",
    "max_run_duration",
    "max_client_disconnect",
    "stop_after_client_disconnect",
    "lost_after",
    "stop_on_client_after",
];

/// An attribute's value, with a duration text turned into nanoseconds.
fn attr_value(body: &Body, ev: &Eval, key: &str, value: &super::ast::Expr) -> Res<Value> {
    let v = ev.value(value)?;
    if DURATIONS.contains(&key) {
        blocks::duration(&v, body.attr_pos(key))
    } else {
        Ok(v)
    }
}

/// The JSON name of an HCL attribute or block where it is not its PascalCase form.
pub(super) fn pascal(key: &str) -> String {
    match key {
        "cpu" => "CPU".into(),
        "memory" => "MemoryMB".into(),
        "memory_max" => "MemoryMaxMB".into(),
        "disk" => "DiskMB".into(),
        "size" => "SizeMB".into(),
        "secrets" => "SecretsMB".into(),
        "id" => "ID".into(),
        "iops" => "IOPS".into(),
        "mbits" => "MBits".into(),
        "cidr" => "CIDR".into(),
        "ip" => "IP".into(),
        "dns" => "DNS".into(),
        "numa" => "NUMA".into(),
        "ttl" => "TTL".into(),
        "max_file_size" => "MaxFileSizeMB".into(),
        "selinux_label" => "SELinuxLabel".into(),
        "csi_plugin" => "CSIPluginConfig".into(),
        "logs" => "LogConfig".into(),
        "restart" => "RestartPolicy".into(),
        "reschedule" => "ReschedulePolicy".into(),
        "dispatch_payload" => "DispatchPayload".into(),
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
        m.insert(pascal(k), attr_value(body, ev, k, v)?);
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
    let value = if let Some(b) = body.blocks.iter().find(|b| b.kind == name) {
        Value::Object(flat(&b.body, ev)?)
    } else {
        match body.attrs.iter().find(|(k, _)| k == name) {
            Some((_, v)) => ev.value(v)?,
            None => return Ok(None),
        }
    };
    Ok(Some(match (name, value) {
        // `env` and `meta` are `map[string]string` in Nomad: numbers and booleans
        // become their text, as HCL converts them.
        ("env" | "meta", Value::Object(m)) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::Number(n) => Value::String(n.to_string()),
                        Value::Bool(b) => Value::String(b.to_string()),
                        other => other,
                    };
                    (k, v)
                })
                .collect(),
        ),
        (_, other) => other,
    }))
}

/// The shortcut attributes of a `constraint` block: each sets the operand to its own
/// name and its value as the right target (`distinct_property` as the left one).
const CONSTRAINT_SHORTCUTS: [&str; 9] = [
    "version",
    "semver",
    "regexp",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "attribute_is_set",
    "attribute_is_not_set",
    "distinct_property",
];

/// A value as the text Nomad keeps in a constraint's targets.
fn target_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The `constraint` (or `affinity`) blocks of a body as Nomad's `Constraint` objects,
/// with jobspec2's shortcuts (`distinct_hosts = true`, `version = ">= 1.2"`...).
pub(super) fn constraints(body: &Body, ev: &Eval, kind: &str) -> Res<Value> {
    let list: Vec<Value> = body
        .blocks
        .iter()
        .filter(|b| b.kind == kind)
        .map(|b| {
            let m = flat(&b.body, ev)?;
            let mut ltarget = target_text(m.get("attribute"));
            let mut rtarget = target_text(m.get("value"));
            let mut operand = target_text(m.get("operator"));
            for shortcut in CONSTRAINT_SHORTCUTS {
                let value = target_text(m.get(shortcut));
                if value.is_empty() {
                    continue;
                }
                operand = shortcut.to_string();
                if shortcut == "distinct_property" {
                    ltarget = value;
                } else {
                    rtarget = value;
                }
            }
            if let Some(d) = m.get("distinct_hosts").filter(|v| !v.is_null()) {
                operand = "distinct_hosts".into();
                rtarget = target_text(Some(d));
            }
            if operand.is_empty() {
                operand = "=".into();
            }
            Ok(json!({"LTarget": ltarget, "RTarget": rtarget, "Operand": operand}))
        })
        .collect::<Res<_>>()?;
    Ok(if list.is_empty() {
        Value::Null
    } else {
        json!(list)
    })
}

/// Appends `entry` to the array under `key`, creating it.
fn push(m: &mut Map<String, Value>, key: &str, entry: Value) {
    if let Some(a) = m.entry(key).or_insert_with(|| json!([])).as_array_mut() {
        a.push(entry);
    }
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
        t.insert(pascal(k), attr_value(&b.body, ev, k, v)?);
    }
    for name in DATA_BLOCKS {
        if let Some(v) = data_attr(&b.body, ev, name)? {
            t.insert(pascal(name), v);
        }
    }
    for inner in &b.body.blocks {
        match inner.kind.as_str() {
            "config" | "env" | "meta" | "constraint" | "affinity" | "identity" => {}
            "service" => push(&mut t, "Services", blocks::service(inner, ev)?),
            "template" => push(&mut t, "Templates", blocks::template(inner, ev)?),
            "volume_mount" => push(
                &mut t,
                "VolumeMounts",
                Value::Object(structured(&inner.body, ev, &[])?),
            ),
            "artifact" => push(&mut t, "Artifacts", blocks::artifact(inner, ev)?),
            other => {
                t.insert(
                    pascal(other),
                    Value::Object(structured(&inner.body, ev, &["meta"])?),
                );
            }
        }
    }
    let (identity, identities) = blocks::identities(&b.body, ev)?;
    if !identity.is_null() {
        t.insert("Identity".into(), identity);
    }
    if !identities.is_null() {
        t.insert("Identities".into(), identities);
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
        g.insert(pascal(k), attr_value(&b.body, ev, k, v)?);
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
            "service" => push(&mut g, "Services", blocks::service(inner, ev)?),
            // The autoscaler's `policy` is opaque to Nomad: its keys stay as written.
            "scaling" => {
                g.insert(
                    "Scaling".into(),
                    Value::Object(structured(&inner.body, ev, &["policy"])?),
                );
            }
            "volume" => {
                let name = inner.labels.first().cloned().unwrap_or_default();
                let mut volume = structured(&inner.body, ev, &[])?;
                volume.insert("Name".into(), json!(name));
                g.entry("Volumes").or_insert_with(|| json!({}));
                if let Some(volumes) = g.get_mut("Volumes").and_then(Value::as_object_mut) {
                    volumes.insert(name, Value::Object(volume));
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

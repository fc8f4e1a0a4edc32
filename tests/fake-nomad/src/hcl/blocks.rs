//! Blocks whose schema the fake knows field by field, decoded the way jobspec2 decodes
//! them into Nomad's `api` structs and printed the way those structs marshal: every
//! field of a plain struct present with its zero value (`Service`, `ServiceCheck`,
//! `WorkloadIdentity`), every pointer field of `Template` present and `null` unless set.
//! Values convert to the field's Go type (a number for a string field becomes text,
//! a duration text becomes nanoseconds); an argument or block the struct does not have
//! is an error, as in Nomad.

use serde_json::{Map, Value, json};

use super::ast::{Block, Body, Res, diag};
use super::eval::Eval;
use super::types::Type;

/// How a field's value is read.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Str,
    Int,
    Bool,
    Duration,
    Strings,
}

/// A field: its name in HCL, its name in Nomad's JSON, and its kind.
pub(super) type Field = (&'static str, &'static str, Kind);

/// A Go duration text (`10s`, `1m30s`) or a number of nanoseconds.
pub(super) fn duration(v: &Value, at: (usize, usize)) -> Res<Value> {
    match v {
        Value::Number(_) | Value::Null => Ok(v.clone()),
        Value::String(s) => match crate::api::go_duration(s) {
            Some(d) => Ok(json!(d.as_nanos() as i64)),
            None => Err(diag(
                at,
                1,
                "Unsuitable value type",
                &format!("Unsuitable duration value: time: invalid duration {s:?}"),
            )),
        },
        _ => Err(diag(
            at,
            1,
            "Unsuitable value type",
            "Unsuitable value: expected a string but found another type",
        )),
    }
}

fn convert(kind: Kind, v: &Value, at: (usize, usize)) -> Res<Value> {
    let as_type = |t: Type| {
        t.convert(v).map_err(|reason| {
            diag(
                at,
                1,
                "Unsuitable value type",
                &format!("Unsuitable value: {reason}"),
            )
        })
    };
    match kind {
        Kind::Str => as_type(Type::String),
        Kind::Int => as_type(Type::Number),
        Kind::Bool => as_type(Type::Bool),
        Kind::Strings => as_type(Type::List(Box::new(Type::String))),
        Kind::Duration => duration(v, at),
    }
}

/// The attributes of `body` by their JSON names, refusing names not in `schema` and
/// nested blocks not in `nested`.
pub(super) fn fields(
    body: &Body,
    ev: &Eval,
    schema: &[Field],
    nested: &[&str],
) -> Res<Map<String, Value>> {
    let mut m = Map::new();
    for (k, v) in &body.attrs {
        let at = body.attr_pos(k);
        let Some((_, name, kind)) = schema.iter().find(|(h, ..)| h == k) else {
            return Err(diag(
                at,
                k.len(),
                "Unsupported argument",
                &format!("An argument named {k:?} is not expected here."),
            ));
        };
        m.insert((*name).into(), convert(*kind, &ev.value(v)?, at)?);
    }
    for b in &body.blocks {
        if !nested.contains(&b.kind.as_str()) {
            return Err(unsupported_block(b));
        }
    }
    Ok(m)
}

pub(super) fn unsupported_block(b: &Block) -> String {
    diag(
        b.at,
        b.kind.len(),
        "Unsupported block type",
        &format!("Blocks of type {:?} are not expected here.", b.kind),
    )
}

/// The one nested block of this kind, if any (a second one is an error).
fn single<'b>(body: &'b Body, kind: &str) -> Res<Option<&'b Block>> {
    let mut found = body.blocks.iter().filter(|b| b.kind == kind);
    let first = found.next();
    if let Some(second) = found.next() {
        return Err(diag(
            second.at,
            kind.len(),
            "Duplicate block",
            &format!("Only one {kind:?} block is allowed here."),
        ));
    }
    Ok(first)
}

fn overlay(mut base: Value, set: Map<String, Value>) -> Value {
    if let Value::Object(o) = &mut base {
        o.extend(set);
    }
    base
}

/// A `map[string][]string` block (a check's `header`): each attribute a list of strings.
fn string_lists(b: &Block, ev: &Eval) -> Res<Value> {
    let mut m = Map::new();
    for (k, v) in &b.body.attrs {
        let at = b.body.attr_pos(k);
        m.insert(k.clone(), convert(Kind::Strings, &ev.value(v)?, at)?);
    }
    if let Some(inner) = b.body.blocks.first() {
        return Err(unsupported_block(inner));
    }
    Ok(Value::Object(m))
}

/// A `map[string]string` block (`meta`, `canary_meta`, `tagged_addresses`).
fn string_map(b: &Block, ev: &Eval) -> Res<Value> {
    let mut m = Map::new();
    for (k, v) in &b.body.attrs {
        let at = b.body.attr_pos(k);
        m.insert(k.clone(), convert(Kind::Str, &ev.value(v)?, at)?);
    }
    if let Some(inner) = b.body.blocks.first() {
        return Err(unsupported_block(inner));
    }
    Ok(Value::Object(m))
}

const CHECK_RESTART: &[Field] = &[
    ("limit", "Limit", Kind::Int),
    ("grace", "Grace", Kind::Duration),
    ("ignore_warnings", "IgnoreWarnings", Kind::Bool),
];

fn check_restart(body: &Body, ev: &Eval) -> Res<Value> {
    match single(body, "check_restart")? {
        None => Ok(Value::Null),
        Some(b) => Ok(overlay(
            json!({"Limit": 0, "Grace": null, "IgnoreWarnings": false}),
            fields(&b.body, ev, CHECK_RESTART, &[])?,
        )),
    }
}

const CHECK: &[Field] = &[
    ("name", "Name", Kind::Str),
    ("type", "Type", Kind::Str),
    ("command", "Command", Kind::Str),
    ("args", "Args", Kind::Strings),
    ("path", "Path", Kind::Str),
    ("protocol", "Protocol", Kind::Str),
    ("port", "PortLabel", Kind::Str),
    ("expose", "Expose", Kind::Bool),
    ("address_mode", "AddressMode", Kind::Str),
    ("advertise", "Advertise", Kind::Str),
    ("interval", "Interval", Kind::Duration),
    ("timeout", "Timeout", Kind::Duration),
    ("initial_status", "InitialStatus", Kind::Str),
    ("notes", "Notes", Kind::Str),
    ("tls_server_name", "TLSServerName", Kind::Str),
    ("tls_skip_verify", "TLSSkipVerify", Kind::Bool),
    ("method", "Method", Kind::Str),
    ("grpc_service", "GRPCService", Kind::Str),
    ("grpc_use_tls", "GRPCUseTLS", Kind::Bool),
    ("task", "TaskName", Kind::Str),
    ("success_before_passing", "SuccessBeforePassing", Kind::Int),
    (
        "failures_before_critical",
        "FailuresBeforeCritical",
        Kind::Int,
    ),
    (
        "failures_before_warning",
        "FailuresBeforeWarning",
        Kind::Int,
    ),
    ("body", "Body", Kind::Str),
    ("on_update", "OnUpdate", Kind::Str),
];

/// A `check` block as `api.ServiceCheck`.
fn check(b: &Block, ev: &Eval) -> Res<Value> {
    let mut set = fields(&b.body, ev, CHECK, &["header", "check_restart"])?;
    if let Some(h) = single(&b.body, "header")? {
        set.insert("Header".into(), string_lists(h, ev)?);
    }
    set.insert("CheckRestart".into(), check_restart(&b.body, ev)?);
    Ok(overlay(
        json!({
            "Name": "", "Type": "", "Command": "", "Args": null, "Path": "", "Protocol": "",
            "PortLabel": "", "Expose": false, "AddressMode": "", "Advertise": "",
            "Interval": 0, "Timeout": 0, "InitialStatus": "", "Notes": "",
            "TLSServerName": "", "TLSSkipVerify": false, "Header": null, "Method": "",
            "CheckRestart": null, "GRPCService": "", "GRPCUseTLS": false, "TaskName": "",
            "SuccessBeforePassing": 0, "FailuresBeforeCritical": 0,
            "FailuresBeforeWarning": 0, "Body": "", "OnUpdate": ""
        }),
        set,
    ))
}

const SERVICE: &[Field] = &[
    ("name", "Name", Kind::Str),
    ("tags", "Tags", Kind::Strings),
    ("canary_tags", "CanaryTags", Kind::Strings),
    ("enable_tag_override", "EnableTagOverride", Kind::Bool),
    ("port", "PortLabel", Kind::Str),
    ("address_mode", "AddressMode", Kind::Str),
    ("address", "Address", Kind::Str),
    ("task", "TaskName", Kind::Str),
    ("on_update", "OnUpdate", Kind::Str),
    ("provider", "Provider", Kind::Str),
    ("cluster", "Cluster", Kind::Str),
    ("kind", "Kind", Kind::Str),
];

/// A `service` block (group or task) as `api.Service`, its `check` blocks in `Checks`.
pub(super) fn service(b: &Block, ev: &Eval) -> Res<Value> {
    let nested = [
        "check",
        "check_restart",
        "connect",
        "meta",
        "canary_meta",
        "tagged_addresses",
        "identity",
        "weights",
    ];
    let mut set = fields(&b.body, ev, SERVICE, &nested)?;
    let checks: Vec<Value> = b
        .body
        .blocks
        .iter()
        .filter(|c| c.kind == "check")
        .map(|c| check(c, ev))
        .collect::<Res<_>>()?;
    if !checks.is_empty() {
        set.insert("Checks".into(), json!(checks));
    }
    set.insert("CheckRestart".into(), check_restart(&b.body, ev)?);
    for (kind, key) in [
        ("meta", "Meta"),
        ("canary_meta", "CanaryMeta"),
        ("tagged_addresses", "TaggedAddresses"),
    ] {
        if let Some(m) = single(&b.body, kind)? {
            set.insert(key.into(), string_map(m, ev)?);
        }
    }
    if let Some(c) = single(&b.body, "connect")? {
        set.insert(
            "Connect".into(),
            Value::Object(super::decode::structured(&c.body, ev, &["meta", "config"])?),
        );
    }
    if let Some(i) = single(&b.body, "identity")? {
        set.insert("Identity".into(), identity(i, ev)?);
    }
    if let Some(w) = single(&b.body, "weights")? {
        set.insert(
            "Weights".into(),
            overlay(
                json!({"Passing": 0, "Warning": 0}),
                fields(
                    &w.body,
                    ev,
                    &[
                        ("passing", "Passing", Kind::Int),
                        ("warning", "Warning", Kind::Int),
                    ],
                    &[],
                )?,
            ),
        );
    }
    Ok(overlay(
        json!({
            "Name": "", "Tags": null, "CanaryTags": null, "EnableTagOverride": false,
            "PortLabel": "", "AddressMode": "", "Address": "", "Checks": null,
            "CheckRestart": null, "Connect": null, "Meta": null, "CanaryMeta": null,
            "TaggedAddresses": null, "TaskName": "", "OnUpdate": "", "Identity": null,
            "Weights": null, "Provider": "", "Cluster": "", "Kind": ""
        }),
        set,
    ))
}

const IDENTITY: &[Field] = &[
    ("name", "Name", Kind::Str),
    ("aud", "Audience", Kind::Strings),
    ("change_mode", "ChangeMode", Kind::Str),
    ("change_signal", "ChangeSignal", Kind::Str),
    ("env", "Env", Kind::Bool),
    ("file", "File", Kind::Bool),
    ("filepath", "Filepath", Kind::Str),
    ("service_name", "ServiceName", Kind::Str),
    ("ttl", "TTL", Kind::Duration),
    ("extra_claims", "ExtraClaims", Kind::Strings),
];

/// An `identity` block as `api.WorkloadIdentity`.
pub(super) fn identity(b: &Block, ev: &Eval) -> Res<Value> {
    Ok(overlay(
        json!({
            "Name": "", "Audience": null, "ChangeMode": "", "ChangeSignal": "", "Env": false,
            "File": false, "Filepath": "", "ServiceName": "", "TTL": 0, "ExtraClaims": null
        }),
        fields(&b.body, ev, IDENTITY, &[])?,
    ))
}

const TEMPLATE: &[Field] = &[
    ("source", "SourcePath", Kind::Str),
    ("destination", "DestPath", Kind::Str),
    ("data", "EmbeddedTmpl", Kind::Str),
    ("change_mode", "ChangeMode", Kind::Str),
    ("change_signal", "ChangeSignal", Kind::Str),
    ("once", "Once", Kind::Bool),
    ("splay", "Splay", Kind::Duration),
    ("perms", "Perms", Kind::Str),
    ("uid", "Uid", Kind::Int),
    ("gid", "Gid", Kind::Int),
    ("left_delimiter", "LeftDelim", Kind::Str),
    ("right_delimiter", "RightDelim", Kind::Str),
    ("env", "Envvars", Kind::Bool),
    ("vault_grace", "VaultGrace", Kind::Duration),
    ("error_on_missing_key", "ErrMissingKey", Kind::Bool),
];

const CHANGE_SCRIPT: &[Field] = &[
    ("command", "Command", Kind::Str),
    ("args", "Args", Kind::Strings),
    ("timeout", "Timeout", Kind::Duration),
    ("fail_on_error", "FailOnError", Kind::Bool),
    ("run_on_first_render", "RunOnFirstRender", Kind::Bool),
];

/// A `template` block as `api.Template`, with the defaults jobspec2's
/// `normalizeTemplates` fills (change mode `restart`, perms `0644`, splay 5 s, no
/// error on a missing key).
pub(super) fn template(b: &Block, ev: &Eval) -> Res<Value> {
    let mut set = fields(&b.body, ev, TEMPLATE, &["change_script", "wait"])?;
    if let Some(cs) = single(&b.body, "change_script")? {
        let mut script = overlay(
            json!({"Command": null, "Args": null, "Timeout": null, "FailOnError": null,
                   "RunOnFirstRender": null}),
            fields(&cs.body, ev, CHANGE_SCRIPT, &[])?,
        );
        for (key, default) in [
            ("Args", json!([])),
            ("Timeout", json!(5_000_000_000i64)),
            ("FailOnError", json!(false)),
            ("RunOnFirstRender", json!(false)),
        ] {
            if script[key].is_null() {
                script[key] = default;
            }
        }
        set.insert("ChangeScript".into(), script);
    }
    if let Some(w) = single(&b.body, "wait")? {
        set.insert(
            "Wait".into(),
            overlay(
                json!({"Min": null, "Max": null}),
                fields(
                    &w.body,
                    ev,
                    &[
                        ("min", "Min", Kind::Duration),
                        ("max", "Max", Kind::Duration),
                    ],
                    &[],
                )?,
            ),
        );
    }
    let mut t = overlay(
        json!({
            "SourcePath": null, "DestPath": null, "EmbeddedTmpl": null, "ChangeMode": null,
            "ChangeScript": null, "ChangeSignal": null, "Once": null, "Splay": null,
            "Perms": null, "Uid": null, "Gid": null, "LeftDelim": null, "RightDelim": null,
            "Envvars": null, "VaultGrace": null, "Wait": null, "ErrMissingKey": null
        }),
        set,
    );
    for (key, default) in [
        ("ChangeMode", json!("restart")),
        ("Perms", json!("0644")),
        ("Splay", json!(5_000_000_000i64)),
        ("ErrMissingKey", json!(false)),
    ] {
        if t[key].is_null() {
            t[key] = default;
        }
    }
    Ok(t)
}

const ARTIFACT: &[Field] = &[
    ("source", "GetterSource", Kind::Str),
    ("mode", "GetterMode", Kind::Str),
    ("insecure", "GetterInsecure", Kind::Bool),
    ("destination", "RelativeDest", Kind::Str),
    ("chown", "Chown", Kind::Bool),
];

/// An `artifact` block as `api.TaskArtifact`.
pub(super) fn artifact(b: &Block, ev: &Eval) -> Res<Value> {
    let mut set = fields(&b.body, ev, ARTIFACT, &["options", "headers"])?;
    for (kind, key) in [("options", "GetterOptions"), ("headers", "GetterHeaders")] {
        if let Some(m) = single(&b.body, kind)? {
            set.insert(key.into(), string_map(m, ev)?);
        }
    }
    Ok(overlay(
        json!({
            "GetterSource": null, "GetterOptions": null, "GetterHeaders": null,
            "GetterMode": null, "GetterInsecure": null, "RelativeDest": null, "Chown": false
        }),
        set,
    ))
}

/// The `identity` blocks of a task: the default one (no name, or `default`) in
/// `Identity`, the others in `Identities`, as jobspec2 leaves them for older agents.
pub(super) fn identities(body: &Body, ev: &Eval) -> Res<(Value, Value)> {
    let mut default = Value::Null;
    let mut named = Vec::new();
    for b in body.blocks.iter().filter(|b| b.kind == "identity") {
        let id = identity(b, ev)?;
        let name = id["Name"].as_str().unwrap_or("");
        if default.is_null() && (name.is_empty() || name == "default") {
            default = id;
        } else {
            named.push(id);
        }
    }
    let named = if named.is_empty() {
        Value::Null
    } else {
        json!(named)
    };
    Ok((default, named))
}

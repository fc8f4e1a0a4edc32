//! The task's `identity`, `template` and `artifact` blocks, decoded as jobspec2 decodes them.

use serde_json::{Value, json};

use super::*;

pub(super) const IDENTITY: &[Field] = &[
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
pub(in crate::hcl) fn identity(b: &Block, ev: &Eval) -> Res<Value> {
    Ok(overlay(
        json!({
            "Name": "", "Audience": null, "ChangeMode": "", "ChangeSignal": "", "Env": false,
            "File": false, "Filepath": "", "ServiceName": "", "TTL": 0, "ExtraClaims": null
        }),
        fields(&b.body, ev, IDENTITY, &[])?,
    ))
}

pub(super) const TEMPLATE: &[Field] = &[
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

pub(super) const CHANGE_SCRIPT: &[Field] = &[
    ("command", "Command", Kind::Str),
    ("args", "Args", Kind::Strings),
    ("timeout", "Timeout", Kind::Duration),
    ("fail_on_error", "FailOnError", Kind::Bool),
    ("run_on_first_render", "RunOnFirstRender", Kind::Bool),
];

/// A `template` block as `api.Template`, with the defaults jobspec2's
/// `normalizeTemplates` fills (change mode `restart`, perms `0644`, splay 5 s, no
/// error on a missing key).
pub(in crate::hcl) fn template(b: &Block, ev: &Eval) -> Res<Value> {
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

pub(super) const ARTIFACT: &[Field] = &[
    ("source", "GetterSource", Kind::Str),
    ("mode", "GetterMode", Kind::Str),
    ("insecure", "GetterInsecure", Kind::Bool),
    ("destination", "RelativeDest", Kind::Str),
    ("chown", "Chown", Kind::Bool),
];

/// An `artifact` block as `api.TaskArtifact`.
pub(in crate::hcl) fn artifact(b: &Block, ev: &Eval) -> Res<Value> {
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
pub(in crate::hcl) fn identities(body: &Body, ev: &Eval) -> Res<(Value, Value)> {
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

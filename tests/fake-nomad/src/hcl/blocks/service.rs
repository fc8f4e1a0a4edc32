//! The `service` and `check` blocks, decoded as jobspec2 decodes them into `api.Service`.

use serde_json::{Value, json};

use super::*;

pub(super) const CHECK_RESTART: &[Field] = &[
    ("limit", "Limit", Kind::Int),
    ("grace", "Grace", Kind::Duration),
    ("ignore_warnings", "IgnoreWarnings", Kind::Bool),
];

pub(super) fn check_restart(body: &Body, ev: &Eval) -> Res<Value> {
    match single(body, "check_restart")? {
        None => Ok(Value::Null),
        Some(b) => Ok(overlay(
            json!({"Limit": 0, "Grace": null, "IgnoreWarnings": false}),
            fields(&b.body, ev, CHECK_RESTART, &[])?,
        )),
    }
}

pub(super) const CHECK: &[Field] = &[
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
pub(super) fn check(b: &Block, ev: &Eval) -> Res<Value> {
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

pub(super) const SERVICE: &[Field] = &[
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
pub(in crate::hcl) fn service(b: &Block, ev: &Eval) -> Res<Value> {
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
            Value::Object(crate::hcl::decode::structured(
                &c.body,
                ev,
                &["meta", "config"],
            )?),
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

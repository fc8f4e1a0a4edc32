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

mod service;
mod task;

pub(super) use service::service;
pub(super) use task::{artifact, identities, identity, template};

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

pub(super) fn convert(kind: Kind, v: &Value, at: (usize, usize)) -> Res<Value> {
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
pub(super) fn single<'b>(body: &'b Body, kind: &str) -> Res<Option<&'b Block>> {
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

pub(super) fn overlay(mut base: Value, set: Map<String, Value>) -> Value {
    if let Value::Object(o) = &mut base {
        o.extend(set);
    }
    base
}

/// A `map[string][]string` block (a check's `header`): each attribute a list of strings.
pub(super) fn string_lists(b: &Block, ev: &Eval) -> Res<Value> {
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
pub(super) fn string_map(b: &Block, ev: &Eval) -> Res<Value> {
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

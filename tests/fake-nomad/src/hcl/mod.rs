//! Enough HCL2 to stand in for `/v1/jobs/parse`: blocks, attributes, strings and
//! heredocs with `${var.x}` interpolation, numbers, booleans, `null`, lists, objects,
//! comments, `variable` blocks with types, defaults and descriptions, and a variables
//! file. The job blocks map to Nomad's JSON the way Nomad's jobspec2 decoder names them.
//! Errors read like HCL's diagnostics.
//!
//! This file holds the entry point, [`parse_job`], the variables and the job block itself.

mod ast;
mod blocks;
mod decode;
mod eval;
#[cfg(test)]
mod jobspec2_tests;
mod lexer;
mod parser;
mod types;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use ast::{Block, Body, Expr, Res, diag};
use decode::{constraints, data_attr, flat, group, pascal, structured};
use eval::Eval;
use lexer::Parser;
use types::Type;

/// The declared variables: each one's type constraint and default, in the order of
/// the file.
fn declared(body: &Body) -> Res<Vec<(String, Type, Option<Value>)>> {
    let empty = BTreeMap::new();
    let plain = Eval { vars: &empty };
    let mut out: Vec<(String, Type, Option<Value>)> = Vec::new();
    for b in body.blocks.iter().filter(|b| b.kind == "variable") {
        let [name] = b.labels.as_slice() else {
            return Err(diag(
                b.at,
                b.kind.len(),
                "Missing name for variable",
                "All variable blocks must have 1 labels (name).",
            ));
        };
        if out.iter().any(|(n, ..)| n == name) {
            return Err(diag(
                b.at,
                b.kind.len(),
                "Duplicate variable",
                &format!("Duplicate {name} variable definition found."),
            ));
        }
        for (k, _) in &b.body.attrs {
            if !["description", "default", "type"].contains(&k.as_str()) {
                return Err(diag(
                    b.body.attr_pos(k),
                    k.len(),
                    "Unsupported argument",
                    &format!("An argument named {k:?} is not expected here."),
                ));
            }
        }
        let attr = |key: &str| b.body.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        if let Some(description) = attr("description") {
            plain.value(description)?;
        }
        let declared_type = attr("type").map(Type::parse).transpose()?;
        let default = match attr("default") {
            None => None,
            Some(e) => {
                let value = plain.value(e)?;
                Some(match &declared_type {
                    Some(t) => t.convert(&value).map_err(|reason| {
                        diag(
                            b.body.attr_pos("default"),
                            "default".len(),
                            "Invalid default value for variable",
                            &format!("This default value is not compatible with the variable's type constraint: {reason}."),
                        )
                    })?,
                    None => value,
                })
            }
        };
        let constraint = match (declared_type, &default) {
            (Some(t), _) => t,
            (None, Some(d)) => Type::of(d),
            (None, None) => Type::Any,
        };
        out.push((name.clone(), constraint, default));
    }
    Ok(out)
}

/// The position an expression starts at, where it has one.
fn expr_at(e: &Expr) -> Option<(usize, usize)> {
    match e {
        Expr::Str(_, l, c) | Expr::Var(_, l, c) | Expr::Ident(_, l, c) | Expr::Call(_, _, l, c) => {
            Some((*l, *c))
        }
        _ => None,
    }
}

/// Parses a jobspec into Nomad's JSON job. `variables_file` is HCL `name = value` lines.
pub fn parse_job(src: &str, variables_file: &str) -> Res<Value> {
    let mut parser = Parser {
        src: src.as_bytes(),
        pos: 0,
    };
    let body = parser.body(false)?;
    let declared = declared(&body)?;
    let mut vars: BTreeMap<String, Value> = BTreeMap::new();
    for (name, _, default) in &declared {
        if let Some(default) = default {
            vars.insert(name.clone(), default.clone());
        }
    }
    // Nomad parses the variables under the same file name as the job (`input.hcl`).
    let mut var_parser = Parser {
        src: variables_file.as_bytes(),
        pos: 0,
    };
    let var_body = var_parser
        .body(false)
        .map_err(|e| format!("unable to parse var content: {e}"))?;
    let empty = BTreeMap::new();
    let plain = Eval { vars: &empty };
    for (i, (k, v)) in var_body.attrs.iter().enumerate() {
        let value = plain.value(v)?;
        // A value for an undeclared variable is only a warning in Nomad: it is dropped.
        let Some((_, constraint, _)) = declared.iter().find(|(n, ..)| n == k) else {
            continue;
        };
        let value = constraint.convert(&value).map_err(|reason| {
            diag(
                expr_at(v).unwrap_or_else(|| var_body.attr_at.get(i).copied().unwrap_or((1, 1))),
                1,
                "Invalid value for variable",
                &format!("The value for {k} is not compatible with the variable's type constraint: {reason}."),
            )
        })?;
        vars.insert(k.clone(), value);
    }
    for (name, ..) in &declared {
        if !vars.contains_key(name) {
            return Err(format!(
                "input.hcl: Unset variable {name:?}; A used variable must be set or have a default value; see https://developer.hashicorp.com/nomad/docs/job-specification/hcl2/variables for details."
            ));
        }
    }
    let ev = Eval { vars: &vars };
    let jobs: Vec<&Block> = body.blocks.iter().filter(|b| b.kind == "job").collect();
    let [job] = jobs.as_slice() else {
        return Err(format!(
            "input.hcl: {} job blocks; exactly one job block is required",
            if jobs.is_empty() {
                "No".to_string()
            } else {
                jobs.len().to_string()
            }
        ));
    };
    let Some(id) = job.labels.first() else {
        return Err(
            "input.hcl: Missing name for job; All job blocks must have 1 labels (name).".into(),
        );
    };
    let mut j = Map::new();
    j.insert("ID".into(), json!(id));
    j.insert("Name".into(), json!(id));
    for (k, v) in &job.body.attrs {
        if k == "meta" {
            continue;
        }
        j.insert(pascal(k), ev.value(v)?);
    }
    if let Some(meta) = data_attr(&job.body, &ev, "meta")? {
        j.insert("Meta".into(), meta);
    }
    let mut groups = Vec::new();
    for inner in &job.body.blocks {
        match inner.kind.as_str() {
            "group" => groups.push(group(inner, &ev)?),
            "meta" | "constraint" | "affinity" => {}
            "parameterized" => {
                let m = flat(&inner.body, &ev)?;
                j.insert(
                    "ParameterizedJob".into(),
                    json!({
                        "Payload": m.get("payload").cloned().unwrap_or(json!("optional")),
                        "MetaRequired": m.get("meta_required").cloned().unwrap_or(Value::Null),
                        "MetaOptional": m.get("meta_optional").cloned().unwrap_or(Value::Null),
                    }),
                );
            }
            "periodic" => {
                let m = flat(&inner.body, &ev)?;
                j.insert(
                    "Periodic".into(),
                    json!({
                        "Enabled": m.get("enabled").cloned().unwrap_or(json!(true)),
                        "Spec": m.get("crons").and_then(|c| c.get(0)).or(m.get("cron")).cloned().unwrap_or(json!("")),
                        "SpecType": "cron",
                        "ProhibitOverlap": m.get("prohibit_overlap").cloned().unwrap_or(json!(false)),
                        "TimeZone": m.get("time_zone").cloned().unwrap_or(json!("UTC")),
                    }),
                );
            }
            other => {
                j.insert(
                    pascal(other),
                    Value::Object(structured(&inner.body, &ev, &["meta"])?),
                );
            }
        }
    }
    j.insert("TaskGroups".into(), json!(groups));
    j.insert(
        "Constraints".into(),
        constraints(&job.body, &ev, "constraint")?,
    );
    Ok(Value::Object(j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_job_parses() {
        let src = r#"
# a comment
variable "image" { default = "redis:7" }
job "example" {
  datacenters = ["dc1"]
  group "cache" {
    count = 2
    network {
      port "db" { to = 6379 }
    }
    task "redis" {
      driver = "docker"
      config {
        image = "${var.image}"
        ports = ["db"]
      }
      env { GREETING = "hi ${NOMAD_ALLOC_ID}" }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
  update { min_healthy_time = "10s" }
}
"#;
        let job = parse_job(src, "image = \"redis:8\"\n").unwrap();
        assert_eq!(job["ID"], "example");
        let task = &job["TaskGroups"][0]["Tasks"][0];
        assert_eq!(task["Config"]["image"], "redis:8");
        assert_eq!(task["Resources"]["MemoryMB"], 256);
        assert_eq!(task["Env"]["GREETING"], "hi ${NOMAD_ALLOC_ID}");
        assert_eq!(job["TaskGroups"][0]["Count"], 2);
        assert_eq!(
            job["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]["To"],
            6379
        );
        assert_eq!(job["Update"]["MinHealthyTime"], 10_000_000_000i64);
    }

    #[test]
    fn errors_point_at_the_line() {
        let err = parse_job("job \"x\" {\n  group \"g\" {\n    count 3\n  }\n}\n", "").unwrap_err();
        assert!(err.starts_with("input.hcl:3,"), "{err}");
        let err = parse_job("job \"x\" { datacenters = [var.nope] }", "").unwrap_err();
        assert!(err.contains("no variable named \"nope\""), "{err}");
    }
}

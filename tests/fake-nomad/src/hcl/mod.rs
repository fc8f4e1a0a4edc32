//! Enough HCL2 to stand in for `/v1/jobs/parse`: blocks, attributes, strings with
//! `${var.x}` interpolation, numbers, booleans, lists, objects, comments, `variable`
//! blocks with defaults and a variables file. The job blocks map to Nomad's JSON
//! the way Nomad's jobspec2 decoder names them. Errors read like HCL's diagnostics.
//!
//! This file holds the entry point, [`parse_job`], and the job block itself.

mod ast;
mod decode;
mod eval;
mod lexer;
mod parser;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use ast::{Block, Res};
use decode::{constraints, data_attr, flat, group, pascal, structured};
use eval::Eval;
use lexer::Parser;

/// Parses a jobspec into Nomad's JSON job. `variables_file` is HCL `name = value` lines.
pub fn parse_job(src: &str, variables_file: &str) -> Res<Value> {
    let mut parser = Parser {
        src: src.as_bytes(),
        pos: 0,
    };
    let body = parser.body(false)?;
    let mut vars: BTreeMap<String, Value> = BTreeMap::new();
    let empty = BTreeMap::new();
    let plain = Eval { vars: &empty };
    for b in body.blocks.iter().filter(|b| b.kind == "variable") {
        if let Some((_, default)) = b.body.attrs.iter().find(|(k, _)| k == "default") {
            vars.insert(
                b.labels.first().cloned().unwrap_or_default(),
                plain.value(default)?,
            );
        }
    }
    let mut var_parser = Parser {
        src: variables_file.as_bytes(),
        pos: 0,
    };
    let var_body = var_parser
        .body(false)
        .map_err(|e| e.replace("input.hcl", "variables.hcl"))?;
    for (k, v) in &var_body.attrs {
        vars.insert(k.clone(), plain.value(v)?);
    }
    for b in body.blocks.iter().filter(|b| b.kind == "variable") {
        let name = b.labels.first().cloned().unwrap_or_default();
        if !vars.contains_key(&name) {
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

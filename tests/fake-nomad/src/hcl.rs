//! Enough HCL2 to stand in for `/v1/jobs/parse`: blocks, attributes, strings with
//! `${var.x}` interpolation, numbers, booleans, lists, objects, comments, `variable`
//! blocks with defaults and a variables file. The job blocks map to Nomad's JSON
//! the way Nomad's jobspec2 decoder names them. Errors read like HCL's diagnostics.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
enum Expr {
    Str(Vec<Part>, usize, usize),
    Num(f64),
    Bool(bool),
    List(Vec<Expr>),
    Obj(Vec<(String, Expr)>),
    Var(String, usize, usize),
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Var(String),
}

#[derive(Debug, Default)]
struct Body {
    attrs: Vec<(String, Expr)>,
    blocks: Vec<Block>,
}

#[derive(Debug)]
struct Block {
    kind: String,
    labels: Vec<String>,
    body: Body,
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
}

type Res<T> = Result<T, String>;

impl<'a> Parser<'a> {
    fn at(&self) -> (usize, usize) {
        let before = &self.src[..self.pos.min(self.src.len())];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let col = before.iter().rev().take_while(|&&c| c != b'\n').count() + 1;
        (line, col)
    }

    fn err<T>(&self, summary: &str, detail: &str) -> Res<T> {
        let (line, col) = self.at();
        Err(format!(
            "input.hcl:{line},{col}-{}: {summary}; {detail}",
            col + 1
        ))
    }

    fn skip(&mut self, newlines: bool) {
        loop {
            match self.src.get(self.pos) {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\n') if newlines => self.pos += 1,
                Some(b'#') => self.line_comment(),
                Some(b'/') if self.src.get(self.pos + 1) == Some(&b'/') => self.line_comment(),
                Some(b'/') if self.src.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    while self.pos < self.src.len() && !self.src[self.pos..].starts_with(b"*/") {
                        self.pos += 1;
                    }
                    self.pos += 2;
                }
                _ => return,
            }
        }
    }

    fn line_comment(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        while let Some(&c) = self.src.get(self.pos) {
            if c.is_ascii_alphanumeric()
                || c == b'_'
                || c == b'-'
                || (c == b'.' && self.pos > start)
            {
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.src[start..self.pos]).into_owned())
    }

    fn body(&mut self, closing: bool) -> Res<Body> {
        let mut body = Body::default();
        loop {
            self.skip(true);
            match self.src.get(self.pos) {
                None if closing => {
                    return self.err(
                        "Unclosed configuration block",
                        "There is no closing brace for this block before the end of the file.",
                    );
                }
                None => return Ok(body),
                Some(b'}') if closing => {
                    self.pos += 1;
                    return Ok(body);
                }
                _ => {}
            }
            let Some(name) = self.ident() else {
                return self.err(
                    "Argument or block definition required",
                    "An argument or block definition is required here.",
                );
            };
            self.skip(false);
            match self.src.get(self.pos) {
                Some(b'=') => {
                    self.pos += 1;
                    let value = self.expr()?;
                    body.attrs.push((name, value));
                }
                Some(b'{') | Some(b'"') => {
                    let mut labels = Vec::new();
                    while self.src.get(self.pos) == Some(&b'"') {
                        labels.push(self.plain_string()?);
                        self.skip(false);
                    }
                    if self.src.get(self.pos) != Some(&b'{') {
                        return self.err("Invalid block definition", "A block definition must have block content delimited by \"{\" and \"}\", starting on the same line as the block header.");
                    }
                    self.pos += 1;
                    let inner = self.body(true)?;
                    body.blocks.push(Block {
                        kind: name,
                        labels,
                        body: inner,
                    });
                }
                _ => {
                    return self.err(
                        "Argument or block definition required",
                        "An argument or block definition is required here. To set an argument, use the equals sign \"=\" to introduce the argument value.",
                    );
                }
            }
        }
    }

    fn plain_string(&mut self) -> Res<String> {
        match self.string()? {
            Expr::Str(parts, ..) => Ok(parts
                .into_iter()
                .map(|p| match p {
                    Part::Lit(s) => s,
                    Part::Var(v) => format!("${{{v}}}"),
                })
                .collect()),
            _ => unreachable!("string() returns strings"),
        }
    }

    fn string(&mut self) -> Res<Expr> {
        let (line, col) = self.at();
        self.pos += 1;
        let mut parts = Vec::new();
        let mut lit = String::new();
        loop {
            match self.src.get(self.pos) {
                None | Some(b'\n') => {
                    return self.err(
                        "Unterminated template string",
                        "No closing marker was found for the string.",
                    );
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = self.src.get(self.pos + 1).copied().unwrap_or(b'\\');
                    lit.push(match c {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        other => other as char,
                    });
                    self.pos += 2;
                }
                Some(b'$') if self.src.get(self.pos + 1) == Some(&b'{') => {
                    let end = self.src[self.pos..].iter().position(|&c| c == b'}');
                    let Some(end) = end else {
                        return self.err(
                            "Unterminated template string",
                            "No closing marker was found for the interpolation.",
                        );
                    };
                    let inner = String::from_utf8_lossy(&self.src[self.pos + 2..self.pos + end])
                        .trim()
                        .to_string();
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(inner));
                    self.pos += end + 1;
                }
                Some(_) => {
                    let rest = std::str::from_utf8(&self.src[self.pos..]).unwrap_or("");
                    let ch = rest.chars().next().unwrap_or('?');
                    lit.push(ch);
                    self.pos += ch.len_utf8().max(1);
                }
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Expr::Str(parts, line, col))
    }

    fn expr(&mut self) -> Res<Expr> {
        self.skip(false);
        match self.src.get(self.pos) {
            Some(b'"') => self.string(),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip(true);
                    if self.src.get(self.pos) == Some(&b']') {
                        self.pos += 1;
                        return Ok(Expr::List(items));
                    }
                    items.push(self.expr()?);
                    self.skip(true);
                    match self.src.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {}
                        _ => {
                            return self.err(
                                "Missing item separator",
                                "Expected a comma to mark the beginning of the next item.",
                            );
                        }
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip(true);
                    match self.src.get(self.pos) {
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Expr::Obj(items));
                        }
                        Some(b',') => {
                            self.pos += 1;
                            continue;
                        }
                        Some(b'"') => {
                            let key = self.plain_string()?;
                            self.object_item(key, &mut items)?;
                        }
                        _ => {
                            let Some(key) = self.ident() else {
                                return self.err(
                                    "Invalid object key",
                                    "An object key must be a name or a string.",
                                );
                            };
                            self.object_item(key, &mut items)?;
                        }
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.pos;
                self.pos += 1;
                while self
                    .src
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
                {
                    self.pos += 1;
                }
                let text = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
                match text.parse() {
                    Ok(n) => Ok(Expr::Num(n)),
                    Err(_) => self.err("Invalid number", "This is not a valid number."),
                }
            }
            _ => {
                let (line, col) = self.at();
                match self.ident().as_deref() {
                    Some("true") => Ok(Expr::Bool(true)),
                    Some("false") => Ok(Expr::Bool(false)),
                    Some(name) if name.starts_with("var.") => Ok(Expr::Var(name[4..].to_string(), line, col)),
                    Some(name) => self.err("Unknown variable", &format!("There is no variable named {name:?}.")),
                    None => self.err("Invalid expression", "Expected the start of an expression, but found an invalid expression token."),
                }
            }
        }
    }

    fn object_item(&mut self, key: String, items: &mut Vec<(String, Expr)>) -> Res<()> {
        self.skip(false);
        match self.src.get(self.pos) {
            Some(b'=') | Some(b':') => self.pos += 1,
            _ => {
                return self.err(
                    "Missing key/value separator",
                    "Expected an equals sign (\"=\") to mark the beginning of the attribute value.",
                );
            }
        }
        let value = self.expr()?;
        items.push((key, value));
        Ok(())
    }
}

struct Eval<'v> {
    vars: &'v BTreeMap<String, Value>,
}

impl Eval<'_> {
    fn value(&self, e: &Expr) -> Res<Value> {
        Ok(match e {
            Expr::Str(parts, line, col) => {
                if let [Part::Var(v)] = parts.as_slice()
                    && let Some(name) = v.strip_prefix("var.")
                {
                    return self.var(name, *line, *col);
                }
                let mut s = String::new();
                for p in parts {
                    match p {
                        Part::Lit(l) => s.push_str(l),
                        Part::Var(v) => match v.strip_prefix("var.") {
                            Some(name) => match self.var(name, *line, *col)? {
                                Value::String(x) => s.push_str(&x),
                                other => s.push_str(&other.to_string()),
                            },
                            // Nomad runtime interpolations (${NOMAD_PORT_http}, ${node.unique.name}) stay.
                            None => s.push_str(&format!("${{{v}}}")),
                        },
                    }
                }
                Value::String(s)
            }
            Expr::Num(n) => {
                if n.fract() == 0.0 {
                    json!(*n as i64)
                } else {
                    json!(n)
                }
            }
            Expr::Bool(b) => json!(b),
            Expr::List(items) => {
                Value::Array(items.iter().map(|i| self.value(i)).collect::<Res<_>>()?)
            }
            Expr::Obj(items) => {
                let mut m = Map::new();
                for (k, v) in items {
                    m.insert(k.clone(), self.value(v)?);
                }
                Value::Object(m)
            }
            Expr::Var(name, line, col) => self.var(name, *line, *col)?,
        })
    }

    fn var(&self, name: &str, line: usize, col: usize) -> Res<Value> {
        self.vars.get(name).cloned().ok_or_else(|| {
            format!(
                "input.hcl:{line},{col}-{}: Unknown variable; There is no variable named {name:?}.",
                col + 4 + name.len()
            )
        })
    }
}

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

fn pascal(key: &str) -> String {
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
fn structured(body: &Body, ev: &Eval, raw: &[&str]) -> Res<Map<String, Value>> {
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
fn flat(body: &Body, ev: &Eval) -> Res<Map<String, Value>> {
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

fn data_attr(body: &Body, ev: &Eval, name: &str) -> Res<Option<Value>> {
    if let Some(b) = body.blocks.iter().find(|b| b.kind == name) {
        return Ok(Some(Value::Object(flat(&b.body, ev)?)));
    }
    match body.attrs.iter().find(|(k, _)| k == name) {
        Some((_, v)) => Ok(Some(ev.value(v)?)),
        None => Ok(None),
    }
}

fn constraints(body: &Body, ev: &Eval, kind: &str) -> Res<Value> {
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

fn group(b: &Block, ev: &Eval) -> Res<Value> {
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

//! A subset of Nomad's filter expressions (go-bexpr, `index.mdx` Filtering):
//! `Sel == "v"`, `Sel != "v"`, `Sel matches "regex"` (anchors and escaped literals),
//! `"v" in Sel`, `Sel is empty`, joined with `and` / `or`.

use serde_json::Value;

#[derive(Debug)]
enum Clause {
    Eq(String, String, bool),
    Matches(String, String),
    In(String, String),
    Empty(String, bool),
}

#[derive(Debug)]
pub struct Filter {
    /// Disjunction of conjunctions.
    any: Vec<Vec<Clause>>,
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() >= 2
        && (s.starts_with('"') && s.ends_with('"') || s.starts_with('`') && s.ends_with('`'))
    {
        let inner = &s[1..s.len() - 1];
        if s.starts_with('`') {
            return Some(inner.to_string());
        }
        serde_json::from_str::<String>(s)
            .ok()
            .or(Some(inner.to_string()))
    } else {
        None
    }
}

fn split_outside_quotes<'a>(s: &'a str, word: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' && (i == 0 || bytes[i - 1] != b'\\') {
            quoted = !quoted;
        }
        if !quoted && s[i..].starts_with(word) {
            parts.push(&s[start..i]);
            i += word.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

fn clause(text: &str) -> Result<Clause, String> {
    let t = text.trim();
    let bad = || format!("failed to parse filter expression {t:?}: unsupported syntax");
    if let Some(sel) = t.strip_suffix(" is not empty") {
        return Ok(Clause::Empty(sel.trim().into(), false));
    }
    if let Some(sel) = t.strip_suffix(" is empty") {
        return Ok(Clause::Empty(sel.trim().into(), true));
    }
    for (op, negate) in [(" == ", false), (" != ", true)] {
        if let Some((sel, value)) = t.split_once(op) {
            return Ok(Clause::Eq(
                sel.trim().into(),
                unquote(value).ok_or_else(bad)?,
                negate,
            ));
        }
    }
    if let Some((sel, value)) = t.split_once(" matches ") {
        return Ok(Clause::Matches(
            sel.trim().into(),
            unquote(value).ok_or_else(bad)?,
        ));
    }
    if let Some((value, sel)) = t.split_once(" in ") {
        return Ok(Clause::In(
            sel.trim().into(),
            unquote(value).ok_or_else(bad)?,
        ));
    }
    Err(bad())
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut any = Vec::new();
        for alternative in split_outside_quotes(text, " or ") {
            let mut all = Vec::new();
            for part in split_outside_quotes(alternative, " and ") {
                let part = part.trim().trim_start_matches('(').trim_end_matches(')');
                all.push(clause(part)?);
            }
            any.push(all);
        }
        Ok(Filter { any })
    }

    pub fn matches(&self, item: &Value) -> bool {
        self.any.iter().any(|all| all.iter().all(|c| eval(c, item)))
    }
}

fn select<'a>(item: &'a Value, selector: &str) -> Option<&'a Value> {
    let mut v = item;
    for part in selector.split('.') {
        v = v.get(part)?;
    }
    Some(v)
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Regex subset: optional `^`/`$` anchors around a literal with `\` escapes.
fn regex_match(pattern: &str, text: &str) -> bool {
    let anchored_start = pattern.starts_with('^');
    let body = pattern.trim_start_matches('^');
    let anchored_end = body.ends_with('$') && !body.ends_with("\\$");
    let body = if anchored_end {
        &body[..body.len() - 1]
    } else {
        body
    };
    let mut literal = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                literal.push(n);
            }
        } else if c == '.' && !anchored_start {
            // An unanchored `.` is rare in the gateway's filters; treat it literally.
            literal.push(c);
        } else {
            literal.push(c);
        }
    }
    match (anchored_start, anchored_end) {
        (true, true) => text == literal,
        (true, false) => text.starts_with(&literal),
        (false, true) => text.ends_with(&literal),
        (false, false) => text.contains(&literal),
    }
}

fn eval(c: &Clause, item: &Value) -> bool {
    match c {
        Clause::Eq(sel, value, negate) => {
            let equal = select(item, sel).map(as_text).as_deref() == Some(value.as_str());
            equal != *negate
        }
        Clause::Matches(sel, pattern) => {
            select(item, sel).is_some_and(|v| regex_match(pattern, &as_text(v)))
        }
        Clause::In(sel, value) => match select(item, sel) {
            Some(Value::Array(a)) => a.iter().any(|v| as_text(v) == *value),
            Some(Value::Object(o)) => o.contains_key(value),
            Some(Value::String(s)) => s.contains(value.as_str()),
            _ => false,
        },
        Clause::Empty(sel, want_empty) => {
            let empty = match select(item, sel) {
                None | Some(Value::Null) => true,
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Object(o)) => o.is_empty(),
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            empty == *want_empty
        }
    }
}

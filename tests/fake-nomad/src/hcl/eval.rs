//! Evaluation of expressions to JSON values, with variables substituted.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ast::{Expr, Part, Res, diag};

pub(super) struct Eval<'v> {
    pub(super) vars: &'v BTreeMap<String, Value>,
}

impl Eval<'_> {
    pub(super) fn value(&self, e: &Expr) -> Res<Value> {
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
                                Value::Number(n) => s.push_str(&n.to_string()),
                                Value::Bool(b) => s.push_str(&b.to_string()),
                                Value::Null => {
                                    return Err(diag(
                                        (*line, *col),
                                        v.len() + 3,
                                        "Invalid template interpolation value",
                                        "The expression result is null. Cannot include a null value in a string template.",
                                    ));
                                }
                                _ => {
                                    return Err(diag(
                                        (*line, *col),
                                        v.len() + 3,
                                        "Invalid template interpolation value",
                                        "Cannot include the given value in a string template: string required.",
                                    ));
                                }
                            },
                            // Nomad runtime interpolations (${NOMAD_PORT_http}, ${node.unique.name}) stay.
                            None => s.push_str(&format!("${{{v}}}")),
                        },
                    }
                }
                Value::String(s)
            }
            Expr::Num(n) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    json!(*n as i64)
                } else {
                    json!(n)
                }
            }
            Expr::Bool(b) => json!(b),
            Expr::Null => Value::Null,
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
            Expr::Ident(name, line, col) => {
                return Err(diag(
                    (*line, *col),
                    name.len(),
                    "Unknown variable",
                    &format!("There is no variable named {name:?}."),
                ));
            }
            Expr::Call(name, _, line, col) => {
                return Err(diag(
                    (*line, *col),
                    name.len(),
                    "Call to unknown function",
                    &format!("There is no function named {name:?} in the fake Nomad's HCL."),
                ));
            }
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

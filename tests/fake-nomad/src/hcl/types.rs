//! Type constraints of `variable` blocks (`string`, `number`, `bool`, `any`,
//! `list(T)`, `set(T)`, `map(T)`) and the conversions HCL's type system makes when a
//! default or a value from the variables file is assigned: `"3"` becomes a number for a
//! `number` variable, `3` a string for a `string` one, and a string can never become a
//! list. A variable with no `type` takes its default's type, as Nomad does.

use serde_json::{Map, Value};

use super::ast::{Expr, Res, diag};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Type {
    String,
    Number,
    Bool,
    Any,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    /// The type of a list default without a `type`: any list (HCL's tuple type; only
    /// its shape is checked here).
    Tuple,
    /// The type of an object default without a `type`.
    Object,
}

impl Type {
    /// The constraint a `type = ...` expression names.
    pub(super) fn parse(e: &Expr) -> Res<Type> {
        let invalid = |at: (usize, usize), name: &str| {
            Err(diag(
                at,
                name.len(),
                "Invalid type specification",
                &format!("The keyword {name:?} is not a valid type specification."),
            ))
        };
        match e {
            Expr::Ident(name, line, col) => match name.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                "any" => Ok(Type::Any),
                other => invalid((*line, *col), other),
            },
            Expr::Call(name, args, line, col) => {
                let [inner] = args.as_slice() else {
                    return Err(diag(
                        (*line, *col),
                        name.len(),
                        "Invalid type specification",
                        &format!("The {name} type constructor requires one argument specifying the element type."),
                    ));
                };
                let inner = Box::new(Type::parse(inner)?);
                match name.as_str() {
                    "list" => Ok(Type::List(inner)),
                    "set" => Ok(Type::Set(inner)),
                    "map" => Ok(Type::Map(inner)),
                    other => invalid((*line, *col), other),
                }
            }
            _ => Err(
                "input.hcl: Invalid type specification; A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string)."
                    .into(),
            ),
        }
    }

    /// The type a default value gives a variable declared without `type`.
    pub(super) fn of(v: &Value) -> Type {
        match v {
            Value::String(_) => Type::String,
            Value::Number(_) => Type::Number,
            Value::Bool(_) => Type::Bool,
            Value::Array(_) => Type::Tuple,
            Value::Object(_) => Type::Object,
            Value::Null => Type::Any,
        }
    }

    fn name(&self) -> String {
        match self {
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::Any => "any".into(),
            Type::List(t) => format!("list of {}", t.name()),
            Type::Set(t) => format!("set of {}", t.name()),
            Type::Map(t) => format!("map of {}", t.name()),
            Type::Tuple => "tuple".into(),
            Type::Object => "object".into(),
        }
    }

    /// `v` converted to this type, or the reason it cannot be (cty's wording).
    pub(super) fn convert(&self, v: &Value) -> Result<Value, String> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        match (self, v) {
            (Type::Any, _) => Ok(v.clone()),
            (Type::String, Value::String(_)) => Ok(v.clone()),
            (Type::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
            (Type::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
            (Type::String, _) => Err("string required".into()),
            (Type::Number, Value::Number(_)) => Ok(v.clone()),
            (Type::Number, Value::String(s)) => {
                number(s.trim()).ok_or_else(|| "a number is required".to_string())
            }
            (Type::Number, _) => Err("number required".into()),
            (Type::Bool, Value::Bool(_)) => Ok(v.clone()),
            (Type::Bool, Value::String(s)) => match s.as_str() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                _ => Err("a bool is required".into()),
            },
            (Type::Bool, _) => Err("bool required".into()),
            (Type::List(t) | Type::Set(t), Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let item = t.convert(item).map_err(|e| format!("element {i}: {e}"))?;
                    if matches!(self, Type::Set(_)) && out.contains(&item) {
                        continue;
                    }
                    out.push(item);
                }
                Ok(Value::Array(out))
            }
            (Type::Map(t), Value::Object(items)) => {
                let mut out = Map::new();
                for (k, item) in items {
                    out.insert(
                        k.clone(),
                        t.convert(item).map_err(|e| format!("element {k:?}: {e}"))?,
                    );
                }
                Ok(Value::Object(out))
            }
            (Type::Tuple, Value::Array(_)) | (Type::Object, Value::Object(_)) => Ok(v.clone()),
            _ => Err(format!("{} required", self.name())),
        }
    }
}

fn number(s: &str) -> Option<Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f: f64 = s.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Some(Value::from(f as i64))
    } else {
        serde_json::Number::from_f64(f).map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_convert_the_way_hcl_converts_them() {
        assert_eq!(Type::Number.convert(&json!("3")), Ok(json!(3)));
        assert_eq!(Type::Number.convert(&json!("1.5")), Ok(json!(1.5)));
        assert!(Type::Number.convert(&json!("three")).is_err());
        assert_eq!(Type::String.convert(&json!(3)), Ok(json!("3")));
        assert_eq!(Type::Bool.convert(&json!("true")), Ok(json!(true)));
        let strings = Type::List(Box::new(Type::String));
        assert_eq!(strings.convert(&json!(["a", 1])), Ok(json!(["a", "1"])));
        assert_eq!(
            strings.convert(&json!("[\"dc1\"]")),
            Err("list of string required".to_string())
        );
        assert_eq!(Type::of(&json!(3)), Type::Number);
    }
}

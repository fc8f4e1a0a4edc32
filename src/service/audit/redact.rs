//! What the audit log keeps of a call's arguments: environment values, tokens, payloads
//! and job texts are replaced, keys kept.

use serde_json::Value;

/// Arguments as recorded: environment values, tokens and payloads are replaced.
pub fn redact(mut value: Value) -> Value {
    const SECRET_KEYS: [&str; 11] = [
        "definition",
        "env",
        "env_vars",
        "Env",
        "payload",
        "Payload",
        "token",
        "secret",
        "password",
        "variables",
        // A Nomad variable's items: recorded as their keys.
        "items",
    ];
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    if SECRET_KEYS.contains(&k.as_str()) {
                        *x = match x {
                            Value::Object(m) => Value::Object(
                                m.keys()
                                    .map(|k| (k.clone(), Value::String("<redacted>".into())))
                                    .collect(),
                            ),
                            Value::Null => Value::Null,
                            _ => Value::String("<redacted>".into()),
                        };
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_redacted_but_keys_kept() {
        let v = super::redact(serde_json::json!({
            "job_id": "web", "env": {"DB_PASSWORD": "hunter2"},
            "job": {"TaskGroups": [{"Tasks": [{"Env": {"K": "v"}}]}]},
            "payload": "c2VjcmV0"
        }));
        let text = v.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("c2VjcmV0") && !text.contains("\"v\""),
            "{text}"
        );
        assert!(
            text.contains("DB_PASSWORD") && text.contains("web"),
            "{text}"
        );
    }
}

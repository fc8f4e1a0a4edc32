//! Nomad's structured job diff (`structs.JobDiff`, `nomad/structs/diff.go`) in words:
//! "group web: Count 2 → 3", "group web, task server: image nginx:1.25 → nginx:1.27".
//!
//! The diff is a tree: a job's `Fields` and `Objects`, its `TaskGroups`, their `Fields`,
//! `Objects` and `Tasks`, and the tasks' `Fields` and `Objects`; an object (`Config`,
//! `Resources`, `Service`, `Datacenters`...) holds `Fields` and `Objects` again. Every node
//! has a `Type`: `Added`, `Deleted`, `Edited` or `None`. Nomad's version diffs and plan
//! diffs are contextual (`Diff(other, true)`): unchanged fields come along as `None`, and
//! are left out here. Field values are text; maps are flattened as `Env[LOG_LEVEL]`.

use serde_json::Value;

/// Lines a description holds at most; the rest is counted in a last line.
pub const MAX_LINES: usize = 40;

/// The changes in `diff`, one line each, at most `limit` (and a line counting the rest).
/// Empty when nothing changed.
pub fn describe(diff: &Value, limit: usize) -> Vec<String> {
    let mut lines = Vec::new();
    if kind(diff) == "None" {
        return lines;
    }
    members(diff, "job", &[], &mut lines);
    for group in list(diff, "TaskGroups") {
        let scope = format!("group {}", text(group, "Name"));
        match kind(group) {
            "Added" => lines.push(format!("{scope} added{}", count_of(group))),
            "Deleted" => lines.push(format!("{scope} removed")),
            "Edited" => {
                members(group, &scope, &[], &mut lines);
                for task in list(group, "Tasks") {
                    let name = text(task, "Name");
                    match kind(task) {
                        "Added" => lines.push(format!("{scope}: task {name} added")),
                        "Deleted" => lines.push(format!("{scope}: task {name} removed")),
                        "Edited" => {
                            members(task, &format!("{scope}, task {name}"), &[], &mut lines)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if lines.len() > limit {
        let more = lines.len() - limit;
        lines.truncate(limit);
        lines.push(format!(
            "… and {more} more change(s); Nomad's structured diff (plan_job's `diff`) has them all"
        ));
    }
    lines
}

/// " with count N" for a group that was added, from its `Count` field.
fn count_of(group: &Value) -> String {
    list(group, "Fields")
        .find(|f| text(f, "Name") == "Count")
        .map(|f| format!(" with count {}", text(f, "New")))
        .unwrap_or_default()
}

/// The changed fields and objects of one node, under `path` (the objects above).
fn members(node: &Value, scope: &str, path: &[&str], lines: &mut Vec<String>) {
    for field in list(node, "Fields") {
        if let Some(words) = field_words(field, path) {
            lines.push(format!("{scope}: {words}"));
        }
    }
    for object in list(node, "Objects") {
        let name = text(object, "Name");
        let mut inner: Vec<&str> = path.to_vec();
        // A driver's settings read by their own names ("image", "args[0]").
        if !(path.is_empty() && name == "Config") {
            inner.push(name);
        }
        match kind(object) {
            // A block added or removed whole: one line, not one per field.
            "Added" | "Deleted" if !is_set(object) => {
                let what = if kind(object) == "Added" {
                    "added"
                } else {
                    "removed"
                };
                let summary = key_fields(object);
                lines.push(format!("{scope}: {} {what}{summary}", inner.join(".")));
            }
            "None" => {}
            _ => members(object, scope, &inner, lines),
        }
    }
}

/// A string set (`Datacenters`, `Tags`): an object whose fields bear its own name.
fn is_set(object: &Value) -> bool {
    let name = text(object, "Name");
    list(object, "Fields").all(|f| text(f, "Name") == name)
}

/// The non-empty values of an added or removed block, shortly (`Name`, `PortLabel`...).
fn key_fields(object: &Value) -> String {
    let shown: Vec<String> = list(object, "Fields")
        .filter(|f| ["Name", "PortLabel", "Provider", "DestPath"].contains(&text(f, "Name")))
        .filter_map(|f| {
            let value = if kind(f) == "Deleted" {
                text(f, "Old")
            } else {
                text(f, "New")
            };
            (!value.is_empty()).then(|| format!("{} {value}", text(f, "Name")))
        })
        .collect();
    if shown.is_empty() {
        String::new()
    } else {
        format!(" ({})", shown.join(", "))
    }
}

/// One field's change in words; `None` for an unchanged field.
fn field_words(field: &Value, path: &[&str]) -> Option<String> {
    let name = text(field, "Name");
    let (old, new) = (text(field, "Old"), text(field, "New"));
    // A string set's element: "Datacenters dc2 added".
    let own = path.last().is_some_and(|last| *last == name);
    let mut full: Vec<&str> = path.to_vec();
    if !own {
        full.push(name);
    }
    let full = full.join(".");
    Some(match kind(field) {
        "Edited" => format!("{full} {} → {}", shown(old), shown(new)),
        "Added" if own => format!("{full} {new} added"),
        "Deleted" if own => format!("{full} {old} removed"),
        "Added" => format!("{full} set to {}", shown(new)),
        "Deleted" => format!("{full} removed (was {})", shown(old)),
        _ => return None,
    })
}

/// A value as it reads in a sentence: quoted when empty or holding spaces.
fn shown(value: &str) -> String {
    if value.is_empty() || value.contains(char::is_whitespace) {
        format!("{value:?}")
    } else {
        value.to_string()
    }
}

fn kind(node: &Value) -> &str {
    node.get("Type").and_then(Value::as_str).unwrap_or("None")
}

fn text<'a>(node: &'a Value, key: &str) -> &'a str {
    node.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A list member of a node; Nomad sends `null` for an empty one.
fn list<'a>(node: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    node.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(kind: &str, name: &str, old: &str, new: &str) -> Value {
        json!({"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": null})
    }

    #[test]
    fn a_contextual_diff_reads_as_its_changes_only() {
        let diff = json!({
            "Type": "Edited", "ID": "web",
            "Fields": [field("None", "Priority", "50", "50"), field("Edited", "Type", "service", "batch")],
            "Objects": [{"Type": "Edited", "Name": "Datacenters", "Fields": [
                field("None", "Datacenters", "dc1", "dc1"), field("Added", "Datacenters", "", "dc2")
            ], "Objects": null}],
            "TaskGroups": [
                {"Type": "Edited", "Name": "web", "Fields": [field("Edited", "Count", "2", "3")],
                 "Objects": null, "Updates": null, "Tasks": [
                    {"Type": "Edited", "Name": "server", "Annotations": null,
                     "Fields": [field("Added", "Env[LOG_LEVEL]", "", "debug"), field("None", "Driver", "docker", "docker")],
                     "Objects": [
                        {"Type": "Edited", "Name": "Config", "Objects": null, "Fields": [
                            field("Edited", "image", "nginx:1.25", "nginx:1.27"), field("None", "ports[0]", "http", "http")]},
                        {"Type": "Edited", "Name": "Resources", "Objects": null, "Fields": [
                            field("Edited", "MemoryMB", "256", "512")]},
                        {"Type": "Added", "Name": "Service", "Objects": null, "Fields": [
                            field("Added", "Name", "", "web-api"), field("Added", "PortLabel", "", "http")]}
                     ]},
                    {"Type": "None", "Name": "sidecar", "Fields": null, "Objects": null, "Annotations": null}
                 ]},
                {"Type": "Added", "Name": "worker", "Fields": [field("Added", "Count", "", "2")],
                 "Objects": null, "Tasks": null, "Updates": null},
                {"Type": "None", "Name": "db", "Fields": null, "Objects": null, "Tasks": null, "Updates": null}
            ]
        });
        assert_eq!(
            describe(&diff, MAX_LINES),
            [
                "job: Type service → batch",
                "job: Datacenters dc2 added",
                "group web: Count 2 → 3",
                "group web, task server: Env[LOG_LEVEL] set to debug",
                "group web, task server: image nginx:1.25 → nginx:1.27",
                "group web, task server: Resources.MemoryMB 256 → 512",
                "group web, task server: Service added (Name web-api, PortLabel http)",
                "group worker added with count 2",
            ]
        );
        assert!(describe(&json!({"Type": "None"}), MAX_LINES).is_empty());
        assert!(describe(&Value::Null, MAX_LINES).is_empty());
    }

    #[test]
    fn long_descriptions_are_cut_and_say_how_much_is_left() {
        let fields: Vec<Value> = (0..10)
            .map(|i| field("Edited", &format!("Meta[k{i}]"), "a", "b c"))
            .collect();
        let diff = json!({"Type": "Edited", "Fields": fields, "TaskGroups": null});
        let lines = describe(&diff, 4);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "job: Meta[k0] a → \"b c\"");
        assert!(lines[4].starts_with("… and 6 more"), "{}", lines[4]);
    }
}

//! The layer rule, checked against the source: a room may name (`crate::room`) only the
//! rooms below it in this table. Transports sit on top, then `auth`, then `service`,
//! then the adapters; `config` and `crypto` name nothing. `docs/architecture.md` draws
//! the same table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Room → the rooms it may name. A room missing here may not exist.
const ALLOWED: &[(&str, &[&str])] = &[
    // The composition roots.
    (
        "cli",
        &[
            "server",
            "healthcheck",
            "auth",
            "service",
            "db",
            "config",
            "telemetry",
            "crypto",
        ],
    ),
    (
        "server",
        &[
            "state",
            "http",
            "mcp",
            "auth",
            "service",
            "operations",
            "nomad",
            "db",
            "config",
            "telemetry",
            "crypto",
        ],
    ),
    ("healthcheck", &["config", "crypto"]),
    // The transports: siblings, never naming each other.
    (
        "http",
        &[
            "state",
            "auth",
            "service",
            "operations",
            "db",
            "telemetry",
            "config",
        ],
    ),
    (
        "mcp",
        &[
            "state",
            "service",
            "operations",
            "db",
            "telemetry",
            "config",
        ],
    ),
    ("state", &["auth", "service", "nomad", "db", "config"]),
    // Who is calling.
    ("auth", &["service", "db", "config"]),
    // The operations, with policy, audit and rate limits.
    ("service", &["operations", "nomad", "db", "config"]),
    ("operations", &["nomad", "db", "config"]),
    // Adapters and leaves.
    ("db", &["config"]),
    ("nomad", &["config", "crypto"]),
    ("telemetry", &["config"]),
    ("config", &[]),
    ("crypto", &[]),
];

/// The rooms each `crate::` path in `text` names (`use crate::{a, b::c}` included).
fn named_rooms(text: &str) -> BTreeSet<String> {
    let mut rooms = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // Top-level names of the group: split at commas outside nested braces.
            let mut depth = 0;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        rooms.insert(first_segment(&name));
                        name.clear();
                        continue;
                    }
                    _ => {}
                }
                name.push(c);
            }
            rooms.insert(first_segment(&name));
        } else {
            rooms.insert(first_segment(after));
        }
        rest = after;
    }
    rooms.retain(|r| !r.is_empty());
    rooms
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every upward or sideways arrow in the tree at `src`, as `file: room -> room`.
fn violations(src: &Path) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let room = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if room == "lib" || room == "main" {
            continue;
        }
        let Some(may) = allowed.get(room.as_str()) else {
            found.push(format!(
                "{}: room '{room}' is not in the table",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for target in named_rooms(&text) {
            if target != room && !may.contains(&target.as_str()) {
                found.push(format!("{}: {room} -> {target}", relative.display()));
            }
        }
    }
    found
}

#[test]
fn no_room_names_a_room_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports against the layer rule:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_plain_and_grouped_paths() {
    let rooms = named_rooms("use crate::http::ApiError;\nuse crate::{mcp::x, state::{A, B}};");
    assert_eq!(
        rooms.into_iter().collect::<Vec<_>>(),
        ["http", "mcp", "state"]
    );
    // An upward arrow in a scratch tree is reported.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("service")).unwrap();
    std::fs::write(
        dir.path().join("service/mod.rs"),
        "use crate::http::ApiError;\nuse crate::nomad::NomadClient;",
    )
    .unwrap();
    assert_eq!(violations(dir.path()), ["service/mod.rs: service -> http"]);
}

//! The simplified job specification: golden translations and field-by-field validation.

use std::path::Path;

use nomad_gateway::service::spec::CreateJobSpec;
use serde_json::Value;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/spec");

/// Compares the translation of every `*.input.json` with its `*.nomad.json`.
/// `UPDATE_GOLDEN=1` rewrites the expected files (review the diff before committing).
#[test]
fn specs_translate_to_the_golden_nomad_jobs() {
    let mut cases = 0;
    for entry in std::fs::read_dir(GOLDEN).unwrap() {
        let input = entry.unwrap().path();
        let Some(name) = input
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".input.json"))
        else {
            continue;
        };
        cases += 1;
        let spec: CreateJobSpec =
            serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
        spec.validate().unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let job = spec.to_nomad_job("default");
        let expected_path = Path::new(GOLDEN).join(format!("{name}.nomad.json"));
        if std::env::var("UPDATE_GOLDEN").is_ok() {
            std::fs::write(
                &expected_path,
                serde_json::to_string_pretty(&job).unwrap() + "\n",
            )
            .unwrap();
        }
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        assert_eq!(
            job,
            expected,
            "{name}: translation differs from {}",
            expected_path.display()
        );
    }
    assert!(cases >= 4, "golden cases missing");
}

fn errors_of(json: &str) -> Vec<(String, String)> {
    let spec: CreateJobSpec = serde_json::from_str(json).unwrap();
    spec.validate()
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

fn has(errors: &[(String, String)], field: &str, words: &str) -> bool {
    errors.iter().any(|(f, m)| f == field && m.contains(words))
}

#[test]
fn every_invalid_field_is_named_with_what_is_allowed() {
    let errors = errors_of(
        r#"{"job_id": "my job", "image": "nginx", "command": "/bin/true", "count": 0, "cpu": 5,
            "memory": 2000000, "ports": [{"label": "http"}, {"label": "http", "static": 0}],
            "env": {"1BAD": "x"}, "health_check": {"path": "health", "port": "admin"}}"#,
    );
    assert!(has(&errors, "job_id", "letters, digits"), "{errors:?}");
    assert!(has(&errors, "command", "either image"), "{errors:?}");
    assert!(has(&errors, "count", "use 1 to 1000"), "{errors:?}");
    assert!(has(&errors, "cpu", "use 10 to 256000 MHz"), "{errors:?}");
    assert!(has(&errors, "memory", "MB"), "{errors:?}");
    assert!(has(&errors, "ports[1].label", "used twice"), "{errors:?}");
    assert!(has(&errors, "ports[1].static", "1 to 65535"), "{errors:?}");
    assert!(has(&errors, "env.1BAD", "letters, digits"), "{errors:?}");
    assert!(
        has(&errors, "health_check.path", "start with '/'"),
        "{errors:?}"
    );
    assert!(
        has(&errors, "health_check.port", "'admin' is not one of"),
        "{errors:?}"
    );
}

#[test]
fn shape_rules_are_explained() {
    assert!(has(
        &errors_of(r#"{"job_id": "a"}"#),
        "image",
        "is required unless command"
    ));
    assert!(has(
        &errors_of(r#"{"job_id": "a", "image": "x", "driver": "exec"}"#),
        "driver",
        "only with command"
    ));
    assert!(has(
        &errors_of(r#"{"job_id": "a", "image": "x", "type": "system", "count": 3}"#),
        "count",
        "system jobs"
    ));
    assert!(has(
        &errors_of(
            r#"{"job_id": "a", "image": "x", "type": "batch", "ports": [{"label": "p"}], "health_check": {"path": "/"}}"#
        ),
        "health_check",
        "batch jobs"
    ));
    let unknown =
        serde_json::from_str::<CreateJobSpec>(r#"{"job_id": "a", "image": "x", "replicas": 2}"#)
            .unwrap_err();
    assert!(
        unknown.to_string().contains("unknown field `replicas`"),
        "{unknown}"
    );
}

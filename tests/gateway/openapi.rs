//! The OpenAPI document at `/openapi.json` and Swagger UI at `/docs`: the document is
//! OpenAPI 3.1, lists every REST route, and every reference in it resolves.

use serde_json::Value;

use crate::support::{Gateway, TestDb, base_env};

/// Every REST route, as the README lists them.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/search"),
    ("get", "/api/v1/jobs/{job_id}/logs/search"),
    ("get", "/api/v1/jobs/{job_id}/logs/follow"),
    ("get", "/api/v1/allocations/{alloc_id}/usage"),
    ("post", "/api/v1/allocations/{alloc_id}/signal"),
    ("get", "/api/v1/cluster/identity"),
    ("get", "/api/v1/volumes"),
    ("get", "/api/v1/volumes/{volume_id}"),
    ("get", "/api/v1/scaling-policies"),
    ("get", "/api/v1/node-pools"),
    ("post", "/api/v1/nodes/{node_id}/purge"),
    ("post", "/api/v1/deployments/{deployment_id}/pause"),
    ("post", "/api/v1/deployments/{deployment_id}/unblock"),
    (
        "post",
        "/api/v1/deployments/{deployment_id}/allocation-health",
    ),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs"),
    ("put", "/api/v1/jobs"),
    ("post", "/api/v1/jobs/plan"),
    ("get", "/api/v1/jobs/{job_id}"),
    ("delete", "/api/v1/jobs/{job_id}"),
    ("post", "/api/v1/jobs/{job_id}/restart"),
    ("post", "/api/v1/jobs/{job_id}/scale"),
    ("post", "/api/v1/jobs/{job_id}/dispatch"),
    ("post", "/api/v1/jobs/{job_id}/evaluate"),
    ("get", "/api/v1/jobs/{job_id}/versions"),
    ("get", "/api/v1/jobs/{job_id}/versions/compare"),
    ("get", "/api/v1/jobs/{job_id}/timeline"),
    ("post", "/api/v1/jobs/{job_id}/revert"),
    ("get", "/api/v1/jobs/{job_id}/allocations"),
    ("get", "/api/v1/jobs/{job_id}/logs"),
    ("get", "/api/v1/jobs/{job_id}/evaluations"),
    ("get", "/api/v1/jobs/{job_id}/deployments"),
    ("get", "/api/v1/jobs/{job_id}/diagnosis"),
    ("get", "/api/v1/allocations/{alloc_id}"),
    ("post", "/api/v1/allocations/{alloc_id}/restart"),
    ("post", "/api/v1/allocations/{alloc_id}/stop"),
    ("get", "/api/v1/allocations/{alloc_id}/checks"),
    ("get", "/api/v1/services"),
    ("get", "/api/v1/services/{service_name}"),
    ("get", "/api/v1/variables"),
    ("get", "/api/v1/variables/{path}"),
    ("put", "/api/v1/variables/{path}"),
    ("delete", "/api/v1/variables/{path}"),
    ("get", "/api/v1/evaluations/{eval_id}"),
    ("get", "/api/v1/deployments/{deployment_id}"),
    ("post", "/api/v1/deployments/{deployment_id}/promote"),
    ("post", "/api/v1/deployments/{deployment_id}/fail"),
    ("get", "/api/v1/nodes"),
    ("get", "/api/v1/nodes/{node_id}"),
    ("post", "/api/v1/nodes/{node_id}/drain"),
    ("put", "/api/v1/nodes/{node_id}/eligibility"),
    ("patch", "/api/v1/nodes/{node_id}/meta"),
    ("get", "/api/v1/cluster"),
    ("get", "/api/v1/problems"),
    ("get", "/api/v1/namespaces"),
    ("get", "/api/v1/events"),
    ("get", "/api/claude/list-jobs"),
    ("post", "/api/claude/jobs"),
    ("post", "/api/claude/create-job"),
    ("get", "/api/claude/job-logs/{job_id}"),
    ("get", "/api/v1/api-keys"),
    ("post", "/api/v1/api-keys"),
    ("delete", "/api/v1/api-keys/{key_id}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/operations"),
    ("get", "/api/v1/operations/{operation_id}"),
    ("get", "/api/v1/operations/{operation_id}/events"),
    ("post", "/api/v1/operations/{operation_id}/cancel"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

async fn document(gateway: &Gateway) -> Value {
    let response = reqwest::get(gateway.url("/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Every `$ref` anywhere in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_document_is_3_1_and_lists_every_rest_route_and_nothing_else() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let doc = document(&gateway).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "nomad-gateway");

    let mut listed: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (m.to_string(), path.clone()))
        })
        .collect();
    listed.sort();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn every_operation_documents_its_success_and_its_problems() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let doc = document(&gateway).await;
    for (method, path) in ROUTES {
        let operation = &doc["paths"][path][method];
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            ["200", "201", "204"]
                .iter()
                .any(|s| responses.contains_key(*s)),
            "{method} {path} has no success response"
        );
        for status in ["400", "404", "409", "415", "422", "502", "503", "504"] {
            let problem = &responses[status]["content"]["application/problem+json"]["schema"];
            assert_eq!(
                problem["$ref"], "#/components/schemas/Problem",
                "{method} {path} does not document {status} as a problem"
            );
        }
        assert!(
            operation["operationId"].is_string(),
            "{method} {path} has no operationId"
        );
        if ["post", "put", "patch"].contains(method)
            && !["/stop", "/fail", "/purge", "/pause", "/unblock"]
                .iter()
                .any(|end| path.ends_with(end))
        {
            assert!(
                operation["requestBody"]["content"]["application/json"]["schema"].is_object(),
                "{method} {path} does not describe its body"
            );
        }
    }
    // Every namespaced job route takes ?namespace=.
    let params = doc["paths"]["/api/v1/jobs/{job_id}"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "namespace" && p["in"] == "query")
    );
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "job_id" && p["in"] == "path")
    );
}

#[tokio::test]
async fn every_reference_in_the_document_resolves() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let doc = document(&gateway).await;
    let mut found = Vec::new();
    references(&doc, &mut found);
    assert!(found.len() > 50, "suspiciously few references: {found:?}");
    for target in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target} is not a local reference"));
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail", "errors"] {
        assert!(
            problem["properties"][field].is_object(),
            "Problem lacks {field}"
        );
    }
}

#[tokio::test]
async fn docs_serve_swagger_ui_pointing_at_the_document() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let page = reqwest::get(gateway.url("/docs")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("Swagger UI"));
    let initializer = reqwest::get(gateway.url("/docs/swagger-initializer.js"))
        .await
        .unwrap();
    assert_eq!(initializer.status(), 200);
    assert!(initializer.text().await.unwrap().contains("/openapi.json"));
}

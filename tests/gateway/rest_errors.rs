//! REST errors that need no Nomad behind the gateway (or only a stub answering one way):
//! problem documents for unknown routes, invalid input field by field, an unreachable,
//! failing or refusing Nomad.

use serde_json::{Value, json};

use crate::support::{Gateway, TestDb, base_env, set};

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_unknown_api_route_is_a_problem_document() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let response = reqwest::get(gateway.url("/api/v1/no-such-thing"))
        .await
        .unwrap();
    let body = problem(response, 404).await;
    assert_eq!(body["type"], "urn:nomad-gateway:problem:not-found");
}

#[tokio::test]
async fn an_invalid_simplified_spec_is_a_422_listing_every_invalid_field() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let client = reqwest::Client::new();
    let spec = json!({
        "job_id": "bad id",
        "cpu": 1,
        "memory": 5,
        "ports": [{"label": "http", "static": 0}, {"label": "http"}],
        "env": {"1BAD": "x"}
    });
    let response = client
        .post(gateway.url("/api/v1/jobs"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(body["type"], "urn:nomad-gateway:problem:validation");
    assert_eq!(
        fields(&body),
        [
            "job_id",
            "image",
            "cpu",
            "memory",
            "ports[0].static",
            "ports[1].label",
            "env.1BAD"
        ]
    );
    let cpu = &body["errors"][2]["message"];
    assert!(cpu.as_str().unwrap().contains("use 10 to"), "{cpu}");
}

#[tokio::test]
async fn wrong_types_missing_fields_and_bad_query_values_name_the_field() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let client = reqwest::Client::new();
    let post = |body: Value| client.post(gateway.url("/api/v1/jobs")).json(&body).send();

    let body = problem(
        post(json!({"job_id": "web", "cpu": "lots"})).await.unwrap(),
        422,
    )
    .await;
    assert_eq!(fields(&body), ["cpu"]);
    let body = problem(post(json!({"image": "nginx"})).await.unwrap(), 422).await;
    assert_eq!(fields(&body), ["job_id"]);
    let body = problem(
        post(json!({"job_id": "web", "image": "nginx", "ports": [{"to": 80}]}))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(fields(&body), ["ports[0].label"]);

    let response = client
        .get(gateway.url("/api/v1/jobs?per_page=many"))
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(response, 422).await), ["per_page"]);
    let response = client
        .get(gateway.url("/api/v1/jobs?status=sleeping"))
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(response, 422).await), ["status"]);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_before_nomad_is_asked() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let client = reqwest::Client::new();
    let response = client
        .post(gateway.url("/api/v1/jobs"))
        .header("content-type", "text/plain")
        .body("job_id=web")
        .send()
        .await
        .unwrap();
    problem(response, 415).await;
    let response = client
        .post(gateway.url("/api/v1/jobs"))
        .header("content-type", "application/json")
        .body("{\"job_id\": ")
        .send()
        .await
        .unwrap();
    let body = problem(response, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("not valid JSON"));
}

#[tokio::test]
async fn claude_create_job_names_invalid_fields_as_its_body_does() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let client = reqwest::Client::new();
    // The earlier service's example body, made invalid in three places.
    let spec = json!({
        "job_id": "example-job",
        "name": "Example Job",
        "type": "service",
        "datacenters": ["jm"],
        "namespace": "development",
        "docker_image": "nginx latest",
        "count": 1,
        "cpu": 100,
        "memory": 128,
        "ports": [{"Label": "http", "Value": 0, "To": 0}],
        "env_vars": {"ENV VAR": "value1"}
    });
    let response = client
        .post(gateway.url("/api/claude/create-job"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(
        fields(&body),
        ["docker_image", "ports[0].To", "env_vars.ENV VAR"]
    );

    let response = client
        .post(gateway.url("/api/claude/jobs"))
        .json(&json!({"job_id": "example-job", "action": "explode"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(response, 422).await), ["action"]);
}

#[tokio::test]
async fn an_unreachable_nomad_is_a_503_naming_its_address() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let response = reqwest::get(gateway.url("/api/v1/jobs/web?namespace=dev"))
        .await
        .unwrap();
    let body = problem(response, 503).await;
    assert_eq!(body["type"], "urn:nomad-gateway:problem:unavailable");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("http://127.0.0.1:1"), "{detail}");
}

/// A stand-in for Nomad that answers every request with `status` and `message`.
async fn nomad_answering(status: u16, message: &'static str) -> std::net::SocketAddr {
    let app = axum::Router::new().fallback(move || async move {
        (axum::http::StatusCode::from_u16(status).unwrap(), message)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn nomad_refusing_the_gateways_token_is_a_502_saying_so() {
    let db = TestDb::new().await;
    let nomad = nomad_answering(403, "Permission denied").await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &format!("http://{nomad}"));
    let gateway = Gateway::start(&env);
    let response = reqwest::Client::new()
        .post(gateway.url("/api/v1/jobs"))
        .json(&json!({"job_id": "web", "image": "nginx:1.27"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 502).await;
    assert_eq!(body["type"], "urn:nomad-gateway:problem:nomad-permission");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("the gateway's Nomad token lacks a permission"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_failing_nomad_is_a_502() {
    let db = TestDb::new().await;
    let nomad = nomad_answering(500, "rpc error: leader unknown").await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &format!("http://{nomad}"));
    let gateway = Gateway::start(&env);
    let response = reqwest::Client::new()
        .post(gateway.url("/api/v1/jobs"))
        .json(&json!({"job_id": "web", "image": "nginx:1.27"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 502).await;
    assert_eq!(body["type"], "urn:nomad-gateway:problem:nomad-failed");
}

#[tokio::test]
async fn actions_whose_fields_all_default_need_no_body_but_a_body_must_be_an_object() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let client = reqwest::Client::new();
    // No body at all: the request gets as far as Nomad, which is unreachable here.
    let response = client
        .post(gateway.url("/api/v1/jobs/web/evaluate"))
        .send()
        .await
        .unwrap();
    problem(response, 503).await;
    let response = client
        .put(gateway.url("/api/v1/nodes/n1/eligibility"))
        .json(&json!([false]))
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(response, 422).await), ["body"]);
}

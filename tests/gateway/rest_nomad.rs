//! Every REST operation end to end: the gateway process in front of the fake Nomad.
//! Success cases and the main failures (unknown job or namespace, invalid spec,
//! blocked placement, Nomad down or failing, the gateway's token refused).

use std::time::Duration;

use fake_nomad::{FakeNomad, FaultKind, Faults, Options, Token};
use serde_json::{Value, json};

use crate::support::{Gateway, TestDb, base_env, set};

pub struct Api {
    http: reqwest::Client,
    gateway: Gateway,
    _db: TestDb,
}

impl Api {
    pub async fn start(fake: &FakeNomad, extra: &[(&str, &str)]) -> Api {
        let db = TestDb::new().await;
        let mut env = base_env(&db);
        set(&mut env, "NOMAD_ADDR", &fake.url());
        for (k, v) in extra {
            set(&mut env, k, v);
        }
        Api {
            http: reqwest::Client::new(),
            gateway: Gateway::start(&env),
            _db: db,
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.gateway.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value:#}"
        );
        value
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok("GET", path, None).await
    }
}

fn web_spec(id: &str) -> Value {
    json!({
        "job_id": id, "image": "nginx:1.27", "count": 2, "memory": 128, "cpu": 200,
        "ports": [{"label": "http", "to": 80}], "env": {"MODE": "prod"},
        "health_check": {"path": "/health", "port": "http"}
    })
}

const SETTLE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_job_from_create_to_purge() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;

    let created = api.ok("POST", "/api/v1/jobs", Some(web_spec("web"))).await;
    assert_eq!(created["job_id"], "web");
    assert!(created["eval_id"].is_string(), "{created}");
    fake.settle(SETTLE).await;

    let list = api.get("/api/v1/jobs").await;
    let row = &list["items"][0];
    assert_eq!(row["id"], "web");
    assert_eq!(row["status"], "running", "{list:#}");
    let filtered = api.get("/api/v1/jobs?status=dead").await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 0, "{filtered}");
    let prefixed = api.get("/api/v1/jobs?prefix=we&status=running").await;
    assert_eq!(prefixed["items"].as_array().unwrap().len(), 1, "{prefixed}");

    let job = api.get("/api/v1/jobs/web").await;
    assert_eq!(job["status"], "running");
    // No datacenters given: every datacenter, as Nomad 1.5+ defaults.
    assert_eq!(job["datacenters"], json!(["*"]));
    assert!(job.to_string().contains("\"running\":2"), "{job:#}");

    let allocs = api.get("/api/v1/jobs/web/allocations").await;
    let allocs = allocs["items"].as_array().unwrap().clone();
    assert_eq!(allocs.len(), 2);
    let alloc_id = allocs[0]["id"].as_str().unwrap().to_string();
    let alloc = api.get(&format!("/api/v1/allocations/{alloc_id}")).await;
    assert!(alloc.to_string().contains("Started"), "{alloc:#}");

    let logs = api.get("/api/v1/jobs/web/logs?lines=3").await;
    assert!(logs.to_string().contains("GET /health 200"), "{logs:#}");

    let evals = api.get("/api/v1/jobs/web/evaluations").await;
    let eval_id = evals["items"][0]["id"].as_str().unwrap().to_string();
    api.get(&format!("/api/v1/evaluations/{eval_id}")).await;
    let deployments = api.get("/api/v1/jobs/web/deployments").await;
    let deployment_id = deployments["items"][0]["id"].as_str().unwrap().to_string();
    let deployment = api
        .get(&format!("/api/v1/deployments/{deployment_id}"))
        .await;
    assert_eq!(deployment["status"], "successful", "{deployment:#}");

    // Change: scale up, check the versions, revert.
    api.ok(
        "POST",
        "/api/v1/jobs/web/scale",
        Some(json!({"count": 3, "message": "more traffic"})),
    )
    .await;
    fake.settle(SETTLE).await;
    let allocs = api.get("/api/v1/jobs/web/allocations").await;
    let running = allocs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["client_status"] == "running")
        .count();
    assert_eq!(running, 3, "{allocs:#}");
    // The scale's deployment counts the two allocations kept in place and finishes.
    let job = api.get("/api/v1/jobs/web").await;
    assert_eq!(job["latest_deployment"]["status"], "successful", "{job:#}");
    assert_eq!(job["latest_deployment"]["job_version"], 1, "{job:#}");
    let versions = api.get("/api/v1/jobs/web/versions").await;
    assert!(versions.to_string().contains("\"version\":1"), "{versions}");
    api.ok(
        "POST",
        "/api/v1/jobs/web/revert",
        Some(json!({"version": 0})),
    )
    .await;

    // A plan of a changed image shows a destructive update and changes nothing.
    let plan = api
        .ok(
            "POST",
            "/api/v1/jobs/plan",
            Some(json!({"definition": r#"job "web" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    task "web" {
      driver = "docker"
      config { image = "nginx:1.28" }
      resources { memory = 128 }
    }
  }
}"#})),
        )
        .await;
    assert!(plan.to_string().contains("nginx:1.28"), "{plan:#}");
    let job = api.get("/api/v1/jobs/web").await;
    assert!(!job.to_string().contains("nginx:1.28"));

    // An in-place restart restarts the tasks of every running allocation.
    let restarted = api
        .ok("POST", "/api/v1/jobs/web/restart", Some(json!({})))
        .await;
    let ids = restarted["restarted_allocations"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!ids.is_empty(), "{restarted:#}");
    let one = api
        .get(&format!("/api/v1/allocations/{}", ids[0].as_str().unwrap()))
        .await;
    assert!(one.to_string().contains("Restart Signaled"), "{one:#}");

    api.ok("POST", "/api/v1/jobs/web/evaluate", Some(json!({})))
        .await;
    api.ok(
        "POST",
        &format!("/api/v1/allocations/{alloc_id}/restart"),
        Some(json!({})),
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/allocations/{alloc_id}/stop"),
        None,
    )
    .await;

    api.ok("DELETE", "/api/v1/jobs/web?purge=true", None).await;
    let (status, problem) = api.call("GET", "/api/v1/jobs/web", None).await;
    assert_eq!(status, 404, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("web") && detail.contains("default"),
        "{problem}"
    );
}

#[tokio::test]
async fn failures_come_back_as_clear_problems() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;

    // Unknown job and unknown namespace.
    let (status, problem) = api
        .call("GET", "/api/v1/jobs/nope?namespace=staging", None)
        .await;
    assert_eq!(status, 404, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("staging"),
        "{problem}"
    );
    let mut spec = web_spec("web");
    spec["namespace"] = json!("no-such-namespace");
    let (status, problem) = api.call("POST", "/api/v1/jobs", Some(spec)).await;
    assert!(status == 404 || status == 422, "{status} {problem}");
    assert!(
        problem.to_string().contains("no-such-namespace"),
        "{problem}"
    );

    // An invalid spec: 422 with one entry per field, and nothing reaches Nomad.
    fake.clear_requests();
    let (status, problem) = api
        .call(
            "POST",
            "/api/v1/jobs",
            Some(json!({"job_id": "bad id", "memory": 1, "count": 0})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for field in ["job_id", "memory", "count"] {
        assert!(fields.contains(&field), "{field} not in {problem:#}");
    }
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "an invalid spec reached Nomad"
    );

    // Nomad answering 5xx: 502 with Nomad's message.
    fake.set_faults(Faults {
        error_rate: 1.0,
        error_kind: FaultKind::ServerError,
        path_prefix: "/v1/jobs".into(),
        ..Faults::default()
    });
    let (status, problem) = api.call("GET", "/api/v1/jobs", None).await;
    assert_eq!(status, 502, "{problem}");
    fake.set_faults(Faults::default());

    // Nomad down: 503.
    let down = {
        let fake = FakeNomad::start(Options::default()).await;
        let api = Api::start(&fake, &[]).await;
        drop(fake);
        api
    };
    let (status, problem) = down.call("GET", "/api/v1/jobs", None).await;
    assert_eq!(status, 503, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("unreachable"),
        "{problem}"
    );
}

#[tokio::test]
async fn nomad_refusing_the_gateways_token_is_a_502_about_the_token() {
    let fake = FakeNomad::start(Options {
        tokens: vec![Token::management("root")],
        ..Options::default()
    })
    .await;
    let api = Api::start(&fake, &[("NOMAD_TOKEN", "not-the-token")]).await;
    let (status, problem) = api.call("GET", "/api/v1/jobs", None).await;
    assert_eq!(status, 502, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("token"), "{problem}");
    assert!(
        !detail.contains("not-the-token"),
        "the token leaked: {problem}"
    );
}

#[tokio::test]
async fn diagnosis_names_the_exhausted_resource_and_quotes_crashing_tasks() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;

    let mut huge = web_spec("huge");
    huge["memory"] = json!(100_000);
    api.ok("POST", "/api/v1/jobs", Some(huge)).await;
    let diagnosis = api.get("/api/v1/jobs/huge/diagnosis").await;
    let text = diagnosis.to_string();
    assert_eq!(diagnosis["healthy"], false, "{diagnosis:#}");
    assert!(text.contains("memory"), "{diagnosis:#}");
    assert!(text.contains("dc1"), "{diagnosis:#}");
    assert!(
        !diagnosis["blocked_evaluations"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{diagnosis:#}"
    );

    let mut crash = web_spec("crashy");
    crash["image"] = json!("registry.example/crashloop:1");
    crash["count"] = json!(1);
    api.ok("POST", "/api/v1/jobs", Some(crash)).await;
    fake.settle(SETTLE).await;
    let diagnosis = api.get("/api/v1/jobs/crashy/diagnosis").await;
    let text = diagnosis.to_string();
    assert_eq!(diagnosis["healthy"], false, "{diagnosis:#}");
    assert!(text.contains("Exceeded allowed attempts"), "{diagnosis:#}");
    assert!(
        text.contains("connection to db.service.consul:5432 refused"),
        "{diagnosis:#}"
    );
    assert!(!diagnosis["next_steps"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn hcl_submissions_dispatch_and_idempotency() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;
    let hcl = r#"
variable "image" { default = "busybox:1" }
job "report" {
  type = "batch"
  datacenters = ["dc1"]
  parameterized {
    payload       = "optional"
    meta_required = ["day"]
  }
  group "report" {
    task "run" {
      driver = "docker"
      config { image = var.image }
      resources { memory = 64 }
    }
  }
}
"#;
    let submitted = api
        .ok(
            "PUT",
            "/api/v1/jobs",
            Some(json!({"definition": hcl, "variables": {"image": "busybox:2"}})),
        )
        .await;
    assert_eq!(submitted["job_id"], "report");
    let job = api.get("/api/v1/jobs/report").await;
    assert_eq!(job["type"], "batch", "{job:#}");
    assert_eq!(
        job["status"], "running",
        "a parameterized job waits for dispatches"
    );

    let body = json!({"meta": {"day": "monday"}, "idempotency_token": "monday-run"});
    let first = api
        .ok("POST", "/api/v1/jobs/report/dispatch", Some(body.clone()))
        .await;
    let again = api
        .ok("POST", "/api/v1/jobs/report/dispatch", Some(body))
        .await;
    assert_eq!(first["dispatched_job_id"], again["dispatched_job_id"]);
    let (status, problem) = api
        .call("POST", "/api/v1/jobs/report/dispatch", Some(json!({})))
        .await;
    assert!(status == 400 || status == 422, "{status} {problem}");
    assert!(problem.to_string().contains("day"), "{problem}");

    // Broken HCL: Nomad's parser message, with the line.
    let (status, problem) = api
        .call(
            "PUT",
            "/api/v1/jobs",
            Some(json!({"definition": "job \"x\" {\n  group \"g\" {\n    count 3\n  }\n}\n"})),
        )
        .await;
    assert!(status == 400 || status == 422, "{status} {problem}");
    assert!(problem.to_string().contains(":3,"), "{problem}");
}

#[tokio::test]
async fn nodes_cluster_namespaces_and_events() {
    let fake = FakeNomad::start(Options {
        namespaces: vec!["staging".into()],
        ..Options::default()
    })
    .await;
    let api = Api::start(&fake, &[]).await;
    api.ok("POST", "/api/v1/jobs", Some(web_spec("web"))).await;
    fake.settle(SETTLE).await;

    let nodes = api.get("/api/v1/nodes").await;
    assert_eq!(nodes["items"].as_array().unwrap().len(), 3, "{nodes:#}");
    let node_id = fake.node_ids()[0].clone();
    let node = api.get(&format!("/api/v1/nodes/{node_id}")).await;
    assert!(node.to_string().contains("fake-node-1"), "{node:#}");

    api.ok(
        "PUT",
        &format!("/api/v1/nodes/{node_id}/eligibility"),
        Some(json!({"eligible": false})),
    )
    .await;
    let node = api.get(&format!("/api/v1/nodes/{node_id}")).await;
    assert!(node.to_string().contains("ineligible"), "{node:#}");
    api.ok(
        "PATCH",
        &format!("/api/v1/nodes/{node_id}/meta"),
        Some(json!({"meta": {"rack": "r9"}})),
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/nodes/{node_id}/drain"),
        Some(json!({"deadline_seconds": 60})),
    )
    .await;
    let (status, _) = api
        .call(
            "GET",
            "/api/v1/nodes/00000000-0000-0000-0000-000000000000",
            None,
        )
        .await;
    assert_eq!(status, 404);

    let cluster = api.get("/api/v1/cluster").await;
    assert!(
        cluster.to_string().contains("127.0.0.1:4647"),
        "{cluster:#}"
    );
    let namespaces = api.get("/api/v1/namespaces").await;
    assert!(namespaces.to_string().contains("staging"), "{namespaces:#}");
    let events = api.get("/api/v1/events?topics=Job&limit=5").await;
    let events = events["items"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["topic"] == "Job"), "{events:#?}");
    assert!(events.iter().any(|e| e["key"] == "web"), "{events:#?}");
}

#[tokio::test]
async fn lists_share_one_page_shape_and_a_missing_job_names_similar_ones() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;
    let mut spec = web_spec("web-api");
    spec["count"] = json!(3);
    api.ok("POST", "/api/v1/jobs", Some(spec)).await;
    fake.settle(SETTLE).await;

    // The gateway's own paging: total, a cursor to the next page, none on the last.
    let first = api.get("/api/v1/jobs/web-api/allocations?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2, "{first:#}");
    assert_eq!(first["total"], 3, "{first:#}");
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let last = api
        .get(&format!(
            "/api/v1/jobs/web-api/allocations?limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1, "{last:#}");
    assert!(last.get("next_cursor").is_none(), "{last:#}");
    // Nomad's paging for jobs, in the same shape (Nomad gives no total).
    let jobs = api.get("/api/v1/jobs?limit=1").await;
    assert_eq!(jobs["items"][0]["id"], "web-api", "{jobs:#}");
    for path in [
        "/api/v1/nodes",
        "/api/v1/namespaces",
        "/api/v1/operations",
        "/api/v1/jobs/web-api/versions",
        "/api/v1/jobs/web-api/deployments",
        "/api/v1/jobs/web-api/evaluations",
        "/api/v1/events",
    ] {
        let page = api.get(path).await;
        assert!(page["items"].is_array(), "{path}: {page:#}");
    }
    // A cursor it did not hand out, and a limit out of range: 422 naming the field.
    let (status, problem) = api
        .call("GET", "/api/v1/jobs/web-api/allocations?cursor=x", None)
        .await;
    assert_eq!(status, 422, "{problem:#}");
    assert_eq!(problem["errors"][0]["field"], "cursor", "{problem:#}");
    let (status, problem) = api.call("GET", "/api/v1/nodes?limit=0", None).await;
    assert_eq!(status, 422, "{problem:#}");
    assert_eq!(problem["errors"][0]["field"], "limit", "{problem:#}");

    // A job that is not there: the jobs with a similar name, as on MCP.
    let (status, problem) = api.call("GET", "/api/v1/jobs/web", None).await;
    assert_eq!(status, 404);
    assert_eq!(
        problem["detail"],
        "job 'web' not found in namespace 'default'; jobs with a similar name: web-api"
    );
    let (status, problem) = api
        .call(
            "POST",
            "/api/v1/jobs/wbe-api/scale",
            Some(json!({"count": 1})),
        )
        .await;
    assert_eq!(status, 404);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .ends_with("jobs with a similar name: web-api"),
        "{problem:#}"
    );
}

#[tokio::test]
async fn a_write_option_given_twice_is_refused_before_anything_runs() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;
    api.ok("POST", "/api/v1/jobs", Some(web_spec("web"))).await;
    let before = api.get("/api/v1/jobs/web").await["job_modify_index"].clone();
    for (path, parameter) in [
        ("/api/v1/jobs/web/scale?wait=5&wait=60", "wait"),
        (
            "/api/v1/jobs/web/scale?expected_version=1&expected_version=2",
            "expected_version",
        ),
        ("/api/v1/jobs/web/scale?wait=%FF", "wait"),
    ] {
        let (status, problem) = api.call("POST", path, Some(json!({"count": 5}))).await;
        assert_eq!(status, 400, "{path}: {problem:#}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("'{parameter}'")),
            "{path}: {problem:#}"
        );
    }
    let after = api.get("/api/v1/jobs/web").await;
    assert_eq!(after["job_modify_index"], before, "nothing ran: {after:#}");
}

#[tokio::test]
async fn services_show_where_instances_run_and_how_their_checks_stand() {
    let fake = FakeNomad::start(Options {
        namespaces: vec!["staging".into()],
        ..Options::default()
    })
    .await;
    let api = Api::start(&fake, &[]).await;
    // A Nomad service with an HTTP check (the spec's health check), and one whose checks
    // fail (the fake's `fake_nomad_check` meta).
    api.ok("POST", "/api/v1/jobs", Some(web_spec("web"))).await;
    let flaky = json!({"job": {
        "ID": "flaky", "Datacenters": ["dc1"], "Meta": {"fake_nomad_check": "failing"},
        "TaskGroups": [{"Name": "flaky", "Count": 1,
            "Networks": [{"DynamicPorts": [{"Label": "db"}]}],
            "Services": [{"Name": "flaky", "Provider": "nomad", "PortLabel": "db",
                          "Tags": ["db", "v1"],
                          "Checks": [{"Name": "probe", "Type": "tcp",
                                      "Interval": 10_000_000_000i64, "Timeout": 2_000_000_000i64}]}],
            "Tasks": [{"Name": "db", "Driver": "docker", "Config": {"image": "redis:7"},
                       "Resources": {"CPU": 100, "MemoryMB": 64}}]}]
    }});
    api.ok("PUT", "/api/v1/jobs", Some(flaky)).await;
    fake.settle(SETTLE).await;

    let listed = api.get("/api/v1/services").await;
    assert_eq!(
        listed["items"],
        json!([
            {"name": "flaky", "namespace": "default", "tags": ["db", "v1"]},
            {"name": "web", "namespace": "default", "tags": []}
        ]),
        "{listed:#}"
    );
    assert_eq!(listed["total"], 2);
    let first = api.get("/api/v1/services?limit=1").await;
    assert_eq!(first["next_cursor"], "1", "{first:#}");
    let staging = api.get("/api/v1/services?namespace=staging").await;
    assert_eq!(staging["items"], json!([]), "{staging:#}");

    let allocs = api.get("/api/v1/jobs/web/allocations").await;
    let alloc_ids: Vec<&str> = allocs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let service = api.get("/api/v1/services/web").await;
    assert_eq!(service["name"], "web");
    assert_eq!(service["instance_count"], 2, "{service:#}");
    assert_eq!(service["health"]["passing"], 2, "{service:#}");
    let instances = service["instances"].as_array().unwrap();
    for instance in instances {
        assert!(
            alloc_ids.contains(&instance["alloc_id"].as_str().unwrap()),
            "{instance:#}"
        );
        assert!(
            instance["address"].as_str().unwrap().starts_with("10.0.0."),
            "{instance:#}"
        );
        let port = instance["port"].as_u64().unwrap();
        assert!((20_000..32_000).contains(&port), "{instance:#}");
        assert_eq!(instance["job_id"], "web");
        assert_eq!(instance["datacenter"], "dc1");
        assert!(
            fake.node_ids()
                .contains(&instance["node_id"].as_str().unwrap().to_string())
        );
        assert_eq!(instance["health"], "passing", "{instance:#}");
        let check = &instance["checks"][0];
        assert_eq!(check["name"], "web http", "{instance:#}");
        assert_eq!(check["status"], "success");
        assert_eq!(check["http_status"], 200);
    }
    assert!(service.get("checks_note").is_none(), "{service:#}");

    let flaky = api.get("/api/v1/services/flaky").await;
    assert_eq!(flaky["health"]["failing"], 1, "{flaky:#}");
    let instance = &flaky["instances"][0];
    assert_eq!(instance["health"], "failing", "{flaky:#}");
    assert_eq!(instance["tags"], json!(["db", "v1"]));
    assert!(
        instance["checks"][0]["output"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{flaky:#}"
    );

    // One allocation's checks.
    let checks = api
        .get(&format!("/api/v1/allocations/{}/checks", alloc_ids[0]))
        .await;
    assert_eq!(checks["alloc_id"], alloc_ids[0]);
    assert_eq!(checks["job_id"], "web");
    let check = &checks["checks"][0];
    assert_eq!(check["service"], "web", "{checks:#}");
    assert_eq!(check["status"], "success");
    assert_eq!(check["mode"], "healthiness");
    assert_eq!(check["output"], "nomad: http ok");
    assert_eq!(check["output_truncated"], false);
    assert!(check["checked_at"].is_string(), "{checks:#}");
    let (status, problem) = api
        .call(
            "GET",
            "/api/v1/allocations/00000000-0000-0000-0000-000000000001/checks",
            None,
        )
        .await;
    assert_eq!(status, 404, "{problem:#}");

    // A name nothing registers: Nomad answers `[]`; the gateway says "not found".
    let (status, problem) = api.call("GET", "/api/v1/services/wbe", None).await;
    assert_eq!(status, 404, "{problem:#}");
    assert_eq!(
        problem["detail"],
        "service 'wbe' not found in namespace 'default'; services with a similar name: web"
    );
    let (status, problem) = api
        .call("GET", "/api/v1/services/web?namespace=staging", None)
        .await;
    assert_eq!(status, 404, "{problem:#}");
    assert!(
        problem["detail"].as_str().unwrap().starts_with(
            "service 'web' not found in namespace 'staging'; list the services (list_services"
        ),
        "{problem:#}"
    );
    let (status, problem) = api
        .call("GET", "/api/v1/services/web?namespace=*", None)
        .await;
    assert_eq!(status, 422, "{problem:#}");
    assert_eq!(problem["errors"][0]["field"], "namespace", "{problem:#}");

    // Once the job stops, its service is gone.
    api.ok("DELETE", "/api/v1/jobs/web", None).await;
    fake.settle(SETTLE).await;
    let (status, problem) = api.call("GET", "/api/v1/services/web", None).await;
    assert_eq!(status, 404, "{problem:#}");
    let checks = api
        .get(&format!("/api/v1/allocations/{}/checks", alloc_ids[0]))
        .await;
    assert_eq!(checks["checks"], json!([]), "{checks:#}");
}

#[tokio::test]
async fn a_large_service_reads_the_checks_of_twenty_allocations_at_most() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;
    let mut spec = web_spec("wide");
    spec["count"] = json!(23);
    spec["memory"] = json!(64);
    spec["cpu"] = json!(100);
    api.ok("POST", "/api/v1/jobs", Some(spec)).await;
    fake.settle(Duration::from_secs(20)).await;

    fake.clear_requests();
    let service = api.get("/api/v1/services/wide").await;
    assert_eq!(service["instance_count"], 23, "{service:#}");
    assert_eq!(service["health"]["passing"], 20, "{service:#}");
    assert_eq!(service["health"]["not_read"], 3, "{service:#}");
    let unread: Vec<&Value> = service["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["checks"].is_null())
        .collect();
    assert_eq!(unread.len(), 3, "{service:#}");
    assert!(unread.iter().all(|i| i["health"].is_null()));
    assert!(
        service["checks_note"]
            .as_str()
            .unwrap()
            .contains("first 20 allocations"),
        "{service:#}"
    );
    let check_reads = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/checks"))
        .count();
    assert_eq!(check_reads, 20, "one read per allocation, 20 at most");
}

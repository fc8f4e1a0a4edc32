//! Tracked operations end to end: the gateway process in front of the fake Nomad.
//! Final states (healthy, crashing, blocked, batch dispatch), waiting (write `wait`, long
//! poll, Server-Sent Events), idempotency keys, `expected_version`, serialized writes,
//! cancel, retention, and following across restarts and replicas.

use std::time::{Duration, Instant};

use fake_nomad::{FakeNomad, Options};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::{Gateway, TestDb, base_env, set};

/// One gateway (or several) in front of one fake Nomad.
struct Env {
    http: reqwest::Client,
    gateway: Gateway,
    db: TestDb,
    env: Vec<(String, String)>,
}

impl Env {
    async fn start(fake: &FakeNomad, extra: &[(&str, &str)]) -> Env {
        let db = TestDb::new().await;
        let env = env_for(&db, fake, extra);
        Env {
            http: reqwest::Client::new(),
            gateway: Gateway::start(&env),
            db,
            env,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        call(&self.http, &self.gateway, method, path, body, key).await
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body, None).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value:#}"
        );
        value
    }
}

fn env_for(db: &TestDb, fake: &FakeNomad, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = base_env(db);
    set(&mut env, "NOMAD_ADDR", &fake.url());
    for (k, v) in extra {
        set(&mut env, k, v);
    }
    env
}

async fn call(
    http: &reqwest::Client,
    gateway: &Gateway,
    method: &str,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (u16, Value) {
    let mut request = http.request(method.parse().unwrap(), gateway.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn web(id: &str) -> Value {
    json!({
        "job_id": id, "image": "nginx:1.27", "count": 2, "memory": 128, "cpu": 200,
        "ports": [{"label": "http", "to": 80}],
        "health_check": {"path": "/health", "port": "http"}
    })
}

fn slow() -> Options {
    Options {
        step: Duration::from_millis(400),
        ..Options::default()
    }
}

/// Polls the operation until `done` says so; panics after `timeout`.
async fn poll_until(
    http: &reqwest::Client,
    gateway: &Gateway,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let (status, op) = call(
            http,
            gateway,
            "GET",
            &format!("/api/v1/operations/{id}"),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{op:#}");
        if done(&op) {
            return op;
        }
        assert!(
            Instant::now() < deadline,
            "operation never got there: {op:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn registrations(fake: &FakeNomad) -> usize {
    fake.requests()
        .iter()
        .filter(|r| (r.method == "PUT" || r.method == "POST") && r.path == "/v1/jobs")
        .count()
}

#[tokio::test]
async fn a_healthy_deployment_ends_succeeded_and_wait_returns_the_final_state() {
    let fake = FakeNomad::start(Options::default()).await;
    let env = Env::start(&fake, &[]).await;

    let created = env
        .ok("POST", "/api/v1/jobs?wait=60s", Some(web("web")))
        .await;
    let id = created["operation_id"].as_str().unwrap().to_string();
    let op = &created["operation"];
    assert_eq!(op["id"], id.as_str());
    assert_eq!(op["state"], "succeeded", "{created:#}");
    assert_eq!(op["finished"], true);
    assert_eq!(op["kind"], "create");
    assert_eq!(op["job_id"], "web");
    assert_eq!(op["caller"], "local");
    assert!(op["deployment_id"].is_string(), "{op:#}");
    assert_eq!(op["groups"]["web"]["healthy"], 2, "{op:#}");
    assert_eq!(op["groups"]["web"]["desired"], 2, "{op:#}");
    assert!(
        op["message"].as_str().unwrap().contains("successful"),
        "{op:#}"
    );

    // Without wait: the id at once; the operation is readable and listed.
    let scaled = env
        .ok("POST", "/api/v1/jobs/web/scale", Some(json!({"count": 3})))
        .await;
    let scale_id = scaled["operation_id"].as_str().unwrap().to_string();
    assert!(scaled.get("operation").is_none(), "{scaled:#}");
    let done = poll_until(
        &env.http,
        &env.gateway,
        &scale_id,
        Duration::from_secs(30),
        |op| op["finished"] == true,
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done:#}");
    assert_eq!(done["kind"], "scale");

    let all = env.ok("GET", "/api/v1/operations?job=web", None).await;
    let ids: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![scale_id.as_str(), id.as_str()], "newest first");
    let scales = env.ok("GET", "/api/v1/operations?kind=scale", None).await;
    assert_eq!(scales["items"].as_array().unwrap().len(), 1, "{scales:#}");
    let failed = env.ok("GET", "/api/v1/operations?state=failed", None).await;
    assert!(failed["items"].as_array().unwrap().is_empty(), "{failed:#}");
    let mine = env.ok("GET", "/api/v1/operations?caller=local", None).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let nobody = env.ok("GET", "/api/v1/operations?caller=else", None).await;
    assert!(nobody["items"].as_array().unwrap().is_empty());
    let (status, problem) = env
        .call("GET", "/api/v1/operations?state=done", None, None)
        .await;
    assert_eq!(status, 422, "{problem:#}");

    // Stop: followed until no allocation runs.
    let stopped = env.ok("DELETE", "/api/v1/jobs/web?wait=30s", None).await;
    assert_eq!(stopped["operation"]["state"], "succeeded", "{stopped:#}");
    assert!(
        stopped["operation"]["message"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{stopped:#}"
    );
    let (status, _) = env
        .call(
            "GET",
            "/api/v1/operations/0193a1b2-0000-7000-8000-000000000000",
            None,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn crashing_tasks_fail_with_the_exit_reason() {
    let fake = FakeNomad::start(Options::default()).await;
    let env = Env::start(&fake, &[]).await;
    let mut spec = web("crashy");
    spec["image"] = json!("registry.example/crashloop:1");
    let created = env.ok("POST", "/api/v1/jobs?wait=120s", Some(spec)).await;
    let op = &created["operation"];
    assert_eq!(op["state"], "failed", "{created:#}");
    let message = op["message"].as_str().unwrap();
    assert!(message.starts_with("deployment failed"), "{message}");
    assert!(message.contains("unhealthy"), "{message}");
    assert!(
        message.contains("task 'crashy' exited with code 1"),
        "{message}"
    );
}

#[tokio::test]
async fn a_placement_that_cannot_happen_reports_the_blocked_evaluation() {
    let fake = FakeNomad::start(Options::default()).await;
    let env = Env::start(&fake, &[]).await;
    let mut spec = web("huge");
    spec["memory"] = json!(20000);
    let created = env.ok("POST", "/api/v1/jobs?wait=30s", Some(spec)).await;
    let op = &created["operation"];
    assert_eq!(op["state"], "failed", "{created:#}");
    let message = op["message"].as_str().unwrap();
    assert!(message.contains("placement failed"), "{message}");
    assert!(message.contains("20000 MB free memory"), "{message}");
}

#[tokio::test]
async fn a_batch_dispatch_ends_when_its_allocation_completes() {
    let fake = FakeNomad::start(Options::default()).await;
    let env = Env::start(&fake, &[]).await;
    let hcl = r#"
job "report" {
  type = "batch"
  datacenters = ["dc1"]
  parameterized {
    payload = "optional"
  }
  group "report" {
    task "run" {
      driver = "docker"
      config { image = "busybox:1" }
      resources { memory = 64 }
    }
  }
}
"#;
    env.ok("PUT", "/api/v1/jobs", Some(json!({"definition": hcl})))
        .await;
    let dispatched = env
        .ok(
            "POST",
            "/api/v1/jobs/report/dispatch?wait=30s",
            Some(json!({})),
        )
        .await;
    let op = &dispatched["operation"];
    assert_eq!(op["kind"], "dispatch");
    assert_eq!(op["state"], "succeeded", "{dispatched:#}");
    assert_eq!(op["dispatched_job_id"], dispatched["dispatched_job_id"]);
    assert!(
        op["message"].as_str().unwrap().contains("complete"),
        "{op:#}"
    );
    // Ended because the allocation completed: Nomad says so too.
    let child = dispatched["dispatched_job_id"].as_str().unwrap();
    let allocs = env
        .ok(
            "GET",
            &format!("/api/v1/jobs/{}/allocations", child.replace('/', "%2F")),
            None,
        )
        .await;
    assert!(
        allocs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.to_string().contains("complete")),
        "{allocs:#}"
    );
}

#[tokio::test]
async fn long_poll_and_the_event_stream_deliver_intermediate_states() {
    let fake = FakeNomad::start(slow()).await;
    let env = Env::start(&fake, &[]).await;

    // Server-Sent Events.
    let created = env.ok("POST", "/api/v1/jobs", Some(web("web"))).await;
    let id = created["operation_id"].as_str().unwrap().to_string();
    let response = env
        .http
        .get(env.gateway.url(&format!("/api/v1/operations/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut events: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The stream ends by itself after the final event.
    while let Some(chunk) = tokio::time::timeout_at(deadline.into(), stream.next())
        .await
        .expect("the event stream did not end")
    {
        buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                events.push(serde_json::from_str(data).unwrap());
            }
        }
    }
    let states: Vec<&str> = events
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.last(), Some(&"succeeded"), "{states:?}");
    assert!(states.contains(&"deploying"), "{states:?}");
    let healthy: Vec<u64> = events
        .iter()
        .filter_map(|e| e["groups"]["web"]["healthy"].as_u64())
        .collect();
    assert!(
        healthy.len() >= 2 && healthy.first() < healthy.last(),
        "progress grew step by step: {healthy:?}"
    );

    // Long poll: each answer comes at a change, so the steps are seen one by one.
    let scaled = env
        .ok("POST", "/api/v1/jobs/web/scale", Some(json!({"count": 4})))
        .await;
    let id = scaled["operation_id"].as_str().unwrap().to_string();
    let mut seen = Vec::new();
    loop {
        let op = env
            .ok("GET", &format!("/api/v1/operations/{id}?wait=30s"), None)
            .await;
        seen.push((
            op["state"].as_str().unwrap().to_string(),
            op["message"].as_str().unwrap_or_default().to_string(),
        ));
        if op["finished"] == true {
            break;
        }
        assert!(seen.len() < 200, "{seen:#?}");
    }
    assert_eq!(seen.last().unwrap().0, "succeeded", "{seen:#?}");
    let intermediate = seen.iter().filter(|(s, _)| s != "succeeded").count();
    assert!(intermediate >= 1, "{seen:#?}");
    // Every answer is a change.
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:#?}");
}

#[tokio::test]
async fn an_idempotency_key_makes_one_registration_and_refuses_other_arguments() {
    let fake = FakeNomad::start(Options::default()).await;
    let env = Env::start(&fake, &[]).await;
    let before = registrations(&fake);
    let (status, first) = env
        .call("POST", "/api/v1/jobs", Some(web("web")), Some("deploy-42"))
        .await;
    assert_eq!(status, 201, "{first:#}");
    let (status, again) = env
        .call("POST", "/api/v1/jobs", Some(web("web")), Some("deploy-42"))
        .await;
    assert_eq!(status, 201, "{again:#}");
    assert_eq!(first["operation_id"], again["operation_id"]);
    assert_eq!(first["eval_id"], again["eval_id"]);
    assert_eq!(registrations(&fake) - before, 1, "one Nomad registration");

    // Parallel retries: still one.
    let calls = (0..4).map(|_| {
        call(
            &env.http,
            &env.gateway,
            "POST",
            "/api/v1/jobs",
            Some(web("api")),
            Some("deploy-43"),
        )
    });
    let answers = futures::future::join_all(calls).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, v)| {
            assert_eq!(*status, 201, "{v:#}");
            v["operation_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{answers:#?}");
    assert_eq!(registrations(&fake) - before, 2);

    let mut other = web("web");
    other["count"] = json!(5);
    let (status, problem) = env
        .call("POST", "/api/v1/jobs", Some(other), Some("deploy-42"))
        .await;
    assert_eq!(status, 409, "{problem:#}");
    assert!(
        problem["detail"].as_str().unwrap().contains("deploy-42"),
        "{problem:#}"
    );
    assert_eq!(
        registrations(&fake) - before,
        2,
        "no call for the refused one"
    );

    let listed = env.ok("GET", "/api/v1/operations?kind=create", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed:#}");
}

#[tokio::test]
async fn expected_version_conflicts_name_the_current_version() {
    let fake = FakeNomad::start(Options::default()).await;
    let env = Env::start(&fake, &[]).await;
    let created = env.ok("POST", "/api/v1/jobs", Some(web("web"))).await;
    let index = created["job_modify_index"].as_u64().unwrap();
    let mut changed = web("web");
    changed["count"] = json!(3);
    // 0: only when the job does not exist yet.
    let (status, fresh) = env
        .call(
            "POST",
            "/api/v1/jobs?expected_version=0",
            Some(web("fresh")),
            None,
        )
        .await;
    assert_eq!(status, 201, "{fresh:#}");
    let (status, problem) = env
        .call(
            "POST",
            "/api/v1/jobs?expected_version=0",
            Some(web("fresh")),
            None,
        )
        .await;
    assert_eq!(status, 409, "{problem:#}");
    // Someone else changes the job meanwhile.
    env.ok("POST", "/api/v1/jobs/web/scale", Some(json!({"count": 1})))
        .await;
    let job = env.ok("GET", "/api/v1/jobs/web", None).await;
    let current = job["job_modify_index"].as_u64().unwrap();
    assert!(current > index);
    let (status, problem) = env
        .call(
            "POST",
            &format!("/api/v1/jobs?expected_version={index}"),
            Some(changed.clone()),
            None,
        )
        .await;
    assert_eq!(status, 409, "{problem:#}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("current version is {}", job["version"])),
        "{detail}"
    );
    assert!(detail.contains(&current.to_string()), "{detail}");
    let (status, ok) = env
        .call(
            "POST",
            &format!("/api/v1/jobs?expected_version={current}"),
            Some(changed),
            None,
        )
        .await;
    assert_eq!(status, 201, "{ok:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_to_one_job_are_serialized() {
    let fake = FakeNomad::start(Options::default()).await;
    let env = Env::start(&fake, &[]).await;
    env.ok("POST", "/api/v1/jobs?wait=30s", Some(web("web")))
        .await;
    // A re-deploy reads the job and registers it with EnforceIndex: interleaved, all
    // but one would conflict. Serialized, every one succeeds on top of the previous.
    let calls = (0..6).map(|_| {
        call(
            &env.http,
            &env.gateway,
            "POST",
            "/api/v1/jobs/web/restart",
            Some(json!({"mode": "redeploy"})),
            None,
        )
    });
    let answers = futures::future::join_all(calls).await;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer:#}");
    }
    let job = env.ok("GET", "/api/v1/jobs/web", None).await;
    assert_eq!(
        job["version"], 6,
        "six re-deploys, one after another: {job:#}"
    );
    let restarts = env.ok("GET", "/api/v1/operations?kind=restart", None).await;
    assert_eq!(restarts["items"].as_array().unwrap().len(), 6);
    // The older re-deploys were replaced by newer ones before they finished.
    let mut states = Vec::new();
    for (_, answer) in &answers {
        let id = answer["operation_id"].as_str().unwrap();
        let done = poll_until(&env.http, &env.gateway, id, Duration::from_secs(60), |op| {
            op["finished"] == true
        })
        .await;
        states.push((
            done["job_version"].as_u64().unwrap(),
            done["state"].as_str().unwrap().to_string(),
            done["message"].as_str().unwrap().to_string(),
        ));
    }
    states.sort();
    let versions: Vec<u64> = states.iter().map(|s| s.0).collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6], "{states:#?}");
    assert_eq!(states.last().unwrap().1, "succeeded", "{states:#?}");
    assert!(states.iter().any(|s| s.1 == "superseded"), "{states:#?}");
    assert!(
        states
            .iter()
            .all(|s| s.1 == "succeeded" || s.1 == "superseded"),
        "{states:#?}"
    );
}

#[tokio::test]
async fn cancel_fails_the_active_deployment() {
    let fake = FakeNomad::start(slow()).await;
    let env = Env::start(&fake, &[]).await;
    let created = env.ok("POST", "/api/v1/jobs", Some(web("web"))).await;
    let id = created["operation_id"].as_str().unwrap().to_string();
    let deploying = poll_until(
        &env.http,
        &env.gateway,
        &id,
        Duration::from_secs(30),
        |op| op["state"] == "deploying" && op["deployment_id"].is_string(),
    )
    .await;
    let cancelled = env
        .ok(
            "POST",
            &format!("/api/v1/operations/{id}/cancel"),
            Some(json!({"reason": "wrong image"})),
        )
        .await;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled:#}");
    assert!(
        cancelled["message"]
            .as_str()
            .unwrap()
            .contains("failed on request"),
        "{cancelled:#}"
    );
    let deployment = env
        .ok(
            "GET",
            &format!(
                "/api/v1/deployments/{}",
                deploying["deployment_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(deployment["status"], "failed", "{deployment:#}");
    let (status, problem) = env
        .call(
            "POST",
            &format!("/api/v1/operations/{id}/cancel"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 409, "{problem:#}");
    // The watcher leaves a cancelled operation alone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = env
        .ok("GET", &format!("/api/v1/operations/{id}"), None)
        .await;
    assert_eq!(after["state"], "cancelled", "{after:#}");
}

#[tokio::test]
async fn finished_operations_are_removed_after_the_retention() {
    let fake = FakeNomad::start(Options::default()).await;
    let env = Env::start(&fake, &[("GATEWAY_OPERATIONS_RETENTION", "2s")]).await;
    let created = env
        .ok("POST", "/api/v1/jobs?wait=30s", Some(web("web")))
        .await;
    assert_eq!(created["operation"]["state"], "succeeded");
    let id = created["operation_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _) = env
            .call("GET", &format!("/api/v1/operations/{id}"), None, None)
            .await;
        if status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "still there after 15 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Which of `gateways` logged that it follows `id`.
fn followers(gateways: &[&Gateway], id: &str) -> Vec<usize> {
    gateways
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            g.logs()
                .lines()
                .any(|l| l.contains("following operation") && l.contains(id))
        })
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_deployment_finishes_the_operation_after_a_restart() {
    let fake = FakeNomad::start(Options {
        step: Duration::from_millis(600),
        ..Options::default()
    })
    .await;
    let mut env = Env::start(&fake, &[("GATEWAY_OPERATIONS_LEASE", "2s")]).await;
    let mut spec = web("web");
    spec["count"] = json!(3);
    let created = env.ok("POST", "/api/v1/jobs", Some(spec)).await;
    let id = created["operation_id"].as_str().unwrap().to_string();
    let deploying = poll_until(
        &env.http,
        &env.gateway,
        &id,
        Duration::from_secs(30),
        |op| op["state"] == "deploying",
    )
    .await;
    assert!(!deploying["finished"].as_bool().unwrap());
    env.gateway.signal("KILL");
    env.gateway.wait_exit(Duration::from_secs(10)).await;

    let second = Gateway::start(&env.env);
    let done = poll_until(&env.http, &second, &id, Duration::from_secs(60), |op| {
        op["finished"] == true
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done:#}");
    assert_eq!(done["groups"]["web"]["healthy"], 3, "{done:#}");
    assert_eq!(followers(&[&second], &id), vec![0], "{}", second.logs());
    let _ = &env.db;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL with Postgres; tests/run.sh runs it"]
async fn two_gateways_on_one_postgres_follow_each_operation_once_and_hand_over() {
    let fake = FakeNomad::start(Options {
        step: Duration::from_millis(700),
        ..Options::default()
    })
    .await;
    let db = TestDb::new().await;
    assert!(db.is_postgres(), "set TEST_DATABASE_URL=postgres://...");
    let env = env_for(&db, &fake, &[("GATEWAY_OPERATIONS_LEASE", "2s")]);
    let mut gateways = vec![Gateway::start(&env), Gateway::start(&env)];
    let http = reqwest::Client::new();

    // Writes through both replicas.
    let mut ids = Vec::new();
    for (i, job) in ["a", "b", "c", "d"].into_iter().enumerate() {
        let mut spec = web(job);
        spec["count"] = json!(3);
        let (status, created) = call(
            &http,
            &gateways[i % 2],
            "POST",
            "/api/v1/jobs",
            Some(spec),
            None,
        )
        .await;
        assert_eq!(status, 201, "{created:#}");
        ids.push(created["operation_id"].as_str().unwrap().to_string());
    }
    // Each is followed by exactly one replica, which the operation names.
    let mut owner_of = Vec::new();
    for id in &ids {
        let op = poll_until(&http, &gateways[0], id, Duration::from_secs(30), |op| {
            op["state"] == "deploying" && op["followed_by"].is_string()
        })
        .await;
        let refs: Vec<&Gateway> = gateways.iter().collect();
        let who = followers(&refs, id);
        assert_eq!(who.len(), 1, "{id} followed by {who:?}");
        owner_of.push((who[0], op["followed_by"].as_str().unwrap().to_string()));
    }

    // Kill the replica following the first operation; the other one finishes it.
    let (victim, _) = owner_of[0].clone();
    let survivor = 1 - victim;
    gateways[victim].signal("KILL");
    gateways[victim].wait_exit(Duration::from_secs(10)).await;
    for (i, id) in ids.iter().enumerate() {
        let done = poll_until(
            &http,
            &gateways[survivor],
            id,
            Duration::from_secs(60),
            |op| op["finished"] == true,
        )
        .await;
        assert_eq!(done["state"], "succeeded", "{done:#}");
        if owner_of[i].0 == victim {
            assert!(
                followers(&[&gateways[survivor]], id) == vec![0],
                "the survivor took {id} over:\n{}",
                gateways[survivor].logs()
            );
        }
    }
    gateways.clear();
    drop(db);
}

#[tokio::test]
async fn mcp_tools_read_wait_for_and_cancel_operations() {
    use crate::mcp::{Mcp, ok, tool_error};
    let fake = FakeNomad::start(slow()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let client = mcp.client().await;
    let tools = client.list_all_tools().await.unwrap();
    let recorder = client.service().clone();
    let before = registrations(&fake);

    let mut spec = web("web");
    spec["idempotency_key"] = json!("mcp-web-1");
    let created = ok(&client, &tools, "create_job", spec.clone()).await;
    let id = created["operation_id"].as_str().unwrap().to_string();
    let again = ok(&client, &tools, "create_job", spec.clone()).await;
    assert_eq!(again["operation_id"], id.as_str());
    assert_eq!(registrations(&fake) - before, 1, "one Nomad registration");
    spec["count"] = json!(4);
    let refused = tool_error(&client, "create_job", spec).await;
    assert!(refused.contains("mcp-web-1"), "{refused}");

    let waited = ok(
        &client,
        &tools,
        "wait_for_operation",
        json!({"operation_id": id, "timeout": 60}),
    )
    .await;
    assert_eq!(waited["state"], "succeeded", "{waited:#}");
    assert_eq!(waited["finished"], true);
    let steps: Vec<String> = recorder
        .progress
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| p.message.clone())
        .collect();
    assert!(
        steps.iter().any(|m| m.starts_with("deploying")),
        "intermediate steps: {steps:?}"
    );
    assert!(steps.last().unwrap().starts_with("succeeded"), "{steps:?}");

    let got = ok(
        &client,
        &tools,
        "get_operation",
        json!({"operation_id": id}),
    )
    .await;
    assert_eq!(got["kind"], "create");
    let listed = ok(
        &client,
        &tools,
        "list_operations",
        json!({"job": "web", "state": "succeeded"}),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed:#}");
    let finished = tool_error(&client, "cancel_operation", json!({"operation_id": id})).await;
    assert!(finished.contains("already succeeded"), "{finished}");

    // A stale expected_version names the current version.
    let mut stale = web("web");
    stale["expected_version"] = json!(1);
    let conflict = tool_error(&client, "create_job", stale).await;
    assert!(conflict.contains("current version is 0"), "{conflict}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_stopped_gracefully_hands_its_operations_over_at_once() {
    let fake = FakeNomad::start(Options {
        step: Duration::from_millis(600),
        ..Options::default()
    })
    .await;
    // A lease far longer than the test may take: only a hand-over lets the next one in.
    let mut env = Env::start(&fake, &[("GATEWAY_OPERATIONS_LEASE", "5m")]).await;
    let created = env.ok("POST", "/api/v1/jobs", Some(web("web"))).await;
    let id = created["operation_id"].as_str().unwrap().to_string();
    poll_until(
        &env.http,
        &env.gateway,
        &id,
        Duration::from_secs(30),
        |op| op["state"] == "deploying" && op["followed_by"].is_string(),
    )
    .await;
    env.gateway.signal("TERM");
    env.gateway.wait_exit(Duration::from_secs(30)).await;
    assert!(
        env.gateway
            .logs()
            .contains("handed unfinished operations over"),
        "{}",
        env.gateway.logs()
    );

    let second = Gateway::start(&env.env);
    let done = poll_until(&env.http, &second, &id, Duration::from_secs(30), |op| {
        op["finished"] == true
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done:#}");
    assert_eq!(followers(&[&second], &id), vec![0]);
}

#[tokio::test]
async fn a_wait_ends_before_the_request_deadline_with_the_operation_as_it_stands() {
    let fake = FakeNomad::start(Options {
        step: Duration::from_secs(3),
        ..Options::default()
    })
    .await;
    let env = Env::start(&fake, &[("GATEWAY_REQUEST_TIMEOUT", "4s")]).await;
    let started = Instant::now();
    let (status, created) = env
        .call("POST", "/api/v1/jobs?wait=60s", Some(web("web")), None)
        .await;
    assert_eq!(status, 201, "{created:#}");
    assert!(started.elapsed() < Duration::from_secs(4));
    let op = &created["operation"];
    assert_eq!(op["finished"], false, "{created:#}");
    assert!(
        op["state"] == "evaluating" || op["state"] == "deploying",
        "{created:#}"
    );
}

#[tokio::test]
async fn operations_are_visible_to_callers_allowed_in_their_namespace() {
    use crate::auth::create_key;
    let fake = FakeNomad::start(Options {
        namespaces: vec!["staging".into()],
        ..Options::default()
    })
    .await;
    let db = TestDb::new().await;
    let mut env = env_for(&db, &fake, &[]);
    set(&mut env, "GATEWAY_AUTH", "on");
    let (_, writer) = create_key(&env, &["nomad:read", "nomad:write"], &["default"], None);
    let (_, stranger) = create_key(&env, &["nomad:read", "nomad:write"], &["staging"], None);
    let (_, reader) = create_key(&env, &["nomad:read"], &["default"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let send = |method: &str, path: &str, token: &str, body: Option<Value>| {
        let mut request = http
            .request(method.parse().unwrap(), gateway.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let (status, created) = send("POST", "/api/v1/jobs?wait=30s", &writer, Some(web("web"))).await;
    assert_eq!(status, 201, "{created:#}");
    let id = created["operation_id"].as_str().unwrap();
    let path = format!("/api/v1/operations/{id}");

    let (status, op) = send("GET", &path, &reader, None).await;
    assert_eq!(status, 200, "{op:#}");
    let (status, problem) = send("GET", &path, &stranger, None).await;
    assert_eq!(status, 403, "{problem:#}");
    assert!(problem.to_string().contains("'default'"), "{problem:#}");
    let (status, events) = send("GET", &format!("{path}/events"), &stranger, None).await;
    assert_eq!(status, 403, "{events:#}");
    let (status, listed) = send("GET", "/api/v1/operations", &stranger, None).await;
    assert_eq!(status, 200);
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed:#}");
    let (status, listed) = send("GET", "/api/v1/operations", &reader, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed:#}");
    // Cancelling needs nomad:write in the operation's namespace.
    let cancel = format!("{path}/cancel");
    let (status, _) = send("POST", &cancel, &reader, Some(json!({}))).await;
    assert_eq!(status, 403);
    let (status, _) = send("POST", &cancel, &stranger, Some(json!({}))).await;
    assert_eq!(status, 403);
    let (status, problem) = send("POST", &cancel, &writer, Some(json!({}))).await;
    assert_eq!(status, 409, "finished already: {problem:#}");
    drop(gateway);
}

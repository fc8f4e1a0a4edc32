//! The `/api/claude/*` compatibility routes with request bodies in the earlier service's
//! shapes, and canary deployments (promote and fail) over REST, against the fake Nomad.

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};

use crate::rest_nomad::Api;

const SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::test]
async fn the_claude_routes_answer_in_the_earlier_shapes() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;

    // The earlier service's create-job body: capitalised port fields, env_vars.
    let created = api
        .ok(
            "POST",
            "/api/claude/create-job",
            Some(json!({
                "job_id": "nginx-demo",
                "name": "nginx-demo",
                "type": "service",
                "datacenters": ["dc1"],
                "namespace": "default",
                "docker_image": "nginx:latest",
                "count": 2,
                "cpu": 100,
                "memory": 128,
                "ports": [{"Label": "http", "Value": 0, "To": 80}],
                "env_vars": {"NGINX_PORT": "80"}
            })),
        )
        .await;
    assert_eq!(created["success"], true, "{created}");
    assert_eq!(created["job_id"], "nginx-demo");
    assert!(created["message"].is_string());
    fake.settle(SETTLE).await;

    let jobs = api.get("/api/claude/list-jobs?namespace=default").await;
    let jobs = jobs.as_array().expect("a bare array of jobs");
    let job = jobs
        .iter()
        .find(|j| j["id"] == "nginx-demo")
        .expect("the job");
    for key in ["id", "name", "type", "status", "namespace"] {
        assert!(job.get(key).is_some(), "{key} missing in {job}");
    }
    assert_eq!(job["status"], "running");

    let status = api
        .ok(
            "POST",
            "/api/claude/jobs",
            Some(json!({"job_id": "nginx-demo", "action": "status", "namespace": "default"})),
        )
        .await;
    assert_eq!(status["success"], true);
    assert_eq!(status["status"], "running", "{status}");

    let logs = api
        .get("/api/claude/job-logs/nginx-demo?namespace=default")
        .await;
    assert_eq!(logs["success"], true, "{logs}");
    assert!(logs["allocation_id"].is_string());
    assert!(
        logs["stdout"].as_str().unwrap().contains("listening on"),
        "{logs}"
    );

    let restarted = api
        .ok(
            "POST",
            "/api/claude/jobs",
            Some(json!({"job_id": "nginx-demo", "action": "restart", "namespace": "default"})),
        )
        .await;
    assert_eq!(restarted["success"], true, "{restarted}");

    let stopped = api
        .ok(
            "POST",
            "/api/claude/jobs",
            Some(json!({"job_id": "nginx-demo", "action": "stop", "namespace": "default", "purge": true})),
        )
        .await;
    assert_eq!(stopped["success"], true, "{stopped}");
    let (status, problem) = api.call("GET", "/api/v1/jobs/nginx-demo", None).await;
    assert_eq!(status, 404, "{problem}");

    // An invalid body names the field in that service's terms.
    let (status, problem) = api
        .call(
            "POST",
            "/api/claude/create-job",
            Some(json!({"job_id": "x", "docker_image": "", "ports": [{"Label": "", "To": 80}]})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("docker_image"), "{problem}");
}

async fn canary_job(api: &Api, fake: &FakeNomad, id: &str) -> Value {
    let job = |image: &str| {
        json!({"job": {
            "ID": id, "Datacenters": ["dc1"],
            "Update": {"Canary": 1, "MaxParallel": 1},
            "TaskGroups": [{"Name": "web", "Count": 2, "Tasks": [{
                "Name": "web", "Driver": "docker", "Config": {"image": image},
                "Resources": {"CPU": 100, "MemoryMB": 64}
            }]}]
        }})
    };
    api.ok("PUT", "/api/v1/jobs", Some(job("nginx:1"))).await;
    fake.settle(SETTLE).await;
    api.ok("PUT", "/api/v1/jobs", Some(job("nginx:2"))).await;
    fake.settle(SETTLE).await;
    let deployments = api.get(&format!("/api/v1/jobs/{id}/deployments")).await;
    deployments["items"][0].clone()
}

#[tokio::test]
async fn canary_deployments_wait_for_promotion_and_can_be_failed() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;

    let deployment = canary_job(&api, &fake, "shop").await;
    let id = deployment["id"].as_str().unwrap().to_string();
    assert_eq!(deployment["status"], "running", "{deployment:#}");
    assert!(
        deployment.to_string().contains("requires manual promotion"),
        "{deployment:#}"
    );
    api.ok(
        "POST",
        &format!("/api/v1/deployments/{id}/promote"),
        Some(json!({})),
    )
    .await;
    fake.settle(SETTLE).await;
    let promoted = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(promoted["status"], "successful", "{promoted:#}");
    // Promoting a finished deployment is the caller's mistake, not Nomad failing.
    let (status, problem) = api
        .call(
            "POST",
            &format!("/api/v1/deployments/{id}/promote"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");

    let deployment = canary_job(&api, &fake, "cart").await;
    let id = deployment["id"].as_str().unwrap().to_string();
    api.ok(
        "POST",
        &format!("/api/v1/deployments/{id}/fail"),
        Some(json!({})),
    )
    .await;
    let failed = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    let (status, _) = api
        .call(
            "GET",
            "/api/v1/deployments/00000000-0000-0000-0000-000000000000",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

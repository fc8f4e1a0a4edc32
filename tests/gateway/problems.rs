//! `find_problems` against the fake Nomad: a cluster seeded with one of each problem
//! reports each exactly once, most severe first, each with its next call; a healthy
//! cluster says so in one line. Lost allocations are seeded as Nomad makes them, with a
//! node that goes down: the scheduler replaces them elsewhere and the node's finding
//! names them. Lost allocations with nothing to explain them (no down node, no blocked
//! placement) only last until the scheduler acts, in Nomad as in the fake; `analyze`'s
//! unit tests cover that finding.

use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};

use crate::mcp::{Mcp, ok};
use crate::rest_nomad::Api;

fn nomad_job(id: &str, image: &str, update: Value) -> Value {
    json!({"job": {"ID": id, "Update": update, "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{
        "Name": "server", "Driver": "docker", "Config": {"image": image},
        "Resources": {"CPU": 100, "MemoryMB": 64}
    }]}]}})
}

fn kinds(report: &Value) -> Vec<(String, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_string(),
                p["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn one_of_each_problem_is_reported_once_most_severe_first() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;

    // A node that goes down under a job: its allocation is lost and replaced elsewhere.
    // The job lands there because the node is the smallest (bin packing fills the
    // fullest node the ask fits on).
    let down = fake.add_node("dc1", 4000, 1024);
    api.ok(
        "PUT",
        "/api/v1/jobs",
        Some(nomad_job("gone", "nginx:1", json!({}))),
    )
    .await;
    fake.settle(Duration::from_secs(10)).await;
    let on_down = api.get("/api/v1/jobs/gone/allocations").await;
    assert_eq!(on_down["items"][0]["node_id"], down.as_str(), "{on_down:#}");
    fake.set_node_status(&down, "down");
    // A node draining while a batch allocation runs on it: Nomad's drainer leaves batch
    // work to finish (until the drain's deadline, an hour by default).
    let draining = fake.add_node("dc2", 4000, 8192);
    let mut longrun = nomad_job("longrun", "nginx:1", json!({}));
    longrun["job"]["Type"] = json!("batch");
    longrun["job"]["Datacenters"] = json!(["dc2"]);
    longrun["job"]["TaskGroups"][0]["Tasks"][0]["Meta"] = json!({"fake_nomad_behavior": "busy"});
    api.ok("PUT", "/api/v1/jobs", Some(longrun)).await;
    fake.settle(Duration::from_secs(10)).await;
    api.ok(
        "POST",
        &format!("/api/v1/nodes/{draining}/drain"),
        Some(json!({})),
    )
    .await;
    // And a cordoned node.
    let cordoned = fake.add_node("dc1", 4000, 8192);
    api.ok(
        "PUT",
        &format!("/api/v1/nodes/{cordoned}/eligibility"),
        Some(json!({"eligible": false})),
    )
    .await;
    // A rollout paused and left past its progress deadline (its health is set by hand,
    // and nobody did): Nomad's deployment watcher does not fail a paused deployment.
    api.ok(
        "PUT",
        "/api/v1/jobs",
        Some(nomad_job(
            "held",
            "nginx:1",
            json!({"HealthCheck": "manual", "MinHealthyTime": 1_000_000_000i64,
                   "ProgressDeadline": 3_000_000_000i64}),
        )),
    )
    .await;
    let held = api.get("/api/v1/jobs/held/deployments").await;
    let held = held["items"][0]["id"].as_str().unwrap().to_string();
    api.ok(
        "POST",
        &format!("/api/v1/deployments/{held}/pause"),
        Some(json!({})),
    )
    .await;

    // A crash loop, a placement that cannot fit, a deployment failed by hand, and canaries
    // waiting for promotion.
    api.ok(
        "PUT",
        "/api/v1/jobs",
        Some(nomad_job(
            "crashy",
            "registry.example/crashloop:1",
            json!({}),
        )),
    )
    .await;
    let mut huge = nomad_job("huge", "nginx:1", json!({}));
    huge["job"]["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = json!(100_000);
    api.ok("PUT", "/api/v1/jobs", Some(huge)).await;
    api.ok(
        "PUT",
        "/api/v1/jobs",
        Some(nomad_job(
            "rollout",
            "nginx:1",
            json!({"MinHealthyTime": 600_000_000_000i64}),
        )),
    )
    .await;
    // Failed at once, before its allocations are healthy.
    let rollout = api.get("/api/v1/jobs/rollout/deployments").await;
    let deployment = rollout["items"][0]["id"].as_str().unwrap().to_string();
    api.ok(
        "POST",
        &format!("/api/v1/deployments/{deployment}/fail"),
        Some(json!({})),
    )
    .await;
    api.ok(
        "PUT",
        "/api/v1/jobs",
        Some(nomad_job("canary", "nginx:1", json!({}))),
    )
    .await;
    // A batch task that fails on its first run, with no restart and no reschedule left:
    // its failed allocation stays unreplaced, as in Nomad.
    let mut broken = nomad_job("broken", "registry.example/crash:1", json!({}));
    broken["job"]["Type"] = json!("batch");
    broken["job"]["TaskGroups"][0]["RestartPolicy"] = json!({"Attempts": 0, "Interval": 86_400_000_000_000i64, "Delay": 1_000_000_000, "Mode": "fail"});
    broken["job"]["TaskGroups"][0]["ReschedulePolicy"] =
        json!({"Attempts": 0, "Interval": 0, "Unlimited": false});
    api.ok("PUT", "/api/v1/jobs", Some(broken)).await;
    // A batch task that never starts (its image never arrives), placed 10 minutes ago.
    let mut stuck = nomad_job("stuck", "nginx:1", json!({}));
    stuck["job"]["Type"] = json!("batch");
    stuck["job"]["TaskGroups"][0]["Tasks"][0]["Meta"] = json!({"fake_nomad_behavior": "stuck"});
    api.ok("PUT", "/api/v1/jobs", Some(stuck)).await;
    fake.settle(Duration::from_secs(10)).await;
    fake.backdate_allocations("stuck", Duration::from_secs(600));
    api.ok(
        "PUT",
        "/api/v1/jobs",
        Some(nomad_job(
            "canary",
            "nginx:2",
            json!({"Canary": 1, "MinHealthyTime": 0}),
        )),
    )
    .await;

    let expected = [
        ("node_down", "node"),
        ("deployment_failed", "job rollout"),
        ("crash_loop", "job crashy"),
        ("allocations_failed", "job broken"),
        ("placement_blocked", "job huge"),
        ("deployment_stuck", "job held"),
        ("deployment_awaiting_promotion", "job canary"),
        ("allocations_pending", "job stuck"),
        ("node_draining", "node"),
        ("node_ineligible", "node"),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let report = loop {
        let report = api.get("/api/v1/problems").await;
        let found = kinds(&report);
        let matches = found.len() == expected.len()
            && found
                .iter()
                .zip(expected)
                .all(|((k, s), (want_kind, want_subject))| {
                    k == want_kind && s.starts_with(want_subject)
                });
        if matches || tokio::time::Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let found = kinds(&report);
    assert_eq!(found.len(), expected.len(), "{report:#}");
    for ((kind, subject), (want_kind, want_subject)) in found.iter().zip(expected) {
        assert_eq!(kind, want_kind, "{report:#}");
        assert!(subject.starts_with(want_subject), "{subject}: {report:#}");
    }
    assert_eq!(report["total"], 10);
    let problems = report["problems"].as_array().unwrap();
    let severities: Vec<&str> = problems
        .iter()
        .map(|p| p["severity"].as_str().unwrap())
        .collect();
    assert_eq!(
        severities,
        [
            "critical", "critical", "critical", "high", "high", "high", "medium", "medium",
            "medium", "low"
        ]
    );
    // The crash loop and the deployment it failed are one finding.
    let crashy = &problems[2];
    let message = crashy["message"].as_str().unwrap();
    assert!(
        message.contains("restarted") && message.contains("unhealthy allocations"),
        "{message}"
    );
    assert!(
        crashy["next_step"]
            .as_str()
            .unwrap()
            .starts_with("diagnose_job "),
        "{crashy}"
    );
    assert!(
        problems[0]["next_step"].as_str().unwrap().contains(&down),
        "{}",
        problems[0]
    );
    assert!(
        problems[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("is down; allocations of job gone were lost with it"),
        "{}",
        problems[0]
    );
    let stuck_rollout = &problems[5];
    assert!(
        stuck_rollout["message"]
            .as_str()
            .unwrap()
            .contains("is paused and past its progress deadline (group g: 0 of 1 healthy)"),
        "{stuck_rollout}"
    );
    assert!(
        stuck_rollout["next_step"].as_str().unwrap().contains(&held),
        "{stuck_rollout}"
    );
    let drain = &problems[8];
    assert!(
        drain["message"]
            .as_str()
            .unwrap()
            .ends_with("is draining: 1 allocation(s) still run on it (job longrun)"),
        "{drain}"
    );
    assert_eq!(drain["node_id"], draining.as_str(), "{drain}");
    assert!(
        problems[1]["next_step"]
            .as_str()
            .unwrap()
            .contains(&deployment)
    );
    assert!(
        problems[3]["message"]
            .as_str()
            .unwrap()
            .contains("1 failed allocation(s) that were not replaced"),
        "{}",
        problems[3]
    );
    assert!(
        problems[4]["message"].as_str().unwrap().contains("memory"),
        "{}",
        problems[4]
    );
    let pending = &problems[7];
    assert!(
        pending["message"]
            .as_str()
            .unwrap()
            .contains("placed but not started for over 5 minutes"),
        "{pending}"
    );
    assert!(
        pending["next_step"]
            .as_str()
            .unwrap()
            .starts_with("get_allocation "),
        "{pending}"
    );
    assert!(report["scanned"]["nodes"].as_u64().unwrap() >= 6);

    // `limit` keeps the most severe; a bad one is refused.
    let top = api.get("/api/v1/problems?limit=2").await;
    assert_eq!(kinds(&top).len(), 2);
    assert_eq!(top["total"], 10);
    let (status, problem) = api.call("GET", "/api/v1/problems?limit=0", None).await;
    assert_eq!(status, 422, "{problem:#}");
}

#[tokio::test]
async fn a_healthy_cluster_says_so_in_one_line() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let client = mcp.client().await;
    let tools = client.list_all_tools().await.unwrap();
    ok(
        &client,
        &tools,
        "submit_job",
        nomad_job("web", "nginx:1", json!({})),
    )
    .await;
    fake.settle(Duration::from_secs(10)).await;
    let report = ok(&client, &tools, "find_problems", json!({"namespace": "*"})).await;
    assert_eq!(report["problems"], json!([]), "{report:#}");
    let result = crate::mcp::call(&client, "find_problems", json!({})).await;
    let text = result.content[0].as_text().unwrap().text.clone();
    assert!(
        text.starts_with("No problem found in namespace 'default'"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    client.cancel().await.unwrap();
}

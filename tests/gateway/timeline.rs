//! `job_timeline` against the fake Nomad: a crash-looping job's versions, evaluations,
//! allocations, task events and deployment, oldest first, within a window.

use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use serde_json::json;

use crate::mcp::{Mcp, ok};
use crate::rest_nomad::Api;

fn crashing() -> serde_json::Value {
    json!({"job": {"ID": "crashy", "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{
        "Name": "server", "Driver": "docker", "Config": {"image": "registry.example/crashloop:1"},
        "Resources": {"CPU": 100, "MemoryMB": 64}
    }]}]}})
}

#[tokio::test]
async fn a_timeline_tells_what_happened_to_a_job_in_order() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;
    api.ok("PUT", "/api/v1/jobs", Some(crashing())).await;
    fake.settle(Duration::from_secs(10)).await;

    let timeline = api.get("/api/v1/jobs/crashy/timeline").await;
    let entries = timeline["entries"].as_array().unwrap();
    let at: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = at.clone();
    sorted.sort();
    assert_eq!(at, sorted, "oldest first");
    let line = |kind: &str, needle: &str| {
        entries
            .iter()
            .any(|e| e["kind"] == kind && e["message"].as_str().unwrap().contains(needle))
    };
    assert!(line("version", "version 0 submitted"), "{timeline:#}");
    assert!(
        line("evaluation", "triggered by job-register"),
        "{timeline:#}"
    );
    assert!(line("allocation", "placed on node"), "{timeline:#}");
    assert!(line("allocation", "is failed"), "{timeline:#}");
    assert!(line("task", "task server: Started"), "{timeline:#}");
    assert!(line("task", "exit code"), "{timeline:#}");
    assert!(
        line("deployment", "deployment of version 0 started; now failed"),
        "{timeline:#}"
    );
    assert_eq!(timeline["total"].as_u64(), Some(entries.len() as u64));
    // The version comes first; the allocation's failure after its tasks' events.
    assert_eq!(entries[0]["kind"], "version", "{timeline:#}");

    // `limit` keeps the latest.
    let latest = api.get("/api/v1/jobs/crashy/timeline?limit=3").await;
    let kept = latest["entries"].as_array().unwrap();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[2], entries[entries.len() - 1]);
    assert_eq!(latest["total"].as_u64(), Some(entries.len() as u64));

    for bad in ["since=8d", "since=soon", "since=0s", "limit=0"] {
        let (status, problem) = api
            .call("GET", &format!("/api/v1/jobs/crashy/timeline?{bad}"), None)
            .await;
        assert_eq!(status, 422, "{bad}: {problem:#}");
    }
    let (status, problem) = api.call("GET", "/api/v1/jobs/crashi/timeline", None).await;
    assert_eq!(status, 404, "{problem:#}");
    assert!(
        problem.to_string().contains("crashy"),
        "a similar name: {problem:#}"
    );
}

#[tokio::test]
async fn the_timeline_tool_reads_as_lines() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let client = mcp.client().await;
    let tools = client.list_all_tools().await.unwrap();
    ok(&client, &tools, "submit_job", crashing()).await;
    fake.settle(Duration::from_secs(10)).await;
    let timeline = ok(
        &client,
        &tools,
        "job_timeline",
        json!({"job_id": "crashy", "since": "30m"}),
    )
    .await;
    assert!(!timeline["entries"].as_array().unwrap().is_empty());
    let result = crate::mcp::call(&client, "job_timeline", json!({"job_id": "crashy"})).await;
    let text = result.content[0].as_text().unwrap().text.clone();
    assert!(
        text.starts_with("Job 'crashy' in namespace 'default' since "),
        "{text}"
    );
    assert!(
        text.contains(" task ") && text.contains("version 0 submitted"),
        "{text}"
    );
    client.cancel().await.unwrap();
}

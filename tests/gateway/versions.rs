//! What changed in a job: its versions with their changes in words, a comparison of any
//! two versions, and a plan's changes, over REST and MCP against the fake Nomad's diffs.

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};

use crate::mcp::{Mcp, ok};
use crate::rest_nomad::Api;

fn job(image: &str, count: u64, env: Value) -> Value {
    json!({"job": {"ID": "web", "TaskGroups": [{"Name": "g", "Count": count, "Tasks": [{
        "Name": "server", "Driver": "docker", "Config": {"image": image}, "Env": env,
        "Resources": {"CPU": 100, "MemoryMB": 64}
    }]}]}})
}

fn lines(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list of lines: {value}"))
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l == want)
}

#[tokio::test]
async fn versions_say_what_changed_and_any_two_compare() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;
    api.ok("PUT", "/api/v1/jobs", Some(job("nginx:1", 1, json!({}))))
        .await;
    api.ok("PUT", "/api/v1/jobs", Some(job("nginx:1", 3, json!({}))))
        .await;
    api.ok(
        "PUT",
        "/api/v1/jobs",
        Some(job("nginx:2", 3, json!({"LOG_LEVEL": "debug"}))),
    )
    .await;

    let page = api.get("/api/v1/jobs/web/versions?changes=true").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{page:#}");
    assert_eq!(items[0]["version"], 2);
    let newest = lines(&items[0]["changes"]);
    assert!(
        has(&newest, "group g, task server: image nginx:1 → nginx:2"),
        "{newest:?}"
    );
    assert!(
        has(&newest, "group g, task server: Env[LOG_LEVEL] set to debug"),
        "{newest:?}"
    );
    assert!(!newest.iter().any(|l| l.contains("Count")), "{newest:?}");
    assert_eq!(lines(&items[1]["changes"]), ["group g: Count 1 → 3"]);
    assert!(
        items[2].get("changes").is_none(),
        "the first version changed nothing"
    );
    let plain = api.get("/api/v1/jobs/web/versions").await;
    assert!(plain["items"][0].get("changes").is_none(), "{plain:#}");

    let all = api.get("/api/v1/jobs/web/versions/compare?from=0").await;
    assert_eq!(
        (all["from_version"].as_u64(), all["to_version"].as_u64()),
        (Some(0), Some(2))
    );
    let changes = lines(&all["changes"]);
    for want in [
        "group g: Count 1 → 3",
        "group g, task server: image nginx:1 → nginx:2",
        "group g, task server: Env[LOG_LEVEL] set to debug",
    ] {
        assert!(has(&changes, want), "{want}: {changes:?}");
    }
    let one = api
        .get("/api/v1/jobs/web/versions/compare?from=0&to=1")
        .await;
    assert_eq!(lines(&one["changes"]), ["group g: Count 1 → 3"]);
    let same = api
        .get("/api/v1/jobs/web/versions/compare?from=1&to=1")
        .await;
    assert_eq!(lines(&same["changes"]), Vec::<String>::new());
    let back = api
        .get("/api/v1/jobs/web/versions/compare?from=2&to=0")
        .await;
    assert!(
        has(
            &lines(&back["changes"]),
            "group g, task server: image nginx:2 → nginx:1"
        ),
        "{back:#}"
    );
    let (status, problem) = api
        .call("GET", "/api/v1/jobs/web/versions/compare?from=7", None)
        .await;
    assert_eq!(status, 422, "{problem:#}");
    assert!(
        problem["detail"].as_str().unwrap().contains("no version 7"),
        "{problem:#}"
    );
    let (status, problem) = api
        .call("GET", "/api/v1/jobs/web/versions/compare?from=0&to=9", None)
        .await;
    assert_eq!(status, 422, "{problem:#}");
    assert!(
        problem["detail"].as_str().unwrap().contains("2, 1, 0"),
        "{problem:#}"
    );
    let (status, problem) = api
        .call("GET", "/api/v1/jobs/web/versions/compare", None)
        .await;
    assert_eq!(status, 422, "{problem:#}");
    assert!(problem.to_string().contains("from"), "{problem:#}");
    let (status, problem) = api
        .call("GET", "/api/v1/jobs/wbe/versions/compare?from=0", None)
        .await;
    assert_eq!(status, 404, "{problem:#}");

    // A plan says the same in words next to Nomad's structured diff.
    let plan = api
        .ok(
            "POST",
            "/api/v1/jobs/plan",
            Some(job("nginx:3", 3, json!({"LOG_LEVEL": "debug"}))),
        )
        .await;
    assert!(plan["diff"].is_object(), "{plan:#}");
    assert_eq!(
        lines(&plan["job_changes"]),
        ["group g, task server: image nginx:2 → nginx:3"],
        "{plan:#}"
    );
}

#[tokio::test]
async fn mcp_compares_versions_and_lists_their_changes() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let client = mcp.client().await;
    let tools = client.list_all_tools().await.unwrap();
    for (image, count) in [("nginx:1", 1), ("nginx:1", 2)] {
        ok(&client, &tools, "submit_job", job(image, count, json!({}))).await;
    }
    let listed = ok(
        &client,
        &tools,
        "list_job_versions",
        json!({"job_id": "web", "changes": true}),
    )
    .await;
    assert_eq!(
        lines(&listed["items"][0]["changes"]),
        ["group g: Count 1 → 2"]
    );
    let compared = ok(
        &client,
        &tools,
        "compare_job_versions",
        json!({"job_id": "web", "from": 0}),
    )
    .await;
    assert_eq!(lines(&compared["changes"]), ["group g: Count 1 → 2"]);
    let result = crate::mcp::call(
        &client,
        "compare_job_versions",
        json!({"job_id": "web", "from": 0}),
    )
    .await;
    let text = result.content[0].as_text().unwrap().text.clone();
    assert!(text.contains("group g: Count 1 → 2"), "{text}");
    let error = crate::mcp::tool_error(
        &client,
        "compare_job_versions",
        json!({"job_id": "web", "from": 5}),
    )
    .await;
    assert!(error.contains("no version 5"), "{error}");
    client.cancel().await.unwrap();
}

//! Bounded answers: with a small `GATEWAY_MCP_ANSWER_BYTES`, big lists, logs and
//! documents come back within it, valid for their `outputSchema`, saying what was cut and
//! how to get the rest; following a cut list's cursors lists everything exactly once.

use std::collections::BTreeSet;
use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use rmcp::model::Tool;
use serde_json::{Value, json};

use crate::lookup::register;
use crate::mcp::{Client, Mcp, call, conforms};

const BUDGET: usize = 8192;

/// A tool answer, checked: within the budget, valid for the tool's schema, and when cut,
/// its note in the text and its account in `_meta`.
struct Answer {
    value: Value,
    text: String,
    cut: Option<Value>,
}

async fn bounded(client: &Client, tools: &[Tool], name: &str, arguments: Value) -> Answer {
    let result = call(client, name, arguments).await;
    assert_ne!(result.is_error, Some(true), "{name}: {result:?}");
    let text = result.content[0].as_text().unwrap().text.clone();
    let value = result.structured_content.clone().unwrap();
    let size = serde_json::to_vec(&value).unwrap().len() + text.len();
    assert!(size <= BUDGET, "{name}: {size} bytes over {BUDGET}: {text}");
    let tool = tools.iter().find(|t| t.name == name).unwrap();
    let schema = Value::Object((**tool.output_schema.as_ref().unwrap()).clone());
    conforms(&value, &schema, &schema, name, false);
    let cut = result
        .meta
        .as_ref()
        .and_then(|m| m.0.get("nomad-gateway/cut"))
        .cloned();
    if let Some(cut) = &cut {
        assert_eq!(cut["budget_bytes"], BUDGET);
        assert!(cut["full_bytes"].as_u64().unwrap() > BUDGET as u64, "{cut}");
        assert!(!cut["cuts"].as_array().unwrap().is_empty(), "{cut}");
        assert!(
            text.contains("[Cut to fit the answer budget of 8.0 KiB: kept "),
            "{text}"
        );
        assert!(text.contains(cut["rest"].as_str().unwrap()), "{text}");
    }
    Answer { value, text, cut }
}

fn small_job(id: &str, count: u64) -> Value {
    json!({
        "ID": id, "Datacenters": ["dc1"], "Type": "service",
        "Meta": {"owner": "team-with-a-rather-long-name", "purpose": "bounded answers"},
        "TaskGroups": [{
            "Name": "web", "Count": count,
            "Tasks": [{"Name": "server", "Driver": "docker",
                       "Config": {"image": "nginx:1.27"},
                       "Resources": {"CPU": 10, "MemoryMB": 10}}]
        }]
    })
}

/// Follows `next_cursor` from the first page to the last, returning each page's items.
async fn every_page(
    client: &Client,
    tools: &[Tool],
    name: &str,
    arguments: Value,
) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = arguments.clone();
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let answer = bounded(client, tools, name, args).await;
        pages.push(answer.value["items"].as_array().unwrap().clone());
        match answer.value["next_cursor"].as_str() {
            Some(next) => {
                if answer.cut.is_some() {
                    assert!(
                        answer.text.contains(&format!("again with cursor '{next}'")),
                        "{}",
                        answer.text
                    );
                }
                cursor = Some(next.to_string());
            }
            None => return pages,
        }
        assert!(pages.len() < 100, "{name} pages end");
    }
}

#[tokio::test]
async fn big_answers_are_cut_to_the_budget_and_say_how_to_get_the_rest() {
    let fake = FakeNomad::start(Options::default()).await;
    for i in 0..90 {
        register(&fake, small_job(&format!("job-{i:03}"), 1)).await;
    }
    let mut crowd = small_job("crowd", 40);
    crowd["ID"] = json!("crowd");
    register(&fake, crowd).await;
    let mut chatty = small_job("chatty", 1);
    // 2 MiB of stdout, 64-byte lines numbered by their offset.
    chatty["Meta"] = json!({"fake_nomad_log_bytes": (2u64 << 20).to_string()});
    register(&fake, chatty).await;
    fake.settle(Duration::from_secs(10)).await;
    let big = "v".repeat(3000);
    let items: Vec<(String, &str)> = (0..12)
        .map(|i| (format!("key{i:02}"), big.as_str()))
        .collect();
    let items: Vec<(&str, &str)> = items.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    fake.set_variable("default", "app/big", &items);

    let mcp = Mcp::start_with(
        &fake.url(),
        &[("GATEWAY_MCP_ANSWER_BYTES", &BUDGET.to_string())],
    )
    .await;
    let client = mcp.client().await;
    let tools = client.list_all_tools().await.unwrap();

    // Nomad pages jobs: a cut page's cursor is Nomad's token of the first job left out.
    let first = bounded(&client, &tools, "list_jobs", json!({"limit": 200})).await;
    let cut = first.cut.as_ref().expect("92 jobs do not fit in 8 KiB");
    assert_eq!(cut["cuts"][0]["path"], "/items", "{cut}");
    let kept = first.value["items"].as_array().unwrap().len();
    assert_eq!(cut["cuts"][0]["kept"], kept);
    assert_eq!(cut["cuts"][0]["of"], 92);
    let next_id = ["chatty", "crowd"]
        .into_iter()
        .map(String::from)
        .chain((0..90).map(|i| format!("job-{i:03}")))
        .nth(kept)
        .unwrap();
    assert_eq!(first.value["next_cursor"], format!("default.{next_id}"));
    let ids: Vec<String> = every_page(&client, &tools, "list_jobs", json!({"limit": 200}))
        .await
        .concat()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 92, "every job once: {ids:?}");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 92);

    // The gateway pages allocations itself: offsets.
    let allocations: Vec<Value> = every_page(
        &client,
        &tools,
        "list_allocations",
        json!({"job_id": "crowd", "limit": 200}),
    )
    .await
    .concat();
    let ids: BTreeSet<&str> = allocations
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!((allocations.len(), ids.len()), (40, 40));

    // Events page by Nomad index, several events to an index: a cut inside an index goes
    // on with the rest of it. The pages, followed, list what REST lists (it is not cut).
    let key = |e: &Value| format!("{} {} {} {}", e["index"], e["topic"], e["type"], e["key"]);
    let events: Vec<String> = every_page(&client, &tools, "recent_events", json!({"limit": 200}))
        .await
        .concat()
        .iter()
        .map(key)
        .collect();
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = mcp
            .gateway
            .url(&format!("/api/v1/events?limit=200&cursor={cursor}"));
        let page: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        listed.extend(page["items"].as_array().unwrap().iter().map(key));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert!(events.len() > 100, "{} events", events.len());
    // What happened after the MCP pages began is newer than all of them.
    let newest: u64 = events[0].split(' ').next().unwrap().parse().unwrap();
    listed.retain(|e| e.split(' ').next().unwrap().parse::<u64>().unwrap() <= newest);
    assert_eq!(events, listed);

    // Logs keep their newest lines, the text with them.
    let logs = bounded(
        &client,
        &tools,
        "get_job_logs",
        json!({"job_id": "chatty", "lines": 5000, "max_bytes": 1048576}),
    )
    .await;
    assert!(logs.cut.is_some(), "{}", logs.text);
    assert_eq!(logs.value["truncated"], true);
    let lines = logs.value["lines"].as_array().unwrap();
    assert!(
        lines.len() > 20 && lines.len() < 5000,
        "{} lines",
        lines.len()
    );
    let last = lines.last().unwrap().as_str().unwrap();
    // The 2 MiB log ends with its line 32767 (64-byte lines from offset 0).
    assert!(last.starts_with("000000032767 "), "{last}");
    assert!(
        logs.text.contains(last),
        "the text ends with the kept lines"
    );
    assert!(logs.text.contains("search_job_logs"), "{}", logs.text);

    // A document with long strings keeps every key, each value cut short.
    let variable = bounded(
        &client,
        &tools,
        "get_variable",
        json!({"path": "app/big", "include_values": true}),
    )
    .await;
    assert!(variable.cut.is_some(), "{}", variable.text);
    let kept = variable.value["items"].as_object().unwrap();
    assert_eq!(kept.len(), 12, "{:#}", variable.value);
    assert!(kept.values().all(|v| v.as_str().unwrap().len() < 3000));
    assert!(
        kept.values().any(|v| v.as_str().unwrap().ends_with('…')),
        "{:#}",
        variable.value
    );

    // Every other read over this data stays within the budget too.
    let node = fake.node_ids()[0].clone();
    for (name, arguments) in [
        ("get_job", json!({"job_id": "crowd"})),
        ("diagnose_job", json!({"job_id": "crowd"})),
        ("job_timeline", json!({"job_id": "crowd"})),
        ("list_job_versions", json!({"job_id": "crowd"})),
        ("list_evaluations", json!({"job_id": "crowd", "limit": 200})),
        ("list_deployments", json!({"job_id": "crowd", "limit": 200})),
        (
            "search_job_logs",
            json!({"job_id": "chatty", "pattern": "request", "max_matches": 200, "context": 5}),
        ),
        ("find_problems", json!({"limit": 100})),
        ("recent_events", json!({"limit": 200})),
        ("search_ids", json!({"prefix": "j"})),
        ("list_nodes", json!({"limit": 200})),
        ("get_node", json!({"node_id": node})),
        ("list_variables", json!({"limit": 200})),
        ("get_cluster_status", json!({})),
        ("list_operations", json!({"limit": 200})),
    ] {
        bounded(&client, &tools, name, arguments).await;
    }
}

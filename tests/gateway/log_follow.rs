//! Following a task's log for a bounded time, over MCP (`get_job_logs` with
//! `follow_seconds`, new lines as progress notifications) and REST (an SSE stream), against
//! the fake Nomad with a task that writes 20 lines a second. Scope and namespace refusals
//! of the route are in `auth.rs`'s matrix.

use std::time::{Duration, Instant};

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};

use crate::lookup::{Setup, fake_requests, register, service_job};
use crate::mcp::{ok, tool_error};

/// A job whose one task writes "server: GET /api/items 200 (request N)" 20 times a second.
async fn chatty(fake: &FakeNomad) {
    let mut job = service_job("web", 1);
    job["Meta"] = json!({"fake_nomad_log_lines_per_second": "20"});
    register(fake, job).await;
    fake.settle(Duration::from_secs(5)).await;
}

/// The request numbers of the lines that have one.
fn numbers<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
    lines
        .into_iter()
        .filter_map(|l| l.split("(request ").nth(1))
        .map(|n| n.trim_end_matches(')').parse().unwrap())
        .collect()
}

fn consecutive(numbers: &[u64]) -> bool {
    numbers.windows(2).all(|w| w[1] == w[0] + 1)
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_mcp_follow_sends_each_new_line_once_as_progress_and_answers_the_last_lines() {
    let fake = FakeNomad::start(Options::default()).await;
    chatty(&fake).await;
    let setup = Setup::start(&fake, &[]).await;
    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();

    let began = Instant::now();
    let answer = ok(
        &client,
        &tools,
        "get_job_logs",
        json!({"job_id": "web", "lines": 1000, "follow_seconds": 2}),
    )
    .await;
    let took = began.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let followed = &answer["followed"];
    assert_eq!(followed["ended"], "time_up", "{answer:#}");
    let new_lines = followed["new_lines"].as_u64().unwrap();
    assert!(new_lines >= 20, "about 40 lines in 2 s: {followed}");
    assert_eq!(followed["skipped_bytes"], 0);

    // The answer: the start-up lines, then every request line once, in order.
    let lines = strings(&answer["lines"]);
    assert!(lines[0].starts_with("server: starting"), "{lines:?}");
    let all = numbers(lines.iter().copied());
    assert_eq!(all[0], 1, "{lines:?}");
    assert!(consecutive(&all), "no line lost or repeated: {all:?}");

    // The progress notifications carry exactly the lines written during the follow.
    let progress = client.service().progress.lock().unwrap().clone();
    let sent: Vec<String> = progress
        .iter()
        .filter_map(|p| p.message.clone())
        .flat_map(|m| m.lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let sent = numbers(sent.iter().map(String::as_str));
    assert_eq!(sent.len() as u64, new_lines, "{sent:?}");
    assert_eq!(
        sent,
        all[all.len() - sent.len()..],
        "the new lines, in order"
    );

    // Nomad was asked for the tail (framed, no follow) and then followed, from the end.
    let reads = fake_requests(&fake, "/v1/client/fs/logs/").await;
    let queries: Vec<&str> = reads.iter().map(|r| r["query"].as_str().unwrap()).collect();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(queries[0].contains("follow=false") && queries[0].contains("plain=false"));
    assert!(queries[1].contains("follow=true") && queries[1].contains("origin=end"));

    // A small window keeps only the last lines, and says older output exists.
    let answer = ok(
        &client,
        &tools,
        "get_job_logs",
        json!({"job_id": "web", "lines": 3, "follow_seconds": 1}),
    )
    .await;
    assert_eq!(answer["lines"].as_array().unwrap().len(), 3);
    assert_eq!(answer["truncated"], true);
    assert!(consecutive(&numbers(strings(&answer["lines"]))));

    for (seconds, why) in [(0, "0 is out of range"), (301, "301 is out of range")] {
        let refused = tool_error(
            &client,
            "get_job_logs",
            json!({"job_id": "web", "follow_seconds": seconds}),
        )
        .await;
        assert!(refused.contains(why), "{refused}");
    }
    let missing = tool_error(
        &client,
        "get_job_logs",
        json!({"job_id": "nope", "follow_seconds": 5}),
    )
    .await;
    assert!(missing.contains("job 'nope' not found"), "{missing}");
}

/// The events of an SSE body: (event name, JSON data).
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            Some((name?, serde_json::from_str(&data).unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn the_rest_follow_streams_start_lines_and_end_events() {
    let fake = FakeNomad::start(Options::default()).await;
    chatty(&fake).await;
    let setup = Setup::start(&fake, &[]).await;
    let http = reqwest::Client::new();

    let response = http
        .get(
            setup
                .gateway
                .url("/api/v1/jobs/web/logs/follow?seconds=2&lines=3"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let events = events(&response.text().await.unwrap());
    let (first, start) = &events[0];
    assert_eq!(first, "start");
    assert_eq!(start["task"], "server");
    assert_eq!(start["seconds"], 2);
    let tail = strings(&start["lines"]);
    assert_eq!(tail.len(), 3, "{start}");
    let (last, end) = events.last().unwrap();
    assert_eq!(last, "end");
    assert_eq!(end["ended"], "time_up", "{end}");
    let mut all = numbers(tail);
    for (name, data) in &events[1..events.len() - 1] {
        assert_eq!(name, "lines");
        all.extend(numbers(strings(&data["lines"])));
    }
    assert!(consecutive(&all), "tail and new lines, each once: {all:?}");
    assert_eq!(
        end["new_lines"].as_u64().unwrap() as usize,
        all.len() - 3,
        "{end}"
    );

    // Stopping the job ends the log: the stream ends long before its time is up.
    let fake_url = fake.url();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        reqwest::Client::new()
            .delete(format!("{fake_url}/v1/job/web"))
            .send()
            .await
            .unwrap();
    });
    let began = Instant::now();
    let body = http
        .get(setup.gateway.url("/api/v1/jobs/web/logs/follow?seconds=60"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    stopper.await.unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "{:?}",
        began.elapsed()
    );
    let events = self::events(&body);
    assert_eq!(events.last().unwrap().1["ended"], "log_ended", "{body}");

    // Bad bounds and unknown jobs are problem documents before any stream starts.
    for query in ["seconds=0", "seconds=301", "lines=0", "max_bytes=2000000"] {
        let (status, problem) = setup
            .get(&format!("/api/v1/jobs/web/logs/follow?{query}"))
            .await;
        assert_eq!(status, 422, "{query}: {problem}");
    }
    let (status, problem) = setup.get("/api/v1/jobs/nope/logs/follow").await;
    assert_eq!(status, 404, "{problem}");
    let (status, problem) = setup.get("/api/v1/jobs/web/logs/follow?task=nginx").await;
    assert_eq!(status, 422, "{problem}");
}

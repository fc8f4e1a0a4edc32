//! Several replicas on one database serve any MCP session: two gateways built in this
//! process on the test database (SQLite, or Postgres with `TEST_DATABASE_URL`, where the
//! bus between them is real `LISTEN`/`NOTIFY`). The load-balanced run with three processes
//! behind HAProxy is `tests/replicas/`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use fake_nomad::{FakeNomad, Options};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::in_process::{Answer, InProcess};
use crate::support::TestDb;

const SECRET: &str = "replicas-test-secret-replicas-test-secret";

fn token(subject: &str) -> String {
    token_in(subject, "*")
}

fn token_in(subject: &str, namespace: &str) -> String {
    let claims = json!({
        "sub": subject,
        "scope": "nomad:read nomad:write",
        "nomad_namespaces": [namespace],
        "aud": "http://127.0.0.1:0/mcp",
        "exp": chrono::Utc::now().timestamp() + 3600,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    format!("Bearer {token}")
}

async fn two_replicas(fake: &FakeNomad, settings: &[(&str, &str)]) -> (InProcess, InProcess) {
    let db = Arc::new(TestDb::new().await);
    let mut all = vec![("GATEWAY_AUTH", "on"), ("GATEWAY_JWT_SECRET", SECRET)];
    all.extend_from_slice(settings);
    let a = InProcess::start_on(fake, db.clone(), &all).await;
    let b = InProcess::start_on(fake, db, &all).await;
    (a, b)
}

/// A Streamable HTTP POST as `who`, in session `session`.
async fn mcp(gateway: &InProcess, who: &str, session: Option<&str>, message: Value) -> Answer {
    let mut request = Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header("authorization", who)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(id) = session {
        request = request
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18");
    }
    gateway
        .send(request.body(Body::from(message.to_string())).unwrap())
        .await
}

/// Opens an initialized Streamable HTTP session on `gateway` as `who`; its id.
async fn open_session(
    gateway: &InProcess,
    who: &str,
    version: &str,
    capabilities: Value,
) -> String {
    let opened = mcp(
        gateway,
        who,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": capabilities,
            "clientInfo": {"name": "replicas", "version": "1"}}}),
    )
    .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    let session = opened.headers["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let initialized = mcp(
        gateway,
        who,
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(initialized.status, StatusCode::ACCEPTED);
    session
}

async fn delete(gateway: &InProcess, who: &str, session: &str) -> StatusCode {
    let request = Request::delete("/mcp")
        .header("host", "127.0.0.1")
        .header("authorization", who)
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-06-18")
        .body(Body::empty())
        .unwrap();
    gateway.send(request).await.status
}

fn list_jobs(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "list_jobs", "arguments": {}}})
}

#[tokio::test]
async fn a_streamable_http_session_is_served_by_any_replica_and_only_for_its_owner() {
    let fake = FakeNomad::start(Options::default()).await;
    let (a, b) = two_replicas(&fake, &[]).await;
    let (ann, bob) = (token("ann"), token("bob"));

    let session = open_session(&a, &ann, "2025-06-18", json!({})).await;

    // Replica B never saw the session: it restores it from its row, and keeps serving it.
    for (n, gateway) in [&b, &a, &b, &b].into_iter().enumerate() {
        let called = mcp(gateway, &ann, Some(&session), list_jobs(n as u64 + 1)).await;
        assert_eq!(called.status, StatusCode::OK, "{}", called.body);
        assert_eq!(called.body["result"]["isError"], false, "{}", called.body);
    }

    // Another caller presenting the id is told there is no such session, everywhere.
    for gateway in [&a, &b] {
        let stolen = mcp(gateway, &bob, Some(&session), list_jobs(9)).await;
        assert_eq!(stolen.status, StatusCode::NOT_FOUND, "{}", stolen.body);
        assert_eq!(stolen.body["error"]["code"], -32001);
    }

    // Ended on B, it is gone on A too (A held a worker for it, dropped when the bus
    // tells it: within milliseconds).
    assert!(delete(&b, &ann, &session).await.is_success());
    for gateway in [&b, &a] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            let after = mcp(gateway, &ann, Some(&session), list_jobs(10)).await;
            if after.status == StatusCode::NOT_FOUND {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still {} after the delete",
                after.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Opens an event stream (`GET /sse`, or a session's `GET /mcp`) as `who`: its body.
async fn open_stream(gateway: &InProcess, who: &str, path: &str, session: Option<&str>) -> Body {
    let mut request = Request::get(path)
        .header("host", "127.0.0.1")
        .header("authorization", who)
        .header("accept", "text/event-stream");
    if let Some(id) = session {
        request = request
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-06-18");
    }
    let stream = gateway.open(request.body(Body::empty()).unwrap()).await;
    assert_eq!(stream.status(), StatusCode::OK);
    stream.into_body()
}

/// The next SSE event of a stream, as (event, data).
async fn next_event(body: &mut Body, buffer: &mut String) -> (String, String) {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(text) = line.strip_prefix("data:") {
                    data.push_str(text.trim_start());
                }
            }
            if data.is_empty() {
                continue; // a keep-alive comment
            }
            return (event, data);
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an SSE event within 10 s")
            .expect("the stream is open")
            .unwrap();
        if let Ok(bytes) = frame.into_data() {
            buffer.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

async fn post_message(gateway: &InProcess, who: &str, endpoint: &str, body: &str) -> Answer {
    let request = Request::post(endpoint)
        .header("host", "127.0.0.1")
        .header("authorization", who)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    gateway.send(request).await
}

#[tokio::test]
async fn legacy_sse_messages_reach_the_stream_from_any_replica() {
    let fake = FakeNomad::start(Options::default()).await;
    let (a, b) = two_replicas(&fake, &[]).await;
    let (ann, bob) = (token("ann"), token("bob"));

    let mut body = open_stream(&a, &ann, "/sse", None).await;
    let mut buffer = String::new();
    let (event, endpoint) = next_event(&mut body, &mut buffer).await;
    assert_eq!(event, "endpoint");

    // The handshake and a tool call, posted to B, answered on A's stream.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {},
        "clientInfo": {"name": "replicas", "version": "1"}}});
    let accepted = post_message(&b, &ann, &endpoint, &init.to_string()).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let (_, answer) = next_event(&mut body, &mut buffer).await;
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["protocolVersion"], "2024-11-05");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let accepted = post_message(&b, &ann, &endpoint, &initialized.to_string()).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    for (id, gateway) in [(2, &b), (3, &a), (4, &b)] {
        let accepted = post_message(gateway, &ann, &endpoint, &list_jobs(id).to_string()).await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
        let (_, answer) = next_event(&mut body, &mut buffer).await;
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["id"], id, "{answer}");
        assert_eq!(answer["result"]["isError"], false, "{answer}");
    }

    // Checked where it arrives: not JSON-RPC is 400, another caller is 404.
    let malformed = post_message(&b, &ann, &endpoint, "{not json").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["error"]["code"], -32700);
    let stolen = post_message(&b, &bob, &endpoint, &list_jobs(5).to_string()).await;
    assert_eq!(stolen.status, StatusCode::NOT_FOUND, "{}", stolen.body);

    // The holder shuts down: its stream ends and the session is gone from every replica.
    a.stop();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ends at shutdown");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let after = post_message(&b, &ann, &endpoint, &list_jobs(6).to_string()).await;
        if after.status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} after the holder stopped",
            after.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL with Postgres; tests/run.sh runs it"]
async fn a_callers_write_budget_holds_across_replicas() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = Arc::new(TestDb::new().await);
    assert!(db.is_postgres(), "set TEST_DATABASE_URL=postgres://...");
    let settings = [
        ("GATEWAY_AUTH", "on"),
        ("GATEWAY_JWT_SECRET", SECRET),
        ("GATEWAY_RATE_LIMIT_WRITES", "6"),
    ];
    let a = InProcess::start_on(&fake, db.clone(), &settings).await;
    let b = InProcess::start_on(&fake, db.clone(), &settings).await;
    let c = InProcess::start_on(&fake, db, &settings).await;
    let writer = token("writer");
    let mut granted = 0;
    let mut limited = 0;
    for n in 0..18 {
        let gateway = [&a, &b, &c][n % 3];
        let request = Request::post("/api/v1/jobs/no-such-job/evaluate")
            .header("host", "127.0.0.1")
            .header("authorization", &writer)
            .body(Body::empty())
            .unwrap();
        let answer = gateway.send(request).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            assert!(answer.headers.contains_key("retry-after"));
        } else {
            granted += 1;
        }
    }
    // 6 a minute, refilled at 0.1/s while the calls run: 6, or 7 on a slow machine.
    assert!(
        (6..=7).contains(&granted),
        "granted {granted}, limited {limited}"
    );
}

/// A 2026-07-28 request as `who`, declaring the tasks extension.
async fn modern(gateway: &InProcess, who: &str, method: &str, name: &str, params: Value) -> Answer {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": {"io.modelcontextprotocol/tasks": {}}},
        "io.modelcontextprotocol/clientInfo": {"name": "replicas", "version": "1"}
    });
    let request = Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header("authorization", who)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .header("mcp-name", name)
        .body(Body::from(
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
        ))
        .unwrap();
    gateway.send(request).await
}

fn submit(id: &str) -> Value {
    json!({"name": "submit_job", "arguments": {"job": {"ID": id, "TaskGroups": [{"Name": "g",
        "Count": 1, "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "nginx:1"},
        "Resources": {"CPU": 100, "MemoryMB": 64}}]}]}}})
}

/// A task started on one replica is followed to its end on the other: the task is the
/// operation, in the database. A teammate who may read the namespace sees it, as they see
/// the operation; a caller outside the namespace is refused, as `get_operation` refuses
/// them. A session of an earlier revision gets the plain answer even when its
/// `initialize` declared the extension.
#[tokio::test]
async fn a_task_started_on_one_replica_is_followed_on_the_other() {
    let fake = FakeNomad::start(Options::default()).await;
    let (a, b) = two_replicas(&fake, &[]).await;
    let (ann, bob, eve) = (token("ann"), token("bob"), token_in("eve", "prod"));

    let created = modern(&a, &ann, "tools/call", "submit_job", submit("web")).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(
        created.body["result"]["resultType"], "task",
        "{}",
        created.body
    );
    let task = created.body["result"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let get = || json!({"taskId": task});

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let got = modern(&b, &ann, "tasks/get", &task, get()).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        if got.body["result"]["status"] != "working" {
            break got.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", got.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["result"]["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["result"]["structuredContent"]["operation"]["state"], "succeeded",
        "{done}"
    );

    let seen = modern(&b, &bob, "tasks/get", &task, get()).await;
    assert_eq!(
        seen.body["result"]["taskId"],
        task.as_str(),
        "{}",
        seen.body
    );
    for (gateway, method) in [(&b, "tasks/get"), (&a, "tasks/cancel")] {
        let refused = modern(gateway, &eve, method, &task, get()).await;
        assert_eq!(refused.body["error"]["code"], -32600, "{}", refused.body);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("not among the namespaces"), "{message}");
    }

    // A 2025-11-25 session that declared the extension at `initialize`.
    let session = open_session(
        &a,
        &ann,
        "2025-11-25",
        json!({"extensions": {"io.modelcontextprotocol/tasks": {}}}),
    )
    .await;
    let mut call = submit("legacy");
    call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call});
    let plain = mcp(&b, &ann, Some(&session), call).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert!(
        plain.body["result"].get("taskId").is_none(),
        "{}",
        plain.body
    );
    assert!(
        plain.body["result"]["structuredContent"]["operation_id"].is_string(),
        "{}",
        plain.body
    );
}

/// A confirmation asked on replica A is answered by a POST that lands on B: B tells A over
/// the bus, and the call on A's stream goes on.
#[tokio::test]
async fn a_confirmation_answered_on_another_replica_reaches_the_call() {
    let fake = FakeNomad::start(Options::default()).await;
    let (a, b) = two_replicas(&fake, &[]).await;
    let ann = token("ann");
    let create = Request::post("/api/v1/jobs?wait=30")
        .header("authorization", &ann)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"job_id": "web", "image": "nginx:1", "count": 1}).to_string(),
        ))
        .unwrap();
    let created = a.send(create).await;
    assert!(created.status.is_success(), "{}", created.body);
    let caps = json!({"elicitation": {"form": {}}});
    let session = open_session(&a, &ann, "2025-11-25", caps).await;

    let stop = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "stop_job", "arguments": {"job_id": "web"}}});
    let call = a
        .open(
            Request::post("/mcp")
                .header("host", "127.0.0.1")
                .header("authorization", &ann)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-11-25")
                .body(Body::from(stop.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(call.status(), StatusCode::OK);
    let mut body = call.into_body();
    let mut buffer = String::new();
    let (_, asked) = next_event(&mut body, &mut buffer).await;
    let asked: Value = serde_json::from_str(&asked).unwrap();
    assert_eq!(asked["method"], "elicitation/create", "{asked:#}");
    assert_eq!(
        asked["params"]["message"],
        "Stop job web in default: its 1 running allocation stops. Go ahead?"
    );

    // Another caller cannot answer it; the owner can, on B.
    let answer = json!({"jsonrpc": "2.0", "id": asked["id"],
        "result": {"action": "accept", "content": {}}});
    let bob = token("bob");
    let stolen = mcp(&b, &bob, Some(&session), answer.clone()).await;
    assert_eq!(stolen.status, StatusCode::NOT_FOUND);
    let relayed = mcp(&b, &ann, Some(&session), answer).await;
    assert_eq!(relayed.status, StatusCode::ACCEPTED, "{}", relayed.body);
    let (_, done) = next_event(&mut body, &mut buffer).await;
    let done: Value = serde_json::from_str(&done).unwrap();
    assert_eq!(done["id"], 7, "{done:#}");
    assert_eq!(done["result"]["isError"], false, "{done:#}");
    let job = b
        .send(
            Request::get("/api/v1/jobs/web")
                .header("authorization", &ann)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(job.body["stop"], true, "{}", job.body);
}

#[tokio::test]
async fn a_subscription_made_on_one_replica_is_heard_on_the_stream_another_serves() {
    let fake = FakeNomad::start(Options::default()).await;
    let (a, b) = two_replicas(&fake, &[]).await;
    let ann = token("ann");
    let session = open_session(&a, &ann, "2025-06-18", json!({})).await;

    // The session's GET stream is on B, which restores the session from its row.
    let mut body = open_stream(&b, &ann, "/mcp", Some(&session)).await;
    let mut buffer = String::new();

    // Subscribed on A, after B's stream opened: the bus tells B to read the rows again.
    let node = fake.node_ids()[0].clone();
    let uri = format!("nomad://nodes/{node}");
    let subscribed = mcp(
        &a,
        &ann,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe",
               "params": {"uri": uri}}),
    )
    .await;
    assert_eq!(subscribed.status, StatusCode::OK, "{}", subscribed.body);
    assert!(
        subscribed.body.get("error").is_none(),
        "{}",
        subscribed.body
    );

    // A Nomad change of that node, until B's stream carries the update (B opens its own
    // Nomad stream once it watches, so the first change may come before it listens).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut down = true;
    let heard = loop {
        assert!(tokio::time::Instant::now() < deadline, "no update on B");
        fake.set_node_status(&node, if down { "down" } else { "ready" });
        down = !down;
        let next = tokio::time::timeout(
            Duration::from_millis(700),
            next_event(&mut body, &mut buffer),
        )
        .await;
        if let Ok((_, data)) = next {
            break serde_json::from_str::<Value>(&data).unwrap();
        }
    };
    assert_eq!(
        heard["method"], "notifications/resources/updated",
        "{heard}"
    );
    assert_eq!(heard["params"]["uri"], uri, "{heard}");
}

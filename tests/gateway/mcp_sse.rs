//! MCP over the legacy HTTP+SSE transport (2024-11-05): rmcp's client over a small SSE
//! client transport written here, against the gateway process and the fake Nomad.

use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use serde_json::json;

use crate::mcp::{Client, Mcp, Recorder, call, ok, tool_error};
use crate::support::{Gateway, TestDb, base_env, run, set};

/// One parsed SSE event.
struct Event {
    name: String,
    data: String,
}

/// Reads SSE events from a response body.
fn events(response: reqwest::Response) -> mpsc::Receiver<Event> {
    let (mut tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = Event {
                    name: "message".into(),
                    data: String::new(),
                };
                let mut comment_only = true;
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event.name = name.trim().into();
                        comment_only = false;
                    } else if let Some(data) = line.strip_prefix("data:") {
                        event.data.push_str(data.trim_start());
                        comment_only = false;
                    }
                }
                if !comment_only && tx.send(event).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Opens `GET path` and returns the rmcp client transport over it, plus the POST URL.
pub async fn connect(
    base: &str,
    path: &str,
    authorization: Option<&str>,
) -> (
    (
        mpsc::Sender<ClientJsonRpcMessage>,
        mpsc::Receiver<ServerJsonRpcMessage>,
    ),
    String,
    reqwest::header::HeaderMap,
) {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(value) = authorization {
        headers.insert("authorization", value.parse().unwrap());
    }
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let response = http.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let mut events = events(response);
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.name, "endpoint", "the first event names the POST URL");
    assert!(
        first.data.starts_with("/messages?sessionId="),
        "{}",
        first.data
    );
    let endpoint = format!("{base}{}", first.data);

    let (to_server, mut outgoing) = mpsc::channel::<ClientJsonRpcMessage>(64);
    let post = endpoint.clone();
    tokio::spawn(async move {
        while let Some(message) = outgoing.next().await {
            let response = http.post(&post).json(&message).send().await.unwrap();
            assert_eq!(response.status(), 202, "POST /messages answers 202");
        }
    });
    let (mut incoming, from_server) = mpsc::channel::<ServerJsonRpcMessage>(64);
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            assert_eq!(event.name, "message");
            let message = serde_json::from_str(&event.data).unwrap();
            if incoming.send(message).await.is_err() {
                return;
            }
        }
    });
    ((to_server, from_server), endpoint, headers)
}

async fn client(mcp: &Mcp, path: &str) -> (Client, String) {
    let base = mcp.gateway.url("");
    let base = base.trim_end_matches('/');
    let (transport, endpoint, headers) = connect(base, path, None).await;
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let client = Recorder::default()
        .serve(transport)
        .await
        .expect("the MCP handshake over SSE");
    (client, endpoint)
}

#[tokio::test]
async fn the_legacy_sse_transport_serves_the_same_tools() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let (client, endpoint) = client(&mcp, "/sse").await;
    assert!(client.peer_info().unwrap().protocol_version.as_str() >= "2024-11-05");
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 59);

    let mut spec = json!({"job_id": "web", "image": "nginx:1.27", "count": 2});
    spec["wait"] = json!(60);
    let created = ok(&client, &tools, "create_job", spec).await;
    assert_eq!(created["operation"]["state"], "succeeded", "{created:#}");
    let progress = client.service().progress.lock().unwrap().clone();
    assert!(!progress.is_empty(), "progress notifications over SSE");
    let job = ok(&client, &tools, "get_job", json!({"job_id": "web"})).await;
    assert_eq!(job["id"], "web");
    let logs = ok(&client, &tools, "get_job_logs", json!({"job_id": "web"})).await;
    assert!(!logs["lines"].as_array().unwrap().is_empty());
    let missing = tool_error(&client, "get_job", json!({"job_id": "wbe"})).await;
    assert!(missing.contains("similar name: web"), "{missing}");
    let result = call(&client, "list_jobs", json!({"status": "bogus"})).await;
    assert_eq!(result.is_error, Some(true));

    // The alias path works the same.
    let (alias, _) = client_alias(&mcp).await;
    let jobs = ok(&alias, &tools, "list_jobs", json!({})).await;
    assert_eq!(jobs["items"][0]["id"], "web");
    alias.cancel().await.unwrap();

    // Unknown sessions and malformed messages.
    let http = reqwest::Client::new();
    let base = mcp.gateway.url("");
    let unknown = http
        .post(format!(
            "{}/messages?sessionId=nope",
            base.trim_end_matches('/')
        ))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let garbage = http
        .post(&endpoint)
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let garbage: serde_json::Value = garbage.json().await.unwrap();
    assert_eq!(garbage["error"]["code"], -32700, "{garbage}");
    let untyped = http.post(&endpoint).body("{}").send().await.unwrap();
    assert_eq!(untyped.status(), 415);
    client.cancel().await.unwrap();
    // The session ends with its stream.
    let mut gone = 0;
    for _ in 0..50 {
        let response = http
            .post(&endpoint)
            .json(&json!({"jsonrpc": "2.0", "id": 9, "method": "ping"}))
            .send()
            .await
            .unwrap();
        gone = response.status().as_u16();
        if gone == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(gone, 404, "a closed stream ends its session");
}

async fn client_alias(mcp: &Mcp) -> (Client, String) {
    client(mcp, "/mcp/sse").await
}

#[tokio::test]
async fn shutdown_closes_open_streams() {
    let fake = FakeNomad::start(Options::default()).await;
    let mut mcp = Mcp::start(&fake.url()).await;
    let http = reqwest::Client::new();
    let response = http.get(mcp.gateway.url("/sse")).send().await.unwrap();
    let mut events = events(response);
    assert_eq!(events.next().await.unwrap().name, "endpoint");
    // A Streamable HTTP standalone stream too.
    let url = mcp.gateway.url("/mcp");
    let init = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let _ = init.text().await;
    http.post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .unwrap();
    let standalone = http
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(standalone.status(), 200);
    let mut standalone = standalone.bytes_stream();

    mcp.gateway.signal("TERM");
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while events.next().await.is_some() {}
        while let Some(Ok(_)) = standalone.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "both streams end when shutdown starts");
    let status = mcp.gateway.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}");
}

/// A caller holds at most `GATEWAY_MCP_SESSIONS_PER_CALLER` streams: one more ends the least
/// recently used; one that ends by itself frees its place.
#[tokio::test]
async fn a_callers_streams_beyond_the_cap_end_the_least_recently_used() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start_with(&fake.url(), &[("GATEWAY_MCP_SESSIONS_PER_CALLER", "2")]).await;
    let http = reqwest::Client::new();
    let open = || async {
        let response = http.get(mcp.gateway.url("/sse")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let mut events = events(response);
        let first = events.next().await.unwrap();
        assert_eq!(first.name, "endpoint");
        (events, mcp.gateway.url(&first.data))
    };
    let ping = |endpoint: String| {
        let http = http.clone();
        async move {
            http.post(endpoint)
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let ended = |mut events: mpsc::Receiver<Event>| async move {
        tokio::time::timeout(Duration::from_secs(5), async {
            while events.next().await.is_some() {}
        })
        .await
        .is_ok()
    };
    let (a, a_url) = open().await;
    let (b, b_url) = open().await;
    let (_c, c_url) = open().await;
    assert!(ended(a).await, "the third stream ends the first");
    assert_eq!(ping(a_url).await, 404);
    assert_eq!(ping(b_url.clone()).await, 202);
    assert_eq!(ping(c_url.clone()).await, 202);

    // The client closes b: its place is free, so a fourth stream ends nothing.
    drop(b);
    let freed = tokio::time::timeout(Duration::from_secs(5), async {
        while ping(b_url.clone()).await != 404 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(freed.is_ok(), "a closed stream's session ends");
    let (_d, d_url) = open().await;
    assert_eq!(ping(c_url).await, 202, "c keeps its place");
    assert_eq!(ping(d_url).await, 202);
}

/// With authentication on, the caller's identity reaches the tools on both transports:
/// a read-only token reads but cannot write, and an SSE session is its opener's alone.
#[tokio::test]
async fn the_callers_identity_reaches_every_tool_on_both_transports() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = base_env(&db);
    env.retain(|(k, _)| k != "GATEWAY_AUTH");
    set(&mut env, "NOMAD_ADDR", &fake.url());
    set(&mut env, "GATEWAY_JWT_SECRET", &"s3cr3t-".repeat(8));
    let mint = |sub: &str, scopes: &[&str]| {
        let mut args = vec!["token", "mint", "--sub", sub, "--ttl", "1h"];
        for scope in scopes {
            args.extend(["--scope", scope]);
        }
        let (code, out, err) = run(&args, &env);
        assert_eq!(code, 0, "{err}");
        format!("Bearer {}", out.trim())
    };
    let reader = mint("reader", &["nomad:read"]);
    let writer = mint("writer", &["nomad:read", "nomad:write"]);
    let gateway = Gateway::start(&env);

    // Streamable HTTP: no token, no session.
    let http = reqwest::Client::new();
    let refused = http
        .post(gateway.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            gateway.url("/mcp"),
        )
        .auth_header(reader.trim_start_matches("Bearer "));
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(config);
    let client = Recorder::default().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    ok(&client, &tools, "list_jobs", json!({})).await;
    let denied = tool_error(
        &client,
        "create_job",
        json!({"job_id": "web", "image": "nginx"}),
    )
    .await;
    assert!(denied.contains("nomad:write"), "{denied}");
    client.cancel().await.unwrap();

    // SSE: the same caller on every message; another caller cannot use the session.
    let base = gateway.url("");
    let base = base.trim_end_matches('/');
    let (transport, endpoint, _) = connect(base, "/sse", Some(&reader)).await;
    let client = Recorder::default().serve(transport).await.unwrap();
    let denied = tool_error(
        &client,
        "create_job",
        json!({"job_id": "web", "image": "nginx"}),
    )
    .await;
    assert!(denied.contains("nomad:write"), "{denied}");
    let hijack = http
        .post(&endpoint)
        .header("authorization", &writer)
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "create_job", "arguments": {"job_id": "web", "image": "nginx"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        hijack.status(),
        404,
        "a session belongs to the caller that opened it"
    );
    client.cancel().await.unwrap();
    let (transport, _, _) = connect(base, "/sse", Some(&writer)).await;
    let client = Recorder::default().serve(transport).await.unwrap();
    // A writer's tool list has the write tools a reader's leaves out.
    let tools = client.list_all_tools().await.unwrap();
    let created = ok(
        &client,
        &tools,
        "create_job",
        json!({"job_id": "web", "image": "nginx"}),
    )
    .await;
    assert_eq!(created["job_id"], "web");
    client.cancel().await.unwrap();
}

/// A quiet stream carries a keep-alive comment within 15 s, so proxies keep it open.
#[tokio::test]
async fn quiet_streams_get_keep_alive_comments() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let response = reqwest::Client::new()
        .get(mcp.gateway.url("/sse"))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let started = std::time::Instant::now();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(chunk)) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.lines().any(|l| l.starts_with(':')) {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no keep-alive comment in 20 s: {seen:?}");
    let after = started.elapsed();
    assert!(
        after >= Duration::from_secs(14) && after <= Duration::from_secs(17),
        "{after:?}"
    );
}

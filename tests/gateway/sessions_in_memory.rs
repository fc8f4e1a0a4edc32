//! Sessions beyond `GATEWAY_MCP_SESSIONS_IN_MEMORY`: the least recently used idle worker is
//! set aside and restored on the session's next request, on both transports; the
//! standalone `GET /mcp` stream stays open meanwhile and ends with its session.

use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use futures::{SinkExt, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use serde_json::{Value, json};

use crate::support::{Gateway, TestDb, base_env, set};

async fn gateway(nomad: &str, in_memory: &str) -> (Gateway, TestDb) {
    let db = TestDb::new().await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", nomad);
    set(&mut env, "GATEWAY_MCP_SESSIONS_IN_MEMORY", in_memory);
    (Gateway::start(&env), db)
}

/// A series of the gateway's `/metrics`, 0 when absent.
/// A request in Streamable HTTP session `session` at 2025-06-18.
fn in_session(request: reqwest::RequestBuilder, session: &str) -> reqwest::RequestBuilder {
    request
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-06-18")
}

const STREAMABLE_HELD: &str = r#"gateway_mcp_sessions{transport="streamable_http"}"#;
const STREAMABLE_ASIDE: &str =
    r#"gateway_mcp_sessions_set_aside_total{transport="streamable_http"}"#;
const SSE_ASIDE: &str = r#"gateway_mcp_sessions_set_aside_total{transport="sse"}"#;

/// A raw 2025-06-18 session, initialized.
async fn initialize(http: &reqwest::Client, url: &str) -> String {
    let session = crate::mcp::initialize(http, url).await;
    let initialized = in_session(http.post(url), &session)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .unwrap();
    assert_eq!(initialized.status(), 202);
    session
}

/// `tools/call list_jobs` in a session: the answer's JSON-RPC message.
async fn list_jobs(http: &reqwest::Client, url: &str, session: &str, id: u64) -> Value {
    let response = in_session(http.post(url), session)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "list_jobs", "arguments": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "session {session}");
    let body = response.text().await.unwrap();
    let data = body
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no answer in {body:?}"));
    serde_json::from_str(data).unwrap()
}

#[tokio::test]
async fn streamable_http_sessions_beyond_the_cap_are_set_aside_and_restored() {
    let fake = FakeNomad::start(Options::default()).await;
    let (gateway, _db) = gateway(&fake.url(), "2").await;
    let url = gateway.url("/mcp");
    let http = reqwest::Client::new();

    // A session's standalone stream is the gateway's: it stays open while the session's
    // worker is set aside and restored, and ends when the session does.
    let listening = initialize(&http, &url).await;
    let mut stream = in_session(http.get(&url), &listening)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");

    let sessions = [
        initialize(&http, &url).await,
        initialize(&http, &url).await,
        initialize(&http, &url).await,
    ];
    assert_eq!(gateway.metric(STREAMABLE_HELD).await, 2.0);
    assert!(gateway.metric(STREAMABLE_ASIDE).await >= 2.0);
    let open = tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await;
    assert!(
        open.is_err(),
        "the standalone stream is still open: {open:?}"
    );

    // Every session answers, the ones set aside restored from their rows; going round twice
    // sets each aside and brings it back again.
    for round in 0..2u64 {
        for (i, session) in sessions.iter().enumerate() {
            let answer = list_jobs(&http, &url, session, 10 * round + i as u64).await;
            assert_eq!(answer["id"], json!(10 * round + i as u64));
            assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
            assert!(
                answer["result"]["structuredContent"].is_object(),
                "{answer}"
            );
        }
    }
    assert!(gateway.metric(STREAMABLE_ASIDE).await >= 6.0);
    let answer = list_jobs(&http, &url, &listening, 99).await;
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    let open = tokio::time::timeout(Duration::from_millis(200), stream.chunk()).await;
    assert!(open.is_err(), "the standalone stream survived: {open:?}");
    let deleted = in_session(http.delete(&url), &listening)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let ended = tokio::time::timeout(Duration::from_secs(2), stream.chunk()).await;
    assert!(
        matches!(ended, Ok(Ok(None))),
        "the stream ends with its session: {ended:?}"
    );

    // A stream of another caller's or an unknown session is 404; one that accepts no event
    // stream is 406.
    for (session, accept, status) in [
        ("no-such-session", "text/event-stream", 404),
        (sessions[1].as_str(), "application/json", 406),
    ] {
        let response = in_session(http.get(&url), session)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{session} {accept}");
    }

    // Ending a session that is set aside works as for any other.
    let deleted = in_session(http.delete(&url), &sessions[0])
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let gone = in_session(http.post(&url), &sessions[0])
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

/// Sends a message on a raw SSE session and returns the next message its stream carries.
async fn exchange(
    session: &mut (
        futures::channel::mpsc::Sender<ClientJsonRpcMessage>,
        futures::channel::mpsc::Receiver<ServerJsonRpcMessage>,
    ),
    message: Value,
) -> Value {
    let expects_answer = message.get("id").is_some();
    session
        .0
        .send(serde_json::from_value(message).unwrap())
        .await
        .unwrap();
    if !expects_answer {
        return Value::Null;
    }
    let answer = tokio::time::timeout(Duration::from_secs(10), session.1.next())
        .await
        .expect("an answer on the stream")
        .expect("the stream is open");
    serde_json::to_value(answer).unwrap()
}

#[tokio::test]
async fn legacy_sse_workers_beyond_the_cap_are_set_aside_and_the_handshake_replayed() {
    let fake = FakeNomad::start(Options::default()).await;
    let (gateway, _db) = gateway(&fake.url(), "1").await;
    let base = gateway.url("");
    let base = base.trim_end_matches('/');
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let (mut transport, _, _) = crate::mcp_sse::connect(base, "/sse", None).await;
        let answer = exchange(
            &mut transport,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2024-11-05", "capabilities": {},
                "clientInfo": {"name": "raw-sse", "version": "1"}}}),
        )
        .await;
        assert_eq!(answer["id"], json!(1), "{answer}");
        exchange(
            &mut transport,
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        )
        .await;
        sessions.push(transport);
    }
    // One worker at a time: each message to the other session sets this one aside, and the
    // next one starts a fresh worker with the handshake replayed. The stream carries only
    // the answers the client asked for, in order.
    for id in 2..8u64 {
        let session = &mut sessions[(id % 2) as usize];
        let answer = exchange(
            session,
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": "list_jobs", "arguments": {}}}),
        )
        .await;
        assert_eq!(answer["id"], json!(id), "{answer}");
        assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    }
    assert!(gateway.metric(SSE_ASIDE).await >= 4.0);
}

//! Malformed and hostile requests on every surface (REST, `/mcp`, `/sse` + `/messages`),
//! sent as raw HTTP/1.1 over TCP: each gets its exact status and a JSON body a client can
//! read, and the gateway keeps serving (a normal request right after each one succeeds).

use std::net::SocketAddr;
use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Gateway, TestDb, base_env, set};

/// Header name and value pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];
/// A surface: name, method, path, headers, whether it answers as MCP.
type Surface<'a> = (&'a str, &'a str, &'a str, Headers<'a>, bool);
/// A malformed body: what it is, headers, body, the status and JSON-RPC code it gets.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, Option<i64>);
/// A refused request: method, path, headers, body, whether it answers as MCP.
type Refused<'a> = (&'a str, &'a str, Headers<'a>, &'a [u8], bool);

/// One response: status, lower-cased headers, body as JSON (`Null` when it is not).
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || after.len() < size {
                break;
            }
            out.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_string()
    };
    let body = serde_json::from_str(&body).unwrap_or(Value::Null);
    Raw {
        status,
        headers,
        body,
    }
}

/// Sends `head` + `body` on a new connection (`Connection: close`) and reads the answer.
async fn send(addr: SocketAddr, head: &str, body: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The gateway may answer (413) before the whole body is sent, and close.
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    parse(&answer)
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    let mut host = false;
    for (name, value) in headers {
        host |= name.eq_ignore_ascii_case("host");
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !host {
        head.push_str("host: 127.0.0.1\r\n");
    }
    head.push_str("\r\n");
    head
}

async fn healthy(addr: SocketAddr) {
    let ok = send(addr, &request("GET", "/api/v1/jobs", &[], b""), b"").await;
    assert_eq!(ok.status, 200, "the gateway keeps serving: {ok:?}");
}

/// A problem document (REST) or a JSON-RPC error (MCP) with this status.
fn assert_refused(raw: &Raw, status: u16, mcp: bool, what: &str) {
    assert_eq!(raw.status, status, "{what}: {raw:?}");
    let kind = raw.header("content-type").unwrap_or_default();
    if mcp {
        assert!(kind.starts_with("application/json"), "{what}: {kind}");
        assert!(raw.body["error"]["code"].is_i64(), "{what}: {:?}", raw.body);
        assert!(raw.body["error"]["message"].is_string(), "{what}");
    } else {
        assert_eq!(kind, "application/problem+json", "{what}");
        assert_eq!(raw.body["status"], status, "{what}: {:?}", raw.body);
    }
}

async fn start(settings: &[(&str, &str)]) -> (FakeNomad, Gateway, TestDb) {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &fake.url());
    for (key, value) in settings {
        set(&mut env, key, value);
    }
    let gateway = Gateway::start(&env);
    (fake, gateway, db)
}

/// The legacy SSE transport's message URL of a fresh session (its stream kept open).
async fn sse_endpoint(addr: SocketAddr) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /sse HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        seen.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(at) = text.find("data: /messages") {
            let line = text[at + 6..].lines().next().unwrap().trim().to_string();
            return (line, stream);
        }
    }
}

#[tokio::test]
async fn malformed_bodies_get_their_exact_answer_on_every_surface() {
    let (_fake, gateway, _db) = start(&[]).await;
    let addr = gateway.addr;
    let (messages, _stream) = sse_endpoint(addr).await;
    let json = [("content-type", "application/json")];
    let mcp_headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge = vec![b' '; 20 * 1024 * 1024];

    // (surface, method, path, headers, is MCP)
    let surfaces: [Surface; 3] = [
        ("REST", "POST", "/api/v1/jobs", &json, false),
        ("MCP", "POST", "/mcp", &mcp_headers, true),
        ("SSE", "POST", &messages, &json, true),
    ];
    for (surface, method, path, headers, mcp) in surfaces {
        let cases: Vec<Case> = vec![
            (
                "not JSON",
                headers.to_vec(),
                b"not json".to_vec(),
                400,
                Some(-32700),
            ),
            (
                "cut-off JSON",
                headers.to_vec(),
                b"{\"jsonrpc\": \"2.0\", ".to_vec(),
                400,
                Some(-32700),
            ),
            (
                "100,000-deep nesting",
                headers.to_vec(),
                deep.clone().into_bytes(),
                400,
                Some(-32700),
            ),
            (
                "a body of another type",
                vec![
                    ("content-type", "text/plain"),
                    ("accept", "application/json, text/event-stream"),
                ],
                b"{}".to_vec(),
                415,
                Some(-32600),
            ),
            ("20 MB", headers.to_vec(), huge.clone(), 413, Some(-32600)),
        ];
        for (what, headers, body, status, code) in cases {
            let what = format!("{surface}, {what}");
            let raw = send(addr, &request(method, path, &headers, &body), &body).await;
            assert_refused(&raw, status, mcp, &what);
            if mcp && let Some(code) = code {
                assert_eq!(raw.body["error"]["code"], code, "{what}: {:?}", raw.body);
            }
            healthy(addr).await;
        }
    }

    // Valid JSON that is not a JSON-RPC message: -32600 on both MCP transports.
    for path in ["/mcp", messages.as_str()] {
        for body in [
            json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": 1}),
            json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]),
            json!("ping"),
        ] {
            let bytes = body.to_string().into_bytes();
            let raw = send(addr, &request("POST", path, &mcp_headers, &bytes), &bytes).await;
            assert_refused(&raw, 400, true, &format!("{path}: {body}"));
            assert_eq!(raw.body["error"]["code"], -32600, "{path}: {body}");
            healthy(addr).await;
        }
    }

    // REST: JSON of the wrong shape is 422 naming the field.
    let bytes = br#"{"job_id": 5, "image": "nginx"}"#;
    let raw = send(addr, &request("POST", "/api/v1/jobs", &json, bytes), bytes).await;
    assert_refused(&raw, 422, false, "REST, wrong shape");
    assert_eq!(raw.body["errors"][0]["field"], "job_id", "{:?}", raw.body);
}

#[tokio::test]
async fn foreign_hosts_and_origins_reach_nothing() {
    // Authentication off on loopback, as for a quick local try: a page using DNS rebinding
    // reaches the gateway with its own Host, and must get nothing.
    let (fake, gateway, _db) = start(&[]).await;
    let addr = gateway.addr;
    let (messages, _stream) = sse_endpoint(addr).await;
    let job = br#"{"job_id": "web", "image": "nginx"}"#;
    let rebinding = [
        ("host", "attacker.example"),
        ("content-type", "application/json"),
    ];
    let cross_site = [
        ("origin", "https://attacker.example"),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    let ping = br#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#;
    let cases: [Refused; 8] = [
        ("GET", "/api/v1/jobs", &rebinding, b"", false),
        ("POST", "/api/v1/jobs", &rebinding, job, false),
        ("POST", "/mcp", &rebinding, ping, true),
        ("GET", "/sse", &rebinding, b"", true),
        ("POST", "/api/v1/jobs", &cross_site, job, false),
        ("DELETE", "/api/v1/jobs/web", &cross_site, b"", false),
        ("POST", "/mcp", &cross_site, ping, true),
        ("POST", &messages, &cross_site, ping, true),
    ];
    for (method, path, headers, body, mcp) in cases {
        let raw = send(addr, &request(method, path, headers, body), body).await;
        assert_refused(&raw, 403, mcp, &format!("{method} {path} {headers:?}"));
        healthy(addr).await;
    }
    let writes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(
        writes.is_empty(),
        "a refused request changed nothing in Nomad: {writes:?}"
    );
    // The gateway's own page (loopback) may; probes by IP are not held to the Host rule.
    let own = [
        ("origin", "http://127.0.0.1:3000"),
        ("content-type", "application/json"),
    ];
    let raw = send(addr, &request("POST", "/api/v1/jobs", &own, job), job).await;
    assert_eq!(raw.status, 201, "{raw:?}");
    let probe = send(
        addr,
        &request("GET", "/healthz", &[("host", "10.1.2.3:8080")], b""),
        b"",
    )
    .await;
    assert_eq!(probe.status, 200, "{probe:?}");
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_listed() {
    let (_fake, plain, _db) = start(&[]).await;
    let preflight = [
        ("origin", "https://console.example.com"),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization, content-type",
        ),
    ];
    let raw = send(
        plain.addr,
        &request("OPTIONS", "/api/v1/jobs", &preflight, b""),
        b"",
    )
    .await;
    assert!(
        raw.header("access-control-allow-origin").is_none(),
        "{raw:?}"
    );

    let (_fake, listed, _db) =
        start(&[("GATEWAY_CORS_ORIGINS", "https://console.example.com")]).await;
    let raw = send(
        listed.addr,
        &request("OPTIONS", "/api/v1/jobs", &preflight, b""),
        b"",
    )
    .await;
    assert!(raw.status < 300, "{raw:?}");
    assert_eq!(
        raw.header("access-control-allow-origin"),
        Some("https://console.example.com")
    );
    let methods = raw
        .header("access-control-allow-methods")
        .unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
    // A listed origin may change things; another still may not.
    let job = br#"{"job_id": "web", "image": "nginx"}"#;
    let headers = [
        ("origin", "https://console.example.com"),
        ("content-type", "application/json"),
    ];
    let raw = send(
        listed.addr,
        &request("POST", "/api/v1/jobs", &headers, job),
        job,
    )
    .await;
    assert_eq!(raw.status, 201, "{raw:?}");
    assert_eq!(
        raw.header("access-control-allow-origin"),
        Some("https://console.example.com")
    );
    let other = [
        ("origin", "https://other.example.com"),
        ("content-type", "application/json"),
    ];
    let raw = send(
        listed.addr,
        &request("POST", "/api/v1/jobs", &other, job),
        job,
    )
    .await;
    assert_refused(&raw, 403, false, "an unlisted origin");
}

#[tokio::test]
async fn slow_clients_and_too_many_connections_are_cut_off() {
    let (_fake, gateway, _db) = start(&[
        ("GATEWAY_HEADER_TIMEOUT", "1s"),
        ("GATEWAY_BODY_TIMEOUT", "1s"),
        ("GATEWAY_MAX_CONNECTIONS", "4"),
    ])
    .await;
    let addr = gateway.addr;

    // Headers that never end: the connection is closed.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /api/v1/jobs HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "slow headers are cut off");
    assert!(started.elapsed() < Duration::from_secs(4));
    healthy(addr).await;

    // A request head over 64 KiB: 431, and the connection closed.
    let big = "x".repeat(100 * 1024);
    let raw = send(
        addr,
        &request("GET", "/api/v1/jobs", &[("x-padding", &big)], b""),
        b"",
    )
    .await;
    assert_eq!(raw.status, 431, "{raw:?}");
    healthy(addr).await;

    // A body that trickles: 408 once the body time is up, for REST and MCP alike.
    for (path, mcp) in [("/api/v1/jobs", false), ("/mcp", true)] {
        let mut trickle = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{{\"jo"
        );
        trickle.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), async {
            // One more byte after a while, never the whole body.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = trickle.write_all(b"b").await;
            trickle.read_to_end(&mut answer).await
        })
        .await;
        assert!(read.is_ok(), "{path}: the trickled body is cut off");
        assert_refused(&parse(&answer), 408, mcp, &format!("{path}, trickled body"));
        healthy(addr).await;
    }

    // Four connections held open: a fifth is answered 503 with Retry-After, and served
    // again once one closes.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 1024];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let refused = send(addr, &request("GET", "/api/v1/jobs", &[], b""), b"").await;
    assert_refused(&refused, 503, false, "the fifth connection");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("GATEWAY_MAX_CONNECTIONS")
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    healthy(addr).await;
}

//! Live resources: a session's `resources/subscribe` (rmcp's client, its `GET /mcp` stream)
//! and a 2026-07-28 `subscriptions/listen` (raw HTTP) hear a change within a second of the
//! fake Nomad's event, through one Nomad event stream per gateway, closed when the last
//! subscriber leaves.

#![allow(deprecated)] // rmcp marks resources/subscribe legacy; sessions still use it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_nomad::{FakeNomad, Options};
use futures::StreamExt;
use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ResourceUpdatedNotificationParam,
    SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};

use crate::mcp::{Mcp, ok};

/// Keeps every resource update with when it arrived.
#[derive(Clone, Default)]
struct Listener {
    heard: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl ClientHandler for Listener {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.heard
            .lock()
            .unwrap()
            .push((params.uri, Instant::now()));
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("listener", "1"),
        )
    }
}

impl Listener {
    /// Waits (at most `within`) for an update of `uri` after `since`; when it came.
    async fn heard_after(&self, uri: &str, since: Instant, within: Duration) -> Option<Instant> {
        let deadline = Instant::now() + within;
        loop {
            let found = self
                .heard
                .lock()
                .unwrap()
                .iter()
                .find(|(u, at)| u == uri && *at >= since)
                .map(|(_, at)| *at);
            if found.is_some() || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn listener(mcp: &Mcp) -> (Listener, RunningService<RoleClient, Listener>) {
    let listener = Listener::default();
    let transport = StreamableHttpClientTransport::from_uri(mcp.gateway.url("/mcp"));
    let client = listener.clone().serve(transport).await.unwrap();
    (listener, client)
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_session_hears_its_subscriptions_through_one_nomad_stream() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let plain = mcp.client().await;
    let tools = plain.list_all_tools().await.unwrap();
    let spec = json!({"job_id": "web", "image": "nginx:1", "count": 1, "wait": 30});
    ok(&plain, &tools, "create_job", spec).await;
    let node = fake.node_ids()[0].clone();

    let (ann, ann_client) = listener(&mcp).await;
    let info = ann_client.peer_info().unwrap();
    assert_eq!(
        info.capabilities.resources.as_ref().unwrap().subscribe,
        Some(true),
        "Streamable HTTP offers subscriptions"
    );
    let web = "nomad://jobs/default/web";
    let node_uri = format!("nomad://nodes/{node}");
    ann_client
        .subscribe(SubscribeRequestParams::new(web))
        .await
        .unwrap();
    ann_client
        .subscribe(SubscribeRequestParams::new(&node_uri))
        .await
        .unwrap();
    // What does not exist, or is no resource, cannot be watched.
    let missing = ann_client
        .subscribe(SubscribeRequestParams::new("nomad://jobs/default/nope"))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("not found"), "{missing}");
    let bogus = ann_client
        .subscribe(SubscribeRequestParams::new("nomad://volumes"))
        .await
        .unwrap_err();
    assert!(bogus.to_string().contains("no resource"), "{bogus}");
    until("the Nomad stream opens", || fake.open_event_streams() == 1).await;

    // A second session watching the same job shares the stream.
    let (bob, bob_client) = listener(&mcp).await;
    bob_client
        .subscribe(SubscribeRequestParams::new(web))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.open_event_streams(), 1, "one Nomad stream per gateway");

    // A change to the job reaches both within a second of the write that made it.
    let changed = Instant::now();
    ok(
        &plain,
        &tools,
        "scale_job",
        json!({"job_id": "web", "count": 2}),
    )
    .await;
    let took = |at: Option<Instant>| at.map(|at| at.duration_since(changed));
    let ann_took = took(ann.heard_after(web, changed, Duration::from_secs(5)).await);
    let bob_took = took(bob.heard_after(web, changed, Duration::from_secs(5)).await);
    assert!(
        ann_took.is_some_and(|d| d < Duration::from_secs(1)),
        "{ann_took:?}"
    );
    assert!(
        bob_took.is_some_and(|d| d < Duration::from_secs(1)),
        "{bob_took:?}"
    );
    // A node change reaches the session watching the node only.
    let changed = Instant::now();
    ok(
        &plain,
        &tools,
        "set_node_eligibility",
        json!({"node_id": node, "eligible": false}),
    )
    .await;
    let heard = ann
        .heard_after(&node_uri, changed, Duration::from_secs(5))
        .await;
    assert!(heard.is_some(), "the node's update");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        bob.heard.lock().unwrap().iter().all(|(uri, _)| uri == web),
        "bob watches the job only"
    );

    // Unsubscribed, a change is not heard; when the last watcher leaves, the stream closes.
    ann_client
        .unsubscribe(UnsubscribeRequestParams::new(web))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let changed = Instant::now();
    ok(
        &plain,
        &tools,
        "scale_job",
        json!({"job_id": "web", "count": 1}),
    )
    .await;
    assert!(
        bob.heard_after(web, changed, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert!(
        ann.heard_after(web, changed, Duration::from_millis(500))
            .await
            .is_none(),
        "ann unsubscribed"
    );
    drop(bob_client);
    ann_client
        .unsubscribe(UnsubscribeRequestParams::new(&node_uri))
        .await
        .unwrap();
    until("the Nomad stream closes", || fake.open_event_streams() == 0).await;
}

/// One SSE message of a raw response stream.
async fn next_message(
    body: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
) -> Value {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if !data.is_empty() {
                return serde_json::from_str(&data).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("a message within 10 s")
            .expect("the stream is open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn a_2026_07_28_listen_hears_its_resources_on_its_own_stream() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let plain = mcp.client().await;
    let tools = plain.list_all_tools().await.unwrap();
    let spec = json!({"job_id": "web", "image": "nginx:1", "count": 1, "wait": 30});
    ok(&plain, &tools, "create_job", spec).await;

    let web = "nomad://jobs/default/web";
    let listen = |uris: Value| {
        reqwest::Client::new()
            .post(mcp.gateway.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "subscriptions/listen")
            .json(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen",
                "params": {"_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}},
                    "notifications": {"resourceSubscriptions": uris}}}),
            )
            .send()
    };
    let response = listen(json!([web, "nomad://volumes"])).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let acknowledged = next_message(&mut body, &mut buffer).await;
    assert_eq!(
        acknowledged["method"], "notifications/subscriptions/acknowledged",
        "{acknowledged:#}"
    );
    assert_eq!(
        acknowledged["params"]["notifications"]["resourceSubscriptions"],
        json!([web]),
        "what is no resource is left out: {acknowledged:#}"
    );
    until("the Nomad stream opens", || fake.open_event_streams() == 1).await;

    let changed = Instant::now();
    ok(
        &plain,
        &tools,
        "scale_job",
        json!({"job_id": "web", "count": 2}),
    )
    .await;
    let updated = next_message(&mut body, &mut buffer).await;
    let took = changed.elapsed();
    assert_eq!(
        updated["method"], "notifications/resources/updated",
        "{updated:#}"
    );
    assert_eq!(updated["params"]["uri"], web);
    assert!(took < Duration::from_secs(1), "{took:?}");

    // The client leaves: the subscription ends, and with it the Nomad stream.
    drop(body);
    until("the Nomad stream closes", || fake.open_event_streams() == 0).await;

    // A job that does not exist is refused.
    let response = listen(json!(["nomad://jobs/default/nope"])).await.unwrap();
    let text = response.text().await.unwrap();
    assert!(
        text.contains("-32602") && text.contains("not found"),
        "{text}"
    );
}

//! The fast tier: the assembled router (`server::app::router`) driven in process with
//! tower's `oneshot`, no child process, against the fake Nomad and the test database.
//! Snapshots (`tests/gateway/snapshots/`, insta) pin problem documents, the OpenAPI
//! document's routes, `tools/list` and a few tool results, so a changed message or schema
//! shows in review. After an intended change: `INSTA_UPDATE=always cargo test in_process`,
//! then review the diff of the `.snap` files.

use axum::Router;
use axum::body::Body;
use fake_nomad::{FakeNomad, Options};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{TestDb, base_env, set};

/// One gateway, in this process.
pub struct InProcess {
    router: Router,
    _db: std::sync::Arc<TestDb>,
    shutdown: tokio_util::sync::CancellationToken,
}

/// An answer: status, headers and the body as JSON (`Value::Null` when it is not JSON;
/// the `data:` of the first event when it is an event stream).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl InProcess {
    pub async fn start(fake: &FakeNomad, settings: &[(&str, &str)]) -> InProcess {
        InProcess::start_on(fake, std::sync::Arc::new(TestDb::new().await), settings).await
    }

    /// One gateway on a database others may share: replicas in one process.
    pub async fn start_on(
        fake: &FakeNomad,
        db: std::sync::Arc<TestDb>,
        settings: &[(&str, &str)],
    ) -> InProcess {
        crate::support::install_crypto_provider();
        let mut env = base_env(&db);
        set(&mut env, "NOMAD_ADDR", &fake.url());
        // The audit spool lives beside the test's database, not in the working directory.
        let spool = db.dir().join("audit-spool");
        set(&mut env, "GATEWAY_AUDIT_SPOOL", spool.to_str().unwrap());
        for (key, value) in settings {
            set(&mut env, key, value);
        }
        let config = nomad_gateway::config::Config::load(None, &|key| {
            env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
        .expect("a valid configuration");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let state = nomad_gateway::server::build_state(config, shutdown.clone())
            .await
            .expect("the gateway's state");
        InProcess {
            router: nomad_gateway::server::app::router(state),
            _db: db,
            shutdown,
        }
    }

    /// Sends one request and hands back the response as it comes (event streams).
    pub async fn open(&self, request: Request<Body>) -> http::Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Shuts this gateway down as SIGTERM would: streams end, background tasks stop.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// Sends one request through the whole application.
    pub async fn send(&self, mut request: Request<Body>) -> Answer {
        // What every HTTP/1.1 client sends (and the Host rule wants).
        if !request.headers().contains_key(http::header::HOST) {
            request.headers_mut().insert(
                http::header::HOST,
                http::HeaderValue::from_static("127.0.0.1"),
            );
        }
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        let body = serde_json::from_str(&text)
            .ok()
            .or_else(|| {
                text.lines()
                    .find_map(|l| l.strip_prefix("data:"))
                    .and_then(|data| serde_json::from_str(data.trim()).ok())
            })
            .unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A REST call with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        let body = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    /// An initialized Streamable HTTP MCP session.
    pub async fn mcp(&self) -> McpSession<'_> {
        let mut session = McpSession {
            gateway: self,
            id: None,
            next: 0,
        };
        let initialized = session
            .request(
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "in-process", "version": "1"}}),
            )
            .await;
        assert_eq!(initialized.status, StatusCode::OK, "{}", initialized.body);
        session.id = initialized
            .headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        assert!(session.id.is_some(), "a session id");
        let notified = session
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(notified.status, StatusCode::ACCEPTED);
        session
    }
}

pub struct McpSession<'a> {
    gateway: &'a InProcess,
    id: Option<String>,
    next: u64,
}

impl McpSession<'_> {
    async fn post(&self, message: Value) -> Answer {
        let mut request = Request::post("/mcp")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(id) = &self.id {
            request = request
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", "2025-06-18");
        }
        self.gateway
            .send(request.body(Body::from(message.to_string())).unwrap())
            .await
    }

    /// One JSON-RPC request; the answer's body is the JSON-RPC response.
    pub async fn request(&mut self, method: &str, params: Value) -> Answer {
        self.next += 1;
        let message =
            json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params});
        self.post(message).await
    }

    /// `tools/call`: the result object (or the JSON-RPC error).
    pub async fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        let answer = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let body = answer.body;
        body.get("result")
            .or_else(|| body.get("error"))
            .cloned()
            .unwrap_or(body)
    }
}

/// Replaces what differs from run to run (UUIDs, times, durations) with placeholders.
pub fn stable(value: Value) -> Value {
    match value {
        Value::String(s) if is_uuid(&s) => Value::String("[uuid]".into()),
        Value::String(s) if is_time(&s) => Value::String("[time]".into()),
        Value::String(s) => Value::String(replace_uuids(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(stable).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| match k.as_str() {
                    "duration_ms" | "waited_ms" => (k, Value::String("[ms]".into())),
                    _ => (k, stable(v)),
                })
                .collect(),
        ),
        other => other,
    }
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

fn is_time(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

fn replace_uuids(s: &str) -> String {
    s.split(' ')
        .map(|word| {
            let trimmed = word.trim_matches(|c: char| !c.is_ascii_hexdigit() && c != '-');
            if is_uuid(trimmed) {
                word.replace(trimmed, "[uuid]")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file name for a snapshot: letters, digits and `_`.
fn snapshot_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    name.split('_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// A problem document and the headers a client acts on.
fn problem(answer: Answer) -> Value {
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .map(|v| Value::String(v.to_str().unwrap().to_string()))
            .unwrap_or(Value::Null)
    };
    json!({
        "status": answer.status.as_u16(),
        "content-type": header("content-type"),
        "www-authenticate": header("www-authenticate"),
        "retry-after": header("retry-after"),
        "body": stable(answer.body),
    })
}

#[tokio::test]
async fn problem_documents() {
    let fake = FakeNomad::start(Options::default()).await;
    let gateway = InProcess::start(&fake, &[]).await;
    let created = gateway
        .call(
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"job_id": "web-api", "image": "nginx:1.27"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    let cases = [
        (Method::GET, "/api/v2/jobs", None),
        (Method::GET, "/api/v1/jobs/web", None),
        (Method::PATCH, "/api/v1/jobs", None),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"job_id": "bad id", "memory": 1, "count": -1})),
        ),
        (
            Method::POST,
            "/api/v1/jobs/web-api/scale?wait=5&wait=9",
            Some(json!({"count": 2})),
        ),
        (Method::GET, "/api/v1/nodes?limit=500", None),
        (
            Method::GET,
            "/api/v1/jobs/web-api/allocations?cursor=x",
            None,
        ),
    ];
    for (method, path, body) in cases {
        let name = snapshot_name(&format!("problem {method} {path}"));
        let answer = gateway.call(method, path, body).await;
        insta::assert_json_snapshot!(name, problem(answer));
    }

    let guarded = InProcess::start(&fake, &[("GATEWAY_AUTH", "on")]).await;
    let refused = guarded.call(Method::GET, "/api/v1/jobs", None).await;
    insta::assert_json_snapshot!("problem_no_credential", problem(refused));
}

#[tokio::test]
async fn the_openapi_routes() {
    let fake = FakeNomad::start(Options::default()).await;
    let gateway = InProcess::start(&fake, &[]).await;
    let answer = gateway.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    // Each operation with its parameters and the schema of its 200 answer: what a client
    // generator sees, one line each.
    let mut routes = Vec::new();
    for (path, item) in answer.body["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let parameters: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str())
                .collect();
            let ok = operation["responses"]
                .as_object()
                .and_then(|r| r.iter().find(|(code, _)| code.starts_with('2')))
                .map(|(code, r)| {
                    let schema = &r["content"]["application/json"]["schema"];
                    let shape = schema["$ref"]
                        .as_str()
                        .map(|s| s.trim_start_matches("#/components/schemas/").to_string())
                        .or_else(|| {
                            schema["properties"]["items"]["items"]["$ref"]
                                .as_str()
                                .map(|s| {
                                    format!(
                                        "page of {}",
                                        s.trim_start_matches("#/components/schemas/")
                                    )
                                })
                        })
                        .unwrap_or_else(|| "-".into());
                    format!("{code} {shape}")
                })
                .unwrap_or_default();
            routes.push(format!(
                "{} {path} ({}) -> {ok}",
                method.to_uppercase(),
                parameters.join(", ")
            ));
        }
    }
    routes.sort();
    insta::assert_snapshot!("openapi_routes", routes.join("\n"));
}

/// The most the tool catalogue may cost an agent that sees every tool (see
/// `mcp_tools_list_and_results`).
const CATALOGUE_BYTES: usize = 40_000;

#[tokio::test]
async fn mcp_tools_list_and_results() {
    let fake = FakeNomad::start(Options::default()).await;
    let gateway = InProcess::start(&fake, &[]).await;
    let mut mcp = gateway.mcp().await;
    let listed = mcp.request("tools/list", json!({})).await;
    assert_eq!(listed.status, StatusCode::OK);
    insta::assert_json_snapshot!("tools_list", listed.body["result"]);
    // What the catalogue costs an admin who sees every tool: names, titles, descriptions
    // and input schemas, as `tools/list` sends them.
    let bytes = catalogue_bytes(&listed.body);
    assert!(
        bytes <= CATALOGUE_BYTES,
        "the tool catalogue is {bytes} bytes, more than {CATALOGUE_BYTES}"
    );

    let created = mcp
        .call_tool(
            "create_job",
            json!({"job_id": "web-api", "image": "nginx:1.27", "count": 2, "wait": 30}),
        )
        .await;
    assert_eq!(
        created["structuredContent"]["operation"]["state"], "succeeded",
        "{created:#}"
    );
    let listed = mcp.call_tool("list_jobs", json!({})).await;
    insta::assert_json_snapshot!("list_jobs", stable(listed));
    let job = mcp.call_tool("get_job", json!({"job_id": "web-api"})).await;
    insta::assert_json_snapshot!("get_job", stable(job));
    let missing = mcp.call_tool("get_job", json!({"job_id": "web"})).await;
    insta::assert_json_snapshot!("get_job_of_a_missing_job", stable(missing));
    let invalid = mcp
        .call_tool("create_job", json!({"job_id": "bad id", "memory": 1}))
        .await;
    insta::assert_json_snapshot!("create_job_with_invalid_fields", stable(invalid));
    let malformed = mcp.call_tool("get_job", json!({"job": "web"})).await;
    insta::assert_json_snapshot!("get_job_with_a_misnamed_argument", malformed);
}

/// The bytes of a `tools/list` answer's names, titles, descriptions and input schemas.
fn catalogue_bytes(listed: &Value) -> usize {
    let catalogue: Vec<Value> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            json!({"name": t["name"], "title": t["title"], "description": t["description"],
                "inputSchema": t["inputSchema"]})
        })
        .collect();
    serde_json::to_vec(&catalogue).unwrap().len()
}

fn tool_names(listed: &Value) -> Vec<String> {
    listed["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list answered no tools: {listed:#}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// An operator who offers only some toolsets: `tools/list` shrinks to them, a call to a
/// tool outside them is refused naming its toolset and the setting, and REST is unchanged.
#[tokio::test]
async fn toolsets_shrink_the_catalogue_and_refuse_other_tools() {
    let fake = FakeNomad::start(Options::default()).await;
    let everything = InProcess::start(&fake, &[]).await;
    let all = everything
        .mcp()
        .await
        .request("tools/list", json!({}))
        .await;
    let some = InProcess::start(&fake, &[("GATEWAY_MCP_TOOLSETS", "operations, Jobs")]).await;
    let mut mcp = some.mcp().await;
    let listed = mcp.request("tools/list", json!({})).await;
    let names = tool_names(&listed.body);
    assert!(names.contains(&"list_jobs".to_string()), "{names:?}");
    assert!(names.contains(&"revert_job".to_string()), "{names:?}");
    assert!(
        names.contains(&"wait_for_operation".to_string()),
        "{names:?}"
    );
    for absent in [
        "drain_node",
        "get_allocation",
        "list_variables",
        "find_problems",
    ] {
        assert!(
            !names.contains(&absent.to_string()),
            "{absent} in {names:?}"
        );
    }
    let expected = "list_jobs get_job create_job submit_job plan_job diagnose_job stop_job \
        restart_job scale_job dispatch_job force_evaluate_job list_job_versions job_timeline \
        compare_job_versions revert_job list_scaling_policies get_operation list_operations wait_for_operation \
        cancel_operation";
    assert_eq!(
        names.join(" "),
        expected,
        "the jobs and operations tools, in order"
    );
    assert!(catalogue_bytes(&listed.body) * 2 < catalogue_bytes(&all.body));

    let refused = mcp
        .request(
            "tools/call",
            json!({"name": "drain_node", "arguments": {"node_id": fake.node_ids()[0]}}),
        )
        .await;
    assert_eq!(refused.body["error"]["code"], -32602, "{:#}", refused.body);
    assert_eq!(
        refused.body["error"]["message"],
        "tool 'drain_node' is in the 'nodes' toolset, which this gateway does not offer \
         (GATEWAY_MCP_TOOLSETS=jobs,operations); tools/list shows the tools it has"
    );
    let nodes = some
        .send(Request::get("/api/v1/nodes").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        nodes.status,
        StatusCode::OK,
        "REST does not depend on toolsets"
    );
    let listed = mcp.call_tool("list_jobs", json!({})).await;
    assert_ne!(listed["isError"], json!(true), "{listed:#}");
}

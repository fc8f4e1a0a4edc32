//! MCP over Streamable HTTP with rmcp's own client, against the gateway process and the
//! fake Nomad: the handshake, every tool, errors, progress, resources, prompts, sessions,
//! and the Host/Origin checks. `mcp_sse.rs` covers the legacy SSE transport.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    GetPromptRequestParams, Implementation, ProgressNotificationParam, ReadResourceRequestParams,
    ResourceContents, Tool,
};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};

use crate::support::{Gateway, TestDb, base_env, set};

/// Records the progress notifications the server sends.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("gateway-tests", "1"),
        )
    }
}

pub type Client = RunningService<RoleClient, Recorder>;

pub struct Mcp {
    pub gateway: Gateway,
    _db: TestDb,
}

impl Mcp {
    pub async fn start(nomad_url: &str) -> Mcp {
        Mcp::start_with(nomad_url, &[]).await
    }

    /// A gateway with these settings too.
    pub async fn start_with(nomad_url: &str, settings: &[(&str, &str)]) -> Mcp {
        let db = TestDb::new().await;
        let mut env = base_env(&db);
        set(&mut env, "NOMAD_ADDR", nomad_url);
        for (key, value) in settings {
            set(&mut env, key, value);
        }
        Mcp {
            gateway: Gateway::start(&env),
            _db: db,
        }
    }

    pub async fn client(&self) -> Client {
        let transport = StreamableHttpClientTransport::from_uri(self.gateway.url("/mcp"));
        Recorder::default()
            .serve(transport)
            .await
            .expect("the MCP handshake over Streamable HTTP")
    }
}

pub async fn call(client: &Client, name: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    let params = CallToolRequestParams::new(name.to_string()).with_arguments(arguments);
    tokio::time::timeout(Duration::from_secs(120), client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{name} answered in time"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A successful call: checks the structured content against the tool's output schema
/// (required properties present, no property the schema does not know) and returns it.
pub async fn ok(client: &Client, tools: &[Tool], name: &str, arguments: Value) -> Value {
    let result = call(client, name, arguments).await;
    assert_ne!(result.is_error, Some(true), "{name}: {result:?}");
    let text = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    assert!(!text.is_empty(), "{name} has a text summary");
    let value = result
        .structured_content
        .unwrap_or_else(|| panic!("{name} returns structuredContent"));
    // Within the default answer budget (GATEWAY_MCP_ANSWER_BYTES).
    let size = serde_json::to_vec(&value).unwrap().len() + text.len();
    assert!(size <= 24 * 1024, "{name}: {size} bytes");
    let tool = tools.iter().find(|t| t.name == name).unwrap();
    let schema = Value::Object((**tool.output_schema.as_ref().unwrap()).clone());
    conforms(&value, &schema, &schema, name, false);
    value
}

/// A tool failure: `isError` with a message; returns the message.
pub async fn tool_error(client: &Client, name: &str, arguments: Value) -> String {
    let result = call(client, name, arguments).await;
    assert_eq!(result.is_error, Some(true), "{name} fails: {result:?}");
    assert!(result.structured_content.is_none());
    result.content[0].as_text().unwrap().text.clone()
}

/// A small structural check of `value` against a JSON Schema (objects, arrays, refs,
/// allOf and nullable types): enough to catch a result that drifts from its schema. The
/// interop tests validate fully with `jsonschema`.
pub fn conforms(value: &Value, schema: &Value, root: &Value, at: &str, partial: bool) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        let target = &root["$defs"][name];
        assert!(!target.is_null(), "{at}: unresolved {reference}");
        return conforms(value, target, root, at, partial);
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        // Each part of a flattened struct knows only its own properties.
        for part in all {
            conforms(value, part, root, at, true);
        }
        return;
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        if value.is_null() && one.iter().any(|s| s["type"] == "null") {
            return;
        }
        let non_null: Vec<&Value> = one.iter().filter(|s| s["type"] != "null").collect();
        return conforms(value, non_null[0], root, at, partial);
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => vec![],
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !types.is_empty() {
        let fits = types
            .iter()
            .any(|t| t == kind || (t == "number" && kind == "integer"));
        assert!(fits, "{at}: {value} is not {types:?}");
    }
    if let (Value::Object(map), Some(properties)) = (value, schema.get("properties")) {
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap();
            assert!(
                map.contains_key(key),
                "{at}: missing required '{key}' in {value}"
            );
        }
        for (key, item) in map {
            match properties.get(key) {
                Some(property) => conforms(item, property, root, &format!("{at}.{key}"), false),
                None if partial => {}
                None if schema.get("additionalProperties").is_some() => {}
                None => panic!("{at}: '{key}' is not in the output schema"),
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conforms(item, item_schema, root, &format!("{at}[{i}]"), false);
        }
    }
}

const READ_ONLY: [&str; 36] = [
    "list_jobs",
    "search_job_logs",
    "get_allocation_usage",
    "search_ids",
    "get_nomad_identity",
    "list_volumes",
    "get_volume",
    "list_scaling_policies",
    "list_node_pools",
    "get_job",
    "plan_job",
    "diagnose_job",
    "list_job_versions",
    "compare_job_versions",
    "job_timeline",
    "list_allocations",
    "get_allocation",
    "get_job_logs",
    "list_services",
    "get_service",
    "get_allocation_checks",
    "list_variables",
    "get_variable",
    "list_evaluations",
    "get_evaluation",
    "list_deployments",
    "get_deployment",
    "list_nodes",
    "get_node",
    "get_cluster_status",
    "find_problems",
    "list_namespaces",
    "recent_events",
    "get_operation",
    "list_operations",
    "wait_for_operation",
];
const DESTRUCTIVE: [&str; 10] = [
    "stop_job",
    "signal_allocation",
    "purge_node",
    "set_allocation_health",
    "delete_variable",
    "revert_job",
    "stop_allocation",
    "fail_deployment",
    "drain_node",
    "cancel_operation",
];

#[tokio::test]
async fn every_tool_is_described_for_an_agent() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let client = mcp.client().await;
    let info = client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().unwrap().name, "nomad-gateway");
    assert!(info.capabilities.tools.is_some() && info.capabilities.resources.is_some());
    assert!(info.capabilities.prompts.is_some());

    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 59, "one tool per service operation");
    for tool in &tools {
        let name = tool.name.as_ref();
        assert!(
            tool.title.as_ref().is_some_and(|t| !t.is_empty()),
            "{name}: title"
        );
        let description = tool.description.as_deref().unwrap_or_default();
        assert!(
            description.len() >= 80,
            "{name}: a description that says when to use it"
        );
        let properties = tool.input_schema["properties"].as_object().unwrap();
        for (field, schema) in properties {
            // What every tool shares is said once, in the server's instructions.
            if ["namespace", "cursor", "limit"].contains(&field.as_str()) {
                continue;
            }
            assert!(
                schema["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name}.{field}: description"
            );
        }
        let output = tool
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: outputSchema"));
        assert_eq!(output["type"], "object", "{name}");
        let hints = tool
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: annotations"));
        let read_only = READ_ONLY.contains(&name);
        let destructive = DESTRUCTIVE.contains(&name);
        assert_eq!(
            hints.read_only_hint,
            Some(read_only),
            "{name}: readOnlyHint"
        );
        assert_eq!(
            hints.destructive_hint,
            Some(destructive),
            "{name}: destructiveHint"
        );
        assert!(hints.idempotent_hint.is_some(), "{name}: idempotentHint");
        assert_eq!(hints.open_world_hint, Some(true), "{name}: openWorldHint");
        if properties.contains_key("wait") {
            assert!(!read_only, "{name}: only write tools wait");
        }
    }
    for write in [
        "create_job",
        "submit_job",
        "stop_job",
        "scale_job",
        "revert_job",
        "drain_node",
    ] {
        let tool = tools.iter().find(|t| t.name == write).unwrap();
        assert!(
            tool.input_schema["properties"].get("wait").is_some(),
            "{write} takes wait"
        );
    }
    client.cancel().await.unwrap();
}

fn web(id: &str) -> Value {
    json!({
        "job_id": id, "image": "nginx:1.27", "count": 2, "memory": 128, "cpu": 200,
        "ports": [{"label": "http", "to": 80}],
        "health_check": {"path": "/health", "port": "http"}
    })
}

#[tokio::test]
async fn every_tool_runs_against_nomad() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let client = mcp.client().await;
    let tools = client.list_all_tools().await.unwrap();
    let recorder = client.service().clone();

    // Create with wait: progress notifications while the deployment advances, and the
    // result says where it ended.
    let mut spec = web("web");
    spec["wait"] = json!(60);
    let created = ok(&client, &tools, "create_job", spec).await;
    assert_eq!(created["job_id"], "web");
    // The tracked operation's final state comes with it, as on REST: no other follower.
    assert!(created.get("outcome").is_none(), "{created:#}");
    let operation = &created["operation"];
    assert_eq!(operation["state"], "succeeded", "{created:#}");
    assert_eq!(operation["finished"], true, "{created:#}");
    assert_eq!(operation["groups"]["web"]["healthy"], 2, "{created:#}");
    assert_eq!(
        created["operation"]["id"], created["operation_id"],
        "{created:#}"
    );
    let progress = recorder.progress.lock().unwrap().clone();
    assert!(!progress.is_empty(), "progress notifications were sent");
    assert!(
        progress.iter().any(|p| p
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("deployment")),
        "{progress:?}"
    );
    assert!(progress.windows(2).all(|w| w[0].progress < w[1].progress));

    let jobs = ok(&client, &tools, "list_jobs", json!({})).await;
    assert_eq!(jobs["items"][0]["id"], "web");
    let job = ok(&client, &tools, "get_job", json!({"job_id": "web"})).await;
    assert_eq!(job["status"], "running");
    let healthy = ok(&client, &tools, "diagnose_job", json!({"job_id": "web"})).await;
    assert_eq!(healthy["healthy"], true, "{healthy:#}");

    let plan = ok(
        &client,
        &tools,
        "plan_job",
        json!({"definition": "job \"web\" {\n datacenters = [\"dc1\"]\n group \"web\" {\n count = 2\n task \"web\" {\n driver = \"docker\"\n config { image = \"nginx:1.28\" }\n resources { memory = 128 }\n }\n }\n}"}),
    )
    .await;
    assert!(plan.to_string().contains("nginx:1.28"), "{plan:#}");

    let scaled = ok(
        &client,
        &tools,
        "scale_job",
        json!({"job_id": "web", "count": 3, "wait": 5}),
    )
    .await;
    // Within 5 s the scale either finished or the wait ran out: the operation says which.
    let operation = &scaled["operation"];
    if operation["finished"] == false {
        let state = operation["state"].as_str().unwrap();
        assert!(["evaluating", "deploying"].contains(&state), "{scaled:#}");
    } else {
        assert_eq!(operation["state"], "succeeded", "{scaled:#}");
    }
    fake.settle(Duration::from_secs(10)).await;

    let allocations = ok(
        &client,
        &tools,
        "list_allocations",
        json!({"job_id": "web", "limit": 2}),
    )
    .await;
    assert_eq!(allocations["items"].as_array().unwrap().len(), 2);
    assert_eq!(allocations["total"], 3);
    assert_eq!(allocations["next_cursor"], "2", "a cursor to the next page");
    let rest = ok(
        &client,
        &tools,
        "list_allocations",
        json!({"job_id": "web", "limit": 2, "cursor": "2"}),
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let alloc_id = allocations["items"][0]["id"].as_str().unwrap().to_string();
    let alloc = ok(
        &client,
        &tools,
        "get_allocation",
        json!({"alloc_id": alloc_id}),
    )
    .await;
    assert_eq!(alloc["id"], alloc_id.as_str());
    let logs = ok(
        &client,
        &tools,
        "get_job_logs",
        json!({"job_id": "web", "lines": 3}),
    )
    .await;
    assert!(logs["lines"].as_array().unwrap().len() <= 3);
    assert!(logs.to_string().contains("GET /health 200"), "{logs:#}");

    // Where it runs: the job's Nomad service, its instances and their checks.
    let services = ok(&client, &tools, "list_services", json!({})).await;
    assert_eq!(
        services["items"],
        json!([{"name": "web", "namespace": "default", "tags": []}]),
        "{services:#}"
    );
    let service = ok(
        &client,
        &tools,
        "get_service",
        json!({"service_name": "web"}),
    )
    .await;
    assert_eq!(service["instance_count"], 3, "{service:#}");
    assert_eq!(service["health"]["passing"], 3, "{service:#}");
    let instance = service["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["alloc_id"] == alloc_id.as_str())
        .unwrap_or_else(|| panic!("an instance of {alloc_id}: {service:#}"));
    assert!(instance["port"].as_u64().unwrap() > 0, "{instance:#}");
    assert!(!instance["address"].as_str().unwrap().is_empty());
    assert_eq!(instance["checks"][0]["status"], "success", "{instance:#}");
    let checks = ok(
        &client,
        &tools,
        "get_allocation_checks",
        json!({"alloc_id": alloc_id}),
    )
    .await;
    assert_eq!(checks["checks"][0]["service"], "web", "{checks:#}");
    assert_eq!(checks["checks"][0]["status"], "success", "{checks:#}");

    ok(
        &client,
        &tools,
        "restart_allocation",
        json!({"alloc_id": alloc_id}),
    )
    .await;

    let evaluations = ok(
        &client,
        &tools,
        "list_evaluations",
        json!({"job_id": "web"}),
    )
    .await;
    let eval_id = evaluations["items"][0]["id"].as_str().unwrap().to_string();
    let eval = ok(
        &client,
        &tools,
        "get_evaluation",
        json!({"eval_id": eval_id}),
    )
    .await;
    assert_eq!(eval["id"], eval_id.as_str());
    let deployments = ok(
        &client,
        &tools,
        "list_deployments",
        json!({"job_id": "web"}),
    )
    .await;
    let deployment_id = deployments["items"][0]["id"].as_str().unwrap().to_string();
    let deployment = ok(
        &client,
        &tools,
        "get_deployment",
        json!({"deployment_id": deployment_id}),
    )
    .await;
    assert_eq!(deployment["id"], deployment_id.as_str());
    // Without canaries there is nothing to promote; a finished deployment cannot be
    // failed. Either way the answer is a tool result, never a protocol error.
    let promoted = call(
        &client,
        "promote_deployment",
        json!({"deployment_id": deployment_id}),
    )
    .await;
    let failed = call(
        &client,
        "fail_deployment",
        json!({"deployment_id": deployment_id}),
    )
    .await;
    for result in [&promoted, &failed] {
        if result.is_error == Some(true) {
            assert!(!result.content[0].as_text().unwrap().text.is_empty());
        } else {
            assert_eq!(
                result.structured_content.as_ref().unwrap()["deployment_id"],
                deployment_id.as_str()
            );
        }
    }

    let versions = ok(
        &client,
        &tools,
        "list_job_versions",
        json!({"job_id": "web"}),
    )
    .await;
    assert!(versions["total"].as_u64().unwrap() >= 2, "{versions:#}");
    ok(
        &client,
        &tools,
        "revert_job",
        json!({"job_id": "web", "version": 0, "wait": 60}),
    )
    .await;
    let restarted = ok(&client, &tools, "restart_job", json!({"job_id": "web"})).await;
    assert!(
        !restarted["restarted_allocations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let redeployed = ok(
        &client,
        &tools,
        "restart_job",
        json!({"job_id": "web", "mode": "redeploy", "wait": 60}),
    )
    .await;
    assert_eq!(
        redeployed["operation"]["state"], "succeeded",
        "{redeployed:#}"
    );
    ok(
        &client,
        &tools,
        "force_evaluate_job",
        json!({"job_id": "web", "force_reschedule": true}),
    )
    .await;
    let stopped = ok(
        &client,
        &tools,
        "stop_allocation",
        json!({"alloc_id": alloc_id, "wait": 30}),
    )
    .await;
    // A tracked `reschedule`: it ends once the replacement runs.
    assert_eq!(stopped["operation"]["kind"], "reschedule", "{stopped:#}");
    assert_eq!(stopped["operation"]["state"], "succeeded", "{stopped:#}");
    assert_eq!(stopped["job_id"], "web", "{stopped:#}");

    // A parameterized job, submitted as HCL, dispatched twice with one idempotency token.
    let submitted = ok(
        &client,
        &tools,
        "submit_job",
        json!({"definition": "job \"report\" {\n type = \"batch\"\n datacenters = [\"dc1\"]\n parameterized { meta_required = [\"day\"] }\n group \"report\" {\n task \"run\" {\n driver = \"docker\"\n config { image = \"busybox:1\" }\n resources { memory = 64 }\n }\n }\n}"}),
    )
    .await;
    assert_eq!(submitted["job_id"], "report");
    let dispatch =
        json!({"job_id": "report", "meta": {"day": "monday"}, "idempotency_token": "monday"});
    let first = ok(&client, &tools, "dispatch_job", dispatch.clone()).await;
    let again = ok(&client, &tools, "dispatch_job", dispatch).await;
    assert_eq!(first["dispatched_job_id"], again["dispatched_job_id"]);

    let nodes = ok(&client, &tools, "list_nodes", json!({})).await;
    assert_eq!(nodes["total"], 3);
    let node_id = nodes["items"][0]["id"].as_str().unwrap().to_string();
    let node = ok(&client, &tools, "get_node", json!({"node_id": node_id})).await;
    assert_eq!(node["id"], node_id.as_str());
    let meta = ok(
        &client,
        &tools,
        "set_node_meta",
        json!({"node_id": node_id, "meta": {"rack": "r12"}}),
    )
    .await;
    assert_eq!(meta["meta"]["rack"], "r12");
    ok(
        &client,
        &tools,
        "set_node_eligibility",
        json!({"node_id": node_id, "eligible": false}),
    )
    .await;
    let drained = ok(
        &client,
        &tools,
        "drain_node",
        json!({"node_id": node_id, "deadline_seconds": 60, "wait": 60}),
    )
    .await;
    assert_eq!(drained["operation"]["kind"], "drain", "{drained:#}");
    assert_eq!(drained["operation"]["state"], "succeeded", "{drained:#}");
    ok(
        &client,
        &tools,
        "set_node_eligibility",
        json!({"node_id": node_id, "eligible": true}),
    )
    .await;

    let status = ok(&client, &tools, "get_cluster_status", json!({})).await;
    assert_eq!(status["nodes_by_status"]["ready"], 3, "{status:#}");
    let namespaces = ok(&client, &tools, "list_namespaces", json!({})).await;
    assert!(namespaces.to_string().contains("default"));
    let events = ok(
        &client,
        &tools,
        "recent_events",
        json!({"topics": ["Job"], "limit": 5}),
    )
    .await;
    assert!(events["items"].as_array().unwrap().len() <= 5);

    let stopped = ok(
        &client,
        &tools,
        "stop_job",
        json!({"job_id": "web", "purge": true, "wait": 60}),
    )
    .await;
    assert_eq!(stopped["operation"]["state"], "succeeded", "{stopped:#}");
    assert!(
        stopped["operation"]["message"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{stopped:#}"
    );
    let gone = tool_error(&client, "get_job", json!({"job_id": "web"})).await;
    assert!(
        gone.contains("'web' not found in namespace 'default'"),
        "{gone}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn failures_are_tool_errors_and_malformed_calls_are_protocol_errors() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let client = mcp.client().await;
    let tools = client.list_all_tools().await.unwrap();
    ok(&client, &tools, "create_job", web("web-api")).await;

    let missing = tool_error(&client, "get_job", json!({"job_id": "web"})).await;
    assert_eq!(
        missing,
        "job 'web' not found in namespace 'default'; jobs with a similar name: web-api"
    );
    fake.settle(Duration::from_secs(10)).await;
    let missing = tool_error(&client, "get_service", json!({"service_name": "web"})).await;
    assert_eq!(
        missing,
        "service 'web' not found in namespace 'default'; services with a similar name: web-api"
    );
    let missing = tool_error(&client, "get_service", json!({"service_name": "postgres"})).await;
    assert!(missing.contains("list_services"), "{missing}");
    let invalid = tool_error(
        &client,
        "create_job",
        json!({"job_id": "bad id", "image": "nginx", "memory": 1}),
    )
    .await;
    assert!(
        invalid.contains("job_id") && invalid.contains("memory"),
        "{invalid}"
    );
    let unknown_ns = tool_error(
        &client,
        "create_job",
        json!({"job_id": "x", "image": "nginx", "namespace": "nope"}),
    )
    .await;
    assert!(
        unknown_ns.contains("namespace 'nope' does not exist"),
        "{unknown_ns}"
    );
    let blocked = ok(
        &client,
        &tools,
        "create_job",
        json!({"job_id": "huge", "image": "nginx", "memory": 1048576, "wait": 30}),
    )
    .await;
    assert_eq!(blocked["operation"]["state"], "failed", "{blocked:#}");
    assert!(
        blocked["operation"]["message"]
            .as_str()
            .unwrap()
            .contains("memory"),
        "{blocked:#}"
    );

    // Arguments that do not fit the schema, and unknown tools: JSON-RPC errors.
    let params = CallToolRequestParams::new("get_job")
        .with_arguments(json!({"job": "web"}).as_object().unwrap().clone());
    let error = client.call_tool(params).await.unwrap_err().to_string();
    assert!(
        error.contains("job") && error.contains("-32602") || error.contains("invalid"),
        "{error}"
    );
    let error = client
        .call_tool(CallToolRequestParams::new("no_such_tool"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no_such_tool"), "{error}");
    client.cancel().await.unwrap();

    // Nomad down: the tool says so, and that nothing changed.
    drop(fake);
    let mcp = Mcp::start("http://127.0.0.1:1").await;
    let client = mcp.client().await;
    let down = tool_error(&client, "list_jobs", json!({})).await;
    assert!(down.contains("Nomad is not reachable"), "{down}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn resources_and_prompts() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let client = mcp.client().await;
    let tools = client.list_all_tools().await.unwrap();
    ok(&client, &tools, "create_job", web("web")).await;

    let resources = client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(
        uris.contains(&"nomad://jobs") && uris.contains(&"nomad://nodes"),
        "{uris:?}"
    );
    let templates = client.list_all_resource_templates().await.unwrap();
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "nomad://jobs/{namespace}/{job_id}"),
        "{templates:?}"
    );
    let read = |uri: &str| {
        let params = ReadResourceRequestParams::new(uri);
        let client = &client;
        async move { client.read_resource(params).await }
    };
    let job = read("nomad://jobs/default/web").await.unwrap();
    let ResourceContents::TextResourceContents { text, .. } = &job.contents[0] else {
        panic!("text contents")
    };
    let job: Value = serde_json::from_str(text).unwrap();
    assert_eq!(job["id"], "web");
    let status = read("nomad://cluster/status").await.unwrap();
    assert!(format!("{status:?}").contains("nodes_by_status"));
    let missing = read("nomad://jobs/default/nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope"), "{missing}");
    assert!(read("file:///etc/passwd").await.is_err());

    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "diagnose_failing_job",
            "deploy_container",
            "drain_node_safely"
        ]
    );
    let params = GetPromptRequestParams::new("diagnose_failing_job")
        .with_arguments(json!({"job_id": "web"}).as_object().unwrap().clone());
    let prompt = client.get_prompt(params).await.unwrap();
    assert!(format!("{:?}", prompt.messages).contains("diagnose_job"));
    assert!(
        client
            .get_prompt(GetPromptRequestParams::new("deploy_container"))
            .await
            .is_err()
    );
    client.cancel().await.unwrap();
}

/// Opens a 2025-06-18 session over raw HTTP and returns its id.
pub async fn initialize(http: &reqwest::Client, url: &str) -> String {
    let response = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.headers().clone();
    let _ = response.text().await;
    body["mcp-session-id"].to_str().unwrap().to_string()
}

async fn list_tools_status(http: &reqwest::Client, url: &str, session: Option<&str>) -> u16 {
    let mut request = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn sessions_hosts_and_origins() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let url = mcp.gateway.url("/mcp");
    let http = reqwest::Client::new();

    // No priming event, and the stream headers that keep proxies from buffering.
    let response = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    let body = response.text().await.unwrap();
    assert!(
        body.trim_start().starts_with("data: {"),
        "no empty priming event: {body:?}"
    );
    assert!(!body.contains("retry:"), "{body:?}");

    let session = initialize(&http, &url).await;
    assert_eq!(list_tools_status(&http, &url, Some(&session)).await, 200);
    assert_eq!(
        list_tools_status(&http, &url, Some("no-such-session")).await,
        404
    );
    assert_eq!(list_tools_status(&http, &url, None).await, 400);
    let deleted = http
        .delete(&url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_eq!(list_tools_status(&http, &url, Some(&session)).await, 404);

    // Sessions are bounded per caller: one more than the cap closes the oldest.
    let first = initialize(&http, &url).await;
    for _ in 0..32 {
        initialize(&http, &url).await;
    }
    assert_eq!(list_tools_status(&http, &url, Some(&first)).await, 404);

    // DNS rebinding and cross-site requests.
    let bad_host = http
        .post(&url)
        .header("host", "attacker.example")
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_host.status(), 403);
    let refusal: Value = bad_host.json().await.unwrap();
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("attacker.example")
    );
    for (origin, status) in [
        ("https://attacker.example", 403),
        ("null", 403),
        ("http://localhost:6274", 200),
    ] {
        let response = http
            .post(&url)
            .header("origin", origin)
            .header("accept", "application/json, text/event-stream")
            .json(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "Origin {origin}");
    }
    let sse = http
        .get(mcp.gateway.url("/sse"))
        .header("origin", "https://attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 403);
}

/// Spans the gateway exports over OTLP/HTTP, by name, parent and trace.
async fn span_receiver() -> (
    String,
    Arc<Mutex<Vec<opentelemetry_proto::tonic::trace::v1::Span>>>,
) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let spans: Arc<Mutex<Vec<_>>> = Arc::default();
    let store = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        store.lock().unwrap().extend(scope.spans);
                    }
                }
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), spans)
}

/// A gateway on `fake` that exports its spans to a receiver: (gateway, spans, its database).
async fn traced_gateway(
    fake: &FakeNomad,
) -> (
    Gateway,
    Arc<Mutex<Vec<opentelemetry_proto::tonic::trace::v1::Span>>>,
    TestDb,
) {
    let (endpoint, spans) = span_receiver().await;
    let db = TestDb::new().await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &fake.url());
    set(&mut env, "OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    set(&mut env, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    (Gateway::start(&env), spans, db)
}

#[tokio::test]
async fn a_trace_goes_from_the_request_through_the_tool_to_nomad() {
    let fake = FakeNomad::start(Options::default()).await;
    let (mut gateway, spans, _db) = traced_gateway(&fake).await;
    let transport = StreamableHttpClientTransport::from_uri(gateway.url("/mcp"));
    let client = Recorder::default().serve(transport).await.unwrap();
    let result = call(&client, "list_jobs", json!({})).await;
    assert_ne!(result.is_error, Some(true));
    client.cancel().await.unwrap();
    gateway.signal("TERM");
    assert!(gateway.wait_exit(Duration::from_secs(15)).await.success());

    let spans = spans.lock().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let tool = spans
        .iter()
        .find(|s| s.name == "tools/call list_jobs")
        .unwrap_or_else(|| panic!("no tool span; got {names:?}"));
    let parent = spans
        .iter()
        .find(|s| s.span_id == tool.parent_span_id)
        .unwrap_or_else(|| panic!("the tool span has no exported parent; got {names:?}"));
    assert_eq!(parent.name, "POST /mcp", "{names:?}");
    assert!(
        spans
            .iter()
            .any(|s| s.parent_span_id == tool.span_id && s.trace_id == tool.trace_id),
        "the Nomad call is a child of the tool span; got {names:?}"
    );
}

#[tokio::test]
async fn requests_of_the_stateless_2026_07_28_revision_are_answered() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let params = json!({"name": "list_nodes", "arguments": {}});
    let (status, answer) = stateless(
        &mcp.gateway,
        "tools/call",
        Some("list_nodes"),
        params,
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["result"]["structuredContent"]["total"], 3,
        "{answer:#}"
    );
}

/// A W3C trace context in a request's `_meta` (SEP-414) continues the caller's trace: the
/// tool span and the Nomad call under it carry the caller's trace id, with the caller's
/// span as the tool span's parent.
#[tokio::test]
async fn a_trace_context_in_meta_continues_the_callers_trace() {
    let fake = FakeNomad::start(Options::default()).await;
    let (mut gateway, spans, _db) = traced_gateway(&fake).await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let parent_id = "b7ad6b7169203331";
    let trace = json!({
        "traceparent": format!("00-{trace_id}-{parent_id}-01"),
        "tracestate": "vendor=value"
    });
    let params = json!({"name": "list_nodes", "arguments": {}});
    let (status, answer) =
        stateless(&gateway, "tools/call", Some("list_nodes"), params, trace).await;
    assert_eq!(status, 200);
    assert!(
        answer["result"]["structuredContent"].is_object(),
        "{answer}"
    );
    gateway.signal("TERM");
    assert!(gateway.wait_exit(Duration::from_secs(15)).await.success());

    let spans = spans.lock().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let tool = spans
        .iter()
        .find(|s| s.name == "tools/call list_nodes")
        .unwrap_or_else(|| panic!("no tool span; got {names:?}"));
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(hex(&tool.trace_id), trace_id, "{names:?}");
    assert_eq!(hex(&tool.parent_span_id), parent_id);
    assert_eq!(tool.trace_state, "vendor=value");
    assert!(
        spans
            .iter()
            .any(|s| s.parent_span_id == tool.span_id && hex(&s.trace_id) == trace_id),
        "the Nomad call continues the same trace; got {names:?}"
    );
}

/// One 2026-07-28 stateless request, with `extra` merged into its `_meta`: (HTTP status,
/// the JSON-RPC answer).
pub async fn stateless(
    gateway: &Gateway,
    method: &str,
    name: Option<&str>,
    params: Value,
    extra: Value,
) -> (u16, Value) {
    let mut params = params;
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}
    });
    if let (Some(meta), Value::Object(extra)) = (meta.as_object_mut(), extra) {
        meta.extend(extra);
    }
    params["_meta"] = meta;
    let mut request = reqwest::Client::new()
        .post(gateway.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    let response = request
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!(
        response.headers().get("mcp-session-id").is_none(),
        "no session"
    );
    let body = response.text().await.unwrap();
    let data = body
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&body);
    (status, serde_json::from_str(data).unwrap_or(Value::Null))
}

/// SEP-2549 caching hints on list and read results (private: what a caller sees follows
/// their scopes), and SEP-2243 routing headers checked against the body.
#[tokio::test]
async fn lists_and_reads_carry_caching_hints_and_headers_must_match_the_body() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    for method in [
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "prompts/list",
    ] {
        let (status, answer) = stateless(&mcp.gateway, method, None, json!({}), json!({})).await;
        assert_eq!(status, 200, "{method}: {answer}");
        assert_eq!(answer["result"]["ttlMs"], 300_000, "{method}: {answer}");
        assert_eq!(answer["result"]["cacheScope"], "private", "{method}");
    }
    let uri = "nomad://cluster/status";
    let (status, read) = stateless(
        &mcp.gateway,
        "resources/read",
        Some(uri),
        json!({"uri": uri}),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["result"]["ttlMs"], 0, "{read}");
    assert_eq!(read["result"]["cacheScope"], "private");

    // A resource that does not exist: -32602 on 2026-07-28 (SEP-2164).
    let missing_uri = "nomad://jobs/default/no-such-job";
    let (_, missing) = stateless(
        &mcp.gateway,
        "resources/read",
        Some(missing_uri),
        json!({"uri": missing_uri}),
        json!({}),
    )
    .await;
    assert_eq!(missing["error"]["code"], -32602, "{missing}");

    fake.clear_requests();
    let (status, refused) = stateless(
        &mcp.gateway,
        "tools/call",
        Some("get_job"),
        json!({"name": "list_nodes", "arguments": {}}),
        json!({}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], -32020, "{refused}");
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.path.starts_with("/v1/nodes"))
            .count(),
        0,
        "a refused call reaches no Nomad"
    );
}

/// The tasks extension (SEP-2663) on tracked operations: a write called by a client that
/// declared it answers at once with a task whose ID is the operation's, `tasks/get` follows
/// it to the write's answer with the operation's final state, `tasks/cancel` cancels a
/// rollout and is a no-op on a task already over; undeclared callers get the usual
/// answer, and an unknown task is -32602.
#[tokio::test]
async fn writes_become_tasks_backed_by_their_operations() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let tasks = tasks_declared();
    let job = task_job;

    // Declared: a task at once, even with `wait`.
    let (status, created) = stateless(
        &mcp.gateway,
        "tools/call",
        Some("submit_job"),
        job("web", json!({})),
        tasks.clone(),
    )
    .await;
    assert_eq!(status, 200, "{created:#}");
    let created = &created["result"];
    assert_eq!(created["resultType"], "task", "{created:#}");
    assert_eq!(created["status"], "working", "{created:#}");
    assert_eq!(created["pollIntervalMs"], 1000);
    assert!(created["ttlMs"].as_u64().unwrap() > 0, "{created:#}");
    assert!(created.get("task").is_none() && created.get("content").is_none());
    let id = created["taskId"].as_str().unwrap().to_string();
    let operation = rest_get(&mcp.gateway, &format!("/api/v1/operations/{id}")).await;
    assert_eq!(
        operation["kind"], "submit",
        "the task is the operation: {operation:#}"
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let (status, got) = task_method(&mcp.gateway, "tasks/get", &id).await;
        assert_eq!(status, 200, "{got:#}");
        let got = got["result"].clone();
        assert_eq!(got["resultType"], "complete", "{got:#}");
        assert_eq!(got["taskId"], id.as_str());
        if got["status"] != "working" {
            break got;
        }
        assert!(got.get("result").is_none(), "{got:#}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "still working: {got:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["status"], "completed", "{done:#}");
    let answer = &done["result"]["structuredContent"];
    // The write's own answer (submit_job's output schema), with the operation as it ended.
    assert_eq!(answer["job_id"], "web", "{done:#}");
    assert_eq!(answer["operation_id"], id.as_str());
    assert_eq!(answer["operation"]["state"], "succeeded", "{done:#}");
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("is succeeded"), "{text}");
    // Cancelling a task that is over changes nothing.
    let (status, ack) = task_method(&mcp.gateway, "tasks/cancel", &id).await;
    assert_eq!(
        (status, &ack["result"]),
        (200, &json!({"resultType": "complete"})),
        "{ack:#}"
    );

    // A rollout whose health is set by hand stays under way until cancelled, which fails
    // its deployment.
    let (_, created) = stateless(
        &mcp.gateway,
        "tools/call",
        Some("submit_job"),
        job("held", json!({"HealthCheck": "manual"})),
        tasks.clone(),
    )
    .await;
    let held = created["result"]["taskId"].as_str().unwrap().to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, got) = task_method(&mcp.gateway, "tasks/get", &held).await;
        assert_eq!(got["result"]["status"], "working", "{got:#}");
        let message = got["result"]["statusMessage"].as_str().unwrap_or("");
        if rest_get(&mcp.gateway, &format!("/api/v1/operations/{held}")).await["state"]
            == "deploying"
        {
            assert!(!message.is_empty(), "{got:#}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{got:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, ack) = task_method(&mcp.gateway, "tasks/cancel", &held).await;
    assert_eq!(status, 200, "{ack:#}");
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack:#}");
    let (_, got) = task_method(&mcp.gateway, "tasks/get", &held).await;
    assert_eq!(got["result"]["status"], "cancelled", "{got:#}");
    assert!(got["result"].get("result").is_none(), "{got:#}");
    let deployments = rest_get(&mcp.gateway, "/api/v1/jobs/held/deployments").await;
    assert_eq!(
        deployments["items"][0]["status"], "failed",
        "{deployments:#}"
    );

    // Not declared: the usual answer, and no tasks methods.
    let (_, plain) = stateless(
        &mcp.gateway,
        "tools/call",
        Some("submit_job"),
        job("plain", json!({})),
        json!({}),
    )
    .await;
    assert_eq!(plain["result"]["resultType"], "complete", "{plain:#}");
    assert!(plain["result"]["structuredContent"]["operation_id"].is_string());
    let (_, refused) = stateless(
        &mcp.gateway,
        "tasks/get",
        Some(&id),
        json!({"taskId": id}),
        json!({}),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32021, "{refused:#}");
    // An unknown task, and a read (never a task).
    let unknown = uuid::Uuid::new_v4().to_string();
    let (_, missing) = task_method(&mcp.gateway, "tasks/get", &unknown).await;
    assert_eq!(missing["error"]["code"], -32602, "{missing:#}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&unknown),
        "{missing:#}"
    );
    let (_, read) = stateless(
        &mcp.gateway,
        "tools/call",
        Some("list_nodes"),
        json!({"name": "list_nodes", "arguments": {}}),
        tasks.clone(),
    )
    .await;
    assert_eq!(read["result"]["resultType"], "complete", "{read:#}");
}

/// The `_meta` of a 2026-07-28 request whose client declares the tasks extension.
fn tasks_declared() -> Value {
    json!({"io.modelcontextprotocol/clientCapabilities": {
        "extensions": {"io.modelcontextprotocol/tasks": {}}}})
}

/// The `tools/call` parameters of a `submit_job` of one small service job.
fn task_job(id: &str, update: Value) -> Value {
    json!({"name": "submit_job", "arguments": {"job": {"ID": id, "Update": update,
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "docker",
        "Config": {"image": "nginx:1"}, "Resources": {"CPU": 100, "MemoryMB": 64}}]}]},
        "wait": 30}})
}

/// A tasks method (`tasks/get`, `tasks/cancel`) on one task, from a client that declared
/// the extension.
async fn task_method(gateway: &Gateway, method: &str, id: &str) -> (u16, Value) {
    stateless(
        gateway,
        method,
        Some(id),
        json!({"taskId": id}),
        tasks_declared(),
    )
    .await
}

/// `tasks/get` until the task is no longer working, or `deadline` passes.
async fn task_until_done(gateway: &Gateway, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, got) = task_method(gateway, "tasks/get", id).await;
        if got["result"]["status"] != "working" {
            return got["result"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{got:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Tasks outlive the gateway process that started them: after it is killed, a gateway
/// started on the same database reports a task that ended before the kill with its result,
/// and follows and cancels one that was still under way.
#[tokio::test]
async fn tasks_survive_a_restart_of_the_gateway() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &fake.url());
    // The restarted gateway takes the killed one's operations over when its claim lapses.
    set(&mut env, "GATEWAY_OPERATIONS_LEASE", "2s");
    let gateway = Gateway::start(&env);
    let start = |id: &str, update: Value| {
        let gateway = &gateway;
        let params = task_job(id, update);
        async move {
            let (_, created) = stateless(
                gateway,
                "tools/call",
                Some("submit_job"),
                params,
                tasks_declared(),
            )
            .await;
            assert_eq!(created["result"]["resultType"], "task", "{created:#}");
            created["result"]["taskId"].as_str().unwrap().to_string()
        }
    };
    let finished = start("web", json!({})).await;
    assert_eq!(
        task_until_done(&gateway, &finished).await["status"],
        "completed"
    );
    let held = start("held", json!({"HealthCheck": "manual"})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rest_get(&gateway, &format!("/api/v1/operations/{held}")).await["state"] != "deploying" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rollout never started"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(gateway); // SIGKILL: nothing is handed over

    let gateway = Gateway::start(&env);
    let done = task_until_done(&gateway, &finished).await;
    assert_eq!(done["status"], "completed", "{done:#}");
    assert_eq!(
        done["result"]["structuredContent"]["job_id"], "web",
        "{done:#}"
    );
    assert_eq!(
        done["result"]["structuredContent"]["operation"]["state"], "succeeded",
        "{done:#}"
    );
    let (_, still) = task_method(&gateway, "tasks/get", &held).await;
    assert_eq!(still["result"]["status"], "working", "{still:#}");
    let (status, ack) = task_method(&gateway, "tasks/cancel", &held).await;
    assert_eq!(
        (status, &ack["result"]),
        (200, &json!({"resultType": "complete"})),
        "{ack:#}"
    );
    assert_eq!(
        task_until_done(&gateway, &held).await["status"],
        "cancelled"
    );
    let deployments = rest_get(&gateway, "/api/v1/jobs/held/deployments").await;
    assert_eq!(
        deployments["items"][0]["status"], "failed",
        "{deployments:#}"
    );
}

pub async fn rest_get(gateway: &Gateway, path: &str) -> Value {
    reqwest::get(gateway.url(path))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

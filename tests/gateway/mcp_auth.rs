//! Authentication and policy on both MCP transports: credentials at the HTTP level,
//! tool lists trimmed to what the caller may call, refusals and rate limits as tool errors.

use fake_nomad::{FakeNomad, Options};
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use crate::auth::{auth_env, create_key};
use crate::mcp::{Client, Recorder, tool_error};
use crate::mcp_sse::connect;
use crate::support::{Gateway, TestDb, run, set};

const WRITE_TOOLS: &[&str] = &[
    "create_job",
    "submit_job",
    "stop_job",
    "restart_job",
    "scale_job",
    "dispatch_job",
    "force_evaluate_job",
    "revert_job",
    "restart_allocation",
    "stop_allocation",
    "promote_deployment",
    "fail_deployment",
];
const NODE_TOOLS: &[&str] = &["drain_node", "set_node_eligibility", "set_node_meta"];

async fn streamable(gateway: &Gateway, token: &str) -> Client {
    let config =
        StreamableHttpClientTransportConfig::with_uri(gateway.url("/mcp")).auth_header(token);
    Recorder::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("the MCP handshake")
}

async fn sse(gateway: &Gateway, token: &str) -> Client {
    let base = gateway.url("");
    let (transport, _, _) = connect(
        base.trim_end_matches('/'),
        "/sse",
        Some(&format!("Bearer {token}")),
    )
    .await;
    Recorder::default()
        .serve(transport)
        .await
        .expect("the MCP handshake over SSE")
}

async fn tool_names(client: &Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

#[tokio::test]
async fn both_transports_refuse_bad_credentials_and_show_only_allowed_tools() {
    let fake = FakeNomad::start(Options {
        namespaces: vec!["dev".into()],
        ..Options::default()
    })
    .await;
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "GATEWAY_RATE_LIMIT_WRITES", "2");
    let (_, reader) = create_key(&env, &["nomad:read"], &["*"], None);
    let (_, writer) = create_key(&env, &["nomad:read", "nomad:write"], &["dev"], None);
    let (_, operator) = create_key(
        &env,
        &["nomad:read", "nomad:write", "nodes:write"],
        &["*"],
        None,
    );
    let (revoked_id, revoked) = create_key(&env, &["nomad:read"], &["*"], None);
    let (code, _, stderr) = run(&["api-key", "revoke", &revoked_id], &env);
    assert_eq!(code, 0, "{stderr}");
    let (_, expired) = create_key(&env, &["nomad:read"], &["*"], Some("1s"));
    let gateway = Gateway::start(&env);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let http = reqwest::Client::new();

    // At the HTTP level, on every MCP path: 401 with the challenge.
    for (what, token) in [
        ("no credential", None),
        ("a malformed key", Some("ngw_broken")),
        (
            "an unknown key",
            Some("ngw_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("a revoked key", Some(revoked.as_str())),
        ("an expired key", Some(expired.as_str())),
    ] {
        for (method, path) in [
            ("POST", "/mcp"),
            ("GET", "/sse"),
            ("GET", "/mcp/sse"),
            ("POST", "/messages?sessionId=x"),
        ] {
            let mut request = http
                .request(method.parse().unwrap(), gateway.url(path))
                .header("accept", "application/json, text/event-stream");
            if method == "POST" {
                request = request.json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}));
            }
            if let Some(t) = token {
                request = request.bearer_auth(t);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {what}");
            assert!(
                response.headers().contains_key("www-authenticate"),
                "{method} {path}"
            );
        }
    }

    // The tool list shows what the caller may call, on both transports.
    for connect_with in [0, 1] {
        let open = |token: String| {
            let gateway = &gateway;
            async move {
                if connect_with == 0 {
                    streamable(gateway, &token).await
                } else {
                    sse(gateway, &token).await
                }
            }
        };
        let client = open(reader.clone()).await;
        let names = tool_names(&client).await;
        assert!(names.contains(&"list_jobs".to_string()), "{names:?}");
        for tool in WRITE_TOOLS.iter().chain(NODE_TOOLS) {
            assert!(!names.contains(&tool.to_string()), "a reader sees {tool}");
        }
        // Calling a hidden tool anyway: a refusal, and nothing more.
        let refused = tool_error(&client, "stop_job", json!({"job_id": "web"})).await;
        assert!(refused.contains("nomad:write"), "{refused}");
        assert!(
            fake.requests().iter().all(|r| r.method == "GET"),
            "a refused write reached Nomad"
        );
        client.cancel().await.unwrap();

        let client = open(operator.clone()).await;
        let names = tool_names(&client).await;
        for tool in WRITE_TOOLS.iter().chain(NODE_TOOLS) {
            assert!(
                names.contains(&tool.to_string()),
                "an operator misses {tool}"
            );
        }
        client.cancel().await.unwrap();
    }

    // A writer for dev only: another namespace is refused, naming it.
    let client = streamable(&gateway, &writer).await;
    let refused = tool_error(
        &client,
        "create_job",
        json!({"job_id": "web", "image": "nginx", "namespace": "default"}),
    )
    .await;
    assert!(refused.contains("'default'"), "{refused}");
    for (tool, arguments) in [
        ("list_services", json!({"namespace": "default"})),
        (
            "get_service",
            json!({"service_name": "web", "namespace": "default"}),
        ),
        (
            "get_allocation_checks",
            json!({"alloc_id": "00000000-0000-0000-0000-000000000001", "namespace": "default"}),
        ),
    ] {
        let refused = tool_error(&client, tool, arguments).await;
        assert!(refused.contains("'default'"), "{tool}: {refused}");
    }
    // Two writes in the budget, then a tool error that says when to retry.
    for _ in 0..2 {
        let result = crate::mcp::call(
            &client,
            "force_evaluate_job",
            json!({"job_id": "nope", "namespace": "dev"}),
        )
        .await;
        let text = result.content[0].as_text().unwrap().text.clone();
        assert!(!text.contains("rate limit"), "{text}");
    }
    let limited = tool_error(
        &client,
        "force_evaluate_job",
        json!({"job_id": "nope", "namespace": "dev"}),
    )
    .await;
    assert!(
        limited.contains("rate limit") && limited.contains("retry in"),
        "{limited}"
    );
    client.cancel().await.unwrap();
}

async fn register_in(fake: &FakeNomad, namespace: &str, id: &str) {
    let job = json!({"Job": {"ID": id, "Namespace": namespace, "Type": "service",
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "server",
            "Driver": "docker", "Config": {"image": "nginx:1"},
            "Resources": {"CPU": 100, "MemoryMB": 64}}]}]}});
    let response = reqwest::Client::new()
        .post(format!("{}/v1/jobs?namespace={namespace}", fake.url()))
        .json(&job)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

fn complete_params(
    reference: rmcp::model::Reference,
    name: &str,
    value: &str,
    namespace: Option<&str>,
) -> rmcp::model::CompleteRequestParams {
    let mut params = rmcp::model::CompleteRequestParams::new(
        reference,
        rmcp::model::ArgumentInfo::new(name, value),
    );
    if let Some(ns) = namespace {
        let arguments = [("namespace".to_string(), ns.to_string())].into();
        params = params.with_context(rmcp::model::CompletionContext::with_arguments(arguments));
    }
    params
}

/// Completions of prompt arguments and template variables list what the caller may read:
/// jobs by prefix in the resolved namespace, namespaces, nodes; nothing in a namespace
/// they may not read; an unknown prompt is an error.
#[tokio::test]
async fn completions_offer_only_what_the_caller_may_read() {
    use rmcp::model::Reference;
    let fake = FakeNomad::start(Options {
        namespaces: vec!["dev".into()],
        ..Options::default()
    })
    .await;
    for id in ["web", "webshop", "api"] {
        register_in(&fake, "default", id).await;
    }
    register_in(&fake, "dev", "web-dev").await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let (_, narrow) = create_key(&env, &["nomad:read"], &["default"], None);
    let (_, wide) = create_key(&env, &["nomad:read"], &["*"], None);
    let gateway = Gateway::start(&env);
    let narrow = streamable(&gateway, &narrow).await;
    let wide = streamable(&gateway, &wide).await;
    let diagnose = || Reference::for_prompt("diagnose_failing_job");
    let job_template = || Reference::for_resource("nomad://jobs/{namespace}/{job_id}");

    let jobs = narrow
        .complete(complete_params(diagnose(), "job_id", "web", None))
        .await
        .unwrap()
        .completion;
    assert_eq!(jobs.values, ["web", "webshop"]);
    assert_eq!((jobs.total, jobs.has_more), (Some(2), Some(false)));
    let dev = wide
        .complete(complete_params(job_template(), "job_id", "w", Some("dev")))
        .await
        .unwrap()
        .completion;
    assert_eq!(dev.values, ["web-dev"]);
    let refused = narrow
        .complete(complete_params(job_template(), "job_id", "w", Some("dev")))
        .await
        .unwrap()
        .completion;
    assert!(refused.values.is_empty(), "{refused:?}");

    for (client, want) in [(&narrow, vec!["default"]), (&wide, vec!["default", "dev"])] {
        let params = complete_params(job_template(), "namespace", "", None);
        let values = client.complete(params).await.unwrap().completion.values;
        assert_eq!(values, want);
    }

    let node = fake.node_ids()[0].clone();
    let nodes = wide
        .complete(complete_params(
            Reference::for_prompt("drain_node_safely"),
            "node_id",
            &node[..4],
            None,
        ))
        .await
        .unwrap()
        .completion;
    assert!(nodes.values.contains(&node), "{nodes:?}");
    assert!(nodes.values.iter().all(|n| n.starts_with(&node[..4])));

    // An argument that names no ID completes to nothing; an unknown prompt is refused.
    let image = wide
        .complete(complete_params(
            Reference::for_prompt("deploy_container"),
            "image",
            "ngi",
            None,
        ))
        .await
        .unwrap()
        .completion;
    assert!(image.values.is_empty());
    let unknown = wide
        .complete(complete_params(
            Reference::for_prompt("nope"),
            "job_id",
            "w",
            None,
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("no prompt 'nope'"), "{unknown}");
}

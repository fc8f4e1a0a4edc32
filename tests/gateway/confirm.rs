//! Confirmation before destructive tools (`GATEWAY_MCP_CONFIRM`): rmcp's client answering
//! elicitations on a session, raw 2026-07-28 requests answered `input_required`, clients
//! that cannot ask, and the answers in the audit log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ElicitationCapability, FormElicitationCapability, Implementation,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ErrorData, ServiceExt};
use serde_json::{Value, json};

use crate::mcp::{Client, Mcp, call, ok, rest_get, stateless};
use crate::support::Gateway;

/// A person behind the client: answers every question with `answer`, and keeps what they
/// were asked.
#[derive(Clone)]
struct Person {
    answer: Arc<Mutex<ElicitationAction>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Person {
    fn new() -> Person {
        Person {
            answer: Arc::new(Mutex::new(ElicitationAction::Decline)),
            asked: Arc::default(),
        }
    }

    fn will(&self, answer: ElicitationAction) {
        *self.answer.lock().unwrap() = answer;
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for Person {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = request
        else {
            panic!("a form elicitation: {request:?}")
        };
        assert!(requested_schema.properties.is_empty(), "nothing to fill in");
        self.asked.lock().unwrap().push(message);
        let answer = self.answer.lock().unwrap().clone();
        let accepted = matches!(answer, ElicitationAction::Accept);
        let mut result = ElicitResult::new(answer);
        if accepted {
            result = result.with_content(json!({}));
        }
        Ok(result)
    }

    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation =
            Some(ElicitationCapability::default().with_form(FormElicitationCapability::new()));
        ClientConfig::new(capabilities, Implementation::new("person", "1"))
    }
}

async fn a_person(gateway: &Gateway) -> (Person, RunningService<RoleClient, Person>) {
    let person = Person::new();
    let transport = StreamableHttpClientTransport::from_uri(gateway.url("/mcp"));
    let client = person
        .clone()
        .serve(transport)
        .await
        .expect("the MCP handshake");
    (person, client)
}

async fn person_calls(
    client: &RunningService<RoleClient, Person>,
    name: &str,
    arguments: Value,
) -> rmcp::model::CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    let params = CallToolRequestParams::new(name.to_string()).with_arguments(arguments);
    tokio::time::timeout(Duration::from_secs(60), client.call_tool(params))
        .await
        .expect("answered in time")
        .expect("a tool result")
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    result.content[0].as_text().unwrap().text.clone()
}

/// Two running allocations of `id`, made by a client that is never asked (creating is not
/// destructive).
async fn running_job(client: &Client, id: &str) {
    let tools = client.list_all_tools().await.unwrap();
    let spec = json!({"job_id": id, "image": "nginx:1.27", "count": 2, "memory": 64,
        "cpu": 100, "wait": 30});
    let created = ok(client, &tools, "create_job", spec).await;
    assert_eq!(created["operation"]["state"], "succeeded", "{created:#}");
}

async fn stopped(gateway: &Gateway, id: &str) -> bool {
    let job = rest_get(gateway, &format!("/api/v1/jobs/{id}")).await;
    job["stop"].as_bool().unwrap_or_else(|| panic!("{job:#}"))
}

async fn confirmations(gateway: &Gateway, want: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let events = rest_get(gateway, "/api/v1/audit?limit=200").await;
        let found: Vec<Value> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["operation"] == "confirm")
            .cloned()
            .collect();
        if found.len() >= want || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_person_confirms_destructive_calls_on_a_session() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    let plain = mcp.client().await;
    running_job(&plain, "web").await;
    let (person, client) = a_person(&mcp.gateway).await;

    // Declined: nothing changes, and the agent is told not to insist.
    let declined = person_calls(&client, "stop_job", json!({"job_id": "web"})).await;
    assert_eq!(declined.is_error, Some(true), "{declined:?}");
    let sentence = "Stop job web in default: its 2 running allocations stop.";
    assert_eq!(person.asked(), vec![format!("{sentence} Go ahead?")]);
    let said = text(&declined);
    assert!(
        said.starts_with(&format!(
            "The user declined: \"{sentence}\" Nothing was changed"
        )),
        "{said}"
    );
    assert!(!stopped(&mcp.gateway, "web").await);

    // A purge says so; a dismissed question changes nothing either.
    person.will(ElicitationAction::Cancel);
    let cancelled =
        person_calls(&client, "stop_job", json!({"job_id": "web", "purge": true})).await;
    assert!(text(&cancelled).starts_with("The user dismissed the question"));
    assert!(
        person.asked()[1].contains("the job is purged too, and its history is lost"),
        "{:?}",
        person.asked()
    );
    assert!(!stopped(&mcp.gateway, "web").await);

    // Accepted: the call runs.
    person.will(ElicitationAction::Accept);
    let accepted = person_calls(&client, "stop_job", json!({"job_id": "web", "wait": 30})).await;
    assert_ne!(accepted.is_error, Some(true), "{accepted:?}");
    assert!(stopped(&mcp.gateway, "web").await);

    // Other destructive tools describe what they do to what is there.
    let node = fake.node_ids()[0].clone();
    running_job(&plain, "api").await;
    person.will(ElicitationAction::Decline);
    person_calls(&client, "drain_node", json!({"node_id": node})).await;
    let drain = person.asked().last().unwrap().clone();
    assert!(drain.starts_with("Drain node "), "{drain}");
    assert!(
        drain.contains("running allocation") && drain.contains("job api"),
        "{drain}"
    );
    assert!(
        drain.contains("whatever is left after 1h is stopped"),
        "{drain}"
    );
    // Not-found is the tool's own answer, and nobody is asked about nothing.
    let asked = person.asked().len();
    let missing = person_calls(&client, "stop_job", json!({"job_id": "nope"})).await;
    assert!(
        text(&missing).contains("job 'nope' not found"),
        "{}",
        text(&missing)
    );
    assert_eq!(person.asked().len(), asked);
    // Arguments that do not fit are the same protocol error as without confirmation.
    let Value::Object(bad) = json!({"job_id": 7}) else {
        unreachable!()
    };
    let params = CallToolRequestParams::new("stop_job").with_arguments(bad);
    let refused = client.call_tool(params).await.unwrap_err();
    assert!(refused.to_string().contains("job_id"), "{refused}");

    // Reads and non-destructive writes are never asked about.
    let asked = person.asked().len();
    person_calls(&client, "get_job", json!({"job_id": "api"})).await;
    let scaled = person_calls(
        &client,
        "scale_job",
        json!({"job_id": "api", "count": 1, "wait": 30}),
    )
    .await;
    assert_ne!(scaled.is_error, Some(true), "{scaled:?}");
    assert_eq!(person.asked().len(), asked);

    // Every answer is audited, with what was asked.
    let events = confirmations(&mcp.gateway, 4).await;
    let answers: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["arguments"]["answer"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    for want in [
        ("declined", "refused"),
        ("cancelled", "refused"),
        ("accepted", "ok"),
    ] {
        assert!(answers.contains(&want), "{want:?} in {events:#?}");
    }
    let accepted = events
        .iter()
        .find(|e| e["arguments"]["answer"] == "accepted")
        .unwrap();
    assert_eq!(accepted["arguments"]["tool"], "stop_job");
    assert_eq!(accepted["arguments"]["via"], "elicitation");
    assert_eq!(accepted["arguments"]["asked"], sentence);
    assert_eq!(accepted["job_id"], "web");
    assert_eq!(accepted["namespace"], "default");
}

#[tokio::test]
async fn the_setting_decides_for_clients_that_cannot_ask() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start_with(&fake.url(), &[("GATEWAY_MCP_CONFIRM", "require")]).await;
    let plain = mcp.client().await;
    running_job(&plain, "web").await;

    let refused = call(&plain, "stop_job", json!({"job_id": "web"})).await;
    assert_eq!(refused.is_error, Some(true));
    let said = refused.content[0].as_text().unwrap().text.clone();
    assert!(
        said.contains("GATEWAY_MCP_CONFIRM=require")
            && said.contains("declares no elicitation capability")
            && said.contains("Nothing was changed"),
        "{said}"
    );
    assert!(!stopped(&mcp.gateway, "web").await);
    let events = confirmations(&mcp.gateway, 1).await;
    assert_eq!(events[0]["arguments"]["answer"], "refused", "{events:#?}");
    assert_eq!(events[0]["outcome"], "refused");

    // A client that can ask is asked, and runs once the person agrees.
    let (person, client) = a_person(&mcp.gateway).await;
    person.will(ElicitationAction::Accept);
    let accepted = person_calls(&client, "stop_job", json!({"job_id": "web"})).await;
    assert_ne!(accepted.is_error, Some(true), "{accepted:?}");
    assert_eq!(person.asked().len(), 1);

    // `off` never asks, even a client that could.
    let off = Mcp::start_with(&fake.url(), &[("GATEWAY_MCP_CONFIRM", "off")]).await;
    running_job(&off.client().await, "api").await;
    let (person, client) = a_person(&off.gateway).await;
    let ran = person_calls(&client, "stop_job", json!({"job_id": "api"})).await;
    assert_ne!(ran.is_error, Some(true), "{ran:?}");
    assert!(person.asked().is_empty());
}

#[tokio::test]
async fn on_2026_07_28_a_destructive_call_answers_input_required() {
    let fake = FakeNomad::start(Options::default()).await;
    let mcp = Mcp::start(&fake.url()).await;
    running_job(&mcp.client().await, "web").await;
    let asks = json!({"io.modelcontextprotocol/clientCapabilities": {
        "elicitation": {"form": {}}}});
    let stop = |arguments: Value, retry: Value| {
        let mut params = json!({"name": "stop_job", "arguments": arguments});
        if let (Some(params), Value::Object(retry)) = (params.as_object_mut(), retry) {
            params.extend(retry);
        }
        let gateway = &mcp.gateway;
        let asks = asks.clone();
        async move { stateless(gateway, "tools/call", Some("stop_job"), params, asks).await }
    };
    let ask = || async {
        let (status, asked) = stop(json!({"job_id": "web"}), Value::Null).await;
        assert_eq!(status, 200, "{asked:#}");
        let asked = asked["result"].clone();
        assert_eq!(asked["resultType"], "input_required", "{asked:#}");
        let question = &asked["inputRequests"]["confirm"];
        assert_eq!(question["method"], "elicitation/create", "{asked:#}");
        assert_eq!(question["params"]["mode"], "form");
        assert_eq!(
            question["params"]["message"],
            "Stop job web in default: its 2 running allocations stop. Go ahead?"
        );
        assert_eq!(
            question["params"]["requestedSchema"]["properties"],
            json!({})
        );
        asked["requestState"].as_str().unwrap().to_string()
    };
    let said = |answer: &Value| {
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // An answer for other arguments does not let them run, and is spent.
    let state = ask().await;
    let (_, other) = stop(
        json!({"job_id": "other"}),
        json!({"requestState": state, "inputResponses": {"confirm": {"action": "accept"}}}),
    )
    .await;
    assert_eq!(other["result"]["isError"], true, "{other:#}");
    assert!(said(&other).contains("given for another call"), "{other:#}");
    let (_, again) = stop(
        json!({"job_id": "web"}),
        json!({"requestState": state, "inputResponses": {"confirm": {"action": "accept"}}}),
    )
    .await;
    assert!(
        said(&again).contains("unknown, was used already or expired"),
        "{again:#}"
    );
    let (_, forged) = stop(
        json!({"job_id": "web"}),
        json!({"requestState": "not-a-handle", "inputResponses": {"confirm": {"action": "accept"}}}),
    )
    .await;
    assert!(said(&forged).contains("unknown"), "{forged:#}");
    assert!(!stopped(&mcp.gateway, "web").await);

    // Declined, then accepted.
    let state = ask().await;
    let (_, declined) = stop(
        json!({"job_id": "web"}),
        json!({"requestState": state, "inputResponses": {"confirm": {"action": "decline"}}}),
    )
    .await;
    assert!(
        said(&declined).starts_with("The user declined"),
        "{declined:#}"
    );
    assert!(!stopped(&mcp.gateway, "web").await);
    let state = ask().await;
    let (_, accepted) = stop(
        json!({"job_id": "web"}),
        json!({"requestState": state, "inputResponses": {"confirm": {"action": "accept", "content": {}}}}),
    )
    .await;
    assert_eq!(accepted["result"]["isError"], false, "{accepted:#}");
    assert_eq!(accepted["result"]["structuredContent"]["job_id"], "web");
    assert!(stopped(&mcp.gateway, "web").await);

    let events = confirmations(&mcp.gateway, 2).await;
    assert!(
        events
            .iter()
            .any(|e| e["arguments"]["via"] == "input_required"
                && e["arguments"]["answer"] == "accepted"),
        "{events:#?}"
    );
}

//! Nomad Variables over REST and MCP against the fake Nomad: scopes and namespaces,
//! check-and-set, input refused before anything reaches Nomad, and a value that appears
//! nowhere but in Nomad and in the answer that asked for it (logs at debug, audit and
//! operation rows, every database table, trace spans, error answers).

use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

use crate::auth::{auth_env, create_key};
use crate::mcp::{Client, Recorder, call, ok, tool_error};
use crate::support::{Gateway, TestDb, set};

async fn mcp_client(gateway: &Gateway, token: &str) -> Client {
    let config =
        StreamableHttpClientTransportConfig::with_uri(gateway.url("/mcp")).auth_header(token);
    Recorder::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("the MCP handshake")
}

/// The variable requests the fake received, as `METHOD path?query`.
async fn nomad_variable_requests(fake: &FakeNomad) -> Vec<String> {
    let requests: Value = reqwest::get(format!("{}/_fake/requests", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").starts_with("/v1/var"))
        .map(|r| format!("{} {}?{}", r["method"], r["path"], r["query"]).replace('"', ""))
        .collect()
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn rest_variables_keep_values_behind_their_scopes_and_check_and_set() {
    let fake = FakeNomad::start(Options {
        namespaces: vec!["prod".into()],
        ..Options::default()
    })
    .await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let (_, reader) = create_key(&env, &["nomad:read"], &["default"], None);
    let (_, secrets) = create_key(&env, &["nomad:read", "variables:read"], &["default"], None);
    let (_, writer) = create_key(&env, &["nomad:read", "variables:write"], &["default"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let url = |path: &str| gateway.url(&format!("/api/v1/variables/{path}"));

    // Create, create-only again (conflict), update with the right index, same items again.
    let (status, created) = answer(
        http.put(url("app/db"))
            .bearer_auth(&writer)
            .json(&json!({"items": {"user": "web", "password": "hunter2-rest"}, "cas": 0})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["result"], "written");
    assert_eq!(created["keys"], json!(["password", "user"]));
    assert!(created["operation_id"].is_string(), "{created}");
    let index = created["modify_index"].as_u64().unwrap();
    let (status, conflict) = answer(
        http.put(url("app/db"))
            .bearer_auth(&writer)
            .json(&json!({"items": {"user": "other"}, "cas": 0})),
    )
    .await;
    assert_eq!(status, 409, "{conflict}");
    let detail = conflict["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("modify index {index}")),
        "{detail}"
    );
    let (status, updated) = answer(
        http.put(url("app/db"))
            .bearer_auth(&writer)
            .json(&json!({"items": {"user": "web", "password": "hunter3-rest"}, "cas": index})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    let index = updated["modify_index"].as_u64().unwrap();
    assert!(index > created["modify_index"].as_u64().unwrap());
    let (status, same) = answer(
        http.put(url("app/db"))
            .bearer_auth(&writer)
            .json(&json!({"items": {"user": "web", "password": "hunter3-rest"}})),
    )
    .await;
    // Nomad encrypts every write afresh, so the same items again are a new version.
    assert_eq!(
        (status, same["result"].as_str()),
        (200, Some("written")),
        "{same}"
    );
    let index = same["modify_index"].as_u64().unwrap();

    // Keys for every reader; values only when asked, and only with variables:read.
    let (status, read) = answer(http.get(url("app/db")).bearer_auth(&reader)).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["keys"], json!(["password", "user"]));
    assert_eq!(read["modify_index"], json!(index));
    assert!(read.get("items").is_none(), "{read}");
    let (status, refused) = answer(
        http.get(url("app/db") + "?values=true")
            .bearer_auth(&reader),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.to_string().contains("variables:read"), "{refused}");
    let (status, values) = answer(
        http.get(url("app/db") + "?values=true")
            .bearer_auth(&secrets),
    )
    .await;
    assert_eq!(status, 200, "{values}");
    assert_eq!(
        values["items"],
        json!({"user": "web", "password": "hunter3-rest"})
    );
    let (status, list) = answer(
        http.get(gateway.url("/api/v1/variables?prefix=app/"))
            .bearer_auth(&reader),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"][0]["path"], "app/db");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("password"), "{list}");

    // Writes need variables:write in the namespace.
    let (status, refused) = answer(
        http.put(url("app/db"))
            .bearer_auth(&reader)
            .json(&json!({"items": {"a": "b"}})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.to_string().contains("variables:write"), "{refused}");
    let (status, refused) = answer(
        http.put(url("app/db"))
            .bearer_auth(&writer)
            .json(&json!({"namespace": "prod", "items": {"a": "b"}})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.to_string().contains("'prod'"), "{refused}");

    // Bad input is refused by the gateway: nothing reaches Nomad.
    let before = nomad_variable_requests(&fake).await;
    for (path, body, field) in [
        ("app/config.json", json!({"items": {"a": "b"}}), "path"),
        ("nomad", json!({"items": {"a": "b"}}), "path"),
        ("app/empty", json!({"items": {}}), "items"),
        ("app/typed", json!({"items": {"pin": 8675309}}), "items"),
        (
            "app/big",
            json!({"items": {"blob": "x".repeat(70_000)}}),
            "items",
        ),
        ("app/extra", json!({"items": {"a": "b"}, "cass": 3}), "cass"),
    ] {
        let (status, problem) = answer(http.put(url(path)).bearer_auth(&writer).json(&body)).await;
        assert_eq!(status, 422, "{path}: {problem}");
        assert!(problem.to_string().contains(field), "{path}: {problem}");
        assert!(!problem.to_string().contains("8675309"), "{problem}");
    }
    let (status, problem) =
        answer(http.delete(url("app/db") + "?cass=1").bearer_auth(&writer)).await;
    assert_eq!(status, 422, "a mistyped cas deletes nothing: {problem}");
    assert_eq!(nomad_variable_requests(&fake).await, before);

    // Delete: a stale index is a conflict, the right one deletes, then it is gone.
    let (status, conflict) = answer(
        http.delete(url("app/db") + &format!("?cas={}", index - 1))
            .bearer_auth(&writer),
    )
    .await;
    assert_eq!(status, 409, "{conflict}");
    let (status, deleted) = answer(
        http.delete(url("app/db") + &format!("?cas={index}"))
            .bearer_auth(&writer),
    )
    .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["result"], "deleted");
    let (status, gone) = answer(http.get(url("app/db")).bearer_auth(&reader)).await;
    assert_eq!(status, 404, "{gone}");
    assert!(gone.to_string().contains("list_variables"), "{gone}");
}

#[tokio::test]
async fn mcp_variable_tools_follow_the_same_rules() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let (_, reader) = create_key(&env, &["nomad:read"], &["default"], None);
    let (_, all) = create_key(
        &env,
        &["nomad:read", "variables:read", "variables:write"],
        &["default"],
        None,
    );
    let gateway = Gateway::start(&env);

    let client = mcp_client(&gateway, &all).await;
    let tools = client.list_all_tools().await.unwrap();
    for name in [
        "list_variables",
        "get_variable",
        "put_variable",
        "delete_variable",
    ] {
        assert!(tools.iter().any(|t| t.name == name), "{name} is listed");
    }
    let put = tools.iter().find(|t| t.name == "put_variable").unwrap();
    let hints = put.annotations.as_ref().unwrap();
    assert_eq!(hints.read_only_hint, Some(false));
    let delete = tools.iter().find(|t| t.name == "delete_variable").unwrap();
    assert_eq!(
        delete.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );

    let written = ok(
        &client,
        &tools,
        "put_variable",
        json!({"path": "nomad/jobs/web", "items": {"token": "hunter2-mcp"}, "cas": 0}),
    )
    .await;
    assert_eq!(written["result"], "written");
    let index = written["modify_index"].as_u64().unwrap();
    let listed = ok(
        &client,
        &tools,
        "list_variables",
        json!({"prefix": "nomad/"}),
    )
    .await;
    assert_eq!(listed["items"][0]["path"], "nomad/jobs/web");
    let read = ok(
        &client,
        &tools,
        "get_variable",
        json!({"path": "nomad/jobs/web"}),
    )
    .await;
    assert_eq!(read["keys"], json!(["token"]));
    assert!(read.get("items").is_none());
    let result = call(
        &client,
        "get_variable",
        json!({"path": "nomad/jobs/web", "include_values": true}),
    )
    .await;
    let values = result.structured_content.clone().unwrap();
    assert_eq!(values["items"]["token"], "hunter2-mcp");
    let text = result.content[0].as_text().unwrap().text.clone();
    assert!(text.contains("token=hunter2-mcp"), "{text}");

    let conflict = tool_error(
        &client,
        "put_variable",
        json!({"path": "nomad/jobs/web", "items": {"token": "x"}, "cas": index + 5}),
    )
    .await;
    assert!(
        conflict.contains(&format!("modify index {index}")),
        "{conflict}"
    );
    let mut bad = rmcp::model::JsonObject::new();
    bad.insert("path".into(), json!("nomad/jobs/web"));
    bad.insert("items".into(), json!({"pin": 8675309}));
    let params =
        rmcp::model::CallToolRequestParams::new("put_variable".to_string()).with_arguments(bad);
    let error = client.call_tool(params).await.unwrap_err().to_string();
    assert!(
        error.contains("'pin'") && !error.contains("8675309"),
        "{error}"
    );
    let deleted = ok(
        &client,
        &tools,
        "delete_variable",
        json!({"path": "nomad/jobs/web", "cas": index}),
    )
    .await;
    assert_eq!(deleted["result"], "deleted");
    client.cancel().await.unwrap();

    // A reader sees the read tools only, and gets keys but not values.
    let client = mcp_client(&gateway, &reader).await;
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "get_variable"));
    assert!(!tools.iter().any(|t| t.name == "put_variable"));
    let refused = tool_error(
        &client,
        "put_variable",
        json!({"path": "app/x", "items": {"a": "b"}}),
    )
    .await;
    assert!(refused.contains("variables:write"), "{refused}");
    let refused = tool_error(
        &client,
        "get_variable",
        json!({"path": "app/x", "include_values": true}),
    )
    .await;
    assert!(refused.contains("variables:read"), "{refused}");
    client.cancel().await.unwrap();
}

/// Every row of every table of the test database, as text.
async fn database_text(db: &TestDb) -> String {
    if db.is_postgres() {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let tables: Vec<String> = sqlx::query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        assert!(tables.len() >= 3, "{tables:?}");
        let mut text = String::new();
        for table in tables {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT t::text FROM \"{table}\" t"
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for row in rows {
                text.push_str(&row.get::<String, _>(0));
                text.push('\n');
            }
        }
        text
    } else {
        // The SQLite file and its write-ahead log, byte for byte: freed pages included.
        let file = db.url.trim_start_matches("sqlite://").to_string();
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.extend(std::fs::read(format!("{file}-wal")).unwrap_or_default());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[tokio::test]
async fn a_variable_value_reaches_no_log_row_span_or_error() {
    const SECRET: &str = "Zq8-secret-value-41x";
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let (endpoint, spans) = crate::telemetry::otlp_receiver().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "RUST_LOG", "debug");
    set(&mut env, "OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    set(&mut env, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    let (_, all) = create_key(
        &env,
        &["nomad:read", "variables:read", "variables:write", "admin"],
        &["default"],
        None,
    );
    let (_, reader) = create_key(&env, &["nomad:read"], &["default"], None);
    let mut gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let url = gateway.url("/api/v1/variables/app/secret");
    let mut errors: Vec<String> = Vec::new();

    // Every operation over REST: write, conflict, refusal, a wrong type, reads, delete.
    let items = json!({"password": SECRET});
    let (status, body) = answer(
        http.put(&url)
            .bearer_auth(&all)
            .header("idempotency-key", "leak-test-1")
            .json(&json!({"items": items, "cas": 0})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let index = body["modify_index"].as_u64().unwrap();
    for (request, want) in [
        (
            http.put(&url)
                .bearer_auth(&all)
                .json(&json!({"items": items, "cas": 0})),
            409,
        ),
        (
            http.put(&url)
                .bearer_auth(&reader)
                .json(&json!({"items": items})),
            403,
        ),
        (
            http.put(gateway.url("/api/v1/variables/app/bad.path"))
                .bearer_auth(&all)
                .json(&json!({"items": items})),
            422,
        ),
        (
            http.put(&url)
                .bearer_auth(&all)
                .json(&json!({"items": SECRET})),
            422,
        ),
        (
            http.put(&url)
                .bearer_auth(&all)
                .json(&json!({"items": {"password": SECRET}, "unknown": 1})),
            422,
        ),
        (
            http.delete(format!("{url}?cas={}", index + 1))
                .bearer_auth(&all),
            409,
        ),
    ] {
        let (status, body) = answer(request).await;
        assert_eq!(status, want, "{body}");
        errors.push(body.to_string());
    }
    let (status, body) = answer(http.get(format!("{url}?values=true")).bearer_auth(&all)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["items"]["password"], SECRET,
        "the caller who asked gets it"
    );

    // And over MCP.
    let client = mcp_client(&gateway, &all).await;
    for arguments in [
        json!({"path": "app/mcp", "items": {"password": SECRET}, "cas": 0}),
        json!({"path": "app/mcp", "items": {"password": SECRET}, "cas": 0}),
        json!({"path": "app/mcp", "items": {"password": SECRET, "n": 5}}),
        json!({"path": "app/mcp", "items": SECRET}),
    ] {
        let Value::Object(arguments) = arguments else {
            unreachable!()
        };
        let params = rmcp::model::CallToolRequestParams::new("put_variable".to_string())
            .with_arguments(arguments);
        match client.call_tool(params).await {
            Ok(result) if result.is_error == Some(true) => {
                errors.push(format!("{:?}", result.content))
            }
            Ok(_) => {}
            // Arguments that do not fit the schema are a JSON-RPC error.
            Err(error) => errors.push(error.to_string()),
        }
    }
    let read = call(
        &client,
        "get_variable",
        json!({"path": "app/mcp", "include_values": true}),
    )
    .await;
    assert!(format!("{:?}", read.content).contains(SECRET));
    let deleted = call(&client, "delete_variable", json!({"path": "app/mcp"})).await;
    assert_ne!(deleted.is_error, Some(true), "{deleted:?}");
    client.cancel().await.unwrap();
    let (status, body) = answer(http.delete(&url).bearer_auth(&all)).await;
    assert_eq!(status, 200, "{body}");
    // The audit log and the operations record the keys.
    let audit = answer(http.get(gateway.url("/api/v1/audit")).bearer_auth(&all))
        .await
        .1
        .to_string();
    assert!(
        audit.contains("put_variable") && audit.contains("password"),
        "{audit}"
    );

    // Shutdown flushes the spans.
    gateway.signal("TERM");
    assert!(gateway.wait_exit(Duration::from_secs(15)).await.success());
    let logs = gateway.logs();
    assert!(logs.contains("put_variable"), "the log is at debug: {logs}");
    assert!(!logs.contains(SECRET), "a log line holds the value");
    assert!(errors.len() >= 8, "{errors:?}");
    for error in &errors {
        assert!(!error.contains(SECRET), "an error holds the value: {error}");
    }
    assert!(!audit.contains(SECRET), "the audit log holds the value");
    let stored = database_text(&db).await;
    assert!(stored.contains("put_variable"), "the database was read");
    assert!(!stored.contains(SECRET), "a database row holds the value");
    let spans: Vec<(String, String)> = spans
        .lock()
        .unwrap()
        .iter()
        .map(|(_, span)| (span.name.clone(), format!("{span:?}")))
        .collect();
    assert!(
        spans.iter().any(|(name, _)| name.contains("put_variable")),
        "spans were exported"
    );
    for (name, text) in &spans {
        assert!(!text.contains(SECRET), "a span holds the value: {name}");
    }
    // Nomad itself got it, which shows the test sent the value where it belongs.
    assert!(
        nomad_variable_requests(&fake)
            .await
            .iter()
            .any(|r| r.starts_with("PUT /v1/var/app/secret"))
    );
}

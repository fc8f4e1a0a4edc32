//! The audit log: one event per write attempt and per refused call, secrets kept out,
//! and no write running unaudited while the database is away.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::auth::{auth_env, create_key};
use crate::support::{Gateway, TestDb, base_env, set};

const SECRET_VALUE: &str = "hunter2-do-not-log-me";

async fn audit_events(
    http: &reqwest::Client,
    gateway: &Gateway,
    admin: &str,
    want: usize,
) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let events: Value = http
            .get(gateway.url("/api/v1/audit?limit=1000"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = events.as_array().unwrap().clone();
        if events.len() >= want || started.elapsed() > Duration::from_secs(5) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_write_leaves_exactly_one_event_and_secrets_stay_out() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let (_, admin) = create_key(
        &env,
        &["nomad:read", "nomad:write", "nodes:write", "admin"],
        &["*"],
        None,
    );
    let (_, reader) = create_key(&env, &["nomad:read"], &["*"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let node = fake.node_ids()[0].clone();
    let ghost = "00000000-0000-0000-0000-000000000009";

    let writes: Vec<(&str, &str, String, Value)> = vec![
        (
            "create_job",
            "POST",
            "/api/v1/jobs".into(),
            json!({"job_id": "web", "image": "nginx", "env": {"DB_PASSWORD": SECRET_VALUE}}),
        ),
        (
            "submit_job",
            "PUT",
            "/api/v1/jobs".into(),
            json!({"job": {"ID": "api", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "nginx"}, "Env": {"TOKEN": SECRET_VALUE}}]}]}}),
        ),
        (
            "scale_job",
            "POST",
            "/api/v1/jobs/web/scale".into(),
            json!({"count": 2}),
        ),
        (
            "dispatch_job",
            "POST",
            "/api/v1/jobs/web/dispatch".into(),
            json!({"payload": SECRET_VALUE}),
        ),
        (
            "force_evaluate_job",
            "POST",
            "/api/v1/jobs/web/evaluate".into(),
            json!({}),
        ),
        (
            "revert_job",
            "POST",
            "/api/v1/jobs/web/revert".into(),
            json!({"version": 0}),
        ),
        (
            "restart_job",
            "POST",
            "/api/v1/jobs/web/restart".into(),
            json!({}),
        ),
        (
            "restart_allocation",
            "POST",
            format!("/api/v1/allocations/{ghost}/restart"),
            json!({}),
        ),
        (
            "stop_allocation",
            "POST",
            format!("/api/v1/allocations/{ghost}/stop"),
            json!({}),
        ),
        (
            "promote_deployment",
            "POST",
            format!("/api/v1/deployments/{ghost}/promote"),
            json!({}),
        ),
        (
            "fail_deployment",
            "POST",
            format!("/api/v1/deployments/{ghost}/fail"),
            json!({}),
        ),
        (
            "set_node_meta",
            "PATCH",
            format!("/api/v1/nodes/{node}/meta"),
            json!({"meta": {"team": "a"}}),
        ),
        (
            "set_node_eligibility",
            "PUT",
            format!("/api/v1/nodes/{node}/eligibility"),
            json!({"eligible": false}),
        ),
        (
            "drain_node",
            "POST",
            format!("/api/v1/nodes/{node}/drain"),
            json!({"deadline_seconds": 60}),
        ),
        (
            "stop_job",
            "DELETE",
            "/api/v1/jobs/web?purge=true".into(),
            Value::Null,
        ),
        (
            "create_api_key",
            "POST",
            "/api/v1/api-keys".into(),
            json!({"name": "ci", "scopes": ["nomad:read"]}),
        ),
    ];
    for (_, method, path, body) in &writes {
        let mut request = http
            .request(method.parse().unwrap(), gateway.url(path))
            .bearer_auth(&admin);
        if !body.is_null() {
            request = request.json(body);
        }
        let status = request.send().await.unwrap().status();
        assert!(
            status != 401 && status != 403 && status != 503,
            "{method} {path}: {status}"
        );
    }
    // And one refused call.
    let refused = http
        .post(gateway.url("/api/v1/jobs/web/evaluate"))
        .bearer_auth(&reader)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let events = audit_events(&http, &gateway, &admin, writes.len() + 1).await;
    for (operation, ..) in &writes {
        let matching: Vec<&Value> = events
            .iter()
            .filter(|e| e["operation"] == *operation && e["outcome"] != "refused")
            .collect();
        assert_eq!(matching.len(), 1, "{operation}: {matching:#?}");
        let event = matching[0];
        assert_eq!(event["transport"], "rest");
        assert!(event["caller"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(event["key_id"].is_string(), "{event}");
        assert!(event["client_addr"].is_string(), "{event}");
    }
    let create = events
        .iter()
        .find(|e| e["operation"] == "create_job")
        .unwrap();
    assert_eq!(create["outcome"], "ok");
    assert_eq!(create["job_id"], "web");
    assert!(create["eval_id"].is_string(), "{create}");
    assert!(
        create["arguments"].to_string().contains("DB_PASSWORD"),
        "{create}"
    );
    let ghost_stop = events
        .iter()
        .find(|e| e["operation"] == "stop_allocation")
        .unwrap();
    assert_eq!(ghost_stop["outcome"], "failed", "{ghost_stop}");
    let refusals: Vec<&Value> = events
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert!(
        refusals[0]["message"]
            .as_str()
            .unwrap()
            .contains("nomad:write")
    );

    let all = serde_json::to_string(&events).unwrap();
    assert!(
        !all.contains(SECRET_VALUE),
        "a secret reached the audit log"
    );
    assert!(
        !gateway.logs().contains(SECRET_VALUE),
        "a secret reached the logs"
    );
}

/// A TCP proxy that can be cut: existing connections close, new ones are refused.
struct Proxy {
    addr: std::net::SocketAddr,
    cut: Arc<Mutex<bool>>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(Mutex::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (c, conns) = (cut.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *c.lock().unwrap() {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().unwrap().push(task);
            }
        });
        Proxy {
            addr,
            cut,
            connections,
        }
    }

    fn cut(&self) {
        *self.cut.lock().unwrap() = true;
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        *self.cut.lock().unwrap() = false;
    }
}

// Multi-threaded: the proxy must keep running while the test blocks on process starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL with Postgres; tests/run.sh runs it"]
async fn writes_wait_for_the_audit_log_while_the_database_is_away() {
    let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL (Postgres)");
    assert!(
        admin_url.starts_with("postgres"),
        "this test needs Postgres"
    );
    let db = TestDb::new().await;
    let parsed = url::Url::parse(&db.url).unwrap();
    let upstream = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(upstream).await;
    let mut proxied = parsed.clone();
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(proxy.addr.port())).unwrap();

    let fake = FakeNomad::start(Options::default()).await;
    let mut env = base_env(&db);
    set(&mut env, "DATABASE_URL", proxied.as_str());
    set(&mut env, "NOMAD_ADDR", &fake.url());
    set(&mut env, "GATEWAY_AUDIT_QUEUE", "3");
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let evaluate = || {
        let http = http.clone();
        let url = gateway.url("/api/v1/jobs");
        async move {
            let response = http
                .post(url)
                .json(&json!({"job_id": format!("job-{}", uuid::Uuid::new_v4().simple()), "image": "nginx"}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if status != 201 {
                eprintln!(
                    "write answered {status}: {}",
                    response.text().await.unwrap_or_default()
                );
            }
            status
        }
    };
    assert_eq!(evaluate().await, 201);
    // Its event is in the database before the cut, so the queue starts empty.
    let started = std::time::Instant::now();
    loop {
        let events: Value = http
            .get(gateway.url("/api/v1/audit?operation=create_job"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if events.as_array().unwrap().len() == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the first event was not written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    proxy.cut();
    let before = fake.requests().iter().filter(|r| r.method != "GET").count();
    for _ in 0..3 {
        assert_eq!(
            evaluate().await,
            201,
            "writes go on while the queue has room"
        );
    }
    let status = evaluate().await;
    assert_eq!(status, 503, "a full queue refuses the write");
    let after = fake.requests().iter().filter(|r| r.method != "GET").count();
    assert_eq!(after - before, 3, "the refused write reached Nomad");

    proxy.restore();
    // The queued events reach the database, and writes are accepted again.
    let started = std::time::Instant::now();
    loop {
        let status = evaluate().await;
        if status == 201 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still refused: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events: Value = loop {
        let events: Value = http
            .get(gateway.url("/api/v1/audit?operation=create_job"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if events.as_array().unwrap().len() >= 5 || started.elapsed() > Duration::from_secs(20) {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ok = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "ok")
        .count();
    assert_eq!(ok, 5, "{events:#}");
}

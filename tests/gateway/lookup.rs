//! Cluster lookups (search by ID prefix, the gateway's own Nomad token, volumes, scaling
//! policies), node filters, pools and purge, and deployment controls (pause and resume,
//! unblock, allocation health), allocation usage and signals, over REST and MCP against
//! the fake Nomad. Scope and
//! namespace refusals of every route are in `auth.rs`'s matrix.

use std::time::Duration;

use fake_nomad::{Capability, CsiVolume, FakeNomad, HostVolume, Options, Token};
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Value, json};

use crate::mcp::{Client, Recorder, ok, tool_error};
use crate::support::{Gateway, TestDb, base_env, set};

pub(crate) struct Setup {
    pub(crate) gateway: Gateway,
    _db: TestDb,
    http: reqwest::Client,
}

impl Setup {
    pub(crate) async fn start(fake: &FakeNomad, extra: &[(&str, &str)]) -> Setup {
        let db = TestDb::new().await;
        let mut env = base_env(&db);
        set(&mut env, "NOMAD_ADDR", &fake.url());
        for (k, v) in extra {
            set(&mut env, k, v);
        }
        Setup {
            gateway: Gateway::start(&env),
            _db: db,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn client(&self) -> Client {
        let transport = StreamableHttpClientTransport::from_uri(self.gateway.url("/mcp"));
        Recorder::default().serve(transport).await.unwrap()
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.gateway.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.gateway.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

pub(crate) async fn register(fake: &FakeNomad, job: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/jobs", fake.url()))
        .json(&json!({ "Job": job }))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
}

pub(crate) fn service_job(id: &str, count: u64) -> Value {
    json!({
        "ID": id, "Datacenters": ["dc1"], "Type": "service",
        "Update": {"MaxParallel": 1, "Canary": 0, "MinHealthyTime": 1_000_000_000i64,
                   "HealthyDeadline": 60_000_000_000i64, "AutoRevert": false},
        "TaskGroups": [{
            "Name": "web", "Count": count,
            "Scaling": {"Min": 1, "Max": 5, "Enabled": true, "Policy": {"cooldown": "1m"}},
            "Tasks": [{"Name": "server", "Driver": "docker",
                       "Config": {"image": "nginx:1.27"},
                       "Resources": {"CPU": 100, "MemoryMB": 64}}]
        }]
    })
}

pub(crate) async fn fake_requests(fake: &FakeNomad, path_prefix: &str) -> Vec<Value> {
    let all: Value = reqwest::get(format!("{}/_fake/requests", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").starts_with(path_prefix))
        .cloned()
        .collect()
}

#[tokio::test]
async fn search_finds_objects_by_id_prefix_with_the_call_that_opens_them() {
    let fake = FakeNomad::start(Options::default()).await;
    register(&fake, service_job("webshop", 1)).await;
    register(&fake, service_job("web-api", 1)).await;
    fake.settle(Duration::from_secs(5)).await;
    let setup = Setup::start(&fake, &[]).await;

    let (status, found) = setup.get("/api/v1/search?prefix=web&context=jobs").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["matches"][0]["context"], "jobs");
    let mut ids: Vec<&str> = found["matches"][0]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["web-api", "webshop"]);
    assert_eq!(found["matches"][0]["open_with"], "get_job");

    // A node by the first characters of its ID, from every context.
    let node = fake.node_ids()[0].clone();
    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();
    let result = ok(&client, &tools, "search_ids", json!({"prefix": &node[..8]})).await;
    let nodes = result["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["context"] == "nodes")
        .unwrap_or_else(|| panic!("{result:#}"));
    assert_eq!(nodes["ids"], json!([node]));
    assert_eq!(nodes["open_with"], "get_node");

    let (status, nothing) = setup.get("/api/v1/search?prefix=zzzz").await;
    assert_eq!((status, nothing["matches"].clone()), (200, json!([])));
    let (status, problem) = setup.get("/api/v1/search?prefix=web&context=pods").await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem
            .to_string()
            .contains("'pods' is not a search context"),
        "{problem}"
    );
    let (status, problem) = setup.get("/api/v1/search").await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("prefix"), "{problem}");
    // Three searches reached Nomad: the two refused ones did not.
    assert_eq!(fake_requests(&fake, "/v1/search").await.len(), 3);
}

#[tokio::test]
async fn the_gateways_nomad_identity_names_its_policies_or_says_acls_are_off() {
    let acls_off = FakeNomad::start(Options::default()).await;
    let setup = Setup::start(&acls_off, &[]).await;
    let (status, identity) = setup.get("/api/v1/cluster/identity").await;
    assert_eq!(status, 200, "{identity}");
    assert_eq!(identity["acl_enabled"], false, "{identity}");

    let fake = FakeNomad::start(Options {
        tokens: vec![
            Token::management("root"),
            Token::namespace("gateway-secret", &["default"], Capability::Write)
                .expiring_in(Duration::from_secs(3600)),
        ],
        ..Options::default()
    })
    .await;
    let setup = Setup::start(&fake, &[("NOMAD_TOKEN", "gateway-secret")]).await;
    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();
    let identity = ok(&client, &tools, "get_nomad_identity", json!({})).await;
    assert_eq!(identity["acl_enabled"], true);
    assert_eq!(identity["token_type"], "client");
    assert_eq!(identity["policies"], json!(["default-write"]));
    assert!(identity["expires_at"].is_string(), "{identity:#}");
    assert!(
        !identity.to_string().contains("gateway-secret"),
        "the secret is never shown"
    );
}

#[tokio::test]
async fn volumes_are_listed_and_read_with_their_claims() {
    let fake = FakeNomad::start(Options {
        namespaces: vec!["prod".into()],
        csi_volumes: vec![CsiVolume::new("db-data", "default")],
        host_volumes: vec![HostVolume::new("scratch", "prod", 0)],
        ..Options::default()
    })
    .await;
    let setup = Setup::start(&fake, &[]).await;
    let (status, all) = setup.get("/api/v1/volumes?namespace=*").await;
    assert_eq!(status, 200, "{all}");
    let rows: Vec<(String, String)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap().into(),
                v["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("csi".into(), "db-data".into()),
            ("host".into(), "scratch".into())
        ],
        "{all}"
    );
    let (status, csi_only) = setup.get("/api/v1/volumes?type=csi&namespace=*").await;
    assert_eq!((status, csi_only["total"].clone()), (200, json!(1)));

    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();
    let csi = ok(
        &client,
        &tools,
        "get_volume",
        json!({"volume_id": "db-data"}),
    )
    .await;
    assert_eq!(csi["kind"], "csi");
    assert_eq!(csi["status"], "schedulable");
    let host_id = all["items"][1]["id"].as_str().unwrap();
    let host = ok(
        &client,
        &tools,
        "get_volume",
        json!({"volume_id": host_id, "namespace": "prod"}),
    )
    .await;
    assert_eq!(host["kind"], "host");
    assert!(host["host_path"].is_string(), "{host:#}");

    let missing = tool_error(&client, "get_volume", json!({"volume_id": "nope"})).await;
    assert!(
        missing.contains("volume 'nope' not found in namespace 'default'"),
        "{missing}"
    );
    let (status, problem) = setup.get("/api/v1/volumes?type=nfs").await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("'nfs' is not a volume type"));
}

#[tokio::test]
async fn scaling_policies_show_their_bounds_and_node_pools_their_nodes() {
    let fake = FakeNomad::start(Options {
        nodes: 3,
        node_pools: vec!["default".into(), "gpu".into()],
        ..Options::default()
    })
    .await;
    register(&fake, service_job("web", 2)).await;
    fake.settle(Duration::from_secs(5)).await;
    let setup = Setup::start(&fake, &[]).await;
    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();

    let policies = ok(
        &client,
        &tools,
        "list_scaling_policies",
        json!({"job_id": "web"}),
    )
    .await;
    assert_eq!(policies["total"], 1, "{policies:#}");
    let policy = &policies["items"][0];
    assert_eq!(
        (
            policy["group"].clone(),
            policy["min"].clone(),
            policy["max"].clone()
        ),
        (json!("web"), json!(1), json!(5))
    );
    assert_eq!(policy["policy"]["cooldown"], "1m");

    let pools = ok(&client, &tools, "list_node_pools", json!({})).await;
    let counts: Vec<(String, u64)> = pools["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["nodes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [("all".into(), 3), ("default".into(), 2), ("gpu".into(), 1)],
        "{pools:#}"
    );

    let (status, gpu) = setup.get("/api/v1/nodes?pool=gpu&status=ready").await;
    assert_eq!((status, gpu["total"].clone()), (200, json!(1)), "{gpu}");
    let node = gpu["items"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = setup
        .http
        .patch(setup.gateway.url(&format!("/api/v1/nodes/{node}/meta")))
        .json(&json!({"meta": {"rack": "r12"}}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);
    let labelled = ok(&client, &tools, "list_nodes", json!({"meta": "rack=r12"})).await;
    assert_eq!(
        labelled["items"].as_array().unwrap().len(),
        1,
        "{labelled:#}"
    );
    assert_eq!(labelled["items"][0]["id"], json!(node));
    let (status, problem) = setup.get("/api/v1/nodes?meta=rack").await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("'rack' is not key=value"));
}

#[tokio::test]
async fn a_purged_node_is_gone_and_its_allocations_are_replaced() {
    let fake = FakeNomad::start(Options::default()).await;
    register(&fake, service_job("web", 3)).await;
    fake.settle(Duration::from_secs(5)).await;
    let setup = Setup::start(&fake, &[]).await;
    let allocs: Value = reqwest::get(format!("{}/v1/job/web/allocations", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let node = allocs[0]["NodeID"].as_str().unwrap().to_string();
    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();
    let purged = ok(
        &client,
        &tools,
        "purge_node",
        json!({"node_id": node, "wait": 20}),
    )
    .await;
    assert!(
        !purged["eval_ids"].as_array().unwrap().is_empty(),
        "{purged:#}"
    );
    assert_eq!(purged["operation"]["kind"], "purge-node", "{purged:#}");
    assert_eq!(purged["operation"]["state"], "succeeded", "{purged:#}");
    let (status, gone) = setup.get(&format!("/api/v1/nodes/{node}")).await;
    assert_eq!(status, 404, "{gone}");
    let again = tool_error(&client, "purge_node", json!({"node_id": node})).await;
    assert!(again.contains("not found"), "{again}");
}

#[tokio::test]
async fn deployments_pause_resume_and_take_allocation_health_by_hand() {
    let fake = FakeNomad::start(Options {
        step: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let mut job = service_job("web", 2);
    // Tasks that crash and restart for ever are never healthy on their own: the
    // deployment runs until a person decides.
    job["Meta"] = json!({"fake_nomad_behavior": "crash"});
    job["TaskGroups"][0]["RestartPolicy"] = json!({"Attempts": 1000, "Interval": 1_800_000_000_000i64, "Delay": 100_000_000i64, "Mode": "delay"});
    register(&fake, job).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let deployment: Value = reqwest::get(format!("{}/v1/job/web/deployment", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = deployment["ID"].as_str().unwrap().to_string();
    let setup = Setup::start(&fake, &[]).await;
    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();

    let paused = ok(
        &client,
        &tools,
        "pause_deployment",
        json!({"deployment_id": id, "wait": 5}),
    )
    .await;
    assert_eq!(paused["operation"]["state"], "succeeded", "{paused:#}");
    let (_, read) = setup.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(read["status"], "paused", "{read}");
    let (status, resumed) = setup
        .post(
            &format!("/api/v1/deployments/{id}/pause?resume=true"),
            json!(null),
        )
        .await;
    assert_eq!(status, 200, "{resumed}");
    let (_, read) = setup.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(read["status"], "running", "{read}");

    let (status, problem) = setup
        .post(
            &format!("/api/v1/deployments/{id}/allocation-health"),
            json!({"healthy": ["a"], "unhealthy": ["a"]}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem
            .to_string()
            .contains("in both healthy and unhealthy")
    );
    let allocs: Value = reqwest::get(format!("{}/v1/deployment/allocations/{id}", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alloc_ids: Vec<String> = allocs
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(alloc_ids.len(), 2, "{allocs}");
    let healthy = ok(
        &client,
        &tools,
        "set_allocation_health",
        json!({"deployment_id": id, "healthy": alloc_ids, "wait": 20}),
    )
    .await;
    assert_eq!(healthy["operation"]["kind"], "set-health", "{healthy:#}");
    assert_eq!(healthy["operation"]["state"], "succeeded", "{healthy:#}");
    let (_, read) = setup.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(read["status"], "successful", "{read}");

    // Nomad refuses to act on a finished deployment; the gateway says so.
    let refused = tool_error(&client, "pause_deployment", json!({"deployment_id": id})).await;
    assert!(refused.contains("terminal deployment"), "{refused}");
    let unblock = tool_error(&client, "unblock_deployment", json!({"deployment_id": id})).await;
    assert!(unblock.contains("terminal deployment"), "{unblock}");
}

#[tokio::test]
async fn allocation_usage_is_measured_against_the_reservation_and_signals_reach_the_task() {
    let fake = FakeNomad::start(Options::default()).await;
    register(&fake, service_job("web", 1)).await;
    fake.settle(Duration::from_secs(5)).await;
    let allocs: Value = reqwest::get(format!("{}/v1/job/web/allocations", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alloc = allocs[0]["ID"].as_str().unwrap().to_string();
    let setup = Setup::start(&fake, &[]).await;
    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();

    // The fake's client reports a quarter of the reservation: 25 of 100 MHz, 16 of 64 MiB.
    let usage = ok(
        &client,
        &tools,
        "get_allocation_usage",
        json!({"alloc_id": alloc}),
    )
    .await;
    let task = &usage["tasks"][0];
    assert_eq!(task["task"], "server");
    assert_eq!(
        (
            task["cpu_mhz_reserved"].clone(),
            task["cpu_percent_of_reserved"].clone()
        ),
        (json!(100), json!(25.0)),
        "{usage:#}"
    );
    assert_eq!(task["memory_bytes"], json!(16 * 1024 * 1024));
    assert_eq!(task["memory_percent_of_reserved"], json!(25.0));
    let (status, rest) = setup
        .get(&format!("/api/v1/allocations/{alloc}/usage"))
        .await;
    assert_eq!(
        (status, rest["tasks"].clone()),
        (200, usage["tasks"].clone())
    );

    let signalled = ok(
        &client,
        &tools,
        "signal_allocation",
        json!({"alloc_id": alloc, "signal": "SIGHUP", "task": "server"}),
    )
    .await;
    assert_eq!(signalled["signal"], "SIGHUP");
    let read: Value = reqwest::get(format!("{}/v1/allocation/{alloc}", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = read["TaskStates"]["server"]["Events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["Type"] == "Signaling"),
        "Nomad recorded the signal: {events:?}"
    );
    let (status, problem) = setup
        .post(
            &format!("/api/v1/allocations/{alloc}/signal"),
            json!({"signal": "reload"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem
            .to_string()
            .contains("'reload' is not a signal name")
    );
    let wrong = tool_error(
        &client,
        "signal_allocation",
        json!({"alloc_id": alloc, "signal": "SIGHUP", "task": "nginx"}),
    )
    .await;
    assert!(
        wrong.contains("has no task 'nginx'; its tasks: server"),
        "{wrong}"
    );
    assert_eq!(
        fake_requests(&fake, &format!("/v1/client/allocation/{alloc}/signal"))
            .await
            .len(),
        1,
        "refused signals reach no Nomad"
    );
}

#[tokio::test]
async fn a_log_search_reads_only_the_tail_of_each_log_and_stays_within_its_budget() {
    let fake = FakeNomad::start(Options::default()).await;
    let mut job = service_job("web", 3);
    // 50 MiB of stdout per task: 64-byte lines "000000000123 server handled request 861".
    job["Meta"] = json!({"fake_nomad_log_bytes": (50u64 << 20).to_string()});
    register(&fake, job).await;
    fake.settle(Duration::from_secs(5)).await;
    let setup = Setup::start(&fake, &[]).await;
    let client = setup.client().await;
    let tools = client.list_all_tools().await.unwrap();

    let found = ok(
        &client,
        &tools,
        "search_job_logs",
        json!({"job_id": "web", "pattern": "HANDLED request 999", "context": 1}),
    )
    .await;
    // The last 256 KiB hold lines 815104..819199; the first may be cut and is dropped.
    // Line i reads "request {i*7 % 1000}": 999 for i = 815857, 816857, 817857, 818857.
    assert_eq!(found["allocations"].as_array().unwrap().len(), 3);
    assert_eq!(found["logs_read"], 6, "stdout and stderr of 3 tasks");
    assert_eq!(found["total_matches"], 12, "{found:#}");
    let first = &found["matches"][0];
    assert!(
        first["line"]
            .as_str()
            .unwrap()
            .contains(" server handled request 999."),
        "{first}"
    );
    assert_eq!(first["before"].as_array().unwrap().len(), 1);
    assert_eq!(first["after"].as_array().unwrap().len(), 1);
    assert!(
        found["note"]
            .as_str()
            .unwrap()
            .contains("6 log(s) have output older than the last 256 KiB")
            || found["note"]
                .as_str()
                .unwrap()
                .contains("3 log(s) have output older than the last 256 KiB"),
        "{found:#}"
    );
    assert!(
        serde_json::to_vec(&found).unwrap().len() < 16 * 1024,
        "the answer stays small"
    );
    let reads = fake_requests(&fake, "/v1/client/fs/logs/").await;
    assert_eq!(reads.len(), 6);
    for read in &reads {
        let range = read["log_range"].as_array().unwrap();
        let (start, end) = (range[0].as_u64().unwrap(), range[1].as_u64().unwrap());
        assert!(end - start <= 256 * 1024, "read {start}..{end}");
        assert!(
            read["query"].as_str().unwrap().contains("origin=end"),
            "{read}"
        );
    }

    let (status, limited) = setup
        .get("/api/v1/jobs/web/logs/search?pattern=handled&max_matches=5&stream=stdout&tail_kib=4")
        .await;
    assert_eq!(status, 200, "{limited}");
    assert_eq!(limited["matches"].as_array().unwrap().len(), 5);
    assert!(limited["total_matches"].as_u64().unwrap() > 5);
    assert!(
        limited["note"]
            .as_str()
            .unwrap()
            .contains("more matching line(s): raise max_matches"),
        "{limited}"
    );
    let (status, problem) = setup
        .get("/api/v1/jobs/web/logs/search?pattern=x&tail_kib=5000")
        .await;
    assert_eq!(status, 422, "{problem}");
    let missing = tool_error(
        &client,
        "search_job_logs",
        json!({"job_id": "nope", "pattern": "x"}),
    )
    .await;
    assert!(missing.contains("job 'nope' not found"), "{missing}");
}

//! The fake Nomad answers in Nomad's documented shapes: for every endpoint it serves,
//! its JSON has every key of the documented sample with the same value type, compared
//! recursively. Keys the fake leaves out must be listed in `OMITTED` with the reason;
//! keys it adds must be Nomad's (named in some sample, or listed in `NOMAD_FIELDS`).

use std::collections::BTreeSet;

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};

use crate::nomad_samples::samples_dir;

/// Sample keys the fake does not produce, as `sample file`, `path`, reason.
const OMITTED: &[(&str, &str, &str)] = &[
    (
        "GET_v1_agent_self.json",
        "$.config",
        "agent configuration: the fake reports the fields the gateway reads (Region, Datacenter, Version, ACL, Server); the rest is operator configuration with no meaning for a simulated server",
    ),
    (
        "POST_v1_deployment_fail_DEPLOYMENT.json",
        "$.RevertedJobVersion",
        "a pointer in Nomad: null when failing the deployment reverted nothing",
    ),
    (
        "GET_v1_job_ID_versions.json",
        "$.Versions[].TaskGroups[].MaxClientDisconnect",
        "a pointer in Nomad: null when the job leaves it unset",
    ),
    (
        "GET_v1_allocation_ALLOC.json",
        "$.Job.TaskGroups[].Tasks[].Spreads",
        "an old sample: Nomad 1.11 tasks have no spread (it is a job and group block)",
    ),
];

/// Fields of Nomad 1.11's structs that the documentation's samples predate.
const NOMAD_FIELDS: &[&str] = &[
    "Unknown",
    "SignedIdentities",
    "NodePoolConfiguration",
    "LeaderACL",
    "QuotaLimitReached",
    "EvalPriority",
    "IsMultiregion",
    "TotalCpuCores",
    "ReservableCpuCores",
    "MinDynamicPort",
    "MaxDynamicPort",
    "AllocatedResources",
    "TimeZone",
    "Identity",
    "Identities",
    "Consul",
    "Cores",
    "MemoryMaxMB",
    "DispatchIdempotencyToken",
    "RequireProgressBy",
    "ProgressDeadline",
    "ConsulToken",
    "ACL",
    "Enabled",
    "VersionMetadata",
    "expect",
    "id",
    "raft_vsn",
    "rpc_addr",
    "ScoreMetaData",
    "ResourcesExhausted",
    "Preemptions",
    "Reconnect",
    "Disconnect",
    "PreemptedAllocs",
    // `structs.Service` and `structs.ServiceCheck` (`nomad/structs/services.go` at
    // 1.11.2): fields the node allocations sample (an old one) has no key for.
    "Cluster",
    "Weights",
    "Expose",
    "Notes",
    "GRPCService",
    "GRPCUseTLS",
    "SuccessBeforePassing",
    "FailuresBeforeCritical",
    "FailuresBeforeWarning",
    "Body",
    // `structs.CheckQueryResult`: an HTTP check's status (`omitempty`, so the sample's TCP
    // check has none).
    "StatusCode",
];

/// Samples whose top-level object is keyed by an ID (`GET /v1/allocation/:id/checks`:
/// check ID → result), compared like `MAPS`.
const KEYED: &[&str] = &["GET_v1_allocation_ALLOC_checks.json"];

/// Objects whose keys are names (group, task, datacenter...) and whose values all have
/// one shape, compared against the sample's first value.
const MAPS: &[&str] = &[
    "Summary",
    "TaskStates",
    "TaskResources",
    "NodesAvailable",
    "Scores",
    "DimensionExhausted",
    "ClassExhausted",
    "ClassFiltered",
    "ConstraintFiltered",
    "QuotaExhausted",
    "FailedTGAllocs",
    "QueuedAllocations",
    "ClassEligibility",
    "DesiredTGUpdates",
    "Drivers",
    "HostVolumes",
    "HostNetworks",
    "runtime",
    "nomad",
    "raft",
    "client",
    "serf",
];

/// Objects that hold user data (task driver config, meta, env...): any keys, any values.
const DATA: &[&str] = &[
    "Meta",
    "Config",
    "Attributes",
    "Tags",
    "Links",
    "Env",
    "Dynamic",
    "Static",
    "Details",
    "Options",
    "ChrootEnv",
    "HTTPAPIResponseHeaders",
    // A Nomad Variable's key/value pairs.
    "Items",
];

fn is_map(key: &str, sample: &Value) -> bool {
    MAPS.contains(&key) || DATA.contains(&key) || (key == "TaskGroups" && sample.is_object())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

struct Check<'a> {
    file: &'a str,
    vocabulary: &'a BTreeSet<String>,
    problems: Vec<String>,
    used_omissions: BTreeSet<(String, String)>,
}

impl Check<'_> {
    fn omitted(&mut self, path: &str) -> bool {
        let hit = OMITTED
            .iter()
            .any(|(f, p, _)| *f == self.file && (*p == path || path.starts_with(&format!("{p}."))));
        if hit {
            self.used_omissions
                .insert((self.file.to_string(), path.to_string()));
        }
        hit
    }

    fn compare(&mut self, path: &str, key: &str, sample: &Value, actual: &Value) {
        if sample.is_null() {
            return;
        }
        if actual.is_null() {
            // Go encodes an empty slice, map or pointer as null; a scalar is never null.
            if (sample.is_array() || sample.is_object()) || self.omitted(path) {
                return;
            }
            self.problems.push(format!(
                "{path}: null where the sample has a {}",
                kind(sample)
            ));
            return;
        }
        if kind(sample) != kind(actual) {
            if !self.omitted(path) {
                self.problems.push(format!(
                    "{path}: {} where the sample has a {}",
                    kind(actual),
                    kind(sample)
                ));
            }
            return;
        }
        match (sample, actual) {
            (Value::Array(s), Value::Array(a)) => {
                if let Some(first) = s.first() {
                    for item in a {
                        self.compare(&format!("{path}[]"), "[]", first, item);
                    }
                }
            }
            (Value::Object(_), Value::Object(_)) if DATA.contains(&key) => {}
            (Value::Object(s), Value::Object(a))
                if is_map(key, sample) || (path == "$" && KEYED.contains(&self.file)) =>
            {
                if let Some(first) = s.values().find(|v| !v.is_null()) {
                    for value in a.values() {
                        self.compare(&format!("{path}.*"), "", first, value);
                    }
                }
            }
            (Value::Object(s), Value::Object(a)) => {
                for (k, sv) in s {
                    let p = format!("{path}.{k}");
                    match a.get(k) {
                        Some(av) => self.compare(&p, k, sv, av),
                        None if self.omitted(&p) => {}
                        None => self.problems.push(format!("{p}: missing")),
                    }
                }
                for k in a.keys() {
                    if !s.contains_key(k)
                        && !self.vocabulary.contains(k)
                        && !NOMAD_FIELDS.contains(&k.as_str())
                    {
                        self.problems
                            .push(format!("{path}.{k}: a key no Nomad sample has"));
                    }
                }
            }
            _ => {}
        }
    }
}

fn collect_keys(v: &Value, parent: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            let map = is_map(parent, v);
            for (k, x) in m {
                if !map {
                    out.insert(k.clone());
                }
                collect_keys(x, k, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_keys(x, "[]", out)),
        _ => {}
    }
}

fn vocabulary() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for dir in ["samples", "jobspec", "jobspec/fragments"] {
        for entry in std::fs::read_dir(samples_dir().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                collect_keys(v.get("response").unwrap_or(&v), "", &mut keys);
                if let Some(body) = v.get("request_body") {
                    collect_keys(body, "", &mut keys);
                }
            }
        }
    }
    keys
}

fn sample_response(file: &str) -> Value {
    let path = samples_dir().join("samples").join(file);
    let v: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    v["response"].clone()
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.parse().unwrap(), &url);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    /// A GET whatever its status: the status, the body, and whether `X-Nomad-Index` came.
    async fn answer(&self, path: &str) -> (u16, String, bool) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let index = response.headers().contains_key("x-nomad-index");
        (status, response.text().await.unwrap(), index)
    }

    /// Any request whatever its answer: the status, the body's text and `X-Nomad-Index`.
    async fn exchange(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String, Option<u64>) {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.parse().unwrap(), &url);
        if let Some(t) = token {
            request = request.header("X-Nomad-Token", t);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let index = response
            .headers()
            .get("x-nomad-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        (status, response.text().await.unwrap(), index)
    }

    /// A request expected to answer `status` with JSON: the JSON and `X-Nomad-Index`.
    async fn call_expecting(
        &self,
        status: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (Value, Option<u64>) {
        let (got, text, index) = self.exchange(method, path, token, body).await;
        assert_eq!(got, status, "{method} {path}: {text}");
        let value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"));
        (value, index)
    }

    /// Reads `n` NDJSON lines (or frames) from a streaming endpoint.
    async fn stream(&self, path: &str, n: usize) -> Vec<Value> {
        let mut response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        let mut buffer = Vec::new();
        let mut out = Vec::new();
        while out.len() < n {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk())
                .await
                .expect("stream stalled")
                .unwrap();
            let Some(chunk) = chunk else { break };
            buffer.extend_from_slice(&chunk);
            let mut iter = serde_json::Deserializer::from_slice(&buffer).into_iter::<Value>();
            let mut consumed = 0;
            while let Some(Ok(v)) = iter.next() {
                consumed = iter.byte_offset();
                if v.as_object().is_some_and(|o| !o.is_empty()) {
                    out.push(v);
                }
            }
            buffer.drain(..consumed);
        }
        out
    }
}

fn service_job(id: &str) -> Value {
    json!({"Job": {
        "ID": id, "Datacenters": ["dc1"], "Meta": {"team": "web"},
        "Update": {"MaxParallel": 1, "Canary": 0, "MinHealthyTime": 1_000_000_000i64},
        "TaskGroups": [{
            "Name": "web", "Count": 2, "Meta": {"tier": "front"},
            "Tasks": [{"Name": "server", "Driver": "docker",
                       "Config": {"image": "nginx:1.27", "ports": ["http"]},
                       "Env": {"MODE": "prod"},
                       "Resources": {"CPU": 200, "MemoryMB": 128}}]
        }]
    }})
}

/// A job with Nomad-native services: a group service with a TCP check on a dynamic port,
/// and a task service with an HTTP check on a static one.
fn services_job(id: &str) -> Value {
    json!({"Job": {
        "ID": id, "Datacenters": ["dc1"],
        "TaskGroups": [{
            "Name": "cache", "Count": 1,
            "Networks": [{"Mode": "host",
                          "DynamicPorts": [{"Label": "db", "Value": 0, "To": 6379}],
                          "ReservedPorts": [{"Label": "admin", "Value": 8081, "To": 0}]}],
            "Services": [{"Name": "cache-redis", "Provider": "nomad", "PortLabel": "db",
                          "Tags": ["cache", "db"],
                          "Checks": [{"Name": "redis_probe", "Type": "tcp",
                                      "Interval": 10_000_000_000i64, "Timeout": 2_000_000_000i64}]}],
            "Tasks": [{"Name": "redis", "Driver": "docker",
                       "Config": {"image": "redis:7", "ports": ["db", "admin"]},
                       "Services": [{"Name": "cache-admin", "Provider": "nomad",
                                     "PortLabel": "admin",
                                     "Checks": [{"Name": "admin_http", "Type": "http",
                                                 "Path": "/health",
                                                 "Interval": 10_000_000_000i64,
                                                 "Timeout": 2_000_000_000i64}]}],
                       "Resources": {"CPU": 100, "MemoryMB": 64}}]
        }]
    }})
}

#[tokio::test]
async fn the_fake_answers_in_the_shapes_of_nomads_samples() {
    let fake = FakeNomad::start(Options {
        namespaces: vec!["staging".into()],
        ..Options::default()
    })
    .await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };

    // A cluster with history: a service job deployed twice, a blocked job, a crashing
    // job, a parameterized job with a dispatch, and a drained node.
    c.call("POST", "/v1/jobs", Some(service_job("web"))).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    let mut v2 = service_job("web");
    v2["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:1.28");
    c.call("POST", "/v1/job/web", Some(v2)).await;
    let mut big = service_job("big");
    big["Job"]["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = json!(100_000);
    c.call("POST", "/v1/jobs", Some(big)).await;
    let mut param = service_job("report");
    param["Job"]["Type"] = json!("batch");
    param["Job"]["ParameterizedJob"] =
        json!({"Payload": "optional", "MetaRequired": ["day"], "MetaOptional": null});
    c.call("POST", "/v1/jobs", Some(param)).await;
    c.call("POST", "/v1/jobs", Some(services_job("cache")))
        .await;
    fake.settle(std::time::Duration::from_secs(10)).await;

    let allocs = c.call("GET", "/v1/job/web/allocations", None).await;
    let cache_allocs = c.call("GET", "/v1/job/cache/allocations", None).await;
    let cache_alloc = cache_allocs[0]["ID"].as_str().unwrap().to_string();
    let alloc_id = allocs[0]["ID"].as_str().unwrap().to_string();
    let evals = c.call("GET", "/v1/job/big/evaluations", None).await;
    let blocked = evals
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Status"] == "blocked")
        .expect("a blocked evaluation");
    let blocked_id = blocked["ID"].as_str().unwrap().to_string();
    let deployment = c.call("GET", "/v1/job/web/deployment", None).await;
    let deployment_id = deployment["ID"].as_str().unwrap().to_string();
    let node_id = fake.node_ids()[2].clone();

    let vocabulary = vocabulary();
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let mut check = |file: &str, actual: &Value| {
        let mut c = Check {
            file,
            vocabulary: &vocabulary,
            problems: Vec::new(),
            used_omissions: BTreeSet::new(),
        };
        c.compare("$", "", &sample_response(file), actual);
        problems.extend(c.problems.into_iter().map(|p| format!("{file}: {p}")));
        used.extend(c.used_omissions);
    };

    let deploy_job = json!({"Job": service_job("web")["Job"].clone(), "Diff": true});
    let reads: Vec<(&str, String)> = vec![
        ("GET_v1_status_leader.json", "/v1/status/leader".into()),
        ("GET_v1_status_peers.json", "/v1/status/peers".into()),
        ("GET_v1_agent_self.json", "/v1/agent/self".into()),
        ("GET_v1_agent_members.json", "/v1/agent/members".into()),
        ("GET_v1_regions.json", "/v1/regions".into()),
        ("GET_v1_namespaces.json", "/v1/namespaces".into()),
        (
            "GET_v1_namespace_NAMESPACE.json",
            "/v1/namespace/staging".into(),
        ),
        ("GET_v1_jobs.json", "/v1/jobs".into()),
        ("GET_v1_jobs__filter-unfiltered.json", "/v1/jobs".into()),
        (
            "GET_v1_jobs__filter-datacenters-contains-dc2.json",
            "/v1/jobs?filter=%22dc1%22+in+Datacenters".into(),
        ),
        ("GET_v1_job_ID.json", "/v1/job/web".into()),
        ("GET_v1_job_ID_summary.json", "/v1/job/web/summary".into()),
        (
            "GET_v1_job_ID_allocations.json",
            "/v1/job/web/allocations".into(),
        ),
        (
            "GET_v1_job_ID_evaluations.json",
            "/v1/job/web/evaluations".into(),
        ),
        (
            "GET_v1_job_ID_deployments.json",
            "/v1/job/web/deployments".into(),
        ),
        (
            "GET_v1_job_ID_deployment.json",
            "/v1/job/web/deployment".into(),
        ),
        ("GET_v1_job_ID_versions.json", "/v1/job/web/versions".into()),
        (
            "GET_v1_job_ID_versions__diffs.json",
            "/v1/job/web/versions?diffs=true".into(),
        ),
        ("GET_v1_job_ID_scale.json", "/v1/job/web/scale".into()),
        ("GET_v1_allocations.json", "/v1/allocations".into()),
        (
            "GET_v1_allocation_ALLOC.json",
            format!("/v1/allocation/{alloc_id}"),
        ),
        ("GET_v1_evaluations.json", "/v1/evaluations".into()),
        (
            "GET_v1_evaluation_EVAL.json",
            format!("/v1/evaluation/{blocked_id}?related=true"),
        ),
        (
            "GET_v1_evaluation_EVAL_allocations.json",
            format!(
                "/v1/evaluation/{}/allocations",
                allocs[0]["EvalID"].as_str().unwrap()
            ),
        ),
        ("GET_v1_deployments.json", "/v1/deployments".into()),
        (
            "GET_v1_deployments__filter-unfiltered.json",
            "/v1/deployments".into(),
        ),
        (
            "GET_v1_deployment_ID.json",
            format!("/v1/deployment/{deployment_id}"),
        ),
        (
            "GET_v1_deployment_allocations_DEPLOYMENT.json",
            format!("/v1/deployment/allocations/{deployment_id}"),
        ),
        ("GET_v1_nodes.json", "/v1/nodes".into()),
        ("GET_v1_node_ID.json", format!("/v1/node/{node_id}")),
        (
            "GET_v1_node_ID_allocations.json",
            format!(
                "/v1/node/{}/allocations",
                allocs[0]["NodeID"].as_str().unwrap()
            ),
        ),
        (
            "GET_v1_client_metadata.json",
            format!("/v1/client/metadata?node_id={node_id}"),
        ),
        ("GET_v1_services.json", "/v1/services".into()),
        (
            "GET_v1_service_SERVICE_NAME.json",
            "/v1/service/cache-redis".into(),
        ),
        (
            "GET_v1_service_SERVICE_NAME.json",
            "/v1/service/cache-admin".into(),
        ),
        (
            "GET_v1_allocation_ALLOC_checks.json",
            format!("/v1/allocation/{cache_alloc}/checks"),
        ),
    ];
    for (file, path) in &reads {
        let actual = c.call("GET", path, None).await;
        // An empty answer would pass any comparison: these must have something to compare.
        if file.contains("service") || file.contains("checks") {
            assert!(
                actual.as_array().is_some_and(|a| !a.is_empty())
                    || actual.as_object().is_some_and(|o| o.len() == 2),
                "{path}: {actual:#}"
            );
        }
        check(file, &actual);
    }

    let writes: Vec<(&str, &str, String, Option<Value>)> = vec![
        (
            "POST_v1_job_ID_plan.json",
            "POST",
            "/v1/job/web/plan".into(),
            Some(deploy_job),
        ),
        (
            "POST_v1_jobs_parse.json",
            "POST",
            "/v1/jobs/parse".into(),
            Some(
                json!({"JobHCL": "job \"example\" {\n  type = \"service\"\n  group \"cache\" {}\n}", "Canonicalize": true}),
            ),
        ),
        (
            "POST_v1_job_ID_scale.json",
            "POST",
            "/v1/job/web/scale".into(),
            Some(json!({"Count": 3, "Target": {"Group": "web"}, "Message": "more"})),
        ),
        (
            "POST_v1_job_ID_evaluate.json",
            "POST",
            "/v1/job/web/evaluate".into(),
            Some(json!({"JobID": "web"})),
        ),
        (
            "POST_v1_job_ID_revert.json",
            "POST",
            "/v1/job/web/revert".into(),
            Some(json!({"JobID": "web", "JobVersion": 0})),
        ),
        (
            "POST_v1_job_ID_dispatch.json",
            "POST",
            "/v1/job/report/dispatch".into(),
            Some(json!({"Meta": {"day": "mon"}})),
        ),
        (
            "POST_v1_client_metadata.json",
            "POST",
            "/v1/client/metadata".into(),
            Some(json!({"NodeID": node_id, "Meta": {"owner": "team-a"}})),
        ),
        (
            "POST_v1_node_ID_eligibility.json",
            "POST",
            format!("/v1/node/{node_id}/eligibility"),
            Some(json!({"NodeID": node_id, "Eligibility": "ineligible"})),
        ),
        (
            "POST_v1_node_ID_drain.json",
            "POST",
            format!("/v1/node/{node_id}/drain"),
            Some(
                json!({"NodeID": node_id, "DrainSpec": {"Deadline": 3_600_000_000_000i64, "IgnoreSystemJobs": false}}),
            ),
        ),
        (
            "POST_v1_allocation_ALLOC_stop.json",
            "POST",
            format!("/v1/allocation/{alloc_id}/stop"),
            None,
        ),
        (
            "POST_v1_jobs.json",
            "POST",
            "/v1/jobs".into(),
            Some(service_job("api")),
        ),
        (
            "POST_v1_job_ID.json",
            "POST",
            "/v1/job/api".into(),
            Some(service_job("api")),
        ),
        (
            "DELETE_v1_job_ID.json",
            "DELETE",
            "/v1/job/api?purge=true".into(),
            None,
        ),
    ];
    for (file, method, path, body) in writes {
        let actual = c.call(method, &path, body).await;
        check(file, &actual);
    }

    // Canary deployment for promote, and a fresh one to fail.
    let mut canary = service_job("canary");
    canary["Job"]["Update"]["Canary"] = json!(1);
    c.call("POST", "/v1/jobs", Some(canary.clone())).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    canary["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    c.call("POST", "/v1/job/canary", Some(canary)).await;
    let d = c.call("GET", "/v1/job/canary/deployment", None).await;
    let promoted = c
        .call(
            "POST",
            &format!("/v1/deployment/promote/{}", d["ID"].as_str().unwrap()),
            Some(json!({"All": true})),
        )
        .await;
    check("POST_v1_deployment_promote_DEPLOYMENT.json", &promoted);
    let mut fresh = service_job("fresh");
    fresh["Job"]["Update"]["MinHealthyTime"] = json!(600_000_000_000i64);
    c.call("POST", "/v1/jobs", Some(fresh)).await;
    let d = c.call("GET", "/v1/job/fresh/deployment", None).await;
    let failed = c
        .call(
            "POST",
            &format!("/v1/deployment/fail/{}", d["ID"].as_str().unwrap()),
            None,
        )
        .await;
    check("POST_v1_deployment_fail_DEPLOYMENT.json", &failed);

    // Variables: a write, a read and the list in the sample's namespace, check-and-set
    // conflicts on a write and on a delete, then a delete that succeeds.
    let var_sample = {
        let path = samples_dir().join("samples/PUT_v1_var_VAR_PATH.json");
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v["request_body"].clone()
    };
    let (first, index) = c
        .call_expecting(
            200,
            "PUT",
            "/v1/var/example/first",
            None,
            Some(var_sample.clone()),
        )
        .await;
    assert_eq!(index, first["ModifyIndex"].as_u64(), "{first:#}");
    check("PUT_v1_var_VAR_PATH.json", &first);
    let mut second = var_sample.clone();
    second["Items"] = json!({"user": "you", "password": "passw0rd2"});
    c.call("PUT", "/v1/var/example/second", Some(second)).await;
    let mut elsewhere = var_sample.clone();
    elsewhere["Items"] = json!({"user": "them", "password": "passw0rd3"});
    c.call("PUT", "/v1/var/other/third", Some(elsewhere)).await;
    let read = c
        .call("GET", "/v1/var/example/first?namespace=prod", None)
        .await;
    assert_eq!(read, first);
    check("GET_v1_var_VAR_PATH.json", &read);
    let listed = c
        .call("GET", "/v1/vars?namespace=prod&prefix=example", None)
        .await;
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["example/first", "example/second"], "{listed:#}");
    check("GET_v1_vars.json", &listed);
    let modify = first["ModifyIndex"].as_u64().unwrap();
    let (conflict, index) = c
        .call_expecting(
            409,
            "PUT",
            &format!("/v1/var/example/first?cas={}", modify - 1),
            None,
            Some(var_sample.clone()),
        )
        .await;
    assert_eq!(conflict, first);
    assert_eq!(index, Some(modify));
    check("PUT_v1_var_VAR_PATH__conflict.json", &conflict);
    let (conflict, _) = c
        .call_expecting(
            409,
            "DELETE",
            "/v1/var/example/first?namespace=prod&cas=1",
            None,
            None,
        )
        .await;
    assert_eq!(conflict, first);
    check("DELETE_v1_var_VAR_PATH__cas-conflict.json", &conflict);
    // Nomad's variableDelete answers `204 No Content` without a body; the documentation's
    // `DELETE_v1_var_VAR_PATH.json` shows `200 {"Index": 16}`, which the source never sends.
    let (status, body, index) = c
        .exchange(
            "DELETE",
            &format!("/v1/var/example/first?namespace=prod&cas={modify}"),
            None,
            None,
        )
        .await;
    assert_eq!((status, body.as_str()), (204, ""));
    assert!(index.is_some_and(|i| i > modify), "{index:?}");

    // Streams: the event stream's lines and the framed logs.
    let lines = c.stream("/v1/event/stream?topic=Node&index=1", 1).await;
    check("GET_v1_event_stream.json", &Value::Array(lines));
    let frames = c
        .stream(
            &format!("/v1/client/fs/logs/{alloc_id}?task=server&type=stdout&plain=false"),
            1,
        )
        .await;
    check("GET_v1_client_fs_logs_ALLOC.json", &Value::Array(frames));

    assert!(
        problems.is_empty(),
        "the fake differs from Nomad's samples:\n{}",
        problems.join("\n")
    );
    let stale: Vec<_> = OMITTED
        .iter()
        .filter(|(f, p, _)| {
            !used
                .iter()
                .any(|(uf, up)| uf == f && (up == p || up.starts_with(&format!("{p}."))))
        })
        .collect();
    assert!(
        stale.is_empty(),
        "allow-list entries no longer needed: {stale:?}"
    );
}

/// What Nomad answers for the parts of a job it does not have, and for a job without a
/// deployment, which the documentation's samples do not show. From Nomad 1.11.2's source
/// (hashicorp/nomad at a443448d, the commit of the samples), `command/agent/`:
/// `job_endpoint.go` jobQuery (line 545), jobScaleStatus (719) and jobSummaryRequest (882)
/// answer 404 "job not found", jobVersions (805) 404 "job versions not found";
/// jobAllocations (281), jobEvaluations (307) and jobDeployments (332) turn a nil list into
/// `[]`, and jobLatestDeployment (354) returns the RPC's deployment as it is: `null`. The
/// RPCs behind those four (`nomad/job_endpoint.go`, `Job.Allocations`, `Job.Evaluations`,
/// `Job.Deployments`, `Job.LatestDeployment`) read by job ID and never look the job up.
/// Likewise for ids Nomad does not know: evalAllocations (`eval_endpoint.go` 120),
/// deploymentAllocations (`deployment_endpoint.go` 198) and nodeAllocations
/// (`node_endpoint.go` 105) answer `[]`. Every 200 carries `X-Nomad-Index` (setMeta).
/// Native services (`service_registration_endpoint.go`): ServiceRegistrationListRequest and
/// serviceGetRequest turn a nil list into `[]`, so a namespace without services and a name
/// nothing registered are `[]` with status 200 (the RPCs, `nomad/service_registration_endpoint.go`
/// List and GetService, look the name up exactly and never fail on a miss). Allocation
/// checks (`alloc_endpoint.go` allocChecks): an allocation the servers do not know is 404
/// `Unknown allocation "<id>"` (`structs.NewErrUnknownAllocation`); one whose client keeps
/// no results answers the client's nil map, `null` (`client/alloc_endpoint.go` Checks,
/// `checkstore` List), without `X-Nomad-Index` (allocChecks sets no query meta).
#[tokio::test]
async fn the_fake_answers_missing_and_empty_job_parts_as_nomad_does() {
    let fake = FakeNomad::start(Options::default()).await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };
    // A batch job (Nomad never deploys one) and a service job that cannot be placed (no
    // allocation, and evaluations that say why).
    let mut batch = service_job("report");
    batch["Job"]["Type"] = json!("batch");
    c.call("POST", "/v1/jobs", Some(batch)).await;
    let mut big = service_job("big");
    big["Job"]["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = json!(100_000);
    c.call("POST", "/v1/jobs", Some(big)).await;
    fake.settle(std::time::Duration::from_secs(5)).await;

    let unknown = "8ba6f2f7-5b4d-4a1e-9d3c-0f6c2d2c1a55";
    let cases: Vec<(String, u16, &str)> = vec![
        ("/v1/job/nope".into(), 404, "job not found"),
        ("/v1/job/nope/summary".into(), 404, "job not found"),
        ("/v1/job/nope/scale".into(), 404, "job not found"),
        (
            "/v1/job/nope/versions".into(),
            404,
            "job versions not found",
        ),
        ("/v1/job/nope/allocations".into(), 200, "[]"),
        ("/v1/job/nope/allocations?all=true".into(), 200, "[]"),
        ("/v1/job/nope/evaluations".into(), 200, "[]"),
        ("/v1/job/nope/deployments".into(), 200, "[]"),
        ("/v1/job/nope/deployment".into(), 200, "null"),
        ("/v1/job/report/deployment".into(), 200, "null"),
        ("/v1/job/report/deployments".into(), 200, "[]"),
        ("/v1/job/big/allocations".into(), 200, "[]"),
        (format!("/v1/evaluation/{unknown}/allocations"), 200, "[]"),
        (format!("/v1/deployment/allocations/{unknown}"), 200, "[]"),
        (format!("/v1/node/{unknown}/allocations"), 200, "[]"),
        ("/v1/services".into(), 200, "[]"),
        ("/v1/services?namespace=nope".into(), 200, "[]"),
        ("/v1/service/nope".into(), 200, "[]"),
    ];
    let mut problems = Vec::new();
    for (path, status, body) in &cases {
        let (got_status, got_body, index) = c.answer(path).await;
        if (got_status, got_body.trim()) != (*status, *body) {
            problems.push(format!(
                "GET {path}: {got_status} {got_body:?}, Nomad answers {status} {body:?}"
            ));
        }
        if *status == 200 && !index {
            problems.push(format!("GET {path}: no X-Nomad-Index"));
        }
    }
    // Check results: an unknown allocation, and one without any Nomad check.
    let (status, body, _) = c.answer(&format!("/v1/allocation/{unknown}/checks")).await;
    if (status, body.as_str()) != (404, format!("Unknown allocation {unknown:?}").as_str()) {
        problems.push(format!(
            "checks of an unknown allocation: {status} {body:?}"
        ));
    }
    let report = c.call("GET", "/v1/job/report/allocations", None).await;
    let report_alloc = report[0]["ID"].as_str().unwrap();
    let (status, body, index) = c
        .answer(&format!("/v1/allocation/{report_alloc}/checks"))
        .await;
    if (status, body.trim(), index) != (200, "null", false) {
        problems.push(format!(
            "checks of an allocation without checks: {status} {body:?} (index header: {index}), Nomad answers 200 null without one"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The parts those jobs do have keep the documented shapes; `null` is what the
    // latest-deployment sample's pointer is when there is none.
    let vocabulary = vocabulary();
    for (file, path) in [
        ("GET_v1_job_ID.json", "/v1/job/report"),
        ("GET_v1_job_ID_summary.json", "/v1/job/report/summary"),
        ("GET_v1_job_ID_summary.json", "/v1/job/big/summary"),
        ("GET_v1_job_ID_evaluations.json", "/v1/job/big/evaluations"),
        ("GET_v1_job_ID_deployment.json", "/v1/job/report/deployment"),
    ] {
        let actual = c.call("GET", path, None).await;
        let mut check = Check {
            file,
            vocabulary: &vocabulary,
            problems: Vec::new(),
            used_omissions: BTreeSet::new(),
        };
        check.compare("$", "", &sample_response(file), &actual);
        assert!(
            check.problems.is_empty(),
            "{file} ({path}): {:?}",
            check.problems
        );
    }
}

/// Native services follow the allocations as on a Nomad client: a `provider = "nomad"`
/// service is registered while its allocation runs (a Consul one never is), its instance
/// names the allocation, node, address and port, its checks report a status, and both
/// are gone once the allocation stops.
#[tokio::test]
async fn the_fake_registers_native_services_while_their_allocations_run() {
    let fake = FakeNomad::start(Options::default()).await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };
    let mut job = services_job("cache");
    job["Job"]["TaskGroups"][0]["Services"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Name": "in-consul", "PortLabel": "db"}));
    c.call("POST", "/v1/jobs", Some(job)).await;
    fake.settle(std::time::Duration::from_secs(5)).await;

    let listed = c.call("GET", "/v1/services", None).await;
    assert_eq!(
        listed,
        json!([{"Namespace": "default", "Services": [
            {"ServiceName": "cache-admin", "Tags": []},
            {"ServiceName": "cache-redis", "Tags": ["cache", "db"]}
        ]}]),
        "{listed:#}"
    );
    let alloc = &c.call("GET", "/v1/job/cache/allocations", None).await[0];
    let alloc_id = alloc["ID"].as_str().unwrap();
    let node = c
        .call(
            "GET",
            &format!("/v1/node/{}", alloc["NodeID"].as_str().unwrap()),
            None,
        )
        .await;
    let instances = c.call("GET", "/v1/service/cache-redis", None).await;
    let instance = &instances[0];
    assert_eq!(instances.as_array().unwrap().len(), 1, "{instances:#}");
    assert_eq!(instance["AllocID"], alloc_id);
    assert_eq!(instance["NodeID"], alloc["NodeID"]);
    assert_eq!(instance["JobID"], "cache");
    assert_eq!(instance["Datacenter"], "dc1");
    assert_eq!(
        instance["Address"],
        node["HTTPAddr"]
            .as_str()
            .unwrap()
            .split(':')
            .next()
            .unwrap()
    );
    assert_eq!(
        instance["ID"],
        format!("_nomad-task-{alloc_id}-group-cache-cache-redis-db")
    );
    let port = instance["Port"].as_u64().unwrap();
    assert!((20_000..32_000).contains(&port), "a dynamic port: {port}");
    let admin = c.call("GET", "/v1/service/cache-admin", None).await;
    assert_eq!(admin[0]["Port"], 8081, "the static port: {admin:#}");
    assert_eq!(
        c.call("GET", "/v1/service/in-consul", None).await,
        json!([]),
        "a Consul service is not in Nomad's catalogue"
    );

    let checks = c
        .call("GET", &format!("/v1/allocation/{alloc_id}/checks"), None)
        .await;
    let mut results: Vec<&Value> = checks.as_object().unwrap().values().collect();
    results.sort_by_key(|r| r["Check"].as_str().unwrap().to_string());
    assert_eq!(results.len(), 2, "{checks:#}");
    assert_eq!(results[0]["Check"], "admin_http");
    assert_eq!(results[0]["Service"], "cache-admin");
    assert_eq!(results[0]["Task"], "redis");
    assert_eq!(results[0]["Status"], "success");
    assert_eq!(results[0]["StatusCode"], 200);
    assert_eq!(results[1]["Check"], "redis_probe");
    assert_eq!(results[1]["Service"], "cache-redis");
    assert_eq!(results[1]["Status"], "success");
    assert_eq!(results[1]["Output"], "nomad: tcp ok");
    assert_eq!(results[1]["Mode"], "healthiness");
    assert!(
        results[1].get("Task").is_none(),
        "a group service: {checks:#}"
    );
    assert_eq!(results[1]["Group"], alloc["Name"]);

    // Stopping the allocation removes its registrations and check results.
    c.call("POST", &format!("/v1/allocation/{alloc_id}/stop"), None)
        .await;
    let instances = c.call("GET", "/v1/service/cache-redis", None).await;
    assert!(
        instances
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["AllocID"] != alloc_id),
        "{instances:#}"
    );
    let (status, body, _) = c.answer(&format!("/v1/allocation/{alloc_id}/checks")).await;
    assert_eq!((status, body.trim()), (200, "null"));
    c.call("DELETE", "/v1/job/cache", None).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    assert_eq!(c.call("GET", "/v1/services", None).await, json!([]));
}

/// What Nomad answers for Variables beyond the documented samples, from Nomad 1.11's
/// source (hashicorp/nomad): `command/agent/variable_endpoint.go` (404 `variable not
/// found`, 400 `missing variable path`, 400 for a body without Items, 400 for a `cas` that
/// is not an unsigned integer, 204 without a body for a delete), `nomad/variables_endpoint.go`
/// (the token's check before validation; lists filter by what the token may read, for one
/// namespace as for `*`, and never refuse), `nomad/structs/variables.go` Validate and
/// validatePath (plain RPC errors, which the HTTP layer answers with 500), and
/// `nomad/state/state_store_variables.go` (check-and-set: `cas=0` creates only, a `cas` on
/// a variable that does not exist conflicts with its zero value, deleting a missing
/// variable succeeds). A write of the Items a variable already has is a new version: Nomad
/// skips only a write equal to the stored entry, and each write has a new ModifyTime and a
/// freshly encrypted payload, so it never is (Nomad's `api/variables_test.go` keeps its
/// "no change" case commented out).
#[tokio::test]
async fn the_fake_keeps_variables_as_nomad_does() {
    use fake_nomad::{Capability, Token};

    let fake = FakeNomad::start(Options {
        namespaces: vec!["staging".into()],
        tokens: vec![
            Token::management("root"),
            Token::namespace("reader", &["default"], Capability::Read),
        ],
        ..Options::default()
    })
    .await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };
    let root = Some("root");
    let items = json!({"user": "me", "password": "passw0rd1"});
    let mut problems = Vec::new();
    let mut expect = |what: &str, got: (u16, &str), status: u16, body: &str| {
        if got != (status, body) {
            problems.push(format!(
                "{what}: {} {:?}, Nomad answers {status} {body:?}",
                got.0, got.1
            ));
        }
    };

    // Reads of nothing.
    let (status, body, index) = c.exchange("GET", "/v1/var/app/none", root, None).await;
    expect(
        "a missing variable",
        (status, &body),
        404,
        "variable not found",
    );
    assert_eq!(index, Some(1), "a miss answers the (empty) table's index");
    let (status, body, index) = c.exchange("GET", "/v1/vars", root, None).await;
    expect("no variables", (status, &body), 200, "[]");
    assert_eq!(index, Some(1));
    let (status, body, _) = c.exchange("GET", "/v1/var/", root, None).await;
    expect("no path", (status, &body), 400, "missing variable path");

    // Refusals, in Nomad's order of checks.
    let put = |items: Value| Some(json!({"Items": items}));
    let long = format!("/v1/var/{}", "a".repeat(129));
    let refused: Vec<(&str, Option<Value>, u16, String)> = vec![
        ("/v1/var/app/a", None, 400, "Request body is empty".into()),
        ("/v1/var/app/a", Some(json!({})), 400, "variable missing required Items object".into()),
        ("/v1/var/app/a", put(json!({})), 400, "variable missing required Items object".into()),
        ("/v1/var/app/a?cas=abc", put(items.clone()), 400,
         r#"can not parse cas: strconv.ParseUint: parsing "abc": invalid syntax"#.into()),
        ("/v1/var/app/a?cas=-1", put(items.clone()), 400,
         r#"can not parse cas: strconv.ParseUint: parsing "-1": invalid syntax"#.into()),
        ("/v1/var/bad.path", put(items.clone()), 500, r#"invalid path "bad.path""#.into()),
        (&long, put(items.clone()), 500,
         format!("invalid path {:?}", "a".repeat(129))),
        ("/v1/var/nomad", put(items.clone()), 500,
         r#""nomad" is a reserved top-level directory path, but you may write variables to "nomad/jobs", "nomad/job-templates", or below"#.into()),
        ("/v1/var/nomad/job-templates", put(items.clone()), 500,
         r#""nomad/job-templates" is a reserved directory path, but you may write variables at the level below it, for example, "nomad/job-templates/template-name""#.into()),
        ("/v1/var/nomad/job-templates/a/b", put(items.clone()), 500,
         r#""nomad/job-templates" is a reserved directory path, but you may write variables at the level below it, for example, "nomad/job-templates/template-name""#.into()),
        ("/v1/var/nomad/other", put(items.clone()), 500,
         r#"only paths at "nomad/jobs" or "nomad/job-templates" and below are valid paths under the top-level "nomad" directory"#.into()),
        ("/v1/var/app/a", Some(json!({"Namespace": "*", "Items": items})), 500,
         r#"can not target wildcard ("*")namespace"#.into()),
        ("/v1/var/app/a", put(json!({"big": "x".repeat(65_534)})), 500,
         "variables are limited to 64KiB in total size".into()),
    ];
    for (path, body, status, message) in refused {
        let (got, text, _) = c.exchange("PUT", path, root, body).await;
        expect(&format!("PUT {path}"), (got, &text), status, &message);
    }
    let (status, body, _) = c
        .exchange("PUT", "/v1/var/app/a", Some("reader"), put(items.clone()))
        .await;
    expect(
        "a read-only token's write",
        (status, &body),
        403,
        "Permission denied",
    );
    let (status, body, _) = c
        .exchange("DELETE", "/v1/var/app/a", Some("reader"), None)
        .await;
    expect(
        "a read-only token's delete",
        (status, &body),
        403,
        "Permission denied",
    );
    assert!(
        fake.requests().iter().any(|r| r.method == "PUT"
            && r.path == "/v1/var/app/a"
            && r.query == "cas=abc"
            && r.status == 400),
        "the request log records variable requests"
    );

    // Paths Nomad allows under nomad/, at the limit of the size, and 128 characters.
    for path in [
        "nomad/jobs",
        "nomad/jobs/web/group/task",
        "nomad/job-templates/web",
        "~under_score-dash/x",
    ] {
        let (status, body, _) = c
            .exchange("PUT", &format!("/v1/var/{path}"), root, put(items.clone()))
            .await;
        assert_eq!(status, 200, "PUT {path}: {body}");
    }
    let (status, _, _) = c
        .exchange(
            "PUT",
            &format!("/v1/var/{}", "a".repeat(128)),
            root,
            put(json!({"big": "x".repeat(65_533)})),
        )
        .await;
    assert_eq!(status, 200, "128 characters and 64 KiB are allowed");

    // Check-and-set: cas=0 creates only; a cas on a missing variable conflicts with its
    // zero value; the URL's path wins over the body's; the query's namespace applies when
    // the body has none.
    let (created, index) = c
        .call_expecting(
            200,
            "PUT",
            "/v1/var/app/db?cas=0&namespace=staging",
            root,
            Some(json!({"Path": "ignored/path", "Items": items})),
        )
        .await;
    assert_eq!(created["Path"], "app/db");
    assert_eq!(created["Namespace"], "staging");
    assert_eq!(created["CreateIndex"], created["ModifyIndex"]);
    assert_eq!(created["CreateTime"], created["ModifyTime"]);
    assert_eq!(index, created["ModifyIndex"].as_u64());
    let (conflict, index) = c
        .call_expecting(
            409,
            "PUT",
            "/v1/var/app/db?cas=0&namespace=staging",
            root,
            put(json!({"x": "y"})),
        )
        .await;
    assert_eq!(conflict, created, "cas=0 on an existing variable");
    assert_eq!(index, created["ModifyIndex"].as_u64());
    let (zero, index) = c
        .call_expecting(
            409,
            "PUT",
            "/v1/var/app/none?cas=7",
            root,
            put(items.clone()),
        )
        .await;
    assert_eq!(
        zero,
        json!({"Namespace": "default", "Path": "app/none", "CreateIndex": 0, "ModifyIndex": 0,
               "CreateTime": 0, "ModifyTime": 0, "Items": null, "Lock": null})
    );
    assert_eq!(index, Some(0));

    // The same Items again: a new version, created when it was.
    let (again, _) = c
        .call_expecting(
            200,
            "PUT",
            "/v1/var/app/db",
            root,
            Some(json!({"Namespace": "staging", "Items": items})),
        )
        .await;
    assert_eq!(again["CreateIndex"], created["CreateIndex"]);
    assert_eq!(again["CreateTime"], created["CreateTime"]);
    assert!(
        again["ModifyIndex"].as_u64() > created["ModifyIndex"].as_u64(),
        "{again:#}"
    );
    assert!(
        again["ModifyTime"].as_i64() > created["ModifyTime"].as_i64(),
        "{again:#}"
    );
    let modify = again["ModifyIndex"].as_u64().unwrap();
    let (updated, _) = c
        .call_expecting(
            200,
            "PUT",
            &format!("/v1/var/app/db?namespace=staging&cas={modify}"),
            root,
            put(json!({"user": "me", "password": "rotated"})),
        )
        .await;
    assert_eq!(updated["Items"]["password"], "rotated");

    // Lists: prefix, namespace, `*`, and what a token may read; pages by namespace.path.
    let (status, _, _) = c
        .exchange("PUT", "/v1/var/app/web", root, put(items.clone()))
        .await;
    assert_eq!(status, 200);
    let paths = |listed: &Value| -> Vec<String> {
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                format!(
                    "{}:{}",
                    v["Namespace"].as_str().unwrap(),
                    v["Path"].as_str().unwrap()
                )
            })
            .collect()
    };
    let list = |path: &str, token: &'static str| {
        let path = path.to_string();
        let c = &c;
        async move {
            let (status, body, _) = c.exchange("GET", &path, Some(token), None).await;
            assert_eq!(status, 200, "{path}: {body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert!(
                v.as_array()
                    .unwrap()
                    .iter()
                    .all(|v| v.get("Items").is_none()),
                "{v:#}"
            );
            paths(&v)
        }
    };
    assert_eq!(
        list("/v1/vars?prefix=app/", "root").await,
        ["default:app/web"]
    );
    assert_eq!(
        list("/v1/vars?namespace=staging", "root").await,
        ["staging:app/db"]
    );
    assert_eq!(
        list("/v1/vars?namespace=*&prefix=app", "root").await,
        ["default:app/web", "staging:app/db"]
    );
    assert_eq!(
        list("/v1/vars?namespace=*&prefix=app", "reader").await,
        ["default:app/web"]
    );
    assert_eq!(
        list("/v1/vars?namespace=staging", "reader").await,
        Vec::<String>::new()
    );
    let response = c
        .http
        .get(format!(
            "{}/v1/vars?namespace=*&prefix=app&per_page=1",
            c.base
        ))
        .header("X-Nomad-Token", "root")
        .send()
        .await
        .unwrap();
    let next = response.headers()["x-nomad-nexttoken"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(next, "staging.app/db");
    assert_eq!(
        list(
            &format!("/v1/vars?namespace=*&prefix=app&per_page=1&next_token={next}"),
            "root"
        )
        .await,
        ["staging:app/db"]
    );
    let (status, _, _) = c
        .exchange("GET", "/v1/var/app/web", Some("reader"), None)
        .await;
    assert_eq!(
        status, 200,
        "a read-only token reads its namespace's variables"
    );
    let (status, body, _) = c
        .exchange(
            "GET",
            "/v1/var/app/db?namespace=staging",
            Some("reader"),
            None,
        )
        .await;
    expect(
        "a read outside the token's namespaces",
        (status, &body),
        403,
        "Permission denied",
    );

    // A blocking read waits for that variable, not for other changes.
    let (web, index) = c
        .call_expecting(200, "GET", "/v1/var/app/web", root, None)
        .await;
    assert_eq!(
        index,
        web["ModifyIndex"].as_u64(),
        "a read's index is the variable's"
    );
    let web_index = index.unwrap();
    let blocked = {
        let http = c.http.clone();
        let url = format!("{}/v1/var/app/web?index={web_index}&wait=10s", c.base);
        tokio::spawn(async move {
            let r = http
                .get(url)
                .header("X-Nomad-Token", "root")
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    fake.bump_index();
    c.exchange("PUT", "/v1/var/app/other", root, put(items.clone()))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!blocked.is_finished(), "other changes do not end the wait");
    c.exchange("PUT", "/v1/var/app/web", root, put(json!({"user": "new"})))
        .await;
    let changed = tokio::time::timeout(std::time::Duration::from_secs(5), blocked)
        .await
        .expect("the write ends the wait")
        .unwrap();
    assert_eq!(changed["Items"], json!({"user": "new"}));

    // Deletes: a missing variable without cas, or with cas=0, is a success; with another
    // cas, a conflict with its zero value; cas=0 on an existing one, a conflict.
    for path in ["/v1/var/app/none", "/v1/var/app/none?cas=0"] {
        let (status, body, index) = c.exchange("DELETE", path, root, None).await;
        expect(&format!("DELETE {path}"), (status, &body), 204, "");
        assert!(index.is_some(), "DELETE {path}: no X-Nomad-Index");
    }
    let (zero, _) = c
        .call_expecting(409, "DELETE", "/v1/var/app/none?cas=3", root, None)
        .await;
    assert_eq!(zero["ModifyIndex"], 0);
    assert_eq!(zero["Items"], Value::Null);
    let (existing, _) = c
        .call_expecting(409, "DELETE", "/v1/var/app/other?cas=0", root, None)
        .await;
    assert_eq!(existing["Path"], "app/other");
    assert_eq!(existing["Items"], items);
    let (status, body, _) = c.exchange("DELETE", "/v1/var/app/other", root, None).await;
    expect("a delete", (status, &body), 204, "");
    let (status, _, _) = c.exchange("GET", "/v1/var/app/other", root, None).await;
    assert_eq!(status, 404, "deleted");

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A field of a Nomad job diff.
fn diff_field(kind: &str, name: &str, old: &str, new: &str) -> Value {
    json!({"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": null})
}

/// The member of a diff's `TaskGroups` or `Tasks` with that name.
fn diff_member<'a>(diff: &'a Value, list: &str, name: &str) -> &'a Value {
    diff[list]
        .as_array()
        .and_then(|l| l.iter().find(|m| m["Name"] == name))
        .unwrap_or_else(|| panic!("no {list} {name} in {diff:#}"))
}

fn names_and_types(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                x["Name"].as_str().unwrap_or("").to_string(),
                x["Type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The job diffs of `GET /v1/job/:id/versions?diffs=true` and of a plan with `"Diff": true`
/// are Nomad's `structs.JobDiff` (`nomad/structs/diff.go` at 1.11.2, a443448d), contextual
/// as `Job.GetJobVersions` and `Job.Plan` ask (`nomad/job_endpoint.go`): a block that
/// changed is an object (`Config`, `Resources`...) listing its unchanged fields too, as
/// `None`; the job's, groups' and tasks' own fields are diffed without context
/// (`fieldDiffs(..., false)`), so only changed ones are there; every group and task is
/// listed, unchanged ones as `None`. `diff_version` (Nomad 1.9+) compares every version
/// with that one; a version the job does not have is the RPC's error, 500, and so is a
/// value that does not parse (jobVersions returns `fmt.Errorf`, not a coded error).
/// `Stop` is diffed: it is not in `Job.Diff`'s filter.
#[tokio::test]
async fn the_fake_diffs_jobs_as_nomad_does() {
    let fake = FakeNomad::start(Options::default()).await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };
    let field = diff_field;

    // Version 0, then one change a version.
    let mut job = service_job("diffs");
    job["Job"]["TaskGroups"][0]["Count"] = json!(1);
    job["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:1");
    c.call("POST", "/v1/jobs", Some(job.clone())).await;
    let changes: [fn(&mut Value); 5] = [
        |j| j["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2"),
        |j| j["TaskGroups"][0]["Count"] = json!(3),
        |j| j["TaskGroups"][0]["Tasks"][0]["Env"]["LOG_LEVEL"] = json!("debug"),
        |j| j["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = json!(256),
        |j| {
            j["TaskGroups"].as_array_mut().unwrap().push(json!({
                "Name": "worker", "Count": 1,
                "Tasks": [{"Name": "work", "Driver": "exec", "Config": {"command": "/bin/true"},
                           "Resources": {"CPU": 100, "MemoryMB": 64}}]
            }))
        },
    ];
    for change in changes {
        change(&mut job["Job"]);
        c.call("POST", "/v1/job/diffs", Some(job.clone())).await;
    }

    let (answer, _) = c
        .call_expecting(200, "GET", "/v1/job/diffs/versions?diffs=true", None, None)
        .await;
    let versions: Vec<u64> = answer["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [5, 4, 3, 2, 1, 0]);
    let diffs = answer["Diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), 5, "one diff a pair of versions: {answer:#}");
    for d in diffs {
        assert_eq!((&d["Type"], &d["ID"]), (&json!("Edited"), &json!("diffs")));
        assert_eq!(
            (&d["Fields"], &d["Objects"]),
            (&Value::Null, &Value::Null),
            "nothing changed at the job's level: {d:#}"
        );
    }

    // Version 0 to 1, the image: the task's Config object, its unchanged port as None;
    // the group and the task are Edited, with no fields of their own.
    let web = diff_member(&diffs[4], "TaskGroups", "web");
    assert_eq!(
        (&web["Type"], &web["Fields"], &web["Objects"]),
        (&json!("Edited"), &Value::Null, &Value::Null)
    );
    let server = diff_member(web, "Tasks", "server");
    assert_eq!(
        (&server["Type"], &server["Fields"]),
        (&json!("Edited"), &Value::Null)
    );
    assert_eq!(
        server["Objects"],
        json!([{"Type": "Edited", "Name": "Config", "Objects": null, "Fields": [
            field("Edited", "image", "nginx:1", "nginx:2"),
            field("None", "ports[0]", "http", "http"),
        ]}])
    );

    // 1 to 2, the count: a field of the group; the task is listed, unchanged.
    let web = diff_member(&diffs[3], "TaskGroups", "web");
    assert_eq!(web["Fields"], json!([field("Edited", "Count", "1", "3")]));
    assert_eq!(web["Objects"], Value::Null);
    assert_eq!(
        diff_member(web, "Tasks", "server"),
        &json!({"Type": "None", "Name": "server", "Fields": null, "Objects": null, "Annotations": null})
    );

    // 2 to 3, an environment variable: a field of the task, `Env[NAME]`.
    let server = diff_member(
        diff_member(&diffs[2], "TaskGroups", "web"),
        "Tasks",
        "server",
    );
    assert_eq!(
        (&server["Fields"], &server["Objects"]),
        (
            &json!([field("Added", "Env[LOG_LEVEL]", "", "debug")]),
            &Value::Null
        )
    );

    // 3 to 4, the memory: the Resources object, every resource listed.
    let server = diff_member(
        diff_member(&diffs[1], "TaskGroups", "web"),
        "Tasks",
        "server",
    );
    assert_eq!(server["Fields"], Value::Null);
    assert_eq!(
        server["Objects"],
        json!([{"Type": "Edited", "Name": "Resources", "Objects": null, "Fields": [
            field("None", "CPU", "200", "200"),
            field("None", "Cores", "0", "0"),
            field("None", "DiskMB", "0", "0"),
            field("None", "IOPS", "0", "0"),
            field("Edited", "MemoryMB", "128", "256"),
            field("None", "MemoryMaxMB", "0", "0"),
            field("None", "SecretsMB", "0", "0"),
        ]}])
    );

    // 4 to 5, a new group: Added with everything in it Added; the other one unchanged.
    let groups = &diffs[0]["TaskGroups"];
    assert_eq!(
        names_and_types(groups),
        [
            ("web".into(), "None".into()),
            ("worker".into(), "Added".into())
        ]
    );
    let worker = diff_member(&diffs[0], "TaskGroups", "worker");
    assert_eq!(
        worker["Fields"],
        json!([
            field("Added", "Count", "", "1"),
            field("Added", "PreventRescheduleOnLost", "", "false"),
        ])
    );
    assert_eq!(
        names_and_types(&worker["Objects"]),
        [
            "RestartPolicy",
            "Migrate",
            "ReschedulePolicy",
            "EphemeralDisk",
            "Update"
        ]
        .map(|n| (n.to_string(), "Added".to_string()))
    );
    let work = diff_member(worker, "Tasks", "work");
    assert_eq!(work["Type"], "Added");
    assert_eq!(
        work["Fields"],
        json!([
            field("Added", "Driver", "", "exec"),
            field("Added", "KillTimeout", "", "5000000000"),
            field("Added", "Leader", "", "false"),
            field("Added", "ShutdownDelay", "", "0"),
        ])
    );
    assert_eq!(
        names_and_types(&work["Objects"]),
        ["Config", "Resources", "LogConfig"].map(|n| (n.to_string(), "Added".to_string()))
    );
    assert_eq!(
        work["Objects"][0]["Fields"],
        json!([field("Added", "command", "", "/bin/true")])
    );

    // Every version against version 0: one diff each, version 0's own all None.
    let (against, _) = c
        .call_expecting(
            200,
            "GET",
            "/v1/job/diffs/versions?diffs=true&diff_version=0",
            None,
            None,
        )
        .await;
    let all = against["Diffs"].as_array().unwrap();
    assert_eq!(all.len(), 6, "{against:#}");
    assert_eq!(
        all[5],
        json!({"Type": "None", "ID": "diffs", "Fields": null, "Objects": null, "TaskGroups": [
            {"Type": "None", "Name": "web", "Fields": null, "Objects": null, "Updates": null,
             "Tasks": [{"Type": "None", "Name": "server", "Fields": null, "Objects": null,
                        "Annotations": null}]}
        ]})
    );
    assert_eq!(all[4], diffs[4], "version 0 to 1 either way");
    let web = diff_member(&all[0], "TaskGroups", "web");
    assert_eq!(web["Fields"], json!([field("Edited", "Count", "1", "3")]));
    let server = diff_member(web, "Tasks", "server");
    assert_eq!(
        server["Fields"],
        json!([field("Added", "Env[LOG_LEVEL]", "", "debug")])
    );
    assert_eq!(
        names_and_types(&server["Objects"]),
        [
            ("Config".to_string(), "Edited".to_string()),
            ("Resources".to_string(), "Edited".to_string())
        ]
    );
    assert_eq!(
        diff_member(&all[0], "TaskGroups", "worker")["Type"],
        "Added"
    );

    // What cannot be compared, and what does not parse: 500 with Nomad's text; without
    // `diffs` the version is parsed and not looked up.
    for (query, status, message) in [
        ("diffs=true&diff_version=99", 500, "version 99 not found"),
        (
            "diffs=true&diff_tag=release",
            500,
            "tag \"release\" not found",
        ),
        (
            "diffs=true&diff_version=abc",
            500,
            "Failed to parse value of \"diff_version\" (abc) as a uint64: strconv.ParseUint: parsing \"abc\": invalid syntax",
        ),
        (
            "diffs=yes",
            500,
            "Failed to parse value of \"diffs\" (yes) as a bool: strconv.ParseBool: parsing \"yes\": invalid syntax",
        ),
    ] {
        let (got, body, _) = c
            .exchange(
                "GET",
                &format!("/v1/job/diffs/versions?{query}"),
                None,
                None,
            )
            .await;
        assert_eq!((got, body.as_str()), (status, message), "{query}");
    }
    let (plain, _) = c
        .call_expecting(
            200,
            "GET",
            "/v1/job/diffs/versions?diff_version=99",
            None,
            None,
        )
        .await;
    assert_eq!(plain["Diffs"], Value::Null);
    let (got, body, _) = c
        .exchange(
            "GET",
            "/v1/job/nope/versions?diffs=true&diff_version=99",
            None,
            None,
        )
        .await;
    assert_eq!((got, body.as_str()), (404, "job versions not found"));

    // A plan: the same structure against the current version; the same job, no change.
    let (same, _) = c
        .call_expecting(
            200,
            "POST",
            "/v1/job/diffs/plan",
            None,
            Some(json!({"Job": job["Job"], "Diff": true})),
        )
        .await;
    assert_eq!(same["Diff"]["Type"], "None", "{same:#}");
    assert_eq!(
        names_and_types(&same["Diff"]["TaskGroups"]),
        [
            ("web".into(), "None".into()),
            ("worker".into(), "None".into())
        ]
    );
    let mut next = job["Job"].clone();
    next["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:3");
    next["TaskGroups"][0]["Count"] = json!(5);
    let (plan, _) = c
        .call_expecting(
            200,
            "POST",
            "/v1/job/diffs/plan",
            None,
            Some(json!({"Job": next, "Diff": true})),
        )
        .await;
    let d = &plan["Diff"];
    assert_eq!((&d["Type"], &d["Fields"]), (&json!("Edited"), &Value::Null));
    let web = diff_member(d, "TaskGroups", "web");
    assert_eq!(web["Fields"], json!([field("Edited", "Count", "3", "5")]));
    assert_eq!(
        diff_member(web, "Tasks", "server")["Objects"],
        json!([{"Type": "Edited", "Name": "Config", "Objects": null, "Fields": [
            field("Edited", "image", "nginx:2", "nginx:3"),
            field("None", "ports[0]", "http", "http"),
        ]}])
    );
    assert_eq!(diff_member(d, "TaskGroups", "worker")["Type"], "None");

    // A plan for a job Nomad does not have: all Added, the datacenters a set.
    let (fresh, _) = c
        .call_expecting(
            200,
            "POST",
            "/v1/job/fresh/plan",
            None,
            Some(json!({"Job": service_job("fresh")["Job"], "Diff": true})),
        )
        .await;
    let d = &fresh["Diff"];
    assert_eq!((&d["Type"], &d["ID"]), (&json!("Added"), &json!("fresh")));
    assert_eq!(
        d["Objects"],
        json!([{"Type": "Added", "Name": "Datacenters", "Objects": null,
                "Fields": [field("Added", "Datacenters", "", "dc1")]}])
    );
    let job_fields: Vec<&str> = d["Fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        job_fields,
        [
            "AllAtOnce",
            "Dispatched",
            "Meta[team]",
            "Name",
            "Namespace",
            "NodePool",
            "Priority",
            "Region",
            "Stop",
            "Type"
        ]
    );
    assert_eq!(
        names_and_types(&d["TaskGroups"]),
        [("web".into(), "Added".into())]
    );

    // Stopping the job is a version whose diff is the Stop field.
    c.call("DELETE", "/v1/job/diffs", None).await;
    let (stopped, _) = c
        .call_expecting(200, "GET", "/v1/job/diffs/versions?diffs=true", None, None)
        .await;
    let d = &stopped["Diffs"][0];
    assert_eq!(
        d["Fields"],
        json!([field("Edited", "Stop", "false", "true")])
    );
    assert_eq!(
        names_and_types(&d["TaskGroups"]),
        [
            ("web".into(), "None".into()),
            ("worker".into(), "None".into())
        ]
    );

    // One version: no pair to diff.
    c.call("POST", "/v1/jobs", Some(service_job("solo"))).await;
    let (solo, _) = c
        .call_expecting(200, "GET", "/v1/job/solo/versions?diffs=true", None, None)
        .await;
    assert_eq!(solo["Diffs"], Value::Null);
}

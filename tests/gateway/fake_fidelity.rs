//! The fake Nomad answers in Nomad's documented shapes: for every endpoint it serves,
//! its JSON has every key of the documented sample with the same value type, compared
//! recursively. Keys the fake leaves out must be listed in `OMITTED` with the reason;
//! keys it adds must be Nomad's (named in some sample, or listed in `NOMAD_FIELDS`).

use std::collections::BTreeSet;

use fake_nomad::{CsiVolume, FakeNomad, HostVolume, Options};
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
    (
        "POST_v1_search.json",
        "$.Truncations.*",
        "the sample's truncations are the strings \"false\"; Nomad's map[Context]bool encodes booleans (structs.SearchResponse)",
    ),
    (
        "POST_v1_search__context-evals.json",
        "$.Truncations.*",
        "the sample's truncations are the strings \"false\"; Nomad's map[Context]bool encodes booleans (structs.SearchResponse)",
    ),
    (
        "GET_v1_volumes.json",
        "$[].ResourceExhausted",
        "a time.Time in Nomad 1.11's structs.CSIVolListStub, which Go encodes as text; the sample has 0",
    ),
    (
        "GET_v1_volumes.json",
        "$[].Topologies[].foo",
        "an old sample: a topology is structs.CSITopology, {Segments: {...}}",
    ),
    (
        "GET_v1_volume_csi_VOLUME.json",
        "$.ResourceExhausted",
        "a time.Time in Nomad 1.11's structs.CSIVolume, which Go encodes as text; the sample has 0",
    ),
    (
        "GET_v1_volume_csi_VOLUME.json",
        "$.Topologies[].foo",
        "an old sample: a topology is structs.CSITopology, {Segments: {...}}",
    ),
    (
        "GET_v1_volume_csi_VOLUME.json",
        "$.Allocations",
        "an old sample: Nomad 1.11's structs.CSIVolume has no Allocations; its claims are ReadAllocs and WriteAllocs",
    ),
    (
        "GET_v1_volume_csi_VOLUME.json",
        "$.Version",
        "an old sample: Nomad 1.11's structs.CSIVolume calls it ProviderVersion",
    ),
    (
        "GET_v1_volume_host_VOLUME.json",
        "$.Allocations",
        "omitempty in structs.HostVolume: absent while no allocation claims the volume, as the fake's never are",
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
    // `structs.ACLToken` (`nomad/structs/acl.go`): the sample predates roles and expiry.
    "ExpirationTTL",
    "ExpirationTime",
    "Roles",
    // `structs.CSIVolume` and `structs.CSITopology` (`nomad/structs/csi.go`, `node.go`).
    "Segments",
    "RequestedTopologies",
    "Capacity",
    "CloneID",
    "ProviderVersion",
    // `structs.NodePool` (`nomad/structs/node_pool.go`).
    "NodeIdentityTTL",
    // `structs.NodeUpdateResponse` (`nomad/structs/node.go`).
    "Features",
    "SignedIdentity",
    // `cstructs.MemoryStats` (`client/structs/structs.go`).
    "MappedFile",
    "Usage",
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
    // Search results by context.
    "Matches",
    "Truncations",
    // A CSI volume's claims by allocation ID.
    "ReadAllocs",
    "WriteAllocs",
    // Allocation stats by task name.
    "Tasks",
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
    // A scaling policy's target (map[string]string: Namespace, Job, Group, Task) and its
    // opaque autoscaler configuration.
    "Target",
    "Policy",
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

/// A service job whose group has a scaling policy (`scaling` block).
fn scaled_job(id: &str) -> Value {
    let mut job = service_job(id);
    job["Job"]["TaskGroups"][0]["Scaling"] = json!({
        "Min": 1, "Max": 10, "Enabled": true,
        "Policy": {"cooldown": "1m", "evaluation_interval": "30s"}
    });
    job
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
    let mut scratch = HostVolume::new("scratch", "staging", 0);
    scratch.parameters.insert("hello".into(), "world".into());
    let fake = FakeNomad::start(Options {
        namespaces: vec!["staging".into()],
        csi_volumes: vec![CsiVolume::new("ebs-data", "default")],
        host_volumes: vec![scratch.clone()],
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
    c.call("POST", "/v1/jobs", Some(scaled_job("scaled"))).await;
    fake.settle(std::time::Duration::from_secs(10)).await;
    // A node in a pool of its own, which its registration creates.
    fake.add_node_in_pool("dc1", "prod-eng", 4000, 8192);

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
    let policies = c.call("GET", "/v1/scaling/policies", None).await;
    let policy_id = policies[0]["ID"].as_str().unwrap().to_string();

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
        (
            "GET_v1_client_allocation_ALLOC_stats.json",
            format!("/v1/client/allocation/{alloc_id}/stats"),
        ),
        // ACLs are off: Nomad's stand-in token for that.
        ("GET_v1_acl_token_self.json", "/v1/acl/token/self".into()),
        ("GET_v1_volumes.json", "/v1/volumes?type=csi".into()),
        (
            "GET_v1_volumes__host.json",
            "/v1/volumes?type=host&namespace=*".into(),
        ),
        (
            "GET_v1_volume_csi_VOLUME.json",
            "/v1/volume/csi/ebs-data".into(),
        ),
        (
            "GET_v1_volume_host_VOLUME.json",
            format!("/v1/volume/host/{}?namespace=staging", scratch.id),
        ),
        (
            "GET_v1_scaling_policies.json",
            "/v1/scaling/policies".into(),
        ),
        (
            "GET_v1_scaling_policy_ID.json",
            format!("/v1/scaling/policy/{policy_id}"),
        ),
        ("GET_v1_job_ID.json", "/v1/job/scaled".into()),
        ("GET_v1_node_pools.json", "/v1/node/pools".into()),
        (
            "GET_v1_node_pool_NODE_POOL.json",
            "/v1/node/pool/prod-eng".into(),
        ),
        (
            "GET_v1_node_pool_NODE_POOL.json",
            "/v1/node/pool/default".into(),
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
        if file.contains("volumes") || file.contains("policies") || file.contains("pools") {
            assert!(
                actual.as_array().is_some_and(|a| !a.is_empty()),
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

    // Prefix search over every context, and over one.
    let found = c
        .call(
            "POST",
            "/v1/search",
            Some(json!({"Prefix": &alloc_id[..2], "Context": "all"})),
        )
        .await;
    assert!(
        found["Matches"]["allocs"]
            .as_array()
            .is_some_and(|a| a.iter().any(|id| id == alloc_id.as_str())),
        "{found:#}"
    );
    check("POST_v1_search.json", &found);
    let found = c
        .call(
            "POST",
            "/v1/search",
            Some(json!({"Prefix": &blocked_id[..4], "Context": "evals"})),
        )
        .await;
    assert!(
        found["Matches"]["evals"]
            .as_array()
            .is_some_and(|a| a.iter().any(|id| id == blocked_id.as_str())),
        "{found:#}"
    );
    check("POST_v1_search__context-evals.json", &found);

    // A signal to a running task.
    let signalled = c
        .call(
            "POST",
            &format!("/v1/client/allocation/{cache_alloc}/signal"),
            Some(json!({"Signal": "SIGUSR1", "Task": "redis"})),
        )
        .await;
    check("POST_v1_client_allocation_ALLOC_signal.json", &signalled);

    // A deployment waiting for its canary's promotion: paused, resumed, unblocked.
    let mut waiting = service_job("waiting");
    c.call("POST", "/v1/jobs", Some(waiting.clone())).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    waiting["Job"]["Update"]["Canary"] = json!(1);
    waiting["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    c.call("POST", "/v1/job/waiting", Some(waiting)).await;
    let d = c.call("GET", "/v1/job/waiting/deployment", None).await;
    let waiting_id = d["ID"].as_str().unwrap().to_string();
    for (file, path, body) in [
        (
            "POST_v1_deployment_pause_DEPLOYMENT.json",
            format!("/v1/deployment/pause/{waiting_id}"),
            json!({"DeploymentID": waiting_id, "Pause": true}),
        ),
        (
            "POST_v1_deployment_pause_DEPLOYMENT.json",
            format!("/v1/deployment/pause/{waiting_id}"),
            json!({"DeploymentID": waiting_id, "Pause": false}),
        ),
        (
            "POST_v1_deployment_unblock_DEPLOYMENT.json",
            format!("/v1/deployment/unblock/{waiting_id}"),
            json!({"DeploymentID": waiting_id}),
        ),
    ] {
        let actual = c.call("POST", &path, Some(body)).await;
        check(file, &actual);
    }

    // A canary marked unhealthy by hand: the deployment fails and, auto-reverting, the
    // job goes back to its stable version 0.
    let mut rollback = service_job("rollback");
    rollback["Job"]["Update"]["AutoRevert"] = json!(true);
    c.call("POST", "/v1/jobs", Some(rollback.clone())).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    rollback["Job"]["Update"]["Canary"] = json!(1);
    rollback["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    c.call("POST", "/v1/job/rollback", Some(rollback)).await;
    let d = c.call("GET", "/v1/job/rollback/deployment", None).await;
    let rollback_id = d["ID"].as_str().unwrap().to_string();
    let canary = d["TaskGroups"]["web"]["PlacedCanaries"][0]
        .as_str()
        .unwrap()
        .to_string();
    let health = c
        .call(
            "POST",
            &format!("/v1/deployment/allocation-health/{rollback_id}"),
            Some(json!({"DeploymentID": rollback_id, "UnhealthyAllocationIDs": [canary]})),
        )
        .await;
    assert_eq!(health["RevertedJobVersion"], 0, "{health:#}");
    check(
        "POST_v1_deployment_allocation-health_DEPLOYMENT.json",
        &health,
    );

    // The pool's node, purged.
    let pool_node = c
        .call(
            "GET",
            "/v1/nodes?filter=NodePool+%3D%3D+%22prod-eng%22",
            None,
        )
        .await;
    assert_eq!(pool_node.as_array().unwrap().len(), 1, "{pool_node:#}");
    let purged = c
        .call(
            "POST",
            &format!("/v1/node/{}/purge", pool_node[0]["ID"].as_str().unwrap()),
            None,
        )
        .await;
    check("POST_v1_node_ID_purge.json", &purged);

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

/// A request with a token, expected to answer `status`: the body's text.
async fn expect_text(
    c: &Client,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    status: u16,
) -> String {
    let (got, text, _) = c.exchange(method, path, token, body).await;
    assert_eq!(got, status, "{method} {path}: {text}");
    text
}

/// A request with a token, expected to answer 200 with JSON.
async fn expect_json(
    c: &Client,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    c.call_expecting(200, method, path, token, body).await.0
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|x| x.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Prefix search (`POST /v1/search`) as Nomad 1.11.2's `nomad/search_endpoint.go`
/// PrefixSearch answers it: at most 20 IDs a context and `Truncations` true past them;
/// a context without matches is `null`; the prefix is rounded down to an even length
/// unless the request's context is `jobs`, and the UUID-indexed contexts (allocations,
/// evaluations, deployments, nodes) are left out of the answer when the prefix is not hex
/// (silenceError); jobs and evaluations are those of the namespace (every one for `*`,
/// where scaling policies never match); variables and namespaces are filtered by what the
/// token may read. Asking for one context the token may not read is `403 Permission
/// denied`; `all` leaves those contexts out; a secret Nomad does not know fails
/// authentication (403). An unknown context is 500 `context must be one of [...] or 'all'
/// for all contexts; got "..."` (`search_endpoint_ce.go`), an empty body 400 `Request
/// body is empty` (`command/agent/http.go` decodeBody).
#[tokio::test]
async fn the_fake_searches_by_prefix_as_nomad_does() {
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
    for id in ["web", "web-2", "api"] {
        expect_json(&c, "POST", "/v1/jobs", root, Some(service_job(id))).await;
    }
    let mut staged = service_job("web-staging");
    staged["Job"]["Namespace"] = json!("staging");
    expect_json(&c, "POST", "/v1/jobs", root, Some(staged)).await;
    for i in 0..25 {
        let mut job = service_job(&format!("batch-{i:02}"));
        job["Job"]["TaskGroups"][0]["Count"] = json!(0);
        expect_json(&c, "POST", "/v1/jobs", root, Some(job)).await;
    }
    expect_json(&c, "POST", "/v1/jobs", root, Some(scaled_job("scaled"))).await;
    fake.set_variable("default", "app/db", &[("user", "me")]);
    fake.set_variable("staging", "app/db2", &[("user", "them")]);
    let search = |token: Option<&'static str>, body: Value| {
        let c = &c;
        async move { expect_json(c, "POST", "/v1/search", token, Some(body)).await }
    };

    // Jobs: exact prefixes, 20 at most, a namespace or every one.
    let found = search(root, json!({"Prefix": "web", "Context": "jobs"})).await;
    assert_eq!(
        found,
        json!({"Matches": {"jobs": ["web", "web-2"]}, "Truncations": {"jobs": false}})
    );
    let found = search(root, json!({"Prefix": "batch-", "Context": "jobs"})).await;
    let batch = strings(&found["Matches"]["jobs"]);
    assert_eq!(batch.len(), 20);
    assert_eq!(
        (batch[0].as_str(), batch[19].as_str()),
        ("batch-00", "batch-19")
    );
    assert_eq!(found["Truncations"]["jobs"], true);
    let found = search(
        root,
        json!({"Prefix": "web", "Context": "jobs", "Namespace": "*"}),
    )
    .await;
    assert_eq!(
        strings(&found["Matches"]["jobs"]),
        ["web", "web-2", "web-staging"]
    );
    let found = expect_json(
        &c,
        "POST",
        "/v1/search?namespace=staging",
        root,
        Some(json!({"Prefix": "web", "Context": "jobs", "Namespace": "default"})),
    )
    .await;
    assert_eq!(strings(&found["Matches"]["jobs"]), ["web-staging"]);

    // Every context: a prefix that is not hex leaves the UUID-indexed ones out.
    let found = search(root, json!({"Prefix": "web", "Context": "all"})).await;
    let contexts: Vec<&String> = found["Matches"].as_object().unwrap().keys().collect();
    assert_eq!(
        contexts,
        [
            "host_volumes",
            "jobs",
            "namespaces",
            "node_pools",
            "plugins",
            "scaling_policy",
            "vars",
            "volumes"
        ],
        "{found:#}"
    );
    assert_eq!(strings(&found["Matches"]["jobs"]), ["web", "web-2"]);
    assert_eq!(found["Matches"]["namespaces"], Value::Null);
    assert_eq!(found["Truncations"]["jobs"], false);

    // An odd prefix of an evaluation's ID reads from its even part, then matches exactly.
    let evals = expect_json(&c, "GET", "/v1/job/web/evaluations", root, None).await;
    let eval = evals[0]["ID"].as_str().unwrap().to_string();
    let found = search(root, json!({"Prefix": &eval[..3], "Context": "evals"})).await;
    let ids = strings(&found["Matches"]["evals"]);
    assert!(ids.contains(&eval), "{found:#}");
    assert!(ids.iter().all(|id| id.starts_with(&eval[..3])), "{found:#}");
    let found = search(root, json!({"Prefix": "zz", "Context": "evals"})).await;
    assert_eq!(found, json!({"Matches": {}, "Truncations": {}}));

    // Scaling policies match their target's namespace, which `*` never is.
    let found = search(root, json!({"Prefix": "", "Context": "scaling_policy"})).await;
    assert_eq!(strings(&found["Matches"]["scaling_policy"]).len(), 1);
    let found = search(
        root,
        json!({"Prefix": "", "Context": "scaling_policy", "Namespace": "*"}),
    )
    .await;
    assert_eq!(found["Matches"]["scaling_policy"], Value::Null);
    let found = search(root, json!({"Prefix": "st", "Context": "namespaces"})).await;
    assert_eq!(strings(&found["Matches"]["namespaces"]), ["staging"]);

    // What a token may read: variables and namespaces filtered; a context it may not read
    // refused; `all` without them.
    let found = search(root, json!({"Prefix": "app", "Context": "vars"})).await;
    assert_eq!(strings(&found["Matches"]["vars"]), ["app/db", "app/db2"]);
    let found = search(Some("reader"), json!({"Prefix": "app", "Context": "vars"})).await;
    assert_eq!(strings(&found["Matches"]["vars"]), ["app/db"]);
    let found = search(Some("reader"), json!({"Prefix": "", "Context": "all"})).await;
    assert_eq!(strings(&found["Matches"]["namespaces"]), ["default"]);
    assert!(!strings(&found["Matches"]["jobs"]).contains(&"web-staging".to_string()));
    assert_eq!(strings(&found["Matches"]["nodes"]).len(), 3);
    let found = search(
        Some("reader"),
        json!({"Prefix": "", "Context": "all", "Namespace": "staging"}),
    )
    .await;
    let contexts: Vec<&String> = found["Matches"].as_object().unwrap().keys().collect();
    assert_eq!(contexts, ["node_pools", "nodes", "plugins"], "{found:#}");
    let found = search(None, json!({"Prefix": "", "Context": "all"})).await;
    assert_eq!(found, json!({"Matches": {}, "Truncations": {}}));
    for (token, body) in [
        (
            Some("reader"),
            json!({"Prefix": "web", "Context": "jobs", "Namespace": "staging"}),
        ),
        (None, json!({"Prefix": "web", "Context": "jobs"})),
        (Some("nope"), json!({"Prefix": "web", "Context": "all"})),
    ] {
        let text = expect_text(&c, "POST", "/v1/search", token, Some(body), 403).await;
        assert_eq!(text, "Permission denied");
    }

    // Requests Nomad refuses.
    let text = expect_text(
        &c,
        "POST",
        "/v1/search",
        root,
        Some(json!({"Prefix": "", "Context": "foo"})),
        500,
    )
    .await;
    assert_eq!(
        text,
        "context must be one of [allocs jobs nodes node_pools evals deployment plugins volumes scaling_policy vars namespaces host_volumes] or 'all' for all contexts; got \"foo\""
    );
    let text = expect_text(&c, "POST", "/v1/search", root, None, 400).await;
    assert_eq!(text, "Request body is empty");
}

/// The caller's token, volumes, node pools and scaling policies, from Nomad 1.11.2's
/// source:
/// - `GET /v1/acl/token/self` is `ACL.WhoAmI` (`command/agent/acl_endpoint.go`
///   aclTokenSelf): the token, the anonymous token without a secret, Nomad's
///   `acls-disabled` token with ACLs off; an unknown UUID `403 Permission denied`, an
///   unknown secret of another form the JWT parse error (500), an expired token
///   `500 ACL token expired` (and denied elsewhere).
/// - Volumes (`command/agent/volumes_endpoint.go`, `nomad/csi_endpoint.go`,
///   `nomad/host_volume_endpoint.go`): no `type` is `[]`, another type `404 resource not
///   found`; CSI lists need read in the namespace (`*`: in any, then unfiltered), host
///   lists never refuse and filter by the token's right in the request's namespace; a
///   volume outside the request's namespace is `404 volume not found`.
/// - Node pools (`nomad/node_pool_endpoint.go`, `structs/node_pool.go`): the built-in
///   `all` and `default` at index 1, a pool created by its first node; `404 node pool not
///   found`; a `filter` that does not parse is `400 failed to create result paginator:
///   failed to read filter expression: ...`. Jobs go only to their pool's nodes; a pool
///   Nomad does not have is `500 job "<id>" is in nonexistent node pool "<pool>"`.
/// - Node lists (`nomad/node_endpoint.go` List): `filter` on the whole node, `prefix` on
///   the UUID index (even-length hex, else `500 node lookup failed: index error: ...`).
/// - Scaling policies (`nomad/scaling_endpoint.go`, `state_store.go`
///   UpsertScalingPoliciesTxn, `nomad/fsm.go` handleJobDeregister): one per group
///   `Scaling` block, its ID kept across versions, its ModifyIndex moved only by a
///   change; stopping the job disables it, purging deletes it; the job's scale endpoint
///   keeps counts within Min and Max (400), and a block without Max fails validation.
#[tokio::test]
async fn the_fake_reads_tokens_volumes_node_pools_and_scaling_policies_as_nomad_does() {
    use fake_nomad::{Capability, Token};

    let reader = Token::namespace("reader", &["default"], Capability::Read);
    let fake = FakeNomad::start(Options {
        namespaces: vec!["staging".into()],
        node_pools: vec!["default".into(), "default".into(), "gpu".into()],
        node_classes: vec!["".into(), "".into(), "gpu-large".into()],
        tokens: vec![
            Token::management("root"),
            reader.clone(),
            Token::namespace("old", &["default"], Capability::Read)
                .expiring_in(std::time::Duration::ZERO),
        ],
        csi_volumes: vec![
            CsiVolume::new("ebs-1", "default"),
            CsiVolume::new("ebs-2", "staging"),
        ],
        host_volumes: vec![
            HostVolume::new("cache", "default", 0),
            HostVolume::new("scratch", "staging", 2),
        ],
        ..Options::default()
    })
    .await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };
    let root = Some("root");
    let nodes = fake.node_ids();

    // The caller's token.
    let (me, index) = c
        .call_expecting(200, "GET", "/v1/acl/token/self", Some("reader"), None)
        .await;
    assert_eq!(me["AccessorID"], json!(reader.accessor_id));
    assert_eq!(me["SecretID"], "reader");
    assert_eq!(me["Type"], "client");
    assert_eq!(me["Policies"], json!(["default-read"]));
    assert_eq!(
        (&me["ExpirationTime"], &me["ExpirationTTL"]),
        (&Value::Null, &json!(""))
    );
    assert_eq!(index, me["ModifyIndex"].as_u64());
    let vocabulary = vocabulary();
    let mut check = Check {
        file: "GET_v1_acl_token_self.json",
        vocabulary: &vocabulary,
        problems: Vec::new(),
        used_omissions: BTreeSet::new(),
    };
    check.compare("$", "", &sample_response("GET_v1_acl_token_self.json"), &me);
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    let me = expect_json(&c, "GET", "/v1/acl/token/self", root, None).await;
    assert_eq!(
        (&me["Type"], &me["Policies"]),
        (&json!("management"), &Value::Null)
    );
    let me = expect_json(&c, "GET", "/v1/acl/token/self", None, None).await;
    assert_eq!(
        (&me["AccessorID"], &me["Name"], &me["Policies"]),
        (
            &json!("anonymous"),
            &json!("Anonymous Token"),
            &json!(["anonymous"])
        )
    );
    for (token, status, text) in [
        (
            "8ba6f2f7-5b4d-4a1e-9d3c-0f6c2d2c1a55",
            403,
            "Permission denied",
        ),
        (
            "nope",
            500,
            "failed to parse signed token: go-jose/go-jose: compact JWS format must have three parts",
        ),
        ("old", 500, "ACL token expired"),
    ] {
        let got = expect_text(&c, "GET", "/v1/acl/token/self", Some(token), None, status).await;
        assert_eq!(got, text, "{token}");
    }
    let got = expect_text(&c, "GET", "/v1/jobs", Some("old"), None, 403).await;
    assert_eq!(got, "Permission denied", "an expired token is refused");
    let open = FakeNomad::start(Options::default()).await;
    let disabled: Value = reqwest::get(format!("{}/v1/acl/token/self", open.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &disabled["AccessorID"],
            &disabled["Name"],
            &disabled["Type"]
        ),
        (
            &json!("acls-disabled"),
            &json!("ACLs disabled token"),
            &json!("client")
        )
    );

    // CSI volumes.
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v["ID"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        expect_json(&c, "GET", "/v1/volumes", None, None).await,
        json!([])
    );
    for path in ["/v1/volumes?type=", "/v1/volumes?type=foo"] {
        assert_eq!(
            expect_text(&c, "GET", path, root, None, 404).await,
            "resource not found"
        );
    }
    for (path, token, want) in [
        ("/v1/volumes?type=csi", root, vec!["ebs-1"]),
        (
            "/v1/volumes?type=csi&namespace=*",
            root,
            vec!["ebs-1", "ebs-2"],
        ),
        (
            "/v1/volumes?type=csi&namespace=*",
            Some("reader"),
            vec!["ebs-1", "ebs-2"],
        ),
        (
            "/v1/volumes?type=csi&plugin_id=aws-ebs0",
            root,
            vec!["ebs-1"],
        ),
        ("/v1/volumes?type=csi&plugin_id=other", root, vec![]),
        ("/v1/volumes?type=csi&prefix=ebs-2", root, vec![]),
        ("/v1/volumes?type=csi&node_id=x", root, vec![]),
        (
            "/v1/volumes?type=host&namespace=*",
            root,
            vec!["cache", "scratch"],
        ),
        (
            "/v1/volumes?type=host&namespace=*",
            Some("reader"),
            vec!["cache", "scratch"],
        ),
        (
            "/v1/volumes?type=host&namespace=staging",
            Some("reader"),
            vec![],
        ),
        (
            "/v1/volumes?type=host&namespace=*&node_pool=gpu",
            root,
            vec!["scratch"],
        ),
        (
            "/v1/volumes?type=host&namespace=*&prefix=cac",
            root,
            vec!["cache"],
        ),
    ] {
        let list = expect_json(&c, "GET", path, token, None).await;
        let names: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v[if path.contains("host") { "Name" } else { "ID" }]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names, want, "{path}");
    }
    let by_node = expect_json(
        &c,
        "GET",
        &format!("/v1/volumes?type=host&namespace=*&node_id={}", nodes[0]),
        root,
        None,
    )
    .await;
    assert_eq!(by_node[0]["Name"], "cache");
    let text = expect_text(
        &c,
        "GET",
        "/v1/volumes?type=csi&namespace=staging",
        Some("reader"),
        None,
        403,
    )
    .await;
    assert_eq!(text, "Permission denied");
    let ebs = expect_json(&c, "GET", "/v1/volume/csi/ebs-1", root, None).await;
    assert_eq!(
        (&ebs["PluginID"], &ebs["Capacity"], &ebs["Schedulable"]),
        (&json!("aws-ebs0"), &json!(10_737_418_240i64), &json!(true))
    );
    assert_eq!(
        ebs["RequestedCapabilities"],
        json!([{"AttachmentMode": "file-system", "AccessMode": "single-node-writer"}])
    );
    assert_eq!(ids(&json!([ebs])), ["ebs-1"]);
    assert_eq!(
        expect_text(&c, "GET", "/v1/volume/csi/ebs-2", root, None, 404).await,
        "volume not found"
    );
    expect_json(
        &c,
        "GET",
        "/v1/volume/csi/ebs-2?namespace=staging",
        root,
        None,
    )
    .await;
    expect_text(
        &c,
        "GET",
        "/v1/volume/csi/ebs-2?namespace=staging",
        Some("reader"),
        None,
        403,
    )
    .await;
    expect_text(&c, "GET", "/v1/volumes?type=csi", None, None, 403).await;

    // Host volumes.
    let cache = HostVolume::new("cache", "default", 0);
    let vol = expect_json(
        &c,
        "GET",
        &format!("/v1/volume/host/{}", cache.id),
        root,
        None,
    )
    .await;
    assert_eq!(
        (
            &vol["NodeID"],
            &vol["NodePool"],
            &vol["State"],
            &vol["HostPath"]
        ),
        (
            &json!(nodes[0]),
            &json!("default"),
            &json!("ready"),
            &json!(cache.host_path())
        )
    );
    assert!(
        vol.get("Allocations").is_none() && vol.get("Parameters").is_none(),
        "{vol:#}"
    );
    assert_eq!(
        expect_text(
            &c,
            "GET",
            &format!("/v1/volume/host/{}?namespace=staging", cache.id),
            root,
            None,
            404
        )
        .await,
        "volume not found"
    );

    // Node pools, and the nodes in them.
    let pools = expect_json(&c, "GET", "/v1/node/pools", root, None).await;
    let pools: Vec<(String, String, u64)> = pools
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["Name"].as_str().unwrap().to_string(),
                p["Description"].as_str().unwrap().to_string(),
                p["CreateIndex"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pools[0],
        (
            "all".into(),
            "Node pool with all nodes in the cluster.".into(),
            1
        )
    );
    assert_eq!(pools[1], ("default".into(), "Default node pool.".into(), 1));
    assert_eq!((pools[2].0.as_str(), pools[2].1.as_str()), ("gpu", ""));
    assert!(pools[2].2 > 1);
    let names = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(expect_json(&c, "GET", "/v1/node/pools?prefix=d", root, None).await),
        ["default"]
    );
    assert_eq!(
        names(
            expect_json(
                &c,
                "GET",
                "/v1/node/pools?filter=Name+%3D%3D+%22gpu%22",
                root,
                None
            )
            .await
        ),
        ["gpu"]
    );
    let text = expect_text(
        &c,
        "GET",
        "/v1/node/pools?filter=Name+%3D%3D",
        root,
        None,
        400,
    )
    .await;
    assert!(
        text.starts_with("failed to create result paginator: failed to read filter expression: "),
        "{text}"
    );
    assert_eq!(
        expect_json(&c, "GET", "/v1/node/pools", None, None).await,
        json!([])
    );
    expect_json(&c, "GET", "/v1/node/pool/gpu", Some("reader"), None).await;
    assert_eq!(
        expect_text(&c, "GET", "/v1/node/pool/nope", root, None, 404).await,
        "node pool not found"
    );
    expect_text(&c, "GET", "/v1/node/pool/gpu", None, None, 403).await;
    let listed = |filter: &'static str| {
        let c = &c;
        async move {
            let v = expect_json(c, "GET", &format!("/v1/nodes?{filter}"), root, None).await;
            v.as_array()
                .unwrap()
                .iter()
                .map(|n| n["ID"].as_str().unwrap().to_string())
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(
        listed("filter=NodePool+%3D%3D+%22gpu%22").await,
        [nodes[2].clone()]
    );
    assert_eq!(
        listed("filter=NodeClass+%3D%3D+%22gpu-large%22").await,
        [nodes[2].clone()]
    );
    assert_eq!(listed("filter=Status+%3D%3D+%22ready%22").await.len(), 3);
    assert_eq!(
        listed("filter=Datacenter+%3D%3D+%22dc1%22+and+NodePool+%3D%3D+%22default%22")
            .await
            .len(),
        2
    );
    assert_eq!(
        listed("filter=Meta.rack+%3D%3D+%22r1%22").await,
        [nodes[1].clone()]
    );
    let prefix = &nodes[0][..4];
    let found = expect_json(&c, "GET", &format!("/v1/nodes?prefix={prefix}"), root, None).await;
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["ID"].as_str().unwrap().starts_with(prefix))
            && !found.as_array().unwrap().is_empty()
    );
    for (prefix, reason) in [
        ("abc", "Input (without hyphens) must be even length"),
        ("zz", "Invalid UUID: encoding/hex: invalid byte: U+007A 'z'"),
    ] {
        let text = expect_text(
            &c,
            "GET",
            &format!("/v1/nodes?prefix={prefix}"),
            root,
            None,
            500,
        )
        .await;
        assert_eq!(text, format!("node lookup failed: index error: {reason}"));
    }
    let mut gpu = service_job("trainer");
    gpu["Job"]["NodePool"] = json!("gpu");
    gpu["Job"]["TaskGroups"][0]["Count"] = json!(1);
    expect_json(&c, "POST", "/v1/jobs", root, Some(gpu)).await;
    let placed = expect_json(&c, "GET", "/v1/job/trainer/allocations", root, None).await;
    assert_eq!(placed[0]["NodeID"], json!(nodes[2]), "{placed:#}");
    let mut nowhere = service_job("nowhere");
    nowhere["Job"]["NodePool"] = json!("nope");
    assert_eq!(
        expect_text(&c, "POST", "/v1/jobs", root, Some(nowhere), 500).await,
        "job \"nowhere\" is in nonexistent node pool \"nope\""
    );
    let text = expect_text(
        &c,
        "POST",
        &format!("/v1/node/{}/purge", nodes[0]),
        Some("reader"),
        None,
        403,
    )
    .await;
    assert_eq!(text, "Permission denied");

    // Scaling policies.
    let mut scaled = scaled_job("scaled");
    scaled["Job"]["TaskGroups"][0]["Scaling"]["Max"] = json!(5);
    expect_json(&c, "POST", "/v1/jobs", root, Some(scaled.clone())).await;
    let mut staged = scaled_job("scaled");
    staged["Job"]["Namespace"] = json!("staging");
    staged["Job"]["TaskGroups"][0]["Scaling"] = json!({"Max": 4});
    expect_json(&c, "POST", "/v1/jobs", root, Some(staged)).await;
    let list = expect_json(&c, "GET", "/v1/scaling/policies", root, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list:#}");
    assert_eq!(
        (&list[0]["Type"], &list[0]["Enabled"], &list[0]["Target"]),
        (
            &json!("horizontal"),
            &json!(true),
            &json!({"Namespace": "default", "Job": "scaled", "Group": "web"})
        )
    );
    let id = list[0]["ID"].as_str().unwrap().to_string();
    let policy = expect_json(&c, "GET", &format!("/v1/scaling/policy/{id}"), root, None).await;
    assert_eq!(
        (
            &policy["Min"],
            &policy["Max"],
            &policy["Policy"]["cooldown"]
        ),
        (&json!(1), &json!(5), &json!("1m"))
    );
    assert_eq!(policy["CreateIndex"], policy["ModifyIndex"]);
    let job = expect_json(&c, "GET", "/v1/job/scaled", root, None).await;
    assert_eq!(job["TaskGroups"][0]["Scaling"]["ID"], json!(id));
    let staging = expect_json(
        &c,
        "GET",
        "/v1/scaling/policies?namespace=staging",
        root,
        None,
    )
    .await;
    let staging_policy = expect_json(
        &c,
        "GET",
        &format!(
            "/v1/scaling/policy/{}?namespace=staging",
            staging[0]["ID"].as_str().unwrap()
        ),
        root,
        None,
    )
    .await;
    assert_eq!(
        (&staging_policy["Min"], &staging_policy["Enabled"]),
        (&json!(2), &json!(true)),
        "Min defaults to the group's count, Enabled to true"
    );
    // The same job again changes nothing; a new maximum is a new ModifyIndex.
    expect_json(&c, "POST", "/v1/job/scaled", root, Some(scaled.clone())).await;
    let same = expect_json(&c, "GET", &format!("/v1/scaling/policy/{id}"), root, None).await;
    assert_eq!(same, policy);
    assert_eq!(
        expect_json(&c, "GET", "/v1/job/scaled", root, None).await["Version"],
        0
    );
    scaled["Job"]["TaskGroups"][0]["Scaling"]["Max"] = json!(8);
    expect_json(&c, "POST", "/v1/job/scaled", root, Some(scaled.clone())).await;
    let moved = expect_json(&c, "GET", &format!("/v1/scaling/policy/{id}"), root, None).await;
    assert_eq!((&moved["ID"], &moved["Max"]), (&json!(id), &json!(8)));
    assert_eq!(moved["CreateIndex"], policy["CreateIndex"]);
    assert!(moved["ModifyIndex"].as_u64() > policy["ModifyIndex"].as_u64());
    for (query, token, count) in [
        ("job=scaled&type=horizontal", root, 1),
        ("type=vertical", root, 0),
        ("job=nope", root, 0),
        ("namespace=*", root, 2),
        ("namespace=*", Some("reader"), 1),
        ("namespace=*", None, 0),
    ] {
        let list = expect_json(
            &c,
            "GET",
            &format!("/v1/scaling/policies?{query}"),
            token,
            None,
        )
        .await;
        assert_eq!(list.as_array().unwrap().len(), count, "{query}: {list:#}");
    }
    expect_text(
        &c,
        "GET",
        "/v1/scaling/policies?namespace=staging",
        Some("reader"),
        None,
        403,
    )
    .await;
    // The read checks the request's namespace, not the policy's.
    expect_json(
        &c,
        "GET",
        &format!("/v1/scaling/policy/{}", staging[0]["ID"].as_str().unwrap()),
        Some("reader"),
        None,
    )
    .await;
    assert_eq!(
        expect_text(&c, "GET", "/v1/scaling/policy/nope", root, None, 404).await,
        "policy not found"
    );
    for (count, text) in [
        (
            9,
            "group count was greater than scaling policy maximum: 9 > 8",
        ),
        (0, "group count was less than scaling policy minimum: 0 < 1"),
    ] {
        let got = expect_text(
            &c,
            "POST",
            "/v1/job/scaled/scale",
            root,
            Some(json!({"Count": count, "Target": {"Group": "web"}})),
            400,
        )
        .await;
        assert_eq!(got, text);
    }
    let mut unbounded = scaled_job("unbounded");
    unbounded["Job"]["TaskGroups"][0]["Scaling"] = json!({"Min": 1});
    let text = expect_text(&c, "POST", "/v1/jobs", root, Some(unbounded), 500).await;
    assert!(
        text.contains("Scaling policy invalid: maximum count must be specified and non-negative"),
        "{text}"
    );
    expect_json(&c, "DELETE", "/v1/job/scaled", root, None).await;
    let stopped = expect_json(&c, "GET", &format!("/v1/scaling/policy/{id}"), root, None).await;
    assert_eq!(
        stopped["Enabled"], false,
        "a stopped job's policy is disabled"
    );
    expect_json(&c, "DELETE", "/v1/job/scaled?purge=true", root, None).await;
    expect_text(
        &c,
        "GET",
        &format!("/v1/scaling/policy/{id}"),
        root,
        None,
        404,
    )
    .await;
    assert_eq!(
        expect_json(&c, "GET", "/v1/scaling/policies", root, None).await,
        json!([])
    );
}

/// What a Nomad client answers for an allocation's resource usage and signals, and what
/// purging a node does, from Nomad 1.11.2's source:
/// - Stats (`client/allocrunner/alloc_runner.go` LatestAllocStats): every started task
///   under `Tasks`, the running ones added up in `ResourceUsage`; `task` keeps one. The
///   fake's numbers: RSS a quarter of the task's memory, cache a sixteenth, CPU ticks a
///   quarter of its MHz, percent of one of the node's four cores.
/// - Signals (`alloc_runner.go` Signal, `taskrunner/lifecycle.go` Signal): a `Signaling`
///   event on the task ("Task being sent a signal", the signal in `Details`); `Task not
///   found`, `Task not running` (500), and for every task a multierror of `Failed to
///   signal task: <task>, err: ...`; the docker driver refuses a signal name
///   consul-template does not know (`drivers/docker/driver.go` SignalTask), exec accepts
///   any (SIGINT instead). An empty body is `400 Failed to decode body: Request body is
///   empty`.
/// - Both: `404 Unknown allocation "<id>"` for an allocation the servers do not have,
///   `500 Unknown node <id>` when its node is gone, `404 No path to node` when it is down
///   (`nomad/util.go` getNodeForRpc, `command/agent/alloc_endpoint.go`).
/// - Purge (`nomad/node_endpoint.go` Deregister, createNodeEvals): the node is gone
///   (`404 node not found` on read, `500 node not found` purging again), its allocations
///   are lost and replaced, a `node-update` evaluation per job.
#[tokio::test]
async fn the_fake_reports_signals_and_purges_as_nomad_clients_and_servers_do() {
    let fake = FakeNomad::start(Options::default()).await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };
    c.call("POST", "/v1/jobs", Some(services_job("cache")))
        .await;
    let mut exec = service_job("exec");
    exec["Job"]["TaskGroups"][0]["Count"] = json!(1);
    exec["Job"]["TaskGroups"][0]["Tasks"][0]["Driver"] = json!("exec");
    exec["Job"]["TaskGroups"][0]["Tasks"][0]["Config"] = json!({"command": "/bin/sleep"});
    c.call("POST", "/v1/jobs", Some(exec)).await;
    c.call("POST", "/v1/jobs", Some(service_job("web"))).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    let alloc = c.call("GET", "/v1/job/cache/allocations", None).await[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let unknown = "8ba6f2f7-5b4d-4a1e-9d3c-0f6c2d2c1a55";

    // Stats, from the task's 100 MHz and 64 MB.
    let stats = c
        .call("GET", &format!("/v1/client/allocation/{alloc}/stats"), None)
        .await;
    let redis = &stats["Tasks"]["redis"]["ResourceUsage"];
    assert_eq!(redis["MemoryStats"]["RSS"], 16_777_216);
    assert_eq!(redis["MemoryStats"]["Cache"], 4_194_304);
    assert_eq!(redis["MemoryStats"]["Usage"], 20_971_520);
    assert_eq!(redis["MemoryStats"]["MaxUsage"], 25_165_824);
    assert_eq!(redis["CpuStats"]["TotalTicks"], 25.0);
    assert_eq!(redis["CpuStats"]["Percent"], 2.5);
    assert_eq!(stats["ResourceUsage"]["MemoryStats"], redis["MemoryStats"]);
    let none = c
        .call(
            "GET",
            &format!("/v1/client/allocation/{alloc}/stats?task=nope"),
            None,
        )
        .await;
    assert_eq!(none["Tasks"], json!({}));
    assert_eq!(none["ResourceUsage"]["MemoryStats"]["RSS"], 0);
    let (status, body, _) = c
        .answer(&format!("/v1/client/allocation/{unknown}/stats"))
        .await;
    assert_eq!(
        (status, body),
        (404, format!("Unknown allocation {unknown:?}"))
    );

    // Signals.
    let signal = |body: Option<Value>| {
        let c = &c;
        let path = format!("/v1/client/allocation/{alloc}/signal");
        async move { c.exchange("POST", &path, None, body).await }
    };
    let (status, body, _) = signal(Some(json!({"Signal": "SIGUSR1", "Task": "redis"}))).await;
    assert_eq!((status, body.as_str()), (200, "{}"));
    let read = c
        .call("GET", &format!("/v1/allocation/{alloc}"), None)
        .await;
    let events = read["TaskStates"]["redis"]["Events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (&last["Type"], &last["DisplayMessage"], &last["Details"]),
        (
            &json!("Signaling"),
            &json!("Task being sent a signal"),
            &json!({"signal": "SIGUSR1"})
        )
    );
    let (status, _, _) = signal(Some(json!({"Signal": "sigusr2"}))).await;
    assert_eq!(status, 200, "signal names are read in any case");
    let valid = "[\"SIGABRT\" \"SIGALRM\" \"SIGBUS\" \"SIGCONT\" \"SIGFPE\" \"SIGHUP\" \"SIGILL\" \"SIGINT\" \"SIGIO\" \"SIGIOT\" \"SIGKILL\" \"SIGNULL\" \"SIGPIPE\" \"SIGPROF\" \"SIGQUIT\" \"SIGSEGV\" \"SIGSTOP\" \"SIGSYS\" \"SIGTERM\" \"SIGTRAP\" \"SIGTSTP\" \"SIGTTIN\" \"SIGTTOU\" \"SIGUSR1\" \"SIGUSR2\" \"SIGWINCH\" \"SIGXCPU\" \"SIGXFSZ\"]";
    for (body, status, text) in [
        (
            None,
            400,
            "Failed to decode body: Request body is empty".to_string(),
        ),
        (
            Some(json!({"Signal": "SIGUSR1", "Task": "nope"})),
            500,
            "Task not found".to_string(),
        ),
        (
            Some(json!({"Signal": "", "Task": "redis"})),
            500,
            format!(
                "rpc error: code = Unknown desc = failed to parse signal: invalid signal \"\" - valid signals are {valid}"
            ),
        ),
    ] {
        let (got, body, _) = signal(body).await;
        assert_eq!((got, body), (status, text));
    }
    let exec_alloc = c.call("GET", "/v1/job/exec/allocations", None).await[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, _) = c
        .exchange(
            "POST",
            &format!("/v1/client/allocation/{exec_alloc}/signal"),
            None,
            Some(json!({"Signal": "SIGFOO"})),
        )
        .await;
    assert_eq!(status, 200, "exec sends SIGINT for a name it does not know");
    let (status, body, _) = c
        .exchange(
            "POST",
            &format!("/v1/client/allocation/{unknown}/signal"),
            None,
            Some(json!({"Signal": "SIGUSR1"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (404, format!("Unknown allocation {unknown:?}"))
    );

    // A stopped allocation keeps its runner: stats with nothing running, no task to signal.
    c.call("POST", &format!("/v1/allocation/{alloc}/stop"), None)
        .await;
    let stopped = c
        .call("GET", &format!("/v1/client/allocation/{alloc}/stats"), None)
        .await;
    assert_eq!(stopped["ResourceUsage"]["MemoryStats"]["RSS"], 0);
    assert_eq!(
        stopped["ResourceUsage"]["MemoryStats"]["Measured"],
        Value::Null
    );
    assert!(stopped["Tasks"]["redis"].is_object(), "{stopped:#}");
    let (got, body, _) = signal(Some(json!({"Signal": "SIGUSR1", "Task": "redis"}))).await;
    assert_eq!((got, body.as_str()), (500, "Task not running"));
    let (got, body, _) = signal(Some(json!({"Signal": "SIGUSR1"}))).await;
    assert_eq!(
        (got, body.as_str()),
        (
            500,
            "1 error occurred:\n\t* Failed to signal task: redis, err: Task not running\n\n"
        )
    );

    // Purging a node with allocations of `web`.
    let web = c.call("GET", "/v1/job/web/allocations", None).await;
    let node = web[0]["NodeID"].as_str().unwrap().to_string();
    let on_node: Vec<String> = web
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["NodeID"] == node.as_str())
        .map(|a| a["ID"].as_str().unwrap().to_string())
        .collect();
    let (purged, index) = c
        .call_expecting(200, "POST", &format!("/v1/node/{node}/purge"), None, None)
        .await;
    assert_eq!(index, purged["Index"].as_u64());
    assert_eq!(purged["NodeModifyIndex"], purged["Index"]);
    let evals = strings(&purged["EvalIDs"]);
    assert!(!evals.is_empty(), "{purged:#}");
    let eval = c
        .call("GET", &format!("/v1/evaluation/{}", evals[0]), None)
        .await;
    assert_eq!(
        (&eval["TriggeredBy"], &eval["NodeID"]),
        (&json!("node-update"), &json!(node))
    );
    assert_eq!(
        purged["EvalCreateIndex"], eval["CreateIndex"],
        "the first evaluation's index"
    );
    let (status, body, _) = c.answer(&format!("/v1/node/{node}")).await;
    assert_eq!((status, body.as_str()), (404, "node not found"));
    let (status, body, _) = c
        .exchange("POST", &format!("/v1/node/{node}/purge"), None, None)
        .await;
    assert_eq!((status, body.as_str()), (500, "node not found"));
    for id in &on_node {
        let lost = c.call("GET", &format!("/v1/allocation/{id}"), None).await;
        assert_eq!(
            (
                &lost["ClientStatus"],
                &lost["DesiredStatus"],
                &lost["ClientDescription"]
            ),
            (
                &json!("lost"),
                &json!("stop"),
                &json!("alloc is lost since its node is down")
            )
        );
        let (status, body, _) = c.answer(&format!("/v1/client/allocation/{id}/stats")).await;
        assert_eq!((status, body), (500, format!("Unknown node {node}")));
    }
    fake.settle(std::time::Duration::from_secs(5)).await;
    let web = c.call("GET", "/v1/job/web/allocations", None).await;
    let running = web
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["ClientStatus"] == "running")
        .count();
    assert_eq!(running, 2, "the lost allocations are replaced: {web:#}");

    // A node that is down cannot be reached.
    let replaced = web
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ClientStatus"] == "running")
        .unwrap();
    fake.set_node_status(replaced["NodeID"].as_str().unwrap(), "down");
    let (status, body, _) = c
        .answer(&format!(
            "/v1/client/allocation/{}/stats",
            replaced["ID"].as_str().unwrap()
        ))
        .await;
    assert_eq!((status, body.as_str()), (404, "No path to node"));
}

/// Pausing, resuming and unblocking deployments and setting their allocations' health,
/// as Nomad 1.11.2 answers them (`command/agent/deployment_endpoint.go`,
/// `nomad/deployment_endpoint.go`, `nomad/deploymentwatcher/deployment_watcher.go`,
/// `state_store.go` UpdateDeploymentAllocHealth), with a lifecycle too slow to move
/// anything by itself:
/// - the body: `400 Request body is empty`, `400 DeploymentID must be specified`,
///   `400 Deployment ID does not match`; then `500 deployment not found` (a plain RPC
///   error), the submit-job check (403), and `500 can't <pause|resume|unblock>
///   terminal deployment` / `can't set health of allocations for a terminal deployment`;
/// - a pause has no evaluation (`EvalID` empty, `EvalCreateIndex` 0) and places nothing
///   more (a stopped allocation is not replaced) until the resume, which has one;
/// - unblocking a deployment that is not a blocked multiregion one does nothing and
///   answers an empty update (CE's UnblockDeployment);
/// - allocation health: neither list is `500 must specify at least one healthy/unhealthy
///   allocation ID`, an unknown ID `500 unknown alloc "<id>"`, another deployment's
///   `500 alloc "<id>" is not part of deployment "<id>"`, with nothing changed; healthy
///   allocations complete the deployment (the version becomes stable), an unhealthy one
///   fails it, "Failed due to unhealthy allocations", and with auto-revert " - rolling
///   back to job version N" with `RevertedJobVersion` N.
#[tokio::test]
async fn the_fake_pauses_and_sets_health_of_deployments_as_nomad_does() {
    use fake_nomad::{Capability, Token};

    let fake = FakeNomad::start(Options {
        step: std::time::Duration::from_secs(3600),
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
    let mut web = service_job("web");
    web["Job"]["Update"]["AutoRevert"] = json!(true);
    expect_json(&c, "POST", "/v1/jobs", root, Some(web.clone())).await;
    expect_json(&c, "POST", "/v1/jobs", root, Some(service_job("other"))).await;
    let d = expect_json(&c, "GET", "/v1/job/web/deployment", root, None).await;
    let id = d["ID"].as_str().unwrap().to_string();
    let other = expect_json(&c, "GET", "/v1/job/other/allocations", root, None).await;
    let other_alloc = other[0]["ID"].as_str().unwrap().to_string();
    let live = || {
        let c = &c;
        async move {
            let allocs = expect_json(c, "GET", "/v1/job/web/allocations", Some("root"), None).await;
            allocs
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["DesiredStatus"] == "run")
                .map(|a| a["ID"].as_str().unwrap().to_string())
                .collect::<Vec<String>>()
        }
    };
    let pause_path = format!("/v1/deployment/pause/{id}");

    // The body and the deployment, checked in Nomad's order.
    for (body, status, text) in [
        (None, 400, "Request body is empty"),
        (Some(json!({})), 400, "DeploymentID must be specified"),
        (
            Some(json!({"DeploymentID": "x", "Pause": true})),
            400,
            "Deployment ID does not match",
        ),
    ] {
        assert_eq!(
            expect_text(&c, "POST", &pause_path, root, body, status).await,
            text
        );
    }
    let unknown = "8ba6f2f7-5b4d-4a1e-9d3c-0f6c2d2c1a55";
    assert_eq!(
        expect_text(
            &c,
            "POST",
            &format!("/v1/deployment/pause/{unknown}"),
            root,
            Some(json!({"DeploymentID": unknown, "Pause": true})),
            500
        )
        .await,
        "deployment not found"
    );
    assert_eq!(
        expect_text(
            &c,
            "POST",
            &pause_path,
            Some("reader"),
            Some(json!({"DeploymentID": id, "Pause": true})),
            403
        )
        .await,
        "Permission denied"
    );

    // Paused: no evaluation, and a stopped allocation is not replaced until the resume.
    let (paused, index) = c
        .call_expecting(
            200,
            "POST",
            &pause_path,
            root,
            Some(json!({"DeploymentID": id, "Pause": true})),
        )
        .await;
    assert_eq!(
        (&paused["EvalID"], &paused["EvalCreateIndex"]),
        (&json!(""), &json!(0))
    );
    assert_eq!(index, paused["Index"].as_u64());
    let d = expect_json(&c, "GET", &format!("/v1/deployment/{id}"), root, None).await;
    assert_eq!(
        (&d["Status"], &d["StatusDescription"]),
        (&json!("paused"), &json!("Deployment is paused"))
    );
    assert_eq!(d["ModifyIndex"], paused["DeploymentModifyIndex"]);
    let before = live().await;
    expect_json(
        &c,
        "POST",
        &format!("/v1/allocation/{}/stop", before[0]),
        root,
        None,
    )
    .await;
    assert_eq!(live().await.len(), 1, "nothing is placed while paused");
    let resumed = expect_json(
        &c,
        "POST",
        &pause_path,
        root,
        Some(json!({"DeploymentID": id, "Pause": false})),
    )
    .await;
    assert!(
        !resumed["EvalID"].as_str().unwrap().is_empty(),
        "{resumed:#}"
    );
    let d = expect_json(&c, "GET", &format!("/v1/deployment/{id}"), root, None).await;
    assert_eq!(
        (&d["Status"], &d["StatusDescription"]),
        (&json!("running"), &json!("Deployment is running"))
    );
    let allocs = live().await;
    assert_eq!(
        allocs.len(),
        2,
        "the resume's evaluation places the replacement"
    );

    // Unblocking a single-region deployment changes nothing.
    let (unblocked, index) = c
        .call_expecting(
            200,
            "POST",
            &format!("/v1/deployment/unblock/{id}"),
            root,
            Some(json!({"DeploymentID": id})),
        )
        .await;
    assert_eq!(
        unblocked,
        json!({"EvalID": "", "EvalCreateIndex": 0, "DeploymentModifyIndex": 0,
               "RevertedJobVersion": null, "Index": 0})
    );
    assert_eq!(index, Some(0));

    // Allocation health: refusals change nothing.
    let health_path = format!("/v1/deployment/allocation-health/{id}");
    for (body, text) in [
        (
            json!({"DeploymentID": id}),
            "must specify at least one healthy/unhealthy allocation ID".to_string(),
        ),
        (
            json!({"DeploymentID": id, "HealthyAllocationIDs": [allocs[0], unknown]}),
            format!("unknown alloc {unknown:?}"),
        ),
        (
            json!({"DeploymentID": id, "UnhealthyAllocationIDs": [other_alloc]}),
            format!("alloc {other_alloc:?} is not part of deployment {id:?}"),
        ),
    ] {
        assert_eq!(
            expect_text(&c, "POST", &health_path, root, Some(body), 500).await,
            text
        );
    }
    let d = expect_json(&c, "GET", &format!("/v1/deployment/{id}"), root, None).await;
    assert_eq!(d["TaskGroups"]["web"]["HealthyAllocs"], 0);

    // Healthy allocations complete the deployment; version 0 becomes stable.
    let healthy = expect_json(
        &c,
        "POST",
        &health_path,
        root,
        Some(json!({"DeploymentID": id, "HealthyAllocationIDs": allocs})),
    )
    .await;
    assert_eq!(healthy["RevertedJobVersion"], Value::Null);
    assert!(!healthy["EvalID"].as_str().unwrap().is_empty());
    let d = expect_json(&c, "GET", &format!("/v1/deployment/{id}"), root, None).await;
    assert_eq!(
        (
            &d["Status"],
            &d["StatusDescription"],
            &d["TaskGroups"]["web"]["HealthyAllocs"]
        ),
        (
            &json!("successful"),
            &json!("Deployment completed successfully"),
            &json!(2)
        )
    );
    let alloc = expect_json(
        &c,
        "GET",
        &format!("/v1/allocation/{}", allocs[0]),
        root,
        None,
    )
    .await;
    assert_eq!(alloc["DeploymentStatus"]["Healthy"], true);
    let versions = expect_json(&c, "GET", "/v1/job/web/versions", root, None).await;
    assert_eq!(versions["Versions"][0]["Stable"], true);

    // Terminal now.
    for (path, body, text) in [
        (
            pause_path.clone(),
            json!({"DeploymentID": id, "Pause": true}),
            "can't pause terminal deployment",
        ),
        (
            pause_path.clone(),
            json!({"DeploymentID": id, "Pause": false}),
            "can't resume terminal deployment",
        ),
        (
            format!("/v1/deployment/unblock/{id}"),
            json!({"DeploymentID": id}),
            "can't unblock terminal deployment",
        ),
        (
            health_path.clone(),
            json!({"DeploymentID": id, "HealthyAllocationIDs": [allocs[0]]}),
            "can't set health of allocations for a terminal deployment",
        ),
    ] {
        assert_eq!(
            expect_text(&c, "POST", &path, root, Some(body), 500).await,
            text
        );
    }

    // Version 1, one allocation unhealthy: failed, and reverted to version 0.
    web["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    expect_json(&c, "POST", "/v1/job/web", root, Some(web)).await;
    let d1 = expect_json(&c, "GET", "/v1/job/web/deployment", root, None).await;
    let id1 = d1["ID"].as_str().unwrap().to_string();
    let new: Vec<Value> = expect_json(
        &c,
        "GET",
        &format!("/v1/deployment/allocations/{id1}"),
        root,
        None,
    )
    .await
    .as_array()
    .unwrap()
    .clone();
    let bad = new[0]["ID"].as_str().unwrap().to_string();
    let failed = expect_json(
        &c,
        "POST",
        &format!("/v1/deployment/allocation-health/{id1}"),
        root,
        Some(json!({"DeploymentID": id1, "UnhealthyAllocationIDs": [bad]})),
    )
    .await;
    assert_eq!(failed["RevertedJobVersion"], 0, "{failed:#}");
    let d1 = expect_json(&c, "GET", &format!("/v1/deployment/{id1}"), root, None).await;
    assert_eq!(
        (
            &d1["Status"],
            &d1["StatusDescription"],
            &d1["TaskGroups"]["web"]["UnhealthyAllocs"]
        ),
        (
            &json!("failed"),
            &json!("Failed due to unhealthy allocations - rolling back to job version 0"),
            &json!(1)
        )
    );
    let job = expect_json(&c, "GET", "/v1/job/web", root, None).await;
    assert_eq!(
        (
            &job["Version"],
            &job["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
        ),
        (&json!(2), &json!("nginx:1.27")),
        "the revert is version 2, with version 0's spec"
    );

    // Without auto-revert: failed, nothing reverted.
    let d = expect_json(&c, "GET", "/v1/job/other/deployment", root, None).await;
    let other_id = d["ID"].as_str().unwrap().to_string();
    let failed = expect_json(
        &c,
        "POST",
        &format!("/v1/deployment/allocation-health/{other_id}"),
        root,
        Some(json!({"DeploymentID": other_id, "UnhealthyAllocationIDs": [other_alloc]})),
    )
    .await;
    assert_eq!(failed["RevertedJobVersion"], Value::Null);
    let d = expect_json(&c, "GET", &format!("/v1/deployment/{other_id}"), root, None).await;
    assert_eq!(
        (&d["Status"], &d["StatusDescription"]),
        (
            &json!("failed"),
            &json!("Failed due to unhealthy allocations")
        )
    );
}

/// Big logs: meta `fake_nomad_log_bytes` (on the task, group or job) makes a task's
/// stdout that many bytes, computed from their offsets; `origin=end&offset=N` serves the
/// last N bytes (all of it when N is larger), as Nomad's `client/fs_endpoint.go` logs
/// does, and the request log records the range served (`RequestRecord::log_range`).
#[tokio::test]
async fn the_fake_serves_the_end_of_a_big_log() {
    let fake = FakeNomad::start(Options::default()).await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };
    let size: u64 = 8 * 1024 * 1024;
    let mut job = service_job("chatty");
    job["Job"]["TaskGroups"][0]["Count"] = json!(1);
    job["Job"]["TaskGroups"][0]["Tasks"][0]["Meta"] =
        json!({"fake_nomad_log_bytes": size.to_string()});
    c.call("POST", "/v1/jobs", Some(job)).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    let alloc = c.call("GET", "/v1/job/chatty/allocations", None).await[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = |query: &str| {
        let url = format!(
            "{}/v1/client/fs/logs/{alloc}?task=server&type=stdout&plain=true&{query}",
            c.base
        );
        let http = c.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap().to_vec()
        }
    };
    let whole = logs("origin=start").await;
    assert_eq!(whole.len() as u64, size);
    fake.clear_requests();
    let tail = logs("origin=end&offset=1000").await;
    assert_eq!(tail, whole[whole.len() - 1000..]);
    let more = logs(&format!("origin=end&offset={}", size * 2)).await;
    assert_eq!(
        more.len() as u64,
        size,
        "an offset past the start serves it all"
    );
    let ranges: Vec<Option<(u64, u64)>> = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/client/fs/logs/"))
        .map(|r| r.log_range)
        .collect();
    assert_eq!(ranges, [Some((size - 1000, size)), Some((0, size))]);
}

/// Framed logs: JSON frames back to back, base64 `Data`, and `Offset` where the frame's
/// data *ends* in `File` (Nomad's reader adds what it read before it sends, `streamFile` in
/// `client/fs_endpoint.go`); with `follow`, `{}` heartbeats after a second of silence and
/// the new lines of a task that writes (meta `fake_nomad_log_lines_per_second`).
#[tokio::test]
async fn the_fake_frames_and_follows_logs_as_nomad_does() {
    use base64::Engine;
    let fake = FakeNomad::start(Options::default()).await;
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
    };
    let size: u64 = 200 * 1024;
    let mut job = service_job("framed");
    job["Job"]["TaskGroups"][0]["Count"] = json!(1);
    job["Job"]["TaskGroups"][0]["Tasks"][0]["Meta"] =
        json!({"fake_nomad_log_bytes": size.to_string()});
    c.call("POST", "/v1/jobs", Some(job)).await;
    let mut chatty = service_job("chatty");
    chatty["Job"]["TaskGroups"][0]["Count"] = json!(1);
    chatty["Job"]["TaskGroups"][0]["Tasks"][0]["Meta"] =
        json!({"fake_nomad_log_lines_per_second": "10"});
    c.call("POST", "/v1/jobs", Some(chatty)).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    let alloc = |job: &'static str| {
        let c = &c;
        async move {
            c.call("GET", &format!("/v1/job/{job}/allocations"), None)
                .await[0]["ID"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let framed = alloc("framed").await;
    let url = format!(
        "{}/v1/client/fs/logs/{framed}?task=server&type=stdout&origin=start&offset=0",
        c.base
    );
    let body = c.http.get(url).send().await.unwrap().bytes().await.unwrap();
    let mut at = 0u64;
    let mut frames = 0;
    for value in serde_json::Deserializer::from_slice(&body).into_iter::<Value>() {
        let value = value.unwrap();
        let data = base64::engine::general_purpose::STANDARD
            .decode(value["Data"].as_str().unwrap())
            .unwrap();
        assert_eq!(value["File"], "alloc/logs/server.stdout.0");
        at += data.len() as u64;
        assert_eq!(value["Offset"], at, "Offset is where the data ends");
        frames += 1;
    }
    assert_eq!((at, frames), (size, 4), "64 KiB frames");

    // Following a quiet log: a heartbeat a second.
    let url = format!(
        "{}/v1/client/fs/logs/{framed}?task=server&type=stdout&origin=end&offset=0&follow=true",
        c.base
    );
    let mut response = c.http.get(url).send().await.unwrap();
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(3), response.chunk())
        .await
        .expect("a heartbeat within 3 s")
        .unwrap()
        .unwrap();
    assert_eq!(&chunk[..], b"{}");
    drop(response);

    // Following a writing task: new data, its offsets going on from the start.
    let chatty = alloc("chatty").await;
    let url = format!(
        "{}/v1/client/fs/logs/{chatty}?task=server&type=stdout&origin=start&offset=0&follow=true",
        c.base
    );
    let mut response = c.http.get(url).send().await.unwrap();
    let (mut seen, mut last_end, mut buffer) = (Vec::new(), 0, Vec::new());
    while !String::from_utf8_lossy(&seen).contains("(request 12)") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk())
            .await
            .expect("new lines keep coming")
            .unwrap()
            .unwrap();
        buffer.extend_from_slice(&chunk);
        // Frames may arrive split or several to a chunk: take the complete ones.
        let mut values = serde_json::Deserializer::from_slice(&buffer).into_iter::<Value>();
        let mut used = 0;
        while let Some(Ok(value)) = values.next() {
            used = values.byte_offset();
            if value == json!({}) {
                continue;
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(value["Data"].as_str().unwrap())
                .unwrap();
            seen.extend_from_slice(&data);
            last_end = value["Offset"].as_u64().unwrap();
            assert_eq!(last_end, seen.len() as u64);
        }
        buffer.drain(..used);
    }
    assert!(
        String::from_utf8_lossy(&seen).contains("server: GET /api/items 200 (request 1)\n"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    assert!(last_end > 0);
}

//! Authentication and authorization end to end: every REST route against every kind of
//! credential, JWTs (HS256 and a JWKS served here), revocation across processes,
//! read-only mode, rate limits and the bootstrap key.

use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};

use crate::support::{Gateway, TestDb, base_env, json_of, run, set};

pub fn auth_env(db: &TestDb, fake: &FakeNomad) -> Vec<(String, String)> {
    let mut env = base_env(db);
    set(&mut env, "GATEWAY_AUTH", "on");
    set(&mut env, "NOMAD_ADDR", &fake.url());
    env
}

/// Creates a key with the CLI and returns (id, token).
pub fn create_key(
    env: &[(String, String)],
    scopes: &[&str],
    namespaces: &[&str],
    expires_in: Option<&str>,
) -> (String, String) {
    let mut args = vec!["api-key", "create", "--name", "test"];
    for s in scopes {
        args.extend(["--scope", s]);
    }
    for n in namespaces {
        args.extend(["--namespace", n]);
    }
    if let Some(e) = expires_in {
        args.extend(["--expires-in", e]);
    }
    let (code, stdout, stderr) = run(&args, env);
    assert_eq!(code, 0, "{stderr}");
    let id = stderr
        .split_whitespace()
        .nth(2)
        .expect("the id in the message")
        .to_string();
    (id, stdout.trim().to_string())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Read,
    Write,
    Nodes,
    /// `variables:write` in a namespace.
    Variables,
    Admin,
    /// Cluster-wide reads (nodes, cluster, namespaces): `nomad:read`, no namespace.
    Cluster,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ns {
    Query,
    Body,
    None,
}

/// Every REST route: what it needs and a body that passes validation.
fn route(method: &str, path: &str) -> Option<(Need, Ns, Value)> {
    let job = json!({"ID": "web", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "nginx"}}]}]});
    Some(match (method, path) {
        ("POST", "/api/claude/create-job") => (
            Need::Write,
            Ns::Body,
            json!({"job_id": "web", "docker_image": "nginx"}),
        ),
        ("GET", "/api/claude/job-logs/{job_id}") => (Need::Read, Ns::Query, Value::Null),
        ("POST", "/api/claude/jobs") => (
            Need::Write,
            Ns::Body,
            json!({"job_id": "web", "action": "stop"}),
        ),
        ("GET", "/api/claude/list-jobs") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/allocations/{alloc_id}") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/allocations/{alloc_id}/checks") => (Need::Read, Ns::Query, Value::Null),
        ("POST", "/api/v1/allocations/{alloc_id}/restart") => (Need::Write, Ns::Query, json!({})),
        ("POST", "/api/v1/allocations/{alloc_id}/stop") => (Need::Write, Ns::Query, json!({})),
        ("GET", "/api/v1/api-keys") => (Need::Admin, Ns::None, Value::Null),
        ("POST", "/api/v1/api-keys") => (
            Need::Admin,
            Ns::None,
            json!({"name": "x", "scopes": ["nomad:read"]}),
        ),
        ("DELETE", "/api/v1/api-keys/{key_id}") => (Need::Admin, Ns::None, Value::Null),
        ("GET", "/api/v1/audit") => (Need::Admin, Ns::None, Value::Null),
        ("GET", "/api/v1/cluster") => (Need::Cluster, Ns::None, Value::Null),
        ("GET", "/api/v1/problems") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/search") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs/{job_id}/logs/search") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs/{job_id}/logs/follow") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/allocations/{alloc_id}/usage") => (Need::Read, Ns::Query, Value::Null),
        ("POST", "/api/v1/allocations/{alloc_id}/signal") => {
            (Need::Write, Ns::Query, json!({"signal": "SIGHUP"}))
        }
        ("GET", "/api/v1/cluster/identity") => (Need::Cluster, Ns::None, Value::Null),
        ("GET", "/api/v1/volumes") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/volumes/{volume_id}") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/scaling-policies") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/node-pools") => (Need::Cluster, Ns::None, Value::Null),
        ("POST", "/api/v1/nodes/{node_id}/purge") => (Need::Nodes, Ns::None, Value::Null),
        ("POST", "/api/v1/deployments/{deployment_id}/pause") => {
            (Need::Write, Ns::Query, Value::Null)
        }
        ("POST", "/api/v1/deployments/{deployment_id}/unblock") => {
            (Need::Write, Ns::Query, Value::Null)
        }
        ("POST", "/api/v1/deployments/{deployment_id}/allocation-health") => (
            Need::Write,
            Ns::Query,
            json!({"healthy": ["00000000-0000-0000-0000-000000000001"]}),
        ),
        ("GET", "/api/v1/deployments/{deployment_id}") => (Need::Read, Ns::Query, Value::Null),
        ("POST", "/api/v1/deployments/{deployment_id}/fail") => (Need::Write, Ns::Query, json!({})),
        ("POST", "/api/v1/deployments/{deployment_id}/promote") => {
            (Need::Write, Ns::Query, json!({}))
        }
        ("GET", "/api/v1/evaluations/{eval_id}") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/events") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs") => (Need::Read, Ns::Query, Value::Null),
        ("PUT", "/api/v1/jobs") => (Need::Write, Ns::Body, json!({"job": job})),
        ("POST", "/api/v1/jobs") => (
            Need::Write,
            Ns::Body,
            json!({"job_id": "web", "image": "nginx"}),
        ),
        ("POST", "/api/v1/jobs/plan") => (Need::Read, Ns::Body, json!({"job": job})),
        ("GET", "/api/v1/jobs/{job_id}") => (Need::Read, Ns::Query, Value::Null),
        ("DELETE", "/api/v1/jobs/{job_id}") => (Need::Write, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs/{job_id}/allocations") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs/{job_id}/deployments") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs/{job_id}/diagnosis") => (Need::Read, Ns::Query, Value::Null),
        ("POST", "/api/v1/jobs/{job_id}/dispatch") => (Need::Write, Ns::Query, json!({})),
        ("POST", "/api/v1/jobs/{job_id}/evaluate") => (Need::Write, Ns::Query, json!({})),
        ("GET", "/api/v1/jobs/{job_id}/evaluations") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs/{job_id}/logs") => (Need::Read, Ns::Query, Value::Null),
        ("POST", "/api/v1/jobs/{job_id}/restart") => (Need::Write, Ns::Query, json!({})),
        ("POST", "/api/v1/jobs/{job_id}/revert") => (Need::Write, Ns::Query, json!({"version": 0})),
        ("POST", "/api/v1/jobs/{job_id}/scale") => (Need::Write, Ns::Query, json!({"count": 1})),
        ("GET", "/api/v1/jobs/{job_id}/versions") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs/{job_id}/timeline") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/jobs/{job_id}/versions/compare") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/namespaces") => (Need::Cluster, Ns::None, Value::Null),
        ("GET", "/api/v1/services") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/services/{service_name}") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/variables") => (Need::Read, Ns::Query, Value::Null),
        ("GET", "/api/v1/variables/{path}") => (Need::Read, Ns::Query, Value::Null),
        ("PUT", "/api/v1/variables/{path}") => {
            (Need::Variables, Ns::Body, json!({"items": {"a": "b"}}))
        }
        ("DELETE", "/api/v1/variables/{path}") => (Need::Variables, Ns::Query, Value::Null),
        ("GET", "/api/v1/nodes") => (Need::Cluster, Ns::None, Value::Null),
        ("GET", "/api/v1/nodes/{node_id}") => (Need::Cluster, Ns::None, Value::Null),
        ("POST", "/api/v1/nodes/{node_id}/drain") => (Need::Nodes, Ns::None, json!({})),
        ("GET", "/api/v1/operations") => (Need::Read, Ns::None, Value::Null),
        ("GET", "/api/v1/operations/{operation_id}") => (Need::Read, Ns::None, Value::Null),
        ("GET", "/api/v1/operations/{operation_id}/events") => (Need::Read, Ns::None, Value::Null),
        ("POST", "/api/v1/operations/{operation_id}/cancel") => (Need::Write, Ns::None, json!({})),
        ("PUT", "/api/v1/nodes/{node_id}/eligibility") => {
            (Need::Nodes, Ns::None, json!({"eligible": true}))
        }
        ("PATCH", "/api/v1/nodes/{node_id}/meta") => {
            (Need::Nodes, Ns::None, json!({"meta": {"a": "b"}}))
        }
        _ => return None,
    })
}

fn concrete(path: &str) -> String {
    path.replace("{job_id}", "web")
        .replace("{alloc_id}", "00000000-0000-0000-0000-000000000001")
        .replace("{deployment_id}", "00000000-0000-0000-0000-000000000002")
        .replace("{eval_id}", "00000000-0000-0000-0000-000000000003")
        .replace("{node_id}", "00000000-0000-0000-0000-000000000004")
        .replace("{key_id}", "00000000-0000-0000-0000-000000000005")
        .replace("{operation_id}", "00000000-0000-0000-0000-000000000006")
        .replace("{service_name}", "web")
        .replace("{path}", "app/config")
        .replace("{volume_id}", "vol1")
}

#[allow(clippy::too_many_arguments)]
async fn call(
    http: &reqwest::Client,
    gateway: &Gateway,
    method: &str,
    path: &str,
    ns: Ns,
    body: &Value,
    token: Option<&str>,
    namespace: &str,
) -> reqwest::Response {
    let mut url = gateway.url(&concrete(path));
    if ns == Ns::Query {
        url.push_str(&format!("?namespace={namespace}"));
    }
    let mut request = http.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if !body.is_null() {
        let mut body = body.clone();
        if ns == Ns::Body {
            body["namespace"] = json!(namespace);
        }
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_route_checks_the_credential_scope_and_namespace() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let (_, reader) = create_key(&env, &["nomad:read"], &["default"], None);
    let (_, writer) = create_key(&env, &["nomad:read", "nomad:write"], &["default"], None);
    let (_, nodes) = create_key(
        &env,
        &["nomad:read", "nomad:write", "nodes:write"],
        &["default"],
        None,
    );
    let (_, admin_only) = create_key(&env, &["admin"], &["*"], None);
    let every_scope = [
        "nomad:read",
        "nomad:write",
        "nodes:write",
        "variables:read",
        "variables:write",
        "admin",
    ];
    let (_, everything) = create_key(&env, &every_scope, &["*"], None);
    let (_, other_ns) = create_key(&env, &every_scope, &["dev"], None);
    let (revoked_id, revoked) = create_key(&env, &["nomad:read"], &["*"], None);
    let (code, _, stderr) = run(&["api-key", "revoke", &revoked_id], &env);
    assert_eq!(code, 0, "{stderr}");
    let (_, expired) = create_key(&env, &["nomad:read"], &["*"], Some("1s"));
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let spec = json_of(http.get(gateway.url("/openapi.json"))).await;
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let (need, ns, body) = route(&method, path)
                .unwrap_or_else(|| panic!("{method} {path} is missing from the auth matrix"));
            let case = |what: &str, status: u16| format!("{method} {path} with {what}: {status}");

            for (what, token) in [
                ("no credential", None),
                ("a malformed key", Some("ngw_broken")),
                (
                    "an unknown key",
                    Some("ngw_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ),
                ("a revoked key", Some(revoked.as_str())),
                ("an expired key", Some(expired.as_str())),
                (
                    "a JWT nobody signs here",
                    Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),
                ),
            ] {
                let response =
                    call(&http, &gateway, &method, path, ns, &body, token, "default").await;
                let status = response.status().as_u16();
                assert_eq!(status, 401, "{}", case(what, status));
                let challenge = response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .to_string();
                assert!(challenge.contains("resource_metadata=\""), "{challenge}");
            }

            let lacking = match need {
                Need::Read | Need::Cluster => &admin_only,
                Need::Write => &reader,
                Need::Nodes | Need::Variables => &writer,
                Need::Admin => &nodes,
            };
            let response = call(
                &http,
                &gateway,
                &method,
                path,
                ns,
                &body,
                Some(lacking),
                "default",
            )
            .await;
            let status = response.status().as_u16();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let text = response.text().await.unwrap();
            assert_eq!(
                status,
                403,
                "{} {text}",
                case("a key lacking the scope", status)
            );
            assert!(text.contains("insufficient_scope"), "{text}");
            // RFC 6750 §3.1: the challenge names the missing scope.
            assert!(
                challenge.contains("error=\"insufficient_scope\"")
                    && challenge.contains("scope=\""),
                "{method} {path}: {challenge:?}"
            );

            if ns != Ns::None {
                let response = call(
                    &http,
                    &gateway,
                    &method,
                    path,
                    ns,
                    &body,
                    Some(&other_ns),
                    "default",
                )
                .await;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                assert_eq!(
                    status,
                    403,
                    "{} {text}",
                    case("a key for another namespace", status)
                );
                assert!(text.contains("'default'"), "{text}");
            }

            let response = call(
                &http,
                &gateway,
                &method,
                path,
                ns,
                &body,
                Some(&everything),
                "default",
            )
            .await;
            let status = response.status().as_u16();
            assert!(
                status != 401 && status != 403,
                "{} {}",
                case("a valid key", status),
                response.text().await.unwrap()
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} routes");

    // A token in the URL is refused even when it is valid.
    let status = http
        .get(gateway.url(&format!("/api/v1/jobs?access_token={everything}")))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    // Public routes need nothing.
    for path in [
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/.well-known/oauth-protected-resource",
    ] {
        let status = http.get(gateway.url(path)).send().await.unwrap().status();
        assert!(status.is_success(), "{path}: {status}");
    }
    let metadata =
        json_of(http.get(gateway.url("/.well-known/oauth-protected-resource/mcp"))).await;
    assert!(
        metadata["resource"].as_str().unwrap().ends_with("/mcp"),
        "{metadata}"
    );
    assert!(
        metadata["scopes_supported"]
            .to_string()
            .contains("nomad:write")
    );
}

#[tokio::test]
async fn listings_show_only_allowed_namespaces() {
    let fake = FakeNomad::start(Options {
        namespaces: vec!["dev".into(), "prod".into()],
        ..Options::default()
    })
    .await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let (_, admin) = create_key(&env, &["nomad:read", "nomad:write"], &["*"], None);
    let (_, dev) = create_key(&env, &["nomad:read"], &["dev"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    for ns in ["dev", "prod"] {
        let response = http
            .post(gateway.url("/api/v1/jobs"))
            .bearer_auth(&admin)
            .json(&json!({"job_id": format!("app-{ns}"), "image": "nginx", "namespace": ns}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    let jobs = json_of(
        http.get(gateway.url("/api/v1/jobs?namespace=*"))
            .bearer_auth(&dev),
    )
    .await;
    let ids: Vec<&str> = jobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["app-dev"], "{jobs}");
    let namespaces = json_of(
        http.get(gateway.url("/api/v1/namespaces"))
            .bearer_auth(&dev),
    )
    .await;
    let names: Vec<&str> = namespaces["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["dev"], "{namespaces}");
    // An allocation of prod, asked for through dev: it does not exist for this caller.
    let allocs = json_of(
        http.get(gateway.url("/api/v1/jobs/app-prod/allocations?namespace=prod"))
            .bearer_auth(&admin),
    )
    .await;
    let alloc_id = allocs["items"][0]["id"].as_str().unwrap();
    let response = http
        .get(gateway.url(&format!("/api/v1/allocations/{alloc_id}?namespace=dev")))
        .bearer_auth(&dev)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn services_and_checks_are_read_only_in_allowed_namespaces() {
    let fake = FakeNomad::start(Options {
        namespaces: vec!["dev".into(), "prod".into()],
        ..Options::default()
    })
    .await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let (_, admin) = create_key(&env, &["nomad:read", "nomad:write"], &["*"], None);
    let (_, dev) = create_key(&env, &["nomad:read"], &["dev"], None);
    let (_, dev_writer) = create_key(&env, &["nomad:read", "nomad:write"], &["dev"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    for ns in ["dev", "prod"] {
        let response = http
            .post(gateway.url("/api/v1/jobs"))
            .bearer_auth(&admin)
            .json(
                &json!({"job_id": format!("app-{ns}"), "image": "nginx", "namespace": ns,
                           "ports": [{"label": "http", "to": 80}],
                           "health_check": {"path": "/health"}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    fake.settle(Duration::from_secs(10)).await;
    let status = |path: String, token: String| {
        let http = http.clone();
        let url = gateway.url(&path);
        async move {
            let response = http.get(url).bearer_auth(token).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // The admin sees prod's service; the dev caller is refused there, naming prod.
    let (code, body) = status(
        "/api/v1/services/app-prod?namespace=prod".into(),
        admin.clone(),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let prod: Value = serde_json::from_str(&body).unwrap();
    let alloc_id = prod["instances"][0]["alloc_id"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        "/api/v1/services?namespace=prod".to_string(),
        "/api/v1/services/app-prod?namespace=prod".to_string(),
        format!("/api/v1/allocations/{alloc_id}/checks?namespace=prod"),
    ] {
        let (code, body) = status(path.clone(), dev.clone()).await;
        assert_eq!(code, 403, "{path}: {body}");
        assert!(body.contains("'prod'"), "{path}: {body}");
    }
    // Across namespaces it sees only its own; prod's allocation does not exist for it.
    let (code, body) = status("/api/v1/services?namespace=*".into(), dev.clone()).await;
    assert_eq!(code, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed["items"],
        json!([{"name": "app-dev", "namespace": "dev", "tags": []}]),
        "{listed:#}"
    );
    for namespace in ["dev", "*"] {
        for part in ["/checks", ""] {
            let path = format!("/api/v1/allocations/{alloc_id}{part}?namespace={namespace}");
            let (code, body) = status(path.clone(), dev.clone()).await;
            assert_eq!(code, 404, "{path}: {body}");
        }
        // Nor can it act on it: restart and stop find nothing either.
        for action in ["restart", "stop"] {
            let path = format!("/api/v1/allocations/{alloc_id}/{action}?namespace={namespace}");
            let response = http
                .post(gateway.url(&path))
                .bearer_auth(&dev_writer)
                .send()
                .await
                .unwrap();
            let code = response.status().as_u16();
            assert_eq!(code, 404, "{path}: {}", response.text().await.unwrap());
        }
    }
    let stops: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.path.contains(&alloc_id))
        .collect();
    assert!(stops.is_empty(), "nothing reached Nomad: {stops:?}");
}

#[tokio::test]
async fn the_first_start_prints_one_admin_key_that_never_reaches_the_logs() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let gateway = Gateway::start(&env);
    gateway
        .wait_for_log("ngw_bootstrap_", Duration::from_secs(5))
        .await;
    let logs = gateway.logs();
    let key = logs
        .split_whitespace()
        .find(|w| w.starts_with("ngw_bootstrap_"))
        .unwrap()
        .to_string();
    let lines_with_key: Vec<&str> = logs.lines().filter(|l| l.contains(&key)).collect();
    assert_eq!(lines_with_key.len(), 1, "{logs}");
    assert!(
        serde_json::from_str::<Value>(lines_with_key[0]).is_err(),
        "the key is in a log record"
    );
    let http = reqwest::Client::new();
    let keys = http
        .get(gateway.url("/api/v1/api-keys"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), 200);
    let listed = keys.text().await.unwrap();
    assert!(
        !listed.contains(&key[14..]),
        "the secret is listed: {listed}"
    );
    drop(gateway);

    // A second start finds keys and prints none.
    let again = Gateway::start(&env);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!again.logs().contains("ngw_bootstrap_"), "{}", again.logs());
}

#[tokio::test]
async fn a_revoked_key_stops_working_on_another_process_within_five_seconds() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let env = auth_env(&db, &fake);
    let (id, key) = create_key(&env, &["nomad:read"], &["*"], None);
    let (_, admin) = create_key(&env, &["admin"], &["*"], None);
    let first = Gateway::start(&env);
    let second = Gateway::start(&env);
    let http = reqwest::Client::new();
    for g in [&first, &second] {
        let status = http
            .get(g.url("/api/v1/jobs"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let response = http
        .delete(first.url(&format!("/api/v1/api-keys/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let started = std::time::Instant::now();
    loop {
        let status = http
            .get(second.url("/api/v1/jobs"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still accepted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn read_only_gateways_refuse_every_write() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "GATEWAY_AUTH", "off");
    set(&mut env, "GATEWAY_READ_ONLY", "true");
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let response = http
        .post(gateway.url("/api/v1/jobs"))
        .json(&json!({"job_id": "web", "image": "nginx"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("read-only"));
    assert_eq!(
        http.get(gateway.url("/api/v1/jobs"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "a write reached Nomad"
    );
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "GATEWAY_RATE_LIMIT_WRITES", "2");
    set(&mut env, "GATEWAY_RATE_LIMIT_READS", "5");
    let (_, key) = create_key(&env, &["nomad:read", "nomad:write"], &["*"], None);
    let (_, other) = create_key(&env, &["nomad:read", "nomad:write"], &["*"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let write = |token: String| {
        let http = http.clone();
        let url = gateway.url("/api/v1/jobs/web/evaluate");
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_ne!(write(key.clone()).await.status(), 429);
    assert_ne!(write(key.clone()).await.status(), 429);
    let limited = write(key.clone()).await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_ne!(
        write(other.clone()).await.status(),
        429,
        "budgets are per caller"
    );
    // Reads have their own budget.
    for _ in 0..5 {
        assert_eq!(
            http.get(gateway.url("/api/v1/jobs"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        http.get(gateway.url("/api/v1/jobs"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
}

#[test]
fn auth_off_is_refused_on_a_public_listener() {
    let db_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", db_dir.path().display());
    let env: Vec<(String, String)> = [
        ("GATEWAY_LISTEN", "0.0.0.0:8080"),
        ("GATEWAY_AUTH", "off"),
        ("DATABASE_URL", url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (code, _, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("GATEWAY_AUTH") && stderr.contains("loopback"),
        "{stderr}"
    );
}

#[tokio::test]
async fn repeated_bad_credentials_are_slowed_down() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "GATEWAY_RATE_LIMIT_AUTH_FAILURES", "5");
    let (_, key) = create_key(&env, &["nomad:read"], &["*"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let response = http
            .get(gateway.url("/api/v1/jobs"))
            .bearer_auth("ngw_guess_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let slowed = http.get(gateway.url("/api/v1/jobs")).send().await.unwrap();
    assert_eq!(slowed.status(), 429);
    assert!(slowed.headers().contains_key("retry-after"));
    // A valid credential from the same address is still served.
    let ok = http
        .get(gateway.url("/api/v1/jobs"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_submission_costs_one_write_from_the_budget() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "GATEWAY_RATE_LIMIT_WRITES", "2");
    let (_, key) = create_key(&env, &["nomad:read", "nomad:write"], &["*"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let job = json!({"job": {"ID": "api", "TaskGroups": [{"Name": "g", "Tasks": [
        {"Name": "t", "Driver": "docker", "Config": {"image": "nginx"}}]}]}});
    for _ in 0..2 {
        let response = http
            .put(gateway.url("/api/v1/jobs"))
            .bearer_auth(&key)
            .json(&job)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    let third = http
        .put(gateway.url("/api/v1/jobs"))
        .bearer_auth(&key)
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 429);
}

#[tokio::test]
async fn a_waiting_write_costs_one_write_and_no_read() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "GATEWAY_RATE_LIMIT_WRITES", "2");
    set(&mut env, "GATEWAY_RATE_LIMIT_READS", "1");
    let (_, key) = create_key(&env, &["nomad:read", "nomad:write"], &["*"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::new();
    let job = json!({"job": {"ID": "api", "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [
        {"Name": "t", "Driver": "docker", "Config": {"image": "nginx"}}]}]}});
    // The wait follows the operation to its end (many looks at it) without a read.
    let waited = http
        .put(gateway.url("/api/v1/jobs?wait=60"))
        .bearer_auth(&key)
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(waited.status(), 200);
    let waited: Value = waited.json().await.unwrap();
    assert_eq!(waited["operation"]["finished"], true, "{waited:#}");
    // The one read of the budget is still there; the second read is over it.
    let read = |path: &'static str| http.get(gateway.url(path)).bearer_auth(&key).send();
    assert_eq!(read("/api/v1/jobs").await.unwrap().status(), 200);
    assert_eq!(read("/api/v1/jobs").await.unwrap().status(), 429);
    // The waiting write took one write: one more goes through, the next does not.
    let second = http
        .put(gateway.url("/api/v1/jobs"))
        .bearer_auth(&key)
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    let third = http
        .put(gateway.url("/api/v1/jobs"))
        .bearer_auth(&key)
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 429);
}

/// A 503 saying the gateway's own database is unavailable, with `Retry-After`.
async fn database_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"], "urn:nomad-gateway:problem:database-unavailable",
        "{body:#}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("gateway's database is unavailable"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL with Postgres; tests/run.sh runs it"]
async fn a_database_outage_while_checking_a_key_is_a_503_on_every_transport() {
    let db = TestDb::new().await;
    let (proxy, proxied) = crate::support::Proxy::for_database(&db).await;
    let fake = FakeNomad::start(Options::default()).await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "DATABASE_URL", &proxied);
    // One refused credential per address at most: an outage must not count as one.
    set(&mut env, "GATEWAY_RATE_LIMIT_AUTH_FAILURES", "1");
    let (_, key) = create_key(&env, &["nomad:read"], &["*"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let jobs = || {
        http.get(gateway.url("/api/v1/jobs"))
            .bearer_auth(&key)
            .send()
    };
    assert_eq!(jobs().await.unwrap().status(), 200);
    proxy.cut();
    // Past the key cache, so the key has to be looked up again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for _ in 0..2 {
        database_unavailable(jobs().await.unwrap()).await;
    }
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "outage", "version": "1"}}});
    let streamable = http
        .post(gateway.url("/mcp"))
        .bearer_auth(&key)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    database_unavailable(streamable).await;
    let sse = http
        .get(gateway.url("/sse"))
        .bearer_auth(&key)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    database_unavailable(sse).await;
    proxy.restore();
    // Back as soon as the pool reconnects; and never counted as refused credentials (the
    // limit of one would answer 429 by now).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = jobs().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            std::time::Instant::now() < deadline,
            "the database came back, the key did not"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

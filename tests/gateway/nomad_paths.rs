//! The paths the gateway sends Nomad, as the fake's request log saw them: job ids escaped
//! as Nomad's own Go client escapes them (`url.PathEscape`), and a job's parts (its
//! deployment, summary, allocations...) answered as Nomad answers them, so a job that
//! exists is never reported missing.

use fake_nomad::{FakeNomad, FaultKind, Faults, Options};
use http::{Method, StatusCode};
use nomad_gateway::config::NomadSettings;
use nomad_gateway::nomad::{NomadClient, NomadError, QueryOptions};
use serde_json::{Value, json};

use crate::in_process::{Answer, InProcess};

/// A GET through the whole application, from a loopback client (with its `Host`).
async fn get(gateway: &InProcess, path: &str) -> Answer {
    let request = http::Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("host", "127.0.0.1")
        .body(axum::body::Body::empty())
        .unwrap();
    gateway.send(request).await
}

/// A job straight into the fake (ids the gateway's own spec would refuse, a batch job).
async fn register(fake: &FakeNomad, job: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/jobs", fake.url()))
        .json(&json!({ "Job": job }))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

fn job(id: &str, job_type: &str, memory: u64) -> Value {
    json!({
        "ID": id, "Type": job_type, "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "app", "Count": 1, "Tasks": [{
            "Name": "server", "Driver": "docker", "Config": {"image": "nginx"},
            "Resources": {"CPU": 100, "MemoryMB": memory}
        }]}]
    })
}

/// The raw paths of the GET requests the fake saw, in order.
fn gets(fake: &FakeNomad) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn job_ids_reach_nomad_escaped_only_where_go_url_path_escape_escapes() {
    let fake = FakeNomad::start(Options::default()).await;
    // Ids Nomad accepts (it refuses only spaces and NUL): unreserved characters and the
    // sub-delims PathEscape leaves alone, and a `/` as in a dispatched child's id.
    register(&fake, job("a-b.c_d~e:f@g$h&i+j=k", "service", 128)).await;
    register(&fake, job("batch/dispatch-1", "batch", 128)).await;
    let gateway = InProcess::start(&fake, &[]).await;

    // (REST path, job id, the path Nomad must see, whether the job exists)
    let cases = [
        (
            "/api/v1/jobs/does-not-exist",
            "does-not-exist",
            "/v1/job/does-not-exist",
            false,
        ),
        (
            "/api/v1/jobs/a-b.c_d~e:f@g$h&i+j=k",
            "a-b.c_d~e:f@g$h&i+j=k",
            "/v1/job/a-b.c_d~e:f@g$h&i+j=k",
            true,
        ),
        (
            "/api/v1/jobs/batch%2Fdispatch-1",
            "batch/dispatch-1",
            "/v1/job/batch%2Fdispatch-1",
            true,
        ),
        (
            "/api/v1/jobs/with%20space",
            "with space",
            "/v1/job/with%20space",
            false,
        ),
        (
            "/api/v1/jobs/semi;comma,bang!",
            "semi;comma,bang!",
            "/v1/job/semi%3Bcomma%2Cbang%21",
            false,
        ),
    ];
    for (rest, id, nomad, exists) in cases {
        fake.clear_requests();
        let answer = get(&gateway, rest).await;
        if exists {
            assert_eq!(answer.status, StatusCode::OK, "{rest}: {}", answer.body);
            assert_eq!(answer.body["id"], id, "{rest}: {}", answer.body);
        } else {
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{rest}: {}",
                answer.body
            );
            let detail = answer.body["detail"].as_str().unwrap_or_default();
            assert!(
                detail.starts_with(&format!("job '{id}' not found in namespace 'default'")),
                "{rest}: {detail}"
            );
        }
        // The job, its summary and its latest deployment, read together; never a
        // character escaped that PathEscape leaves as it is.
        let seen = gets(&fake);
        for suffix in ["", "/summary", "/deployment"] {
            let want = format!("{nomad}{suffix}");
            assert!(seen.contains(&want), "{rest}: no GET {want} in {seen:?}");
        }
        for path in seen.iter().filter(|p| p.starts_with("/v1/job/")) {
            assert!(path.starts_with(nomad), "{rest}: {path}");
        }
    }

    // The same bytes from the client itself, for every part of a job it reads.
    let client = NomadClient::new(&NomadSettings::for_addr(&fake.url())).unwrap();
    let options = QueryOptions::default();
    fake.clear_requests();
    let id = "a-b.c_d~e:f@g$h&i+j=k";
    client.read_job(id, &options).await.unwrap();
    client.job_summary(id, &options).await.unwrap();
    client.job_allocations(id, false, &options).await.unwrap();
    client.job_evaluations(id, &options).await.unwrap();
    client.job_deployments(id, &options).await.unwrap();
    client.job_latest_deployment(id, &options).await.unwrap();
    client
        .job_versions(id, false, None, &options)
        .await
        .unwrap();
    let base = "/v1/job/a-b.c_d~e:f@g$h&i+j=k";
    let expected: Vec<String> = [
        "",
        "/summary",
        "/allocations",
        "/evaluations",
        "/deployments",
        "/deployment",
        "/versions",
    ]
    .iter()
    .map(|suffix| format!("{base}{suffix}"))
    .collect();
    assert_eq!(gets(&fake), expected);
}

#[tokio::test]
async fn dot_segments_are_refused_before_anything_is_sent() {
    let fake = FakeNomad::start(Options::default()).await;
    let client = NomadClient::new(&NomadSettings::for_addr(&fake.url())).unwrap();
    for id in [".", ".."] {
        let error = client
            .read_job(id, &QueryOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(error, NomadError::BadRequest { .. }), "{error}");
        let error = client
            .job_summary(id, &QueryOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(error, NomadError::BadRequest { .. }), "{error}");
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    // Dots inside an id are ordinary characters.
    let error = client
        .read_job("...", &QueryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, NomadError::NotFound { .. }), "{error}");
    assert_eq!(gets(&fake), ["/v1/job/..."]);
}

#[tokio::test]
async fn a_job_without_a_deployment_or_allocations_exists() {
    let fake = FakeNomad::start(Options::default()).await;
    // A batch job (Nomad never deploys one) and a service job too big to place (no
    // allocation; its deployment waits for placements).
    register(&fake, job("report", "batch", 128)).await;
    register(&fake, job("big", "service", 100_000)).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    let gateway = InProcess::start(&fake, &[]).await;

    {
        let id = "report";
        fake.clear_requests();
        let answer = get(&gateway, &format!("/api/v1/jobs/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{id}: {}", answer.body);
        assert_eq!(answer.body["id"], id);
        assert!(
            answer.body["latest_deployment"].is_null(),
            "{id}: {}",
            answer.body
        );
        // Nomad's answer for the deployment was 200 `null`, not a 404.
        let asked = fake
            .requests()
            .into_iter()
            .find(|r| r.path == format!("/v1/job/{id}/deployment"))
            .expect("the latest deployment was read");
        assert_eq!(asked.status, 200);

        let deployments = get(&gateway, &format!("/api/v1/jobs/{id}/deployments")).await;
        assert_eq!(deployments.status, StatusCode::OK, "{}", deployments.body);
        assert_eq!(deployments.body["items"], json!([]));
    }
    let allocations = get(&gateway, "/api/v1/jobs/big/allocations").await;
    assert_eq!(allocations.status, StatusCode::OK, "{}", allocations.body);
    assert_eq!(allocations.body["items"], json!([]));

    // Nomad answers `[]` for the lists of a job it does not have; the gateway asks the
    // job itself, so this is "job not found" with the similar names, not an empty page.
    for part in ["allocations", "deployments", "evaluations"] {
        let missing = get(&gateway, &format!("/api/v1/jobs/reprot/{part}")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
        assert_eq!(
            missing.body["detail"],
            "job 'reprot' not found in namespace 'default'; jobs with a similar name: report",
            "{part}"
        );
    }
    let versions = get(&gateway, "/api/v1/jobs/reprot/versions").await;
    assert_eq!(versions.status, StatusCode::NOT_FOUND, "{}", versions.body);
}

#[tokio::test]
async fn a_404_from_a_part_of_an_existing_job_names_the_part() {
    let fake = FakeNomad::start(Options::default()).await;
    register(&fake, job("web", "service", 128)).await;
    fake.settle(std::time::Duration::from_secs(5)).await;
    let gateway = InProcess::start(&fake, &[]).await;

    // A proxy in front of Nomad refusing one path of the job: the job exists, so the
    // answer says which part failed (502), never "job not found".
    for (prefix, rest, part) in [
        (
            "/v1/job/web/deployment",
            "/api/v1/jobs/web",
            "latest deployment",
        ),
        ("/v1/job/web/summary", "/api/v1/jobs/web", "summary"),
        (
            "/v1/job/web/allocations",
            "/api/v1/jobs/web/allocations",
            "allocations",
        ),
        (
            "/v1/job/web/versions",
            "/api/v1/jobs/web/versions",
            "versions",
        ),
    ] {
        fake.set_faults(Faults {
            error_rate: 1.0,
            error_kind: FaultKind::NotFound,
            path_prefix: prefix.into(),
            ..Faults::default()
        });
        let answer = get(&gateway, rest).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_GATEWAY,
            "{rest}: {}",
            answer.body
        );
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!(
                "job 'web' exists in namespace 'default', but Nomad answered 404 for its {part} ("
            )),
            "{rest}: {detail}"
        );
        assert!(!detail.contains("not found in namespace"), "{detail}");
    }

    // The same refusal for a job that is not there: that is "job not found".
    fake.set_faults(Faults {
        error_rate: 1.0,
        error_kind: FaultKind::NotFound,
        path_prefix: "/v1/job/gone/allocations".into(),
        ..Faults::default()
    });
    let answer = get(&gateway, "/api/v1/jobs/gone/allocations").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("job 'gone' not found in namespace 'default'"),
        "{}",
        answer.body
    );
}

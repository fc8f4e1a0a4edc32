//! The Nomad client against the fake Nomad: TLS set up as the Nomad CLI reads it, ACL
//! errors, token rotation, log tails, blocking queries and injected faults.

use std::time::{Duration, Instant};

use fake_nomad::{Capability, FakeNomad, FaultKind, Faults, Options, TlsOptions, Token};
use nomad_gateway::config::{NomadSettings, Secret};
use nomad_gateway::nomad::{
    JobRegistration, LogRequest, NomadClient, NomadError, QueryOptions, RetryPolicy,
};
use serde_json::json;

use crate::support::{Ca, Leaf, write};

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}

fn tls_fake(leaf: &Leaf, client_ca: Option<String>) -> Options {
    Options {
        tls: Some(TlsOptions {
            cert_pem: leaf.cert_pem.clone(),
            key_pem: leaf.key_pem.clone(),
            client_ca_pem: client_ca,
        }),
        ..Options::default()
    }
}

fn job(id: &str, memory: u64) -> serde_json::Value {
    json!({
        "ID": id, "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "app", "Count": 1, "Tasks": [{
            "Name": "server", "Driver": "docker", "Config": {"image": "nginx"},
            "Resources": {"CPU": 100, "MemoryMB": memory}
        }]}]
    })
}

async fn leader(client: &NomadClient) -> Result<String, NomadError> {
    client.leader(Duration::from_secs(5)).await
}

#[tokio::test]
async fn tls_trusts_a_bundle_of_several_cas_and_only_it() {
    let (ca, other, third) = (
        Ca::new("Nomad CA"),
        Ca::new("Other CA"),
        Ca::new("Third CA"),
    );
    let fake = FakeNomad::start(tls_fake(&ca.server("nomad"), None)).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = format!("{}{}{}", other.cert_pem(), ca.cert_pem(), third.cert_pem());
    let mut s = NomadSettings::for_addr(&fake.url());
    s.ca_cert = Some(write(dir.path(), "bundle.pem", &bundle));
    let client = NomadClient::new(&s).unwrap();
    assert_eq!(leader(&client).await.unwrap(), "127.0.0.1:4647");

    // The same server, but the bundle lacks its CA: refused, and the error names the
    // variable and the file so the operator knows what to fix.
    s.ca_cert = Some(write(
        dir.path(),
        "wrong.pem",
        &format!("{}{}", other.cert_pem(), third.cert_pem()),
    ));
    let client = NomadClient::new(&s).unwrap();
    let error = leader(&client).await.unwrap_err().to_string();
    assert!(error.contains("NOMAD_CACERT"), "{error}");
    assert!(error.contains("wrong.pem"), "{error}");
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

#[tokio::test]
async fn tls_reads_a_ca_folder() {
    let (ca, other) = (Ca::new("Nomad CA"), Ca::new("Other CA"));
    let fake = FakeNomad::start(tls_fake(&ca.server("nomad"), None)).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a-other.pem", &other.cert_pem());
    write(dir.path(), "b-nomad.pem", &ca.cert_pem());
    let mut s = NomadSettings::for_addr(&fake.url());
    s.ca_path = Some(dir.path().to_path_buf());
    assert!(leader(&NomadClient::new(&s).unwrap()).await.is_ok());
}

#[tokio::test]
async fn tls_presents_the_client_certificate_when_nomad_requires_one() {
    let ca = Ca::new("Nomad CA");
    let fake = FakeNomad::start(tls_fake(&ca.server("nomad"), Some(ca.cert_pem()))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = NomadSettings::for_addr(&fake.url());
    s.ca_cert = Some(write(dir.path(), "ca.pem", &ca.cert_pem()));

    // Without a client certificate the handshake fails.
    let error = leader(&NomadClient::new(&s).unwrap()).await.unwrap_err();
    assert!(matches!(error, NomadError::Unavailable { .. }), "{error}");

    let identity = ca.client("gateway");
    s.client_cert = Some(write(dir.path(), "client.pem", &identity.cert_pem));
    s.client_key = Some(write(dir.path(), "client-key.pem", &identity.key_pem));
    assert!(leader(&NomadClient::new(&s).unwrap()).await.is_ok());
}

#[tokio::test]
async fn tls_server_name_checks_the_name_nomad_certificates_carry() {
    let ca = Ca::new("Nomad CA");
    // Nomad's own certificates name the role and region, not the host.
    let fake = FakeNomad::start(tls_fake(&ca.leaf(&["server.global.nomad"], "nomad"), None)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = NomadSettings::for_addr(&fake.url());
    s.ca_cert = Some(write(dir.path(), "ca.pem", &ca.cert_pem()));
    let error = leader(&NomadClient::new(&s).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    s.tls_server_name = Some("server.global.nomad".into());
    assert!(leader(&NomadClient::new(&s).unwrap()).await.is_ok());
}

#[tokio::test]
async fn skip_verify_accepts_any_certificate() {
    let stranger = Ca::new("Unknown CA");
    let fake = FakeNomad::start(tls_fake(
        &stranger.leaf(&["elsewhere.example"], "nomad"),
        None,
    ))
    .await;
    let mut s = NomadSettings::for_addr(&fake.url());
    s.skip_verify = true;
    assert!(leader(&NomadClient::new(&s).unwrap()).await.is_ok());
}

fn acl_options() -> Options {
    Options {
        tokens: vec![
            Token::management("root-secret"),
            Token::namespace("reader-secret", &["default"], Capability::Read),
        ],
        ..Options::default()
    }
}

#[tokio::test]
async fn a_missing_or_weak_token_is_a_permission_error_naming_the_operation() {
    let fake = FakeNomad::start(acl_options()).await;
    let dir = tempfile::tempdir().unwrap();

    let anonymous = NomadClient::new(&NomadSettings::for_addr(&fake.url())).unwrap();
    let error = anonymous
        .list_jobs(&QueryOptions::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, NomadError::PermissionDenied { .. }),
        "{text}"
    );
    assert!(text.contains("list jobs"), "{text}");
    assert!(text.contains("Permission denied"), "{text}");

    let mut s = NomadSettings::for_addr(&fake.url());
    s.token = Some(Secret::new("no-such-token"));
    let error = NomadClient::new(&s)
        .unwrap()
        .list_jobs(&QueryOptions::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("ACL token not found"), "{text}");
    assert!(text.contains("NOMAD_TOKEN"), "{text}");
    assert!(!text.contains("no-such-token"), "the secret leaked: {text}");

    // A read token reads but cannot register.
    s.token = Some(Secret::new("reader-secret"));
    let reader = NomadClient::new(&s).unwrap();
    assert!(reader.list_jobs(&QueryOptions::default()).await.is_ok());
    let error = reader
        .register_job(
            &JobRegistration {
                job: job("web", 128),
                enforce_index: None,
            },
            &QueryOptions::default(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("register"), "{error}");
    assert!(error.contains("Permission denied"), "{error}");

    // A token file that rotates is read again without a restart.
    let file = write(dir.path(), "token", "reader-secret\n");
    let mut s = NomadSettings::for_addr(&fake.url());
    s.token_file = Some(file.clone());
    let client = NomadClient::new(&s).unwrap();
    assert!(
        client
            .register_job(
                &JobRegistration {
                    job: job("web", 128),
                    enforce_index: None
                },
                &QueryOptions::default()
            )
            .await
            .is_err()
    );
    std::fs::write(&file, "root-secret\n").unwrap();
    client
        .register_job(
            &JobRegistration {
                job: job("web", 128),
                enforce_index: None,
            },
            &QueryOptions::default(),
        )
        .await
        .expect("the rotated token is used");
}

#[tokio::test]
async fn the_tail_of_a_100_mb_log_reads_only_its_end() {
    let fake = FakeNomad::start(Options::default()).await;
    let client = NomadClient::new(&NomadSettings::for_addr(&fake.url())).unwrap();
    let mut big = job("chatty", 128);
    big["Meta"] = json!({"fake_nomad_log_bytes": (100u64 << 20).to_string()});
    client
        .register_job(
            &JobRegistration {
                job: big,
                enforce_index: None,
            },
            &QueryOptions::default(),
        )
        .await
        .unwrap();
    fake.settle(Duration::from_secs(5)).await;
    let allocs = client
        .job_allocations("chatty", false, &QueryOptions::default())
        .await
        .unwrap()
        .value;
    let request = LogRequest {
        alloc_id: allocs[0].id.clone(),
        task: "server".into(),
        stream: "stdout".into(),
    };
    fake.clear_requests();
    let started = Instant::now();
    let tail = client
        .log_tail(&request, 64 * 1024, &QueryOptions::default())
        .await
        .unwrap();
    assert!(tail.len() <= 64 * 1024, "{} bytes", tail.len());
    assert!(tail.len() > 60 * 1024, "{} bytes", tail.len());
    let text = String::from_utf8_lossy(&tail);
    let last = text.lines().last().unwrap();
    // 100 MiB of 64-byte lines: the last is number 1638399.
    assert!(last.starts_with("000001638399 "), "{last}");
    let log_reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/client/fs/logs/"))
        .collect();
    assert_eq!(log_reads.len(), 1);
    let (start, end) = log_reads[0].log_range.unwrap();
    assert_eq!(end, 100 << 20);
    assert_eq!(end - start, 64 * 1024, "only the end of the log was read");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_blocking_query_returns_when_the_index_moves_and_not_before() {
    let fake = FakeNomad::start(Options::default()).await;
    let client = NomadClient::new(&NomadSettings::for_addr(&fake.url())).unwrap();
    let first = client.list_jobs(&QueryOptions::default()).await.unwrap();
    let index = first.meta.last_index;
    assert!(index > 0);

    // Nothing changes: the query waits out its `wait`.
    let started = Instant::now();
    let answer = client
        .list_jobs(&QueryOptions::default().blocking(index, Duration::from_millis(600)))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(550),
        "returned after {:?}",
        started.elapsed()
    );
    assert_eq!(answer.meta.last_index, index);

    // A change while it waits: it returns soon after, with the new index.
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = client
                .list_jobs(&QueryOptions::default().blocking(index, Duration::from_secs(30)))
                .await
                .unwrap();
            (started.elapsed(), answer)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "returned before the index moved");
    client
        .register_job(
            &JobRegistration {
                job: job("web", 128),
                enforce_index: None,
            },
            &QueryOptions::default(),
        )
        .await
        .unwrap();
    let (took, answer) = waiting.await.unwrap();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(answer.meta.last_index > index);
    assert_eq!(answer.value.len(), 1);
}

#[tokio::test]
async fn reads_retry_through_faults_and_writes_are_never_repeated() {
    let fake = FakeNomad::start(Options::default()).await;
    let client =
        NomadClient::with_retry_policy(&NomadSettings::for_addr(&fake.url()), fast_retries())
            .unwrap();

    for kind in [FaultKind::ServerError, FaultKind::NoLeader, FaultKind::Drop] {
        fake.clear_requests();
        fake.set_faults(Faults {
            fail_next: 2,
            next_kind: kind,
            ..Faults::default()
        });
        let jobs = client.list_jobs(&QueryOptions::default()).await;
        assert!(jobs.is_ok(), "{kind:?}: {jobs:?}");
        let tries = fake
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/jobs")
            .count();
        assert_eq!(tries, 3, "{kind:?}: two failures, then success");
    }

    // More failures than attempts: the read gives up within its bound.
    fake.set_faults(Faults {
        fail_next: 10,
        next_kind: FaultKind::ServerError,
        ..Faults::default()
    });
    let started = Instant::now();
    let error = client
        .list_jobs(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(error.to_string().contains("injected fault"), "{error}");

    // Writes fail once and are not sent again.
    for kind in [FaultKind::ServerError, FaultKind::Drop] {
        fake.clear_requests();
        fake.set_faults(Faults {
            fail_next: 1,
            next_kind: kind,
            ..Faults::default()
        });
        let result = client
            .register_job(
                &JobRegistration {
                    job: job("web", 128),
                    enforce_index: None,
                },
                &QueryOptions::default(),
            )
            .await;
        assert!(result.is_err(), "{kind:?}");
        let posts = fake
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/jobs" && r.method != "GET")
            .count();
        assert_eq!(posts, 1, "{kind:?}: the write was repeated");
    }

    // Added latency slows reads down but they still succeed.
    fake.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let started = Instant::now();
    client.list_jobs(&QueryOptions::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn readyz_turns_ready_against_the_fake() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = crate::support::TestDb::new().await;
    let mut env = crate::support::base_env(&db);
    crate::support::set(&mut env, "NOMAD_ADDR", &fake.url());
    let gateway = crate::support::Gateway::start(&env);
    let response = reqwest::get(gateway.url("/readyz")).await.unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["nomad"]["status"], "ok", "{body}");
    // Every call carries the W3C trace context, so Tempo links gateway and Nomad spans.
    let leader_call = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/status/leader")
        .expect("readiness asked Nomad for its leader");
    let traceparent = leader_call.traceparent.expect("a traceparent header");
    assert_eq!(traceparent.split('-').count(), 4, "{traceparent}");
}

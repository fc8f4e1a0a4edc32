//! The HTTP server: health, readiness, metrics, request ids, limits, errors, shutdown.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Gateway, TestDb, base_env, set, slow_nomad_leader};

#[tokio::test]
async fn starts_on_the_embedded_default_database_and_answers_healthz() {
    // No DATABASE_URL at all: the default SQLite file appears under data/.
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [
        ("GATEWAY_LISTEN", "127.0.0.1:0"),
        ("GATEWAY_LOG_FORMAT", "json"),
        ("NOMAD_ADDR", "http://127.0.0.1:1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let started = Instant::now();
    let gateway = Gateway::start_in(&env, dir);
    let response = reqwest::get(gateway.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(gateway.dir.path().join("data/nomad-gateway.db").is_file());
}

#[tokio::test]
async fn readyz_names_nomad_when_it_is_unreachable() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let response = reqwest::get(gateway.url("/readyz")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(
        body["checks"]["database"]["detail"],
        if db.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    assert_eq!(body["checks"]["nomad"]["status"], "failed");
    let error = body["checks"]["nomad"]["error"].as_str().unwrap();
    assert!(
        error.contains("Nomad at http://127.0.0.1:1 is unreachable"),
        "{error}"
    );
    assert!(body["checks"]["nomad"]["latency_ms"].is_u64());
}

#[tokio::test]
async fn readyz_is_ready_when_database_and_nomad_answer() {
    let db = TestDb::new().await;
    let nomad = slow_nomad_leader(Duration::ZERO).await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &format!("http://{nomad}"));
    let gateway = Gateway::start(&env);
    let response = reqwest::get(gateway.url("/readyz")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["nomad"]["detail"], "leader 127.0.0.1:4647");
}

#[tokio::test]
async fn readyz_gives_up_on_a_slow_nomad_within_the_ready_timeout() {
    let db = TestDb::new().await;
    let nomad = slow_nomad_leader(Duration::from_secs(30)).await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &format!("http://{nomad}"));
    set(&mut env, "GATEWAY_READY_TIMEOUT", "300ms");
    let gateway = Gateway::start(&env);
    let started = Instant::now();
    let response = reqwest::get(gateway.url("/readyz")).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(5));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["nomad"]["status"], "failed");
}

#[tokio::test]
async fn request_ids_are_kept_or_generated_and_echoed() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let client = reqwest::Client::new();
    let kept = client
        .get(gateway.url("/api/v1/nothing-here"))
        .header("x-request-id", "lb-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-1234");
    let made = client.get(gateway.url("/healthz")).send().await.unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    gateway
        .wait_for_log("lb-1234", Duration::from_secs(5))
        .await;
}

#[tokio::test]
async fn errors_are_problem_documents() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    let client = reqwest::Client::new();
    let missing = client
        .get(gateway.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["title"], "Not Found");
    assert!(body["detail"].as_str().unwrap().contains("/no/such/route"));

    let wrong_method = client.delete(gateway.url("/healthz")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(
        wrong_method.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let db = TestDb::new().await;
    let mut env = base_env(&db);
    set(&mut env, "GATEWAY_BODY_LIMIT", "1024");
    let gateway = Gateway::start(&env);
    let response = reqwest::Client::new()
        .post(gateway.url("/healthz"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("1024 bytes"),
        "{body}"
    );
}

#[tokio::test]
async fn slow_requests_end_at_the_request_timeout() {
    let db = TestDb::new().await;
    let nomad = slow_nomad_leader(Duration::from_secs(30)).await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &format!("http://{nomad}"));
    set(&mut env, "GATEWAY_READY_TIMEOUT", "20s");
    set(&mut env, "GATEWAY_REQUEST_TIMEOUT", "300ms");
    let gateway = Gateway::start(&env);
    let response = reqwest::get(gateway.url("/readyz")).await.unwrap();
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("300ms"), "{body}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let db = TestDb::new().await;
    let gateway = Gateway::start(&base_env(&db));
    for _ in 0..3 {
        reqwest::get(gateway.url("/healthz")).await.unwrap();
    }
    reqwest::get(gateway.url("/nowhere")).await.unwrap();
    let text = gateway.metrics_text().await;
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.005"}"#
        ),
        "{text}"
    );
    // The scrape itself is in flight while the text is rendered.
    assert!(text.contains("http_requests_in_flight 1"), "{text}");
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits() {
    let db = TestDb::new().await;
    let nomad = slow_nomad_leader(Duration::from_millis(1500)).await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &format!("http://{nomad}"));
    set(&mut env, "GATEWAY_READY_TIMEOUT", "5s");
    let mut gateway = Gateway::start(&env);
    let url = gateway.url("/readyz");
    let in_flight = tokio::spawn(async move {
        let response = reqwest::get(url).await?;
        let status = response.status().as_u16();
        let body: Value = response.json().await?;
        assert_eq!(body["status"], "draining");
        Ok::<_, reqwest::Error>(status)
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    gateway.signal("TERM");
    // The request finishes; by then the gateway reports itself draining.
    assert_eq!(in_flight.await.unwrap().unwrap(), 503);
    gateway
        .wait_for_log("shutting down", Duration::from_secs(5))
        .await;
    let status = gateway.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        reqwest::get(gateway.url("/healthz")).await.is_err(),
        "no new connections after exit"
    );
}

#[tokio::test]
async fn shutdown_ends_at_the_drain_deadline() {
    let db = TestDb::new().await;
    let nomad = slow_nomad_leader(Duration::from_secs(60)).await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &format!("http://{nomad}"));
    set(&mut env, "GATEWAY_READY_TIMEOUT", "60s");
    set(&mut env, "GATEWAY_REQUEST_TIMEOUT", "120s");
    set(&mut env, "GATEWAY_SHUTDOWN_TIMEOUT", "1s");
    let mut gateway = Gateway::start(&env);
    let url = gateway.url("/readyz");
    let _stuck = tokio::spawn(async move { reqwest::get(url).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    gateway.signal("TERM");
    gateway.wait_exit(Duration::from_secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_shutdown_delay_serves_on_with_readiness_503_before_the_drain() {
    let db = TestDb::new().await;
    let nomad = slow_nomad_leader(Duration::ZERO).await;
    let mut env = base_env(&db);
    set(&mut env, "NOMAD_ADDR", &format!("http://{nomad}"));
    set(&mut env, "GATEWAY_SHUTDOWN_DELAY", "2s");
    let mut gateway = Gateway::start(&env);
    assert_eq!(
        reqwest::get(gateway.url("/readyz")).await.unwrap().status(),
        200
    );
    let started = Instant::now();
    gateway.signal("TERM");
    gateway
        .wait_for_log("draining: readiness answers 503", Duration::from_secs(5))
        .await;
    // Each `reqwest::get` opens a new connection: the listener still accepts.
    let ready = reqwest::get(gateway.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "draining", "{body}");
    assert_eq!(body["checks"]["nomad"]["status"], "ok", "{body}");
    let health = reqwest::get(gateway.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        !gateway.logs().contains("shutting down"),
        "the drain began before the delay ended:\n{}",
        gateway.logs()
    );
    let status = gateway.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "exited {:?} after SIGTERM, inside the 2s delay",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_second_signal_ends_the_shutdown_delay() {
    let db = TestDb::new().await;
    let mut env = base_env(&db);
    set(&mut env, "GATEWAY_SHUTDOWN_DELAY", "60s");
    let mut gateway = Gateway::start(&env);
    gateway.signal("TERM");
    gateway
        .wait_for_log("draining: readiness answers 503", Duration::from_secs(5))
        .await;
    let started = Instant::now();
    gateway.signal("INT");
    let status = gateway.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert!(gateway.logs().contains("second signal: the delay ends"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

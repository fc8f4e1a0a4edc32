//! TLS termination with certificates made in the test: trust, reload, client certificates.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{
    Ca, Gateway, Leaf, TestDb, base_env, cert_has_name, http1_get, peer_leaf, set, tls_connect,
    tls_connector, write,
};

struct TlsFiles {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsFiles {
    fn new(leaf: &Leaf) -> TlsFiles {
        let dir = tempfile::tempdir().unwrap();
        let cert = write(dir.path(), "tls.crt", &leaf.cert_pem);
        let key = write(dir.path(), "tls.key", &leaf.key_pem);
        TlsFiles {
            _dir: dir,
            cert,
            key,
        }
    }

    /// Replaces both files the way cert-manager or a Nomad template does: write aside, rename.
    fn replace(&self, cert_pem: &str, key_pem: &str) {
        for (path, content) in [(&self.key, key_pem), (&self.cert, cert_pem)] {
            let staged = path.with_extension("new");
            std::fs::write(&staged, content).unwrap();
            std::fs::rename(&staged, path).unwrap();
        }
    }
}

fn tls_env(db: &TestDb, files: &TlsFiles, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = base_env(db);
    set(&mut env, "GATEWAY_TLS_CERT", files.cert.to_str().unwrap());
    set(&mut env, "GATEWAY_TLS_KEY", files.key.to_str().unwrap());
    for (k, v) in extra {
        set(&mut env, k, v);
    }
    env
}

fn client_trusting(ca: &Ca) -> reqwest::Client {
    let roots = reqwest::Certificate::from_pem_bundle(ca.cert_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .build()
        .unwrap()
}

/// Opens new connections until the server presents a certificate named `name`.
async fn wait_for_certificate(
    gateway: &Gateway,
    ca: &Ca,
    name: &str,
    within: Duration,
) -> Duration {
    let connector = tls_connector(&ca.cert_pem(), None);
    let started = Instant::now();
    loop {
        let stream = tls_connect(gateway.addr, &connector).await.unwrap();
        if cert_has_name(&peer_leaf(&stream), name) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "certificate {name} not served within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn https_works_with_the_test_ca_and_fails_without_it() {
    let db = TestDb::new().await;
    let ca = Ca::new("Test CA");
    let files = TlsFiles::new(&ca.server("gateway-one"));
    let gateway = Gateway::start(&tls_env(&db, &files, &[]));

    let ok = client_trusting(&ca)
        .get(gateway.https_url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.version(), reqwest::Version::HTTP_2, "ALPN offers h2");

    let stranger = client_trusting(&Ca::new("Other CA"))
        .get(gateway.https_url("/healthz"))
        .send()
        .await;
    let error = format!("{:?}", stranger.unwrap_err());
    assert!(
        error.contains("UnknownIssuer") || error.contains("certificate"),
        "{error}"
    );

    let plain = reqwest::get(gateway.url("/healthz")).await;
    assert!(
        plain.is_err() || plain.unwrap().status() != 200,
        "plain HTTP is not served"
    );
}

#[tokio::test]
async fn renewed_certificate_reaches_new_connections_while_open_ones_stay_usable() {
    let db = TestDb::new().await;
    let ca = Ca::new("Test CA");
    let files = TlsFiles::new(&ca.server("gateway-first"));
    let gateway = Gateway::start(&tls_env(
        &db,
        &files,
        &[("GATEWAY_TLS_RELOAD_INTERVAL", "1s")],
    ));

    let connector = tls_connector(&ca.cert_pem(), None);
    let mut open = tls_connect(gateway.addr, &connector).await.unwrap();
    assert!(cert_has_name(&peer_leaf(&open), "gateway-first"));
    assert_eq!(http1_get(&mut open, "/healthz").await.unwrap().0, 200);

    let renewed = ca.server("gateway-second");
    files.replace(&renewed.cert_pem, &renewed.key_pem);
    let took = wait_for_certificate(&gateway, &ca, "gateway-second", Duration::from_secs(30)).await;
    assert!(took < Duration::from_secs(5), "reload took {took:?}");

    // The connection opened before the renewal still works.
    assert_eq!(http1_get(&mut open, "/healthz").await.unwrap().0, 200);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_at_once() {
    let db = TestDb::new().await;
    let ca = Ca::new("Test CA");
    let files = TlsFiles::new(&ca.server("gateway-before-hup"));
    let gateway = Gateway::start(&tls_env(
        &db,
        &files,
        &[("GATEWAY_TLS_RELOAD_INTERVAL", "30s")],
    ));
    wait_for_certificate(&gateway, &ca, "gateway-before-hup", Duration::from_secs(5)).await;

    // Wait out the first poll, which happens at start, so only the signal can reload.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let renewed = ca.server("gateway-after-hup");
    files.replace(&renewed.cert_pem, &renewed.key_pem);
    gateway.signal("HUP");
    let took =
        wait_for_certificate(&gateway, &ca, "gateway-after-hup", Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "SIGHUP reload took {took:?}");
}

#[tokio::test]
async fn a_broken_replacement_keeps_the_old_certificate_serving() {
    let db = TestDb::new().await;
    let ca = Ca::new("Test CA");
    let files = TlsFiles::new(&ca.server("gateway-good"));
    let gateway = Gateway::start(&tls_env(
        &db,
        &files,
        &[("GATEWAY_TLS_RELOAD_INTERVAL", "1s")],
    ));

    // A certificate with the wrong key, then a file that is not PEM at all.
    let mismatched = ca.server("gateway-mismatched");
    files.replace(&mismatched.cert_pem, &ca.server("someone-else").key_pem);
    gateway
        .wait_for_log("does not match the certificate", Duration::from_secs(10))
        .await;
    files.replace("-----BEGIN CERTIFICATE-----\ngarbage\n", "nope");
    gateway
        .wait_for_log("is not valid PEM", Duration::from_secs(10))
        .await;

    let connector = tls_connector(&ca.cert_pem(), None);
    let mut stream = tls_connect(gateway.addr, &connector).await.unwrap();
    assert!(cert_has_name(&peer_leaf(&stream), "gateway-good"));
    assert_eq!(http1_get(&mut stream, "/healthz").await.unwrap().0, 200);
}

async fn get_with(gateway: &Gateway, ca: &Ca, identity: Option<&Leaf>) -> Result<u16, String> {
    let connector = tls_connector(&ca.cert_pem(), identity);
    // With TLS 1.3 a refused client certificate shows up on the first read, not in connect.
    let mut stream = tls_connect(gateway.addr, &connector)
        .await
        .map_err(|e| e.to_string())?;
    http1_get(&mut stream, "/healthz")
        .await
        .map(|(s, _)| s)
        .map_err(|e| e.to_string())
}

fn client_ca_env(
    db: &TestDb,
    files: &TlsFiles,
    client_ca: &Path,
    mode: &str,
) -> Vec<(String, String)> {
    tls_env(
        db,
        files,
        &[
            ("GATEWAY_TLS_CLIENT_CA", client_ca.to_str().unwrap()),
            ("GATEWAY_TLS_CLIENT_AUTH", mode),
        ],
    )
}

#[tokio::test]
async fn required_client_certificates_are_checked_at_the_handshake() {
    let db = TestDb::new().await;
    let ca = Ca::new("Server CA");
    let clients = Ca::new("Client CA");
    let files = TlsFiles::new(&ca.server("gateway-mtls"));
    let client_ca = write(
        files.cert.parent().unwrap(),
        "clients.pem",
        &clients.cert_pem(),
    );
    let gateway = Gateway::start(&client_ca_env(&db, &files, &client_ca, "required"));

    let refused = get_with(&gateway, &ca, None).await.unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    let forged = get_with(&gateway, &ca, Some(&Ca::new("Rogue CA").client("mallory"))).await;
    assert!(forged.is_err(), "a certificate from another CA is refused");
    assert_eq!(
        get_with(&gateway, &ca, Some(&clients.client("alice")))
            .await
            .unwrap(),
        200
    );
}

#[tokio::test]
async fn optional_client_certificates_admit_anonymous_clients() {
    let db = TestDb::new().await;
    let ca = Ca::new("Server CA");
    let clients = Ca::new("Client CA");
    let files = TlsFiles::new(&ca.server("gateway-optional"));
    let client_ca = write(
        files.cert.parent().unwrap(),
        "clients.pem",
        &clients.cert_pem(),
    );
    let gateway = Gateway::start(&client_ca_env(&db, &files, &client_ca, "optional"));

    assert_eq!(get_with(&gateway, &ca, None).await.unwrap(), 200);
    assert_eq!(
        get_with(&gateway, &ca, Some(&clients.client("alice")))
            .await
            .unwrap(),
        200
    );
    assert!(
        get_with(&gateway, &ca, Some(&Ca::new("Rogue CA").client("mallory")))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_dev_pki_script_makes_certificates_the_gateway_serves_and_verifies() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/gen-dev-pki.sh");
    let output = std::process::Command::new("bash")
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let mut env = base_env(&db);
    set(&mut env, "GATEWAY_TLS_CERT", &path("server.pem"));
    set(&mut env, "GATEWAY_TLS_KEY", &path("server-key.pem"));
    set(&mut env, "GATEWAY_TLS_CLIENT_CA", &path("ca.pem"));
    let gateway = Gateway::start(&env);

    let client = Leaf {
        cert_pem: read("client.pem"),
        key_pem: read("client-key.pem"),
    };
    let connector = tls_connector(&read("ca.pem"), Some(&client));
    let mut stream = tls_connect(gateway.addr, &connector).await.unwrap();
    assert_eq!(http1_get(&mut stream, "/healthz").await.unwrap().0, 200);
    let anonymous = tls_connector(&read("ca.pem"), None);
    let refused = match tls_connect(gateway.addr, &anonymous).await {
        Ok(mut s) => http1_get(&mut s, "/healthz").await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "required is the default client-auth mode");
}

#[tokio::test]
async fn healthcheck_trusts_the_served_certificate_and_reports_readiness() {
    let db = TestDb::new().await;
    let ca = Ca::new("Test CA");
    let files = TlsFiles::new(&ca.server("gateway-health"));
    let nomad = crate::support::slow_nomad_leader(Duration::ZERO).await;
    let mut env = tls_env(&db, &files, &[("NOMAD_ADDR", &format!("http://{nomad}"))]);
    let gateway = Gateway::start(&env);
    set(&mut env, "GATEWAY_LISTEN", &gateway.addr.to_string());
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let env = env.clone();
        move || crate::support::run(&["healthcheck"], &env)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("\"status\":\"ready\""), "{stdout}");

    // Nomad gone: not ready, exit 1.
    set(&mut env, "NOMAD_ADDR", "http://127.0.0.1:1");
    let unready = Gateway::start(&env_with_port_zero(&env));
    set(&mut env, "GATEWAY_LISTEN", &unready.addr.to_string());
    let (code, _, stderr) =
        tokio::task::spawn_blocking(move || crate::support::run(&["healthcheck"], &env))
            .await
            .unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("503"), "{stderr}");
}

fn env_with_port_zero(env: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    set(&mut env, "GATEWAY_LISTEN", "127.0.0.1:0");
    env
}

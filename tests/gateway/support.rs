//! Helpers for the gateway's integration tests: a test PKI, a test database (SQLite or a
//! fresh Postgres database), the gateway run as a real process, and raw TLS connections.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub const GATEWAY: &str = env!("CARGO_BIN_EXE_nomad-gateway");

// ---------------------------------------------------------------- PKI

/// A certificate authority made for one test.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A PEM certificate and its PEM private key.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf certificate for these DNS names or IP addresses.
    pub fn leaf(&self, names: &[&str], common_name: &str) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`, with `common_name` to tell
    /// certificates apart.
    pub fn server(&self, common_name: &str) -> Leaf {
        self.leaf(&["localhost", "127.0.0.1"], common_name)
    }

    pub fn client(&self, common_name: &str) -> Leaf {
        self.leaf(&[], common_name)
    }
}

pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// The common name in a DER certificate, found the cheap way: the test names are unique
/// strings, so a byte search is enough.
pub fn cert_has_name(der: &[u8], name: &str) -> bool {
    der.windows(name.len()).any(|w| w == name.as_bytes())
}

// ---------------------------------------------------------------- database

/// The database a test runs against: a SQLite file in a temporary folder, or, when
/// `TEST_DATABASE_URL` names a Postgres server, a fresh database created on it for this
/// test and dropped afterwards.
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    /// A private folder that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("gw_test_{}", uuid::Uuid::new_v4().simple());
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        {
            Some(admin_url) => {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("TEST_DATABASE_URL is set but Postgres is unreachable: {e}")
                    });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    admin_url: Some(admin_url),
                    name,
                    _dir: dir,
                }
            }
            None => TestDb {
                url: format!("sqlite://{}", dir.path().join("gateway.db").display()),
                admin_url: None,
                name,
                _dir: dir,
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.admin_url.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs outside async context; a small runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            });
        })
        .join();
    }
}

// ---------------------------------------------------------------- the gateway process

/// The gateway binary running with a clean environment in its own working folder.
pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    logs: Arc<Mutex<Vec<String>>>,
}

/// The environment every test gateway gets unless the test overrides it: an ephemeral
/// port, JSON logs (parsed below), and a Nomad address where nothing listens.
/// Authentication is off (loopback only); the auth tests turn it on.
pub fn base_env(db: &TestDb) -> Vec<(String, String)> {
    [
        ("GATEWAY_LISTEN", "127.0.0.1:0"),
        ("GATEWAY_AUTH", "off"),
        ("GATEWAY_LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
        ("NOMAD_ADDR", "http://127.0.0.1:1"),
        ("DATABASE_URL", db.url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub fn command(args: &[&str], env: &[(String, String)], dir: &Path) -> Command {
    let mut command = Command::new(GATEWAY);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir);
    command
}

/// Runs a short-lived subcommand and returns (exit code, stdout, stderr).
pub fn run(args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = command(args, env, dir.path()).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

impl Gateway {
    /// Starts `nomad-gateway serve` and waits until it logs its listening address.
    pub fn start(env: &[(String, String)]) -> Gateway {
        Gateway::start_in(env, tempfile::tempdir().unwrap())
    }

    pub fn start_in(env: &[(String, String)], dir: tempfile::TempDir) -> Gateway {
        let mut child = command(&["serve"], env, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = logs.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                        && json["message"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("serving"))
                        && let Some(listen) = json["listen"].as_str()
                    {
                        let _ = tx.send(listen.parse::<SocketAddr>().unwrap());
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the gateway did not start; its output:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        Gateway {
            child,
            addr,
            dir,
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The Prometheus text at `/metrics`.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of one series (name with its labels, as `/metrics` writes it); 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        self.metrics_text()
            .await
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the gateway did not exit within {timeout:?}; output:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.logs.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "no log line with {needle:?} within {timeout:?}; output:\n{}",
            self.logs()
        );
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- raw TLS

pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A TLS client trusting only `ca_pem`, optionally presenting a client certificate.
pub fn tls_connector(ca_pem: &str, identity: Option<&Leaf>) -> TlsConnector {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let mut config = match identity {
        Some(leaf) => {
            let chain = CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// Opens a TLS connection to `addr` as `localhost`.
pub async fn tls_connect(
    addr: SocketAddr,
    connector: &TlsConnector,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// The leaf certificate the server presented on this connection.
pub fn peer_leaf(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// Sends `GET path` over an open HTTP/1.1 connection (kept alive) and returns the status
/// code and body.
pub async fn http1_get(
    stream: &mut TlsStream<TcpStream>,
    path: &str,
) -> std::io::Result<(u16, String)> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                return Ok((status, text[end + 4..end + 4 + length].to_string()));
            }
        }
    }
}

// ---------------------------------------------------------------- a Nomad leader endpoint

/// Serves only `GET /v1/status/leader`, answering after `delay`: enough for readiness and
/// shutdown tests, which are about the gateway's own behaviour, not Nomad's.
pub async fn slow_nomad_leader(delay: Duration) -> SocketAddr {
    let app = axum::Router::new().route(
        "/v1/status/leader",
        axum::routing::get(move || async move {
            tokio::time::sleep(delay).await;
            axum::Json("127.0.0.1:4647")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// `GET url` as JSON, whatever the status.
/// Sends a request and reads its answer as JSON (for the many "send, then read the JSON"
/// steps of the tests).
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    let response = request.send().await.expect("an answer from the gateway");
    response.json().await.expect("a JSON body")
}

pub async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

pub fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_string(), value.to_string()));
}

// ---------------------------------------------------------------- a TCP proxy to cut

/// A TCP proxy that can be cut: existing connections close, new ones are refused.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    cut: Arc<Mutex<bool>>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    /// A proxy in front of the test's Postgres, and the database URL that goes through it.
    pub async fn for_database(db: &TestDb) -> (Proxy, String) {
        assert!(
            db.is_postgres(),
            "this test needs Postgres (TEST_DATABASE_URL)"
        );
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
        (proxy, proxied.to_string())
    }

    pub async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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

    pub fn cut(&self) {
        *self.cut.lock().unwrap() = true;
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn restore(&self) {
        *self.cut.lock().unwrap() = false;
    }
}

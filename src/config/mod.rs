//! Typed configuration, read once at start from the environment and an optional TOML file.
//!
//! Every other module receives these structs; none reads the environment itself.

mod describe;
mod duration;
mod mcp;
mod scope;
mod secret;
mod source;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

pub use duration::{format_duration, parse_duration};
pub use mcp::McpSettings;
pub use scope::Scope;
pub use secret::{Secret, redact_url_password};
pub use source::{KNOWN_KEYS, Sources};

/// A configuration problem: which setting, and what is wrong with it. Start-up stops with
/// exit code 2 and prints it as one line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_string(),
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerSettings,
    pub tls: Option<TlsSettings>,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub nomad: NomadSettings,
    pub telemetry: TelemetrySettings,
    pub operations: OperationsSettings,
    pub mcp: McpSettings,
}

/// Tracked operations.
#[derive(Debug, Clone)]
pub struct OperationsSettings {
    /// `GATEWAY_OPERATIONS_RETENTION`: how long finished operations are kept.
    pub retention: Duration,
    /// `GATEWAY_OPERATIONS_LEASE`: how long a replica's claim on an operation lasts
    /// without renewal; another replica takes over after it.
    pub lease: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `GATEWAY_LISTEN`: the socket to bind.
    pub listen: SocketAddr,
    /// `GATEWAY_PUBLIC_URL`: the URL clients use; derived from `listen` when unset.
    pub public_url: Url,
    /// `GATEWAY_BODY_LIMIT`: largest request body in bytes.
    pub body_limit: usize,
    /// `GATEWAY_REQUEST_TIMEOUT`: time allowed until a response starts (streams are exempt
    /// once their headers are sent).
    pub request_timeout: Duration,
    /// `GATEWAY_SHUTDOWN_TIMEOUT`: drain deadline after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// `GATEWAY_READY_TIMEOUT`: bound on each `/readyz` dependency check.
    pub ready_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Optional,
    Required,
}

#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
    /// `GATEWAY_TLS_RELOAD_INTERVAL`: how often the files are checked for changes.
    pub reload_interval: Duration,
}

#[derive(Debug, Clone)]
pub enum DatabaseSettings {
    Sqlite {
        path: Option<PathBuf>,
        url: String,
    },
    Postgres {
        url: Secret,
        /// `GATEWAY_DB_MAX_CONNECTIONS`: the pool's size.
        max_connections: u32,
    },
}

#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// `GATEWAY_AUTH=off` turns authentication off; allowed only on a loopback listener.
    pub enabled: bool,
    pub jwt_secret: Option<Secret>,
    pub jwks_url: Option<Url>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// The JWT claim listing the caller's Nomad namespaces.
    pub namespaces_claim: String,
    /// The JWT claim listing the caller's groups, for `group_scopes`.
    pub groups_claim: String,
    /// Scopes granted by group membership (`GATEWAY_JWT_GROUP_SCOPES=ops=nomad:read,nodes:write;...`).
    pub group_scopes: Vec<(String, Vec<String>)>,
    /// `GATEWAY_READ_ONLY=true`: no writes for anyone.
    pub read_only: bool,
    /// Authorization servers named in the OAuth protected resource metadata.
    pub authorization_servers: Vec<Url>,
    /// Whether 401 answers point at the resource metadata (`WWW-Authenticate: Bearer resource_metadata=...`).
    pub www_authenticate_metadata: bool,
    /// Calls per minute and caller; 0 means unlimited.
    pub rate_limit_reads: u32,
    pub rate_limit_writes: u32,
    /// Refused credentials per minute and client address before it gets 429s; 0: unlimited.
    pub rate_limit_auth_failures: u32,
    /// Audit events of writes that may wait for the database before writes are refused
    /// (refused calls have as many places again, of their own).
    pub audit_queue: usize,
    /// Where audit events wait, durably, while the database is away.
    pub audit_spool: AuditSpool,
    /// Serve `/metrics` without a credential.
    pub metrics_public: bool,
}

/// `GATEWAY_AUDIT_SPOOL`: the folder of the audit spool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuditSpool {
    /// `off`: events wait in memory only, and writes are refused while the database is away.
    #[default]
    Off,
    /// Not set: `audit-spool` beside the SQLite file, else `data/audit-spool`; when it
    /// cannot be created the gateway runs without one (and says so).
    Default(PathBuf),
    /// A folder the operator named: the gateway does not start without it.
    Path(PathBuf),
}

impl AuditSpool {
    pub fn folder(&self) -> Option<&std::path::Path> {
        match self {
            AuditSpool::Off => None,
            AuditSpool::Default(p) | AuditSpool::Path(p) => Some(p),
        }
    }
}

/// The Nomad connection, named and defaulted as the Nomad CLI does.
#[derive(Debug, Clone)]
pub struct NomadSettings {
    pub addr: String,
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    pub namespace: Option<String>,
    pub region: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub ca_path: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    pub skip_verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

#[derive(Debug, Clone)]
pub struct OtlpSettings {
    /// The traces endpoint as given (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is;
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/traces` appended for http/protobuf, as the
    /// OpenTelemetry specification says).
    pub traces_endpoint: String,
    pub protocol: OtlpProtocol,
    pub headers: Vec<(String, Secret)>,
}

#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub log_filter: String,
    pub log_format: LogFormat,
    pub service_name: String,
    pub otlp: Option<OtlpSettings>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/nomad-gateway.db";
pub const DEFAULT_NOMAD_ADDR: &str = "http://127.0.0.1:4646";

impl Config {
    /// Loads the configuration from `file` and `env` (environment wins) and checks every
    /// value that can be checked without connecting anywhere.
    pub fn load(
        file: Option<&std::path::Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let s = Sources::load(file, env)?;
        let build = || {
            let tls = tls_settings(&s)?;
            let database = database_settings(&s)?;
            let mut auth = auth_settings(&s, listen_of(&s)?)?;
            auth.audit_spool = audit_spool(&s, &database)?;
            Ok(Config {
                server: server_settings(&s, tls.is_some())?,
                tls,
                database,
                auth,
                nomad: nomad_settings(&s)?,
                telemetry: telemetry_settings(&s)?,
                operations: operations_settings(&s)?,
                mcp: mcp::mcp_settings(&s)?,
            })
        };
        build().map_err(|mut error: ConfigError| {
            if let Some(path) = s.file_of(&error.variable) {
                error.variable = format!("{} (set in {})", error.variable, path.display());
            }
            error
        })
    }

    /// Loads from the process environment.
    pub fn from_env(file: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        Config::load(file, &|key| std::env::var(key).ok())
    }
}

fn parse<T>(s: &Sources, key: &str, default: T, what: &str) -> Result<T, ConfigError>
where
    T: FromStr,
{
    match s.get(key) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| ConfigError::new(key, format!("'{text}' is not {what}"))),
    }
}

fn duration(s: &Sources, key: &str, default: Duration) -> Result<Duration, ConfigError> {
    match s.get(key) {
        None => Ok(default),
        Some(text) => parse_duration(text).map_err(|e| ConfigError::new(key, e)),
    }
}

fn operations_settings(s: &Sources) -> Result<OperationsSettings, ConfigError> {
    let retention = duration(
        s,
        "GATEWAY_OPERATIONS_RETENTION",
        Duration::from_secs(30 * 86_400),
    )?;
    if retention.is_zero() {
        return Err(ConfigError::new(
            "GATEWAY_OPERATIONS_RETENTION",
            "must be longer than 0s",
        ));
    }
    let lease = duration(s, "GATEWAY_OPERATIONS_LEASE", Duration::from_secs(15))?;
    if lease < Duration::from_secs(1) {
        return Err(ConfigError::new(
            "GATEWAY_OPERATIONS_LEASE",
            "use at least 1s",
        ));
    }
    Ok(OperationsSettings { retention, lease })
}

fn boolean(s: &Sources, key: &str) -> Result<bool, ConfigError> {
    match s.get(key).map(|t| t.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(t) if matches!(t.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
        Some(t) if matches!(t.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(t) => Err(ConfigError::new(
            key,
            format!("'{t}' is not a boolean; use true or false"),
        )),
    }
}

fn path(s: &Sources, key: &str) -> Option<PathBuf> {
    s.get(key).map(PathBuf::from)
}

fn text(s: &Sources, key: &str) -> Option<String> {
    s.get(key).map(|t| t.trim().to_string())
}

fn server_settings(s: &Sources, tls: bool) -> Result<ServerSettings, ConfigError> {
    let listen: SocketAddr = match s.get("GATEWAY_LISTEN") {
        None => DEFAULT_LISTEN
            .parse()
            .expect("default listen address is valid"),
        Some(t) => t.trim().parse().map_err(|_| {
            ConfigError::new(
                "GATEWAY_LISTEN",
                format!(
                    "'{t}' is not a socket address; use IP:PORT such as 0.0.0.0:8080 or [::]:8443"
                ),
            )
        })?,
    };
    let public_url = match s.get("GATEWAY_PUBLIC_URL") {
        Some(t) => {
            let url = Url::parse(t.trim()).map_err(|e| {
                ConfigError::new("GATEWAY_PUBLIC_URL", format!("'{t}' is not a URL: {e}"))
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(ConfigError::new(
                    "GATEWAY_PUBLIC_URL",
                    format!("'{t}' must be an http:// or https:// URL with a host"),
                ));
            }
            url
        }
        None => derived_public_url(listen, tls),
    };
    Ok(ServerSettings {
        listen,
        public_url,
        body_limit: parse(s, "GATEWAY_BODY_LIMIT", 4 * 1024 * 1024, "a size in bytes")?,
        request_timeout: duration(s, "GATEWAY_REQUEST_TIMEOUT", Duration::from_secs(60))?,
        shutdown_timeout: duration(s, "GATEWAY_SHUTDOWN_TIMEOUT", Duration::from_secs(20))?,
        ready_timeout: duration(s, "GATEWAY_READY_TIMEOUT", Duration::from_secs(2))?,
    })
}

/// `http://127.0.0.1:8080/` from the listen address; an unspecified address (0.0.0.0, ::)
/// becomes `localhost`, the only name a local client can be sure to reach.
fn derived_public_url(listen: SocketAddr, tls: bool) -> Url {
    let scheme = if tls { "https" } else { "http" };
    let host = match listen.ip() {
        ip if ip.is_unspecified() => "localhost".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    Url::parse(&format!("{scheme}://{host}:{}/", listen.port())).expect("derived URL is valid")
}

fn tls_settings(s: &Sources) -> Result<Option<TlsSettings>, ConfigError> {
    let cert = path(s, "GATEWAY_TLS_CERT");
    let key = path(s, "GATEWAY_TLS_KEY");
    let client_ca = path(s, "GATEWAY_TLS_CLIENT_CA");
    let (cert, key) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        (None, None) => {
            if client_ca.is_some() {
                return Err(ConfigError::new(
                    "GATEWAY_TLS_CLIENT_CA",
                    "client certificates need TLS: set GATEWAY_TLS_CERT and GATEWAY_TLS_KEY too",
                ));
            }
            return Ok(None);
        }
        (Some(_), None) => {
            return Err(ConfigError::new(
                "GATEWAY_TLS_KEY",
                "is required when GATEWAY_TLS_CERT is set",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "GATEWAY_TLS_CERT",
                "is required when GATEWAY_TLS_KEY is set",
            ));
        }
    };
    let client_auth = match s
        .get("GATEWAY_TLS_CLIENT_AUTH")
        .map(|t| t.trim().to_ascii_lowercase())
    {
        None => ClientAuth::Required,
        Some(t) if t == "required" => ClientAuth::Required,
        Some(t) if t == "optional" => ClientAuth::Optional,
        Some(t) => {
            return Err(ConfigError::new(
                "GATEWAY_TLS_CLIENT_AUTH",
                format!("'{t}' is not a client auth mode; use optional or required"),
            ));
        }
    };
    if s.get("GATEWAY_TLS_CLIENT_AUTH").is_some() && client_ca.is_none() {
        return Err(ConfigError::new(
            "GATEWAY_TLS_CLIENT_AUTH",
            "needs GATEWAY_TLS_CLIENT_CA, the CA that signs client certificates",
        ));
    }
    let reload_interval = duration(s, "GATEWAY_TLS_RELOAD_INTERVAL", Duration::from_secs(10))?;
    if reload_interval.is_zero() || reload_interval > Duration::from_secs(30) {
        return Err(ConfigError::new(
            "GATEWAY_TLS_RELOAD_INTERVAL",
            "must be between 1ms and 30s so renewed certificates are served promptly",
        ));
    }
    Ok(Some(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
        reload_interval,
    }))
}

fn database_settings(s: &Sources) -> Result<DatabaseSettings, ConfigError> {
    let url = s.get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL).trim();
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => {
            // Parse now so a malformed URL or sslmode stops start-up, not the first query.
            // The error text of the driver never contains the password.
            sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| {
                ConfigError::new(
                    "DATABASE_URL",
                    format!(
                        "'{}' is not a valid Postgres URL: {e}",
                        redact_url_password(url)
                    ),
                )
            })?;
            let max_connections: u32 = parse(
                s,
                "GATEWAY_DB_MAX_CONNECTIONS",
                10,
                "a number of connections",
            )?;
            if !(1..=1000).contains(&max_connections) {
                return Err(ConfigError::new(
                    "GATEWAY_DB_MAX_CONNECTIONS",
                    format!("{max_connections} is out of range; use 1 to 1000"),
                ));
            }
            Ok(DatabaseSettings::Postgres {
                url: Secret::new(url),
                max_connections,
            })
        }
        "sqlite" => {
            let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
            let file = rest.split('?').next().unwrap_or_default();
            let path = match file {
                "" => {
                    return Err(ConfigError::new(
                        "DATABASE_URL",
                        format!(
                            "'{url}' names no file; use sqlite://data/nomad-gateway.db or sqlite:///abs/path.db"
                        ),
                    ));
                }
                ":memory:" => None,
                f => Some(PathBuf::from(f)),
            };
            Ok(DatabaseSettings::Sqlite {
                path,
                url: url.to_string(),
            })
        }
        _ => Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "unknown scheme '{scheme}' in '{}'; use postgres://... or sqlite://...",
                redact_url_password(url)
            ),
        )),
    }
}

fn audit_spool(s: &Sources, database: &DatabaseSettings) -> Result<AuditSpool, ConfigError> {
    match text(s, "GATEWAY_AUDIT_SPOOL").as_deref() {
        Some("off") => Ok(AuditSpool::Off),
        Some(folder) => {
            let folder = PathBuf::from(folder);
            if folder.is_file() {
                return Err(ConfigError::new(
                    "GATEWAY_AUDIT_SPOOL",
                    format!(
                        "{} is a file; name a folder (the spool file is created in it) or off",
                        folder.display()
                    ),
                ));
            }
            Ok(AuditSpool::Path(folder))
        }
        None => {
            let data = match database {
                DatabaseSettings::Sqlite {
                    path: Some(file), ..
                } => file
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(".")),
                _ => PathBuf::from("data"),
            };
            Ok(AuditSpool::Default(data.join("audit-spool")))
        }
    }
}

fn listen_of(s: &Sources) -> Result<SocketAddr, ConfigError> {
    Ok(server_settings(s, false)?.listen)
}

fn group_scopes(s: &Sources) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
    let key = "GATEWAY_JWT_GROUP_SCOPES";
    let Some(text) = s.get(key) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((group, scopes)) = entry.split_once('=') else {
            return Err(ConfigError::new(
                key,
                format!("'{entry}' is not GROUP=SCOPE,SCOPE; entries are separated by ';'"),
            ));
        };
        let scopes: Vec<String> = scopes
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for scope in &scopes {
            if Scope::parse(scope).is_none() {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "'{scope}' is not a scope; use nomad:read, nomad:write, nodes:write or admin"
                    ),
                ));
            }
        }
        out.push((group.trim().to_string(), scopes));
    }
    Ok(out)
}

fn auth_settings(s: &Sources, listen: SocketAddr) -> Result<AuthSettings, ConfigError> {
    let enabled = match s.get("GATEWAY_AUTH").map(|t| t.trim().to_ascii_lowercase()) {
        None => true,
        Some(t) if matches!(t.as_str(), "on" | "true" | "1" | "yes") => true,
        Some(t) if matches!(t.as_str(), "off" | "false" | "0" | "no") => false,
        Some(t) => {
            return Err(ConfigError::new(
                "GATEWAY_AUTH",
                format!("'{t}' is not on or off"),
            ));
        }
    };
    if !enabled && !listen.ip().is_loopback() {
        return Err(ConfigError::new(
            "GATEWAY_AUTH",
            format!(
                "off is allowed only when listening on loopback, and GATEWAY_LISTEN is {listen}; keep authentication on or listen on 127.0.0.1"
            ),
        ));
    }
    let mut authorization_servers = Vec::new();
    if let Some(list) = s.get("GATEWAY_OAUTH_AUTHORIZATION_SERVERS") {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            authorization_servers.push(Url::parse(item).map_err(|e| {
                ConfigError::new(
                    "GATEWAY_OAUTH_AUTHORIZATION_SERVERS",
                    format!("'{item}' is not a URL: {e}"),
                )
            })?);
        }
    }
    let www_authenticate_metadata = match s.get("GATEWAY_WWW_AUTHENTICATE_METADATA") {
        None => true,
        Some(_) => boolean(s, "GATEWAY_WWW_AUTHENTICATE_METADATA")?,
    };
    let audit_queue: usize = parse(s, "GATEWAY_AUDIT_QUEUE", 10_000, "a number of events")?;
    if audit_queue == 0 {
        return Err(ConfigError::new(
            "GATEWAY_AUDIT_QUEUE",
            "must be at least 1",
        ));
    }
    let jwks_url = match s.get("GATEWAY_JWT_JWKS_URL") {
        None => None,
        Some(t) => Some(Url::parse(t.trim()).map_err(|e| {
            ConfigError::new("GATEWAY_JWT_JWKS_URL", format!("'{t}' is not a URL: {e}"))
        })?),
    };
    let jwt_secret = s.get("GATEWAY_JWT_SECRET").map(Secret::new);
    if jwt_secret.as_ref().is_some_and(|k| k.expose().len() < 32) {
        return Err(ConfigError::new(
            "GATEWAY_JWT_SECRET",
            "is shorter than 32 bytes; use a random value such as `openssl rand -base64 48`",
        ));
    }
    Ok(AuthSettings {
        enabled,
        jwt_secret,
        jwks_url,
        issuer: text(s, "GATEWAY_JWT_ISSUER"),
        audience: text(s, "GATEWAY_JWT_AUDIENCE"),
        namespaces_claim: text(s, "GATEWAY_JWT_NAMESPACES_CLAIM")
            .unwrap_or_else(|| "nomad_namespaces".into()),
        groups_claim: text(s, "GATEWAY_JWT_GROUPS_CLAIM").unwrap_or_else(|| "groups".into()),
        group_scopes: group_scopes(s)?,
        read_only: boolean(s, "GATEWAY_READ_ONLY")?,
        authorization_servers,
        www_authenticate_metadata,
        rate_limit_reads: parse(
            s,
            "GATEWAY_RATE_LIMIT_READS",
            600,
            "a number of calls per minute",
        )?,
        rate_limit_auth_failures: parse(
            s,
            "GATEWAY_RATE_LIMIT_AUTH_FAILURES",
            600,
            "a number of refused credentials per minute",
        )?,
        rate_limit_writes: parse(
            s,
            "GATEWAY_RATE_LIMIT_WRITES",
            60,
            "a number of calls per minute",
        )?,
        audit_queue,
        audit_spool: AuditSpool::Off,
        metrics_public: boolean(s, "GATEWAY_METRICS_PUBLIC")?,
    })
}

fn nomad_settings(s: &Sources) -> Result<NomadSettings, ConfigError> {
    let addr = text(s, "NOMAD_ADDR").unwrap_or_else(|| DEFAULT_NOMAD_ADDR.to_string());
    let scheme_ok = ["http://", "https://", "unix://"]
        .iter()
        .any(|p| addr.starts_with(p));
    if !scheme_ok || Url::parse(&addr).is_err() {
        return Err(ConfigError::new(
            "NOMAD_ADDR",
            format!(
                "'{addr}' is not a Nomad address; use http://HOST:4646, https://HOST:4646 or unix:///path/to/socket"
            ),
        ));
    }
    let nomad = NomadSettings {
        addr,
        token: s.get("NOMAD_TOKEN").map(|t| Secret::new(t.trim())),
        token_file: path(s, "NOMAD_TOKEN_FILE"),
        namespace: text(s, "NOMAD_NAMESPACE"),
        region: text(s, "NOMAD_REGION"),
        ca_cert: path(s, "NOMAD_CACERT"),
        ca_path: path(s, "NOMAD_CAPATH"),
        client_cert: path(s, "NOMAD_CLIENT_CERT"),
        client_key: path(s, "NOMAD_CLIENT_KEY"),
        tls_server_name: text(s, "NOMAD_TLS_SERVER_NAME"),
        skip_verify: boolean(s, "NOMAD_SKIP_VERIFY")?,
    };
    for (key, file) in [
        ("NOMAD_CACERT", &nomad.ca_cert),
        ("NOMAD_CAPATH", &nomad.ca_path),
        ("NOMAD_CLIENT_CERT", &nomad.client_cert),
        ("NOMAD_CLIENT_KEY", &nomad.client_key),
        ("NOMAD_TOKEN_FILE", &nomad.token_file),
    ] {
        if let Some(file) = file {
            std::fs::metadata(file).map_err(|e| {
                ConfigError::new(key, format!("cannot read {}: {e}", file.display()))
            })?;
        }
    }
    if nomad.client_cert.is_some() != nomad.client_key.is_some() {
        return Err(ConfigError::new(
            "NOMAD_CLIENT_KEY",
            "NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY must be set together",
        ));
    }
    if nomad.token.is_some() && nomad.token_file.is_some() {
        return Err(ConfigError::new(
            "NOMAD_TOKEN_FILE",
            "set either NOMAD_TOKEN or NOMAD_TOKEN_FILE, not both",
        ));
    }
    Ok(nomad)
}

fn telemetry_settings(s: &Sources) -> Result<TelemetrySettings, ConfigError> {
    let log_format = match s
        .get("GATEWAY_LOG_FORMAT")
        .map(|t| t.trim().to_ascii_lowercase())
    {
        None => LogFormat::Text,
        Some(t) if t == "text" => LogFormat::Text,
        Some(t) if t == "json" => LogFormat::Json,
        Some(t) => {
            return Err(ConfigError::new(
                "GATEWAY_LOG_FORMAT",
                format!("'{t}' is not a log format; use text or json"),
            ));
        }
    };
    let log_filter = text(s, "RUST_LOG").unwrap_or_else(|| "info".to_string());
    tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| {
        ConfigError::new(
            "RUST_LOG",
            format!("'{log_filter}' is not a log filter: {e}"),
        )
    })?;
    Ok(TelemetrySettings {
        log_filter,
        log_format,
        service_name: text(s, "OTEL_SERVICE_NAME").unwrap_or_else(|| "nomad-gateway".to_string()),
        otlp: otlp_settings(s)?,
    })
}

fn otlp_settings(s: &Sources) -> Result<Option<OtlpSettings>, ConfigError> {
    let protocol = match s.get("OTEL_EXPORTER_OTLP_PROTOCOL").map(str::trim) {
        // The OpenTelemetry specification makes http/protobuf the default protocol.
        None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
        Some("grpc") => OtlpProtocol::Grpc,
        Some(other) => {
            return Err(ConfigError::new(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                format!("'{other}' is not supported; use grpc or http/protobuf"),
            ));
        }
    };
    let (key, endpoint) = match (
        text(s, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        text(s, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(e), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", e),
        (None, Some(base)) if protocol == OtlpProtocol::HttpProtobuf => (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("{}/v1/traces", base.trim_end_matches('/')),
        ),
        (None, Some(base)) => ("OTEL_EXPORTER_OTLP_ENDPOINT", base),
        (None, None) => return Ok(None),
    };
    if Url::parse(&endpoint)
        .map(|u| !matches!(u.scheme(), "http" | "https"))
        .unwrap_or(true)
    {
        return Err(ConfigError::new(
            key,
            format!("'{endpoint}' is not an http:// or https:// URL"),
        ));
    }
    let headers = match s.get("OTEL_EXPORTER_OTLP_HEADERS") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').ok_or_else(|| {
                    ConfigError::new(
                        "OTEL_EXPORTER_OTLP_HEADERS",
                        "use name=value pairs separated by commas",
                    )
                })?;
                Ok((name.trim().to_string(), Secret::new(value.trim())))
            })
            .collect::<Result<_, ConfigError>>()?,
    };
    Ok(Some(OtlpSettings {
        traces_endpoint: endpoint,
        protocol,
        headers,
    }))
}

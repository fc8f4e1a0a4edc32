//! The listener: address, public URL, limits and deadlines, and the TLS files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{ConfigError, DEFAULT_LISTEN, Sources, duration, parse, path};

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
    /// `GATEWAY_SHUTDOWN_DELAY`: after SIGTERM/SIGINT, how long `/readyz` answers 503 while
    /// everything else is served as before, so that a load balancer routing by readiness
    /// stops sending before the listener closes.
    pub shutdown_delay: Duration,
    /// `GATEWAY_READY_TIMEOUT`: bound on each `/readyz` dependency check.
    pub ready_timeout: Duration,
    /// `GATEWAY_CORS_ORIGINS`: browser origins besides the gateway's own that may call it
    /// (CORS answered for them); empty: CORS off.
    pub cors_origins: Vec<String>,
    /// `GATEWAY_MAX_CONNECTIONS`: open connections at once; one more is answered 503.
    pub max_connections: usize,
    /// `GATEWAY_HEADER_TIMEOUT`: time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// `GATEWAY_BODY_TIMEOUT`: time a client has to send a request's body.
    pub body_timeout: Duration,
}

/// Largest request head (request line and headers) in bytes; a larger one is 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

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

pub(super) fn server_settings(s: &Sources, tls: bool) -> Result<ServerSettings, ConfigError> {
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
        shutdown_delay: shutdown_delay(s)?,
        ready_timeout: duration(s, "GATEWAY_READY_TIMEOUT", Duration::from_secs(2))?,
        cors_origins: cors_origins(s)?,
        max_connections: max_connections(s)?,
        header_timeout: positive(s, "GATEWAY_HEADER_TIMEOUT", Duration::from_secs(10))?,
        body_timeout: positive(s, "GATEWAY_BODY_TIMEOUT", Duration::from_secs(30))?,
    })
}

fn positive(s: &Sources, key: &str, default: Duration) -> Result<Duration, ConfigError> {
    let value = duration(s, key, default)?;
    if value.is_zero() {
        return Err(ConfigError::new(key, "must be more than 0s"));
    }
    Ok(value)
}

fn shutdown_delay(s: &Sources) -> Result<Duration, ConfigError> {
    let delay = duration(s, "GATEWAY_SHUTDOWN_DELAY", Duration::ZERO)?;
    if delay > Duration::from_secs(300) {
        return Err(ConfigError::new(
            "GATEWAY_SHUTDOWN_DELAY",
            "must be at most 5m; a load balancer notices a failing readiness check within seconds",
        ));
    }
    Ok(delay)
}

fn max_connections(s: &Sources) -> Result<usize, ConfigError> {
    let max: usize = parse(
        s,
        "GATEWAY_MAX_CONNECTIONS",
        16_384,
        "a number of connections",
    )?;
    if !(1..=1_000_000).contains(&max) {
        return Err(ConfigError::new(
            "GATEWAY_MAX_CONNECTIONS",
            format!("{max} is out of range; use 1 to 1000000"),
        ));
    }
    Ok(max)
}

/// Comma-separated origins (`https://console.example.com`), each scheme, host and
/// optional port only.
fn cors_origins(s: &Sources) -> Result<Vec<String>, ConfigError> {
    let Some(text) = s.get("GATEWAY_CORS_ORIGINS") else {
        return Ok(Vec::new());
    };
    let mut origins = Vec::new();
    for item in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let url = Url::parse(item).map_err(|e| {
            ConfigError::new(
                "GATEWAY_CORS_ORIGINS",
                format!("'{item}' is not an origin: {e}"),
            )
        })?;
        let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
            return Err(ConfigError::new(
                "GATEWAY_CORS_ORIGINS",
                format!(
                    "'{item}' is not an origin; use scheme://host[:port], such as https://console.example.com"
                ),
            ));
        }
        origins.push(url.origin().ascii_serialization());
    }
    Ok(origins)
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

pub(super) fn tls_settings(s: &Sources) -> Result<Option<TlsSettings>, ConfigError> {
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

pub(super) fn listen_of(s: &Sources) -> Result<SocketAddr, ConfigError> {
    Ok(server_settings(s, false)?.listen)
}

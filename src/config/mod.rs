//! Typed configuration, read once at start from the environment and an optional TOML file.
//!
//! Every other module receives these structs; none reads the environment itself.

mod auth;
mod database;
mod describe;
mod duration;
mod mcp;
mod nomad;
mod oauth;
mod scope;
mod secret;
mod server;
mod source;
mod telemetry;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use auth::AuthSettings;
pub use database::{AuditSpool, DatabaseSettings, OperationsSettings};
pub use duration::{format_duration, parse_duration};
pub use mcp::{Confirm, McpSettings, Toolset};
pub use nomad::NomadSettings;
pub use oauth::{DocumentSettings, OAuthSettings, OidcSettings, host_is_loopback};
pub use scope::Scope;
pub use secret::{Secret, redact_url_password};
pub use server::{ClientAuth, MAX_HEADER_BYTES, ServerSettings, TlsSettings};
pub use source::{KNOWN_KEYS, Sources};
pub use telemetry::{LogFormat, OtlpProtocol, OtlpSettings, TelemetrySettings};

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
    pub oauth: OAuthSettings,
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
            let tls = server::tls_settings(&s)?;
            let database = database::database_settings(&s)?;
            let mut auth = auth::auth_settings(&s, server::listen_of(&s)?)?;
            auth.audit_spool = database::audit_spool(&s, &database)?;
            let server = server::server_settings(&s, tls.is_some())?;
            let oauth = oauth::oauth_settings(&s, &server, &auth)?;
            Ok(Config {
                server,
                oauth,
                tls,
                database,
                auth,
                nomad: nomad::nomad_settings(&s)?,
                telemetry: telemetry::telemetry_settings(&s)?,
                operations: database::operations_settings(&s)?,
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

/// One of `words` (case-insensitive), or `default` when the key is unset.
fn word<'a>(
    s: &Sources,
    key: &str,
    words: &[&'a str],
    default: &'a str,
) -> Result<&'a str, ConfigError> {
    let Some(given) = s.get(key).map(|t| t.trim().to_ascii_lowercase()) else {
        return Ok(default);
    };
    words.iter().find(|w| **w == given).copied().ok_or_else(|| {
        ConfigError::new(key, format!("'{given}' is not one of {}", words.join(", ")))
    })
}

fn path(s: &Sources, key: &str) -> Option<PathBuf> {
    s.get(key).map(PathBuf::from)
}

fn text(s: &Sources, key: &str) -> Option<String> {
    s.get(key).map(|t| t.trim().to_string())
}

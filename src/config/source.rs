//! Where configuration values come from: the environment, then an optional TOML file.
//!
//! Both use the same names (the environment variable names). In the TOML file a key may be
//! written in any case (`gateway_listen` or `GATEWAY_LISTEN`); the environment wins over it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// Every setting the gateway reads. A TOML key outside this list is refused, so a typo
/// does not silently fall back to a default.
pub const KNOWN_KEYS: &[&str] = &[
    "GATEWAY_LISTEN",
    "GATEWAY_PUBLIC_URL",
    "GATEWAY_TLS_CERT",
    "GATEWAY_TLS_KEY",
    "GATEWAY_TLS_CLIENT_CA",
    "GATEWAY_TLS_CLIENT_AUTH",
    "GATEWAY_TLS_RELOAD_INTERVAL",
    "GATEWAY_BODY_LIMIT",
    "GATEWAY_REQUEST_TIMEOUT",
    "GATEWAY_SHUTDOWN_TIMEOUT",
    "GATEWAY_SHUTDOWN_DELAY",
    "GATEWAY_READY_TIMEOUT",
    "GATEWAY_CORS_ORIGINS",
    "GATEWAY_MAX_CONNECTIONS",
    "GATEWAY_HEADER_TIMEOUT",
    "GATEWAY_BODY_TIMEOUT",
    "GATEWAY_OAUTH",
    "GATEWAY_OAUTH_ACCESS_TTL",
    "GATEWAY_OAUTH_REFRESH_TTL",
    "GATEWAY_OAUTH_KEY_ROTATION",
    "GATEWAY_OAUTH_KEY_SECRET",
    "GATEWAY_OAUTH_REGISTRATIONS",
    "GATEWAY_OAUTH_CLIENT_DOCUMENTS",
    "GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE",
    "GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA",
    "GATEWAY_OIDC_ISSUER",
    "GATEWAY_OIDC_CLIENT_ID",
    "GATEWAY_OIDC_CLIENT_SECRET",
    "GATEWAY_OIDC_SCOPES",
    "GATEWAY_OIDC_NAMESPACES",
    "DATABASE_URL",
    "GATEWAY_DB_MAX_CONNECTIONS",
    "GATEWAY_JWT_SECRET",
    "GATEWAY_JWT_JWKS_URL",
    "GATEWAY_JWT_ISSUER",
    "GATEWAY_JWT_AUDIENCE",
    "GATEWAY_JWT_NAMESPACES_CLAIM",
    "GATEWAY_JWT_GROUPS_CLAIM",
    "GATEWAY_JWT_GROUP_SCOPES",
    "GATEWAY_AUTH",
    "GATEWAY_READ_ONLY",
    "GATEWAY_OAUTH_AUTHORIZATION_SERVERS",
    "GATEWAY_WWW_AUTHENTICATE_METADATA",
    "GATEWAY_RATE_LIMIT_READS",
    "GATEWAY_RATE_LIMIT_WRITES",
    "GATEWAY_RATE_LIMIT_AUTH_FAILURES",
    "GATEWAY_AUDIT_QUEUE",
    "GATEWAY_AUDIT_SPOOL",
    "GATEWAY_METRICS_PUBLIC",
    "GATEWAY_OPERATIONS_RETENTION",
    "GATEWAY_OPERATIONS_LEASE",
    "GATEWAY_MCP_SESSIONS_PER_CALLER",
    "GATEWAY_MCP_SESSION_IDLE",
    "GATEWAY_MCP_SESSIONS_IN_MEMORY",
    "GATEWAY_MCP_TOOLSETS",
    "GATEWAY_MCP_CONFIRM",
    "GATEWAY_MCP_ANSWER_BYTES",
    "NOMAD_ADDR",
    "NOMAD_TOKEN",
    "NOMAD_TOKEN_FILE",
    "NOMAD_NAMESPACE",
    "NOMAD_REGION",
    "NOMAD_CACERT",
    "NOMAD_CAPATH",
    "NOMAD_CLIENT_CERT",
    "NOMAD_CLIENT_KEY",
    "NOMAD_TLS_SERVER_NAME",
    "NOMAD_SKIP_VERIFY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_SERVICE_NAME",
    "RUST_LOG",
    "GATEWAY_LOG_FORMAT",
];

/// One value and where it was found, so errors can point at the right place.
#[derive(Debug, Clone)]
pub struct Value {
    pub text: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Environment,
    File(PathBuf),
}

/// The merged settings: environment over file, empty values treated as unset (as the
/// Nomad CLI does for its `NOMAD_*` variables).
#[derive(Debug, Default)]
pub struct Sources {
    values: BTreeMap<&'static str, Value>,
}

impl Sources {
    /// Reads `file` (when given) and then every known key from `env`.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut sources = Sources::default();
        if let Some(path) = file {
            sources.read_file(path)?;
        }
        for key in KNOWN_KEYS {
            if let Some(text) = env(key).filter(|v| !v.trim().is_empty()) {
                sources.values.insert(
                    key,
                    Value {
                        text,
                        origin: Origin::Environment,
                    },
                );
            }
        }
        Ok(sources)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let file_error = |problem: String| ConfigError::new("--config", problem);
        let text = std::fs::read_to_string(path)
            .map_err(|e| file_error(format!("cannot read {}: {e}", path.display())))?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            file_error(format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.message()
            ))
        })?;
        for (key, value) in table {
            let upper = key.to_ascii_uppercase();
            let Some(known) = KNOWN_KEYS.iter().find(|k| **k == upper) else {
                return Err(ConfigError::new(
                    &key,
                    format!(
                        "unknown setting in {}; settings have the names of the environment variables (see `nomad-gateway config check`)",
                        path.display()
                    ),
                ));
            };
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => {
                    return Err(ConfigError::new(
                        known,
                        format!("in {} must be a string, number or boolean", path.display()),
                    ));
                }
            };
            self.values.insert(
                known,
                Value {
                    text,
                    origin: Origin::File(path.to_path_buf()),
                },
            );
        }
        Ok(())
    }

    /// The file a value came from, when it did not come from the environment.
    pub fn file_of(&self, key: &str) -> Option<&Path> {
        match &self.values.get(key)?.origin {
            Origin::File(path) => Some(path),
            Origin::Environment => None,
        }
    }

    /// The value of `key`, if set anywhere.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|v| v.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn environment_wins_over_the_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "gateway_listen = \"0.0.0.0:9000\"\nNOMAD_REGION = \"eu\""
        )
        .unwrap();
        let env = |k: &str| (k == "GATEWAY_LISTEN").then(|| "127.0.0.1:7000".to_string());
        let sources = Sources::load(Some(file.path()), &env).unwrap();
        assert_eq!(sources.get("GATEWAY_LISTEN"), Some("127.0.0.1:7000"));
        assert_eq!(sources.get("NOMAD_REGION"), Some("eu"));
    }

    #[test]
    fn unknown_file_keys_are_refused_by_name() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "gateway_lisen = \"0.0.0.0:9000\"").unwrap();
        let err = Sources::load(Some(file.path()), &no_env).unwrap_err();
        assert_eq!(err.variable, "gateway_lisen");
        assert!(err.problem.contains("unknown setting"));
    }

    #[test]
    fn empty_environment_values_count_as_unset() {
        let env = |k: &str| (k == "NOMAD_TOKEN").then(String::new);
        let sources = Sources::load(None, &env).unwrap();
        assert_eq!(sources.get("NOMAD_TOKEN"), None);
    }
}

//! The Nomad API: address, token, namespace, region and TLS, named as the Nomad CLI names them.

use std::path::PathBuf;

use url::Url;

use super::{ConfigError, DEFAULT_NOMAD_ADDR, Secret, Sources, boolean, path, text};

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

impl NomadSettings {
    /// Nomad at `addr` with nothing else set: no token, namespace or region, the system's
    /// roots for TLS.
    pub fn for_addr(addr: &str) -> NomadSettings {
        NomadSettings {
            addr: addr.into(),
            token: None,
            token_file: None,
            namespace: None,
            region: None,
            ca_cert: None,
            ca_path: None,
            client_cert: None,
            client_key: None,
            tls_server_name: None,
            skip_verify: false,
        }
    }
}

pub(super) fn nomad_settings(s: &Sources) -> Result<NomadSettings, ConfigError> {
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

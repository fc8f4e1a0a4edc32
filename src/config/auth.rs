//! Authentication: on or off, JWT issuers and keys, scopes from groups, rate limits.

use std::net::SocketAddr;

use url::Url;

use super::{AuditSpool, ConfigError, Scope, Secret, Sources, boolean, parse, text};

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
                    format!("'{scope}' is not a scope; use {}", Scope::names()),
                ));
            }
        }
        out.push((group.trim().to_string(), scopes));
    }
    Ok(out)
}

pub(super) fn auth_settings(s: &Sources, listen: SocketAddr) -> Result<AuthSettings, ConfigError> {
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

//! `config check`: the effective configuration as `KEY = "value"` lines, secrets redacted.
//!
//! The output is valid TOML in the same names the gateway reads, so it can be saved and
//! edited into a `--config` file.

use super::{
    ClientAuth, Config, DatabaseSettings, LogFormat, OtlpProtocol, format_duration,
    redact_url_password,
};

const REDACTED: &str = "<redacted>";

impl Config {
    /// Every setting with its effective value; unset optional settings are left out.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut put = |key: &'static str, value: String| out.push((key, value));
        let server = &self.server;
        put("GATEWAY_LISTEN", server.listen.to_string());
        put("GATEWAY_PUBLIC_URL", server.public_url.to_string());
        put("GATEWAY_BODY_LIMIT", server.body_limit.to_string());
        put(
            "GATEWAY_REQUEST_TIMEOUT",
            format_duration(server.request_timeout),
        );
        put(
            "GATEWAY_SHUTDOWN_TIMEOUT",
            format_duration(server.shutdown_timeout),
        );
        put(
            "GATEWAY_SHUTDOWN_DELAY",
            format_duration(server.shutdown_delay),
        );
        put(
            "GATEWAY_READY_TIMEOUT",
            format_duration(server.ready_timeout),
        );
        if !server.cors_origins.is_empty() {
            put("GATEWAY_CORS_ORIGINS", server.cors_origins.join(","));
        }
        put(
            "GATEWAY_MAX_CONNECTIONS",
            server.max_connections.to_string(),
        );
        put(
            "GATEWAY_HEADER_TIMEOUT",
            format_duration(server.header_timeout),
        );
        put("GATEWAY_BODY_TIMEOUT", format_duration(server.body_timeout));
        if let Some(tls) = &self.tls {
            put("GATEWAY_TLS_CERT", tls.cert.display().to_string());
            put("GATEWAY_TLS_KEY", tls.key.display().to_string());
            if let Some(ca) = &tls.client_ca {
                put("GATEWAY_TLS_CLIENT_CA", ca.display().to_string());
                let mode = match tls.client_auth {
                    ClientAuth::Optional => "optional",
                    ClientAuth::Required => "required",
                };
                put("GATEWAY_TLS_CLIENT_AUTH", mode.to_string());
            }
            put(
                "GATEWAY_TLS_RELOAD_INTERVAL",
                format_duration(tls.reload_interval),
            );
        }
        let database = match &self.database {
            DatabaseSettings::Sqlite { url, .. } => url.clone(),
            DatabaseSettings::Postgres { url, .. } => redact_url_password(url.expose()),
        };
        put("DATABASE_URL", database);
        if let DatabaseSettings::Postgres {
            max_connections, ..
        } = &self.database
        {
            put("GATEWAY_DB_MAX_CONNECTIONS", max_connections.to_string());
        }
        let auth = &self.auth;
        put(
            "GATEWAY_AUTH",
            if auth.enabled { "on" } else { "off" }.to_string(),
        );
        put("GATEWAY_READ_ONLY", auth.read_only.to_string());
        put(
            "GATEWAY_RATE_LIMIT_READS",
            auth.rate_limit_reads.to_string(),
        );
        put(
            "GATEWAY_RATE_LIMIT_WRITES",
            auth.rate_limit_writes.to_string(),
        );
        put("GATEWAY_AUDIT_QUEUE", auth.audit_queue.to_string());
        put(
            "GATEWAY_AUDIT_SPOOL",
            match auth.audit_spool.folder() {
                Some(folder) => folder.display().to_string(),
                None => "off".to_string(),
            },
        );
        put(
            "GATEWAY_OPERATIONS_RETENTION",
            format_duration(self.operations.retention),
        );
        put(
            "GATEWAY_OPERATIONS_LEASE",
            format_duration(self.operations.lease),
        );
        put("GATEWAY_METRICS_PUBLIC", auth.metrics_public.to_string());
        put(
            "GATEWAY_MCP_SESSIONS_PER_CALLER",
            self.mcp.sessions_per_caller.to_string(),
        );
        put(
            "GATEWAY_MCP_SESSION_IDLE",
            format_duration(self.mcp.session_idle),
        );
        put(
            "GATEWAY_MCP_SESSIONS_IN_MEMORY",
            self.mcp.sessions_in_memory.to_string(),
        );
        put(
            "GATEWAY_MCP_TOOLSETS",
            super::mcp::Toolset::list(&self.mcp.toolsets),
        );
        put("GATEWAY_MCP_CONFIRM", self.mcp.confirm.name().to_string());
        put(
            "GATEWAY_MCP_ANSWER_BYTES",
            self.mcp.answer_bytes.to_string(),
        );
        put(
            "GATEWAY_WWW_AUTHENTICATE_METADATA",
            auth.www_authenticate_metadata.to_string(),
        );
        put(
            "GATEWAY_JWT_NAMESPACES_CLAIM",
            auth.namespaces_claim.clone(),
        );
        put("GATEWAY_JWT_GROUPS_CLAIM", auth.groups_claim.clone());
        if !auth.group_scopes.is_empty() {
            let text: Vec<String> = auth
                .group_scopes
                .iter()
                .map(|(g, s)| format!("{g}={}", s.join(",")))
                .collect();
            put("GATEWAY_JWT_GROUP_SCOPES", text.join(";"));
        }
        put(
            "GATEWAY_OAUTH",
            if self.oauth.builtin { "builtin" } else { "off" }.to_string(),
        );
        if self.oauth.builtin {
            put(
                "GATEWAY_OAUTH_ACCESS_TTL",
                format_duration(self.oauth.access_ttl),
            );
            put(
                "GATEWAY_OAUTH_REFRESH_TTL",
                format_duration(self.oauth.refresh_ttl),
            );
            put(
                "GATEWAY_OAUTH_KEY_ROTATION",
                format_duration(self.oauth.key_rotation),
            );
            put(
                "GATEWAY_OAUTH_REGISTRATIONS",
                self.oauth.registrations.to_string(),
            );
            if self.oauth.key_secret.is_some() {
                put("GATEWAY_OAUTH_KEY_SECRET", REDACTED.to_string());
            }
            let documents = &self.oauth.documents;
            put(
                "GATEWAY_OAUTH_CLIENT_DOCUMENTS",
                if documents.enabled { "on" } else { "off" }.to_string(),
            );
            if documents.enabled {
                put(
                    "GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE",
                    if documents.private { "allow" } else { "refuse" }.to_string(),
                );
                if let Some(file) = &documents.ca_file {
                    put(
                        "GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA",
                        file.display().to_string(),
                    );
                }
            }
            if let Some(oidc) = &self.oauth.oidc {
                put("GATEWAY_OIDC_ISSUER", oidc.issuer.to_string());
                put("GATEWAY_OIDC_CLIENT_ID", oidc.client_id.clone());
                put("GATEWAY_OIDC_CLIENT_SECRET", REDACTED.to_string());
                put("GATEWAY_OIDC_SCOPES", oidc.scopes.clone());
                put("GATEWAY_OIDC_NAMESPACES", oidc.namespaces.join(","));
            }
        }
        if !auth.authorization_servers.is_empty() {
            let urls: Vec<String> = auth
                .authorization_servers
                .iter()
                .map(|u| u.to_string())
                .collect();
            put("GATEWAY_OAUTH_AUTHORIZATION_SERVERS", urls.join(","));
        }
        if auth.jwt_secret.is_some() {
            put("GATEWAY_JWT_SECRET", REDACTED.to_string());
        }
        if let Some(url) = &auth.jwks_url {
            put("GATEWAY_JWT_JWKS_URL", url.to_string());
        }
        if let Some(issuer) = &auth.issuer {
            put("GATEWAY_JWT_ISSUER", issuer.clone());
        }
        if let Some(audience) = &auth.audience {
            put("GATEWAY_JWT_AUDIENCE", audience.clone());
        }
        let nomad = &self.nomad;
        put("NOMAD_ADDR", nomad.addr.clone());
        if nomad.token.is_some() {
            put("NOMAD_TOKEN", REDACTED.to_string());
        }
        let paths = [
            ("NOMAD_TOKEN_FILE", &nomad.token_file),
            ("NOMAD_CACERT", &nomad.ca_cert),
            ("NOMAD_CAPATH", &nomad.ca_path),
            ("NOMAD_CLIENT_CERT", &nomad.client_cert),
            ("NOMAD_CLIENT_KEY", &nomad.client_key),
        ];
        for (key, path) in paths {
            if let Some(path) = path {
                put(key, path.display().to_string());
            }
        }
        for (key, value) in [
            ("NOMAD_NAMESPACE", &nomad.namespace),
            ("NOMAD_REGION", &nomad.region),
            ("NOMAD_TLS_SERVER_NAME", &nomad.tls_server_name),
        ] {
            if let Some(value) = value {
                put(key, value.clone());
            }
        }
        put("NOMAD_SKIP_VERIFY", nomad.skip_verify.to_string());
        let telemetry = &self.telemetry;
        put("RUST_LOG", telemetry.log_filter.clone());
        let format = match telemetry.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        put("GATEWAY_LOG_FORMAT", format.to_string());
        put("OTEL_SERVICE_NAME", telemetry.service_name.clone());
        if let Some(otlp) = &telemetry.otlp {
            put(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                otlp.traces_endpoint.clone(),
            );
            let protocol = match otlp.protocol {
                OtlpProtocol::Grpc => "grpc",
                OtlpProtocol::HttpProtobuf => "http/protobuf",
            };
            put("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_string());
            if !otlp.headers.is_empty() {
                let names: Vec<String> = otlp
                    .headers
                    .iter()
                    .map(|(n, _)| format!("{n}={REDACTED}"))
                    .collect();
                put("OTEL_EXPORTER_OTLP_HEADERS", names.join(","));
            }
        }
        out
    }

    /// The description as TOML text.
    pub fn describe_toml(&self) -> String {
        self.describe()
            .into_iter()
            .map(|(key, value)| format!("{key} = {}\n", toml::Value::String(value)))
            .collect()
    }
}

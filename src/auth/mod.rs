//! Who is calling: the `Authorization: Bearer` credential (an API key or a JWT) becomes a
//! `Principal` in the request's extensions, for REST handlers and MCP tools alike. What
//! the caller may do is decided in the service layer by `policy::decide`.

pub mod audit;
pub mod jwt;
pub mod keys;
pub mod policy;
pub mod ratelimit;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use sea_orm::DatabaseConnection;
use serde_json::json;

pub use policy::{Access, Credential, Namespaces, Principal, Scope, Transport};

use crate::config::AuthSettings;
use crate::http::ApiError;
use crate::state::AppState;

/// Checks credentials; shared by every request.
pub struct Authenticator {
    settings: AuthSettings,
    public_url: url::Url,
    keys: keys::KeyStore,
    jwt: Option<jwt::JwtVerifier>,
    audit: Option<audit::Audit>,
    /// Refused credentials per client address (guessing, or a misconfigured client).
    failures: ratelimit::Limiter,
}

impl Authenticator {
    pub fn new(
        settings: AuthSettings,
        public_url: url::Url,
        db: DatabaseConnection,
        audit: Option<audit::Audit>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Arc<Authenticator> {
        let jwt = jwt::JwtVerifier::new(&settings, shutdown);
        Arc::new(Authenticator {
            failures: ratelimit::Limiter::new(settings.rate_limit_auth_failures),
            settings,
            public_url,
            keys: keys::KeyStore::new(db),
            jwt,
            audit,
        })
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    fn metadata_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    fn challenge(&self, invalid_token: bool) -> String {
        let mut value = String::from("Bearer realm=\"nomad-gateway\"");
        if self.settings.www_authenticate_metadata {
            value.push_str(&format!(", resource_metadata=\"{}\"", self.metadata_url()));
        }
        if invalid_token {
            value.push_str(", error=\"invalid_token\"");
        }
        value
    }

    async fn verify(&self, token: &str) -> Result<Principal, String> {
        if keys::looks_like_key(token) {
            return self.keys.verify(token).await.map_err(|e| e.to_string());
        }
        match &self.jwt {
            Some(jwt) => jwt.verify(token).await.map_err(|e| e.to_string()),
            None => Err(
                "the credential is not an API key (ngw_...) and no JWT issuer is configured".into(),
            ),
        }
    }
}

/// Paths anyone may call.
fn is_public(path: &str, metrics_public: bool) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/openapi.json")
        || path == "/docs"
        || path.starts_with("/docs/")
        || path.starts_with("/.well-known/")
        || (metrics_public && path == "/metrics")
}

fn transport_of(path: &str) -> Transport {
    if path == "/mcp" || path.starts_with("/mcp/") && !path.starts_with("/mcp/sse") {
        Transport::McpHttp
    } else if path == "/sse" || path.starts_with("/mcp/sse") || path == "/messages" {
        Transport::McpSse
    } else {
        Transport::Rest
    }
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not text")?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("use Authorization: Bearer <token>")?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err("use Authorization: Bearer <token>");
    }
    Ok(Some(token.trim()))
}

/// Credentials in a URL end up in proxy logs and browser history.
fn credential_in_query(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let key = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
            matches!(
                key.as_str(),
                "access_token" | "token" | "api_key" | "apikey" | "key"
            )
        })
    })
}

/// The middleware: puts the caller's `Principal` into the request or answers 401.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let auth = state.auth.clone();
    let path = request.uri().path().to_string();
    if is_public(&path, auth.settings.metrics_public) {
        return next.run(request).await;
    }
    let client_addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let transport = transport_of(&path);
    let refuse = |message: String, invalid_token: bool| {
        // A client that keeps presenting bad credentials is slowed down, and its refusals
        // stop costing an audit event each.
        let address = client_addr.clone().unwrap_or_default();
        if let Err(retry_after) = auth.failures.check(&address) {
            return ApiError::TooManyRequests {
                message: format!("too many refused credentials from {address}; {message}"),
                retry_after: retry_after.as_secs().max(1),
            }
            .into_response();
        }
        if let Some(audit) = &auth.audit {
            let mut anonymous = Principal::local();
            anonymous.subject = "anonymous".into();
            anonymous.scopes.clear();
            anonymous.transport = transport;
            anonymous.client_addr = client_addr.clone();
            audit.record(
                &anonymous,
                audit::Entry {
                    operation: "authenticate",
                    namespace: None,
                    job_id: None,
                    arguments: json!({ "path": path }),
                    outcome: audit::Outcome::Refused,
                    message: Some(message.clone()),
                    eval_id: None,
                    duration: std::time::Duration::ZERO,
                },
            );
        }
        ApiError::Unauthorized {
            message,
            challenge: auth.challenge(invalid_token),
        }
        .into_response()
    };
    if auth.enabled() && credential_in_query(request.uri().query()) {
        return refuse(
            "credentials in the URL are refused; send them as Authorization: Bearer <token>".into(),
            false,
        );
    }
    let mut principal = if auth.enabled() {
        match bearer(request.headers()) {
            Err(problem) => return refuse(problem.into(), false),
            Ok(None) => {
                return refuse(
                    "a credential is required: send Authorization: Bearer <API key or JWT>".into(),
                    false,
                );
            }
            Ok(Some(token)) => match auth.verify(token).await {
                Ok(p) => p,
                Err(problem) => return refuse(problem, true),
            },
        }
    } else {
        Principal::local()
    };
    principal.transport = transport;
    principal.client_addr = client_addr;
    tracing::Span::current().record("caller", principal.subject.as_str());
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The caller, for REST handlers.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or(ApiError::Internal)
    }
}

/// `/.well-known/oauth-protected-resource` (RFC 9728): what this resource is, who issues
/// tokens for it, and which scopes exist.
pub async fn resource_metadata(State(state): State<AppState>) -> Response {
    let auth = &state.auth;
    let resource = format!("{}/mcp", auth.public_url.as_str().trim_end_matches('/'));
    let servers: Vec<String> = auth
        .settings
        .authorization_servers
        .iter()
        .map(|u| u.to_string())
        .collect();
    Json(json!({
        "resource": resource,
        "resource_name": "nomad-gateway",
        "authorization_servers": servers,
        "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
    }))
    .into_response()
}

/// On first start with authentication on and no keys at all: one admin key, printed
/// once on the terminal (never logged). The fixed prefix is unique in the table, so two
/// replicas starting together cannot both create one.
pub async fn bootstrap_admin_key(db: &DatabaseConnection) -> Result<(), String> {
    let count = crate::db::keys::count(db)
        .await
        .map_err(|e| format!("cannot count API keys: {e}"))?;
    if count > 0 {
        return Ok(());
    }
    let spec = keys::KeySpec {
        name: "bootstrap admin".into(),
        owner: "admin".into(),
        scopes: Scope::ALL.into_iter().collect(),
        namespaces: vec!["*".into()],
        expires_at: None,
    };
    match keys::create(db, &spec, Some("bootstrap")).await {
        Ok(key) => {
            eprintln!(
                "\nnomad-gateway: no API keys existed, so this admin key was created. It is shown only this once; store it now:\n\n    {}\n\nSend it as `Authorization: Bearer <key>`; create narrower keys with `nomad-gateway api-key create`.\n",
                key.token
            );
            tracing::info!(key.prefix = %key.prefix, "created the bootstrap admin API key");
            Ok(())
        }
        // Another replica created it first.
        Err(_) if crate::db::keys::count(db).await.unwrap_or(0) > 0 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_and_transports() {
        assert!(is_public("/healthz", false));
        assert!(is_public(
            "/.well-known/oauth-protected-resource/mcp",
            false
        ));
        assert!(!is_public("/metrics", false));
        assert!(is_public("/metrics", true));
        assert!(!is_public("/api/v1/jobs", false));
        assert_eq!(transport_of("/mcp"), Transport::McpHttp);
        assert_eq!(transport_of("/mcp/sse"), Transport::McpSse);
        assert_eq!(transport_of("/messages"), Transport::McpSse);
        assert_eq!(transport_of("/api/v1/jobs"), Transport::Rest);
        assert!(credential_in_query(Some("a=1&access_token=x")));
        assert!(!credential_in_query(Some("namespace=dev")));
    }
}

//! The built-in OAuth 2.1 authorization server (`GATEWAY_OAUTH=builtin`): client
//! registration, the authorization code flow with PKCE, access tokens signed by the
//! gateway's key ring, rotating refresh tokens with reuse detection, and revocation. The
//! HTTP endpoints and pages are in `http/oauth.rs`; this module decides.

pub mod clients;
pub mod documents;
pub mod grants;
pub mod oidc;
pub mod pending;
pub mod signing;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use crate::config::{ConfigError, OAuthSettings, Scope};
use crate::service::audit::{self, Audit};
use crate::service::policy::Principal;
use crate::service::ratelimit::Limiter;

/// An OAuth error answer: the RFC 6749 §5.2 code, what to do about it, and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
    pub status: u16,
    /// For a 429: when to try again.
    pub retry_after: Option<Duration>,
}

impl OAuthError {
    pub fn bad(code: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
            status: 400,
            retry_after: None,
        }
    }

    pub fn client(description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: 401,
            ..OAuthError::bad("invalid_client", description)
        }
    }

    pub fn grant(description: impl Into<String>) -> OAuthError {
        OAuthError::bad("invalid_grant", description)
    }

    /// The database could not be asked: not the client's fault.
    pub fn unavailable(cause: impl std::fmt::Display) -> OAuthError {
        tracing::warn!(%cause, "the authorization server cannot reach its database");
        OAuthError {
            code: "temporarily_unavailable",
            description: "the gateway's database is unavailable; try again shortly".into(),
            status: 503,
            retry_after: Some(Duration::from_secs(2)),
        }
    }

    pub fn json(&self) -> Value {
        json!({ "error": self.code, "error_description": self.description })
    }
}

/// `len` random bytes as URL-safe base64 without padding.
pub fn random_token(len: usize) -> Result<String, OAuthError> {
    use base64::Engine;
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| OAuthError {
        code: "server_error",
        description: format!("no randomness: {e}"),
        status: 500,
        retry_after: None,
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether a grant still lets its tokens work, as last read.
#[derive(Debug, Clone)]
struct Alive {
    at: Instant,
    problem: Option<String>,
}

/// How long a grant's state is trusted before the database is asked again: a revoked
/// grant or API key stops working on every replica within this.
pub const GRANT_CACHE_TTL: Duration = Duration::from_secs(5);
/// How long an authorization code lives (RFC 6749 §4.1.2 advises at most 10 minutes).
pub const CODE_TTL: Duration = Duration::from_secs(60);

pub struct AuthorizationServer {
    db: DatabaseConnection,
    settings: OAuthSettings,
    /// The public URL without its trailing slash: `iss` of every token and metadata.
    issuer: String,
    keys: signing::KeyRing,
    audit: Option<Audit>,
    registrations: Limiter,
    alive: Mutex<HashMap<uuid::Uuid, Alive>>,
    /// The team's identity provider, when `GATEWAY_OIDC_ISSUER` is set.
    oidc: Option<oidc::Oidc>,
    /// Clients named by their metadata document, unless `GATEWAY_OAUTH_CLIENT_DOCUMENTS=off`.
    documents: Option<documents::Documents>,
}

impl AuthorizationServer {
    pub fn new(
        db: DatabaseConnection,
        settings: OAuthSettings,
        auth: &crate::config::AuthSettings,
        public_url: &url::Url,
        audit: Option<Audit>,
    ) -> Result<AuthorizationServer, ConfigError> {
        let documents = settings
            .documents
            .enabled
            .then(|| documents::Documents::new(&settings.documents))
            .transpose()
            .map_err(|e| ConfigError::new("GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA", e))?;
        Ok(AuthorizationServer {
            documents,
            oidc: settings
                .oidc
                .clone()
                .map(|o| oidc::Oidc::new(o, auth, public_url)),
            keys: signing::KeyRing::new(
                db.clone(),
                settings.key_rotation,
                settings.access_ttl,
                settings.key_secret.as_ref(),
            )
            .map_err(|e| ConfigError::new("GATEWAY_OAUTH_KEY_SECRET", e))?,
            registrations: Limiter::shared("oauth-register", settings.registrations, &db),
            issuer: public_url.as_str().trim_end_matches('/').to_string(),
            db,
            settings,
            audit,
            alive: Mutex::new(HashMap::new()),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The MCP resource the protected resource metadata names.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.issuer)
    }

    /// The resources a client may ask tokens for (RFC 8707): the MCP resource, or the
    /// gateway as a whole (its REST API as well).
    pub fn resource_ok(&self, resource: &str) -> bool {
        let resource = resource.trim_end_matches('/');
        resource == self.resource() || resource == self.issuer
    }

    /// RFC 8414 authorization server metadata.
    pub fn metadata(&self) -> Value {
        let at = |path: &str| format!("{}{path}", self.issuer);
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": at("/oauth/authorize"),
            "token_endpoint": at("/oauth/token"),
            "registration_endpoint": at("/oauth/register"),
            "revocation_endpoint": at("/oauth/revoke"),
            "jwks_uri": at("/oauth/jwks.json"),
            "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": clients::AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": clients::AUTH_METHODS,
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": self.documents.is_some(),
        })
    }

    /// The published signing keys.
    pub async fn jwks(&self) -> Result<Value, OAuthError> {
        self.keys.jwks().await.map_err(OAuthError::unavailable)
    }

    /// Registers a client (RFC 7591), within the budget of the address it came from.
    pub async fn register(
        &self,
        request: clients::Registration,
        from: Option<String>,
    ) -> Result<clients::Registered, OAuthError> {
        let address = from.clone().unwrap_or_default();
        if let Err(wait) = self.registrations.check(&address).await {
            return Err(OAuthError {
                code: "temporarily_unavailable",
                description: format!(
                    "too many registrations from {address}; try again in {}s (GATEWAY_OAUTH_REGISTRATIONS)",
                    wait.as_secs().max(1)
                ),
                status: 429,
                retry_after: Some(wait),
            });
        }
        let (row, secret) = clients::check(request, from)?;
        crate::db::oauth::insert_client(&self.db, row.clone())
            .await
            .map_err(OAuthError::unavailable)?;
        tracing::info!(
            client_id = row.client_id,
            name = row.name,
            "OAuth client registered"
        );
        Ok(clients::registered(&row, secret))
    }

    /// Removes expired codes, tokens, grants, keys and unused registrations.
    pub async fn sweep(&self) {
        let day = chrono::Duration::days(1);
        let at = crate::db::operations::now();
        let ttl = chrono::Duration::from_std(self.settings.access_ttl).unwrap_or(day);
        match crate::db::oauth::sweep(&self.db, at - day, at - ttl - day, at - day).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "OAuth rows swept"),
            Err(error) => tracing::warn!(%error, "could not sweep the OAuth tables"),
        }
    }

    /// Sweeps every hour until `shutdown`.
    pub fn spawn_sweeper(
        self: &std::sync::Arc<Self>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let server = self.clone();
        tokio::spawn(async move {
            loop {
                server.sweep().await;
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                }
            }
        });
    }

    /// An audit event of the flow (sign-in, consent, tokens, reuse, revocation), durable
    /// before the answer goes out.
    async fn record(
        &self,
        who: &Principal,
        operation: &'static str,
        arguments: Value,
        outcome: audit::Outcome,
        message: Option<String>,
    ) {
        if let Some(audit) = &self.audit {
            audit
                .record_event(
                    who,
                    audit::Entry {
                        operation,
                        namespace: None,
                        job_id: None,
                        arguments,
                        outcome,
                        message,
                        eval_id: None,
                        duration: Duration::ZERO,
                    },
                )
                .await;
        }
    }
}

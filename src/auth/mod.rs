//! Who is calling, and nothing else: the `Authorization: Bearer` credential (an API key
//! or a JWT) becomes a `Principal`, or an `AuthError` the transports turn into their own
//! answer. What the caller may do is decided in the service layer by `policy::decide`.

pub mod jwt;
pub mod keys;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, header};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::config::AuthSettings;
use crate::service::audit;
use crate::service::oauth::AuthorizationServer;
use crate::service::oauth::grants::AccessProblem;
use crate::service::oauth::signing::KID_PREFIX;
use crate::service::policy::{Principal, Scope, Transport};
use crate::service::ratelimit;

/// Checks credentials; shared by every request.
pub struct Authenticator {
    settings: AuthSettings,
    public_url: url::Url,
    keys: keys::KeyStore,
    jwt: Option<jwt::JwtVerifier>,
    /// The built-in authorization server, whose tokens (`kid` `ngw-...`) it checks.
    oauth: Option<Arc<AuthorizationServer>>,
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
        oauth: Option<Arc<AuthorizationServer>>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Arc<Authenticator> {
        let jwt = jwt::JwtVerifier::new(&settings, &public_url, shutdown);
        Arc::new(Authenticator {
            failures: ratelimit::Limiter::shared("auth", settings.rate_limit_auth_failures, &db),
            settings,
            public_url,
            keys: keys::KeyStore::new(db),
            jwt,
            oauth,
            audit,
        })
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    pub fn metadata_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    /// The `WWW-Authenticate` value of a 401.
    pub fn challenge(&self, invalid_token: bool) -> String {
        let mut value = String::from("Bearer realm=\"nomad-gateway\"");
        if self.settings.www_authenticate_metadata {
            value.push_str(&format!(", resource_metadata=\"{}\"", self.metadata_url()));
        }
        if invalid_token {
            value.push_str(", error=\"invalid_token\"");
        }
        value
    }

    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if crate::service::keys::looks_like_key(token) {
            return self.keys.verify(token).await.map_err(|e| match e {
                keys::KeyProblem::Unavailable(cause) => AuthError::Unavailable(cause),
                other => AuthError::Refused {
                    message: other.to_string(),
                    invalid_token: true,
                },
            });
        }
        if let Some(oauth) = &self.oauth
            && let Ok(header) = jsonwebtoken::decode_header(token)
            && let Some(kid) = header.kid.as_deref().filter(|k| k.starts_with(KID_PREFIX))
        {
            return oauth.verify_access(token, kid).await.map_err(|e| match e {
                AccessProblem::Unavailable(cause) => AuthError::Unavailable(cause),
                AccessProblem::Refused(why) => AuthError::Refused {
                    message: format!("the token is not accepted: {why}"),
                    invalid_token: true,
                },
            });
        }
        match &self.jwt {
            Some(jwt) => jwt.verify(token).await.map_err(|e| AuthError::Refused {
                message: e.to_string(),
                invalid_token: true,
            }),
            None => Err(AuthError::Refused {
                message:
                    "the credential is not an API key (ngw_...) and no JWT issuer is configured"
                        .into(),
                invalid_token: true,
            }),
        }
    }
}

/// Paths anyone may call (the authorization server's endpoints check what they need).
fn is_public(path: &str, metrics_public: bool) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/openapi.json")
        || path.starts_with("/oauth/")
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

/// Why a request has no caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential, a malformed one, or one that does not check out (401).
    #[error("{message}")]
    Refused {
        message: String,
        /// The challenge says `error="invalid_token"`.
        invalid_token: bool,
    },
    /// This client address presented too many refused credentials (429).
    #[error("{message}")]
    TooManyFailures {
        message: String,
        retry_after: Duration,
    },
    /// The credential could not be checked: the gateway's database did not answer (503).
    /// Not the caller's fault, so not counted as a refused credential.
    #[error(
        "the gateway's database is unavailable, so credentials cannot be checked right now; try again shortly"
    )]
    Unavailable(String),
}

/// What authentication looks at in a request.
pub struct Presented<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub client_addr: Option<String>,
}

impl Authenticator {
    /// The caller of a request: `Ok(None)` for a public path, the local operator when
    /// authentication is off. Refusals are audited (and counted per client address).
    pub async fn authenticate(
        &self,
        request: Presented<'_>,
    ) -> Result<Option<Principal>, AuthError> {
        if is_public(request.path, self.settings.metrics_public) {
            return Ok(None);
        }
        let transport = transport_of(request.path);
        let checked = if !self.enabled() {
            Ok(Principal::local())
        } else if credential_in_query(request.query) {
            Err(AuthError::Refused {
                message:
                    "credentials in the URL are refused; send them as Authorization: Bearer <token>"
                        .into(),
                invalid_token: false,
            })
        } else {
            match bearer(request.headers) {
                Err(problem) => Err(AuthError::Refused {
                    message: problem.into(),
                    invalid_token: false,
                }),
                Ok(None) => Err(AuthError::Refused {
                    message:
                        "a credential is required: send Authorization: Bearer <API key or JWT>"
                            .into(),
                    invalid_token: false,
                }),
                Ok(Some(token)) => self.verify(token).await,
            }
        };
        match checked {
            Ok(mut principal) => {
                principal.transport = transport;
                principal.client_addr = request.client_addr;
                Ok(Some(principal))
            }
            Err(AuthError::Unavailable(cause)) => {
                tracing::warn!(%cause, path = request.path, "credential not checked: the database is unavailable");
                Err(AuthError::Unavailable(cause))
            }
            Err(AuthError::Refused {
                message,
                invalid_token,
            }) => Err(self
                .refused(
                    message,
                    invalid_token,
                    transport,
                    request.client_addr,
                    request.path,
                )
                .await),
            Err(other) => Err(other),
        }
    }

    /// The API key a person pastes on the built-in authorization server's sign-in page,
    /// checked like a bearer key: a refusal is audited and counts against the address.
    pub async fn sign_in(
        &self,
        key: &str,
        client_addr: Option<String>,
    ) -> Result<Principal, AuthError> {
        let checked = if crate::service::keys::looks_like_key(key) {
            self.keys.verify(key).await.map_err(|e| match e {
                keys::KeyProblem::Unavailable(cause) => AuthError::Unavailable(cause),
                other => AuthError::Refused {
                    message: other.to_string(),
                    invalid_token: false,
                },
            })
        } else {
            Err(AuthError::Refused {
                message: "that is not an API key; paste a key that starts with ngw_".into(),
                invalid_token: false,
            })
        };
        match checked {
            Err(AuthError::Refused { message, .. }) => Err(self
                .refused(
                    message,
                    false,
                    Transport::Rest,
                    client_addr,
                    "/oauth/authorize",
                )
                .await),
            other => other,
        }
    }

    /// A refused credential: slowed down per client address, and audited while it is not.
    async fn refused(
        &self,
        message: String,
        invalid_token: bool,
        transport: Transport,
        client_addr: Option<String>,
        path: &str,
    ) -> AuthError {
        let address = client_addr.clone().unwrap_or_default();
        if let Err(retry_after) = self.failures.check(&address).await {
            metrics::counter!("gateway_rate_limited_total", "budget" => "auth").increment(1);
            return AuthError::TooManyFailures {
                message: format!("too many refused credentials from {address}; {message}"),
                retry_after,
            };
        }
        if let Some(audit) = &self.audit {
            let mut anonymous = Principal::local();
            anonymous.subject = "anonymous".into();
            anonymous.scopes.clear();
            anonymous.transport = transport;
            anonymous.client_addr = client_addr;
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
                    duration: Duration::ZERO,
                },
            );
        }
        AuthError::Refused {
            message,
            invalid_token,
        }
    }

    /// RFC 9728 protected resource metadata: what this resource is, who issues tokens for
    /// it, and which scopes exist.
    pub fn resource_metadata(&self) -> serde_json::Value {
        let resource = format!("{}/mcp", self.public_url.as_str().trim_end_matches('/'));
        let servers: Vec<String> = match &self.oauth {
            Some(oauth) => vec![oauth.issuer().to_string()],
            None => self
                .settings
                .authorization_servers
                .iter()
                .map(|u| u.to_string())
                .collect(),
        };
        json!({
            "resource": resource,
            "resource_name": "nomad-gateway",
            "authorization_servers": servers,
            "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "bearer_methods_supported": ["header"],
        })
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

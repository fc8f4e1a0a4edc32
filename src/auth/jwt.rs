//! JWT verification: HS256 with the gateway's secret, and RS/ES/PS/EdDSA keys from the
//! identity provider's JWKS (fetched at start, refreshed in the background and, rate
//! limited, when a token names an unknown `kid`). The algorithm always comes from the
//! key, never from the token: an HS256 token is only ever checked against the shared
//! secret, and a JWKS key only with its own algorithm (RFC 8725 §3.1, §3.2).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::Value;

use crate::config::AuthSettings;
use crate::service::claims::{group_scopes, key_algorithm, strings};
use crate::service::policy::{Credential, Namespaces, Principal, Scope, Transport};

/// Refetch the JWKS at most this often when tokens name unknown keys.
const REFETCH_MIN: Duration = Duration::from_secs(5);
/// Background refresh period.
const REFRESH_EVERY: Duration = Duration::from_secs(300);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtProblem(pub String);

impl std::fmt::Display for JwtProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the token is not accepted: {}", self.0)
    }
}

fn problem(text: impl Into<String>) -> JwtProblem {
    JwtProblem(text.into())
}

struct Jwks {
    url: url::Url,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl Jwks {
    async fn fetch(&self) -> Result<usize, String> {
        *self.last_fetch.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let set: JwkSet = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("cannot fetch the JWKS from {}: {e}", self.url))?
            .json()
            .await
            .map_err(|e| format!("the JWKS at {} is not a key set: {e}", self.url))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_algorithm(jwk)) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, alg));
            }
        }
        let count = keys.len();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(count)
    }

    fn get(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kid)
            .cloned()
    }

    fn may_refetch(&self) -> bool {
        self.last_fetch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|t| t.elapsed() >= REFETCH_MIN)
    }
}

pub struct JwtVerifier {
    secret: Option<DecodingKey>,
    jwks: Option<Arc<Jwks>>,
    issuer: Option<String>,
    /// Tokens must be issued for one of these (RFC 8707 audience binding).
    audiences: Vec<String>,
    namespaces_claim: String,
    groups_claim: String,
    group_scopes: Vec<(String, Vec<String>)>,
}

impl JwtVerifier {
    /// `None` when no JWT source is configured.
    pub fn new(
        settings: &AuthSettings,
        public_url: &url::Url,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Option<JwtVerifier> {
        if settings.jwt_secret.is_none() && settings.jwks_url.is_none() {
            return None;
        }
        let jwks = settings.jwks_url.clone().map(|url| {
            Arc::new(Jwks {
                url,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("a plain HTTP client builds"),
                keys: RwLock::new(HashMap::new()),
                last_fetch: Mutex::new(None),
            })
        });
        if let Some(jwks) = &jwks {
            let jwks = jwks.clone();
            tokio::spawn(async move {
                loop {
                    match jwks.fetch().await {
                        Ok(n) => tracing::info!(keys = n, url = %jwks.url, "JWKS loaded"),
                        Err(error) => {
                            tracing::warn!(%error, "JWKS refresh failed; keeping the keys already known")
                        }
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(REFRESH_EVERY) => {}
                    }
                }
            });
        }
        Some(JwtVerifier {
            secret: settings
                .jwt_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.expose().as_bytes())),
            jwks,
            issuer: settings.issuer.clone(),
            audiences: accepted_audiences(settings.audience.as_deref(), public_url),
            namespaces_claim: settings.namespaces_claim.clone(),
            groups_claim: settings.groups_claim.clone(),
            group_scopes: settings.group_scopes.clone(),
        })
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECONDS;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.required_spec_claims = ["exp", "sub", "aud"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match &self.issuer {
            Some(iss) => v.set_issuer(&[iss]),
            None => v.iss = None,
        }
        v.set_audience(&self.audiences);
        v
    }

    async fn key_for(&self, header: &Header) -> Result<(DecodingKey, Algorithm), JwtProblem> {
        if header.alg == Algorithm::HS256 {
            return self
                .secret
                .clone()
                .map(|k| (k, Algorithm::HS256))
                .ok_or_else(|| problem("HS256 tokens are not accepted (no GATEWAY_JWT_SECRET)"));
        }
        let jwks = self.jwks.as_ref().ok_or_else(|| {
            problem(format!(
                "{:?} tokens are not accepted (no GATEWAY_JWT_JWKS_URL)",
                header.alg
            ))
        })?;
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| problem("the token names no key (kid)"))?;
        let found = match jwks.get(kid) {
            Some(k) => Some(k),
            None if jwks.may_refetch() => {
                if let Err(error) = jwks.fetch().await {
                    tracing::warn!(%error, "JWKS refetch for an unknown key failed");
                }
                jwks.get(kid)
            }
            None => None,
        };
        let (key, alg) = found
            .ok_or_else(|| problem(format!("no key '{kid}' in the identity provider's key set")))?;
        if alg != header.alg {
            return Err(problem(format!(
                "key '{kid}' is for {alg:?}, the token says {:?}",
                header.alg
            )));
        }
        Ok((key, alg))
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, JwtProblem> {
        // `alg: none` and unknown algorithms fail here: jsonwebtoken has no such variant.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| problem(format!("malformed token header: {e}")))?;
        let (key, alg) = self.key_for(&header).await?;
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
            token,
            &key,
            &self.validation(alg),
        )
        .map_err(|e| problem(e.to_string()))?;
        let claims = data.claims;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if subject.is_empty() {
            return Err(problem("the token has no subject (sub)"));
        }
        let mut scopes: BTreeSet<Scope> = strings(claims.get("scope"))
            .into_iter()
            .chain(strings(claims.get("scp")))
            .filter_map(|s| Scope::parse(&s))
            .collect();
        let groups = strings(claims.get(&self.groups_claim));
        scopes.extend(group_scopes(&groups, &self.group_scopes));
        Ok(Principal {
            subject,
            credential: Credential::Jwt {
                issuer: claims.get("iss").and_then(Value::as_str).map(String::from),
            },
            scopes,
            namespaces: Namespaces::from_list(strings(claims.get(&self.namespaces_claim))),
            transport: Transport::Rest,
            client_addr: None,
        })
    }
}

/// What `token mint` signs.
pub struct Mint<'a> {
    pub secret: &'a str,
    pub subject: &'a str,
    pub scopes: &'a [Scope],
    pub namespaces: &'a [String],
    pub ttl: Duration,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub namespaces_claim: &'a str,
}

/// The audiences a token may carry: `GATEWAY_JWT_AUDIENCE` when set; else this gateway
/// itself, as the MCP authorization spec asks of a resource server (accept only tokens
/// issued for it, RFC 8707): its MCP resource (`<public URL>/mcp`, what the protected
/// resource metadata names) and its public URL, with or without the trailing slash.
pub fn accepted_audiences(configured: Option<&str>, public_url: &url::Url) -> Vec<String> {
    if let Some(aud) = configured {
        return vec![aud.to_string()];
    }
    let base = public_url.as_str().trim_end_matches('/');
    vec![format!("{base}/mcp"), base.to_string(), format!("{base}/")]
}

/// Signs an HS256 token (`token mint`).
pub fn mint(m: &Mint) -> Result<String, String> {
    let now = chrono::Utc::now().timestamp();
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), m.subject.into());
    claims.insert("iat".into(), now.into());
    claims.insert("nbf".into(), now.into());
    claims.insert("exp".into(), (now + m.ttl.as_secs() as i64).into());
    claims.insert(
        "scope".into(),
        m.scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
            .into(),
    );
    claims.insert(m.namespaces_claim.into(), serde_json::json!(m.namespaces));
    if let Some(iss) = m.issuer {
        claims.insert("iss".into(), iss.into());
    }
    if let Some(aud) = m.audience {
        claims.insert("aud".into(), aud.into());
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(m.secret.as_bytes()),
    )
    .map_err(|e| format!("cannot sign the token: {e}"))
}

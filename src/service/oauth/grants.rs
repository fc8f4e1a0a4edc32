//! The authorization code flow (RFC 6749 §4.1 as OAuth 2.1 tightens it): checking an
//! authorization request, the person's approval or denial, the code exchanged with its PKCE
//! verifier (RFC 7636, `S256` only), refresh tokens that rotate on every use with reuse
//! detection, revocation (RFC 7009), and the check of an access token on every request.

use std::collections::BTreeSet;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::clients::{redirect_matches, redirect_uris};
use super::{Alive, AuthorizationServer, CODE_TTL, GRANT_CACHE_TTL, OAuthError, random_token};
use crate::config::Scope;
use crate::db::oauth::{self as store, ClientRow, CodeRow, GrantRow, RefreshRow, Spent};
use crate::db::operations::now;
use crate::service::audit::Outcome;
use crate::service::keys::{hash, strings};
use crate::service::policy::{Credential, Namespaces, Principal};

/// The query of `GET /oauth/authorize` (and the hidden fields of the consent form).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    pub scope: Option<String>,
}

/// An authorization request that passed every check.
#[derive(Debug, Clone)]
pub struct Checked {
    pub client: ClientRow,
    pub redirect_uri: String,
    /// The client's `state`, echoed back (`None` when it sent none: PKCE already binds the
    /// answer to the request, OAuth 2.1 §7.5.1).
    pub state: Option<String>,
    pub challenge: String,
    pub resource: String,
    /// The scopes asked for (all of them when the client named none).
    pub scopes: Vec<Scope>,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The client or its redirect URI is wrong: said on a page, never redirected to.
    Page(OAuthError),
    /// Anything else: the client is sent back with the error (RFC 6749 §4.1.2.1).
    Redirect(String),
}

/// The token endpoint's form (RFC 6749 §4.1.3, §6).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
    pub resource: Option<String>,
    pub scope: Option<String>,
}

/// The revocation endpoint's form (RFC 7009 §2.1).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RevokeRequest {
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The token answer (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub scope: String,
}

/// Why an access token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessProblem {
    /// The token is wrong, expired, or its grant is gone.
    Refused(String),
    /// The database could not be asked (not the caller's fault).
    Unavailable(String),
}

/// What the person approved, as the consent form sends it.
pub struct Approval<'a> {
    pub checked: &'a Checked,
    /// Who signed in (an API key's principal) and that key's id.
    pub signer: &'a Principal,
    pub api_key_id: Option<uuid::Uuid>,
    /// The scopes ticked on the page.
    pub ticked: &'a [Scope],
}

fn scope_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn scopes_of(value: &Value) -> Vec<Scope> {
    strings(value)
        .iter()
        .filter_map(|s| Scope::parse(s))
        .collect()
}

/// Parses a space-separated `scope`; an unknown scope is named.
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = BTreeSet::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        scopes.insert(
            Scope::parse(word)
                .ok_or_else(|| format!("unknown scope '{word}'; use {}", Scope::names()))?,
        );
    }
    Ok(scopes.into_iter().collect())
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn pkce_shaped(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`.
fn pkce_holds(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// `uri` with the answer's parameters added to its query.
fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in pairs {
                    query.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

fn chrono_of(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1))
}

impl AuthorizationServer {
    /// The client a `client_id` names: a metadata document when it is a URL and documents
    /// are served, else a registration.
    async fn known_client(&self, id: &str) -> Result<ClientRow, OAuthError> {
        if super::documents::is_document_id(id)
            && let Some(documents) = &self.documents
        {
            return documents.client(id).await;
        }
        store::client(&self.db, id)
            .await
            .map_err(OAuthError::unavailable)?
            .ok_or_else(|| {
                OAuthError::client(format!(
                    "client '{id}' is not registered here; register it at /oauth/register"
                ))
            })
    }

    /// Checks an authorization request: client and redirect URI first (an error about them
    /// is shown, not redirected), then the rest (errors go back to the client).
    pub async fn check_authorize(&self, request: &AuthorizeRequest) -> Result<Checked, Refusal> {
        let page = |e: OAuthError| Refusal::Page(e);
        let client_id = request
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| page(OAuthError::bad("invalid_request", "client_id is required")))?;
        let client = self.known_client(client_id).await.map_err(page)?;
        let registered = redirect_uris(&client);
        let redirect_uri = match request.redirect_uri.as_deref() {
            Some(uri) if redirect_matches(&registered, uri) => uri.to_string(),
            Some(uri) => {
                return Err(page(OAuthError::bad(
                    "invalid_request",
                    format!(
                        "redirect_uri '{uri}' is not one registered for {}; registered: {}",
                        client.name,
                        registered.join(", ")
                    ),
                )));
            }
            None => {
                return Err(page(OAuthError::bad(
                    "invalid_request",
                    "redirect_uri is required",
                )));
            }
        };
        let state = request.state.clone().filter(|s| !s.is_empty());
        let back = |code: &str, description: String| {
            let mut pairs = vec![
                ("error", code),
                ("error_description", description.as_str()),
                ("iss", self.issuer.as_str()),
            ];
            if let Some(state) = &state {
                pairs.push(("state", state.as_str()));
            }
            Refusal::Redirect(redirect_with(&redirect_uri, &pairs))
        };
        if request.response_type.as_deref() != Some("code") {
            return Err(back(
                "unsupported_response_type",
                "response_type must be code".into(),
            ));
        }
        let challenge = match request.code_challenge.as_deref() {
            Some(c) if pkce_shaped(c) => c.to_string(),
            Some(_) => {
                return Err(back(
                    "invalid_request",
                    "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~".into(),
                ));
            }
            None => {
                return Err(back(
                    "invalid_request",
                    "code_challenge is required: PKCE with code_challenge_method=S256".into(),
                ));
            }
        };
        if request.code_challenge_method.as_deref() != Some("S256") {
            let said = request
                .code_challenge_method
                .as_deref()
                .unwrap_or("none given, which means plain");
            return Err(back(
                "invalid_request",
                format!("code_challenge_method must be S256 ({said} is refused)"),
            ));
        }
        let resource = match request.resource.as_deref() {
            Some(r) if self.resource_ok(r) => r.to_string(),
            Some(r) => {
                return Err(back(
                    "invalid_target",
                    format!(
                        "resource '{r}' is not this gateway; use {}",
                        self.resource()
                    ),
                ));
            }
            None => {
                return Err(back(
                    "invalid_request",
                    format!("resource is required (RFC 8707): use {}", self.resource()),
                ));
            }
        };
        let scopes = match request.scope.as_deref().map(parse_scopes) {
            None => Scope::ALL.to_vec(),
            Some(Ok(s)) if s.is_empty() => Scope::ALL.to_vec(),
            Some(Ok(s)) => s,
            Some(Err(problem)) => return Err(back("invalid_scope", problem)),
        };
        Ok(Checked {
            client,
            redirect_uri,
            state,
            challenge,
            resource,
            scopes,
        })
    }

    /// The person approved: a grant of the ticked scopes narrowed to the signer's, and a
    /// code for it. Answers where to send the browser.
    pub async fn approve(&self, approval: Approval<'_>) -> Result<String, OAuthError> {
        let checked = approval.checked;
        let granted: Vec<Scope> = approval
            .ticked
            .iter()
            .copied()
            .filter(|s| checked.scopes.contains(s) && approval.signer.scopes.contains(s))
            .collect();
        if granted.is_empty() {
            return Err(OAuthError::bad(
                "invalid_scope",
                format!(
                    "nothing to grant: the scopes ticked ({}) are not among those of the key you signed in with ({})",
                    scope_text(approval.ticked),
                    scope_text(&approval.signer.scopes.iter().copied().collect::<Vec<_>>())
                ),
            ));
        }
        let created = now();
        let grant = GrantRow {
            id: uuid::Uuid::new_v4(),
            client_id: checked.client.client_id.clone(),
            subject: approval.signer.subject.clone(),
            scopes: json!(granted.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            namespaces: json!(approval.signer.namespaces.to_list()),
            api_key_id: approval.api_key_id,
            resource: checked.resource.clone(),
            created_at: created,
            expires_at: created + chrono_of(self.settings.refresh_ttl),
            revoked_at: None,
            revoked_why: None,
        };
        let code = format!("ngwa_{}", random_token(32)?);
        store::insert_grant(&self.db, grant.clone())
            .await
            .map_err(OAuthError::unavailable)?;
        store::insert_code(
            &self.db,
            CodeRow {
                code_sha256: hash(&code),
                grant_id: grant.id,
                client_id: checked.client.client_id.clone(),
                redirect_uri: checked.redirect_uri.clone(),
                code_challenge: checked.challenge.clone(),
                created_at: created,
                expires_at: created + chrono_of(CODE_TTL),
                used_at: None,
            },
        )
        .await
        .map_err(OAuthError::unavailable)?;
        self.record(
            approval.signer,
            "oauth_authorize",
            json!({
                "client_id": checked.client.client_id,
                "client_name": checked.client.name,
                "grant": grant.id,
                "scopes": scope_text(&granted),
                "resource": checked.resource,
            }),
            Outcome::Ok,
            None,
        )
        .await;
        let mut pairs = vec![("code", code.as_str()), ("iss", self.issuer.as_str())];
        if let Some(state) = &checked.state {
            pairs.push(("state", state.as_str()));
        }
        Ok(redirect_with(&checked.redirect_uri, &pairs))
    }

    /// The person declined: the client is told `access_denied`.
    pub async fn deny(&self, checked: &Checked, who: Option<&Principal>) -> String {
        let mut anonymous = Principal::anonymous();
        anonymous.subject = "anonymous".into();
        self.record(
            who.unwrap_or(&anonymous),
            "oauth_authorize",
            json!({ "client_id": checked.client.client_id, "client_name": checked.client.name }),
            Outcome::Refused,
            Some("the person declined".into()),
        )
        .await;
        let mut pairs = vec![
            ("error", "access_denied"),
            ("error_description", "the person declined the request"),
            ("iss", self.issuer.as_str()),
        ];
        if let Some(state) = &checked.state {
            pairs.push(("state", state.as_str()));
        }
        redirect_with(&checked.redirect_uri, &pairs)
    }

    /// A one-use secret (a code, a refresh token) presented again: its grant is revoked
    /// (`why` and the audit operation), and the client is told `answer`.
    async fn replayed(
        &self,
        grant_id: uuid::Uuid,
        (why, operation): (&'static str, &'static str),
        answer: &str,
    ) -> OAuthError {
        match self.grant(grant_id).await {
            Ok(grant) => {
                self.revoke_grant(&grant, why, operation).await;
                OAuthError::grant(answer)
            }
            Err(error) => error,
        }
    }

    /// Client authentication at the token and revocation endpoints: HTTP Basic, the form's
    /// secret, or a public client's bare `client_id`, as the client registered.
    async fn authenticate_client(
        &self,
        basic: Option<(String, String)>,
        form_id: Option<&str>,
        form_secret: Option<&str>,
    ) -> Result<ClientRow, OAuthError> {
        let (id, secret, method) = match (&basic, form_id, form_secret) {
            (Some((id, secret)), _, _) => {
                (id.as_str(), Some(secret.as_str()), "client_secret_basic")
            }
            (None, Some(id), Some(secret)) => (id, Some(secret), "client_secret_post"),
            (None, Some(id), None) => (id, None, "none"),
            (None, None, _) => {
                return Err(OAuthError::client(
                    "client authentication is required: client_id (and its secret, if it has one)",
                ));
            }
        };
        let client = self.known_client(id).await?;
        match (&client.secret_sha256, secret) {
            (None, _) => Ok(client),
            (Some(_), None) => Err(OAuthError::client(format!(
                "client '{id}' registered with {}; send its client_secret",
                client.auth_method
            ))),
            (Some(stored), Some(secret)) => {
                if bool::from(hash(secret).as_bytes().ct_eq(stored.as_bytes())) {
                    if method != client.auth_method && method != "none" {
                        tracing::debug!(
                            client = id,
                            method,
                            registered = client.auth_method,
                            "client authenticated another way than it registered"
                        );
                    }
                    Ok(client)
                } else {
                    Err(OAuthError::client(format!(
                        "the client_secret of '{id}' is wrong"
                    )))
                }
            }
        }
    }

    /// The token endpoint: a code or a refresh token becomes new tokens.
    pub async fn token(
        &self,
        request: TokenRequest,
        basic: Option<(String, String)>,
    ) -> Result<Tokens, OAuthError> {
        let client = self
            .authenticate_client(
                basic,
                request.client_id.as_deref(),
                request.client_secret.as_deref(),
            )
            .await?;
        match request.grant_type.as_deref() {
            Some("authorization_code") => self.exchange_code(&client, &request).await,
            Some("refresh_token") => self.refresh(&client, &request).await,
            Some(other) => Err(OAuthError::bad(
                "unsupported_grant_type",
                format!(
                    "grant_type '{other}' is not supported; use authorization_code or refresh_token"
                ),
            )),
            None => Err(OAuthError::bad("invalid_request", "grant_type is required")),
        }
    }

    async fn exchange_code(
        &self,
        client: &ClientRow,
        request: &TokenRequest,
    ) -> Result<Tokens, OAuthError> {
        let code = request
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::bad("invalid_request", "code is required"))?;
        let row = match store::spend_code(&self.db, &hash(code))
            .await
            .map_err(OAuthError::unavailable)?
        {
            Spent::Now(row) => row,
            Spent::Before(row) => {
                // RFC 6749 §4.1.2: a code used twice revokes what it gave.
                return Err(self
                    .replayed(
                        row.grant_id,
                        ("code reused", "oauth_code_reuse"),
                        "the authorization code was used already; the tokens issued with it are revoked",
                    )
                    .await);
            }
            Spent::Unknown => {
                return Err(OAuthError::grant(
                    "the authorization code is not known or has expired",
                ));
            }
        };
        if row.expires_at <= now() {
            return Err(OAuthError::grant(format!(
                "the authorization code has expired (codes live {}s); start the sign-in again",
                CODE_TTL.as_secs()
            )));
        }
        if row.client_id != client.client_id {
            return Err(OAuthError::grant(
                "the authorization code was issued to another client",
            ));
        }
        if request.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
            return Err(OAuthError::grant(
                "redirect_uri must be the one the authorization request named",
            ));
        }
        let verifier = request.code_verifier.as_deref().ok_or_else(|| {
            OAuthError::bad("invalid_request", "code_verifier is required (PKCE)")
        })?;
        if !pkce_shaped(verifier) || !pkce_holds(verifier, &row.code_challenge) {
            return Err(OAuthError::grant(
                "the code_verifier does not match the code_challenge",
            ));
        }
        let grant = self.grant(row.grant_id).await?;
        if let Some(resource) = request.resource.as_deref()
            && resource.trim_end_matches('/') != grant.resource.trim_end_matches('/')
        {
            return Err(OAuthError::bad(
                "invalid_target",
                format!(
                    "resource '{resource}' is not the one approved ({})",
                    grant.resource
                ),
            ));
        }
        let tokens = self.issue(&grant, &scopes_of(&grant.scopes)).await?;
        if let Err(error) = store::client_used(&self.db, &client.client_id).await {
            tracing::warn!(%error, "could not record the client's first token");
        }
        self.record(
            &self.principal_of(&grant),
            "oauth_token",
            json!({"client_id": client.client_id, "grant": grant.id}),
            Outcome::Ok,
            None,
        )
        .await;
        Ok(tokens)
    }

    async fn refresh(
        &self,
        client: &ClientRow,
        request: &TokenRequest,
    ) -> Result<Tokens, OAuthError> {
        let token = request
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::bad("invalid_request", "refresh_token is required"))?;
        let row: RefreshRow = match store::spend_refresh(&self.db, &hash(token))
            .await
            .map_err(OAuthError::unavailable)?
        {
            Spent::Now(row) => row,
            Spent::Before(row) => {
                // OAuth 2.1 §4.3.1: a refresh token presented twice may be stolen; the whole
                // grant goes.
                return Err(self
                    .replayed(
                        row.grant_id,
                        ("refresh token reused", "oauth_refresh_reuse"),
                        "the refresh token was used already; every token of this sign-in is revoked, sign in again",
                    )
                    .await);
            }
            Spent::Unknown => {
                return Err(OAuthError::grant(
                    "the refresh token is not known or has expired",
                ));
            }
        };
        let grant = self.grant(row.grant_id).await?;
        if grant.client_id != client.client_id {
            return Err(OAuthError::grant(
                "the refresh token was issued to another client",
            ));
        }
        if row.expires_at <= now() {
            return Err(OAuthError::grant(
                "the refresh token has expired; sign in again",
            ));
        }
        if let Some(problem) = self.grant_problem(&grant).await? {
            return Err(OAuthError::grant(problem));
        }
        let granted = scopes_of(&grant.scopes);
        let scopes = match request.scope.as_deref().map(parse_scopes) {
            None => granted,
            Some(Err(problem)) => return Err(OAuthError::bad("invalid_scope", problem)),
            Some(Ok(asked)) if asked.iter().all(|s| granted.contains(s)) && !asked.is_empty() => {
                asked
            }
            Some(Ok(_)) => {
                return Err(OAuthError::bad(
                    "invalid_scope",
                    format!(
                        "a refresh may only narrow the scopes granted ({})",
                        scope_text(&granted)
                    ),
                ));
            }
        };
        let tokens = self.issue(&grant, &scopes).await?;
        self.record(
            &self.principal_of(&grant),
            "oauth_refresh",
            json!({"client_id": client.client_id, "grant": grant.id}),
            Outcome::Ok,
            None,
        )
        .await;
        Ok(tokens)
    }

    async fn grant(&self, id: uuid::Uuid) -> Result<GrantRow, OAuthError> {
        let grant = store::grant(&self.db, id)
            .await
            .map_err(OAuthError::unavailable)?
            .ok_or_else(|| {
                OAuthError::grant("the sign-in this belongs to is gone; sign in again")
            })?;
        if grant.revoked_at.is_some() {
            return Err(OAuthError::grant(format!(
                "the sign-in this belongs to was revoked ({}); sign in again",
                grant.revoked_why.as_deref().unwrap_or("revoked")
            )));
        }
        Ok(grant)
    }

    /// Why a grant no longer lets tokens work, or `None`: revoked, expired, or the API key
    /// it was signed in with is revoked or expired.
    async fn grant_problem(&self, grant: &GrantRow) -> Result<Option<String>, OAuthError> {
        if let Some(why) = &grant.revoked_why {
            return Ok(Some(format!("the sign-in was revoked ({why})")));
        }
        if grant.revoked_at.is_some() {
            return Ok(Some("the sign-in was revoked".into()));
        }
        if grant.expires_at <= now() {
            return Ok(Some("the sign-in has expired; sign in again".into()));
        }
        if let Some(key) = grant.api_key_id {
            let row = crate::db::keys::by_id(&self.db, key)
                .await
                .map_err(OAuthError::unavailable)?;
            match row {
                None => {
                    return Ok(Some(
                        "the API key this sign-in used no longer exists".into(),
                    ));
                }
                Some(row) if row.revoked_at.is_some() => {
                    return Ok(Some(
                        "the API key this sign-in used has been revoked".into(),
                    ));
                }
                Some(row) if row.expires_at.is_some_and(|t| t <= now()) => {
                    return Ok(Some("the API key this sign-in used has expired".into()));
                }
                Some(_) => {}
            }
        }
        Ok(None)
    }

    async fn revoke_grant(&self, grant: &GrantRow, why: &str, operation: &'static str) {
        match store::revoke_grant(&self.db, grant.id, why).await {
            Ok(_) => {
                self.alive
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&grant.id);
                tracing::info!(grant = %grant.id, client_id = grant.client_id, why, "OAuth grant revoked");
                let outcome = if operation == "oauth_revoke" {
                    Outcome::Ok
                } else {
                    Outcome::Refused
                };
                self.record(
                    &self.principal_of(grant),
                    operation,
                    json!({"client_id": grant.client_id, "grant": grant.id}),
                    outcome,
                    Some(format!("grant revoked: {why}")),
                )
                .await;
            }
            Err(error) => {
                tracing::error!(%error, grant = %grant.id, why, "could not revoke an OAuth grant")
            }
        }
    }

    /// Who a grant's tokens act for.
    fn principal_of(&self, grant: &GrantRow) -> Principal {
        Principal {
            subject: grant.subject.clone(),
            credential: Credential::Jwt {
                issuer: Some(self.issuer.clone()),
            },
            scopes: scopes_of(&grant.scopes).into_iter().collect(),
            namespaces: Namespaces::from_list(strings(&grant.namespaces)),
            transport: crate::service::policy::Transport::Rest,
            client_addr: None,
        }
    }

    /// A new access token and a new refresh token for a grant.
    async fn issue(&self, grant: &GrantRow, scopes: &[Scope]) -> Result<Tokens, OAuthError> {
        let key = self.keys.signing().await.map_err(OAuthError::unavailable)?;
        let issued = chrono::Utc::now().timestamp();
        let ttl = self.settings.access_ttl.as_secs();
        let claims = json!({
            "iss": self.issuer,
            "sub": grant.subject,
            "aud": grant.resource,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl as i64,
            "jti": uuid::Uuid::new_v4(),
            "client_id": grant.client_id,
            "scope": scope_text(scopes),
            "namespaces": strings(&grant.namespaces),
            "grant": grant.id,
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("at+jwt".into());
        let access_token =
            jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|e| OAuthError {
                code: "server_error",
                description: format!("cannot sign the access token: {e}"),
                status: 500,
                retry_after: None,
            })?;
        let refresh_token = format!("ngwr_{}", random_token(32)?);
        store::insert_refresh(
            &self.db,
            RefreshRow {
                token_sha256: hash(&refresh_token),
                grant_id: grant.id,
                created_at: now(),
                expires_at: grant.expires_at,
                used_at: None,
            },
        )
        .await
        .map_err(OAuthError::unavailable)?;
        Ok(Tokens {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            refresh_token,
            scope: scope_text(scopes),
        })
    }

    /// RFC 7009: revokes the grant of a refresh or access token of this client. Unknown
    /// tokens are not an error (§2.2).
    pub async fn revoke(
        &self,
        request: RevokeRequest,
        basic: Option<(String, String)>,
    ) -> Result<(), OAuthError> {
        let client = self
            .authenticate_client(
                basic,
                request.client_id.as_deref(),
                request.client_secret.as_deref(),
            )
            .await?;
        let token = request
            .token
            .as_deref()
            .ok_or_else(|| OAuthError::bad("invalid_request", "token is required"))?;
        let grant_id = match store::refresh(&self.db, &hash(token))
            .await
            .map_err(OAuthError::unavailable)?
        {
            Some(row) => Some(row.grant_id),
            None => self.grant_of_access_token(token).await,
        };
        let Some(grant_id) = grant_id else {
            return Ok(());
        };
        let Some(grant) = store::grant(&self.db, grant_id)
            .await
            .map_err(OAuthError::unavailable)?
        else {
            return Ok(());
        };
        if grant.client_id != client.client_id {
            // §2.1: a client may only revoke its own tokens; saying so would leak that the
            // token exists.
            return Ok(());
        }
        if grant.revoked_at.is_none() {
            self.revoke_grant(&grant, "revoked by the client", "oauth_revoke")
                .await;
        }
        Ok(())
    }

    /// The grant an access token of ours names, its signature checked (not its expiry).
    async fn grant_of_access_token(&self, token: &str) -> Option<uuid::Uuid> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.keys.verifying(header.kid.as_deref()?).await.ok()??;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Value>(token, &key.decoding, &validation).ok()?;
        data.claims["grant"].as_str()?.parse().ok()
    }

    /// Checks an access token the gateway issued: signature, issuer, audience, expiry, and
    /// that its grant is alive. Answers who it acts for.
    pub async fn verify_access(&self, token: &str, kid: &str) -> Result<Principal, AccessProblem> {
        let key = self
            .keys
            .verifying(kid)
            .await
            .map_err(AccessProblem::Unavailable)?
            .ok_or_else(|| {
                AccessProblem::Refused(format!(
                    "no signing key '{kid}' (the token is not from this gateway, or its key has expired)"
                ))
            })?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = 30;
        validation.set_issuer(&[&self.issuer]);
        let resource = self.resource();
        validation.set_audience(&[
            resource.as_str(),
            self.issuer.as_str(),
            &format!("{}/", self.issuer),
        ]);
        validation.required_spec_claims = ["exp", "sub", "aud", "iss"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let claims = jsonwebtoken::decode::<Value>(token, &key.decoding, &validation)
            .map_err(|e| AccessProblem::Refused(e.to_string()))?
            .claims;
        let grant: uuid::Uuid = claims["grant"]
            .as_str()
            .and_then(|g| g.parse().ok())
            .ok_or_else(|| AccessProblem::Refused("the token names no grant".into()))?;
        if let Some(problem) = self
            .alive(grant)
            .await
            .map_err(AccessProblem::Unavailable)?
        {
            return Err(AccessProblem::Refused(problem));
        }
        let scopes = claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .filter_map(Scope::parse)
            .collect();
        Ok(Principal {
            subject: claims["sub"].as_str().unwrap_or_default().to_string(),
            credential: Credential::Jwt {
                issuer: Some(self.issuer.clone()),
            },
            scopes,
            namespaces: Namespaces::from_list(strings(&claims["namespaces"])),
            transport: crate::service::policy::Transport::Rest,
            client_addr: None,
        })
    }

    /// Whether a grant's tokens still work (`None`) or why not, cached per grant for
    /// [`GRANT_CACHE_TTL`].
    async fn alive(&self, grant: uuid::Uuid) -> Result<Option<String>, String> {
        {
            let cache = self.alive.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(seen) = cache.get(&grant)
                && seen.at.elapsed() < GRANT_CACHE_TTL
            {
                return Ok(seen.problem.clone());
            }
        }
        let row = store::grant(&self.db, grant)
            .await
            .map_err(|e| format!("the sign-in cannot be checked right now: {e}"))?;
        let problem = match row {
            None => Some("the sign-in this token belongs to is gone".to_string()),
            Some(row) => self.grant_problem(&row).await.map_err(|e| e.description)?,
        };
        let mut cache = self.alive.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.retain(|_, seen| seen.at.elapsed() < GRANT_CACHE_TTL);
        }
        cache.insert(
            grant,
            Alive {
                at: Instant::now(),
                problem: problem.clone(),
            },
        );
        Ok(problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_checked_as_rfc_7636_appendix_b_computes_it() {
        // RFC 7636 Appendix B's example.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_shaped(verifier) && pkce_shaped(challenge));
        assert!(pkce_holds(verifier, challenge));
        assert!(!pkce_holds(challenge, challenge));
        assert!(!pkce_shaped("short"));
        assert!(!pkce_shaped(&"a".repeat(129)));
        assert!(!pkce_shaped(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn scopes_parse_by_name() {
        assert_eq!(
            parse_scopes("nomad:read  admin").unwrap(),
            vec![Scope::NomadRead, Scope::Admin]
        );
        assert!(
            parse_scopes("nomad:read root")
                .unwrap_err()
                .contains("'root'")
        );
    }

    #[test]
    fn redirects_keep_the_query_and_add_the_answer() {
        assert_eq!(
            redirect_with(
                "http://127.0.0.1:9/cb?x=1",
                &[("code", "a b"), ("state", "s")]
            ),
            "http://127.0.0.1:9/cb?x=1&code=a+b&state=s"
        );
    }
}

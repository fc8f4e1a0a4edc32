//! Sign-in through the team's OpenID Connect provider: the gateway as a relying party
//! (OpenID Connect Core 1.0 §3.1, the authorization code flow, with PKCE and a nonce). The
//! person ticks what the client may do on the gateway's page and chooses the provider; the
//! request waits in `oauth_pending` (keyed by the `state` sent to the provider, bound to the
//! browser by a cookie) until the provider sends the browser back with a code. The ID token
//! is checked against the provider's keys (its algorithm from the key), its issuer, audience,
//! expiry and nonce; its groups become scopes with the JWT group mapping
//! (`GATEWAY_JWT_GROUPS_CLAIM`, `GATEWAY_JWT_GROUP_SCOPES`), its namespaces claim
//! (`GATEWAY_JWT_NAMESPACES_CLAIM`) or `GATEWAY_OIDC_NAMESPACES` the namespaces.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::OAuthError;
use crate::config::{AuthSettings, OidcSettings};
use crate::service::claims::{group_scopes, key_algorithm, strings};
use crate::service::policy::{Credential, Namespaces, Principal, Transport};

/// The provider's discovery document and keys are read again at least this often.
const REFRESH_EVERY: Duration = Duration::from_secs(300);
/// An unknown `kid` makes the keys be read again at most this often.
const REFETCH_MIN: Duration = Duration::from_secs(5);

/// What the gateway needs from the provider's discovery document (OpenID Connect
/// Discovery 1.0 §3).
#[derive(Debug, Clone, Deserialize)]
struct Discovered {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
}

type Keys = HashMap<String, (DecodingKey, Algorithm)>;

pub struct Oidc {
    settings: OidcSettings,
    groups_claim: String,
    group_scopes: Vec<(String, Vec<String>)>,
    namespaces_claim: String,
    /// Where the provider sends the browser back: `<public URL>/oauth/oidc/callback`.
    redirect_uri: String,
    http: reqwest::Client,
    discovered: RwLock<Option<(Instant, Discovered)>>,
    keys: RwLock<Option<(Instant, Keys)>>,
}

fn provider_error(what: impl std::fmt::Display) -> OAuthError {
    tracing::warn!(error = %what, "the OpenID Connect provider could not be used");
    OAuthError {
        code: "temporarily_unavailable",
        description: format!("the sign-in provider could not be used: {what}"),
        status: 502,
        retry_after: None,
    }
}

fn refused(what: impl Into<String>) -> OAuthError {
    OAuthError::bad("access_denied", what)
}

impl Oidc {
    pub fn new(settings: OidcSettings, auth: &AuthSettings, public_url: &url::Url) -> Oidc {
        Oidc {
            redirect_uri: format!(
                "{}/oauth/oidc/callback",
                public_url.as_str().trim_end_matches('/')
            ),
            groups_claim: auth.groups_claim.clone(),
            group_scopes: auth.group_scopes.clone(),
            namespaces_claim: auth.namespaces_claim.clone(),
            settings,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a plain HTTP client builds"),
            discovered: RwLock::new(None),
            keys: RwLock::new(None),
        }
    }

    /// The provider as the page names it.
    pub fn name(&self) -> String {
        self.settings
            .issuer
            .host_str()
            .unwrap_or("your identity provider")
            .to_string()
    }

    async fn discovered(&self) -> Result<Discovered, OAuthError> {
        if let Some((at, found)) = &*self.discovered.read().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < REFRESH_EVERY
        {
            return Ok(found.clone());
        }
        let issuer = self.settings.issuer.as_str().trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let found: Discovered = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| provider_error(format!("cannot read {url}: {e}")))?
            .json()
            .await
            .map_err(|e| provider_error(format!("{url} is not a discovery document: {e}")))?;
        // Discovery §4.3: the issuer in the document is exactly the one asked about.
        if found.issuer.trim_end_matches('/') != issuer {
            return Err(provider_error(format!(
                "{url} names the issuer '{}', not GATEWAY_OIDC_ISSUER ({issuer})",
                found.issuer
            )));
        }
        *self.discovered.write().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), found.clone()));
        Ok(found)
    }

    async fn fetch_keys(&self, jwks_uri: &str) -> Result<Keys, OAuthError> {
        let set: JwkSet = self
            .http
            .get(jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| provider_error(format!("cannot read its keys at {jwks_uri}: {e}")))?
            .json()
            .await
            .map_err(|e| provider_error(format!("{jwks_uri} is not a key set: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_algorithm(jwk)) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, alg));
            }
        }
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), keys.clone()));
        Ok(keys)
    }

    async fn key(&self, jwks_uri: &str, kid: &str) -> Result<(DecodingKey, Algorithm), OAuthError> {
        let cached = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(at, keys)| (at.elapsed(), keys.get(kid).cloned()));
        let keys = match cached {
            Some((age, Some(found))) if age < REFRESH_EVERY => return Ok(found),
            Some((age, None)) if age < REFETCH_MIN => None,
            _ => Some(self.fetch_keys(jwks_uri).await?),
        };
        keys.and_then(|k| k.get(kid).cloned()).ok_or_else(|| {
            refused(format!(
                "the ID token names a key ('{kid}') the provider does not publish"
            ))
        })
    }

    /// The origin the browser is sent to (the consent page's CSP `form-action` must allow
    /// it, since browsers apply it to the redirect after the form): the authorization
    /// endpoint's, or the issuer's while the provider cannot be asked.
    pub async fn origin(&self) -> String {
        let endpoint = self
            .discovered()
            .await
            .ok()
            .and_then(|d| url::Url::parse(&d.authorization_endpoint).ok());
        endpoint
            .unwrap_or_else(|| self.settings.issuer.clone())
            .origin()
            .ascii_serialization()
    }

    /// Where to send the browser: the provider's authorization endpoint with this request's
    /// `state`, `nonce` and PKCE challenge.
    pub async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        challenge: &str,
    ) -> Result<String, OAuthError> {
        let found = self.discovered().await?;
        let mut url = url::Url::parse(&found.authorization_endpoint)
            .map_err(|e| provider_error(format!("its authorization endpoint is not a URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.settings.scopes)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.to_string())
    }

    /// The code the provider sent back becomes the person who signed in.
    pub async fn person(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Principal, OAuthError> {
        let found = self.discovered().await?;
        // Built before the request: the serializer is not `Send`, so it must not live across
        // an await.
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("code_verifier", verifier)
            .finish();
        let answer = self
            .http
            .post(&found.token_endpoint)
            .basic_auth(
                form_escape(&self.settings.client_id),
                Some(form_escape(self.settings.client_secret.expose())),
            )
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| provider_error(format!("its token endpoint did not answer: {e}")))?;
        let status = answer.status();
        if !status.is_success() {
            let body = answer.text().await.unwrap_or_default();
            return Err(refused(format!(
                "the sign-in provider refused the code ({status}): {}",
                body.chars().take(300).collect::<String>()
            )));
        }
        let tokens: TokenAnswer = answer
            .json()
            .await
            .map_err(|e| provider_error(format!("its token answer is not JSON: {e}")))?;
        let id_token = tokens.id_token.ok_or_else(|| {
            refused("the sign-in provider sent no ID token (is `openid` in GATEWAY_OIDC_SCOPES?)")
        })?;
        let header = jsonwebtoken::decode_header(&id_token)
            .map_err(|e| refused(format!("the ID token is malformed: {e}")))?;
        let kid = header.kid.as_deref().unwrap_or_default();
        let (key, alg) = self.key(&found.jwks_uri, kid).await?;
        if alg != header.alg {
            return Err(refused(format!(
                "the ID token says {:?}, its key is for {alg:?}",
                header.alg
            )));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = 30;
        validation.set_issuer(&[found.issuer.as_str(), found.issuer.trim_end_matches('/')]);
        validation.set_audience(&[self.settings.client_id.as_str()]);
        validation.required_spec_claims = ["exp", "sub", "aud", "iss"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let claims =
            jsonwebtoken::decode::<serde_json::Map<String, Value>>(&id_token, &key, &validation)
                .map_err(|e| refused(format!("the ID token is not accepted: {e}")))?
                .claims;
        // Core §3.1.3.7 item 11: the nonce sent is the nonce signed.
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(refused(
                "the ID token's nonce is not the one this sign-in sent",
            ));
        }
        Ok(self.principal(&claims))
    }

    /// Who the ID token's claims say ([`subject_of`]); scopes from its groups; namespaces
    /// from its claim or the configured ones.
    fn principal(&self, claims: &serde_json::Map<String, Value>) -> Principal {
        let subject = subject_of(claims);
        let groups = strings(claims.get(&self.groups_claim));
        let scopes = group_scopes(&groups, &self.group_scopes);
        let named = strings(claims.get(&self.namespaces_claim));
        let namespaces = if named.is_empty() {
            self.settings.namespaces.clone()
        } else {
            named
        };
        Principal {
            subject,
            credential: Credential::Jwt {
                issuer: claims.get("iss").and_then(Value::as_str).map(String::from),
            },
            scopes,
            namespaces: Namespaces::from_list(namespaces),
            transport: Transport::Rest,
            client_addr: None,
        }
    }
}

/// The name a person goes by in the audit log: their `email` when the provider has not
/// said it is unverified (OpenID Connect Core 1.0 §5.1: `email_verified` false means the
/// provider did not check it, so anyone could have typed it; some providers send it as a
/// string), else `preferred_username`, else `sub`.
fn subject_of(claims: &serde_json::Map<String, Value>) -> String {
    let unverified = matches!(claims.get("email_verified"), Some(Value::Bool(false)))
        || claims.get("email_verified").and_then(Value::as_str) == Some("false");
    ["email", "preferred_username", "sub"]
        .iter()
        .filter(|c| !(unverified && **c == "email"))
        .find_map(|c| {
            claims
                .get(*c)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_default()
        .to_string()
}

/// RFC 6749 §2.3.1: client credentials in HTTP Basic are form-urlencoded first.
fn form_escape(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_person_is_named_by_a_verified_email_else_their_user_name_else_sub() {
        let named = |v: Value| subject_of(&claims(v));
        let all = serde_json::json!({"email": "alice@example.com",
            "preferred_username": "alice", "sub": "u-1"});
        assert_eq!(named(all.clone()), "alice@example.com");
        let mut verified = all.clone();
        verified["email_verified"] = Value::Bool(true);
        assert_eq!(named(verified), "alice@example.com");
        for unverified in [Value::Bool(false), Value::String("false".into())] {
            let mut claims = all.clone();
            claims["email_verified"] = unverified;
            assert_eq!(named(claims), "alice");
        }
        assert_eq!(
            named(
                serde_json::json!({"email": "bob@example.com", "email_verified": false, "sub": "u-2"})
            ),
            "u-2"
        );
        assert_eq!(
            named(serde_json::json!({"preferred_username": "", "sub": "u-3"})),
            "u-3"
        );
    }
}

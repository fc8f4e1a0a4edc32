//! An authorization request waiting for the team's identity provider: the person ticked
//! what the client may do and chose the provider; the request, the ticks, the nonce and the
//! PKCE verifier sent to the provider wait in `oauth_pending` (10 minutes, one use), keyed
//! by the SHA-256 of the `state` the provider sends back and bound to the browser by the
//! SHA-256 of a cookie set when it left.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::grants::{Approval, AuthorizeRequest, Refusal};
use super::{AuthorizationServer, OAuthError, random_token};
use crate::config::Scope;
use crate::db::oauth::{self as store, PendingRow};
use crate::db::operations::now;
use crate::service::keys::hash;

/// How long the person has at the identity provider.
pub const PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// Where the browser goes next, and the cookie it carries there.
pub struct Departure {
    pub provider_url: String,
    pub browser: String,
}

impl AuthorizationServer {
    /// The identity provider's name for the page and the origin the browser goes to, when
    /// one is configured.
    pub async fn provider(&self) -> Option<(String, String)> {
        match &self.oidc {
            Some(oidc) => Some((oidc.name(), oidc.origin().await)),
            None => None,
        }
    }

    /// Sends a checked authorization request to the identity provider.
    pub async fn depart(
        &self,
        request: &AuthorizeRequest,
        ticked: &[Scope],
    ) -> Result<Departure, OAuthError> {
        let oidc = self.oidc.as_ref().ok_or_else(|| {
            OAuthError::bad(
                "invalid_request",
                "no identity provider is configured (GATEWAY_OIDC_ISSUER)",
            )
        })?;
        let state = random_token(24)?;
        let nonce = random_token(24)?;
        let verifier = random_token(32)?;
        let browser = random_token(24)?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let provider_url = oidc.authorization_url(&state, &nonce, &challenge).await?;
        let created = now();
        store::insert_pending(
            &self.db,
            PendingRow {
                state_sha256: hash(&state),
                request: serde_json::to_string(request).unwrap_or_default(),
                ticked: json!(ticked.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
                nonce,
                verifier,
                browser_sha256: hash(&browser),
                created_at: created,
                expires_at: created
                    + chrono::Duration::from_std(PENDING_TTL)
                        .unwrap_or(chrono::Duration::minutes(10)),
            },
        )
        .await
        .map_err(OAuthError::unavailable)?;
        Ok(Departure {
            provider_url,
            browser,
        })
    }

    /// The identity provider sent the browser back: the person it names approves the
    /// request as ticked. Answers where to send the browser.
    pub async fn arrive(
        &self,
        state: &str,
        code: Option<&str>,
        provider_error: Option<&str>,
        browser: &str,
    ) -> Result<String, Refusal> {
        let page = |text: String| Refusal::Page(OAuthError::bad("invalid_request", text));
        let oidc = self.oidc.as_ref().ok_or_else(|| {
            page("no identity provider is configured (GATEWAY_OIDC_ISSUER)".into())
        })?;
        let row = store::take_pending(&self.db, &hash(state))
            .await
            .map_err(|e| Refusal::Page(OAuthError::unavailable(e)))?
            .ok_or_else(|| {
                page(format!(
                    "this sign-in is not known here or was finished already (it waits {} minutes); start again from the application",
                    PENDING_TTL.as_secs() / 60
                ))
            })?;
        if !bool::from(
            hash(browser)
                .as_bytes()
                .ct_eq(row.browser_sha256.as_bytes()),
        ) {
            return Err(page(
                "this sign-in was started in another browser (its cookie is missing); start again from the application".into(),
            ));
        }
        if row.expires_at <= now() {
            return Err(page(
                "this sign-in took longer than 10 minutes; start again from the application".into(),
            ));
        }
        let request: AuthorizeRequest = serde_json::from_str(&row.request)
            .map_err(|e| page(format!("the stored request is unreadable: {e}")))?;
        let checked = self.check_authorize(&request).await?;
        if let Some(error) = provider_error {
            return Err(Refusal::Page(OAuthError::bad(
                "access_denied",
                format!("{} did not sign you in: {error}", oidc.name()),
            )));
        }
        let code = code.ok_or_else(|| page("the identity provider sent no code".into()))?;
        let person = oidc
            .person(code, &row.verifier, &row.nonce)
            .await
            .map_err(Refusal::Page)?;
        let ticked: Vec<Scope> = row
            .ticked
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().and_then(Scope::parse))
                    .collect()
            })
            .unwrap_or_default();
        self.approve(Approval {
            checked: &checked,
            signer: &person,
            api_key_id: None,
            ticked: &ticked,
        })
        .await
        .map_err(Refusal::Page)
    }
}

//! Client registration (RFC 7591) and the redirect URI rules: `https`, or `http` on a
//! loopback address for a native client (RFC 8252 §7.3, which also lets such a client pick
//! any port when it is redirected), never a fragment (RFC 6749 §3.1.2).

use serde::{Deserialize, Serialize};

use super::OAuthError;
use crate::config::host_is_loopback as is_loopback;
use crate::db::oauth::ClientRow;

/// Redirect URIs one registration may list.
const MAX_REDIRECT_URIS: usize = 10;
/// Longest client name kept (it is shown on the consent page).
const MAX_NAME: usize = 100;

/// What a client sends to register; members not listed here are ignored (RFC 7591 §2).
#[derive(Debug, Clone, Deserialize)]
pub struct Registration {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
}

/// The registration answer (RFC 7591 §3.2.1).
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<&'static str>,
    pub response_types: Vec<&'static str>,
}

pub const AUTH_METHODS: [&str; 3] = ["none", "client_secret_basic", "client_secret_post"];

fn metadata(text: impl Into<String>) -> OAuthError {
    OAuthError::bad("invalid_client_metadata", text)
}

/// Why a redirect URI cannot be registered, or `None` when it can.
pub fn redirect_uri_problem(uri: &str) -> Option<String> {
    let url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(e) => return Some(format!("redirect URI '{uri}' is not an absolute URL: {e}")),
    };
    if url.fragment().is_some() {
        return Some(format!("redirect URI '{uri}' has a fragment; remove it"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => None,
        "http" if is_loopback(url.host()) => None,
        "http" => Some(format!(
            "redirect URI '{uri}' uses http on a host that is not loopback; use https, or http://127.0.0.1 for a native client"
        )),
        other => Some(format!(
            "redirect URI '{uri}' uses the scheme '{other}'; use https, or http://127.0.0.1 for a native client"
        )),
    }
}

/// Whether `presented` is one of the registered URIs: exactly, or for a loopback one, in
/// everything but the port.
pub fn redirect_matches(registered: &[String], presented: &str) -> bool {
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    let Ok(wanted) = url::Url::parse(presented) else {
        return false;
    };
    if wanted.scheme() != "http" || !is_loopback(wanted.host()) {
        return false;
    }
    registered.iter().any(|r| {
        url::Url::parse(r).is_ok_and(|mut known| {
            known.scheme() == "http"
                && is_loopback(known.host())
                && known.set_port(wanted.port()).is_ok()
                && known == wanted
        })
    })
}

/// What a client says of itself, checked, however it came (a registration or a metadata
/// document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The token endpoint authentication method.
    pub method: String,
    /// Its name, cleaned of control characters and cut short; `None` when it gave none.
    pub name: Option<String>,
}

/// Checks the metadata of a client: its redirect URIs, its authentication method (one of
/// `methods`; `default_method` when it names none), grant and response types, and name.
pub fn describe(
    request: &Registration,
    default_method: &str,
    methods: &[&str],
) -> Result<Described, OAuthError> {
    if request.redirect_uris.is_empty() {
        return Err(OAuthError::bad(
            "invalid_redirect_uri",
            "redirect_uris is required: list where the authorization answer goes",
        ));
    }
    if request.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::bad(
            "invalid_redirect_uri",
            format!("at most {MAX_REDIRECT_URIS} redirect URIs may be registered"),
        ));
    }
    if let Some(problem) = request
        .redirect_uris
        .iter()
        .find_map(|u| redirect_uri_problem(u))
    {
        return Err(OAuthError::bad("invalid_redirect_uri", problem));
    }
    let method = request
        .token_endpoint_auth_method
        .clone()
        .unwrap_or_else(|| default_method.to_string());
    if !methods.contains(&method.as_str()) {
        return Err(metadata(format!(
            "token_endpoint_auth_method '{method}' is not supported; use {}",
            methods.join(" or ")
        )));
    }
    if let Some(types) = &request.grant_types
        && let Some(other) = types
            .iter()
            .find(|t| !matches!(t.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(metadata(format!(
            "grant type '{other}' is not supported; use authorization_code and refresh_token"
        )));
    }
    if let Some(types) = &request.response_types
        && let Some(other) = types.iter().find(|t| t.as_str() != "code")
    {
        return Err(metadata(format!(
            "response type '{other}' is not supported; use code"
        )));
    }
    let name = request
        .client_name
        .as_deref()
        .map(|n| {
            n.trim()
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_NAME).collect());
    Ok(Described { method, name })
}

/// A checked registration: the row to store and the secret to hand out once.
pub fn check(
    request: Registration,
    from: Option<String>,
) -> Result<(ClientRow, Option<String>), OAuthError> {
    // RFC 7591 §2: client_secret_basic when the client names none.
    let Described { method, name } = describe(&request, "client_secret_basic", &AUTH_METHODS)?;
    let client_id = format!("ngwc_{}", super::random_token(16)?);
    let secret = (method != "none")
        .then(|| super::random_token(32).map(|s| format!("ngws_{s}")))
        .transpose()?;
    let row = ClientRow {
        client_id,
        name: name.unwrap_or_else(|| "an unnamed client".to_string()),
        redirect_uris: serde_json::json!(request.redirect_uris),
        secret_sha256: secret.as_deref().map(crate::service::keys::hash),
        auth_method: method,
        registered_from: from,
        created_at: crate::db::operations::now(),
        used_at: None,
    };
    Ok((row, secret))
}

/// What the registration answers, from the stored row and the secret made with it.
pub fn registered(row: &ClientRow, secret: Option<String>) -> Registered {
    Registered {
        client_id: row.client_id.clone(),
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        client_id_issued_at: row.created_at.timestamp(),
        client_name: row.name.clone(),
        redirect_uris: redirect_uris(row),
        token_endpoint_auth_method: row.auth_method.clone(),
        grant_types: vec!["authorization_code", "refresh_token"],
        response_types: vec!["code"],
    }
}

pub fn redirect_uris(row: &ClientRow) -> Vec<String> {
    crate::service::keys::strings(&row.redirect_uris)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragments() {
        assert_eq!(
            redirect_uri_problem("https://claude.ai/api/mcp/auth_callback"),
            None
        );
        assert_eq!(
            redirect_uri_problem("http://127.0.0.1:33418/callback"),
            None
        );
        assert_eq!(redirect_uri_problem("http://[::1]/cb"), None);
        assert_eq!(redirect_uri_problem("http://localhost:9/cb"), None);
        assert!(
            redirect_uri_problem("http://example.com/cb")
                .unwrap()
                .contains("not loopback")
        );
        assert!(
            redirect_uri_problem("https://a.example/cb#x")
                .unwrap()
                .contains("fragment")
        );
        assert!(
            redirect_uri_problem("javascript:alert(1)")
                .unwrap()
                .contains("scheme")
        );
        assert!(
            redirect_uri_problem("/relative")
                .unwrap()
                .contains("absolute")
        );
    }

    #[test]
    fn loopback_redirects_match_on_any_port_and_others_exactly() {
        let registered = vec![
            "http://127.0.0.1/callback".to_string(),
            "https://app.example/cb".to_string(),
        ];
        assert!(redirect_matches(
            &registered,
            "http://127.0.0.1:51234/callback"
        ));
        assert!(redirect_matches(&registered, "https://app.example/cb"));
        assert!(!redirect_matches(
            &registered,
            "http://127.0.0.1:51234/other"
        ));
        assert!(!redirect_matches(
            &registered,
            "https://app.example:8443/cb"
        ));
        assert!(!redirect_matches(&registered, "https://app.example/cb?x=1"));
        assert!(!redirect_matches(
            &registered,
            "http://localhost:51234/callback"
        ));
    }
}

//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document-02, the way
//! of naming a client the 2025-11-25 MCP authorization spec prefers): a client whose
//! `client_id` is an `https` URL is described by the JSON document at that URL, fetched
//! here, checked, and kept for a while; nothing is stored in the database.
//!
//! The fetch cannot be turned against the gateway's own network (§8.6): the host's
//! addresses come from [`PublicOnly`], which keeps only globally routable ones, so the
//! connection goes only to an address that passed; an IP literal is checked before anything
//! is sent. No redirects are followed, only `200` counts (§5), at most [`MAX_BYTES`] are
//! read (§8.7) within [`FETCH_TIMEOUT`], and no proxy is used.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::OAuthError;
use super::clients::{Registration, describe};
use crate::config::DocumentSettings;
use crate::db::oauth::ClientRow;

/// The longest `client_id` URL served (the column that names a grant's client).
pub const MAX_URL: usize = 255;
/// The most of a document read (§8.7 suggests 5 KB).
pub const MAX_BYTES: usize = 5 * 1024;
/// The whole fetch, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a document is kept when its answer says nothing about caching (§5.2).
const KEEP_DEFAULT: Duration = Duration::from_secs(600);
const KEEP_MIN: Duration = Duration::from_secs(60);
const KEEP_MAX: Duration = Duration::from_secs(86_400);
/// How long a refusal is kept, so a bad URL is not fetched on every request.
const KEEP_FAILURE: Duration = Duration::from_secs(10);
/// URLs kept per process.
const MAX_CACHED: usize = 1_000;

/// Whether a `client_id` names a metadata document rather than a registration.
pub fn is_document_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// The host that publishes a document client's description, shown on the consent page
/// beside the name it claims.
pub fn publisher(client_id: &str) -> Option<String> {
    if !is_document_id(client_id) {
        return None;
    }
    url::Url::parse(client_id)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
}

/// Whether an address is one the internet routes to: not loopback, private, link-local,
/// shared (RFC 6598), documentation, benchmarking, multicast, broadcast, reserved or
/// unspecified; for IPv6 only global unicast (2000::/3) outside documentation, 6to4 and
/// Teredo (which can carry any IPv4 address inside).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] == 0x0db8)
        && !(s[0] == 0x2001 && s[1] == 0x0000)
        && s[0] != 0x2002
}

/// The resolver of document fetches: the system's, keeping only public addresses (all of
/// them when private ones are allowed).
struct PublicOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                let shown: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                return Err(std::io::Error::other(format!(
                    "{host} has no public address ({}); documents on loopback or private addresses are refused (GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE)",
                    shown.join(", ")
                ))
                .into());
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The members of a document the gateway reads; the rest are ignored.
#[derive(Debug, Deserialize)]
struct Document {
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<serde_json::Value>,
    #[serde(flatten)]
    registration: Registration,
}

#[derive(Debug, Clone)]
struct Kept {
    until: Instant,
    answer: Result<ClientRow, OAuthError>,
}

pub struct Documents {
    http: reqwest::Client,
    allow_private: bool,
    kept: Mutex<HashMap<String, Kept>>,
}

/// A refusal naming the document.
fn refused(url: &str, problem: impl std::fmt::Display) -> OAuthError {
    OAuthError::client(format!("the client metadata document {url} {problem}"))
}

/// A fetch that did not finish: too slow (`slow` within the time limit), or failed
/// (`broken`, with the innermost cause).
fn failed(client_id: &str, error: &reqwest::Error, (slow, broken): (&str, &str)) -> OAuthError {
    if error.is_timeout() {
        refused(
            client_id,
            format!("{slow} within {}s", FETCH_TIMEOUT.as_secs()),
        )
    } else {
        refused(client_id, format!("{broken}: {}", cause(error)))
    }
}

/// The innermost cause of an error: what reqwest's chain actually says went wrong.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// How long an answer may be kept, from its `Cache-Control` (clamped to a minute..a day).
fn keep_for(headers: &reqwest::header::HeaderMap) -> Duration {
    let Some(control) = headers
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    else {
        return KEEP_DEFAULT;
    };
    let mut keep = None;
    for directive in control.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return KEEP_MIN;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            keep = seconds
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    keep.unwrap_or(KEEP_DEFAULT).clamp(KEEP_MIN, KEEP_MAX)
}

/// Checks a `client_id` URL (§3): `https`, in normal form, with a path, without a
/// fragment or credentials; an IP literal must be public unless private ones are allowed.
pub fn check_url(client_id: &str, allow_private: bool) -> Result<url::Url, OAuthError> {
    let bad = |problem: String| OAuthError::client(format!("client_id '{client_id}' {problem}"));
    if client_id.len() > MAX_URL {
        return Err(bad(format!(
            "is longer than {MAX_URL} characters; a metadata document's URL must be shorter"
        )));
    }
    let url = url::Url::parse(client_id).map_err(|e| bad(format!("is not a URL ({e})")))?;
    if url.scheme() != "https" {
        return Err(bad(
            "is not an https URL; a client metadata document is fetched over https only".into(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("carries a user name or password; remove it".into()));
    }
    if url.fragment().is_some() {
        return Err(bad("has a fragment; remove it".into()));
    }
    if client_id
        .split(['?', '#'])
        .next()
        .is_some_and(|p| p.split('/').skip(3).any(|seg| seg == "." || seg == ".."))
    {
        return Err(bad(
            "has . or .. path segments; name the document directly".into()
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(bad(
            "has no path; the document must live at a path such as /oauth/client.json".into(),
        ));
    }
    if url.as_str() != client_id {
        return Err(bad(format!(
            "is not in normal form; use exactly {url} (lower-case host, no default port)"
        )));
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err(bad(format!(
            "is on {ip}, a loopback or private address; documents there are refused (GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE)"
        )));
    }
    Ok(url)
}

impl Documents {
    pub fn new(settings: &DocumentSettings) -> Result<Documents, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(true)
            .user_agent(concat!("nomad-gateway/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(PublicOnly {
                allow_private: settings.private,
            }));
        if let Some(pem) = &settings.ca_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA: {e}"))?;
            builder = builder.tls_certs_merge(roots);
        }
        Ok(Documents {
            http: builder
                .build()
                .map_err(|e| format!("the client metadata document fetcher: {}", cause(&e)))?,
            allow_private: settings.private,
            kept: Mutex::new(HashMap::new()),
        })
    }

    /// The client a document describes: from the cache, or fetched and checked.
    pub async fn client(&self, client_id: &str) -> Result<ClientRow, OAuthError> {
        if let Some(kept) = self.lock().get(client_id)
            && kept.until > Instant::now()
        {
            return kept.answer.clone();
        }
        let (answer, keep) = match self.fetch(client_id).await {
            Ok((row, keep)) => (Ok(row), keep),
            Err(error) => (Err(error), KEEP_FAILURE),
        };
        match &answer {
            Ok(row) => tracing::info!(
                client_id,
                name = row.name,
                keep_s = keep.as_secs(),
                "client metadata document read"
            ),
            Err(error) => tracing::info!(
                client_id,
                error = error.description,
                "client metadata document refused"
            ),
        }
        let mut kept = self.lock();
        if kept.len() >= MAX_CACHED {
            let now = Instant::now();
            kept.retain(|_, k| k.until > now);
            if kept.len() >= MAX_CACHED
                && let Some(oldest) = kept
                    .iter()
                    .min_by_key(|(_, k)| k.until)
                    .map(|(id, _)| id.clone())
            {
                kept.remove(&oldest);
            }
        }
        kept.insert(
            client_id.to_string(),
            Kept {
                until: Instant::now() + keep,
                answer: answer.clone(),
            },
        );
        answer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn fetch(&self, client_id: &str) -> Result<(ClientRow, Duration), OAuthError> {
        let url = check_url(client_id, self.allow_private)?;
        let mut response = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| failed(client_id, &e, ("did not answer", "could not be fetched")))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("elsewhere");
            return Err(refused(
                client_id,
                format!(
                    "redirects ({status}) to {to}; redirects are not followed, publish the document at the client_id itself"
                ),
            ));
        }
        if status != reqwest::StatusCode::OK {
            return Err(refused(client_id, format!("answered {status}, not 200")));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BYTES as u64)
        {
            return Err(refused(
                client_id,
                format!("is larger than {MAX_BYTES} bytes"),
            ));
        }
        let keep = keep_for(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(client_id, &e, ("did not arrive", "broke off")))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BYTES {
                return Err(refused(
                    client_id,
                    format!("is larger than {MAX_BYTES} bytes"),
                ));
            }
        }
        let document: Document = serde_json::from_slice(&body)
            .map_err(|e| refused(client_id, format!("is not a client metadata document: {e}")))?;
        Ok((row_of(client_id, &url, document)?, keep))
    }
}

/// The client a fetched document describes, after the document's own rules (§4, §4.1).
fn row_of(client_id: &str, url: &url::Url, document: Document) -> Result<ClientRow, OAuthError> {
    match document.client_id.as_deref() {
        Some(id) if id == client_id => {}
        Some(id) => {
            return Err(refused(
                client_id,
                format!("names the client_id '{id}'; it must be exactly its own URL"),
            ));
        }
        None => {
            return Err(refused(
                client_id,
                "has no client_id; it must name its own URL",
            ));
        }
    }
    if document.client_secret.is_some() {
        return Err(refused(
            client_id,
            "carries a client_secret; a published document cannot keep a secret",
        ));
    }
    // §4.1: shared-secret methods cannot be used; `none` when it names none.
    let described = describe(&document.registration, "none", &["none"])
        .map_err(|e| refused(client_id, format!("is refused: {}", e.description)))?;
    let host = url.host_str().unwrap_or("its site").to_string();
    Ok(ClientRow {
        client_id: client_id.to_string(),
        name: described
            .name
            .unwrap_or_else(|| format!("a client of {host}")),
        redirect_uris: serde_json::json!(document.registration.redirect_uris),
        secret_sha256: None,
        auth_method: described.method,
        registered_from: Some("metadata document".into()),
        created_at: crate::db::operations::now(),
        used_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for public in [
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "127.5.6.7",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.10",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd7a:115c:a1e0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn client_id_urls_are_https_in_normal_form_with_a_path() {
        let problem = |id: &str| check_url(id, false).unwrap_err().description;
        assert!(check_url("https://app.example/oauth/client.json", false).is_ok());
        assert!(check_url("https://app.example:8443/c?v=1", false).is_ok());
        assert!(problem("http://app.example/c").contains("not an https URL"));
        assert!(problem("https://app.example/").contains("no path"));
        assert!(problem("https://app.example").contains("no path"));
        assert!(problem("https://app.example/c#x").contains("fragment"));
        assert!(problem("https://u:p@app.example/c").contains("user name or password"));
        assert!(problem("https://app.example/a/../c").contains(". or .."));
        assert!(problem("https://app.example/./c").contains(". or .."));
        assert!(problem("https://APP.example/c").contains("normal form"));
        assert!(problem("https://app.example:443/c").contains("normal form"));
        assert!(problem("https://127.0.0.1/c").contains("loopback or private"));
        assert!(problem("https://[::1]/c").contains("loopback or private"));
        assert!(problem("https://10.1.2.3/c").contains("loopback or private"));
        assert!(check_url("https://127.0.0.1:9443/c", true).is_ok());
        let long = format!("https://app.example/{}", "a".repeat(MAX_URL));
        assert!(problem(&long).contains("longer than 255"));
    }

    #[test]
    fn cache_control_decides_how_long_a_document_is_kept() {
        let with = |value: &str| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::CACHE_CONTROL, value.parse().unwrap());
            keep_for(&headers)
        };
        assert_eq!(keep_for(&reqwest::header::HeaderMap::new()), KEEP_DEFAULT);
        assert_eq!(with("public, max-age=3600"), Duration::from_secs(3600));
        assert_eq!(with("max-age=5"), KEEP_MIN);
        assert_eq!(with("max-age=9999999"), KEEP_MAX);
        assert_eq!(with("no-store"), KEEP_MIN);
        assert_eq!(with("private"), KEEP_DEFAULT);
    }

    #[test]
    fn a_document_names_itself_and_keeps_no_secret() {
        let url = url::Url::parse("https://app.example/c.json").unwrap();
        let doc = |v: serde_json::Value| serde_json::from_value::<Document>(v).unwrap();
        let id = "https://app.example/c.json";
        let row = row_of(
            id,
            &url,
            doc(serde_json::json!({"client_id": id, "client_name": "App",
                "redirect_uris": ["http://127.0.0.1/cb"]})),
        )
        .unwrap();
        assert_eq!(
            (row.name.as_str(), row.auth_method.as_str()),
            ("App", "none")
        );
        assert!(row.secret_sha256.is_none());
        let unnamed = row_of(
            id,
            &url,
            doc(serde_json::json!({"client_id": id,
            "redirect_uris": ["https://app.example/cb"]})),
        )
        .unwrap();
        assert_eq!(unnamed.name, "a client of app.example");
        let problem = |v: serde_json::Value| row_of(id, &url, doc(v)).unwrap_err().description;
        assert!(
            problem(
                serde_json::json!({"client_id": "https://other.example/c.json",
            "redirect_uris": ["https://app.example/cb"]})
            )
            .contains("exactly its own URL")
        );
        assert!(
            problem(serde_json::json!({"redirect_uris": ["https://app.example/cb"]}))
                .contains("has no client_id")
        );
        assert!(
            problem(serde_json::json!({"client_id": id, "client_secret": "s",
            "redirect_uris": ["https://app.example/cb"]}))
            .contains("client_secret")
        );
        assert!(
            problem(serde_json::json!({"client_id": id,
            "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": ["https://app.example/cb"]}))
            .contains("use none")
        );
        assert!(
            problem(serde_json::json!({"client_id": id})).contains("redirect_uris is required")
        );
        assert!(
            problem(serde_json::json!({"client_id": id,
            "redirect_uris": ["http://evil.example/cb"]}))
            .contains("not loopback")
        );
    }
}

//! DNS-rebinding and cross-site protection for every route: the `Host` must name the
//! gateway (the host of `GATEWAY_PUBLIC_URL`, or loopback), and a browser's `Origin` must
//! be the public URL's origin, a loopback page, or one listed in `GATEWAY_CORS_ORIGINS`.
//! MCP refuses a foreign `Origin` on every request (the transport spec's rule); REST on
//! state-changing ones (a cross-site `GET` cannot read the answer without CORS). Refusals
//! are 403, a JSON-RPC error on the MCP paths and a problem document elsewhere.
//!
//! `/healthz`, `/readyz` and `/metrics` are exempt from the `Host` rule: probes and
//! scrapers address a replica by its own IP, and they read nothing a caller could misuse.
//!
//! With `GATEWAY_CORS_ORIGINS` set, the listed origins get CORS answers (preflight
//! included) from tower-http's `CorsLayer`; without it no CORS header is ever sent.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use url::Url;

use super::error::ApiError;

/// The origin clients are expected to use, and the extra browser origins allowed.
#[derive(Debug, Clone)]
pub struct Public {
    scheme: String,
    host: String,
    port: u16,
    cors: Vec<String>,
}

impl Public {
    pub fn new(url: &Url, cors: &[String]) -> Public {
        Public {
            scheme: url.scheme().to_ascii_lowercase(),
            host: bare_host(url.host_str().unwrap_or("localhost")),
            port: url.port_or_known_default().unwrap_or(80),
            cors: cors.to_vec(),
        }
    }

    /// Whether a `Host` value (`name`, `name:port`, `[v6]:port`) names the gateway.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some((name, _port)) = split_authority(host) else {
            return false;
        };
        name == self.host || is_loopback(&name)
    }

    /// Whether an `Origin` value is the public origin, a loopback page or a listed one.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let Ok(url) = Url::parse(origin) else {
            return false;
        };
        let Some(host) = url.host_str().map(bare_host) else {
            return false;
        };
        if is_loopback(&host)
            || self
                .cors
                .iter()
                .any(|o| *o == url.origin().ascii_serialization())
        {
            return true;
        }
        url.scheme().eq_ignore_ascii_case(&self.scheme)
            && host == self.host
            && url.port_or_known_default() == Some(self.port)
    }

    /// The CORS layer for the listed origins; `None` when none is listed.
    pub fn cors(&self) -> Option<CorsLayer> {
        if self.cors.is_empty() {
            return None;
        }
        let origins = self
            .cors
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect::<Vec<_>>();
        let name = HeaderName::from_static;
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::ACCEPT,
                    name("idempotency-key"),
                    name("mcp-session-id"),
                    name("mcp-protocol-version"),
                    name("last-event-id"),
                    name("traceparent"),
                    name("tracestate"),
                ])
                .expose_headers([
                    name("mcp-session-id"),
                    header::WWW_AUTHENTICATE,
                    header::RETRY_AFTER,
                    name("x-request-id"),
                ])
                .max_age(std::time::Duration::from_secs(600)),
        )
    }
}

fn bare_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `example.com:443` → (`example.com`, Some(443)); `[::1]:80` → (`::1`, Some(80)).
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((bare_host(host), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Some((bare_host(host), Some(port.parse().ok()?)))
        }
        Some(_) => Some((bare_host(authority), None)),
        None => Some((bare_host(authority), None)),
    }
}

fn request_host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
}

fn origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("invalid").to_string())
}

/// The MCP transports' paths: their refusals are JSON-RPC errors.
pub fn is_mcp(path: &str) -> bool {
    path == "/mcp" || path.starts_with("/mcp/") || path == "/sse" || path == "/messages"
}

fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

fn refuse(path: &str, message: String) -> Response {
    if is_mcp(path) {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32600, "message": message },
        });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    ApiError::Forbidden {
        message,
        missing_scope: None,
    }
    .into_response()
}

pub async fn check(State(public): State<Arc<Public>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if !exempt(&path) {
        match request_host(&request) {
            Some(host) if public.host_allowed(&host) => {}
            Some(host) => {
                return refuse(
                    &path,
                    format!(
                        "Host '{host}' is not this gateway's; use the address in GATEWAY_PUBLIC_URL ({})",
                        public.host
                    ),
                );
            }
            None => return refuse(&path, "the request names no Host".into()),
        }
    }
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if let Some(origin) = origin(request.headers())
        && (changes || is_mcp(&path))
        && !public.origin_allowed(&origin)
    {
        return refuse(
            &path,
            format!(
                "Origin '{origin}' may not call this gateway; only {}://{}:{}, loopback pages and GATEWAY_CORS_ORIGINS may",
                public.scheme, public.host, public.port
            ),
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> Public {
        Public::new(
            &Url::parse("https://nomad.example.com/").unwrap(),
            &["https://console.example.com".to_string()],
        )
    }

    #[test]
    fn hosts_are_the_public_one_or_loopback() {
        let p = public();
        assert!(p.host_allowed("nomad.example.com"));
        assert!(p.host_allowed("NOMAD.example.com:443"));
        assert!(p.host_allowed("127.0.0.1:8080"));
        assert!(p.host_allowed("[::1]:8080"));
        assert!(p.host_allowed("localhost"));
        assert!(!p.host_allowed("evil.example.com"));
        assert!(!p.host_allowed("nomad.example.com.evil.net"));
        assert!(!p.host_allowed(""));
    }

    #[test]
    fn origins_must_match_scheme_host_and_port_or_be_listed() {
        let p = public();
        assert!(p.origin_allowed("https://nomad.example.com"));
        assert!(p.origin_allowed("https://nomad.example.com:443"));
        assert!(!p.origin_allowed("http://nomad.example.com"));
        assert!(!p.origin_allowed("https://nomad.example.com:8443"));
        assert!(!p.origin_allowed("https://evil.example.com"));
        assert!(!p.origin_allowed("null"));
        assert!(p.origin_allowed("http://localhost:6274"));
        assert!(p.origin_allowed("https://console.example.com"));
        assert!(!p.origin_allowed("http://console.example.com"));
    }
}

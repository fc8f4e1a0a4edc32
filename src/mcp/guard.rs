//! DNS-rebinding and cross-site protection for the MCP endpoints: the `Host` must name
//! the gateway (the host of `GATEWAY_PUBLIC_URL`, or loopback), and an `Origin`, when a
//! browser sends one, must be the public URL's origin or a loopback page. Anything else is
//! refused with 403 before it reaches a session.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

/// The origin clients are expected to use.
#[derive(Debug, Clone)]
pub struct Public {
    scheme: String,
    host: String,
    port: u16,
}

impl Public {
    pub fn from_url(url: &Url) -> Public {
        Public {
            scheme: url.scheme().to_ascii_lowercase(),
            host: bare_host(url.host_str().unwrap_or("localhost")),
            port: url.port_or_known_default().unwrap_or(80),
        }
    }

    /// Whether a `Host` value (`name`, `name:port`, `[v6]:port`) names the gateway.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some((name, _port)) = split_authority(host) else {
            return false;
        };
        name == self.host || is_loopback(&name)
    }

    /// Whether an `Origin` value is the public origin or a loopback page.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let Ok(url) = Url::parse(origin) else {
            return false;
        };
        let Some(host) = url.host_str().map(bare_host) else {
            return false;
        };
        if is_loopback(&host) {
            return true;
        }
        url.scheme().eq_ignore_ascii_case(&self.scheme)
            && host == self.host
            && url.port_or_known_default() == Some(self.port)
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

pub async fn check(State(public): State<Arc<Public>>, request: Request, next: Next) -> Response {
    let host = request_host(&request);
    match host.as_deref() {
        Some(host) if public.host_allowed(host) => {}
        Some(host) => {
            return forbidden(&format!(
                "Host '{host}' is not this gateway's; use the address in GATEWAY_PUBLIC_URL ({})",
                public.host
            ));
        }
        None => return forbidden("the request names no Host"),
    }
    if let Some(origin) = origin(request.headers())
        && !public.origin_allowed(&origin)
    {
        return forbidden(&format!(
            "Origin '{origin}' may not call this gateway; only {}://{}:{} and loopback pages may",
            public.scheme, public.host, public.port
        ));
    }
    next.run(request).await
}

fn origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("invalid").to_string())
}

/// A JSON-RPC error body (id null), as MCP clients expect on transport-level refusals.
pub fn refusal(status: StatusCode, code: i64, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    (status, axum::Json(body)).into_response()
}

fn forbidden(message: &str) -> Response {
    refusal(StatusCode::FORBIDDEN, -32600, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> Public {
        Public::from_url(&Url::parse("https://nomad.example.com/").unwrap())
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
    fn origins_must_match_scheme_host_and_port() {
        let p = public();
        assert!(p.origin_allowed("https://nomad.example.com"));
        assert!(p.origin_allowed("https://nomad.example.com:443"));
        assert!(!p.origin_allowed("http://nomad.example.com"));
        assert!(!p.origin_allowed("https://nomad.example.com:8443"));
        assert!(!p.origin_allowed("https://evil.example.com"));
        assert!(!p.origin_allowed("null"));
        assert!(p.origin_allowed("http://localhost:6274"));
    }
}

//! The Nomad HTTP client: one pooled connection set, the gateway's token, namespace and
//! region defaults, retries for reads, a client span per call with W3C `traceparent`.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument, field};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::error::NomadError;
use super::query::{QueryMeta, QueryOptions, Response};
use super::token::Token;
use crate::config::{ConfigError, NomadSettings};

/// How reads are retried: up to `attempts` tries, sleeping a random time below
/// `base * 2^n` (capped at `max`) between them ("full jitter").
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Time allowed for an ordinary (non-blocking, non-streaming) call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Cheap to clone; all clones share the connection pool.
#[derive(Clone, Debug)]
pub struct NomadClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: String,
    token: Token,
    namespace: Option<String>,
    region: Option<String>,
    trust: String,
    retry: RetryPolicy,
}

/// One call: what it does (for messages), its path template (for spans and metrics) and
/// the concrete path.
pub(super) struct Call {
    pub operation: &'static str,
    pub template: &'static str,
    pub path: String,
}

/// What Go's `url.PathEscape` leaves as it is: ASCII letters and digits, the unreserved
/// `-` `_` `.` `~` and the reserved `$` `&` `+` `:` `=` `@`. Everything else is written as
/// `%XX`: `/` `;` `,` `?` (the reserved characters a segment may not hold), the sub-delims
/// `!` `'` `(` `)` `*`, `%`, space, `#`, controls and every byte of a non-ASCII character.
/// Source: `shouldEscape` in mode `encodePathSegment`, `src/net/url/url.go` of
/// golang/go.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b':')
    .remove(b'=')
    .remove(b'@');

/// Escapes one path segment as Nomad's own Go client does: `api/jobs.go` of
/// hashicorp/nomad builds `"/v1/job/" + url.PathEscape(jobID)` (and `.../allocations`,
/// `/deployment`, `/summary`... the same way), and `api/api.go` sends that text as it is
/// (`url.Parse` keeps it as `RawPath`, `RequestURI` writes it back). So `does-not-exist`
/// goes out as `/v1/job/does-not-exist`, and a dispatched child `batch/dispatch-1` as
/// `/v1/job/batch%2Fdispatch-1`. Nomad decodes the path before it routes
/// (`req.URL.Path` in `command/agent/job_endpoint.go`), but proxies and path rules in
/// front of it see the bytes sent, which are now the ones the Nomad CLI sends. Nomad's
/// client puts node, allocation, evaluation and deployment ids into paths without
/// escaping; they are UUIDs, which this leaves untouched, while a malformed id still
/// cannot add a segment or a query.
pub(super) fn segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

/// A path segment that is exactly `.` or `..`: URL parsing (reqwest's, and any proxy's)
/// removes it, so the request would reach another endpoint (`/v1/job/..` is `/v1/`).
/// Escaping cannot help: `%2E` counts as a dot as well (WHATWG URL, "single-dot path
/// segment"), and Nomad's Go server redirects such paths to their clean form.
fn dot_segment(path: &str) -> Option<&str> {
    path.split('/').find(|s| *s == "." || *s == "..")
}

impl NomadClient {
    /// Builds the client; unusable TLS files are configuration errors.
    pub fn new(settings: &NomadSettings) -> Result<Self, ConfigError> {
        NomadClient::with_retry_policy(settings, RetryPolicy::default())
    }

    /// As [`NomadClient::new`], with another retry policy for reads.
    pub fn with_retry_policy(
        settings: &NomadSettings,
        retry: RetryPolicy,
    ) -> Result<Self, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            // reqwest's default too; stated because request bodies and blocking queries are
            // small writes that must not wait for an ACK.
            .tcp_nodelay(true)
            .user_agent(concat!("nomad-gateway/", env!("CARGO_PKG_VERSION")));
        let base = if let Some(socket) = settings.addr.strip_prefix("unix://") {
            builder = builder.unix_socket(socket.to_string());
            "http://localhost".to_string()
        } else {
            settings.addr.trim_end_matches('/').to_string()
        };
        if let Some(tls) = super::tls::client_config(settings)? {
            builder = builder.tls_backend_preconfigured(tls);
        }
        let http = builder.build().map_err(|e| {
            ConfigError::new("NOMAD_ADDR", format!("cannot build the HTTP client: {e}"))
        })?;
        Ok(NomadClient {
            inner: Arc::new(Inner {
                http,
                base,
                token: Token::from_settings(settings),
                namespace: settings.namespace.clone(),
                region: settings.region.clone(),
                trust: super::tls::trust_source(settings),
                retry,
            }),
        })
    }

    /// The configured address, for messages.
    pub fn addr(&self) -> &str {
        &self.inner.base
    }

    /// The namespace calls use when the caller names none.
    pub fn default_namespace(&self) -> &str {
        self.inner.namespace.as_deref().unwrap_or("default")
    }

    fn query_pairs(&self, options: &QueryOptions) -> Vec<(&'static str, String)> {
        let mut options = options.clone();
        if options.namespace.is_none() {
            options.namespace = self.inner.namespace.clone();
        }
        if options.region.is_none() {
            options.region = self.inner.region.clone();
        }
        options.pairs()
    }

    fn unavailable(&self, operation: &'static str, error: &reqwest::Error) -> NomadError {
        let mut source: Option<&dyn std::error::Error> = Some(error);
        let mut innermost = error.to_string();
        while let Some(e) = source {
            innermost = e.to_string();
            source = e.source();
        }
        let lower = innermost.to_lowercase();
        let reason = if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            format!(
                "TLS failure: {innermost}; server certificates are checked against {}",
                self.inner.trust
            )
        } else if error.is_timeout() {
            format!("timed out ({innermost})")
        } else {
            innermost
        };
        NomadError::Unavailable {
            operation,
            addr: self.inner.base.clone(),
            reason,
        }
    }

    /// Sends one request inside a client span and turns error statuses into errors.
    async fn execute(
        &self,
        call: &Call,
        method: Method,
        query: &[(&'static str, String)],
        body: Option<&serde_json::Value>,
        timeout: Option<Duration>,
        answered: Option<StatusCode>,
    ) -> Result<reqwest::Response, NomadError> {
        if let Some(dots) = dot_segment(&call.path) {
            return Err(NomadError::BadRequest {
                operation: call.operation,
                message: format!(
                    "'{dots}' cannot be sent as an id in a URL path (it would name another path)"
                ),
            });
        }
        let namespace = query
            .iter()
            .find(|(k, _)| *k == "namespace")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let span = tracing::info_span!(
            "nomad.request",
            otel.name = %format!("{method} {}", call.template),
            otel.kind = "client",
            http.request.method = %method,
            url.template = call.template,
            nomad.namespace = namespace,
            http.response.status_code = field::Empty,
            otel.status_code = field::Empty,
        );
        // A static label: the client only sends these four.
        let method_name: &'static str = match method {
            Method::GET => "GET",
            Method::PUT => "PUT",
            Method::POST => "POST",
            Method::DELETE => "DELETE",
            _ => "OTHER",
        };
        let mut request = self
            .inner
            .http
            .request(method, format!("{}{}", self.inner.base, call.path))
            .query(query);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if let Some(token) = self.inner.token.current() {
            request = request.header("X-Nomad-Token", token.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        TraceContextPropagator::new().inject_context(
            &span.context(),
            &mut opentelemetry_http::HeaderInjector(&mut headers),
        );
        let request = request.headers(headers);
        // A blocking query waits on purpose: it is counted, but kept out of the latency.
        let blocking = query.iter().any(|(k, _)| *k == "index");
        let started = std::time::Instant::now();
        let observe = move |status: std::borrow::Cow<'static, str>| {
            metrics::counter!("gateway_nomad_requests_total",
                "endpoint" => call.template, "method" => method_name, "status" => status)
            .increment(1);
            if !blocking {
                metrics::histogram!("gateway_nomad_request_duration_seconds", "endpoint" => call.template)
                    .record(started.elapsed().as_secs_f64());
            }
        };
        async {
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    observe("unreachable".into());
                    return Err(self.unavailable(call.operation, &e));
                }
            };
            let status = response.status();
            observe(status_label(status.as_u16()));
            let span = tracing::Span::current();
            span.record("http.response.status_code", status.as_u16());
            if status.is_success() || Some(status) == answered {
                return Ok(response);
            }
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
            let text = response.text().await.unwrap_or_default();
            let text: String = text.chars().take(4096).collect();
            Err(NomadError::from_status(
                call.operation,
                status.as_u16(),
                &text,
                self.inner.token.source(),
            ))
        }
        .instrument(span)
        .await
    }

    /// A read, retried on transient failures within the policy's bound.
    async fn read(
        &self,
        call: &Call,
        query: &[(&'static str, String)],
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, NomadError> {
        let retry = self.inner.retry;
        let mut attempt = 0;
        loop {
            match self
                .execute(call, Method::GET, query, None, timeout, None)
                .await
            {
                Err(error) if error.is_transient() && attempt + 1 < retry.attempts => {
                    let pause = retry.backoff(attempt);
                    tracing::debug!(%error, attempt, pause_ms = pause.as_millis() as u64, "retrying a Nomad read");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// GET returning JSON with its query metadata.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        call: Call,
        options: &QueryOptions,
        extra: &[(&'static str, String)],
    ) -> Result<Response<T>, NomadError> {
        let mut query = self.query_pairs(options);
        query.extend(extra.iter().cloned());
        // A blocking query may legitimately take `wait`, plus up to wait/16 of jitter that
        // Nomad adds (`nomad/rpc.go`, blockingRPC).
        let timeout = match options.wait {
            Some(wait) if options.index.is_some() => wait + wait / 16 + Duration::from_secs(5),
            _ => CALL_TIMEOUT,
        };
        let response = self.read(&call, &query, Some(timeout)).await?;
        let meta = QueryMeta::from_headers(response.headers());
        let value = response.json::<T>().await.map_err(|e| NomadError::Decode {
            operation: call.operation,
            reason: e.to_string(),
        })?;
        Ok(Response { value, meta })
    }

    /// A streaming GET (logs, events): retried only until the answer starts; no deadline
    /// on the body, which is read with its own idle bound by the caller.
    pub(super) async fn stream(
        &self,
        call: Call,
        options: &QueryOptions,
        extra: &[(&'static str, String)],
    ) -> Result<reqwest::Response, NomadError> {
        let mut query = self.query_pairs(options);
        query.extend(extra.iter().cloned());
        self.read(&call, &query, None).await
    }

    /// A write (PUT/POST/DELETE). Never retried: Nomad may have applied it even when the
    /// answer was lost, and the caller must decide.
    pub(super) async fn write<B: Serialize, T: DeserializeOwned>(
        &self,
        call: Call,
        method: Method,
        options: &QueryOptions,
        extra: &[(&'static str, String)],
        body: Option<&B>,
    ) -> Result<T, NomadError> {
        let response = self
            .send_write(&call, method, options, extra, body, None)
            .await?;
        self.json_body(&call, response).await
    }

    /// A write whose refusal with status `refused` carries an answer to read rather than
    /// an error text (a check-and-set conflict answers 409 with the current object): that
    /// answer is `Ok(Err(answer))`. Never retried, like `write`.
    pub(super) async fn write_or_refused<B, T, R>(
        &self,
        call: Call,
        method: Method,
        options: &QueryOptions,
        extra: &[(&'static str, String)],
        body: Option<&B>,
        refused: StatusCode,
    ) -> Result<Result<T, R>, NomadError>
    where
        B: Serialize,
        T: DeserializeOwned,
        R: DeserializeOwned,
    {
        let response = self
            .send_write(&call, method, options, extra, body, Some(refused))
            .await?;
        if response.status() == refused {
            self.json_body(&call, response).await.map(Err)
        } else {
            self.json_body(&call, response).await.map(Ok)
        }
    }

    /// Sends a write with the client's query options and the body as JSON.
    async fn send_write<B: Serialize>(
        &self,
        call: &Call,
        method: Method,
        options: &QueryOptions,
        extra: &[(&'static str, String)],
        body: Option<&B>,
        answered: Option<StatusCode>,
    ) -> Result<reqwest::Response, NomadError> {
        let mut query = self.query_pairs(options);
        query.extend(extra.iter().cloned());
        let body = body
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| NomadError::Decode {
                operation: call.operation,
                reason: format!("cannot encode the request: {e}"),
            })?;
        self.execute(
            call,
            method,
            &query,
            body.as_ref(),
            Some(CALL_TIMEOUT),
            answered,
        )
        .await
    }

    /// A write's answer as JSON; an empty body reads as `null`.
    async fn json_body<T: DeserializeOwned>(
        &self,
        call: &Call,
        response: reqwest::Response,
    ) -> Result<T, NomadError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.unavailable(call.operation, &e))?;
        // Some writes answer with an empty body; read that as JSON null.
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|e| NomadError::Decode {
            operation: call.operation,
            reason: e.to_string(),
        })
    }
}

/// The status label of `gateway_nomad_requests_total`, without an allocation for the
/// statuses Nomad answers with.
fn status_label(status: u16) -> std::borrow::Cow<'static, str> {
    match status {
        200 => "200".into(),
        400 => "400".into(),
        403 => "403".into(),
        404 => "404".into(),
        409 => "409".into(),
        500 => "500".into(),
        other => other.to_string().into(),
    }
}

#[cfg(test)]
mod paths {
    use super::{dot_segment, segment};

    #[test]
    fn segments_are_escaped_as_go_url_path_escape_does() {
        // Unchanged by PathEscape: letters, digits, `-_.~` and `$&+:=@`.
        assert_eq!(segment("does-not-exist"), "does-not-exist");
        assert_eq!(segment("a-b.c_d~e:f@g"), "a-b.c_d~e:f@g");
        assert_eq!(segment("$&+=:@"), "$&+=:@");
        assert_eq!(
            segment("5456bd7a-9fc0-c0dd-6131-cbee77f57577"),
            "5456bd7a-9fc0-c0dd-6131-cbee77f57577"
        );
        // Escaped: `/;,?`, the other sub-delims, `%`, `#`, space, controls, non-ASCII,
        // with upper-case hex (`url.PathEscape("a/b c")` is `a%2Fb%20c`).
        assert_eq!(segment("batch/dispatch-1"), "batch%2Fdispatch-1");
        assert_eq!(segment("a b"), "a%20b");
        assert_eq!(segment("a;b,c?d#e%f"), "a%3Bb%2Cc%3Fd%23e%25f");
        assert_eq!(segment("!'()*"), "%21%27%28%29%2A");
        assert_eq!(
            segment("\"\\<>[]^`{|}"),
            "%22%5C%3C%3E%5B%5D%5E%60%7B%7C%7D"
        );
        assert_eq!(segment("\t\n"), "%09%0A");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn dot_segments_are_found_because_url_parsing_removes_them() {
        assert_eq!(
            reqwest::Url::parse("http://nomad/v1/job/../summary")
                .unwrap()
                .path(),
            "/v1/summary"
        );
        assert_eq!(
            reqwest::Url::parse("http://nomad/v1/job/%2E%2E")
                .unwrap()
                .path(),
            "/v1/"
        );
        assert_eq!(dot_segment("/v1/job/../summary"), Some(".."));
        assert_eq!(dot_segment("/v1/job/."), Some("."));
        assert_eq!(dot_segment("/v1/job/a.b/summary"), None);
        assert_eq!(dot_segment("/v1/job/...."), None);
    }
}

//! The MCP transport: Streamable HTTP at `/mcp` (rmcp) and the legacy HTTP+SSE transport
//! at `/sse` (alias `/mcp/sse`) with `POST /messages?sessionId=`. Both serve the same
//! handler ([`server::NomadMcp`]): every tool is a thin adapter over one service function.
//!
//! Both transports: Host/Origin checks ([`guard`]), no SSE priming events, keep-alive
//! comments every 15 s, `Cache-Control: no-cache` and `X-Accel-Buffering: no`, sessions
//! bounded per caller and closed when idle, and streams ended when shutdown starts.

mod completions;
pub mod confirm;
pub mod guard;
mod jsonrpc;
mod live;
mod progress;
mod prompts;
mod resources;
pub mod server;
mod sessions;
mod sse_relay;
mod sse_worker;
mod standalone;
mod tasks;
mod tools;
mod transport_sse;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::service::Principal;
use crate::state::AppState;

/// Session and stream limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open sessions per caller and transport; one more closes the least recently used.
    pub sessions_per_caller: usize,
    /// A session without a request for this long is closed.
    pub idle_timeout: Duration,
    /// Sessions kept ready in memory per transport; the least recently used idle ones
    /// beyond that are set aside and restored from their rows when used again.
    pub in_memory: usize,
    /// SSE comment lines at this interval keep proxies from closing quiet streams.
    pub keep_alive: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        let settings = crate::config::McpSettings::default();
        Limits {
            sessions_per_caller: settings.sessions_per_caller,
            idle_timeout: settings.session_idle,
            in_memory: settings.sessions_in_memory,
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// The ids of the `count` least recently used entries that `idle` accepts: the workers
/// set aside first when a transport holds more than [`Limits::in_memory`].
pub(crate) fn least_recently_used<'a, V: 'a, T: Ord>(
    entries: impl Iterator<Item = (&'a String, &'a V)>,
    idle: impl Fn(&V) -> bool,
    last_seen: impl Fn(&V) -> T,
    count: usize,
) -> Vec<String> {
    let mut idle: Vec<(T, &String)> = entries
        .filter(|(_, v)| idle(v))
        .map(|(id, v)| (last_seen(v), id))
        .collect();
    idle.sort_unstable();
    idle.into_iter()
        .take(count)
        .map(|(_, id)| id.clone())
        .collect()
}

/// A server-sent event stream with keep-alive comments every `keep_alive`, marked not to
/// be cached or buffered by proxies (`X-Accel-Buffering: no` is nginx's switch).
pub(crate) fn event_stream<S>(events: S, keep_alive: Duration) -> axum::response::Response
where
    S: futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>
        + Send
        + 'static,
{
    use axum::response::IntoResponse;
    use axum::response::sse::{KeepAlive, Sse};
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(keep_alive))
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    headers.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    response
}

/// The Streamable HTTP session a request belongs to (its `Mcp-Session-Id`), from the HTTP
/// parts rmcp hands the handler; none for legacy SSE and sessionless requests.
pub(crate) fn session_of(
    context: &rmcp::service::RequestContext<rmcp::RoleServer>,
) -> Option<String> {
    context
        .extensions
        .get::<http::request::Parts>()
        .filter(|parts| parts.uri.path().ends_with("/mcp"))
        .and_then(|parts| parts.headers.get("mcp-session-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Shrinks a map left at under a quarter of its table. A `HashMap` keeps the table of its
/// busiest moment: 10,000 SSE sessions, once closed, left their map's 1 MiB behind
/// (heaptrack). Halving at a quarter keeps the work amortised constant per removal.
pub(crate) fn let_go<K: Eq + std::hash::Hash, V>(map: &mut std::collections::HashMap<K, V>) {
    if map.capacity() > 64 && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

/// The caller the authentication middleware identified (it puts one into every MCP
/// request, the local operator when authentication is off); anonymous otherwise.
pub(crate) fn principal_of(extensions: &http::Extensions) -> Principal {
    extensions
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::anonymous)
}

impl Limits {
    /// The configured session limits, with the built-in keep-alive.
    pub fn from_settings(settings: &crate::config::McpSettings) -> Limits {
        Limits {
            sessions_per_caller: settings.sessions_per_caller,
            idle_timeout: settings.session_idle,
            in_memory: settings.sessions_in_memory,
            ..Limits::default()
        }
    }
}

/// The MCP routes, mounted by the HTTP router.
pub fn router(state: &AppState) -> Router<AppState> {
    router_with(state, Limits::from_settings(&state.config.mcp))
}

pub fn router_with(state: &AppState, limits: Limits) -> Router<AppState> {
    let mut session_config = SessionConfig::default();
    // No empty priming events: clients before 2025-11-25 choke on them.
    session_config.sse_retry = None;
    session_config.keep_alive = Some(limits.idle_timeout);
    let mut manager = LocalSessionManager::default();
    manager.session_config = session_config;
    let manager = Arc::new(manager);

    let store = Arc::new(sessions::Store::default());
    let mut config = StreamableHttpServerConfig::default()
        .with_sse_retry(None)
        .with_sse_keep_alive(Some(limits.keep_alive))
        .with_max_request_body_bytes(state.config.server.body_limit)
        // Host and Origin are checked by `guard` for both transports.
        .disable_allowed_hosts()
        .disable_allowed_origins();
    // Sessions any replica can serve: rmcp replays the stored handshake (see `sessions`).
    config.session_store = Some(store.clone());
    let handler_state = state.clone();
    let answers = Arc::new(confirm::Answers::default());
    // The one Nomad event stream of this gateway, for every subscription of any session.
    let watcher = Arc::new(crate::service::watch::Watcher::new(
        state.nomad.clone(),
        state.shutdown.clone(),
    ));
    let handler_answers = answers.clone();
    let handler_watcher = watcher.clone();
    let streamable = StreamableHttpService::new(
        move || {
            Ok(server::NomadMcp::streamable(
                handler_state.clone(),
                handler_answers.clone(),
                handler_watcher.clone(),
            ))
        },
        manager.clone(),
        config,
    );

    let live = standalone::Live {
        db: state.db.clone(),
        watcher,
        default_namespace: state.nomad.default_namespace().to_string(),
    };
    let sessions = sessions::Sessions::new(
        manager,
        store,
        state.cluster.clone(),
        limits,
        state.shutdown.clone(),
        answers,
        live,
    );
    sessions.spawn_listener(state.shutdown.clone());
    let sse = transport_sse::SseSessions::new(state.clone(), limits);
    sse.spawn_listeners(state.shutdown.clone());
    spawn_sweeper(state, sessions.clone(), sse.clone(), limits);

    let streamable = Router::new()
        .route_service("/mcp", streamable)
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            sessions::track,
        ))
        .layer(axum::middleware::from_fn(jsonrpc::check));
    let legacy = Router::new()
        .route("/sse", get(transport_sse::connect))
        .route("/mcp/sse", get(transport_sse::connect))
        .route("/messages", post(transport_sse::message))
        .with_state(sse);
    Router::new().merge(streamable).merge(legacy)
}

/// Closes idle sessions of both transports until shutdown.
fn spawn_sweeper(
    state: &AppState,
    sessions: Arc<sessions::Sessions>,
    sse: Arc<transport_sse::SseSessions>,
    limits: Limits,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let shutdown = state.shutdown.clone();
    let every = (limits.idle_timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    sessions.sweep().await;
                    sse.sweep().await;
                }
            }
        }
    });
}

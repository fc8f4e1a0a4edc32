//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp no longer ships: `GET
//! /sse` opens a stream whose first event, `endpoint`, names the URL to POST messages to
//! (`/messages?sessionId=...` under the public path prefix, relative so it keeps the
//! client's scheme, host and port); every server message follows as a `message` event.
//! The server side is rmcp's own, served over a pair of channels.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::server::NomadMcp;
use super::{Limits, guard, principal_of};
use crate::service::Principal;
use crate::state::AppState;

const CHANNEL: usize = 64;

struct Session {
    caller: Principal,
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    last_seen: Instant,
    close: CancellationToken,
}

pub struct SseSessions {
    app: AppState,
    limits: Limits,
    /// The public URL's path without the trailing slash (`/nomad` behind a prefix).
    prefix: String,
    sessions: Mutex<HashMap<String, Session>>,
}

impl SseSessions {
    pub fn new(app: AppState, limits: Limits) -> SseSessions {
        let prefix = app
            .config
            .server
            .public_url
            .path()
            .trim_end_matches('/')
            .to_string();
        SseSessions {
            app,
            limits,
            prefix,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Adds a session; ends the caller's least recently used ones beyond the cap.
    async fn register(&self, id: String, session: Session) {
        let caller = session.caller.subject.clone();
        let mut sessions = self.sessions.lock().await;
        sessions.insert(id, session);
        let mut mine: Vec<(Instant, String)> = sessions
            .iter()
            .filter(|(_, s)| s.caller.subject == caller)
            .map(|(id, s)| (s.last_seen, id.clone()))
            .collect();
        mine.sort();
        let excess = mine.len().saturating_sub(self.limits.sessions_per_caller);
        for (_, id) in mine.into_iter().take(excess) {
            if let Some(old) = sessions.remove(&id) {
                tracing::info!(session = %id, %caller, "closing the caller's least recently used SSE session: too many open");
                old.close.cancel();
            }
        }
        open_sessions(sessions.len());
    }

    async fn forget(&self, id: &str) {
        let mut sessions = self.sessions.lock().await;
        sessions.remove(id);
        open_sessions(sessions.len());
    }

    /// Ends sessions without a message for longer than the idle limit.
    pub async fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut sessions = self.sessions.lock().await;
        let idle: Vec<String> = sessions
            .iter()
            .filter(|(_, s)| now.duration_since(s.last_seen) > self.limits.idle_timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            if let Some(session) = sessions.remove(id) {
                tracing::info!(session = %id, "closing an idle SSE session");
                session.close.cancel();
            }
        }
        open_sessions(sessions.len());
        idle.len()
    }
}

/// `GET /sse`: starts a session and streams its messages.
pub async fn connect(State(sse): State<Arc<SseSessions>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let caller = principal_of(&parts.extensions);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL);
    let close = sse.app.shutdown.child_token();
    sse.register(
        id.clone(),
        Session {
            caller: caller.clone(),
            to_server,
            last_seen: Instant::now(),
            close: close.clone(),
        },
    )
    .await;

    let server = NomadMcp::new(sse.app.clone());
    let server_close = close.clone();
    let registry = sse.clone();
    let session_id = id.clone();
    tokio::spawn(async move {
        match rmcp::service::serve_server_with_ct(
            server,
            (to_client, from_client),
            server_close.clone(),
        )
        .await
        {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(error) => {
                tracing::debug!(session = %session_id, %error, "SSE session ended before initialize")
            }
        }
        server_close.cancel();
        registry.forget(&session_id).await;
    });

    let endpoint = format!("{}/messages?sessionId={id}", sse.prefix);
    tracing::info!(session = %id, caller = %caller.subject, "SSE session opened");
    // Ends the session when the client goes away (the body, and this guard, are dropped).
    let on_disconnect = close.clone().drop_guard();
    let first = futures::stream::once(async move {
        Ok::<Event, Infallible>(Event::default().event("endpoint").data(endpoint))
    });
    let messages = from_server.map(move |message| {
        let _keep = &on_disconnect;
        let data = serde_json::to_string(&message).unwrap_or_default();
        Ok::<Event, Infallible>(Event::default().event("message").data(data))
    });
    let stream = first.chain(messages).take_until(close.cancelled_owned());
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(sse.limits.keep_alive))
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `POST /messages?sessionId=`: hands one client message to its session; 202 Accepted.
pub async fn message(
    State(sse): State<Arc<SseSessions>>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let Some(id) = query.get("sessionId").or_else(|| query.get("session_id")) else {
        return guard::refusal(
            StatusCode::BAD_REQUEST,
            -32600,
            "the sessionId query parameter is missing; POST to the URL of the endpoint event",
        );
    };
    let (mut parts, body) = request.into_parts();
    let (caller, mut to_server) = {
        let mut sessions = sse.sessions.lock().await;
        let Some(session) = sessions.get_mut(id) else {
            return guard::refusal(
                StatusCode::NOT_FOUND,
                -32001,
                "session not found (it ended or expired); open a new one with GET /sse",
            );
        };
        if let Some(who) = parts.extensions.get::<Principal>()
            && who.subject != session.caller.subject
        {
            return guard::refusal(
                StatusCode::NOT_FOUND,
                -32001,
                "session not found (it ended or expired); open a new one with GET /sse",
            );
        }
        session.last_seen = Instant::now();
        (session.caller.clone(), session.to_server.clone())
    };
    let limit = sse.app.config.server.body_limit;
    let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return guard::refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                &format!("the message is larger than {limit} bytes"),
            );
        }
    };
    let mut message: ClientJsonRpcMessage = match serde_json::from_slice(&bytes) {
        Ok(message) => message,
        Err(error) => {
            return guard::refusal(
                StatusCode::BAD_REQUEST,
                -32700,
                &format!("not a JSON-RPC message: {error}"),
            );
        }
    };
    // The tools read the caller (and their parent span) from the request parts, as on
    // Streamable HTTP.
    parts.extensions.insert(caller);
    parts.extensions.insert(tracing::Span::current());
    match &mut message {
        ClientJsonRpcMessage::Request(request) => {
            request.request.extensions_mut().insert(parts);
        }
        ClientJsonRpcMessage::Notification(notification) => {
            notification.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
    if to_server.send(message).await.is_err() {
        sse.forget(id).await;
        return guard::refusal(
            StatusCode::NOT_FOUND,
            -32001,
            "session not found (it ended); open a new one with GET /sse",
        );
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}

/// `gateway_mcp_sessions{transport="sse"}`: the legacy SSE sessions this replica holds.
fn open_sessions(count: usize) {
    metrics::gauge!("gateway_mcp_sessions", "transport" => "sse").set(count as f64);
}

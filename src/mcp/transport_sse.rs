//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp no longer ships: `GET
//! /sse` opens a stream whose first event, `endpoint`, names the URL to POST messages to
//! (`/messages?sessionId=...` under the public path prefix, relative so it keeps the
//! client's scheme, host and port); every server message follows as a `message` event.
//! The server side is rmcp's own, served over a pair of channels, started at the session's
//! first message and set aside beyond `GATEWAY_MCP_SESSIONS_IN_MEMORY` (`sse_worker`).
//!
//! The stream lives on the replica that opened it; a `POST /messages` that reaches another
//! replica is relayed to it (`sse_relay`). Each session has a row in `mcp_sessions` naming
//! its holder, so any replica can check the owner and find the holder.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use rmcp::model::{InitializeRequestParams, ServerJsonRpcMessage};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::sessions::Owner;
use super::sse_relay::Relay;
use super::sse_worker::{self, Pending, Worker};
use super::{Limits, guard, principal_of};
use crate::db::cluster;
use crate::db::operations::now;
use crate::db::sessions as rows;
use crate::service::Principal;
use crate::state::AppState;

const CHANNEL: usize = 64;
pub(crate) const TRANSPORT: &str = "sse";

struct Session {
    caller: Principal,
    last_seen: Instant,
    close: CancellationToken,
    /// Where the server writes: the session's stream.
    to_client: mpsc::Sender<ServerJsonRpcMessage>,
    /// The running server, if any (none before the first message, or set aside).
    worker: Option<Worker>,
    /// The session's handshake, replayed into a fresh worker.
    initialize: Option<Box<InitializeRequestParams>>,
    pending: Arc<Pending>,
}

pub struct SseSessions {
    pub(super) app: AppState,
    limits: Limits,
    /// The public URL's path without the trailing slash (`/nomad` behind a prefix).
    prefix: String,
    sessions: Mutex<Held>,
    /// Workers running here (sessions with `worker` set).
    running: Arc<std::sync::atomic::AtomicUsize>,
    pub(super) relay: Relay,
}

/// Why a message did not reach its session.
pub(super) enum Undelivered {
    /// The session ended (or never was): 404, the client opens a new one.
    Gone,
    /// Not a JSON-RPC message: 400.
    Malformed(super::jsonrpc::Refused),
    /// The database between the replicas is away: 503, the client may retry.
    Unavailable,
}

impl SseSessions {
    pub fn new(app: AppState, limits: Limits) -> Arc<SseSessions> {
        let prefix = app
            .config
            .server
            .public_url
            .path()
            .trim_end_matches('/')
            .to_string();
        Arc::new(SseSessions {
            app,
            limits,
            prefix,
            sessions: Mutex::new(Held::default()),
            running: Arc::default(),
            relay: Relay::default(),
        })
    }

    /// Adds a session; ends the caller's least recently used ones beyond the cap. Only a
    /// caller over the cap costs a look at their sessions, so opening one stays O(1).
    async fn register(&self, id: String, session: Session) {
        let caller = session.caller.subject.clone();
        let mut sessions = self.sessions.lock().await;
        let held = sessions.insert(id, session);
        let excess = held.saturating_sub(self.limits.sessions_per_caller);
        if excess > 0 {
            let mine = sessions.iter().filter(|(_, s)| s.caller.subject == caller);
            let oldest = super::least_recently_used(mine, |_| true, |s| s.last_seen, excess);
            for id in oldest {
                if let Some(old) = sessions.remove(&id) {
                    tracing::info!(session = %id, %caller, "closing the caller's least recently used SSE session: too many open");
                    old.close.cancel();
                }
            }
        }
        settled(&mut sessions);
    }

    /// Writes the session's row (this replica holds it), and ends the caller's least
    /// recently used sessions on other replicas beyond the cap.
    async fn store(&self, id: &str, caller: &Principal) {
        let owner = Owner::of(caller);
        let at = now();
        let row = rows::SessionRow {
            id: id.to_string(),
            transport: TRANSPORT.to_string(),
            subject: owner.subject.clone(),
            credential: owner.credential,
            protocol_version: Some("2024-11-05".into()),
            client_info: None,
            capabilities: None,
            initialize: None,
            holder: Some(self.app.cluster.id.clone()),
            created_at: at,
            last_seen_at: at,
        };
        let db = &self.app.db;
        if let Err(error) = rows::insert(db, row).await {
            tracing::warn!(session = %id, %error, "storing an SSE session failed; messages must reach this replica");
            return;
        }
        let cap = self.limits.sessions_per_caller;
        let Ok(evicted) = rows::beyond(db, TRANSPORT, &owner.subject, cap, Some(id)).await else {
            return;
        };
        if let Err(error) = rows::delete_many(db, &evicted).await {
            tracing::warn!(%error, "ending SSE sessions beyond the cap failed");
            return;
        }
        for old in evicted {
            tracing::info!(session = %old, caller = %owner.subject, "closing the caller's least recently used SSE session: too many open");
            self.close(&old).await;
            let _ = self
                .app
                .cluster
                .bus
                .publish(cluster::ALL, &format!("closed {old}"))
                .await;
        }
    }

    async fn forget(&self, id: &str) {
        {
            let mut sessions = self.sessions.lock().await;
            sessions.remove(id);
            settled(&mut sessions);
        }
        if let Err(error) = rows::delete(&self.app.db, id).await {
            tracing::warn!(session = %id, %error, "removing an SSE session's row failed");
        }
    }

    /// Ends a session this replica holds (ended elsewhere: the cap, or its row expired).
    pub(super) async fn close(&self, id: &str) {
        let mut sessions = self.sessions.lock().await;
        if let Some(session) = sessions.remove(id) {
            session.close.cancel();
        }
        settled(&mut sessions);
    }

    /// The caller of a session held here, if `who` may use it.
    async fn holder_of(&self, id: &str, who: Option<&Principal>) -> Option<Principal> {
        let sessions = self.sessions.lock().await;
        let session = sessions.get(id)?;
        match who {
            Some(who) if Owner::of(who) != Owner::of(&session.caller) => None,
            _ => Some(session.caller.clone()),
        }
    }

    /// Hands one message to a session held here, in the request parts the tools read the
    /// caller (and their parent span) from, as on Streamable HTTP.
    pub(super) async fn deliver(
        &self,
        id: &str,
        bytes: &[u8],
        mut parts: http::request::Parts,
        span: tracing::Span,
    ) -> Result<(), Undelivered> {
        let mut message = super::jsonrpc::message(bytes).map_err(Undelivered::Malformed)?;
        let (mut to_server, pending) = {
            let mut sessions = self.sessions.lock().await;
            let session = sessions.get_mut(id).ok_or(Undelivered::Gone)?;
            session.last_seen = Instant::now();
            parts.extensions.insert(session.caller.clone());
            parts.extensions.insert(span);
            let handshake = sse_worker::handshake(&message);
            if session.worker.is_none() {
                // Replayed unless this message is the handshake itself.
                let replay = match (&handshake, &session.initialize) {
                    (None, Some(params)) => Some((&**params, &parts)),
                    _ => None,
                };
                let worker = Worker::start(
                    &self.app,
                    session.to_client.clone(),
                    &session.close,
                    replay,
                    &self.running,
                );
                session.worker = Some(worker);
            }
            if let Some(params) = handshake {
                session.initialize = Some(Box::new(params));
            }
            let to_server = session
                .worker
                .as_ref()
                .map(Worker::sender)
                .ok_or(Undelivered::Gone)?;
            session.pending.sent(&message);
            let pending = session.pending.clone();
            self.make_room(&mut sessions, id);
            (to_server, pending)
        };
        sse_worker::with_parts(&mut message, parts);
        let handed = to_server.send(message).await;
        pending.handed_over();
        if handed.is_err() {
            self.forget(id).await;
            return Err(Undelivered::Gone);
        }
        Ok(())
    }

    /// Sets aside the least recently used idle workers beyond the in-memory cap (never the
    /// one of `except`); their streams stay open.
    fn make_room(&self, sessions: &mut Held, except: &str) {
        let running = self.running.load(std::sync::atomic::Ordering::Relaxed);
        let excess = running.saturating_sub(self.limits.in_memory);
        if excess == 0 {
            return;
        }
        let idle = super::least_recently_used(
            sessions.iter().filter(|(id, _)| id.as_str() != except),
            |s| s.worker.is_some() && s.pending.idle(),
            |s| s.last_seen,
            excess,
        );
        for id in idle {
            if let Some(session) = sessions.get_mut(&id) {
                session.worker = None;
                metrics::counter!("gateway_mcp_sessions_set_aside_total", "transport" => TRANSPORT)
                    .increment(1);
            }
        }
    }

    /// Ends sessions without a message for longer than the idle limit, and the rows of
    /// sessions whose holder died.
    pub async fn sweep(&self) -> usize {
        let now = Instant::now();
        let idle: Vec<String> = {
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
            settled(&mut sessions);
            idle
        };
        let db = &self.app.db;
        if let Ok(alive) = self.app.cluster.members().await
            && let Ok(orphans) = rows::orphaned(db, &alive).await
        {
            let _ = rows::delete_many(db, &orphans).await;
        }
        self.relay.sweep(db).await;
        idle.len()
    }
}

/// `GET /sse`: starts a session and streams its messages.
pub async fn connect(State(sse): State<Arc<SseSessions>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let caller = principal_of(&parts.extensions);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL);
    let close = sse.app.shutdown.child_token();
    let pending = Arc::new(Pending::default());
    sse.register(
        id.clone(),
        Session {
            caller: caller.clone(),
            last_seen: Instant::now(),
            close: close.clone(),
            to_client,
            worker: None,
            initialize: None,
            pending: pending.clone(),
        },
    )
    .await;
    sse.store(&id, &caller).await;

    // The session ends when its stream does, or when its server ends by itself.
    let registry = sse.clone();
    let session_id = id.clone();
    let ended = close.clone();
    tokio::spawn(async move {
        ended.cancelled().await;
        // Boxed: the database call's state is not held by every open stream's task.
        Box::pin(registry.forget(&session_id)).await;
    });

    let endpoint = format!("{}/messages?sessionId={id}", sse.prefix);
    tracing::info!(session = %id, caller = %caller.subject, "SSE session opened");
    // Ends the session when the client goes away (the body, and this guard, are dropped).
    let on_disconnect = close.clone().drop_guard();
    let first = futures::stream::once(async move {
        Ok::<Event, Infallible>(Event::default().event("endpoint").data(endpoint))
    });
    let messages = from_server.filter_map(move |message| {
        let _keep = &on_disconnect;
        let event = pending.answered(&message).then(|| {
            let data = serde_json::to_string(&message).unwrap_or_default();
            Ok::<Event, Infallible>(Event::default().event("message").data(data))
        });
        std::future::ready(event)
    });
    let stream = first.chain(messages).take_until(close.cancelled_owned());
    super::event_stream(stream, sse.limits.keep_alive)
}

pub(super) fn gone() -> Response {
    guard::refusal(
        StatusCode::NOT_FOUND,
        -32001,
        "session not found (it ended or expired); open a new one with GET /sse",
    )
}

/// `POST /messages?sessionId=`: hands one client message to its session, here or on the
/// replica that holds it; 202 Accepted once the session has it.
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
    if !super::jsonrpc::is_json(request.headers()) {
        return super::jsonrpc::unsupported_media_type();
    }
    let (parts, body) = request.into_parts();
    let who = parts.extensions.get::<Principal>().cloned();
    let here = sse.holder_of(id, who.as_ref()).await.is_some();
    // Elsewhere: the owner and the holder are checked before the body is read.
    let holder = if here {
        None
    } else {
        match super::sse_relay::holder(&sse, id, who.as_ref()).await {
            Ok(holder) => Some(holder),
            Err(response) => return response,
        }
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
    let outcome = match holder {
        None => {
            sse.deliver(id, &bytes, parts, tracing::Span::current())
                .await
        }
        Some(holder) => super::sse_relay::forward(&sse, id, &holder, &bytes).await,
    };
    match outcome {
        Ok(()) => (StatusCode::ACCEPTED, "Accepted").into_response(),
        Err(Undelivered::Gone) => gone(),
        Err(Undelivered::Malformed(refused)) => refused.response(),
        Err(Undelivered::Unavailable) => super::sse_relay::unavailable(),
    }
}

/// The sessions held here, and how many each caller has (kept with every insert and
/// removal, so the cap needs no scan).
#[derive(Default)]
struct Held {
    sessions: HashMap<String, Session>,
    per_caller: HashMap<String, usize>,
}

impl Held {
    /// Adds a session; how many the caller holds here now.
    fn insert(&mut self, id: String, session: Session) -> usize {
        let count = self
            .per_caller
            .entry(session.caller.subject.clone())
            .or_default();
        *count += 1;
        let count = *count;
        if let Some(old) = self.sessions.insert(id, session) {
            // An id is a fresh UUID, so this never happens; the count stays right anyway.
            self.uncount(&old.caller.subject);
        }
        count
    }

    fn remove(&mut self, id: &str) -> Option<Session> {
        let session = self.sessions.remove(id)?;
        self.uncount(&session.caller.subject);
        Some(session)
    }

    fn uncount(&mut self, subject: &str) {
        if let Some(count) = self.per_caller.get_mut(subject) {
            *count -= 1;
            if *count == 0 {
                self.per_caller.remove(subject);
            }
        }
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Session> {
        self.sessions.get_mut(id)
    }
}

impl std::ops::Deref for Held {
    type Target = HashMap<String, Session>;

    fn deref(&self) -> &Self::Target {
        &self.sessions
    }
}

/// `gateway_mcp_sessions{transport="sse"}`: the legacy SSE sessions this replica holds.
/// After sessions came or went: the maps give back a table grown for more, and the gauge
/// counts what is left.
fn settled(held: &mut Held) {
    super::let_go(&mut held.sessions);
    super::let_go(&mut held.per_caller);
    metrics::gauge!("gateway_mcp_sessions", "transport" => "sse").set(held.sessions.len() as f64);
}

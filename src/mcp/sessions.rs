//! Streamable HTTP sessions that any replica can serve. Each session has a row in
//! `mcp_sessions` (its owner, protocol version, client, and the `initialize` parameters);
//! a replica that gets a request for a session it does not hold checks the owner there and
//! has rmcp restore it (`SessionStore`: the handshake is replayed into a fresh worker).
//!
//! - Another caller presenting the id gets 404, on every replica.
//! - `DELETE /mcp` on any replica removes the row and tells the others (the bus) to drop
//!   their workers; a sweep also drops workers whose row is gone, in case a message was lost.
//! - Last use is kept in memory per request and written for all the sessions a replica saw
//!   in one statement per sweep, so a call costs no database write.
//! - Idle expiry and the per-caller cap are decided on the rows, so they hold across
//!   replicas; a replica also drops its own worker of a session it has not served for the
//!   idle time (the row stays while another replica uses it).
//! - A replica keeps at most `GATEWAY_MCP_SESSIONS_IN_MEMORY` workers (rmcp spends some
//!   70 KiB on each): beyond that it sets aside the least recently used one that has no
//!   request or stream in flight, and the session's next request restores it from its row,
//!   as on another replica. A held session thus costs its row, not a worker. The standalone
//!   `GET /mcp` stream is the gateway's own (`standalone`), so it pins no worker.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rmcp::model::InitializeRequestParams;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::{
    SessionManager, SessionState, SessionStore, SessionStoreError,
};
use sea_orm::DatabaseConnection;
use tokio::time::Instant;

use super::confirm::{Answers, ClientAnswer};
use super::standalone::{self, Live, Streams};
use super::{Limits, guard, principal_of};
use crate::db::cluster::{self, Cluster};
use crate::db::operations::now;
use crate::db::sessions as rows;
use crate::service::Principal;
use crate::service::policy::Credential;

const SESSION_HEADER: &str = "mcp-session-id";
pub(crate) const TRANSPORT: &str = "streamable_http";

/// Who a session belongs to: the subject and the credential that opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub subject: String,
    pub credential: String,
}

impl Owner {
    pub fn of(who: &Principal) -> Owner {
        let credential = match &who.credential {
            Credential::Local => "local".to_string(),
            Credential::ApiKey { id, .. } => format!("api_key:{id}"),
            Credential::Jwt { issuer } => format!("jwt:{}", issuer.as_deref().unwrap_or("")),
        };
        Owner {
            subject: who.subject.clone(),
            credential,
        }
    }

    fn owns(&self, row: &rows::SessionRow) -> bool {
        self.subject == row.subject && self.credential == row.credential
    }
}

struct Entry {
    owner: Owner,
    last_seen: Instant,
    /// Used since the last write of `last_seen_at`.
    dirty: bool,
    /// Requests and streams of the session in flight here; a busy worker stays.
    busy: u32,
    /// Set while the worker is being set aside: a request waits for it, then restores.
    aside: Option<Arc<tokio::sync::Notify>>,
}

impl Entry {
    fn new(owner: Owner, busy: u32) -> Entry {
        Entry {
            owner,
            last_seen: Instant::now(),
            dirty: busy > 0,
            busy,
            aside: None,
        }
    }
}

/// rmcp's hook: `store` keeps the handshake until [`track`] writes the row (it knows the
/// caller, rmcp does not); `load` hands back what `track` found when it checked the owner.
#[derive(Default)]
pub struct Store {
    made: std::sync::Mutex<HashMap<String, InitializeRequestParams>>,
    found: std::sync::Mutex<HashMap<String, InitializeRequestParams>>,
}

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn load(&self, id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let found = self
            .found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(found.map(SessionState::new))
    }

    async fn store(&self, id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        self.made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), state.initialize_params.clone());
        Ok(())
    }

    /// The row goes in [`track`], which also tells the other replicas.
    async fn delete(&self, _id: &str) -> Result<(), SessionStoreError> {
        Ok(())
    }
}

/// Sessions ended here, waiting for the other replicas to let go: id → (replicas still to
/// answer, woken when none is left).
type Waiting = HashMap<String, (Vec<String>, Arc<tokio::sync::Notify>)>;

/// How long a `DELETE` waits for the other replicas to drop the session.
const LET_GO: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Sessions {
    manager: Arc<LocalSessionManager>,
    store: Arc<Store>,
    db: DatabaseConnection,
    cluster: Arc<Cluster>,
    held: std::sync::Mutex<HashMap<String, Entry>>,
    /// Sessions set aside while used since the last write of their `last_seen_at`.
    untouched: std::sync::Mutex<Vec<String>>,
    waiting: std::sync::Mutex<Waiting>,
    limits: Limits,
    /// Cancelled when shutdown starts: standalone streams (`GET /mcp`) end then.
    shutdown: tokio_util::sync::CancellationToken,
    /// The standalone streams open here (served by the gateway, not by the workers).
    streams: Arc<Streams>,
    /// The confirmations calls here wait for (`confirm`).
    answers: Arc<Answers>,
    /// What the standalone streams need to carry subscriptions (`live`).
    live: Live,
}

impl Sessions {
    pub fn new(
        manager: Arc<LocalSessionManager>,
        store: Arc<Store>,
        cluster: Arc<Cluster>,
        limits: Limits,
        shutdown: tokio_util::sync::CancellationToken,
        answers: Arc<Answers>,
        live: Live,
    ) -> Arc<Sessions> {
        Arc::new(Sessions {
            manager,
            store,
            db: live.db.clone(),
            cluster,
            held: std::sync::Mutex::new(HashMap::new()),
            untouched: std::sync::Mutex::new(Vec::new()),
            waiting: std::sync::Mutex::new(HashMap::new()),
            limits,
            shutdown,
            streams: Arc::default(),
            answers,
            live,
        })
    }

    /// Drops this replica's worker of a session ended elsewhere (the bus says `closed <id>
    /// <origin>` on the channel of all replicas) and tells the origin it did (`dropped <id>`
    /// on the origin's channel), so a `DELETE` answers once every replica has let go.
    pub fn spawn_listener(self: &Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        let sessions = self.clone();
        self.cluster.on_messages(shutdown, move |message| {
            let sessions = sessions.clone();
            async move { sessions.hear(&message).await }
        });
    }

    async fn hear(&self, message: &str) {
        let mut words = message.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("closed"), Some(id), origin) => {
                self.streams.end(id);
                self.drop_worker(id).await;
                if let Some(origin) = origin.filter(|o| *o != self.cluster.id) {
                    let note = format!("dropped {id} {}", self.cluster.id);
                    let channel = cluster::channel_of(origin);
                    let _ = self.cluster.bus.publish(&channel, &note).await;
                }
            }
            (Some("dropped"), Some(id), Some(replica)) => self.heard(id, replica),
            (Some("answer"), _, _) => self.answers.hear(message),
            (Some("subscribed"), Some(id), _) => self.streams.changed(id),
            _ => {}
        }
    }

    /// A replica let go of session `id`.
    fn heard(&self, id: &str, replica: &str) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((pending, done)) = waiting.get_mut(id) {
            pending.retain(|r| r != replica);
            if pending.is_empty() {
                done.notify_one();
                waiting.remove(id);
            }
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn drop_worker(&self, id: &str) {
        let removed = {
            let mut held = self.held();
            let removed = held.remove(id).is_some();
            open_sessions(held.len());
            removed
        };
        let id: rmcp::transport::streamable_http_server::SessionId = Arc::from(id);
        let present = removed || self.manager.has_session(&id).await.unwrap_or(false);
        if present && let Err(error) = self.manager.close_session(&id).await {
            tracing::debug!(session = %id, %error, "closing an MCP session");
        }
    }

    /// Ends sessions everywhere: their rows go and every replica drops its worker.
    async fn end(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        if let Err(error) = rows::delete_many(&self.db, ids).await {
            tracing::warn!(%error, "removing ended MCP sessions failed");
        }
        if let Err(error) = crate::db::subscriptions::forget(&self.db, ids).await {
            tracing::warn!(%error, "removing the subscriptions of ended MCP sessions failed");
        }
        for id in ids {
            // Here at once; the others when the bus reaches them.
            self.streams.end(id);
            self.drop_worker(id).await;
            let note = format!("closed {id} {}", self.cluster.id);
            if let Err(error) = self.cluster.bus.publish(cluster::ALL, &note).await {
                tracing::warn!(session = %id, %error, "telling the other replicas a session ended failed");
            }
        }
    }

    /// Ends one session and waits (at most [`LET_GO`]) until every other live replica has
    /// dropped its worker, so no replica serves it after the answer. A replica that does
    /// not answer in time drops it at its next sweep, when it finds the row gone.
    async fn end_and_wait(&self, id: &str) {
        let others: Vec<String> = match self.cluster.members().await {
            Ok(members) => members
                .into_iter()
                .filter(|m| *m != self.cluster.id)
                .collect(),
            Err(_) => Vec::new(),
        };
        let done = Arc::new(tokio::sync::Notify::new());
        if !others.is_empty() {
            self.waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.to_string(), (others, done.clone()));
        }
        let notified = done.notified();
        self.end(&[id.to_string()]).await;
        if self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
            && tokio::time::timeout(LET_GO, notified).await.is_err()
        {
            self.waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
            tracing::info!(session = %id, "not every replica confirmed dropping an ended MCP session in time");
        }
    }

    /// Records a session rmcp just opened; ends the caller's least recently used ones
    /// beyond the cap (counted over every replica).
    async fn opened(&self, id: String, owner: Owner, protocol: Option<&str>) {
        let params = self
            .store
            .made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        let json = |v: serde_json::Result<serde_json::Value>| v.ok();
        let at = now();
        let row = rows::SessionRow {
            id: id.clone(),
            transport: TRANSPORT.to_string(),
            subject: owner.subject.clone(),
            credential: owner.credential.clone(),
            protocol_version: params
                .as_ref()
                .map(|p| p.protocol_version.to_string())
                .or(protocol.map(str::to_string)),
            client_info: params
                .as_ref()
                .and_then(|p| json(serde_json::to_value(&p.client_info))),
            capabilities: params
                .as_ref()
                .and_then(|p| json(serde_json::to_value(&p.capabilities))),
            initialize: params.as_ref().and_then(|p| json(serde_json::to_value(p))),
            holder: None,
            created_at: at,
            last_seen_at: at,
        };
        {
            let mut held = self.held();
            held.insert(id.clone(), Entry::new(owner.clone(), 0));
            open_sessions(held.len());
        }
        self.make_room(&id).await;
        if let Err(error) = rows::insert(&self.db, row).await {
            // The session still works on this replica; another one answers 404 and the
            // client starts over, as after any lost session.
            tracing::warn!(session = %id, %error, "storing an MCP session failed; only this replica can serve it");
            return;
        }
        let cap = self.limits.sessions_per_caller;
        match rows::beyond(&self.db, TRANSPORT, &owner.subject, cap, Some(&id)).await {
            Ok(evicted) => {
                for old in &evicted {
                    tracing::info!(session = %old, caller = %owner.subject, "closing the caller's least recently used MCP session: too many open");
                }
                self.end(&evicted).await;
            }
            Err(error) => tracing::warn!(%error, "counting the caller's MCP sessions failed"),
        }
    }

    /// Writes last use, drops workers idle here or ended elsewhere, and ends sessions idle
    /// on every replica. Returns how many sessions ended everywhere.
    pub async fn sweep(&self) -> usize {
        let (seen, idle_here, held_ids) = {
            let mut seen: Vec<String> =
                std::mem::take(&mut *self.untouched.lock().unwrap_or_else(|p| p.into_inner()));
            let mut held = self.held();
            for (id, entry) in held.iter_mut() {
                if entry.dirty {
                    entry.dirty = false;
                    seen.push(id.clone());
                }
            }
            let idle_here: Vec<String> = held
                .iter()
                .filter(|(_, e)| e.busy == 0 && e.last_seen.elapsed() > self.limits.idle_timeout)
                .map(|(id, _)| id.clone())
                .collect();
            let held_ids: Vec<String> = held.keys().cloned().collect();
            (seen, idle_here, held_ids)
        };
        if let Err(error) = rows::touch(&self.db, &seen, now()).await {
            tracing::warn!(%error, "recording MCP session use failed");
        }
        for id in &idle_here {
            self.drop_worker(id).await;
        }
        // Rows ended while a notification was lost: their workers go too.
        if let Ok(still) = rows::existing(&self.db, &held_ids).await {
            for id in held_ids.iter().filter(|id| !still.contains(id)) {
                self.drop_worker(id).await;
            }
        }
        let listening = self.streams.ids();
        if let Ok(still) = rows::existing(&self.db, &listening).await {
            for id in listening.iter().filter(|id| !still.contains(id)) {
                self.streams.end(id);
            }
        }
        // Leftovers of calls and sessions that ended without cleaning up after themselves.
        if let Err(error) = crate::db::confirmations::expire(&self.db).await {
            tracing::debug!(%error, "dropping expired confirmation questions failed");
        }
        if let Err(error) = crate::db::subscriptions::drop_orphans(&self.db).await {
            tracing::debug!(%error, "dropping subscriptions of ended sessions failed");
        }
        let before =
            now() - chrono::Duration::from_std(self.limits.idle_timeout).unwrap_or_default();
        match rows::idle_since(&self.db, TRANSPORT, before).await {
            Ok(idle) => {
                for id in &idle {
                    tracing::info!(session = %id, "closing an idle MCP session");
                }
                self.end(&idle).await;
                idle.len()
            }
            Err(error) => {
                tracing::warn!(%error, "looking for idle MCP sessions failed");
                0
            }
        }
    }

    /// Sets aside the least recently used idle workers beyond the in-memory cap (never
    /// `except`, the session just used). Their rows stay; the next request restores them.
    async fn make_room(&self, except: &str) {
        let aside: Vec<(String, Arc<tokio::sync::Notify>)> = {
            let mut held = self.held();
            let excess = held.len().saturating_sub(self.limits.in_memory);
            if excess == 0 {
                return;
            }
            let idle = super::least_recently_used(
                held.iter().filter(|(id, _)| id.as_str() != except),
                |e| e.busy == 0 && e.aside.is_none(),
                |e| e.last_seen,
                excess,
            );
            idle.into_iter()
                .filter_map(|id| {
                    let done = Arc::new(tokio::sync::Notify::new());
                    held.get_mut(&id)?.aside = Some(done.clone());
                    Some((id, done))
                })
                .collect()
        };
        for (id, done) in aside {
            let sid: rmcp::transport::streamable_http_server::SessionId = Arc::from(id.as_str());
            if let Err(error) = self.manager.close_session(&sid).await {
                tracing::debug!(session = %id, %error, "setting an MCP session aside");
            }
            {
                let mut held = self.held();
                if held.get(&id).is_some_and(|e| e.aside.is_some())
                    && let Some(entry) = held.remove(&id)
                    && entry.dirty
                {
                    self.untouched
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(id.clone());
                }
                open_sessions(held.len());
            }
            done.notify_waiters();
            metrics::counter!("gateway_mcp_sessions_set_aside_total", "transport" => TRANSPORT)
                .increment(1);
        }
    }

    /// A request or stream of session `id` finished here.
    fn finished(&self, id: &str) {
        if let Some(entry) = self.held().get_mut(id) {
            entry.busy = entry.busy.saturating_sub(1);
        }
    }

    #[cfg(test)]
    fn held_count(&self) -> usize {
        self.held().len()
    }
}

fn unavailable() -> Response {
    guard::refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        -32603,
        "the gateway's session store is unavailable; retry shortly",
    )
}

fn not_found() -> Response {
    guard::refusal(
        StatusCode::NOT_FOUND,
        -32001,
        "session not found; start a new one with initialize",
    )
}

/// What [`track`] decided for a request that names a session.
enum Known {
    /// This replica holds it for this caller.
    Here,
    /// Restored from its row on this request (rmcp replays the handshake).
    Restored,
    /// Not this caller's, or no such session: 404.
    No,
}

impl Sessions {
    /// Whether session `id` is the caller's, without restoring it here.
    async fn belongs(&self, id: &str, owner: &Owner) -> Result<bool, Response> {
        if let Some(entry) = self.held().get(id) {
            return Ok(entry.owner == *owner);
        }
        Ok(self.row_of(id, owner).await?.is_some())
    }

    /// Session `id`'s row when it is a Streamable HTTP session of `owner`.
    async fn row_of(&self, id: &str, owner: &Owner) -> Result<Option<rows::SessionRow>, Response> {
        let row = rows::find(&self.db, id).await.map_err(|error| {
            tracing::warn!(session = %id, %error, "reading an MCP session failed");
            unavailable()
        })?;
        Ok(row.filter(|r| r.transport == TRANSPORT && owner.owns(r)))
    }

    /// Whether the caller may use session `id`, and where it is. A `Here` or `Restored`
    /// answer counts the request as in flight until [`Sessions::finished`].
    async fn check(&self, id: &str, owner: &Owner) -> Result<Known, Response> {
        let set_aside = {
            let mut held = self.held();
            match held.get_mut(id) {
                Some(entry) if entry.owner != *owner => return Ok(Known::No),
                Some(entry) => match &entry.aside {
                    None => {
                        entry.last_seen = Instant::now();
                        entry.dirty = true;
                        entry.busy += 1;
                        return Ok(Known::Here);
                    }
                    Some(done) => Some(done.clone().notified_owned()),
                },
                None => None,
            }
        };
        if let Some(done) = set_aside {
            // Being set aside right now: once it is, restore it like any other.
            done.await;
        }
        let Some(row) = self.row_of(id, owner).await? else {
            return Ok(Known::No);
        };
        let params = row
            .initialize
            .and_then(|v| serde_json::from_value::<InitializeRequestParams>(v).ok());
        let Some(params) = params else {
            return Ok(Known::No);
        };
        self.store
            .found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), params);
        {
            let mut held = self.held();
            match held.get_mut(id) {
                // Restored by a request that came just before this one.
                Some(entry) if entry.aside.is_none() => {
                    entry.busy += 1;
                    entry.dirty = true;
                    entry.last_seen = Instant::now();
                }
                _ => {
                    held.insert(id.to_string(), Entry::new(owner.clone(), 1));
                }
            }
            open_sessions(held.len());
        }
        self.make_room(id).await;
        Ok(Known::Restored)
    }
}

/// Middleware on `/mcp`: ownership, restore, activity and the per-caller cap.
pub async fn track(
    State(sessions): State<Arc<Sessions>>,
    mut request: Request,
    next: Next,
) -> Response {
    // The tool runs in the session's task: hand it the request's span as its parent, so a
    // trace goes client request → MCP tool → Nomad call.
    request.extensions_mut().insert(tracing::Span::current());
    let owner = Owner::of(&principal_of(request.extensions()));
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let deleting = request.method() == Method::DELETE;
    let get = request.method() == Method::GET;
    let protocol = request
        .headers()
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if get
        && let Some(id) = &session
        && standalone::wanted(request.headers())
    {
        if let Some(refusal) = standalone::refused(request.headers()) {
            return refusal;
        }
        return match sessions.belongs(id, &owner).await {
            Err(response) => response,
            Ok(false) => not_found(),
            Ok(true) => standalone::serve(
                &sessions.streams,
                id,
                &sessions.shutdown,
                sessions.limits.keep_alive,
                &sessions.live,
            ),
        };
    }
    // The answer to a question a call asked on another replica goes there over the bus,
    // not to a worker restored here that never asked it.
    if let Some(id) = &session
        && let Some(answer) = request.extensions().get::<ClientAnswer>()
        && !sessions.answers.waits_here(id, &answer.id)
        && let Some(note) = Answers::note(id, answer)
    {
        return match sessions.belongs(id, &owner).await {
            Err(response) => response,
            Ok(false) => not_found(),
            Ok(true) => {
                if let Err(error) = sessions.cluster.bus.publish(cluster::ALL, &note).await {
                    tracing::warn!(session = %id, %error, "relaying a confirmation answer failed");
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                StatusCode::ACCEPTED.into_response()
            }
        };
    }
    let mut in_flight = None;
    if let Some(id) = &session {
        match sessions.check(id, &owner).await {
            Err(response) => return response,
            Ok(Known::No) => return not_found(),
            Ok(Known::Restored) if deleting => {
                sessions.finished(id);
                // Nothing to close here but the row and the other replicas' workers.
                sessions
                    .store
                    .found
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(id);
                sessions.end(std::slice::from_ref(id)).await;
                return StatusCode::ACCEPTED.into_response();
            }
            Ok(_) => {
                in_flight = Some(InFlight {
                    sessions: sessions.clone(),
                    id: id.clone(),
                })
            }
        }
    }
    let response = next.run(request).await;
    if let Some(id) = &session {
        // Unused when rmcp still had a worker for it after all.
        sessions
            .store
            .found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
    match (&session, response.headers().get(SESSION_HEADER)) {
        (None, Some(new)) if response.status().is_success() => {
            if let Ok(new) = new.to_str() {
                sessions
                    .opened(new.to_string(), owner, protocol.as_deref())
                    .await;
            }
        }
        (Some(id), _) if deleting && response.status().is_success() => {
            sessions.end_and_wait(id).await;
            // rmcp says 202; the SDKs expect 200 or 204 for a session ended.
            return StatusCode::OK.into_response();
        }
        _ => {}
    }
    let (parts, mut body) = response.into_parts();
    if get && parts.status.is_success() {
        // A resumed stream ends when shutdown starts, so the drain is not held up by it,
        // while POST answers in flight still finish.
        let stream = body
            .into_data_stream()
            .take_until(sessions.shutdown.clone().cancelled_owned());
        body = axum::body::Body::from_stream(stream);
    }
    // The worker stays in memory while its answer or stream is still being sent.
    match in_flight {
        Some(in_flight) => Response::from_parts(
            parts,
            axum::body::Body::new(Sending {
                body,
                _in_flight: in_flight,
            }),
        ),
        None => Response::from_parts(parts, body),
    }
}

/// A request of a session in flight here, until dropped.
struct InFlight {
    sessions: Arc<Sessions>,
    id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.sessions.finished(&self.id);
    }
}

/// A response body that keeps its session's worker busy until it is sent or dropped.
struct Sending {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl http_body::Body for Sending {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// `gateway_mcp_sessions{transport="streamable_http"}`: the sessions this replica serves.
fn open_sessions(count: usize) {
    metrics::gauge!("gateway_mcp_sessions", "transport" => "streamable_http").set(count as f64);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn sessions(limits: Limits) -> Arc<Sessions> {
        let db = crate::db::in_memory().await;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let cluster = Cluster::join(db.clone(), shutdown.clone()).await.unwrap();
        let live = Live {
            db,
            watcher: Arc::new(crate::service::watch::Watcher::unconnected(
                shutdown.clone(),
            )),
            default_namespace: "default".into(),
        };
        let sessions = Sessions::new(
            Arc::new(LocalSessionManager::default()),
            Arc::new(Store::default()),
            cluster,
            limits,
            shutdown.clone(),
            Arc::default(),
            live,
        );
        sessions.spawn_listener(shutdown);
        sessions
    }

    fn owner(subject: &str) -> Owner {
        Owner {
            subject: subject.into(),
            credential: "local".into(),
        }
    }

    #[tokio::test]
    async fn sessions_are_capped_per_caller_and_expire_when_idle() {
        let limits = Limits {
            sessions_per_caller: 2,
            idle_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let sessions = sessions(limits).await;
        sessions.opened("a".into(), owner("ann"), None).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        sessions.opened("b".into(), owner("ann"), None).await;
        sessions.opened("c".into(), owner("bob"), None).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        sessions.opened("d".into(), owner("ann"), None).await;
        let ann = rows::beyond(&sessions.db, TRANSPORT, "ann", 0, None)
            .await
            .unwrap();
        assert_eq!(
            ann,
            vec!["b".to_string(), "d".to_string()],
            "the oldest goes"
        );
        // The bus tells this replica too: its worker of "a" goes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sessions.held_count(), 3);
        assert_eq!(sessions.sweep().await, 0);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(sessions.sweep().await, 3);
        assert!(
            rows::beyond(&sessions.db, TRANSPORT, "ann", 0, None)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(sessions.held_count(), 0);
    }

    #[tokio::test]
    async fn the_sweep_drops_expired_questions_and_subscriptions_of_ended_sessions() {
        use crate::db::{confirmations, subscriptions};
        let sessions = sessions(Limits::default()).await;
        sessions.opened("live".into(), owner("ann"), None).await;
        subscriptions::add(&sessions.db, "live", "nomad://nodes")
            .await
            .unwrap();
        subscriptions::add(&sessions.db, "gone", "nomad://nodes")
            .await
            .unwrap();
        let question = |minutes: i64| confirmations::ConfirmationRow {
            id: uuid::Uuid::new_v4(),
            caller: "key:1".into(),
            tool: "stop_job".into(),
            arguments_digest: "0".repeat(64),
            asked: "Stop job web?".into(),
            created_at: now() - chrono::Duration::minutes(20),
            expires_at: now() + chrono::Duration::minutes(minutes),
        };
        let (expired, open) = (question(-10), question(10));
        for row in [expired.clone(), open.clone()] {
            confirmations::ask(&sessions.db, row).await.unwrap();
        }
        sessions.sweep().await;
        let of = |id: &'static str| subscriptions::of(&sessions.db, id);
        assert_eq!(of("live").await.unwrap(), ["nomad://nodes"]);
        assert!(of("gone").await.unwrap().is_empty());
        let take = |id| confirmations::take(&sessions.db, id);
        assert!(take(expired.id).await.unwrap().is_none());
        assert_eq!(take(open.id).await.unwrap(), Some(open));
    }

    #[tokio::test]
    async fn another_caller_is_told_no_and_the_owner_is_restored_from_the_row() {
        let sessions = sessions(Limits::default()).await;
        sessions
            .opened("s1".into(), owner("ann"), Some("2025-06-18"))
            .await;
        assert!(matches!(
            sessions.check("s1", &owner("bob")).await,
            Ok(Known::No)
        ));
        assert!(matches!(
            sessions.check("s1", &owner("ann")).await,
            Ok(Known::Here)
        ));
        // Another replica's view: the row is there, the worker is not.
        sessions.held().clear();
        // Without the handshake parameters a row cannot be replayed: refused, not guessed.
        assert!(matches!(
            sessions.check("s1", &owner("ann")).await,
            Ok(Known::No)
        ));
        assert!(matches!(
            sessions.check("nope", &owner("ann")).await,
            Ok(Known::No)
        ));
    }
}

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
use tokio::sync::Mutex;
use tokio::time::Instant;

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
    held: Mutex<HashMap<String, Entry>>,
    waiting: std::sync::Mutex<Waiting>,
    limits: Limits,
    /// Cancelled when shutdown starts: standalone streams (`GET /mcp`) end then.
    shutdown: tokio_util::sync::CancellationToken,
}

impl Sessions {
    pub fn new(
        manager: Arc<LocalSessionManager>,
        store: Arc<Store>,
        db: DatabaseConnection,
        cluster: Arc<Cluster>,
        limits: Limits,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Arc<Sessions> {
        Arc::new(Sessions {
            manager,
            store,
            db,
            cluster,
            held: Mutex::new(HashMap::new()),
            waiting: std::sync::Mutex::new(HashMap::new()),
            limits,
            shutdown,
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
                self.drop_worker(id).await;
                if let Some(origin) = origin.filter(|o| *o != self.cluster.id) {
                    let note = format!("dropped {id} {}", self.cluster.id);
                    let channel = cluster::channel_of(origin);
                    let _ = self.cluster.bus.publish(&channel, &note).await;
                }
            }
            (Some("dropped"), Some(id), Some(replica)) => self.heard(id, replica),
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

    async fn drop_worker(&self, id: &str) {
        let removed = {
            let mut held = self.held.lock().await;
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
        for id in ids {
            // Here at once; the others when the bus reaches them.
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
            let mut held = self.held.lock().await;
            held.insert(
                id.clone(),
                Entry {
                    owner: owner.clone(),
                    last_seen: Instant::now(),
                    dirty: false,
                },
            );
            open_sessions(held.len());
        }
        if let Err(error) = rows::insert(&self.db, row).await {
            // The session still works on this replica; another one answers 404 and the
            // client starts over, as after any lost session.
            tracing::warn!(session = %id, %error, "storing an MCP session failed; only this replica can serve it");
            return;
        }
        match rows::of_caller(&self.db, TRANSPORT, &owner.subject).await {
            Ok(mine) => {
                let excess = mine.len().saturating_sub(self.limits.sessions_per_caller);
                let evicted: Vec<String> = mine
                    .into_iter()
                    .filter(|old| *old != id)
                    .take(excess)
                    .collect();
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
            let mut held = self.held.lock().await;
            let mut seen = Vec::new();
            for (id, entry) in held.iter_mut() {
                if entry.dirty {
                    entry.dirty = false;
                    seen.push(id.clone());
                }
            }
            let idle_here: Vec<String> = held
                .iter()
                .filter(|(_, e)| e.last_seen.elapsed() > self.limits.idle_timeout)
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

    #[cfg(test)]
    async fn held(&self) -> usize {
        self.held.lock().await.len()
    }
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
    async fn check(&self, id: &str, owner: &Owner) -> Result<Known, Response> {
        {
            let mut held = self.held.lock().await;
            if let Some(entry) = held.get_mut(id) {
                if entry.owner != *owner {
                    return Ok(Known::No);
                }
                entry.last_seen = Instant::now();
                entry.dirty = true;
                return Ok(Known::Here);
            }
        }
        let row = rows::find(&self.db, id).await.map_err(|error| {
            tracing::warn!(session = %id, %error, "reading an MCP session failed");
            guard::refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                -32603,
                "the gateway's session store is unavailable; retry shortly",
            )
        })?;
        let Some(row) = row.filter(|r| r.transport == TRANSPORT && owner.owns(r)) else {
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
        let mut held = self.held.lock().await;
        held.insert(
            id.to_string(),
            Entry {
                owner: owner.clone(),
                last_seen: Instant::now(),
                dirty: true,
            },
        );
        open_sessions(held.len());
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
    let standalone = request.method() == Method::GET;
    let protocol = request
        .headers()
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = &session {
        match sessions.check(id, &owner).await {
            Err(response) => return response,
            Ok(Known::No) => return not_found(),
            Ok(Known::Restored) if deleting => {
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
            Ok(_) => {}
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
    if standalone && response.status().is_success() {
        // The GET stream carries no answers: it ends when shutdown starts, so the drain is
        // not held up by it, while POST answers in flight still finish.
        let (parts, body) = response.into_parts();
        let stream = body
            .into_data_stream()
            .take_until(sessions.shutdown.clone().cancelled_owned());
        return Response::from_parts(parts, axum::body::Body::from_stream(stream));
    }
    response
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
        let db = crate::db::connect(&crate::config::DatabaseSettings::Sqlite {
            path: None,
            url: "sqlite::memory:".into(),
        })
        .await
        .unwrap();
        crate::db::migrate(&db).await.unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let cluster = Cluster::join(db.clone(), shutdown.clone()).await.unwrap();
        let sessions = Sessions::new(
            Arc::new(LocalSessionManager::default()),
            Arc::new(Store::default()),
            db,
            cluster,
            limits,
            shutdown.clone(),
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
        let ann = rows::of_caller(&sessions.db, TRANSPORT, "ann")
            .await
            .unwrap();
        assert_eq!(
            ann,
            vec!["b".to_string(), "d".to_string()],
            "the oldest goes"
        );
        // The bus tells this replica too: its worker of "a" goes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sessions.held().await, 3);
        assert_eq!(sessions.sweep().await, 0);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(sessions.sweep().await, 3);
        assert!(
            rows::of_caller(&sessions.db, TRANSPORT, "ann")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(sessions.held().await, 0);
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
        sessions.held.lock().await.clear();
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

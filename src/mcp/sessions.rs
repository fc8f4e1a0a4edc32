//! Keeps Streamable HTTP sessions bounded: each session belongs to the caller that opened
//! it (another caller gets 404 for it), a caller has at most `per_caller` sessions (opening
//! one more closes that caller's least recently used), and sessions idle for longer than
//! `idle` are closed.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{Limits, guard, principal_of};

const SESSION_HEADER: &str = "mcp-session-id";

struct Entry {
    caller: String,
    last_seen: Instant,
}

pub struct Sessions {
    manager: Arc<LocalSessionManager>,
    owners: Mutex<HashMap<String, Entry>>,
    limits: Limits,
}

impl Sessions {
    pub fn new(manager: Arc<LocalSessionManager>, limits: Limits) -> Sessions {
        Sessions {
            manager,
            owners: Mutex::new(HashMap::new()),
            limits,
        }
    }

    /// Records a new session; closes the caller's least recently used ones beyond the cap.
    async fn register(&self, id: String, caller: String) {
        let evicted = {
            let mut owners = self.owners.lock().await;
            owners.insert(
                id,
                Entry {
                    caller: caller.clone(),
                    last_seen: Instant::now(),
                },
            );
            let mut mine: Vec<(Instant, String)> = owners
                .iter()
                .filter(|(_, e)| e.caller == caller)
                .map(|(id, e)| (e.last_seen, id.clone()))
                .collect();
            mine.sort();
            let excess = mine.len().saturating_sub(self.limits.sessions_per_caller);
            let evicted: Vec<String> = mine.into_iter().take(excess).map(|(_, id)| id).collect();
            for id in &evicted {
                owners.remove(id);
            }
            open_sessions(owners.len());
            evicted
        };
        for id in evicted {
            tracing::info!(session = %id, %caller, "closing the caller's least recently used MCP session: too many open");
            self.close(&id).await;
        }
    }

    async fn close(&self, id: &str) {
        if let Err(error) = self.manager.close_session(&Arc::from(id)).await {
            tracing::debug!(session = %id, %error, "closing an MCP session");
        }
    }

    /// Closes sessions idle for longer than the limit; returns how many.
    pub async fn sweep(&self) -> usize {
        let idle: Vec<String> = {
            let mut owners = self.owners.lock().await;
            let now = Instant::now();
            let idle: Vec<String> = owners
                .iter()
                .filter(|(_, e)| now.duration_since(e.last_seen) > self.limits.idle_timeout)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &idle {
                owners.remove(id);
            }
            open_sessions(owners.len());
            idle
        };
        for id in &idle {
            tracing::info!(session = %id, "closing an idle MCP session");
            self.close(id).await;
        }
        idle.len()
    }

    #[cfg(test)]
    async fn count(&self, caller: &str) -> usize {
        self.owners
            .lock()
            .await
            .values()
            .filter(|e| e.caller == caller)
            .count()
    }
}

/// Middleware on `/mcp`: ownership, activity and the per-caller cap.
pub async fn track(
    State(sessions): State<Arc<Sessions>>,
    mut request: Request,
    next: Next,
) -> Response {
    // The tool runs in the session's task: hand it the request's span as its parent, so a
    // trace goes client request → MCP tool → Nomad call.
    request.extensions_mut().insert(tracing::Span::current());
    let caller = principal_of(request.extensions()).subject;
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let deleting = request.method() == Method::DELETE;
    if let Some(id) = &session {
        let mut owners = sessions.owners.lock().await;
        if let Some(entry) = owners.get_mut(id) {
            if entry.caller != caller {
                return guard::refusal(
                    StatusCode::NOT_FOUND,
                    -32001,
                    "session not found; start a new one with initialize",
                );
            }
            entry.last_seen = Instant::now();
        }
    }
    let response = next.run(request).await;
    match (&session, response.headers().get(SESSION_HEADER)) {
        (None, Some(new)) if response.status().is_success() => {
            if let Ok(new) = new.to_str() {
                sessions.register(new.to_string(), caller).await;
            }
        }
        (Some(id), _) if deleting && response.status().is_success() => {
            let mut owners = sessions.owners.lock().await;
            owners.remove(id);
            open_sessions(owners.len());
        }
        _ => {}
    }
    response
}

/// `gateway_mcp_sessions{transport="streamable_http"}`: the sessions this replica holds.
fn open_sessions(count: usize) {
    metrics::gauge!("gateway_mcp_sessions", "transport" => "streamable_http").set(count as f64);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn sessions_are_capped_per_caller_and_expire_when_idle() {
        let limits = Limits {
            sessions_per_caller: 2,
            idle_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let sessions = Sessions::new(Arc::new(LocalSessionManager::default()), limits);
        sessions.register("a".into(), "ann".into()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        sessions.register("b".into(), "ann".into()).await;
        sessions.register("c".into(), "bob".into()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        sessions.register("d".into(), "ann".into()).await;
        assert_eq!(sessions.count("ann").await, 2);
        assert!(
            !sessions.owners.lock().await.contains_key("a"),
            "the oldest goes"
        );
        assert_eq!(sessions.sweep().await, 0);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(sessions.sweep().await, 3);
        assert_eq!(sessions.count("ann").await, 0);
    }
}

//! The standalone stream of a Streamable HTTP session (`GET /mcp` without `Last-Event-ID`),
//! served by the gateway rather than by the session's rmcp worker. Progress and answers go
//! on the stream of the POST they belong to, so the stream carries the updates of the
//! resources the session subscribed to (`live`) and keep-alive comments; serving it here
//! means an open stream does not pin the session's worker in memory (see `sessions`), and
//! any replica can serve it.
//!
//! The stream ends when the session ends (on any replica), when its row is found gone by
//! the sweep, or when shutdown starts. A `GET` with `Last-Event-ID` (resuming a POST's
//! stream) still goes to rmcp, which holds what it sent.
//!
//! Checks, as rmcp makes them (MCP 2025-06-18, "Listening for Messages from the Server"):
//! `Accept` must name `text/event-stream` (406), a `MCP-Protocol-Version` must be a
//! known revision (400), and the session must be the caller's (404).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::response::sse::Event;
use futures::StreamExt;
use rmcp::model::ProtocolVersion;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::guard;

/// The standalone streams of one session open here.
struct Open {
    /// Ends them.
    token: CancellationToken,
    count: usize,
    /// Moves when the session's subscriptions changed (`live`).
    reload: watch::Sender<u64>,
}

/// Open standalone streams per session.
#[derive(Default)]
pub(super) struct Streams {
    open: Mutex<HashMap<String, Open>>,
}

impl Streams {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers one more stream of session `id`; it ends with `parent` or [`Streams::end`].
    fn listen(self: &Arc<Self>, id: &str, parent: &CancellationToken) -> Listening {
        let (token, reload) = {
            let mut open = self.open();
            let entry = open.entry(id.to_string()).or_insert_with(|| Open {
                token: parent.child_token(),
                count: 0,
                reload: watch::channel(0).0,
            });
            entry.count += 1;
            (entry.token.clone(), entry.reload.subscribe())
        };
        Listening {
            streams: self.clone(),
            id: id.to_string(),
            token,
            reload,
        }
    }

    /// Ends the streams of a session that ended.
    pub fn end(&self, id: &str) {
        let mut open = self.open();
        if let Some(stream) = open.remove(id) {
            stream.token.cancel();
        }
        super::let_go(&mut open);
    }

    /// Tells the streams of session `id` open here that its subscriptions changed.
    pub fn changed(&self, id: &str) {
        if let Some(open) = self.open().get(id) {
            open.reload.send_modify(|generation| *generation += 1);
        }
    }

    /// The sessions with a stream open here.
    pub fn ids(&self) -> Vec<String> {
        self.open().keys().cloned().collect()
    }
}

/// One open stream; dropped with the response body.
struct Listening {
    streams: Arc<Streams>,
    id: String,
    token: CancellationToken,
    reload: watch::Receiver<u64>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let mut open = self.streams.open();
        if let Some(entry) = open.get_mut(&self.id) {
            entry.count -= 1;
            if entry.count == 0 {
                open.remove(&self.id);
                super::let_go(&mut open);
            }
        }
    }
}

/// What a stream needs to carry a session's subscriptions.
pub(super) struct Live {
    pub db: sea_orm::DatabaseConnection,
    pub watcher: Arc<crate::service::watch::Watcher>,
    pub default_namespace: String,
}

/// Whether a `GET /mcp` asks for the standalone stream (not a resumption).
pub(super) fn wanted(headers: &HeaderMap) -> bool {
    !headers.contains_key("last-event-id")
}

/// What is wrong with a `GET /mcp` for a stream, before the session is looked at.
pub(super) fn refused(headers: &HeaderMap) -> Option<Response> {
    let accepts = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("text/event-stream") || essence == "*/*"
        });
    if !accepts {
        return Some(guard::refusal(
            StatusCode::NOT_ACCEPTABLE,
            -32600,
            "GET /mcp opens an event stream: send Accept: text/event-stream",
        ));
    }
    if let Some(version) = headers.get("mcp-protocol-version") {
        let known = version.to_str().is_ok_and(|v| {
            ProtocolVersion::KNOWN_VERSIONS
                .iter()
                .any(|k| k.as_str() == v)
        });
        if !known {
            return Some(guard::refusal(
                StatusCode::BAD_REQUEST,
                -32600,
                &format!(
                    "unsupported MCP-Protocol-Version {:?}",
                    String::from_utf8_lossy(version.as_bytes())
                ),
            ));
        }
    }
    None
}

/// The stream of session `id` (already checked to be the caller's): the updates of the
/// resources it subscribed to (`live`), and keep-alive comments.
pub(super) fn serve(
    streams: &Arc<Streams>,
    id: &str,
    shutdown: &CancellationToken,
    keep_alive: std::time::Duration,
    live: &Live,
) -> Response {
    let listening = streams.listen(id, shutdown);
    let ended = listening.token.clone().cancelled_owned();
    let updates = super::live::session_updates(
        live.db.clone(),
        live.watcher.clone(),
        live.default_namespace.clone(),
        id.to_string(),
        listening.reload.clone(),
        listening.token.clone(),
    );
    let events = updates
        .take_until(ended)
        .map(move |event: Result<Event, Infallible>| {
            let _open = &listening;
            event
        });
    super::event_stream(events, keep_alive)
}

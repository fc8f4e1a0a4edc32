//! Legacy SSE messages that reach a replica other than the stream's holder. The message is
//! checked where it arrives (owner, body limit, JSON-RPC), parked in `mcp_relay`, and the
//! holder is told on its own channel of the bus; the holder takes the row, hands the
//! message to the session and answers on the arriving replica's channel. 202 only once the
//! holder has it; 404 when the session is gone or its holder does not answer within
//! [`WAIT`] (the arriving replica then withdraws the row, so a late holder cannot take it
//! after the client was told no). Nothing is dropped silently.
//!
//! On SQLite (one process) the bus is in-process and the same path runs end to end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::guard;
use super::sessions::Owner;
use super::transport_sse::{SseSessions, TRANSPORT, Undelivered, gone};
use crate::db::cluster::channel_of;
use crate::db::operations::now;
use crate::db::{relay, sessions as rows};
use crate::service::Principal;

/// How long the arriving replica waits for the holder to take a message.
pub const WAIT: Duration = Duration::from_secs(3);

/// How long a replica trusts what it read of another replica's session (its owner and
/// live holder) before reading the row again. A session that ended meanwhile is refused by
/// its holder (404 all the same), and one whose holder died times out.
const REMEMBER: Duration = Duration::from_secs(2);

/// Messages this replica relayed and waits to hear about, by their row id; and the
/// sessions of other replicas it relayed to recently.
#[derive(Default)]
pub struct Relay {
    waiting: std::sync::Mutex<HashMap<uuid::Uuid, oneshot::Sender<bool>>>,
    remembered: std::sync::Mutex<HashMap<String, Remote>>,
}

struct Remote {
    subject: String,
    credential: String,
    holder: String,
    read: std::time::Instant,
}

impl Relay {
    fn recall(&self, id: &str, who: Option<&Principal>) -> Option<String> {
        let remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        let remote = remembered.get(id)?;
        let owner = who.map(Owner::of);
        let owns =
            owner.is_none_or(|o| o.subject == remote.subject && o.credential == remote.credential);
        (owns && remote.read.elapsed() < REMEMBER).then(|| remote.holder.clone())
    }

    fn remember(&self, id: &str, row: &rows::SessionRow, holder: &str) {
        let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if remembered.len() > 10_000 {
            remembered.retain(|_, r| r.read.elapsed() < REMEMBER);
        }
        remembered.insert(
            id.to_string(),
            Remote {
                subject: row.subject.clone(),
                credential: row.credential.clone(),
                holder: holder.to_string(),
                read: std::time::Instant::now(),
            },
        );
    }

    /// Forgets a session (it ended, or its holder did not answer).
    pub fn forget(&self, id: &str) {
        self.remembered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    fn wait_for(&self, id: uuid::Uuid) -> oneshot::Receiver<bool> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        rx
    }

    fn heard(&self, id: uuid::Uuid, taken: bool) {
        if let Some(tx) = self.lock().remove(&id) {
            let _ = tx.send(taken);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<uuid::Uuid, oneshot::Sender<bool>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops parked messages nobody took within a minute (their replica died mid-relay).
    pub async fn sweep(&self, db: &sea_orm::DatabaseConnection) {
        let before = now() - chrono::Duration::minutes(1);
        if let Err(error) = relay::sweep(db, before).await {
            tracing::debug!(%error, "sweeping relayed SSE messages failed");
        }
    }
}

pub(super) fn unavailable() -> Response {
    guard::refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        -32603,
        "the gateway's session store is unavailable; retry shortly",
    )
}

/// The live replica holding session `id` for `who`, or the answer to give instead.
pub(super) async fn holder(
    sse: &SseSessions,
    id: &str,
    who: Option<&Principal>,
) -> Result<String, Response> {
    if let Some(holder) = sse.relay.recall(id, who) {
        return Ok(holder);
    }
    let db = &sse.app.db;
    let row = rows::find(db, id).await.map_err(|error| {
        tracing::warn!(session = %id, %error, "reading an SSE session failed");
        unavailable()
    })?;
    let Some(row) = row.filter(|r| r.transport == TRANSPORT) else {
        return Err(gone());
    };
    if let Some(who) = who {
        let owner = Owner::of(who);
        if owner.subject != row.subject || owner.credential != row.credential {
            return Err(gone());
        }
    }
    let Some(holder) = row.holder.clone() else {
        return Err(gone());
    };
    // This replica's own row for a session it no longer holds: it ended.
    if holder == sse.app.cluster.id {
        let _ = rows::delete(db, id).await;
        return Err(gone());
    }
    match sse.app.cluster.alive(&holder).await {
        Ok(true) => {
            sse.relay.remember(id, &row, &holder);
            Ok(holder)
        }
        Ok(false) => {
            let _ = rows::delete(db, id).await;
            Err(gone())
        }
        Err(error) => {
            tracing::warn!(%error, "checking an SSE session's holder failed");
            Err(unavailable())
        }
    }
}

/// Relays one message to `holder` and waits until it has it.
pub(super) async fn forward(
    sse: &SseSessions,
    id: &str,
    holder: &str,
    bytes: &[u8],
) -> Result<(), Undelivered> {
    super::jsonrpc::message(bytes).map_err(Undelivered::Malformed)?;
    // Valid JSON is UTF-8 (RFC 8259 section 8.1).
    let body = String::from_utf8_lossy(bytes).into_owned();
    let db = &sse.app.db;
    let row = relay::park(db, id, body, traceparent())
        .await
        .map_err(|error| {
            tracing::warn!(session = %id, %error, "parking an SSE message failed");
            Undelivered::Unavailable
        })?;
    let answer = sse.relay.wait_for(row);
    let note = format!("relay {row} {}", sse.app.cluster.id);
    if let Err(error) = sse
        .app
        .cluster
        .bus
        .publish(&channel_of(holder), &note)
        .await
    {
        tracing::warn!(session = %id, %error, "telling an SSE session's holder failed");
        sse.relay.heard(row, false);
        let _ = relay::withdraw(db, row).await;
        return Err(Undelivered::Unavailable);
    }
    match tokio::time::timeout(WAIT, answer).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => {
            sse.relay.forget(id);
            Err(Undelivered::Gone)
        }
        _ => {
            sse.relay.heard(row, false);
            sse.relay.forget(id);
            match relay::withdraw(db, row).await {
                // Still parked: the holder never took it.
                Ok(true) => {
                    tracing::info!(session = %id, %holder, "the SSE session's holder did not answer; the client must reconnect");
                    let _ = rows::delete(db, id).await;
                    Err(Undelivered::Gone)
                }
                // Taken; only the answer was lost.
                Ok(false) => Ok(()),
                Err(_) => Err(Undelivered::Unavailable),
            }
        }
    }
}

/// The current span's trace context, so the holder's work continues the caller's trace.
fn traceparent() -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.remove("traceparent")
}

impl SseSessions {
    /// Listens for relayed messages and their answers (this replica's channel) and for
    /// sessions ended elsewhere (the channel of all replicas).
    pub fn spawn_listeners(self: &Arc<Self>, shutdown: CancellationToken) {
        let sse = self.clone();
        self.app.cluster.on_messages(shutdown, move |message| {
            let sse = sse.clone();
            async move { sse.hear(&message).await }
        });
    }

    async fn hear(self: &Arc<Self>, message: &str) {
        let mut words = message.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("relay"), Some(row), Some(origin)) => {
                if let Ok(row) = row.parse() {
                    let (sse, origin) = (self.clone(), origin.to_string());
                    tokio::spawn(async move { sse.take(row, &origin).await });
                }
            }
            (Some("ack"), Some(row), Some(how)) => {
                if let Ok(row) = row.parse() {
                    self.relay.heard(row, how == "ok");
                }
            }
            (Some("closed"), Some(id), _) => {
                self.relay.forget(id);
                self.close(id).await;
            }
            _ => {}
        }
    }

    /// The holder's side: takes the parked message, hands it over, answers the origin.
    async fn take(&self, row: uuid::Uuid, origin: &str) {
        let db = &self.app.db;
        let parked = match relay::take(db, row).await {
            Ok(Some(parked)) => parked,
            // Withdrawn: the origin already answered its client.
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "taking a relayed SSE message failed");
                return;
            }
        };
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("/messages?sessionId={}", parked.session_id));
        if let Some(traceparent) = &parked.traceparent {
            request = request.header("traceparent", traceparent);
        }
        let Ok(request) = request.body(()) else {
            return;
        };
        let (parts, ()) = request.into_parts();
        let span = tracing::info_span!(
            "mcp.relay",
            otel.kind = "consumer",
            session = %parked.session_id,
        );
        let parent = TraceContextPropagator::new()
            .extract(&opentelemetry_http::HeaderExtractor(&parts.headers));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        let taken = self
            .deliver(&parked.session_id, parked.body.as_bytes(), parts, span)
            .await
            .is_ok();
        let answer = format!("ack {row} {}", if taken { "ok" } else { "gone" });
        if let Err(error) = self
            .app
            .cluster
            .bus
            .publish(&channel_of(origin), &answer)
            .await
        {
            tracing::warn!(%error, "answering a relayed SSE message failed");
        }
    }
}

//! The audit log's write path. A write reserves a place in a bounded queue before it runs
//! (a full queue refuses the write, so nothing runs unaudited), and its answer waits until
//! its event is durable: in the database, or, while the database is away, in the local
//! spool (`spool.rs`). A background writer (`writer.rs`) inserts events in batches,
//! idempotently, and replays the spool when the database answers again.
//!
//! Refused calls have places of their own, so a flood of bad credentials cannot take the
//! places writes need, and the refusal of a write (queue full, database away, budget used
//! up) is still recorded.

mod redact;
mod spool;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::trace::TraceContextExt;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use redact::redact;
pub use spool::SpoolError;
use spool::{Kind, Spool};
use writer::{Queued, Writer};

use crate::config::AuditSpool;
use crate::db::audit::AuditRow;
use crate::service::policy::{Credential, Principal};

/// How long an answer waits for its event to become durable before it goes out anyway
/// (the writer bounds each database attempt well below this; this is a last resort).
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Refused,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// One audited call.
#[derive(Debug, Clone)]
pub struct Entry {
    pub operation: &'static str,
    pub namespace: Option<String>,
    pub job_id: Option<String>,
    /// Arguments with secrets already redacted.
    pub arguments: Value,
    pub outcome: Outcome,
    pub message: Option<String>,
    pub eval_id: Option<String>,
    pub duration: Duration,
}

/// Why a write cannot have a place: it is refused before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error(
        "writes are paused: {0} audit events wait for the database (GATEWAY_AUDIT_QUEUE); retry shortly"
    )]
    QueueFull(usize),
    #[error(
        "writes are paused: the gateway's database is unavailable and this gateway has no audit spool to hold their events (GATEWAY_AUDIT_SPOOL); retry shortly"
    )]
    DatabaseAway,
}

/// State the writer and the request path share; cheap to read from `/readyz`.
pub(crate) struct Shared {
    writes: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
    capacity: usize,
    /// A spool takes events while the database is away.
    durable: AtomicBool,
    database_away: AtomicBool,
    /// Events in the writer's backlog (spool or memory).
    spooled: AtomicUsize,
    /// Unix milliseconds of the oldest event waiting in the backlog; 0 when none.
    oldest_waiting: AtomicI64,
    /// Unix milliseconds of the last successful insert; 0 before the first.
    last_written: AtomicI64,
    spool_path: Option<PathBuf>,
}

impl Shared {
    fn pool(&self, kind: Kind) -> &Arc<Semaphore> {
        match kind {
            Kind::Write => &self.writes,
            Kind::Refusal => &self.refusals,
        }
    }

    /// Events not yet in the database, wherever they wait.
    fn waiting(&self) -> usize {
        2 * self.capacity - self.writes.available_permits() - self.refusals.available_permits()
    }

    fn publish(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let age = |at: i64| {
            if at == 0 {
                0.0
            } else {
                (now - at).max(0) as f64 / 1000.0
            }
        };
        metrics::gauge!("gateway_audit_waiting").set(self.waiting() as f64);
        metrics::gauge!("gateway_audit_spooled").set(self.spooled.load(Ordering::Relaxed) as f64);
        metrics::gauge!("gateway_audit_oldest_waiting_seconds")
            .set(age(self.oldest_waiting.load(Ordering::Relaxed)));
        let last = self.last_written.load(Ordering::Relaxed);
        if last != 0 {
            metrics::gauge!("gateway_audit_seconds_since_last_write").set(age(last));
        }
        metrics::gauge!("gateway_audit_database_away")
            .set(u8::from(self.database_away.load(Ordering::Relaxed)) as f64);
    }
}

/// The audit log as `/readyz` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// `ok`, `waiting` (events wait for the database) or `refusing_writes`.
    pub status: &'static str,
    /// Events not yet in the database.
    pub waiting: usize,
    /// Of those, events in the spool (or, without one, held in memory).
    pub spooled: usize,
    pub oldest_waiting_ms: Option<u64>,
    pub since_last_write_ms: Option<u64>,
    /// The spool file, when there is one.
    pub spool: Option<String>,
}

/// A place in the queue, taken before a write runs.
pub struct Slot {
    permit: tokio::sync::OwnedSemaphorePermit,
    audit: Audit,
}

impl Slot {
    /// Records the write's event and waits until it is durable.
    pub async fn record(self, who: &Principal, entry: Entry) {
        self.audit
            .send(row(who, entry), Kind::Write, self.permit)
            .await;
    }
}

#[derive(Clone)]
pub struct Audit {
    tx: mpsc::UnboundedSender<Queued>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    stopped: Arc<tokio::sync::Notify>,
    finished: Arc<AtomicBool>,
}

fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

fn row(who: &Principal, entry: Entry) -> AuditRow {
    let (key_id, issuer) = match &who.credential {
        Credential::ApiKey { id, .. } => (Some(*id), None),
        Credential::Jwt { issuer } => (None, issuer.clone()),
        Credential::Local => (None, None),
    };
    AuditRow {
        id: uuid::Uuid::now_v7(),
        occurred_at: chrono::Utc::now().fixed_offset(),
        caller_subject: who.subject.clone(),
        caller_key_id: key_id,
        caller_issuer: issuer,
        transport: who.transport.as_str().to_string(),
        operation: entry.operation.to_string(),
        namespace: entry.namespace,
        job_id: entry.job_id,
        arguments: entry.arguments,
        outcome: entry.outcome.as_str().to_string(),
        message: entry.message.map(|m| m.chars().take(2000).collect()),
        nomad_eval_id: entry.eval_id,
        duration_ms: entry.duration.as_millis() as i64,
        trace_id: current_trace_id(),
        client_addr: who.client_addr.clone(),
    }
}

impl Audit {
    /// Opens the spool (replaying what an earlier run left in it) and starts the writer.
    /// `capacity` bounds the events of writes waiting for the database, and separately
    /// those of refused calls.
    pub fn start(
        db: DatabaseConnection,
        capacity: usize,
        spool: &AuditSpool,
        drain: Duration,
    ) -> Result<Audit, SpoolError> {
        let (spool, recovered) = match spool {
            AuditSpool::Off => (None, Vec::new()),
            AuditSpool::Path(folder) => {
                let (spool, lines) = Spool::open(folder)?;
                (Some(spool), lines)
            }
            AuditSpool::Default(folder) => match Spool::open(folder) {
                Ok((spool, lines)) => (Some(spool), lines),
                Err(error @ SpoolError::Locked { .. }) => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, "no audit spool: writes are refused while the database is away (set GATEWAY_AUDIT_SPOOL to a writable folder)");
                    (None, Vec::new())
                }
            },
        };
        let shared = Arc::new(Shared {
            writes: Arc::new(Semaphore::new(capacity)),
            refusals: Arc::new(Semaphore::new(capacity)),
            capacity,
            durable: AtomicBool::new(spool.is_some()),
            database_away: AtomicBool::new(false),
            spooled: AtomicUsize::new(0),
            oldest_waiting: AtomicI64::new(0),
            last_written: AtomicI64::new(0),
            spool_path: spool.as_ref().map(|s| s.path().to_path_buf()),
        });
        // Recovered events take their places now, so the first answers already count them.
        let recovered: Vec<_> = recovered
            .into_iter()
            .map(|line| {
                let place = shared.pool(line.kind).clone().try_acquire_owned().ok();
                (line, place)
            })
            .collect();
        shared.spooled.store(recovered.len(), Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let stopped = Arc::new(tokio::sync::Notify::new());
        let finished = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            db,
            shared: shared.clone(),
            spool,
            rx,
            stop: stop.clone(),
        };
        let (done, flag) = (stopped.clone(), finished.clone());
        tokio::spawn(async move {
            writer.run(recovered, drain).await;
            flag.store(true, Ordering::Release);
            done.notify_waiters();
        });
        Ok(Audit {
            tx,
            shared,
            stop,
            stopped,
            finished,
        })
    }

    /// Takes a place for a write's event, or says why the write cannot run now.
    pub fn reserve(&self) -> Result<Slot, Unavailable> {
        let refused = |why| {
            metrics::counter!("gateway_audit_refused_total").increment(1);
            why
        };
        if self.shared.database_away.load(Ordering::Relaxed)
            && !self.shared.durable.load(Ordering::Relaxed)
        {
            return Err(refused(Unavailable::DatabaseAway));
        }
        let permit = self
            .shared
            .writes
            .clone()
            .try_acquire_owned()
            .map_err(|_| refused(Unavailable::QueueFull(self.shared.waiting())))?;
        Ok(Slot {
            permit,
            audit: self.clone(),
        })
    }

    /// Records an event that is not a write (the sign-in and token events of the built-in
    /// authorization server) and waits until it is durable; it takes a refusal's place.
    pub async fn record_event(&self, who: &Principal, entry: Entry) {
        self.record_refusal(who, entry).await;
    }

    /// Records a refused call and waits until its event is durable. When the refusals'
    /// places are all taken the event is counted as lost rather than blocking the answer.
    pub async fn record_refusal(&self, who: &Principal, entry: Entry) {
        if let Some(permit) = self.refusal_place() {
            self.send(row(who, entry), Kind::Refusal, permit).await;
        }
    }

    /// Records a refused call without waiting (the authentication layer's refusals, which
    /// a client may send in floods).
    pub fn record(&self, who: &Principal, entry: Entry) {
        if let Some(permit) = self.refusal_place() {
            let _ = self.tx.send(Queued {
                row: row(who, entry),
                kind: Kind::Refusal,
                permit: Some(permit),
                ack: None,
            });
        }
    }

    fn refusal_place(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let place = self.shared.refusals.clone().try_acquire_owned().ok();
        if place.is_none() {
            metrics::counter!("gateway_audit_lost_total").increment(1);
            tracing::warn!(
                "audit queue for refused calls is full; a refused call was not recorded"
            );
        }
        place
    }

    async fn send(&self, row: AuditRow, kind: Kind, permit: tokio::sync::OwnedSemaphorePermit) {
        let (ack, durable) = oneshot::channel();
        let id = row.id;
        let queued = Queued {
            row,
            kind,
            permit: Some(permit),
            ack: Some(ack),
        };
        if self.tx.send(queued).is_err() {
            tracing::error!(audit.event_id = %id, "the audit writer has stopped; an event was not recorded");
            return;
        }
        if tokio::time::timeout(ACK_TIMEOUT, durable).await.is_err() {
            tracing::warn!(audit.event_id = %id, "an audit event was not durable within {ACK_TIMEOUT:?}; answering anyway");
        }
    }

    /// The audit log's state, for `/readyz`.
    pub fn status(&self) -> Status {
        let shared = &self.shared;
        let now = chrono::Utc::now().timestamp_millis();
        let ago = |at: i64| (at != 0).then(|| (now - at).max(0) as u64);
        let away = shared.database_away.load(Ordering::Relaxed);
        let waiting = shared.waiting();
        let status = if shared.writes.available_permits() == 0
            || (away && !shared.durable.load(Ordering::Relaxed))
        {
            "refusing_writes"
        } else if waiting > 0 || away {
            "waiting"
        } else {
            "ok"
        };
        Status {
            status,
            waiting,
            spooled: shared.spooled.load(Ordering::Relaxed),
            oldest_waiting_ms: ago(shared.oldest_waiting.load(Ordering::Relaxed)),
            since_last_write_ms: ago(shared.last_written.load(Ordering::Relaxed)),
            spool: shared.spool_path.as_ref().map(|p| p.display().to_string()),
        }
    }

    /// Stops the writer once the server has stopped taking requests: what is queued is
    /// written (or spooled) first. Waits at most `timeout`.
    pub async fn finish(&self, timeout: Duration) {
        let stopped = self.stopped.notified();
        self.stop.cancel();
        if !self.finished.load(Ordering::Acquire) {
            let _ = tokio::time::timeout(timeout, stopped).await;
        }
    }
}

#[cfg(test)]
mod tests;

//! The audit log's write path. Operations reserve a place in a bounded queue before they
//! run (so a write never runs unaudited: a full queue refuses the write), and a
//! background task writes events to the database in batches, off the request path.
//! While the database is unreachable, events wait in the queue and are written when it
//! comes back.

use std::time::{Duration, Instant};

use opentelemetry::trace::TraceContextExt;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::policy::{Credential, Principal};
use crate::db::audit::{self as store, AuditRow};

const BATCH: usize = 200;

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

/// The queue is full: writes are refused until the database catches up.
#[derive(Debug, Clone, Copy)]
pub struct AuditFull;

type Queued = (AuditRow, OwnedSemaphorePermit);

/// A place in the queue, taken before a write runs; it is given back only once the
/// event is in the database, so the bound holds while the database is away.
pub struct Slot {
    permit: OwnedSemaphorePermit,
    tx: mpsc::UnboundedSender<Queued>,
}

impl Slot {
    pub fn record(self, who: &Principal, entry: Entry) {
        // The writer only stops at shutdown, after the server stopped taking requests.
        let _ = self.tx.send((row(who, entry), self.permit));
    }
}

#[derive(Clone)]
pub struct Audit {
    tx: mpsc::UnboundedSender<Queued>,
    places: Arc<Semaphore>,
    capacity: usize,
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
    /// Starts the writer; it drains the queue on shutdown (bounded by `drain`).
    pub fn spawn(
        db: DatabaseConnection,
        capacity: usize,
        shutdown: tokio_util::sync::CancellationToken,
        drain: Duration,
    ) -> Audit {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(db, rx, shutdown, drain));
        Audit {
            tx,
            places: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    fn place(&self) -> Result<OwnedSemaphorePermit, AuditFull> {
        let permit = self
            .places
            .clone()
            .try_acquire_owned()
            .map_err(|_| AuditFull)?;
        metrics::gauge!("gateway_audit_queue_free").set(self.places.available_permits() as f64);
        Ok(permit)
    }

    /// Takes a place for a write's event, or says the queue is full.
    pub fn reserve(&self) -> Result<Slot, AuditFull> {
        let permit = self.place().inspect_err(|_| {
            metrics::counter!("gateway_audit_refused_total").increment(1);
        })?;
        Ok(Slot {
            permit,
            tx: self.tx.clone(),
        })
    }

    /// Records an event that has no write behind it (a refused call). When the queue is
    /// full the event is counted as lost rather than blocking the answer.
    ///
    /// Refusals may use only the first half of the queue: a flood of refused calls (bad
    /// credentials, say) while the database is slow must not fill the places that writes
    /// need, or it would stop every write.
    pub fn record(&self, who: &Principal, entry: Entry) {
        let free = self.places.available_permits();
        let place = if free > self.capacity / 2 {
            self.place()
        } else {
            Err(AuditFull)
        };
        match place {
            Ok(permit) => {
                let _ = self.tx.send((row(who, entry), permit));
            }
            Err(AuditFull) => {
                metrics::counter!("gateway_audit_lost_total").increment(1);
                tracing::warn!("audit queue full; a refused call was not recorded");
            }
        }
    }
}

async fn write_loop(
    db: DatabaseConnection,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    shutdown: tokio_util::sync::CancellationToken,
    drain: Duration,
) {
    let mut batch: Vec<Queued> = Vec::with_capacity(BATCH);
    let mut stopping: Option<Instant> = None;
    loop {
        if batch.is_empty() {
            let next = if stopping.is_some() {
                rx.try_recv().ok()
            } else {
                tokio::select! {
                    queued = rx.recv() => queued,
                    _ = shutdown.cancelled() => {
                        stopping = Some(Instant::now());
                        rx.try_recv().ok()
                    }
                }
            };
            match next {
                Some(queued) => batch.push(queued),
                None => return,
            }
        }
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(queued) => batch.push(queued),
                Err(_) => break,
            }
        }
        let mut pause = Duration::from_millis(100);
        loop {
            let rows: Vec<AuditRow> = batch.iter().map(|(row, _)| row.clone()).collect();
            match store::insert_batch(&db, rows).await {
                Ok(()) => {
                    metrics::counter!("gateway_audit_events_written_total")
                        .increment(batch.len() as u64);
                    // Dropping the permits gives the places back.
                    batch.clear();
                    break;
                }
                Err(error) => {
                    if stopping.is_some_and(|t| t.elapsed() > drain) {
                        tracing::error!(%error, lost = batch.len() + rx.len(), "audit events could not be written before shutdown");
                        return;
                    }
                    tracing::warn!(%error, waiting = batch.len() + rx.len(), "audit events wait for the database");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Arguments as recorded: environment values, tokens and payloads are replaced.
pub fn redact(mut value: Value) -> Value {
    const SECRET_KEYS: [&str; 10] = [
        "definition",
        "env",
        "env_vars",
        "Env",
        "payload",
        "Payload",
        "token",
        "secret",
        "password",
        "variables",
    ];
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    if SECRET_KEYS.contains(&k.as_str()) {
                        *x = match x {
                            Value::Object(m) => Value::Object(
                                m.keys()
                                    .map(|k| (k.clone(), Value::String("<redacted>".into())))
                                    .collect(),
                            ),
                            Value::Null => Value::Null,
                            _ => Value::String("<redacted>".into()),
                        };
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal() -> Entry {
        Entry {
            operation: "authenticate",
            namespace: None,
            job_id: None,
            arguments: serde_json::json!({}),
            outcome: Outcome::Refused,
            message: None,
            eval_id: None,
            duration: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn refusals_leave_half_the_queue_to_writes() {
        // A database without the audit table: every insert fails, so events stay queued.
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let audit = Audit::spawn(
            db,
            4,
            tokio_util::sync::CancellationToken::new(),
            Duration::from_secs(1),
        );
        let who = Principal::anonymous();
        for _ in 0..5 {
            audit.record(&who, refusal());
        }
        assert_eq!(audit.places.available_permits(), 2, "refusals took half");
        let first = audit.reserve().expect("a write still gets a place");
        let second = audit.reserve().expect("and another");
        assert!(audit.reserve().is_err(), "then the queue is full");
        drop((first, second));
    }

    #[test]
    fn secrets_are_redacted_but_keys_kept() {
        let v = super::redact(serde_json::json!({
            "job_id": "web", "env": {"DB_PASSWORD": "hunter2"},
            "job": {"TaskGroups": [{"Tasks": [{"Env": {"K": "v"}}]}]},
            "payload": "c2VjcmV0"
        }));
        let text = v.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("c2VjcmV0") && !text.contains("\"v\""),
            "{text}"
        );
        assert!(
            text.contains("DB_PASSWORD") && text.contains("web"),
            "{text}"
        );
    }
}

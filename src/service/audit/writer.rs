//! The audit writer: one task that moves queued events into the database in batches. While
//! the database is away it appends them to the spool (or, without one, keeps them in
//! memory) and replays them once the database answers again; an event the database
//! refuses is set aside on its own, so it cannot hold the others back.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::spool::{Kind, Line, Spool};
use crate::db::audit::{self as store, AuditRow};

/// Events taken from the queue into one insert.
const BATCH: usize = 200;
/// Events replayed from the backlog in one go.
const REPLAY: usize = 500;
/// Bound on one insert; a database that does not answer within it counts as away. An
/// insert cut short may still commit: the replay skips what is already there.
const INSERT_TIMEOUT: Duration = Duration::from_secs(2);
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Replays are retried this often while the database is away, so the log catches up
/// within about a second of its return.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// While the database stays away, the warning is repeated this often, not per attempt.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// An event on its way to the writer.
pub(super) struct Queued {
    pub row: AuditRow,
    pub kind: Kind,
    /// The event's place in its queue; given back once the event is in the database.
    pub permit: Option<OwnedSemaphorePermit>,
    /// Told once the event is durable (in the database or the spool), or, without a spool,
    /// once it waits in memory.
    pub ack: Option<oneshot::Sender<()>>,
}

/// An event waiting for the database in the backlog (and, with a spool, on disk).
struct Pending {
    line: Line,
    /// Held, never read: dropping it gives the event's place back.
    _permit: Option<OwnedSemaphorePermit>,
}

/// What one store attempt did.
#[derive(Debug, Default)]
struct Stored {
    inserted: u64,
    /// Already in the database (a retry after a lost acknowledgement).
    skipped: u64,
    /// Refused by the database itself, with its reason.
    rejected: Vec<(AuditRow, String)>,
}

/// The database did not answer (or answered only errors while a ping failed too).
#[derive(Debug)]
struct Away(String);

type Replay = JoinHandle<Result<Stored, Away>>;

pub(super) struct Writer {
    pub db: DatabaseConnection,
    pub shared: Arc<Shared>,
    pub spool: Option<Spool>,
    pub rx: mpsc::UnboundedReceiver<Queued>,
    pub stop: CancellationToken,
}

struct State {
    backlog: VecDeque<Pending>,
    /// The replay in flight and how many backlog events it covers.
    replay: Option<(Replay, usize)>,
    retry_at: Option<Instant>,
    pause: Duration,
    away_since: Option<Instant>,
    warned_at: Option<Instant>,
}

impl Writer {
    /// Runs until stopped; `recovered` are the events a previous run left in the spool,
    /// with the places they take.
    pub async fn run(
        mut self,
        recovered: Vec<(Line, Option<OwnedSemaphorePermit>)>,
        drain: Duration,
    ) {
        let mut state = State {
            backlog: recovered
                .into_iter()
                .map(|(line, permit)| Pending {
                    line,
                    _permit: permit,
                })
                .collect(),
            replay: None,
            retry_at: None,
            pause: RETRY_FIRST,
            away_since: None,
            warned_at: None,
        };
        if !state.backlog.is_empty() {
            tracing::info!(
                events = state.backlog.len(),
                "audit events from the spool of an earlier run are replayed into the database"
            );
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            self.start_replay(&mut state);
            let replay_done = wait_replay(state.replay.as_mut().map(|(handle, _)| handle));
            tokio::select! {
                done = replay_done => {
                    let (_, count) = state.replay.take().expect("a replay was in flight");
                    let done = done.unwrap_or_else(|e| Err(Away(format!("replay task failed: {e}"))));
                    self.replayed(&mut state, count, done);
                }
                first = self.rx.recv() => {
                    let Some(first) = first else { break };
                    let batch = self.batch(first);
                    self.take(&mut state, batch).await;
                }
                _ = tick.tick() => self.publish(&state),
                _ = self.stop.cancelled() => break,
            }
            self.publish(&state);
        }
        self.finish(state, drain).await;
    }

    /// The first event and whatever else is already queued, up to a batch.
    fn batch(&mut self, first: Queued) -> Vec<Queued> {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match self.rx.try_recv() {
                Ok(queued) => batch.push(queued),
                Err(_) => break,
            }
        }
        batch
    }

    /// Stores a batch: straight into the database when nothing waits before it, else (or
    /// when the database is away) into the backlog; then the waiting writes are answered.
    async fn take(&mut self, state: &mut State, batch: Vec<Queued>) {
        let direct = state.backlog.is_empty() && state.away_since.is_none();
        if direct {
            let rows: Vec<AuditRow> = batch.iter().map(|q| q.row.clone()).collect();
            match store(&self.db, rows).await {
                Ok(stored) => {
                    self.stored(stored);
                    // Dropping the permits gives the places back; the acks free the answers.
                    for queued in batch {
                        if let Some(ack) = queued.ack {
                            let _ = ack.send(());
                        }
                    }
                    return;
                }
                Err(Away(error)) => self.went_away(state, &error),
            }
        }
        let mut acks = Vec::with_capacity(batch.len());
        let pending: Vec<Pending> = batch
            .into_iter()
            .map(|q| {
                acks.extend(q.ack);
                Pending {
                    line: Line {
                        kind: q.kind,
                        event: q.row,
                    },
                    _permit: q.permit,
                }
            })
            .collect();
        if let Some(spool) = self.spool.as_mut()
            && let Err(error) = spool.append(pending.iter().map(|p| &p.line))
        {
            tracing::error!(%error, "the audit spool cannot be written; audit events now wait in memory and writes are refused while the database is away");
            self.spool = None;
            self.shared.durable.store(false, Ordering::Relaxed);
        }
        state.backlog.extend(pending);
        for ack in acks {
            let _ = ack.send(());
        }
    }

    fn went_away(&self, state: &mut State, error: &str) {
        let now = Instant::now();
        if state.away_since.is_none() {
            state.away_since = Some(now);
            self.shared.database_away.store(true, Ordering::Relaxed);
        }
        if state
            .warned_at
            .is_none_or(|t| now.duration_since(t) >= WARN_EVERY)
        {
            state.warned_at = Some(now);
            let kept = if self.spool.is_some() {
                "in the spool"
            } else {
                "in memory"
            };
            tracing::warn!(
                error,
                waiting = state.backlog.len(),
                "the database does not take audit events; they wait {kept} and are written when it answers"
            );
        }
    }

    fn start_replay(&mut self, state: &mut State) {
        if state.replay.is_some()
            || state.backlog.is_empty()
            || state.retry_at.is_some_and(|t| Instant::now() < t)
        {
            return;
        }
        let rows: Vec<AuditRow> = state
            .backlog
            .iter()
            .take(REPLAY)
            .map(|p| p.line.event.clone())
            .collect();
        let count = rows.len();
        let db = self.db.clone();
        state.replay = Some((tokio::spawn(async move { store(&db, rows).await }), count));
    }

    /// A replay ended: on success its events leave the backlog (and the spool).
    fn replayed(&mut self, state: &mut State, count: usize, done: Result<Stored, Away>) {
        match done {
            Ok(stored) => {
                self.stored(stored);
                state.backlog.drain(..count.min(state.backlog.len()));
                if let Some(spool) = self.spool.as_mut()
                    && let Err(error) = spool.rewrite(state.backlog.iter().map(|p| &p.line))
                {
                    // The events are in the database; a stale spool replays as duplicates,
                    // which the insert skips.
                    tracing::error!(%error, "the audit spool could not be shortened after a replay");
                }
                state.pause = RETRY_FIRST;
                state.retry_at = None;
                if state.backlog.is_empty()
                    && let Some(since) = state.away_since.take()
                {
                    state.warned_at = None;
                    self.shared.database_away.store(false, Ordering::Relaxed);
                    tracing::info!(
                        away_ms = since.elapsed().as_millis() as u64,
                        "the audit log caught up with the database"
                    );
                }
            }
            Err(Away(error)) => {
                self.went_away(state, &error);
                state.retry_at = Some(Instant::now() + state.pause);
                state.pause = (state.pause * 2).min(RETRY_MAX);
            }
        }
    }

    fn stored(&self, stored: Stored) {
        metrics::counter!("gateway_audit_events_written_total").increment(stored.inserted);
        if stored.skipped > 0 {
            metrics::counter!("gateway_audit_events_skipped_total").increment(stored.skipped);
        }
        for (event, reason) in stored.rejected {
            self.reject(event, &reason);
        }
        self.shared.last_written.store(now_ms(), Ordering::Relaxed);
    }

    /// An event the database refuses: logged in full (its arguments are already
    /// redacted), kept next to the spool, counted; the others go on without it.
    fn reject(&self, event: AuditRow, reason: &str) {
        metrics::counter!("gateway_audit_events_rejected_total").increment(1);
        let json = serde_json::to_string(&event).unwrap_or_default();
        tracing::error!(
            audit.event_id = %event.id,
            audit.operation = %event.operation,
            reason,
            event = %json,
            "the database refused an audit event; it is kept in the log and the rejected file, not in the table"
        );
        if let Some(spool) = &self.spool
            && let Err(error) = spool.keep_rejected(&event)
        {
            tracing::error!(%error, audit.event_id = %event.id, "the rejected audit event could not be kept on disk");
        }
    }

    fn publish(&self, state: &State) {
        let oldest = state
            .backlog
            .front()
            .map(|p| p.line.event.occurred_at.timestamp_millis())
            .unwrap_or(0);
        self.shared.oldest_waiting.store(oldest, Ordering::Relaxed);
        self.shared
            .spooled
            .store(state.backlog.len(), Ordering::Relaxed);
        self.shared.publish();
    }

    /// At shutdown: what is queued is stored; what cannot reach the database stays in the
    /// spool for the next run, or, without one, is tried until the drain deadline.
    async fn finish(mut self, mut state: State, drain: Duration) {
        let deadline = Instant::now() + drain;
        while let Ok(first) = self.rx.try_recv() {
            let batch = self.batch(first);
            self.take(&mut state, batch).await;
        }
        if let Some((handle, count)) = state.replay.take() {
            let done = handle
                .await
                .unwrap_or_else(|e| Err(Away(format!("replay task failed: {e}"))));
            self.replayed(&mut state, count, done);
        }
        while !state.backlog.is_empty() && self.spool.is_none() && Instant::now() < deadline {
            state.retry_at = None;
            self.start_replay(&mut state);
            if let Some((handle, count)) = state.replay.take() {
                let done = handle
                    .await
                    .unwrap_or_else(|e| Err(Away(format!("replay task failed: {e}"))));
                let failed = done.is_err();
                self.replayed(&mut state, count, done);
                if failed {
                    tokio::time::sleep(RETRY_FIRST).await;
                }
            }
        }
        self.publish(&state);
        match (&self.spool, state.backlog.len()) {
            (_, 0) => {}
            (Some(spool), waiting) => tracing::warn!(
                waiting,
                spool = %spool.path().display(),
                "audit events wait in the spool; the next start writes them"
            ),
            (None, lost) => tracing::error!(
                lost,
                "audit events could not be written before shutdown and there is no spool"
            ),
        }
    }
}

/// The replay's end, or never when none is in flight.
async fn wait_replay(
    replay: Option<&mut Replay>,
) -> Result<Result<Stored, Away>, tokio::task::JoinError> {
    match replay {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Inserts rows; when the insert fails but the database answers a ping, the rows are
/// split until the ones it refuses are found, so one bad event cannot stop the others.
fn store(
    db: &DatabaseConnection,
    rows: Vec<AuditRow>,
) -> Pin<Box<dyn Future<Output = Result<Stored, Away>> + Send + '_>> {
    Box::pin(async move {
        let count = rows.len() as u64;
        let error = match tokio::time::timeout(INSERT_TIMEOUT, store::insert_batch(db, &rows)).await
        {
            Ok(Ok(inserted)) => {
                return Ok(Stored {
                    inserted,
                    skipped: count - inserted,
                    rejected: Vec::new(),
                });
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => return Err(Away(format!("no answer within {INSERT_TIMEOUT:?}"))),
        };
        let answers = matches!(
            tokio::time::timeout(PING_TIMEOUT, crate::db::ping(db)).await,
            Ok(Ok(()))
        );
        if !answers {
            return Err(Away(error));
        }
        if rows.len() == 1 {
            let row = rows.into_iter().next().expect("one row");
            return Ok(Stored {
                rejected: vec![(row, error)],
                ..Stored::default()
            });
        }
        let mut rows = rows;
        let second = rows.split_off(rows.len() / 2);
        let mut stored = store(db, rows).await?;
        let rest = store(db, second).await?;
        stored.inserted += rest.inserted;
        stored.skipped += rest.skipped;
        stored.rejected.extend(rest.rejected);
        Ok(stored)
    })
}

//! Tracked writes: the operation row a write records (before Nomad is called, so an
//! idempotency key is taken once), the job lock it holds while it runs, and the answer
//! stored for retries. `Service::audited` calls `track_begin` and `track_finish`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use super::results::Tracked;
use super::{Principal, Service, ServiceError};
use crate::db::operations::{self as q, OperationRow};
use crate::operations::locks::JobLock;
use crate::operations::model::{Progress, kind_of};
use crate::operations::{Operations, State};

/// Per-call options of a write, carried by the `Service` value the call runs on
/// (`service.with_write_options(...)`), so every write function takes them alike.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// The same key from the same caller returns the first call's operation and answer.
    pub idempotency_key: Option<String>,
    /// `create_job`/`submit_job`: register only if the job's modify index is still this
    /// (Nomad's `EnforceIndex`; 0 = only if the job does not exist yet).
    pub expected_version: Option<u64>,
}

/// What `track_begin` decided.
pub(crate) enum Begin {
    /// Not a tracked write, or no database: run it plainly.
    Untracked,
    /// A retry: the first call's answer.
    Replay(Value),
    /// A new operation: its row, and the job lock held until the write returns.
    Tracked(Box<Ticket>),
}

pub(crate) struct Ticket {
    row: OperationRow,
    _lock: Option<JobLock>,
}

fn unavailable(error: sea_orm::DbErr) -> ServiceError {
    ServiceError::database(error, "nothing was sent to Nomad; ")
}

/// The job an HCL definition names (`job "web" {`), so its writes are serialized too.
fn hcl_job_id(arguments: &Value) -> Option<String> {
    let text = arguments.get("definition")?.as_str()?;
    let at = text.find("job")?;
    let rest = text[at + 3..].trim_start().strip_prefix('"')?;
    rest.split('"').next().map(str::to_string)
}

/// How long a retry waits for the first call with the same key to be answered.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(30);

impl Service {
    pub(crate) fn tracker(&self) -> Option<&Arc<Operations>> {
        self.operations.as_ref()
    }

    /// Records a tracked write before it runs (or finds the retry's original).
    pub(crate) async fn track_begin(
        &self,
        who: &Principal,
        operation: &'static str,
        namespace: Option<&str>,
        job_id: Option<&str>,
        arguments: &Value,
    ) -> Result<Begin, ServiceError> {
        let (Some(ops), Some(kind)) = (self.tracker(), kind_of(operation)) else {
            return Ok(Begin::Untracked);
        };
        let db = ops.db();
        let digest = hex::encode(Sha256::digest(
            json!({
                "operation": operation,
                "namespace": namespace,
                "job_id": job_id,
                "arguments": arguments,
                "expected_version": self.write.expected_version,
            })
            .to_string()
            .as_bytes(),
        ));
        let job_id = job_id.map(str::to_string).or_else(|| hcl_job_id(arguments));
        let key = self.write.idempotency_key.clone().filter(|k| !k.is_empty());
        if let Some(key) = &key
            && key.len() > 255
        {
            return Err(super::jobs::invalid(
                "idempotency_key",
                "use at most 255 characters",
            ));
        }
        let now = q::now();
        let row = OperationRow {
            id: uuid::Uuid::now_v7(),
            kind: kind.to_string(),
            caller_subject: who.subject.clone(),
            namespace: namespace.map(str::to_string),
            job_id: job_id.clone(),
            node_id: arguments
                .get("node_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            nomad_eval_id: None,
            job_version: None,
            job_modify_index: None,
            deployment_id: None,
            state: State::Pending.as_str().into(),
            progress: Progress::default().to_json(),
            message: Some("sent to Nomad".into()),
            idempotency_key: key.clone(),
            request_sha256: Some(digest.clone()),
            created_at: now,
            updated_at: now,
            finished_at: None,
            // The writer holds it while Nomad answers; a writer that dies leaves it to expire.
            lease_owner: Some(ops.owner.clone()),
            lease_expires_at: Some(now + PENDING_LEASE),
            result: None,
        };
        let started = tokio::time::Instant::now();
        loop {
            match q::insert(db, row.clone()).await {
                Ok(true) => break,
                Ok(false) => {}
                // Without a key, a write goes on while the database is away (as the audit
                // queue lets it); it is just not tracked. With a key it cannot be kept once.
                Err(error) if key.is_none() => {
                    tracing::warn!(%error, operation, "the database is away: this write is not tracked");
                    // The insert may have committed with its answer lost: the row goes, or
                    // it would wait as pending for a write nobody finishes.
                    forget(ops, row.id, "forgetting an untracked write's operation");
                    return Ok(Begin::Untracked);
                }
                Err(error) => return Err(unavailable(error)),
            }
            let key = key.as_deref().unwrap_or_default();
            let Some(first) = q::find_by_key(db, &who.subject, key)
                .await
                .map_err(unavailable)?
            else {
                continue;
            };
            if first.request_sha256.as_deref() != Some(digest.as_str()) {
                return Err(ServiceError::Conflict(format!(
                    "idempotency key '{key}' was already used for a different request (operation {}, a {} of {}); use a new key for a new request",
                    first.id,
                    first.kind,
                    first
                        .job_id
                        .as_deref()
                        .or(first.node_id.as_deref())
                        .unwrap_or("a deployment"),
                )));
            }
            if let Some(result) = first.result {
                return Ok(Begin::Replay(result));
            }
            if started.elapsed() > IN_FLIGHT_WAIT {
                return Err(ServiceError::Conflict(format!(
                    "a request with idempotency key '{key}' is still waiting for Nomad (operation {}); retry shortly",
                    first.id
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let lock = match &job_id {
            Some(job) => {
                let lock_key = format!("{}/{job}", namespace.unwrap_or_default());
                match ops.locks.lock(db, &lock_key).await {
                    Ok(lock) => Some(lock),
                    Err(error) => {
                        forget(
                            ops,
                            row.id,
                            "forgetting an operation whose write did not run",
                        );
                        // As for the insert above: without a key the write goes on untracked.
                        if key.is_none() {
                            tracing::warn!(%error, operation, "the database is away: this write is not tracked");
                            return Ok(Begin::Untracked);
                        }
                        return Err(unavailable(error));
                    }
                }
            }
            None => None,
        };
        Ok(Begin::Tracked(Box::new(Ticket { row, _lock: lock })))
    }

    /// Stores the answer of an accepted write and hands the operation to the watcher, or
    /// forgets the operation when the write failed (a retry may try again).
    pub(crate) async fn track_finish(
        &self,
        ticket: Box<Ticket>,
        tracked: Option<&mut dyn Tracked>,
    ) {
        let Some(ops) = self.tracker() else {
            return;
        };
        let Ticket { mut row, _lock } = *ticket;
        drop(_lock);
        let Some(tracked) = tracked else {
            forget(ops, row.id, "forgetting a failed write");
            return;
        };
        tracked.set_operation_id(row.id.to_string());
        let facts = tracked.facts();
        row.nomad_eval_id = facts.eval_id.clone();
        row.job_id = facts.job_id.clone().or(row.job_id);
        row.namespace = facts.namespace.clone().or(row.namespace);
        row.node_id = facts.node_id.clone().or(row.node_id);
        row.job_modify_index = facts.job_modify_index.map(|i| i as i64);
        row.deployment_id = facts.deployment_id.clone();
        row.state = if facts.eval_id.is_some() {
            State::Evaluating
        } else {
            State::Deploying
        }
        .as_str()
        .into();
        row.message = Some(match &facts.eval_id {
            Some(eval) => format!("Nomad accepted the change; evaluation {eval}"),
            None => "Nomad accepted the change".into(),
        });
        row.progress = Progress {
            groups: Default::default(),
            facts,
        }
        .to_json();
        row.result = Some(tracked.record());
        row.updated_at = q::now();
        row.lease_owner = None;
        row.lease_expires_at = None;
        let id = row.id;
        persist(ops, id, "recording an accepted write", move |db| {
            let row = row.clone();
            async move { q::accept(&db, row).await }
        })
        .await;
    }
}

/// How long a new operation's row stays leased to the process whose write is running.
const PENDING_LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// While the row is leased to this process nobody else touches it, so a change the
/// database missed is retried until shortly before the lease runs out.
const RETRY_FOR: Duration = Duration::from_secs(PENDING_LEASE.num_seconds() as u64 - 60);

/// Applies a change to an operation's row; when the database is away, keeps retrying in
/// the background (the write has happened: its operation must not stay pending), then
/// wakes the watcher.
async fn persist<F, Fut>(ops: &Arc<Operations>, id: uuid::Uuid, what: &'static str, change: F)
where
    F: Fn(sea_orm::DatabaseConnection) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), sea_orm::DbErr>> + Send,
{
    match change(ops.db().clone()).await {
        Ok(()) => ops.wake.notify_one(),
        Err(error) => {
            tracing::warn!(%error, operation_id = %id, "{what} failed; retrying until the database answers");
            retry(ops, id, what, change, Duration::from_millis(250));
        }
    }
}

/// Removes an operation row in the background, retrying while the database is away (the
/// caller is not kept waiting for a database that does not answer).
fn forget(ops: &Arc<Operations>, id: uuid::Uuid, what: &'static str) {
    retry(
        ops,
        id,
        what,
        move |db| async move { q::delete(&db, id).await },
        Duration::ZERO,
    );
}

fn retry<F, Fut>(
    ops: &Arc<Operations>,
    id: uuid::Uuid,
    what: &'static str,
    change: F,
    first: Duration,
) where
    F: Fn(sea_orm::DatabaseConnection) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), sea_orm::DbErr>> + Send,
{
    let ops = ops.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut pause = first;
        loop {
            tokio::time::sleep(pause).await;
            match change(ops.db().clone()).await {
                Ok(()) => {
                    tracing::debug!(operation_id = %id, "{what}: done");
                    ops.wake.notify_one();
                    return;
                }
                Err(error) if started.elapsed() > RETRY_FOR => {
                    tracing::error!(%error, operation_id = %id, "{what} failed for good; the operation ends when its lease runs out");
                    return;
                }
                Err(_) => {
                    pause = (pause * 2).clamp(Duration::from_millis(250), Duration::from_secs(2))
                }
            }
        }
    });
}

//! Writes that wait: one path for REST (`?wait=`) and MCP (`wait`). The write runs as
//! always (policy, budget, audit, its tracked operation); then, when the caller asked,
//! the operation is followed until it is final or the wait is over, and put into the
//! answer. The operation watcher (`operations::watcher`) is the only follower of Nomad:
//! waiting reads the operation's row, so it costs the caller no rate budget and speaks
//! the operation's vocabulary (state, message, groups, deployment).

use std::future::Future;
use std::time::Duration;

use futures::future::BoxFuture;

use super::operations::{MAX_WAIT, changed};
use super::tracking::Tracked;
use super::{Service, ServiceError};
use crate::operations::Operation;

/// How often a waiting write looks at its operation's row.
const POLL: Duration = Duration::from_millis(150);

/// Told of every change of a waited-for operation (MCP sends progress notifications).
pub trait Watch: Send + Sync {
    fn changed<'a>(&'a self, operation: &'a Operation) -> BoxFuture<'a, ()>;
}

/// Nobody to tell (REST answers once, at the end).
pub struct Quiet;

impl Watch for Quiet {
    fn changed<'a>(&'a self, _: &'a Operation) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Why a write was not followed although the caller asked to wait.
pub const UNTRACKED: &str = "not followed: the gateway's database is unavailable, so this write has no tracked operation; read the job (or node, or deployment) to see where it stands";

impl Service {
    /// Runs `write`; with `wait`, follows the operation it started for at most that long
    /// (capped at `MAX_WAIT`), telling `watch` of each change, and puts the operation as it
    /// stands then into the answer.
    pub async fn write_and_wait<T, W>(
        &self,
        wait: Option<Duration>,
        watch: &dyn Watch,
        write: W,
    ) -> Result<T, ServiceError>
    where
        T: Tracked,
        W: Future<Output = Result<T, ServiceError>>,
    {
        let started = tokio::time::Instant::now();
        let mut result = write.await?;
        let Some(wait) = wait.filter(|w| !w.is_zero()) else {
            return Ok(result);
        };
        let Some(id) = result.operation_id() else {
            result.set_not_followed(UNTRACKED.into());
            return Ok(result);
        };
        let deadline = started + wait.min(MAX_WAIT);
        let mut last: Option<Operation> = None;
        loop {
            // A row not readable yet (its write is still being stored, or the database
            // blinked) is looked at again until the wait is over.
            if let Ok(Some(operation)) = self.operation_now(&id).await {
                if last.as_ref().is_none_or(|l| changed(l, &operation)) {
                    watch.changed(&operation).await;
                }
                let finished = operation.finished;
                last = Some(operation);
                if finished {
                    break;
                }
            }
            if tokio::time::Instant::now() + POLL > deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        match last {
            Some(operation) => result.set_operation(operation),
            None => result.set_not_followed(format!(
                "not followed: the gateway's database did not answer while waiting; get_operation {id} shows where it stands"
            )),
        }
        Ok(result)
    }
}

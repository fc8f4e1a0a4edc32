//! Progress for write tools: with `wait`, a write tool waits on its tracked operation
//! (`Service::write_and_wait`, the same path REST's `?wait=` takes) and, when the client
//! asked for them (a `progressToken`), gets a progress notification at each change of the
//! operation.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RoleServer};

use crate::operations::Operation;
use crate::service::wait::Watch;

/// The longest a tool waits, whatever the caller asks.
pub const MAX_WAIT_SECONDS: u64 = 300;

/// Where a client wants progress notifications, if it asked for them.
#[derive(Default)]
pub struct Progress {
    target: Option<(Peer<RoleServer>, ProgressToken)>,
    step: AtomicU32,
}

impl Progress {
    pub fn new(peer: Peer<RoleServer>, token: Option<ProgressToken>) -> Progress {
        Progress {
            target: token.map(|t| (peer, t)),
            step: AtomicU32::new(0),
        }
    }

    /// Sends one notification (a no-op without a progress token).
    pub async fn report(&self, message: &str) {
        let Some((peer, token)) = &self.target else {
            return;
        };
        let step = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        let param = ProgressNotificationParam::new(token.clone(), f64::from(step))
            .with_message(message.to_string());
        if let Err(error) = peer.notify_progress(param).await {
            tracing::debug!(%error, "progress notification not delivered");
        }
    }
}

/// One line per state change of an operation: `state: message`.
pub fn step_text(operation: &Operation) -> String {
    format!(
        "{}: {}",
        operation.state.as_str(),
        operation.message.as_deref().unwrap_or("no news yet")
    )
}

impl Watch for Progress {
    fn changed<'a>(&'a self, operation: &'a Operation) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.report(&step_text(operation)).await })
    }
}

/// The bounded wait: `None` when the caller did not ask to wait.
pub fn wait_for(seconds: Option<u64>) -> Option<Duration> {
    seconds
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s.min(MAX_WAIT_SECONDS)))
}

/// The end of a write tool's text: where its operation stands (with `wait`), or why it
/// was not followed.
pub fn operation_text(operation: &Option<Operation>, not_followed: &Option<String>) -> String {
    match (operation, not_followed) {
        (Some(op), _) if op.finished => format!(" Operation {} ended {}.", op.id, step_text(op)),
        (Some(op), _) => format!(
            " Operation {} is still {} (the wait ended; wait_for_operation follows it further).",
            op.id,
            step_text(op)
        ),
        (None, Some(why)) => format!(" {why}."),
        (None, None) => String::new(),
    }
}

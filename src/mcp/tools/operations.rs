//! Tracked operations: read one, list them, wait for one to finish (with progress
//! notifications), cancel one. Every write tool's answer names its `operation_id`.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::step_text;
use crate::operations::Operation;
use crate::service::Service;
use crate::service::consequences::Change;
use crate::service::operations::{ListOperationsRequest, MAX_WAIT};
use crate::service::policy::Access;
use crate::service::tracking::WriteOptions;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define(
            "get_operation",
            "Get an operation",
            "Show a tracked change (every write answers its `operation_id`): state (pending, \
             evaluating, deploying, succeeded, failed, cancelled, superseded), per-group progress \
             and what happened.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: OperationRef| async move {
                ctx.service
                    .get_operation(&ctx.who, &input.operation_id)
                    .await
            },
        ),
        define_list(
            "list_operations",
            "List operations",
            "List tracked changes, newest first, optionally of one job, caller, state or kind. Use \
             it to see whether earlier changes finished.",
            Access::Read,
            |ctx: Ctx, input: ListOperationsInput| async move {
                let request = ListOperationsRequest {
                    job: input.job,
                    caller: input.caller,
                    state: input.state,
                    kind: input.kind,
                    cursor: input.cursor,
                    limit: input.limit,
                };
                ctx.service.list_operations(&ctx.who, request).await
            },
        ),
        define(
            "wait_for_operation",
            "Wait for an operation to finish",
            "Wait until a tracked change finishes or `timeout` seconds pass (default 60, at most \
             300), with progress notifications; answers its state. Call again while `finished` is \
             false.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: WaitInput| async move {
                let wait = Duration::from_secs(input.timeout.unwrap_or(60)).min(MAX_WAIT);
                let deadline = tokio::time::Instant::now() + wait;
                let mut current = ctx
                    .service
                    .get_operation(&ctx.who, &input.operation_id)
                    .await?;
                ctx.progress.report(&step_text(&current)).await;
                while !current.finished {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    let next = ctx
                        .service
                        .wait_operation(&ctx.who, &input.operation_id, left, false, Some(&current))
                        .await?;
                    if crate::service::operations::changed(&current, &next) {
                        ctx.progress.report(&step_text(&next)).await;
                    }
                    current = next;
                }
                Ok(current)
            },
        ),
        define(
            "cancel_operation",
            "Cancel an operation",
            "Stop what a tracked change set off: its deployment is failed (rolling back with \
             auto-revert), a dispatched job stopped, a drain cancelled. Not for finished \
             operations or ones still evaluating.",
            Kind::Destructive { idempotent: false },
            Access::Write,
            |ctx: Ctx, input: CancelInput| async move {
                ctx.service
                    .cancel_operation(&ctx.who, &input.operation_id, input.reason.as_deref())
                    .await
            },
        )
        .asks(|i: CancelInput| Change::CancelOperation {
            operation_id: i.operation_id,
        }),
    ]
}

impl Ctx {
    /// The service for one write tool call, with the caller's idempotency key and
    /// expected version.
    pub fn writing(
        &self,
        idempotency_key: Option<String>,
        expected_version: Option<u64>,
    ) -> Service {
        self.service.with_write_options(WriteOptions {
            idempotency_key,
            expected_version,
        })
    }

    /// A write tool's one path: the write on `service` (the call's options), then with
    /// `wait` (seconds) its operation followed, a progress notification at each change.
    pub async fn write<T, W>(
        &self,
        service: &Service,
        wait: Option<u64>,
        write: W,
    ) -> Result<T, crate::service::ServiceError>
    where
        T: crate::service::tracking::Tracked,
        W: std::future::Future<Output = Result<T, crate::service::ServiceError>>,
    {
        let wait = crate::mcp::progress::wait_for(wait);
        service.write_and_wait(wait, &self.progress, write).await
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationRef {
    /// The operation's ID (`operation_id` in a write tool's answer).
    pub operation_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    /// The operation's ID.
    pub operation_id: String,
    /// Why, for the operation's message and the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitInput {
    /// The operation's ID.
    pub operation_id: String,
    /// Seconds to wait at most (default 60, at most 300).
    #[serde(default)]
    pub timeout: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListOperationsInput {
    /// Only operations on this job.
    #[serde(default)]
    pub job: Option<String>,
    /// Only operations of this caller (subject).
    #[serde(default)]
    pub caller: Option<String>,
    /// `pending`, `evaluating`, `deploying`, `succeeded`, `failed`, `cancelled` or
    /// `superseded`.
    #[serde(default)]
    pub state: Option<String>,
    /// `create`, `submit`, `stop`, `restart`, `scale`, `dispatch`, `revert`, `promote`,
    /// `fail`, `drain`, `evaluate` (a forced evaluation) or `reschedule` (a stopped
    /// allocation).
    #[serde(default)]
    pub kind: Option<String>,
    /// At most this many (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub cursor: Option<String>,
}

impl Summary for Operation {
    fn summary(&self) -> String {
        let target = self
            .job_id
            .as_deref()
            .or(self.node_id.as_deref())
            .or(self.deployment_id.as_deref())
            .unwrap_or("-");
        format!(
            "operation {} ({} of {target}) is {}: {}",
            self.id,
            self.kind,
            self.state.as_str(),
            self.message.as_deref().unwrap_or("no news yet")
        )
    }
}

impl Line for Operation {
    fn line(&self) -> String {
        self.summary()
    }
}

//! MCP tasks (the `io.modelcontextprotocol/tasks` extension, SEP-2663) backed by tracked
//! operations. A write tool called by a client that declared the extension answers at
//! once with a task whose ID is the write's operation ID; `tasks/get` reads the operation
//! (from the database, so after a restart and on any replica), and once it is over
//! inlines the tool's answer as the write's tool would have given it had it waited:
//! the write's stored answer with the operation in its final state. `tasks/cancel`
//! cancels the operation as `cancel_operation` does, or says why it cannot.
//!
//! Status: an operation still pending, evaluating or deploying is `working`; one that
//! succeeded, failed or was superseded is `completed` (the tool ran; its answer says how
//! the change ended, as with `wait`); one cancelled is `cancelled`. A write that starts
//! no operation (a variable, node metadata), a refused one, and one already over answer
//! as usual, which the extension allows.

use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, CreateTaskResult, DetailedTask, GetTaskResult,
    JsonObject, Task, TaskPayload, TaskStatus,
};
use rmcp::service::{RequestContext, RoleServer};

use super::tools::Summary;
use crate::operations::{Operation, State};
use crate::service::{Principal, Service, ServiceError};

/// How often a client should look again.
const POLL_INTERVAL_MS: u64 = 1000;

/// Whether this request may get a task: a 2026-07-28 request whose `_meta` declares the
/// extension. Sessions of earlier revisions never do, even when their `initialize`
/// declared it: clients stamp the extension there too but expect a plain tool result on
/// those revisions (the Inspector 2.12 CLI does), and SEP-2663 is a 2026-07-28 extension.
pub fn declared(context: &RequestContext<RoleServer>) -> bool {
    let modern = context
        .protocol_version()
        .is_some_and(|v| !v.has_initialize());
    modern
        && context
            .client_capabilities()
            .is_some_and(|caps| caps.supports_tasks())
}

fn status(operation: &Operation) -> TaskStatus {
    match operation.state {
        State::Cancelled => TaskStatus::Cancelled,
        _ if operation.finished => TaskStatus::Completed,
        _ => TaskStatus::Working,
    }
}

/// The task of an operation. It stays readable for as long as finished operations are
/// kept (`GATEWAY_OPERATIONS_RETENTION`), counted from its creation, which is less.
fn task(operation: &Operation, retention: Duration) -> Task {
    let mut task = Task::new(
        operation.id.clone(),
        status(operation),
        operation.created_at.clone(),
        operation.updated_at.clone(),
    )
    .with_ttl_ms(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX))
    .with_poll_interval_ms(POLL_INTERVAL_MS);
    if let Some(message) = &operation.message {
        task = task.with_status_message(message.clone());
    }
    task
}

/// A write tool's answer, as a task when it started an operation still under way.
pub async fn start(
    service: &Service,
    who: &Principal,
    result: CallToolResult,
    retention: Duration,
) -> CallToolResponse {
    let operation_id = result
        .structured_content
        .as_ref()
        .and_then(|s| s.get("operation_id"))
        .and_then(|id| id.as_str())
        .map(str::to_string);
    let Some(id) = operation_id.filter(|_| result.is_error != Some(true)) else {
        return CallToolResponse::from(result);
    };
    match service.get_operation(who, &id).await {
        Ok(operation) if !operation.finished => {
            CallToolResponse::Task(CreateTaskResult::new(task(&operation, retention)))
        }
        // Over already, or not readable: the answer as it is names the operation.
        _ => CallToolResponse::from(result),
    }
}

/// `tasks/get`.
pub async fn get(
    service: &Service,
    who: &Principal,
    task_id: &str,
    retention: Duration,
) -> Result<GetTaskResult, ErrorData> {
    let (operation, answer) = service
        .operation_and_answer(who, task_id)
        .await
        .map_err(|e| refused(task_id, &e))?;
    let payload = match status(&operation) {
        TaskStatus::Completed => TaskPayload::Completed {
            result: final_answer(&operation, answer)?,
        },
        TaskStatus::Cancelled => TaskPayload::Cancelled,
        _ => TaskPayload::Working,
    };
    Ok(GetTaskResult::new(DetailedTask::new(
        task(&operation, retention),
        payload,
    )))
}

/// `tasks/cancel`: the operation cancelled; a task already over is left as it is (the
/// extension makes cancelling one a no-op).
pub async fn cancel(service: &Service, who: &Principal, task_id: &str) -> Result<(), ErrorData> {
    let operation = service
        .get_operation(who, task_id)
        .await
        .map_err(|e| refused(task_id, &e))?;
    if operation.finished {
        return Ok(());
    }
    match service
        .cancel_operation(who, task_id, Some("tasks/cancel"))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(refused(task_id, &e)),
    }
}

/// `tasks/update`: these tasks never ask for input.
pub async fn update(service: &Service, who: &Principal, task_id: &str) -> Result<(), ErrorData> {
    service
        .get_operation(who, task_id)
        .await
        .map_err(|e| refused(task_id, &e))?;
    Err(ErrorData::invalid_params(
        format!("task {task_id} asks for no input; read it with tasks/get"),
        None,
    ))
}

/// The tool's answer once the operation is over: the write's answer with the operation
/// as it ended, and the operation's summary as text.
fn final_answer(
    operation: &Operation,
    answer: Option<serde_json::Value>,
) -> Result<JsonObject, ErrorData> {
    let encode = |e: serde_json::Error| {
        ErrorData::internal_error(format!("cannot encode the result: {e}"), None)
    };
    let state = serde_json::to_value(operation).map_err(encode)?;
    let structured = match answer {
        Some(serde_json::Value::Object(mut answer)) => {
            answer.insert("operation".into(), state);
            serde_json::Value::Object(answer)
        }
        _ => state,
    };
    let mut result = CallToolResult::structured(structured);
    result.content = vec![ContentBlock::text(operation.summary())];
    match serde_json::to_value(result).map_err(encode)? {
        serde_json::Value::Object(object) => Ok(object),
        _ => Err(ErrorData::internal_error(
            "a tool result is an object",
            None,
        )),
    }
}

/// A task that does not exist is an unknown task (-32602, as the extension asks); a caller
/// outside its namespace is refused as `get_operation` refuses them, saying why.
fn refused(task_id: &str, error: &ServiceError) -> ErrorData {
    match error {
        ServiceError::NotFound(_) => ErrorData::invalid_params(
            format!("unknown task {task_id}; a write tool's answer names its task"),
            None,
        ),
        _ => ErrorData::invalid_request(super::tools::error_text(error), None),
    }
}

//! Reading, awaiting and cancelling tracked operations. An operation is visible to the
//! callers allowed in its namespace (node operations: to callers who may read nodes).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Page, PageRequest, Principal, Service, ServiceError};
use crate::db::operations::{self as q, OperationFilter, OperationRow};
use crate::operations::model::KINDS;
use crate::operations::{Operation, State};
use crate::service::policy::{self, Access};

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOperationsRequest {
    /// Only operations on this job.
    #[serde(default)]
    pub job: Option<String>,
    /// Only operations of this caller (subject).
    #[serde(default)]
    pub caller: Option<String>,
    /// `pending`, `evaluating`, `deploying`, `succeeded`, `failed`, `cancelled`, `superseded`.
    #[serde(default)]
    pub state: Option<String>,
    /// `create`, `submit`, `stop`, `restart`, `scale`, `dispatch`, `revert`, `promote`,
    /// `fail`, `drain`, `evaluate` (a forced evaluation), `reschedule` (a stopped allocation).
    #[serde(default)]
    pub kind: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many per page, newest first: 1 to 200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The longest a caller may wait for an operation in one call.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(150);

fn not_found(id: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "operation '{id}' not found (finished operations are removed after the retention time)"
    ))
}

impl Service {
    fn operations_db(&self) -> Result<&sea_orm::DatabaseConnection, ServiceError> {
        self.tracker()
            .map(|o| o.db())
            .ok_or_else(|| ServiceError::NotFound("this gateway does not track operations".into()))
    }

    async fn operation_row(&self, id: &str) -> Result<OperationRow, ServiceError> {
        let db = self.operations_db()?;
        let uuid = uuid::Uuid::parse_str(id).map_err(|_| not_found(id))?;
        let row = q::find(db, uuid)
            .await
            .map_err(|e| ServiceError::database(e, ""))?
            .filter(|r| r.result.is_some())
            .ok_or_else(|| not_found(id))?;
        Ok(row)
    }

    /// An operation as it stands, for a write's own caller (who may see it: the write
    /// was allowed): no policy, no budget. `None` while its row is not stored yet.
    pub(super) async fn operation_now(&self, id: &str) -> Result<Option<Operation>, ServiceError> {
        match self.operation_row(id).await {
            Ok(row) => Ok(Some(Operation::from(&row))),
            Err(ServiceError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The policy for one operation (the caller's scope was checked before): reads in
    /// its namespace, or of nodes.
    fn allow_operation(
        &self,
        who: &Principal,
        row: &OperationRow,
        write: bool,
        name: &'static str,
    ) -> Result<(), ServiceError> {
        let access = match (row.namespace.is_some(), write) {
            (true, false) => Access::Read,
            (true, true) => Access::Write,
            (false, false) => Access::ClusterRead,
            (false, true) => Access::NodesWrite,
        };
        self.permit(who, access, row.namespace.as_deref(), name)
    }

    /// An operation the caller may see.
    async fn visible_operation(
        &self,
        who: &Principal,
        id: &str,
        name: &'static str,
    ) -> Result<OperationRow, ServiceError> {
        let row = self.operation_row(id).await?;
        self.allow_operation(who, &row, false, name)?;
        Ok(row)
    }

    pub async fn get_operation(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<Operation, ServiceError> {
        Ok(self.operation_and_answer(who, id).await?.0)
    }

    /// An operation and the answer of the write that started it (what the write's tool
    /// answered, without the operation's state), for the MCP tasks that follow operations.
    pub async fn operation_and_answer(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<(Operation, Option<serde_json::Value>), ServiceError> {
        self.allow(who, Access::Read, None, "get_operation").await?;
        let row = self.visible_operation(who, id, "get_operation").await?;
        Ok((Operation::from(&row), row.result.clone()))
    }

    pub async fn list_operations(
        &self,
        who: &Principal,
        request: ListOperationsRequest,
    ) -> Result<Page<Operation>, ServiceError> {
        self.allow(who, Access::Read, None, "list_operations")
            .await?;
        let page = PageRequest::new(request.cursor.clone(), request.limit);
        let mut errors = Vec::new();
        if let Some(s) = request
            .state
            .as_deref()
            .filter(|s| State::parse(s).is_none())
        {
            errors.push(super::FieldError {
                field: "state".into(),
                message: format!(
                    "'{s}' is not an operation state; use pending, evaluating, deploying, succeeded, failed, cancelled or superseded"
                ),
            });
        }
        if let Some(k) = request.kind.as_deref().filter(|k| !KINDS.contains(k)) {
            errors.push(super::FieldError {
                field: "kind".into(),
                message: format!(
                    "'{k}' is not an operation kind; use one of {}",
                    KINDS.join(", ")
                ),
            });
        }
        for check in [page.limit().map(|_| ()), page.offset().map(|_| ())] {
            if let Err(ServiceError::Validation(mut invalid)) = check {
                errors.append(&mut invalid);
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let filter = OperationFilter {
            job_id: request.job,
            caller: request.caller,
            state: request.state,
            kind: request.kind,
            offset: page.offset()?,
            // One more than the page: it only says whether there is a next page.
            limit: u64::from(page.limit()?) + 1,
        };
        let rows = q::list(self.operations_db()?, &filter)
            .await
            .map_err(|e| ServiceError::database(e, ""))?;
        let nodes_visible = policy::decide(who, Access::ClusterRead, None, false).is_ok();
        let mut found = page.of_window(rows)?;
        // The cursor counts rows, so a page may hold fewer than `limit` the caller may see.
        found.items.retain(|r| match &r.namespace {
            Some(ns) => who.namespaces.allows(ns),
            None => nodes_visible,
        });
        Ok(found.map(|r| Operation::from(&r)))
    }

    /// Waits up to `wait` until the operation is final or, unless `until_final`, differs
    /// from `seen` (by default: from how it stood at the call); answers it as it stands then.
    pub async fn wait_operation(
        &self,
        who: &Principal,
        id: &str,
        wait: Duration,
        until_final: bool,
        seen: Option<&Operation>,
    ) -> Result<Operation, ServiceError> {
        let first = self.get_operation(who, id).await?;
        let baseline = seen.unwrap_or(&first);
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        let mut current = first.clone();
        loop {
            if current.finished || (!until_final && changed(baseline, &current)) {
                break;
            }
            if tokio::time::Instant::now() + POLL > deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
            current = Operation::from(&self.visible_operation(who, id, "get_operation").await?);
        }
        Ok(current)
    }

    /// Cancels an unfinished operation: fails its active deployment, stops the job a
    /// dispatch created, or cancels a node drain. `reason` joins the final message.
    pub async fn cancel_operation(
        &self,
        who: &Principal,
        id: &str,
        reason: Option<&str>,
    ) -> Result<Operation, ServiceError> {
        // The scope first, so a caller without it learns nothing about the operation.
        if let Err(refusal) = policy::decide(who, Access::Write, None, false)
            && policy::decide(who, Access::NodesWrite, None, false).is_err()
        {
            return Err(ServiceError::Forbidden {
                message: format!("cancel_operation refused: {refusal}"),
                missing_scope: Some(crate::service::policy::Scope::NomadWrite),
            });
        }
        let row = self.visible_operation(who, id, "cancel_operation").await?;
        let by = match reason.map(str::trim).filter(|r| !r.is_empty()) {
            Some(reason) => format!("cancelled by {} ({reason})", who.subject),
            None => format!("cancelled by {}", who.subject),
        };
        let operation = Operation::from(&row);
        let namespace = row.namespace.clone();
        let call = super::guard::WriteCall {
            operation: "cancel_operation",
            access: if namespace.is_some() {
                Access::Write
            } else {
                Access::NodesWrite
            },
            namespace: namespace.clone(),
            job_id: row.job_id.clone(),
            arguments: serde_json::json!({"operation_id": id, "reason": reason}),
        };
        self.audited(who, call, async {
                if operation.finished {
                    return Err(ServiceError::Conflict(format!(
                        "operation {id} is already {}: {}",
                        operation.state.as_str(),
                        operation.message.clone().unwrap_or_default()
                    )));
                }
                let options = crate::nomad::QueryOptions::namespace(namespace.clone().unwrap_or_default());
                let nomad = |e| ServiceError::from_nomad(e, || format!("the target of operation {id} is gone"));
                let message = if let (Some(deployment), false) =
                    (&operation.deployment_id, matches!(operation.kind.as_str(), "promote" | "fail" | "pause" | "resume" | "unblock" | "set-health"))
                {
                    self.nomad.fail_deployment(deployment, &options).await.map_err(nomad)?;
                    format!("{by}: deployment {deployment} was failed on request")
                } else if let Some(child) = &operation.dispatched_job_id {
                    self.nomad.deregister_job(child, false, &options).await.map_err(nomad)?;
                    format!("{by}: the dispatched job {child} was stopped")
                } else if let (Some(node), "drain") = (&operation.node_id, operation.kind.as_str()) {
                    self.nomad
                        .drain_node(node, None, true, "drain cancelled through nomad-gateway")
                        .await
                        .map_err(nomad)?;
                    format!("{by}: the drain of node {node} was cancelled")
                } else {
                    return Err(ServiceError::Conflict(format!(
                        "operation {id} ({}) has no deployment, dispatched job or drain to cancel yet; wait for it to start deploying, or stop the job",
                        operation.state.as_str()
                    )));
                };
                q::finish_open(self.operations_db()?, row.id, State::Cancelled.as_str(), &message)
                    .await
                    .map_err(|e| ServiceError::database(e, ""))?;
                self.get_operation(who, id).await
            },
        )
        .await
    }
}

impl super::guard::Audited for Operation {}

/// Whether an operation moved: state, message, progress or deployment.
pub fn changed(a: &Operation, b: &Operation) -> bool {
    (a.state, &a.message, &a.groups, &a.deployment_id)
        != (b.state, &b.message, &b.groups, &b.deployment_id)
}

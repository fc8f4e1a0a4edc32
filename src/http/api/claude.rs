//! `/api/claude/*`: the routes of the earlier Python Nomad MCP service, with its request
//! and response shapes, on the same service functions as `/api/v1`.
//!
//! Differences, on purpose: the namespace and datacenters default to the gateway's
//! (`NOMAD_NAMESPACE`, every datacenter) instead of that service's site-specific
//! `development` and `jm`; errors are problem documents, whose `detail` field is where
//! that service put its error message too.

use crate::http::Caller;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::{ApiResult, InNamespace, Problems};
use crate::http::ApiError;
use crate::service::control::{RestartMode, RestartResult};
use crate::service::jobs::{JobOverview, ListJobsRequest, WriteResult};
use crate::service::logs::{LogStream, LogsRequest};
use crate::service::spec::{CreateJobSpec, JobType, PortSpec};
use crate::service::{MAX_PAGE, ServiceError};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(claude_list_jobs))
        .routes(routes!(claude_manage_job))
        .routes(routes!(claude_create_job))
        .routes(routes!(claude_job_logs))
}

/// A job in the list.
#[derive(Debug, Serialize, ToSchema)]
struct ClaudeJobSummary {
    id: String,
    name: String,
    #[serde(rename = "type")]
    job_type: String,
    status: String,
    namespace: String,
}

/// List jobs (compatibility)
///
/// The jobs of a namespace with their IDs, names, types and statuses: the first 200
/// (use `GET /api/v1/jobs` to page through more).
#[utoipa::path(
    get,
    path = "/api/claude/list-jobs",
    tag = "claude",
    params(InNamespace),
    responses((status = 200, description = "The namespace's jobs", body = Vec<ClaudeJobSummary>), Problems)
)]
async fn claude_list_jobs(
    Caller(who): Caller,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<Vec<ClaudeJobSummary>> {
    let request = ListJobsRequest {
        namespace: query.namespace,
        limit: Some(MAX_PAGE),
        ..ListJobsRequest::default()
    };
    let page = state.service.list_jobs(&who, request).await?;
    let jobs = page
        .items
        .into_iter()
        .map(|job| ClaudeJobSummary {
            id: job.id,
            name: job.name,
            job_type: job.job_type,
            status: job.status,
            namespace: job.namespace,
        })
        .collect();
    Ok(Json(jobs))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ClaudeAction {
    Status,
    Stop,
    Restart,
}

#[derive(Debug, Deserialize, ToSchema)]
struct ClaudeJobRequest {
    job_id: String,
    action: ClaudeAction,
    #[serde(default)]
    namespace: Option<String>,
    /// With `stop`: forget the job at once.
    #[serde(default)]
    purge: bool,
}

/// What the action returned: the job (status), or what Nomad did (stop, restart, create).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
enum ClaudeDetails {
    Job(Box<JobOverview>),
    Write(WriteResult),
    Restart(RestartResult),
}

/// The answer of `jobs` and `create-job`.
#[derive(Debug, Serialize, ToSchema)]
struct ClaudeJobResponse {
    success: bool,
    job_id: String,
    /// The job's status (`status`), or `stopped`, `restarting`, `starting`.
    status: String,
    message: String,
    details: ClaudeDetails,
}

/// Job status, stop or restart (compatibility)
///
/// `restart` re-deploys the job: Nomad replaces its allocations batch by batch following
/// the job's update strategy (the earlier service stopped and re-registered the job).
#[utoipa::path(
    post,
    path = "/api/claude/jobs",
    tag = "claude",
    request_body = ClaudeJobRequest,
    responses((status = 200, description = "What the action did", body = ClaudeJobResponse), Problems)
)]
async fn claude_manage_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ClaudeJobRequest>,
) -> ApiResult<ClaudeJobResponse> {
    let (job_id, namespace) = (request.job_id, request.namespace.as_deref());
    let service = &state.service;
    let (status, message, details) = match request.action {
        ClaudeAction::Status => {
            let job = service.get_job(&who, &job_id, namespace).await?;
            let message = format!("job '{job_id}' is {}", job.status);
            (
                job.status.clone(),
                message,
                ClaudeDetails::Job(Box::new(job)),
            )
        }
        ClaudeAction::Stop => {
            let result = service
                .stop_job(&who, &job_id, namespace, request.purge)
                .await?;
            let message = format!("job '{job_id}' stopped");
            ("stopped".to_string(), message, ClaudeDetails::Write(result))
        }
        ClaudeAction::Restart => {
            let result = service
                .restart_job(&who, &job_id, namespace, RestartMode::Redeploy)
                .await?;
            let message = format!("job '{job_id}' is being re-deployed");
            let details = ClaudeDetails::Restart(result);
            ("restarting".to_string(), message, details)
        }
    };
    Ok(Json(ClaudeJobResponse {
        success: true,
        job_id,
        status,
        message,
        details,
    }))
}

/// A port as the earlier service took it: Nomad's own field names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
struct ClaudePort {
    #[serde(alias = "label")]
    label: String,
    /// A static host port; `0` or absent for a dynamic one.
    #[serde(default, alias = "value")]
    value: Option<u16>,
    /// The port inside the container.
    #[serde(default, alias = "to")]
    to: Option<u16>,
}

/// The earlier service's simplified job spec (Docker only).
#[derive(Debug, Deserialize, ToSchema)]
struct ClaudeJobSpec {
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    job_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    job_type: JobType,
    #[serde(default)]
    datacenters: Vec<String>,
    #[serde(default)]
    namespace: Option<String>,
    docker_image: String,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    count: Option<u32>,
    /// CPU in MHz.
    #[serde(default)]
    #[schema(minimum = 10, maximum = 256000)]
    cpu: Option<u32>,
    /// Memory in MB.
    #[serde(default)]
    #[schema(minimum = 10, maximum = 1048576)]
    memory: Option<u32>,
    #[serde(default)]
    ports: Vec<ClaudePort>,
    #[serde(default)]
    env_vars: BTreeMap<String, String>,
}

impl From<ClaudeJobSpec> for CreateJobSpec {
    fn from(spec: ClaudeJobSpec) -> Self {
        CreateJobSpec {
            job_id: spec.job_id,
            name: spec.name,
            job_type: spec.job_type,
            datacenters: spec.datacenters,
            namespace: spec.namespace,
            image: Some(spec.docker_image),
            count: spec.count,
            cpu: spec.cpu,
            memory: spec.memory,
            ports: spec
                .ports
                .into_iter()
                .map(|p| PortSpec {
                    label: p.label,
                    to: p.to,
                    static_port: p.value.filter(|v| *v != 0),
                })
                .collect(),
            env: spec.env_vars,
            ..CreateJobSpec::default()
        }
    }
}

/// Names invalid fields as this route's body calls them (`docker_image`, `env_vars`,
/// `ports[0].Value`) rather than as the simplified spec does.
fn in_claude_terms(error: ServiceError) -> ApiError {
    let ServiceError::Validation(mut errors) = error else {
        return error.into();
    };
    for error in &mut errors {
        let field = &error.field;
        error.field = if field == "image" {
            "docker_image".to_string()
        } else if let Some(key) = field.strip_prefix("env.") {
            format!("env_vars.{key}")
        } else if let Some((port, part)) = field.split_once("].") {
            let part = match part {
                "label" => "Label",
                "static" => "Value",
                "to" => "To",
                other => other,
            };
            format!("{port}].{part}")
        } else {
            field.clone()
        };
    }
    ApiError::Validation(errors)
}

/// Create a job (compatibility)
#[utoipa::path(
    post,
    path = "/api/claude/create-job",
    tag = "claude",
    request_body = ClaudeJobSpec,
    responses((status = 200, description = "Registered; Nomad is placing it", body = ClaudeJobResponse), Problems)
)]
async fn claude_create_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<ClaudeJobSpec>,
) -> ApiResult<ClaudeJobResponse> {
    let result = state
        .service
        .create_job(&who, spec.into())
        .await
        .map_err(in_claude_terms)?;
    Ok(Json(ClaudeJobResponse {
        success: true,
        job_id: result.job_id.clone(),
        status: "starting".to_string(),
        message: format!(
            "job '{}' registered in namespace '{}'",
            result.job_id, result.namespace
        ),
        details: ClaudeDetails::Write(result),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ClaudeLogsQuery {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// How many of the last lines of each stream (default 100).
    #[param(minimum = 1, maximum = 5000)]
    lines: Option<usize>,
}

/// The answer of `job-logs`.
#[derive(Debug, Serialize, ToSchema)]
struct ClaudeLogsResponse {
    success: bool,
    job_id: String,
    allocation_id: String,
    task: String,
    /// The last lines of the task's stdout, joined with newlines.
    stdout: String,
    /// The last lines of the task's stderr, joined with newlines.
    stderr: String,
    message: String,
}

/// Job logs (compatibility)
///
/// The last lines of stdout and stderr of the job's newest allocation (its only task).
#[utoipa::path(
    get,
    path = "/api/claude/job-logs/{job_id}",
    tag = "claude",
    params(("job_id" = String, Path, description = "The job's ID"), ClaudeLogsQuery),
    responses((status = 200, description = "The last log lines", body = ClaudeLogsResponse), Problems)
)]
async fn claude_job_logs(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<ClaudeLogsQuery>,
) -> ApiResult<ClaudeLogsResponse> {
    let namespace = query.namespace.as_deref();
    let stdout_request = LogsRequest {
        lines: query.lines,
        ..LogsRequest::default()
    };
    let stdout = state
        .service
        .get_job_logs(&who, &job_id, namespace, stdout_request)
        .await?;
    // The same allocation and task for stderr, even if a newer one appeared meanwhile.
    let stderr_request = LogsRequest {
        alloc_id: Some(stdout.alloc_id.clone()),
        task: Some(stdout.task.clone()),
        stream: LogStream::Stderr,
        lines: query.lines,
        max_bytes: None,
    };
    let stderr = state
        .service
        .get_job_logs(&who, &job_id, namespace, stderr_request)
        .await?;
    Ok(Json(ClaudeLogsResponse {
        success: true,
        message: format!(
            "logs of task '{}' in allocation '{}'",
            stdout.task, stdout.alloc_id
        ),
        job_id,
        allocation_id: stdout.alloc_id,
        task: stdout.task,
        stdout: stdout.lines.join("\n"),
        stderr: stderr.lines.join("\n"),
    }))
}

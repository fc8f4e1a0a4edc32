//! `/api/v1/jobs`: list, create from the simplified spec, submit a full job, plan, read,
//! stop, and diagnose.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::operations::Write;
use super::{ApiResult, InNamespace, Problems};
use crate::http::ApiError;
use crate::http::Caller;
use crate::service::Page;
use crate::service::diagnose::Diagnosis;
use crate::service::jobs::{JobOverview, JobRow, ListJobsRequest, WriteResult};
use crate::service::spec::CreateJobSpec;
use crate::service::submit::{PlanResult, SubmitJobRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs, create_job, submit_job))
        .routes(routes!(plan_job))
        .routes(routes!(get_job, stop_job))
        .routes(routes!(diagnose_job))
}

/// List jobs
///
/// One page of jobs in a namespace (`*` for every namespace), optionally filtered by ID
/// prefix, status and type. Pass `next_cursor` back as `cursor` for the next page.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(ListJobsRequest),
    responses((status = 200, description = "One page of jobs", body = Page<JobRow>), Problems)
)]
async fn list_jobs(
    Caller(who): Caller,
    State(state): State<AppState>,
    QueryParams(request): QueryParams<ListJobsRequest>,
) -> ApiResult<Page<JobRow>> {
    Ok(Json(state.service.list_jobs(&who, request).await?))
}

/// Create a job from the simplified spec
///
/// A Docker image (or an exec/raw_exec command) with count, CPU, memory, ports,
/// environment and an optional HTTP health check, translated into a Nomad job with
/// restart and update defaults. Every invalid field is reported at once.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409"), ("expected_version" = Option<u64>, Query, description = "Register only if the job's job_modify_index is still this (Nomad EnforceIndex; 0: only if the job does not exist); otherwise 409 naming the current version")),
    request_body = CreateJobSpec,
    responses((status = 201, description = "Registered; Nomad is placing it", body = WriteResult), Problems)
)]
async fn create_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    write: Write,
    JsonBody(spec): JsonBody<CreateJobSpec>,
) -> Result<(StatusCode, Json<WriteResult>), ApiError> {
    let result = write
        .run(&state, &who, |service, who| async move {
            service.create_job(&who, spec).await
        })
        .await?;
    Ok((StatusCode::CREATED, Json(result)))
}

/// Submit a full job
///
/// Registers (creates or updates) a job given as Nomad JSON in `job` (bare or wrapped in
/// `{"Job": ...}`), or as JSON or HCL2 text in `definition` (HCL2 is parsed by Nomad, with
/// `variables`). `namespace` overrides the job's own.
#[utoipa::path(
    put,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409"), ("expected_version" = Option<u64>, Query, description = "Register only if the job's job_modify_index is still this (Nomad EnforceIndex; 0: only if the job does not exist); otherwise 409 naming the current version")),
    request_body = SubmitJobRequest,
    responses((status = 200, description = "Registered; Nomad is placing it", body = WriteResult), Problems)
)]
async fn submit_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    write: Write,
    JsonBody(request): JsonBody<SubmitJobRequest>,
) -> ApiResult<WriteResult> {
    let result = write
        .run(&state, &who, |service, who| async move {
            service.submit_job(&who, request).await
        })
        .await?;
    Ok(Json(result))
}

/// Plan a job
///
/// A dry run of a submission: what would change, and in plain sentences why groups
/// could not be placed. Changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/plan",
    tag = "jobs",
    request_body = SubmitJobRequest,
    responses((status = 200, description = "What the submission would do", body = PlanResult), Problems)
)]
async fn plan_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SubmitJobRequest>,
) -> ApiResult<PlanResult> {
    Ok(Json(state.service.plan_job(&who, request).await?))
}

/// Read a job
///
/// Status, version, per-group allocation counts and the latest deployment.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace),
    responses((status = 200, description = "The job", body = JobOverview), Problems)
)]
async fn get_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<JobOverview> {
    let job = state
        .service
        .get_job(&who, &job_id, query.namespace.as_deref())
        .await?;
    Ok(Json(job))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StopQuery {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// Forget the job at once instead of leaving it to garbage collection.
    #[serde(default)]
    purge: bool,
}

/// Stop a job
#[utoipa::path(
    delete,
    path = "/api/v1/jobs/{job_id}",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), StopQuery, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    responses((status = 200, description = "Stopped (and purged when asked)", body = WriteResult), Problems)
)]
async fn stop_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<StopQuery>,
    write: Write,
) -> ApiResult<WriteResult> {
    let result = write
        .run(&state, &who, |service, who| async move {
            service
                .stop_job(&who, &job_id, query.namespace.as_deref(), query.purge)
                .await
        })
        .await?;
    Ok(Json(result))
}

/// Diagnose a job
///
/// Why is this job not healthy? Placement failures in plain sentences, blocked
/// evaluations, failed tasks with their events and last log lines, the deployment's
/// state, and suggested next steps.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/diagnosis",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace),
    responses((status = 200, description = "Findings and next steps", body = Diagnosis), Problems)
)]
async fn diagnose_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<Diagnosis> {
    let diagnosis = state
        .service
        .diagnose_job(&who, &job_id, query.namespace.as_deref())
        .await?;
    Ok(Json(diagnosis))
}

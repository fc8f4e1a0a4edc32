//! `/api/v1/jobs/{job_id}/...` actions: restart, scale, dispatch, evaluate, and the
//! version history with revert.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::operations::Write;
use super::{ApiResult, InNamespace, Problems};
use crate::http::Caller;
use crate::service::control::{
    DispatchRequest, DispatchResult, RestartMode, RestartResult, ScaleRequest,
};
use crate::service::jobs::WriteResult;
use crate::service::timeline::JobTimeline;
use crate::service::versions::{JobVersion, VersionComparison};
use crate::service::{Page, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(restart_job))
        .routes(routes!(scale_job))
        .routes(routes!(dispatch_job))
        .routes(routes!(force_evaluate_job))
        .routes(routes!(list_job_versions))
        .routes(routes!(compare_job_versions))
        .routes(routes!(job_timeline))
        .routes(routes!(revert_job))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
struct RestartBody {
    /// `in_place` (default) restarts the tasks of every running allocation where it runs,
    /// all at once; `redeploy` re-registers the job so Nomad replaces allocations batch by
    /// batch, following the job's update strategy.
    #[serde(default)]
    mode: RestartMode,
}

/// Restart a job
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job_id}/restart",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    request_body = Option<RestartBody>,
    responses((status = 200, description = "Restarted, or the re-deploy started", body = RestartResult), Problems)
)]
async fn restart_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
    JsonBody(body): JsonBody<RestartBody>,
) -> ApiResult<RestartResult> {
    let result = write
        .run(&state, &who, |service, who| async move {
            service
                .restart_job(&who, &job_id, query.namespace.as_deref(), body.mode)
                .await
        })
        .await?;
    Ok(Json(result))
}

/// Scale a task group
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job_id}/scale",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    request_body = ScaleRequest,
    responses((status = 200, description = "Scaled; Nomad is placing or stopping allocations", body = WriteResult), Problems)
)]
async fn scale_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
    JsonBody(request): JsonBody<ScaleRequest>,
) -> ApiResult<WriteResult> {
    let result = write
        .run(&state, &who, |service, who| async move {
            service
                .scale_job(&who, &job_id, query.namespace.as_deref(), request)
                .await
        })
        .await?;
    Ok(Json(result))
}

/// Dispatch a parameterized job
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job_id}/dispatch",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The parameterized job's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    request_body = Option<DispatchRequest>,
    responses((status = 200, description = "The dispatched child job", body = DispatchResult), Problems)
)]
async fn dispatch_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
    JsonBody(request): JsonBody<DispatchRequest>,
) -> ApiResult<DispatchResult> {
    let result = write
        .run(&state, &who, |service, who| async move {
            service
                .dispatch_job(&who, &job_id, query.namespace.as_deref(), request)
                .await
        })
        .await?;
    Ok(Json(result))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
struct EvaluateBody {
    /// Replace failed allocations now instead of after their reschedule delay.
    #[serde(default)]
    force_reschedule: bool,
}

/// Force a new evaluation
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job_id}/evaluate",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    request_body = Option<EvaluateBody>,
    responses((status = 200, description = "The evaluation Nomad created; its operation ends when the job's allocations run again", body = WriteResult), Problems)
)]
async fn force_evaluate_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
    JsonBody(body): JsonBody<EvaluateBody>,
) -> ApiResult<WriteResult> {
    let result = write
        .run(&state, &who, |service, who| async move {
            let namespace = query.namespace.as_deref();
            service
                .force_evaluate_job(&who, &job_id, namespace, body.force_reschedule)
                .await
        })
        .await?;
    Ok(Json(result))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListVersions {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// Also say what each version changed from the one before (Nomad's diffs, in words).
    #[serde(default)]
    changes: bool,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List a job's versions
///
/// Newest first; with `changes=true`, each says what it changed from the version before
/// ("group web: Count 2 → 3", at most 12 lines each).
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/versions",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), ListVersions),
    responses((status = 200, description = "A page of the versions, newest first", body = Page<JobVersion>), Problems)
)]
async fn list_job_versions(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<ListVersions>,
) -> ApiResult<Page<JobVersion>> {
    let page = PageRequest::new(query.cursor, query.limit);
    let versions = state
        .service
        .list_job_versions(
            &who,
            &job_id,
            query.namespace.as_deref(),
            query.changes,
            &page,
        )
        .await?;
    Ok(Json(versions))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TimelineQuery {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// How far back: `30m`, `1h` (default), `2d`; at most `7d`.
    since: Option<String>,
    /// Entries at most: 1 to 500 (default 100); the latest are kept.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// What happened to a job
///
/// Its versions, evaluations, allocations with their task events, and deployments within
/// the window, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/timeline",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), TimelineQuery),
    responses((status = 200, description = "The job's timeline", body = JobTimeline), Problems)
)]
async fn job_timeline(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<TimelineQuery>,
) -> ApiResult<JobTimeline> {
    let timeline = state
        .service
        .job_timeline(
            &who,
            &job_id,
            query.namespace.as_deref(),
            query.since.as_deref(),
            query.limit,
        )
        .await?;
    Ok(Json(timeline))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CompareVersions {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// The version to compare against (required).
    from: Option<u64>,
    /// The version whose changes are told; the current one when left out.
    to: Option<u64>,
}

/// Compare two versions of a job
///
/// What version `to` (the current one by default) changes relative to version `from`, in
/// words, one line each. Needs Nomad 1.9 or later (the versions endpoint's
/// `diff_version`).
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/versions/compare",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), CompareVersions),
    responses((status = 200, description = "The changes between the two versions", body = VersionComparison), Problems)
)]
async fn compare_job_versions(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<CompareVersions>,
) -> ApiResult<VersionComparison> {
    let comparison = state
        .service
        .compare_job_versions(
            &who,
            &job_id,
            query.namespace.as_deref(),
            query.from,
            query.to,
        )
        .await?;
    Ok(Json(comparison))
}

#[derive(Debug, Deserialize, ToSchema)]
struct RevertBody {
    /// The version to go back to (see the versions route).
    version: u64,
}

/// Revert a job to an earlier version
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job_id}/revert",
    tag = "jobs",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    request_body = RevertBody,
    responses((status = 200, description = "Reverted; Nomad is rolling out that version", body = WriteResult), Problems)
)]
async fn revert_job(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
    JsonBody(body): JsonBody<RevertBody>,
) -> ApiResult<WriteResult> {
    let result = write
        .run(&state, &who, |service, who| async move {
            service
                .revert_job(&who, &job_id, query.namespace.as_deref(), body.version)
                .await
        })
        .await?;
    Ok(Json(result))
}

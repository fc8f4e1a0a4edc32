//! Allocations: a job's allocations and task logs, one allocation, restart and stop.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::operations::Write;
use super::{ApiResult, InNamespace, Problems};
use crate::http::ApiError;
use crate::http::Caller;
use crate::service::allocations::{
    AllocationDetail, AllocationRow, AllocationStop, AllocationUsage,
};
use crate::service::log_follow::{FollowQuery, FollowStart};
use crate::service::log_search::{LogSearchRequest, LogSearchResult};
use crate::service::logs::{LogsRequest, LogsResult};
use crate::service::{Page, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_allocations))
        .routes(routes!(get_job_logs))
        .routes(routes!(search_job_logs))
        .routes(routes!(follow_job_logs))
        .routes(routes!(get_allocation))
        .routes(routes!(restart_allocation))
        .routes(routes!(stop_allocation))
        .routes(routes!(signal_allocation))
        .routes(routes!(get_allocation_usage))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AllocationsQuery {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// Include allocations of earlier job versions.
    #[serde(default)]
    all_versions: bool,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List a job's allocations
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/allocations",
    tag = "allocations",
    params(("job_id" = String, Path, description = "The job's ID"), AllocationsQuery),
    responses((status = 200, description = "A page of the job's allocations", body = Page<AllocationRow>), Problems)
)]
async fn list_allocations(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<AllocationsQuery>,
) -> ApiResult<Page<AllocationRow>> {
    let namespace = query.namespace.as_deref();
    let page = PageRequest::new(query.cursor.clone(), query.limit);
    let allocations = state
        .service
        .list_allocations(&who, &job_id, namespace, query.all_versions, &page)
        .await?;
    Ok(Json(allocations))
}

/// Search a job's task logs
///
/// A text (case-insensitive, not a regular expression) over the last `tail_kib` KiB of
/// stdout and stderr of every task of the job's newest allocations, read at once; each
/// match with its allocation, task, line number and `context` lines around it. Bounded by
/// `max_matches`; `note` says what was left out.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/logs/search",
    tag = "allocations",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace, LogSearchRequest),
    responses((status = 200, description = "The matching lines", body = LogSearchResult), Problems)
)]
async fn search_job_logs(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    QueryParams(request): QueryParams<LogSearchRequest>,
) -> ApiResult<LogSearchResult> {
    let result = state
        .service
        .search_job_logs(&who, &job_id, query.namespace.as_deref(), request)
        .await?;
    Ok(Json(result))
}

/// Follow a job's task log
///
/// Like `tail -f` for a bounded time: a `start` event with the log's allocation and task
/// and its last `lines`, then a `lines` event (`{"lines": [...]}`) each time the task
/// writes, then an `end` event saying why it ended (`time_up` after `seconds`,
/// `log_ended` when the task stopped, `byte_budget` after 16 MiB, `interrupted`). Errors
/// (no such job, allocation or task; out-of-range bounds) are problem documents before the
/// stream starts. The stream also ends when the gateway shuts down.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/logs/follow",
    tag = "allocations",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace, LogsRequest, FollowQuery),
    responses(
        (status = 200, description = "`start` (a FollowStart), `lines` and `end` (a FollowSummary) events", content_type = "text/event-stream", body = FollowStart),
        Problems
    )
)]
async fn follow_job_logs(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    QueryParams(request): QueryParams<LogsRequest>,
    QueryParams(follow): QueryParams<FollowQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let follow = state
        .service
        .follow_job_logs(
            &who,
            &job_id,
            query.namespace.as_deref(),
            request,
            follow.seconds,
        )
        .await?;
    let shutdown = state.shutdown.clone();
    let start = json_event("start", &follow.start);
    let rest = futures::stream::unfold(Some(follow), move |follow| {
        let shutdown = shutdown.clone();
        async move {
            let mut follow = follow?;
            let next = tokio::select! {
                _ = shutdown.cancelled() => return None,
                next = follow.next_lines() => next,
            };
            match next {
                Some(lines) => Some((json_event("lines", &LogLines { lines }), Some(follow))),
                None => {
                    let end = json_event("end", &follow.summary());
                    Some((end, None))
                }
            }
        }
    });
    let stream = futures::stream::once(async move { start })
        .chain(rest)
        .map(Ok::<_, Infallible>);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[derive(serde::Serialize)]
struct LogLines {
    lines: Vec<String>,
}

fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(value)
        .unwrap_or_default()
}

/// Read a job's task logs
///
/// The last lines of a task's stdout or stderr, from the job's newest allocation or the
/// one named in `alloc_id`; bounded by `lines` and `max_bytes`.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/logs",
    tag = "allocations",
    params(("job_id" = String, Path, description = "The job's ID"), InNamespace, LogsRequest),
    responses((status = 200, description = "The last lines", body = LogsResult), Problems)
)]
async fn get_job_logs(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    QueryParams(request): QueryParams<LogsRequest>,
) -> ApiResult<LogsResult> {
    let logs = state
        .service
        .get_job_logs(&who, &job_id, query.namespace.as_deref(), request)
        .await?;
    Ok(Json(logs))
}

/// Read an allocation
///
/// Its placement, status, and every task's state with its recent events.
#[utoipa::path(
    get,
    path = "/api/v1/allocations/{alloc_id}",
    tag = "allocations",
    params(("alloc_id" = String, Path, description = "The allocation's ID"), InNamespace),
    responses((status = 200, description = "The allocation", body = AllocationDetail), Problems)
)]
async fn get_allocation(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(alloc_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<AllocationDetail> {
    let allocation = state
        .service
        .get_allocation(&who, &alloc_id, query.namespace.as_deref())
        .await?;
    Ok(Json(allocation))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
struct RestartAllocationBody {
    /// Restart only this task; every task when left out.
    #[serde(default)]
    task: Option<String>,
}

/// Restart an allocation's tasks in place
#[utoipa::path(
    post,
    path = "/api/v1/allocations/{alloc_id}/restart",
    tag = "allocations",
    params(("alloc_id" = String, Path, description = "The allocation's ID"), InNamespace),
    request_body = Option<RestartAllocationBody>,
    responses((status = 204, description = "Restarted"), Problems)
)]
async fn restart_allocation(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(alloc_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    JsonBody(body): JsonBody<RestartAllocationBody>,
) -> Result<StatusCode, ApiError> {
    let namespace = query.namespace.as_deref();
    state
        .service
        .restart_allocation(&who, &alloc_id, namespace, body.task.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignalBody {
    /// The signal's name: `SIGHUP`, `SIGUSR1`, `SIGTERM`...
    signal: String,
    /// Signal only this task; every task when left out.
    #[serde(default)]
    task: Option<String>,
}

/// Send a signal to an allocation's tasks
///
/// To one task, or to all of them; Nomad records a `Signaling` task event. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/allocations/{alloc_id}/signal",
    tag = "allocations",
    params(("alloc_id" = String, Path, description = "The allocation's ID"), InNamespace),
    request_body = SignalBody,
    responses((status = 204, description = "Sent"), Problems)
)]
async fn signal_allocation(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(alloc_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    JsonBody(body): JsonBody<SignalBody>,
) -> Result<StatusCode, ApiError> {
    let namespace = query.namespace.as_deref();
    state
        .service
        .signal_allocation(
            &who,
            &alloc_id,
            namespace,
            &body.signal,
            body.task.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Read an allocation's resource usage
///
/// Per task, the CPU (MHz) and memory (bytes) it uses now against what it reserved, from
/// the allocation's client, with a note when a task is near its memory limit.
#[utoipa::path(
    get,
    path = "/api/v1/allocations/{alloc_id}/usage",
    tag = "allocations",
    params(("alloc_id" = String, Path, description = "The allocation's ID"), InNamespace),
    responses((status = 200, description = "Usage per task", body = AllocationUsage), Problems)
)]
async fn get_allocation_usage(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(alloc_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<AllocationUsage> {
    let usage = state
        .service
        .get_allocation_usage(&who, &alloc_id, query.namespace.as_deref())
        .await?;
    Ok(Json(usage))
}

/// Stop an allocation
///
/// The scheduler places a replacement if the job still wants one. A tracked write: with
/// `?wait=` the answer carries its operation once the job's allocations run again.
#[utoipa::path(
    post,
    path = "/api/v1/allocations/{alloc_id}/stop",
    tag = "allocations",
    params(("alloc_id" = String, Path, description = "The allocation's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    responses((status = 200, description = "Stopped", body = AllocationStop), Problems)
)]
async fn stop_allocation(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(alloc_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
) -> ApiResult<AllocationStop> {
    let result = write
        .run(&state, &who, |service, who| async move {
            service
                .stop_allocation(&who, &alloc_id, query.namespace.as_deref())
                .await
        })
        .await?;
    Ok(Json(result))
}

//! The cluster at a glance, what is wrong across it, its namespaces, and its recent events.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::QueryParams;
use super::{ApiResult, Problems};
use crate::http::Caller;
use crate::service::cluster::{ClusterStatus, EventRow, EventsRequest, NamespaceRow};
use crate::service::problems::ProblemReport;
use crate::service::{Page, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cluster_status))
        .routes(routes!(find_problems))
        .routes(routes!(list_namespaces))
        .routes(routes!(recent_events))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ProblemsQuery {
    /// The Nomad namespace, or `*` for every namespace the caller may read; the gateway's
    /// default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// Findings to return at most: 1 to 100 (default 20); `total` counts them all.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// What is wrong
///
/// Nodes down, draining or ineligible; failed or stuck deployments and canaries awaiting
/// promotion; crash loops, failed or lost allocations; blocked placements; queued or
/// unstarted allocations. Most severe first, one finding per cause, each with the call to
/// make next.
#[utoipa::path(
    get,
    path = "/api/v1/problems",
    tag = "cluster",
    params(ProblemsQuery),
    responses((status = 200, description = "The findings, most severe first", body = ProblemReport), Problems)
)]
async fn find_problems(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(query): QueryParams<ProblemsQuery>,
) -> ApiResult<ProblemReport> {
    let report = state
        .service
        .find_problems(&who, query.namespace.as_deref(), query.limit)
        .await?;
    Ok(Json(report))
}

/// Cluster status
///
/// Leader, servers, nodes by status, allocated against total CPU and memory, jobs by
/// status.
#[utoipa::path(
    get,
    path = "/api/v1/cluster",
    tag = "cluster",
    responses((status = 200, description = "The cluster at a glance", body = ClusterStatus), Problems)
)]
async fn get_cluster_status(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> ApiResult<ClusterStatus> {
    Ok(Json(state.service.get_cluster_status(&who).await?))
}

/// List namespaces
#[utoipa::path(
    get,
    path = "/api/v1/namespaces",
    tag = "cluster",
    params(PageRequest),
    responses((status = 200, description = "A page of the namespaces the caller may see", body = Page<NamespaceRow>), Problems)
)]
async fn list_namespaces(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(page): QueryParams<PageRequest>,
) -> ApiResult<Page<NamespaceRow>> {
    Ok(Json(state.service.list_namespaces(&who, &page).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Comma-separated topics: `Job`, `Allocation`, `Deployment`, `Evaluation`, `Node`
    /// (default: all).
    topics: Option<String>,
    /// The Nomad namespace, or `*` for all; the gateway's default when left out.
    namespace: Option<String>,
    /// Only events about this job.
    job_id: Option<String>,
    /// The `next_cursor` of the previous page: it goes on where that page ended.
    cursor: Option<String>,
    /// How many per page (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// Recent events
///
/// The last events of Nomad's event stream, filtered by topic, namespace and job.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "cluster",
    params(EventsQuery),
    responses((status = 200, description = "A page of the most recent events, newest first", body = Page<EventRow>), Problems)
)]
async fn recent_events(
    Caller(who): Caller,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<EventsQuery>,
) -> ApiResult<Page<EventRow>> {
    let request = EventsRequest {
        topics: query
            .topics
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        namespace: query.namespace,
        job_id: query.job_id,
        cursor: query.cursor,
        limit: query.limit,
    };
    Ok(Json(state.service.recent_events(&who, request).await?))
}

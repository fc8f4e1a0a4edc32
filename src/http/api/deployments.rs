//! Deployments: a job's deployments, one deployment, promote canaries, fail, pause and
//! resume, unblock, allocation health by hand.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::operations::Write;
use super::{ApiResult, InNamespace, ListInNamespace, Problems};
use crate::http::Caller;
use crate::service::Page;
use crate::service::deployments::DeploymentChange;
use crate::service::jobs::DeploymentBrief;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deployments))
        .routes(routes!(get_deployment))
        .routes(routes!(promote_deployment))
        .routes(routes!(fail_deployment))
        .routes(routes!(pause_deployment))
        .routes(routes!(unblock_deployment))
        .routes(routes!(set_allocation_health))
}

/// List a job's deployments
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/deployments",
    tag = "deployments",
    params(("job_id" = String, Path, description = "The job's ID"), ListInNamespace),
    responses((status = 200, description = "A page of the job's deployments, newest first", body = Page<DeploymentBrief>), Problems)
)]
async fn list_deployments(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<ListInNamespace>,
) -> ApiResult<Page<DeploymentBrief>> {
    let deployments = state
        .service
        .list_deployments(&who, &job_id, query.namespace.as_deref(), &query.page())
        .await?;
    Ok(Json(deployments))
}

/// Read a deployment
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{deployment_id}",
    tag = "deployments",
    params(("deployment_id" = String, Path, description = "The deployment's ID"), InNamespace),
    responses((status = 200, description = "The deployment", body = DeploymentBrief), Problems)
)]
async fn get_deployment(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(deployment_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<DeploymentBrief> {
    let deployment = state
        .service
        .get_deployment(&who, &deployment_id, query.namespace.as_deref())
        .await?;
    Ok(Json(deployment))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
struct PromoteBody {
    /// Promote the canaries of these groups only; every group when empty.
    #[serde(default)]
    groups: Vec<String>,
}

/// Promote a deployment's canaries
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{deployment_id}/promote",
    tag = "deployments",
    params(("deployment_id" = String, Path, description = "The deployment's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    request_body = Option<PromoteBody>,
    responses((status = 200, description = "Promoted", body = DeploymentChange), Problems)
)]
async fn promote_deployment(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(deployment_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
    JsonBody(body): JsonBody<PromoteBody>,
) -> ApiResult<DeploymentChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            let namespace = query.namespace.as_deref();
            service
                .promote_deployment(&who, &deployment_id, namespace, &body.groups)
                .await
        })
        .await?;
    Ok(Json(change))
}

/// Mark a deployment failed
///
/// With auto-revert on, Nomad rolls the job back to its last stable version.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{deployment_id}/fail",
    tag = "deployments",
    params(("deployment_id" = String, Path, description = "The deployment's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    responses((status = 200, description = "Failed", body = DeploymentChange), Problems)
)]
async fn fail_deployment(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(deployment_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
) -> ApiResult<DeploymentChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            service
                .fail_deployment(&who, &deployment_id, query.namespace.as_deref())
                .await
        })
        .await?;
    Ok(Json(change))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PauseQuery {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// `true` resumes a paused deployment instead.
    #[serde(default)]
    resume: bool,
}

/// Pause or resume a deployment
///
/// A paused deployment places nothing more until it is resumed; what runs keeps running.
/// `resume=true` resumes it, and with `wait` the answer follows it to its end.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{deployment_id}/pause",
    tag = "deployments",
    params(("deployment_id" = String, Path, description = "The deployment's ID"), PauseQuery, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    responses((status = 200, description = "Paused or resumed", body = DeploymentChange), Problems)
)]
async fn pause_deployment(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(deployment_id): PathParams<String>,
    QueryParams(query): QueryParams<PauseQuery>,
    write: Write,
) -> ApiResult<DeploymentChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            service
                .pause_deployment(
                    &who,
                    &deployment_id,
                    query.namespace.as_deref(),
                    query.resume,
                )
                .await
        })
        .await?;
    Ok(Json(change))
}

/// Unblock a deployment
///
/// Lets a multiregion deployment that waits on its other regions go on; Nomad refuses it
/// for any other deployment.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{deployment_id}/unblock",
    tag = "deployments",
    params(("deployment_id" = String, Path, description = "The deployment's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    responses((status = 200, description = "Unblocked", body = DeploymentChange), Problems)
)]
async fn unblock_deployment(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(deployment_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
) -> ApiResult<DeploymentChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            service
                .unblock_deployment(&who, &deployment_id, query.namespace.as_deref())
                .await
        })
        .await?;
    Ok(Json(change))
}

/// Which allocations of a deployment to mark healthy or unhealthy.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct HealthBody {
    /// Allocation IDs to mark healthy.
    #[serde(default)]
    healthy: Vec<String>,
    /// Allocation IDs to mark unhealthy (this fails the deployment).
    #[serde(default)]
    unhealthy: Vec<String>,
}

/// Set allocation health by hand
///
/// Marks allocations of a running deployment healthy (e.g. when their checks cannot pass
/// yet) or unhealthy, which fails the deployment and, with auto-revert, rolls it back.
#[utoipa::path(
    post,
    path = "/api/v1/deployments/{deployment_id}/allocation-health",
    tag = "deployments",
    params(("deployment_id" = String, Path, description = "The deployment's ID"), InNamespace, super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    request_body = HealthBody,
    responses((status = 200, description = "Set", body = DeploymentChange), Problems)
)]
async fn set_allocation_health(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(deployment_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
    write: Write,
    JsonBody(body): JsonBody<HealthBody>,
) -> ApiResult<DeploymentChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            service
                .set_allocation_health(
                    &who,
                    &deployment_id,
                    query.namespace.as_deref(),
                    &body.healthy,
                    &body.unhealthy,
                )
                .await
        })
        .await?;
    Ok(Json(change))
}

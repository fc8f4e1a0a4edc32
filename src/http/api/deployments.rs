//! Deployments: a job's deployments, one deployment, promote canaries, fail.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
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

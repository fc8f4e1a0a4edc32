//! Evaluations: a job's evaluations and one evaluation, placement failures in words.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{PathParams, QueryParams};
use super::{ApiResult, InNamespace, ListInNamespace, Problems};
use crate::http::Caller;
use crate::service::Page;
use crate::service::evaluations::EvaluationSummary;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_evaluations))
        .routes(routes!(get_evaluation))
}

/// List a job's evaluations
///
/// Newest first, each with why its task groups could not be placed.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/evaluations",
    tag = "evaluations",
    params(("job_id" = String, Path, description = "The job's ID"), ListInNamespace),
    responses((status = 200, description = "A page of the job's evaluations, newest first", body = Page<EvaluationSummary>), Problems)
)]
async fn list_evaluations(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(job_id): PathParams<String>,
    QueryParams(query): QueryParams<ListInNamespace>,
) -> ApiResult<Page<EvaluationSummary>> {
    let evaluations = state
        .service
        .list_evaluations(&who, &job_id, query.namespace.as_deref(), &query.page())
        .await?;
    Ok(Json(evaluations))
}

/// Read an evaluation
#[utoipa::path(
    get,
    path = "/api/v1/evaluations/{eval_id}",
    tag = "evaluations",
    params(("eval_id" = String, Path, description = "The evaluation's ID"), InNamespace),
    responses((status = 200, description = "The evaluation", body = EvaluationSummary), Problems)
)]
async fn get_evaluation(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(eval_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<EvaluationSummary> {
    let evaluation = state
        .service
        .get_evaluation(&who, &eval_id, query.namespace.as_deref())
        .await?;
    Ok(Json(evaluation))
}

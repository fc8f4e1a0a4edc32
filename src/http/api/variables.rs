//! Nomad Variables: list, read (values only with `values=true` and `variables:read`),
//! create or update with check-and-set, delete.
//!
//! A variable's path holds slashes (`nomad/jobs/web`), so the routes take the rest of the
//! URL as the path (`/api/v1/variables/{*path}`); the OpenAPI document names it `{path}`.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::operations::Write;
use super::{ApiResult, Problems};
use crate::http::Caller;
use crate::service::variables::{VariableChange, VariableDetail, VariablePut, VariableRow};
use crate::service::{Page, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    // The documented paths come from the handlers; the route that serves them is the
    // catch-all, which `{path}` (one segment) would not be.
    let (_, documented) = OpenApiRouter::<AppState>::new()
        .routes(routes!(get_variable, put_variable, delete_variable))
        .split_for_parts();
    OpenApiRouter::with_openapi(documented)
        .routes(routes!(list_variables))
        .route(
            "/api/v1/variables/{*path}",
            get(get_variable).put(put_variable).delete(delete_variable),
        )
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListVariables {
    /// The Nomad namespace, or `*` for all the caller may read; the gateway's default
    /// (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// Only paths that start with this.
    prefix: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List variables
///
/// The variables of a namespace whose path starts with `prefix`: path, indexes and times,
/// without keys or values.
#[utoipa::path(
    get,
    path = "/api/v1/variables",
    tag = "variables",
    params(ListVariables),
    responses((status = 200, description = "A page of variables, by namespace and path", body = Page<VariableRow>), Problems)
)]
async fn list_variables(
    Caller(who): Caller,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListVariables>,
) -> ApiResult<Page<VariableRow>> {
    let page = PageRequest::new(query.cursor, query.limit);
    let variables = state
        .service
        .list_variables(
            &who,
            query.namespace.as_deref(),
            query.prefix.as_deref(),
            &page,
        )
        .await?;
    Ok(Json(variables))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReadVariable {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// Also return the values (needs the `variables:read` scope).
    #[serde(default)]
    values: bool,
}

/// Read a variable
///
/// Its item keys, modify index (the `cas` of an update) and times; the values too with
/// `values=true` and the `variables:read` scope.
#[utoipa::path(
    get,
    path = "/api/v1/variables/{path}",
    tag = "variables",
    params(("path" = String, Path, description = "The variable's path; it may hold slashes (`nomad/jobs/web`)"), ReadVariable),
    responses((status = 200, description = "The variable", body = VariableDetail), Problems)
)]
async fn get_variable(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(path): PathParams<String>,
    QueryParams(query): QueryParams<ReadVariable>,
) -> ApiResult<VariableDetail> {
    let variable = state
        .service
        .get_variable(&who, &path, query.namespace.as_deref(), query.values)
        .await?;
    Ok(Json(variable))
}

/// Create or update a variable
///
/// Replaces all of the variable's items (every value a string, 64 KiB in all). With `cas`,
/// only if its modify index is that (0: only if it does not exist yet); a mismatch is a
/// 409 naming the current index. Needs `variables:write`; values are never logged or
/// audited. Takes an `Idempotency-Key` header.
#[utoipa::path(
    put,
    path = "/api/v1/variables/{path}",
    tag = "variables",
    params(("path" = String, Path, description = "The variable's path: letters, digits, `-`, `_`, `~` and `/`, at most 128 characters")),
    request_body = VariablePut,
    responses((status = 200, description = "Written", body = VariableChange), Problems)
)]
async fn put_variable(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(path): PathParams<String>,
    write: Write,
    JsonBody(request): JsonBody<VariablePut>,
) -> ApiResult<VariableChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            service.put_variable(&who, &path, request).await
        })
        .await?;
    Ok(Json(change))
}

/// Unknown parameters are refused: a mistyped `cas` must not turn into a delete of
/// whatever is there.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeleteVariable {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// Delete only if the variable's modify index is this.
    cas: Option<u64>,
    /// Taken by every write route; a delete is complete when Nomad answers.
    #[param(ignore)]
    #[serde(rename = "wait")]
    _wait: Option<String>,
}

/// Delete a variable
///
/// Deleting one that does not exist succeeds. With `cas`, only if its modify index is
/// that; a mismatch is a 409 naming the current index. Needs `variables:write`.
#[utoipa::path(
    delete,
    path = "/api/v1/variables/{path}",
    tag = "variables",
    params(("path" = String, Path, description = "The variable's path"), DeleteVariable),
    responses((status = 200, description = "Deleted", body = VariableChange), Problems)
)]
async fn delete_variable(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(path): PathParams<String>,
    QueryParams(query): QueryParams<DeleteVariable>,
    write: Write,
) -> ApiResult<VariableChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            service
                .delete_variable(&who, &path, query.namespace.as_deref(), query.cas)
                .await
        })
        .await?;
    Ok(Json(change))
}

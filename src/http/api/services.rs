//! Nomad-native services: the services of a namespace, one service's instances with the
//! health of their checks, and an allocation's check results.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{PathParams, QueryParams};
use super::{ApiResult, InNamespace, ListInNamespace, Problems};
use crate::http::Caller;
use crate::service::Page;
use crate::service::services::{AllocationChecks, ServiceDetail, ServiceRow};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services))
        .routes(routes!(get_service))
        .routes(routes!(get_allocation_checks))
}

/// List the services of a namespace
///
/// Nomad-native services (`provider = "nomad"`) registered by running allocations: each
/// name with the tags of its instances. `namespace=*` lists every namespace the caller may
/// read.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "services",
    params(ListInNamespace),
    responses((status = 200, description = "A page of services, by namespace and name", body = Page<ServiceRow>), Problems)
)]
async fn list_services(
    Caller(who): Caller,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListInNamespace>,
) -> ApiResult<Page<ServiceRow>> {
    let services = state
        .service
        .list_services(&who, query.namespace.as_deref(), &query.page())
        .await?;
    Ok(Json(services))
}

/// Read a service
///
/// Where its instances run (address, port, allocation, node, job, datacenter) and how
/// their checks stand; the checks of the first 20 allocations are read. A name no running
/// allocation registers is a 404.
#[utoipa::path(
    get,
    path = "/api/v1/services/{service_name}",
    tag = "services",
    params(("service_name" = String, Path, description = "The service's name"), InNamespace),
    responses((status = 200, description = "The service's instances and their health", body = ServiceDetail), Problems)
)]
async fn get_service(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<ServiceDetail> {
    let service = state
        .service
        .get_service(&who, &name, query.namespace.as_deref())
        .await?;
    Ok(Json(service))
}

/// Read an allocation's checks
///
/// The latest result of each Nomad service check in the allocation: status, mode, output
/// (at most 1024 bytes) and when it ran. Empty while the allocation has not started and
/// once it has stopped.
#[utoipa::path(
    get,
    path = "/api/v1/allocations/{alloc_id}/checks",
    tag = "services",
    params(("alloc_id" = String, Path, description = "The allocation's ID"), InNamespace),
    responses((status = 200, description = "The allocation's check results", body = AllocationChecks), Problems)
)]
async fn get_allocation_checks(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(alloc_id): PathParams<String>,
    QueryParams(query): QueryParams<InNamespace>,
) -> ApiResult<AllocationChecks> {
    let checks = state
        .service
        .get_allocation_checks(&who, &alloc_id, query.namespace.as_deref())
        .await?;
    Ok(Json(checks))
}

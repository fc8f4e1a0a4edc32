//! Lookups across the cluster: prefix search, the gateway's own Nomad token, volumes and
//! scaling policies.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{PathParams, QueryParams};
use super::{ApiResult, Problems};
use crate::http::Caller;
use crate::service::lookup::{
    NomadIdentity, ScalingPolicyRow, SearchResult, VolumeDetail, VolumeRow,
};
use crate::service::{Page, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_ids))
        .routes(routes!(get_nomad_identity))
        .routes(routes!(list_volumes))
        .routes(routes!(get_volume))
        .routes(routes!(list_scaling_policies))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// The first characters of an ID (required).
    prefix: Option<String>,
    /// Nomad's context: `jobs`, `allocs`, `nodes`, `evals`, `deployment`, `namespaces`,
    /// `node_pools`, `volumes`, `host_volumes`, `scaling_policy`, `variables`, `plugins`,
    /// or `all` (default).
    context: Option<String>,
    /// The Nomad namespace, or `*` for every namespace the caller may read; the gateway's
    /// default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
}

/// Find objects by ID prefix
///
/// The jobs, allocations, nodes, evaluations, deployments (and other objects) whose ID
/// starts with `prefix`, at most 20 per kind (`truncated` says there were more), each kind
/// with the call that opens one.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "cluster",
    params(SearchQuery),
    responses((status = 200, description = "The matches per context", body = SearchResult), Problems)
)]
async fn search_ids(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(query): QueryParams<SearchQuery>,
) -> ApiResult<SearchResult> {
    let result = state
        .service
        .search_ids(
            &who,
            query.prefix.as_deref().unwrap_or_default(),
            query.context.as_deref(),
            query.namespace.as_deref(),
        )
        .await?;
    Ok(Json(result))
}

/// The gateway's Nomad token
///
/// Who the gateway is to Nomad: its token's name, type, policies, roles and expiry (never
/// the secret), or that Nomad enforces no ACLs; the first place to look when Nomad refuses
/// the gateway something.
#[utoipa::path(
    get,
    path = "/api/v1/cluster/identity",
    tag = "cluster",
    responses((status = 200, description = "The gateway's Nomad token", body = NomadIdentity), Problems)
)]
async fn get_nomad_identity(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> ApiResult<NomadIdentity> {
    Ok(Json(state.service.nomad_identity(&who).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct VolumesQuery {
    /// `csi` or `host`; both when left out.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// The Nomad namespace, or `*` for every namespace the caller may read; the gateway's
    /// default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List volumes
///
/// CSI volumes and dynamic host volumes: plugin, status (schedulable, or a host volume's
/// state), access mode and claims of a CSI volume, node and capacity of a host volume.
#[utoipa::path(
    get,
    path = "/api/v1/volumes",
    tag = "volumes",
    params(VolumesQuery),
    responses((status = 200, description = "A page of volumes, by namespace, type and name", body = Page<VolumeRow>), Problems)
)]
async fn list_volumes(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(query): QueryParams<VolumesQuery>,
) -> ApiResult<Page<VolumeRow>> {
    let page = PageRequest::new(query.cursor.clone(), query.limit);
    let volumes = state
        .service
        .list_volumes(
            &who,
            query.kind.as_deref(),
            query.namespace.as_deref(),
            &page,
        )
        .await?;
    Ok(Json(volumes))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct VolumeQuery {
    /// `csi` or `host`; both are tried when left out.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
}

/// Read a volume
///
/// A CSI or dynamic host volume: its status, the capabilities it was asked for, plugin
/// health or host path, and the allocations that claim it.
#[utoipa::path(
    get,
    path = "/api/v1/volumes/{volume_id}",
    tag = "volumes",
    params(("volume_id" = String, Path, description = "The volume's ID"), VolumeQuery),
    responses((status = 200, description = "The volume", body = VolumeDetail), Problems)
)]
async fn get_volume(
    State(state): State<AppState>,
    Caller(who): Caller,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<VolumeQuery>,
) -> ApiResult<VolumeDetail> {
    let volume = state
        .service
        .get_volume(&who, &id, query.kind.as_deref(), query.namespace.as_deref())
        .await?;
    Ok(Json(volume))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ScalingQuery {
    /// Only the policies of this job.
    job_id: Option<String>,
    /// The Nomad namespace, or `*` for every namespace the caller may read; the gateway's
    /// default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List scaling policies
///
/// The autoscaler's policies of a namespace (or of one job): the group (and task) each
/// scales, whether it is enabled, its minimum and maximum and its policy document.
#[utoipa::path(
    get,
    path = "/api/v1/scaling-policies",
    tag = "jobs",
    params(ScalingQuery),
    responses((status = 200, description = "A page of scaling policies, by job, group and task", body = Page<ScalingPolicyRow>), Problems)
)]
async fn list_scaling_policies(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(query): QueryParams<ScalingQuery>,
) -> ApiResult<Page<ScalingPolicyRow>> {
    let page = PageRequest::new(query.cursor.clone(), query.limit);
    let policies = state
        .service
        .list_scaling_policies(
            &who,
            query.job_id.as_deref(),
            query.namespace.as_deref(),
            &page,
        )
        .await?;
    Ok(Json(policies))
}

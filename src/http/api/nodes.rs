//! Client nodes: list (filtered), read, drain, eligibility (cordon/uncordon), labels (meta),
//! purge; node pools.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::operations::Write;
use super::{ApiResult, Problems};
use crate::http::Caller;
use crate::service::nodes::{
    DrainRequest, NodeChange, NodeDetail, NodeFilter, NodePoolRow, NodeRow,
};
use crate::service::{Page, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_nodes))
        .routes(routes!(get_node))
        .routes(routes!(drain_node))
        .routes(routes!(set_node_eligibility))
        .routes(routes!(set_node_meta))
        .routes(routes!(list_node_pools))
        .routes(routes!(purge_node))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct NodesQuery {
    /// Only nodes in this status: `ready`, `down`, `initializing` or `disconnected`.
    status: Option<String>,
    /// Only nodes of this node pool.
    pool: Option<String>,
    /// Only nodes of this node class.
    class: Option<String>,
    /// Only nodes of this datacenter.
    datacenter: Option<String>,
    /// Only nodes with this metadata label, as `key=value` (read from each candidate node:
    /// at most 200 after the other filters).
    meta: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List client nodes
///
/// Status, eligibility, drain and resources of the nodes that pass every filter given.
#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    tag = "nodes",
    params(NodesQuery),
    responses((status = 200, description = "A page of the client nodes", body = Page<NodeRow>), Problems)
)]
async fn list_nodes(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(query): QueryParams<NodesQuery>,
) -> ApiResult<Page<NodeRow>> {
    let page = PageRequest::new(query.cursor, query.limit);
    let filter = NodeFilter {
        status: query.status,
        pool: query.pool,
        class: query.class,
        datacenter: query.datacenter,
        meta: query.meta,
    };
    Ok(Json(state.service.list_nodes(&who, &filter, &page).await?))
}

/// List node pools
///
/// Every node pool (the built-in `all` and `default` too) with its description, metadata,
/// scheduler algorithm and how many nodes it holds.
#[utoipa::path(
    get,
    path = "/api/v1/node-pools",
    tag = "nodes",
    params(PageRequest),
    responses((status = 200, description = "A page of node pools", body = Page<NodePoolRow>), Problems)
)]
async fn list_node_pools(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(page): QueryParams<PageRequest>,
) -> ApiResult<Page<NodePoolRow>> {
    Ok(Json(state.service.list_node_pools(&who, &page).await?))
}

/// Purge a node
///
/// Removes the node from Nomad's state at once: its allocations are lost and replaced
/// elsewhere (the answer's evaluations). For a node that is gone for good; a node still
/// running registers again. Tracked like a drain.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node_id}/purge",
    tag = "nodes",
    params(("node_id" = String, Path, description = "The node's full ID"), super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    responses((status = 200, description = "The evaluations that replace its allocations", body = NodeChange), Problems)
)]
async fn purge_node(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(node_id): PathParams<String>,
    write: Write,
) -> ApiResult<NodeChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            service.purge_node(&who, &node_id).await
        })
        .await?;
    Ok(Json(change))
}

/// Read a node
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node_id}",
    tag = "nodes",
    params(("node_id" = String, Path, description = "The node's ID, or a unique prefix of it")),
    responses((status = 200, description = "The node", body = NodeDetail), Problems)
)]
async fn get_node(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(node_id): PathParams<String>,
) -> ApiResult<NodeDetail> {
    Ok(Json(state.service.get_node(&who, &node_id).await?))
}

/// Drain a node, or cancel a drain
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{node_id}/drain",
    tag = "nodes",
    params(("node_id" = String, Path, description = "The node's ID"), super::operations::WaitQuery, ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key (same caller, same request) returns the first call's answer without calling Nomad again; another request with a used key is refused with 409")),
    request_body = Option<DrainRequest>,
    responses((status = 200, description = "Draining (or the drain cancelled)", body = NodeChange), Problems)
)]
async fn drain_node(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(node_id): PathParams<String>,
    write: Write,
    JsonBody(request): JsonBody<DrainRequest>,
) -> ApiResult<NodeChange> {
    let change = write
        .run(&state, &who, |service, who| async move {
            service.drain_node(&who, &node_id, request).await
        })
        .await?;
    Ok(Json(change))
}

#[derive(Debug, Deserialize, ToSchema)]
struct EligibilityBody {
    /// `false` cordons the node (no new allocations); `true` uncordons it.
    eligible: bool,
}

/// Cordon or uncordon a node
#[utoipa::path(
    put,
    path = "/api/v1/nodes/{node_id}/eligibility",
    tag = "nodes",
    params(("node_id" = String, Path, description = "The node's ID")),
    request_body = EligibilityBody,
    responses((status = 200, description = "Eligibility set", body = NodeChange), Problems)
)]
async fn set_node_eligibility(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(node_id): PathParams<String>,
    JsonBody(body): JsonBody<EligibilityBody>,
) -> ApiResult<NodeChange> {
    let change = state
        .service
        .set_node_eligibility(&who, &node_id, body.eligible)
        .await?;
    Ok(Json(change))
}

#[derive(Debug, Deserialize, ToSchema)]
struct MetaBody {
    /// Labels to set; a `null` value removes the key.
    meta: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
struct NodeMeta {
    node_id: String,
    /// The node's labels after the change.
    meta: BTreeMap<String, String>,
}

/// Set or remove node labels (dynamic metadata)
#[utoipa::path(
    patch,
    path = "/api/v1/nodes/{node_id}/meta",
    tag = "nodes",
    params(("node_id" = String, Path, description = "The node's ID")),
    request_body = MetaBody,
    responses((status = 200, description = "The node's labels now", body = NodeMeta), Problems)
)]
async fn set_node_meta(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(node_id): PathParams<String>,
    JsonBody(body): JsonBody<MetaBody>,
) -> ApiResult<NodeMeta> {
    let meta = state
        .service
        .set_node_meta(&who, &node_id, body.meta)
        .await?;
    Ok(Json(NodeMeta { node_id, meta }))
}

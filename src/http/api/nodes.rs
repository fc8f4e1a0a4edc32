//! Client nodes: list, read, drain, eligibility (cordon/uncordon), labels (meta).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::operations::Write;
use super::{ApiResult, Problems};
use crate::http::Caller;
use crate::service::nodes::{DrainRequest, NodeChange, NodeDetail, NodeRow};
use crate::service::{Page, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_nodes))
        .routes(routes!(get_node))
        .routes(routes!(drain_node))
        .routes(routes!(set_node_eligibility))
        .routes(routes!(set_node_meta))
}

/// List client nodes
///
/// Status, eligibility, drain and resources of every node.
#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    tag = "nodes",
    params(PageRequest),
    responses((status = 200, description = "A page of the client nodes", body = Page<NodeRow>), Problems)
)]
async fn list_nodes(
    State(state): State<AppState>,
    Caller(who): Caller,
    QueryParams(page): QueryParams<PageRequest>,
) -> ApiResult<Page<NodeRow>> {
    Ok(Json(state.service.list_nodes(&who, &page).await?))
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

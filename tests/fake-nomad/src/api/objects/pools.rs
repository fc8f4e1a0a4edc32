//! Node pools, `GET /v1/node/pools` and `GET /v1/node/pool/:name`
//! (`nomad/node_pool_endpoint.go` List and GetNodePool at 1.11.2): the built-in `all`
//! and `default`, and the pools nodes registered in. The list keeps the pools the token
//! may read (`node_pool:read`, which every fake token has) and never refuses; `prefix`
//! (name), `filter`, `per_page` and `next_token` (the name) apply. The read needs that
//! right, else 403, and answers `404 node pool not found` (`command/agent/
//! node_pool_endpoint.go` nodePoolQuery).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::api::filter::Filter;
use crate::api::{Ctx, Params, Q, block, caller, denied, json, paginate, text};
use crate::render;

/// A `filter` the paginator cannot read: `400 failed to create result paginator: failed
/// to read filter expression: ...` (`nomad/state/paginator/paginator.go` NewPaginator).
pub(super) fn parse_filter(
    query: &std::collections::HashMap<String, String>,
) -> Result<Option<Filter>, Response> {
    match query.get("filter").filter(|f| !f.is_empty()) {
        None => Ok(None),
        Some(f) => Filter::parse(f).map(Some).map_err(|e| {
            text(
                StatusCode::BAD_REQUEST,
                &format!(
                    "failed to create result paginator: failed to read filter expression: {e}"
                ),
            )
        }),
    }
}

pub async fn node_pools(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    let who = match caller(&shared, &headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let filter = match parse_filter(&query) {
        Ok(f) => f,
        Err(e) => return e,
    };
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let items = shared.read(|w| {
        w.node_pools
            .values()
            .filter(|p| p.name.starts_with(&prefix) && who.node_read())
            .map(|p| (p.name.clone(), render::node_pool(p)))
            .filter(|(_, v)| filter.as_ref().is_none_or(|f| f.matches(v)))
            .collect::<Vec<_>>()
    });
    paginate(&shared, &query, items)
}

pub async fn node_pool(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(name): Path<String>,
    Q(query): Params,
) -> Response {
    let who = match caller(&shared, &headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if !who.node_read() {
        return denied();
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    match shared.read(|w| w.node_pools.get(&name).map(render::node_pool)) {
        Some(p) => json(&shared, &p),
        None => text(StatusCode::NOT_FOUND, "node pool not found"),
    }
}

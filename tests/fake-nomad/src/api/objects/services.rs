//! Native service reads (`/v1/services`, `/v1/service/:name`) and allocation check
//! results (`/v1/allocation/:id/checks`), as Nomad 1.11.2 answers them
//! (`command/agent/service_registration_endpoint.go`, `alloc_endpoint.go` allocChecks).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::Capability::Read;
use crate::acl::Need;
use crate::api::{Ctx, Params, Q, authorize, block, json, namespace_of, paginate, text, visible};
use crate::render;

/// The services of a namespace (or of every namespace the token may read, for `*`), each
/// name with the union of its instances' tags. A namespace without services, or one that
/// does not exist, is `[]`.
pub async fn services(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    let namespace = namespace_of(&query);
    let all = namespace == "*";
    let need = if all {
        Need::AnyNamespace
    } else {
        Need::Namespace(namespace.clone(), Read)
    };
    let token = match authorize(&shared, &headers, need) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let registrations: Vec<_> = shared
        .read(|w| w.registrations())
        .into_iter()
        .filter(|r| {
            if all {
                visible(&token, &r.namespace)
            } else {
                r.namespace == namespace
            }
        })
        .collect();
    json(&shared, &render::service_list(&registrations))
}

/// A service's instances in one namespace, ordered by ID and paginated as Nomad pages them;
/// a name nothing registered is `[]` with status 200, not a 404.
pub async fn service(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(name): Path<String>,
    Q(query): Params,
) -> Response {
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, Need::Namespace(namespace.clone(), Read)) {
        return e;
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let items = shared
        .read(|w| w.registrations())
        .into_iter()
        .filter(|r| r.namespace == namespace && r.service_name == name)
        .map(|r| (r.id.clone(), render::registration(&r)))
        .collect();
    paginate(&shared, &query, items)
}

/// An allocation's check results: `null` when its client keeps none, 404 for an allocation
/// Nomad does not know. Not a blocking query, so no `X-Nomad-Index`.
pub async fn allocation_checks(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(namespace) = shared.read(|w| w.allocs.get(&id).map(|a| a.namespace.clone())) else {
        return text(StatusCode::NOT_FOUND, &format!("Unknown allocation {id:?}"));
    };
    if let Err(e) = authorize(&shared, &headers, Need::Namespace(namespace, Read)) {
        return e;
    }
    let value = shared
        .read(|w| w.alloc_checks(&id))
        .map(|results| render::checks(&results))
        .unwrap_or(Value::Null);
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        serde_json::to_vec(&value).unwrap_or_default(),
    )
        .into_response()
}

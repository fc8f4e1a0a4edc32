//! Allocations, evaluations, deployments, nodes and node metadata, node pools, native
//! services and check results, Nomad Variables, volumes, scaling policies, prefix search
//! and the caller's token.
//!
//! This file holds the shapes the handlers share: namespaced lists, reads of one
//! namespaced object and writes on one.

mod allocations;
mod deployments;
mod evaluations;
mod metadata;
mod nodes;
mod pools;
mod scaling;
mod search;
mod services;
mod tokens;
mod variables;
mod volumes;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::Capability::{Read, Write};
use crate::acl::Need;
use crate::api::{authorize, block, json, namespace_of, paginate, text, visible};
use crate::world::World;

pub use allocations::{
    allocation, allocation_stats, allocations, restart_allocation, signal_allocation,
    stop_allocation,
};
pub use deployments::{
    allocation_health, deployment, deployment_allocations, deployments, fail, pause, promote,
    unblock,
};
pub use evaluations::{evaluation, evaluation_allocations, evaluations};
pub use metadata::{metadata, set_metadata};
pub use nodes::{drain, eligibility, node, node_allocations, nodes, purge};
pub use pools::{node_pool, node_pools};
pub use scaling::{scaling_policies, scaling_policy};
pub use search::search;
pub use services::{allocation_checks, service, services};
pub use tokens::token_self;
pub use variables::{
    var_delete, var_invalid_method, var_missing_path, var_put, var_read, vars, vars_invalid_method,
};
pub use volumes::{csi_volume, host_volume, volumes};

type Query = std::collections::HashMap<String, String>;

/// Namespace-scoped list: `namespace=*` lists what the token may see.
async fn list<F>(shared: &crate::Shared, headers: &HeaderMap, query: &Query, f: F) -> Response
where
    F: FnOnce(&World, &dyn Fn(&str) -> bool) -> Vec<(String, Value)>,
{
    let namespace = namespace_of(query);
    let all = namespace == "*";
    let token = match authorize(
        shared,
        headers,
        if all {
            Need::AnyNamespace
        } else {
            Need::Namespace(namespace.clone(), Read)
        },
    ) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if let Err(e) = block(shared, query).await {
        return e;
    }
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let wanted = |ns: &str| {
        if all {
            visible(&token, ns)
        } else {
            ns == namespace
        }
    };
    let items = shared.read(|w| f(w, &wanted));
    let items = items
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    paginate(shared, query, items)
}

/// Reads one namespaced object by ID (Nomad checks the object's own namespace).
async fn read_one<F>(
    shared: &crate::Shared,
    headers: &HeaderMap,
    query: &Query,
    missing: &str,
    f: F,
) -> Response
where
    F: Fn(&World) -> Option<(String, Value)>,
{
    if let Err(e) = block(shared, query).await {
        return e;
    }
    match shared.read(|w| f(w)) {
        None => text(StatusCode::NOT_FOUND, missing),
        Some((ns, value)) => match authorize(shared, headers, Need::Namespace(ns, Read)) {
            Ok(_) => json(shared, &value),
            Err(e) => e,
        },
    }
}

/// The allocations of an evaluation or a deployment, as `Eval.Allocations` and
/// `Deployment.Allocations` answer them (`nomad/eval_endpoint.go`,
/// `nomad/deployment_endpoint.go` at Nomad 1.11.2): the token must read jobs in the
/// request's namespace, and in the allocations' own when that differs; an ID Nomad does
/// not know is not an error but `[]` (`command/agent/eval_endpoint.go` evalAllocations and
/// `deployment_endpoint.go` deploymentAllocations turn a nil list into an empty one).
async fn allocs_by<F>(shared: &crate::Shared, headers: &HeaderMap, query: &Query, f: F) -> Response
where
    F: Fn(&World) -> Vec<(String, Value)>,
{
    let namespace = namespace_of(query);
    if let Err(e) = authorize(shared, headers, Need::Namespace(namespace.clone(), Read)) {
        return e;
    }
    if let Err(e) = block(shared, query).await {
        return e;
    }
    let allocs = shared.read(|w| f(w));
    if let Some((ns, _)) = allocs.first()
        && *ns != namespace
        && let Err(e) = authorize(shared, headers, Need::Namespace(ns.clone(), Read))
    {
        return e;
    }
    json(
        shared,
        &Value::Array(allocs.into_iter().map(|(_, a)| a).collect()),
    )
}

/// A write on an existing namespaced object: 404 first, then the token check.
fn write_on<T>(
    shared: &crate::Shared,
    headers: &HeaderMap,
    namespace: Option<String>,
    missing: &str,
    f: impl FnOnce(&mut World) -> T,
) -> Result<T, Response> {
    let Some(ns) = namespace else {
        return Err(text(StatusCode::NOT_FOUND, missing));
    };
    authorize(shared, headers, Need::Namespace(ns, Write))?;
    Ok(shared.change(f))
}

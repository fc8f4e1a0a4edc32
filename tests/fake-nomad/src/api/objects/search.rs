//! Prefix search, `POST /v1/search`, as Nomad 1.11.2's `nomad/search_endpoint.go`
//! PrefixSearch answers it (`command/agent/search_endpoint.go` newSearchRequest decodes
//! the body, whose `Namespace` the `namespace` query parameter overrides).
//!
//! What it copies from the source:
//! - Contexts (`nomad/structs/search.go`, `ossContexts`): `allocs`, `jobs`, `nodes`,
//!   `node_pools`, `evals`, `deployment`, `plugins`, `volumes`, `scaling_policy`,
//!   `vars`, `namespaces`, `host_volumes`, or `all` for every one. Another context is
//!   500 `context must be one of [...] or 'all' for all contexts; got "<context>"`
//!   (`search_endpoint_ce.go` getEnterpriseResourceIter).
//! - Each context reads at most 20 objects (`truncateLimit`) from the state store's
//!   prefix iterator, keeps those whose ID has the prefix, and is truncated when a 21st
//!   exists (getPrefixMatches). A context with no match is `null` (a nil slice).
//! - The prefix is rounded down to an even length unless the *request's* context is
//!   `jobs` (roundUUIDDownIfOdd, which looks at the request's context, so `all` rounds
//!   job prefixes too). Allocations, evaluations, deployments and nodes are indexed by
//!   UUID: a prefix that is not hex, is longer than 36 characters, has more than four
//!   `-` or is still odd leaves that context out of the answer (silenceError), and hex
//!   is compared by value, so `AB` reads the IDs that begin `ab`, which the exact
//!   prefix check then drops.
//! - Namespaces: jobs, evaluations, allocations, deployments, CSI and host volumes are
//!   those of the request's namespace, or all of them for `*`; scaling policies are
//!   matched by their target's namespace, which `*` never is
//!   (scalingPolicyNamespaceFilter); variables and namespaces come from every
//!   namespace, filtered by what the token may read.
//! - ACLs (sufficientSearchPerms, filteredSearchContexts): asking for one context the
//!   token may not read is `403 Permission denied`; `all` leaves those contexts out.
//!   Jobs, allocations, evaluations, deployments, scaling policies, variables and
//!   volumes need read in the namespace (`*`: in any), `namespaces` any right there;
//!   nodes, node pools and plugins any token (the fake's tokens all read nodes).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::Capability::Read;
use crate::acl::Principal;
use crate::api::{Ctx, Params, Q, body_json, caller, denied, json, text};
use crate::world::World;

const CONTEXTS: [&str; 12] = [
    "allocs",
    "jobs",
    "nodes",
    "node_pools",
    "evals",
    "deployment",
    "plugins",
    "volumes",
    "scaling_policy",
    "vars",
    "namespaces",
    "host_volumes",
];

const TRUNCATE_LIMIT: usize = 20;

/// Whether the token may search the context at all (sufficientSearchPerms, for a request
/// naming one context).
fn sufficient(who: &Principal, namespace: &str, context: &str) -> bool {
    if who.management() {
        return true;
    }
    match context {
        "nodes" | "node_pools" | "plugins" => who.node_read(),
        "namespaces" => who.allows_namespace(namespace),
        "allocs" | "deployment" | "evals" | "jobs" | "scaling_policy" | "volumes"
        | "host_volumes" | "vars" => who.allows(namespace, Read),
        _ => true,
    }
}

/// The prefix the state store is asked for (roundUUIDDownIfOdd).
fn rounded(prefix: &[u8], context: &str) -> Vec<u8> {
    if context == "jobs" {
        return prefix.to_vec();
    }
    let hyphens = prefix.iter().filter(|&&b| b == b'-').count();
    if (prefix.len() - hyphens).is_multiple_of(2) {
        prefix.to_vec()
    } else {
        prefix[..prefix.len() - 1].to_vec()
    }
}

/// go-memdb's UUIDFieldIndex prefix (`index.go` parseString): the hex digits, lower case,
/// or `None` where Nomad's iterator fails.
fn uuid_prefix(prefix: &[u8]) -> Option<String> {
    if prefix.len() > 36 || prefix.iter().filter(|&&b| b == b'-').count() > 4 {
        return None;
    }
    let digits: Vec<u8> = prefix.iter().copied().filter(|&b| b != b'-').collect();
    if !digits.len().is_multiple_of(2) || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(String::from_utf8_lossy(&digits).to_lowercase())
}

/// The IDs the context's iterator yields, in the state store's order; `None` when the
/// iterator cannot be made for this prefix (a context Nomad silently leaves out).
fn candidates(
    w: &World,
    who: &Principal,
    context: &str,
    namespace: &str,
    prefix: &[u8],
) -> Option<Vec<String>> {
    let all = namespace == "*";
    let in_ns = |ns: &str| all || ns == namespace;
    let string_prefix = |id: &str| id.as_bytes().starts_with(prefix);
    let by_uuid = |ids: Vec<(&str, &str)>| -> Option<Vec<String>> {
        let hex = uuid_prefix(prefix)?;
        let mut ids: Vec<&str> = ids
            .into_iter()
            .filter(|(ns, _)| in_ns(ns))
            .map(|(_, id)| id)
            .filter(|id| id.replace('-', "").starts_with(&hex))
            .collect();
        ids.sort();
        Some(ids.into_iter().map(String::from).collect())
    };
    let ids = match context {
        "jobs" => w
            .jobs
            .values()
            .filter(|r| in_ns(&r.namespace) && string_prefix(&r.id))
            .map(|r| r.id.clone())
            .collect(),
        "evals" => by_uuid(
            w.evals
                .values()
                .map(|e| (e.namespace.as_str(), e.id.as_str()))
                .collect(),
        )?,
        "allocs" => by_uuid(
            w.allocs
                .values()
                .map(|a| (a.namespace.as_str(), a.id.as_str()))
                .collect(),
        )?,
        "deployment" => by_uuid(
            w.deployments
                .values()
                .map(|d| (d.namespace.as_str(), d.id.as_str()))
                .collect(),
        )?,
        // Nodes have no namespace.
        "nodes" => {
            let hex = uuid_prefix(prefix)?;
            let mut ids: Vec<String> = w
                .nodes
                .iter()
                .map(|n| n.id.clone())
                .filter(|id| id.replace('-', "").starts_with(&hex))
                .collect();
            ids.sort();
            ids
        }
        "node_pools" => w
            .node_pools
            .keys()
            .filter(|name| string_prefix(name))
            .filter(|_| who.management() || who.node_read())
            .cloned()
            .collect(),
        "plugins" => {
            let mut ids: Vec<String> = w
                .csi_volumes
                .values()
                .map(|v| v.spec.plugin_id.clone())
                .filter(|id| string_prefix(id))
                .collect();
            ids.sort();
            ids.dedup();
            ids
        }
        "volumes" => w
            .csi_volumes
            .iter()
            .filter(|((ns, id), _)| in_ns(ns) && string_prefix(id))
            .map(|((_, id), _)| id.clone())
            .collect(),
        "host_volumes" => w
            .host_volumes
            .iter()
            .filter(|((ns, id), _)| in_ns(ns) && string_prefix(id))
            .map(|((_, id), _)| id.clone())
            .collect(),
        "scaling_policy" => w
            .scaling_policies
            .values()
            .filter(|p| p.namespace == namespace && string_prefix(&p.id))
            .map(|p| p.id.clone())
            .collect(),
        "vars" => {
            let mut vars: Vec<(&str, &str)> = w
                .variables
                .keys()
                .filter(|(ns, path)| string_prefix(path) && who.allows(ns, Read))
                .map(|(ns, path)| (path.as_str(), ns.as_str()))
                .collect();
            vars.sort();
            vars.into_iter().map(|(path, _)| path.to_string()).collect()
        }
        "namespaces" => w
            .namespaces
            .keys()
            .filter(|name| string_prefix(name) && who.allows_namespace(name))
            .cloned()
            .collect(),
        _ => return None,
    };
    Some(ids)
}

pub async fn search(
    State(shared): Ctx,
    headers: HeaderMap,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    if bytes.is_empty() {
        return text(StatusCode::BAD_REQUEST, "Request body is empty");
    }
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let field = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or("");
    let prefix = field("Prefix").to_string();
    let context = field("Context").to_string();
    let namespace = query
        .get("namespace")
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| match field("Namespace") {
            "" => "default".to_string(),
            ns => ns.to_string(),
        });
    let who = match caller(&shared, &headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if !sufficient(&who, &namespace, &context) {
        return denied();
    }
    let wanted: Vec<&str> = if context == "all" {
        CONTEXTS.to_vec()
    } else {
        vec![context.as_str()]
    };
    // filteredSearchContexts: what `all` may search.
    let contexts: Vec<&str> = wanted
        .into_iter()
        .filter(|c| who.management() || sufficient(&who, &namespace, c))
        .collect();
    if let Some(unknown) = contexts.iter().find(|c| !CONTEXTS.contains(c)) {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "context must be one of [{}] or 'all' for all contexts; got {unknown:?}",
                CONTEXTS.join(" ")
            ),
        );
    }
    let iterator_prefix = rounded(prefix.as_bytes(), &context);
    let (matches, truncations) = shared.read(|w| {
        let mut matches = Map::new();
        let mut truncations = Map::new();
        for ctx in &contexts {
            let Some(ids) = candidates(w, &who, ctx, &namespace, &iterator_prefix) else {
                continue;
            };
            let found: Vec<&String> = ids
                .iter()
                .take(TRUNCATE_LIMIT)
                .filter(|id| id.starts_with(&prefix))
                .collect();
            matches.insert(
                ctx.to_string(),
                if found.is_empty() {
                    Value::Null
                } else {
                    json!(found)
                },
            );
            truncations.insert(ctx.to_string(), json!(ids.len() > TRUNCATE_LIMIT));
        }
        (matches, truncations)
    });
    json(
        &shared,
        &json!({"Matches": matches, "Truncations": truncations}),
    )
}

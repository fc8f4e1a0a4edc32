//! Volumes: `GET /v1/volumes?type=csi|host`, `GET /v1/volume/csi/:id`,
//! `GET /v1/volume/host/:id`, read-only, as Nomad 1.11.2 answers them.
//!
//! - `command/agent/volumes_endpoint.go` ListVolumesRequest: without `type`, `[]`
//!   whoever asks; a `type` other than `csi` or `host` (even empty) is
//!   `404 resource not found`.
//! - CSI (`nomad/csi_endpoint.go` List and Get): the list needs `csi-list-volume` (or
//!   read, mount, list-jobs) in the request's namespace, the read `csi-read-volume` (or
//!   mount, read-job), both the fake's read; for `*`, read in any namespace, and the list
//!   then has every namespace's volumes, unfiltered. `prefix` (ID), `plugin_id` and
//!   `node_id` filter (no volume is claimed, so a node has none). A volume not in the
//!   request's namespace is `404 volume not found` (csiVolumeGet).
//! - Host (`nomad/host_volume_endpoint.go` List and Get): the list never refuses a
//!   token; each volume is kept when it is in the namespace (any for `*`) and the token
//!   has `host-volume-read` there (the fake's read), `prefix` matching its name or ID,
//!   `node_id` and `node_pool` filtering. The read needs that capability in the request's
//!   namespace, else 403, and answers `404 volume not found` for a volume not in it.
//! - Lists are paged by `per_page` and `next_token` (`<namespace>.<id>`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::Capability::Read;
use crate::api::{Ctx, Params, Q, block, caller, denied, json, namespace_of, paginate, text};
use crate::render;

const NOT_FOUND: &str = "resource not found";

pub async fn volumes(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    let Some(kind) = query.get("type") else {
        return json(&shared, &json!([]));
    };
    let host = match kind.as_str() {
        "csi" => false,
        "host" => true,
        _ => return text(StatusCode::NOT_FOUND, NOT_FOUND),
    };
    let who = match caller(&shared, &headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let namespace = namespace_of(&query);
    if !host && !who.allows(&namespace, Read) {
        return denied();
    }
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let param = |k: &str| query.get(k).cloned().unwrap_or_default();
    let (prefix, node_id, plugin_id, node_pool) = (
        param("prefix"),
        param("node_id"),
        param("plugin_id"),
        param("node_pool"),
    );
    let in_ns = |ns: &str| namespace == "*" || ns == namespace;
    let items = shared.read(|w| {
        if host {
            w.host_volumes
                .values()
                .filter(|r| r.spec.name.starts_with(&prefix) || r.spec.id.starts_with(&prefix))
                .filter(|r| node_id.is_empty() || r.node_id == node_id)
                .filter(|r| node_pool.is_empty() || r.node_pool == node_pool)
                .filter(|r| in_ns(&r.spec.namespace) && who.allows(&namespace, Read))
                .map(|r| {
                    (
                        format!("{}.{}", r.spec.namespace, r.spec.id),
                        render::host_volume_stub(r),
                    )
                })
                .collect::<Vec<_>>()
        } else {
            w.csi_volumes
                .values()
                // A node's volumes are those its allocations claim: none in the fake.
                .filter(|_| node_id.is_empty())
                .filter(|r| plugin_id.is_empty() || r.spec.plugin_id == plugin_id)
                .filter(|r| r.spec.id.starts_with(&prefix) && in_ns(&r.spec.namespace))
                .map(|r| {
                    (
                        format!("{}.{}", r.spec.namespace, r.spec.id),
                        render::csi_volume_stub(w, r),
                    )
                })
                .collect::<Vec<_>>()
        }
    });
    paginate(&shared, &query, items)
}

async fn volume(
    shared: &crate::Shared,
    headers: &HeaderMap,
    query: &std::collections::HashMap<String, String>,
    host: bool,
    id: &str,
) -> Response {
    let who = match caller(shared, headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let namespace = namespace_of(query);
    if !who.allows(&namespace, Read) {
        return denied();
    }
    if let Err(e) = block(shared, query).await {
        return e;
    }
    let key = (namespace, id.to_string());
    let found = shared.read(|w| {
        if host {
            w.host_volumes.get(&key).map(render::host_volume)
        } else {
            w.csi_volumes.get(&key).map(|r| render::csi_volume(w, r))
        }
    });
    match found {
        Some(v) => json(shared, &v),
        None => text(StatusCode::NOT_FOUND, "volume not found"),
    }
}

pub async fn csi_volume(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    volume(&shared, &headers, &query, false, &id).await
}

pub async fn host_volume(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    volume(&shared, &headers, &query, true, &id).await
}

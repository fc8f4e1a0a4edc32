//! Status, agent, regions and namespaces.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Ctx, Params, Q, authorize, json, text, visible};
use crate::acl::Need;
use crate::render;

const LEADER: &str = "127.0.0.1:4647";

pub async fn leader(State(shared): Ctx) -> Response {
    json(&shared, &json!(LEADER))
}

pub async fn peers(State(shared): Ctx) -> Response {
    json(&shared, &json!([LEADER]))
}

pub async fn regions(State(shared): Ctx) -> Response {
    json(&shared, &json!(["global"]))
}

pub async fn agent_self(State(shared): Ctx, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeRead) {
        return e;
    }
    let index = shared.read(|w| w.index);
    let mut body = render::agent_self(LEADER, index);
    body["config"]["ACL"]["Enabled"] = json!(!shared.tokens.is_empty());
    json(&shared, &body)
}

pub async fn members(State(shared): Ctx, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&shared, &headers, Need::NodeRead) {
        return e;
    }
    json(
        &shared,
        &json!({
            "ServerName": "fake-server-1",
            "ServerRegion": "global",
            "ServerDC": "dc1",
            "Members": [render::member("127.0.0.1")]
        }),
    )
}

pub async fn namespaces(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    let token = match authorize(&shared, &headers, Need::AnyNamespace) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if let Err(e) = super::block(&shared, &query).await {
        return e;
    }
    let list: Vec<Value> = shared.read(|w| {
        w.namespaces
            .values()
            .filter(|ns| visible(&token, &ns.name))
            .filter(|ns| {
                query
                    .get("prefix")
                    .is_none_or(|p| ns.name.starts_with(p.as_str()))
            })
            .map(render::namespace)
            .collect()
    });
    json(&shared, &Value::Array(list))
}

pub async fn namespace(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Err(e) = authorize(
        &shared,
        &headers,
        Need::Namespace(name.clone(), crate::Capability::Read),
    ) {
        return e;
    }
    match shared.read(|w| w.namespaces.get(&name).map(render::namespace)) {
        Some(ns) => json(&shared, &ns),
        None => text(StatusCode::NOT_FOUND, "namespace not found"),
    }
}

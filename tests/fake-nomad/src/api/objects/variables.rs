//! Nomad Variables (`/v1/vars`, `/v1/var/:path`), as Nomad 1.11 answers them
//! (`command/agent/variable_endpoint.go`, `nomad/variables_endpoint.go`).
//!
//! Reads carry Nomad's query meta; their `X-Nomad-Index` is the variables table's index
//! (a list, a miss) or the variable's ModifyIndex (a hit), and a blocking query waits for
//! that index, not for any change to the world. Writes carry only `X-Nomad-Index`: the
//! write's index, the conflicting variable's ModifyIndex for a 409, and 0 when the RPC
//! refused the write (Nomad sets the reply's index, still zero, before answering the
//! error). Variable locks (`?lock-acquire`, `?lock-renew`, `?lock-release`) are not
//! simulated: the fake answers them 501.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::Capability::{Read, Write};
use crate::acl::Need;
use crate::api::{
    Ctx, Params, Q, authorize, block_on, json, namespace_of, paginate, refusal, text, visible,
};
use crate::render;
use crate::world::{VarOutcome, Variable};

const LOCK_OPERATIONS: [&str; 3] = ["lock-acquire", "lock-renew", "lock-release"];

fn with_index(mut response: Response, index: u64) -> Response {
    response
        .headers_mut()
        .insert("x-nomad-index", HeaderValue::from(index));
    response
}

/// A write's JSON answer: the status and only `X-Nomad-Index` (Nomad's `setIndex`).
fn written(status: StatusCode, value: &Value, index: u64) -> Response {
    let response = (
        status,
        [("content-type", "application/json")],
        serde_json::to_vec(value).unwrap_or_default(),
    )
        .into_response();
    with_index(response, index)
}

/// `parseCAS`: absent or empty is no check-and-set; anything but an unsigned decimal is a
/// 400 with Go's `strconv.ParseUint` error.
fn cas_of(query: &HashMap<String, String>) -> Result<Option<u64>, Response> {
    let Some(cas) = query.get("cas").filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let reason = if !cas.bytes().all(|b| b.is_ascii_digit()) {
        "invalid syntax"
    } else {
        match cas.parse::<u64>() {
            Ok(n) => return Ok(Some(n)),
            Err(_) => "value out of range",
        }
    };
    Err(text(
        StatusCode::BAD_REQUEST,
        &format!("can not parse cas: strconv.ParseUint: parsing {cas:?}: {reason}"),
    ))
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(found: &Value, field: &str, go_type: &str) -> Response {
    text(
        StatusCode::BAD_REQUEST,
        &format!(
            "json: cannot unmarshal {} into Go struct field VariableDecrypted.{field} of type {go_type}",
            go_kind(found)
        ),
    )
}

/// Decodes a PUT body as Go's `encoding/json` decodes it into `structs.VariableDecrypted`:
/// the first JSON value only, field names matched case-insensitively (an exact match
/// first), `null` as absent. Answers the namespace (empty when unset) and the Items. The
/// errors are Nomad's 400s with the decoder's text as it is (no prefix: `variableUpsert`
/// answers `err.Error()`).
fn decode_body(bytes: &[u8]) -> Result<(String, BTreeMap<String, String>), Response> {
    if bytes.is_empty() {
        return Err(text(StatusCode::BAD_REQUEST, "Request body is empty"));
    }
    let body = match serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .next()
    {
        Some(Ok(v)) => v,
        // Go's decoder says `unexpected EOF` for a body cut short; other syntax errors keep
        // serde's wording (Go's cannot be rebuilt from it).
        Some(Err(e)) if e.is_eof() => {
            return Err(text(StatusCode::BAD_REQUEST, "unexpected EOF"));
        }
        Some(Err(e)) => return Err(text(StatusCode::BAD_REQUEST, &e.to_string())),
        None => return Err(text(StatusCode::BAD_REQUEST, "EOF")),
    };
    let fields = match &body {
        Value::Null => return Ok((String::new(), BTreeMap::new())),
        Value::Object(fields) => fields,
        other => {
            return Err(text(
                StatusCode::BAD_REQUEST,
                &format!(
                    "json: cannot unmarshal {} into Go value of type structs.VariableDecrypted",
                    go_kind(other)
                ),
            ));
        }
    };
    let field = |name: &str| {
        fields
            .get(name)
            .or_else(|| {
                fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_null())
    };
    for name in ["Namespace", "Path"] {
        if let Some(v) = field(name).filter(|v| !v.is_string()) {
            return Err(type_error(v, name, "string"));
        }
    }
    let namespace = field("Namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut items = BTreeMap::new();
    match field("Items") {
        None => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::String(s) => {
                        items.insert(k.clone(), s.clone());
                    }
                    // Go leaves a map entry decoded from null at the zero value.
                    Value::Null => {
                        items.insert(k.clone(), String::new());
                    }
                    other => return Err(type_error(other, "Items", "string")),
                }
            }
        }
        Some(other) => return Err(type_error(other, "Items", "structs.VariableItems")),
    }
    Ok((namespace, items))
}

/// `GET /v1/vars`: the metadata of the variables under `prefix`, ordered by namespace and
/// path. As Nomad's Variables.List does, it filters by what the token may read and never
/// refuses, for one namespace as for `*`; the pagination token is `namespace.path`.
pub async fn vars(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    let token = match authorize(&shared, &headers, Need::AnyNamespace) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if let Err(e) = block_on(&shared, &query, |w| w.variables_table_index()).await {
        return e;
    }
    let namespace = namespace_of(&query);
    let all = namespace == "*";
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let (items, index) = shared.read(|w| {
        let items: Vec<(String, Value)> = w
            .variables
            .values()
            .filter(|v| all || v.namespace == namespace)
            .filter(|v| visible(&token, &v.namespace) && v.path.starts_with(&prefix))
            .map(|v| {
                (
                    format!("{}.{}", v.namespace, v.path),
                    render::variable_metadata(v),
                )
            })
            .collect();
        (items, w.variables_table_index())
    });
    with_index(paginate(&shared, &query, items), index)
}

/// `/v1/var/` without a path, whatever the method.
pub async fn var_missing_path() -> Response {
    text(StatusCode::BAD_REQUEST, "missing variable path")
}

/// A method `/v1/var/:path` does not serve (Nomad's `ErrInvalidMethod`, a 400 there).
pub async fn var_invalid_method() -> Response {
    text(StatusCode::BAD_REQUEST, "Invalid method")
}

/// A method `/v1/vars` does not serve (405 there).
pub async fn vars_invalid_method() -> Response {
    text(StatusCode::METHOD_NOT_ALLOWED, "Invalid method")
}

/// `GET /v1/var/:path`: the variable with its Items, or 404 `variable not found`; the
/// token must read variables in the request's namespace, checked before the lookup.
pub async fn var_read(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(path): Path<String>,
    Q(query): Params,
) -> Response {
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, Need::Namespace(namespace.clone(), Read)) {
        return e;
    }
    let index_of = |w: &crate::world::World| {
        w.variable(&namespace, &path)
            .map(|v| v.modify_index)
            .unwrap_or_else(|| w.variables_table_index())
    };
    if let Err(e) = block_on(&shared, &query, index_of).await {
        return e;
    }
    let (found, index) = shared.read(|w| {
        (
            w.variable(&namespace, &path).map(render::variable),
            index_of(w),
        )
    });
    let response = match found {
        Some(v) => json(&shared, &v),
        None => {
            let mut r = text(StatusCode::NOT_FOUND, "variable not found");
            let h = r.headers_mut();
            h.insert("x-nomad-knownleader", HeaderValue::from_static("true"));
            h.insert("x-nomad-lastcontact", HeaderValue::from_static("0"));
            r
        }
    };
    with_index(response, index)
}

fn lock_operation(query: &HashMap<String, String>) -> Option<Response> {
    LOCK_OPERATIONS
        .iter()
        .any(|op| query.contains_key(*op))
        .then(|| {
            text(
                StatusCode::NOT_IMPLEMENTED,
                "fake-nomad does not simulate variable locks (lock-acquire, lock-renew, lock-release)",
            )
        })
}

fn conflict(v: &Variable) -> Response {
    written(StatusCode::CONFLICT, &render::variable(v), v.modify_index)
}

/// `PUT`/`POST /v1/var/:path`: creates or updates a variable. The URL's path wins over the
/// body's `Path`; the namespace is the body's `Namespace`, else the request's. Checks in
/// Nomad's order: the body (400), its Items (400), `cas` (400), the token (403), then
/// validation (500), then the check-and-set (409 with the variable as it is, or its zero
/// value when `cas` expected one that does not exist).
pub async fn var_put(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(path): Path<String>,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    if let Some(e) = lock_operation(&query) {
        return e;
    }
    let (namespace, items) = match decode_body(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if items.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "variable missing required Items object",
        );
    }
    let cas = match cas_of(&query) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let namespace = if namespace.is_empty() {
        namespace_of(&query)
    } else {
        namespace
    };
    if let Err(e) = authorize(&shared, &headers, Need::Namespace(namespace.clone(), Write)) {
        return with_index(e, 0);
    }
    match shared.change(|w| w.set_variable(&namespace, &path, items, cas)) {
        VarOutcome::Done(Some(v)) => written(StatusCode::OK, &render::variable(&v), v.modify_index),
        VarOutcome::Done(None) => written(StatusCode::OK, &Value::Null, 0),
        VarOutcome::Conflict(v) => conflict(&v),
        VarOutcome::Refused(status, message) => with_index(refusal((status, message)), 0),
    }
}

/// `DELETE /v1/var/:path`: deletes a variable in the request's namespace; the token needs
/// the destroy capability (the fake's write). Success is `204 No Content` with an empty
/// body, also for a variable that does not exist: `variableDelete` writes the status and
/// returns no object. The documentation's sample (`DELETE_v1_var_VAR_PATH.json`) shows
/// `200 {"Index": 16}`, which Nomad's source does not answer. With `cas=0` only a missing
/// variable is deleted; any other mismatch is a 409 with the variable (or its zero value).
pub async fn var_delete(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(path): Path<String>,
    Q(query): Params,
) -> Response {
    let cas = match cas_of(&query) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let namespace = namespace_of(&query);
    if let Err(e) = authorize(&shared, &headers, Need::Namespace(namespace.clone(), Write)) {
        return with_index(e, 0);
    }
    match shared.change(|w| (w.delete_variable(&namespace, &path, cas), w.index)) {
        (VarOutcome::Conflict(v), _) => conflict(&v),
        (VarOutcome::Refused(status, message), _) => with_index(refusal((status, message)), 0),
        (VarOutcome::Done(_), index) => with_index(StatusCode::NO_CONTENT.into_response(), index),
    }
}

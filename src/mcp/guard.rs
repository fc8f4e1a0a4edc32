//! Transport-level refusals of the MCP endpoints: a JSON-RPC error object with a null id,
//! as MCP clients expect. (`Host` and `Origin` are checked for every route in
//! `http::origin`.)

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A JSON-RPC error body (id null), as MCP clients expect on transport-level refusals.
pub fn refusal(status: StatusCode, code: i64, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    (status, axum::Json(body)).into_response()
}

//! Request limits: a body size cap, a time limit for the body to arrive, and a deadline
//! for the response to start.
//!
//! The body is read here, whole, before the handler runs (every route reads its body whole
//! anyway): a client that trickles bytes is cut off after `GATEWAY_BODY_TIMEOUT` with 408,
//! and an oversize body is 413 however it is sent. On the MCP paths both are JSON-RPC
//! errors, elsewhere problem documents.
//!
//! The deadline covers the time until the response headers are ready. A streaming
//! response (SSE, log follow) has its headers out at once, so it is not cut off later.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

#[derive(Clone, Copy)]
pub struct Limits {
    pub body_bytes: usize,
    pub body_timeout: Duration,
    pub request_timeout: Duration,
}

fn refuse(path: &str, status: StatusCode, error: ApiError) -> Response {
    if super::origin::is_mcp(path) {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32600, "message": error.to_string() },
        });
        return (status, axum::Json(body)).into_response();
    }
    error.into_response()
}

/// Refuses a declared oversize body before reading it; bodies without a length are
/// capped by axum's `DefaultBodyLimit` when they are read.
pub async fn enforce(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let path = request.uri().path().to_string();
    let too_large = || {
        refuse(
            &path,
            StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::PayloadTooLarge {
                limit: limits.body_bytes,
            },
        )
    };
    if declared.is_some_and(|len| len > limits.body_bytes as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let read = axum::body::to_bytes(body, limits.body_bytes);
    let bytes = match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            let after = crate::config::format_duration(limits.body_timeout);
            return refuse(
                &path,
                StatusCode::REQUEST_TIMEOUT,
                ApiError::BodyTimeout { after },
            );
        }
    };
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout {
            after: crate::config::format_duration(limits.request_timeout),
        }
        .into_response(),
    }
}

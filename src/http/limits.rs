//! Request limits: a body size cap and a deadline for the response to start.
//!
//! The deadline covers the time until the response headers are ready. A streaming
//! response (SSE, log follow) has its headers out at once, so it is not cut off later.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

#[derive(Clone, Copy)]
pub struct Limits {
    pub body_bytes: usize,
    pub request_timeout: Duration,
}

/// Refuses a declared oversize body before reading it; bodies without a length are
/// capped by axum's `DefaultBodyLimit` when they are read.
pub async fn enforce(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.body_bytes as u64) {
        return ApiError::PayloadTooLarge {
            limit: limits.body_bytes,
        }
        .into_response();
    }
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout {
            after: crate::config::format_duration(limits.request_timeout),
        }
        .into_response(),
    }
}

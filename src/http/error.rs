//! The REST error type: every failure leaves as `application/problem+json` (RFC 9457) with
//! a message a person can act on. The status mapping is one exhaustive `match`, and the
//! service layer's errors map onto it in one `From`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::{FieldError, ServiceError};

/// Errors a REST handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    BadRequest(String),
    /// Invalid input, field by field; the problem document lists them under `errors`.
    #[error("invalid request: {}", summary(.0))]
    Validation(Vec<FieldError>),
    /// Nomad refused the request as invalid (a job it cannot accept).
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than the limit of {limit} bytes (GATEWAY_BODY_LIMIT)")]
    PayloadTooLarge { limit: usize },
    #[error("the request did not finish within {after} (GATEWAY_REQUEST_TIMEOUT)")]
    Timeout { after: String },
    #[error("the request body did not arrive within {after} (GATEWAY_BODY_TIMEOUT)")]
    BodyTimeout { after: String },
    #[error("{0}")]
    Unavailable(String),
    /// The gateway's database did not answer (503 with `Retry-After`).
    #[error("{0}")]
    DatabaseUnavailable(String),
    /// Writes wait for the audit log (503 with `Retry-After`).
    #[error("{0}")]
    WritesPaused(String),
    /// Nomad answered with a server error or something the gateway could not read.
    #[error("{0}")]
    NomadFailed(String),
    /// Nomad refused the gateway's own token: an operator has to fix its ACL policy.
    #[error("{0}")]
    NomadPermission(String),
    /// No valid credential (401); `challenge` is the `WWW-Authenticate` value.
    #[error("{message}")]
    Unauthorized { message: String, challenge: String },
    /// The credential lacks a scope or namespace (403); with a missing scope the answer
    /// names it in `WWW-Authenticate` (RFC 6750 §3.1).
    #[error("{message}")]
    Forbidden {
        message: String,
        missing_scope: Option<&'static str>,
    },
    /// A per-caller budget is used up (429 with `Retry-After`).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// Details are logged where the error is handled; the client sees only that it happened.
    #[error("internal error; the gateway log has the details under this request id")]
    Internal,
}

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The problem document (RFC 9457 section 3), served as `application/problem+json`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "urn:nomad-gateway:problem:not-found",
    "title": "Not Found",
    "status": 404,
    "detail": "job 'web' not found in namespace 'default'"
}))]
pub struct Problem {
    /// `urn:nomad-gateway:problem:<kind>`: stable, for programs to branch on.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: &'static str,
    pub status: u16,
    /// What went wrong and what to do about it, for people.
    pub detail: String,
    /// With `validation`: every invalid field of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl ApiError {
    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            ApiError::Rejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, "nomad-rejected"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
            }
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large")
            }
            ApiError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            ApiError::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "body-timeout"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::WritesPaused(_) => (StatusCode::SERVICE_UNAVAILABLE, "writes-paused"),
            ApiError::DatabaseUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "database-unavailable")
            }
            ApiError::NomadFailed(_) => (StatusCode::BAD_GATEWAY, "nomad-failed"),
            ApiError::NomadPermission(_) => (StatusCode::BAD_GATEWAY, "nomad-permission"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
        }
    }

    pub fn problem(&self) -> (StatusCode, Problem) {
        let (status, slug) = self.status_and_type();
        let problem = Problem {
            kind: format!("urn:nomad-gateway:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            errors: match self {
                ApiError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
        };
        (status, problem)
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Validation(errors) => ApiError::Validation(errors),
            ServiceError::NotFound(message) => ApiError::NotFound(message),
            ServiceError::Conflict(message) => ApiError::Conflict(message),
            ServiceError::Rejected(message) => ApiError::Rejected(message),
            ServiceError::NomadUnavailable(message) => ApiError::Unavailable(message),
            ServiceError::DatabaseUnavailable(message) => ApiError::DatabaseUnavailable(message),
            ServiceError::NomadFailed(message) => ApiError::NomadFailed(message),
            // The service's message already says the gateway's token lacks a permission.
            error @ ServiceError::NomadPermission(_) => {
                ApiError::NomadPermission(error.to_string())
            }
            ServiceError::Forbidden {
                message,
                missing_scope,
            } => ApiError::Forbidden {
                message,
                missing_scope: missing_scope.map(|s| s.as_str()),
            },
            error @ ServiceError::RateLimited { .. } => {
                let retry_after = match &error {
                    ServiceError::RateLimited { retry_after, .. } => retry_after.as_secs().max(1),
                    _ => 1,
                };
                ApiError::TooManyRequests {
                    message: error.to_string(),
                    retry_after,
                }
            }
            error @ ServiceError::AuditUnavailable(_) => ApiError::WritesPaused(error.to_string()),
            ServiceError::Internal(message) => {
                tracing::error!(%message, "the gateway failed");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, problem) = self.problem();
        if status.is_server_error() {
            // Logged here, where it is handled, inside the request's span.
            tracing::warn!(problem.type = %problem.kind, detail = %problem.detail, "request failed");
        }
        let extra = match &self {
            ApiError::Unauthorized { challenge, .. } => HeaderValue::from_str(challenge)
                .ok()
                .map(|v| (header::WWW_AUTHENTICATE, v)),
            ApiError::Forbidden {
                missing_scope: Some(scope),
                ..
            } => HeaderValue::from_str(&format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
            ))
            .ok()
            .map(|v| (header::WWW_AUTHENTICATE, v)),
            ApiError::TooManyRequests { retry_after, .. } => {
                Some((header::RETRY_AFTER, HeaderValue::from(*retry_after)))
            }
            // The writer retries the database about every second; two is a fair wait.
            ApiError::WritesPaused(_) | ApiError::DatabaseUnavailable(_) => {
                Some((header::RETRY_AFTER, HeaderValue::from(2u64)))
            }
            _ => None,
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some((name, value)) = extra {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

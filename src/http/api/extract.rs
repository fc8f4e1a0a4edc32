//! Extractors whose failures are problem documents. JSON bodies and query strings are read
//! with the failing field's path, so a wrong type or a missing field is a 422 that names
//! the field, like the service layer's own validation errors.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::http::ApiError;
use crate::service::FieldError;
use crate::state::AppState;

/// A JSON request body. An empty (or `null`) body reads as `{}`, so actions whose fields
/// all have defaults can be called without one.
pub struct JsonBody<T>(pub T);

/// The query string.
pub struct QueryParams<T>(pub T);

/// Path parameters.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParams<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.to_ascii_lowercase().ends_with("+json")
}

/// The field a serde error is about: the path serde_path_to_error tracked, completed with
/// the name serde gives in its message when a field is missing.
fn field_error(path: String, message: String) -> FieldError {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (path.as_str(), missing) {
        ("." | "", Some(name)) => name.to_string(),
        ("." | "", None) => "body".to_string(),
        (_, Some(name)) => format!("{path}.{name}"),
        (_, None) => path,
    };
    FieldError { field, message }
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let json = is_json(request.headers());
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
                        limit: state.config.server.body_limit,
                    },
                    _ => ApiError::BadRequest(rejection.body_text()),
                })?;
        // Optional bodies are documented as "the object or null"; both absent and null
        // mean every field takes its default.
        let absent = bytes.is_empty() || (json && bytes.trim_ascii() == b"null");
        let bytes: &[u8] = match (absent, json) {
            (true, _) => b"{}",
            (false, true) => &bytes,
            (false, false) => {
                return Err(ApiError::UnsupportedMediaType(
                    "send the request body as JSON with Content-Type: application/json".to_string(),
                ));
            }
        };
        let not_json = |error: serde_json::Error| {
            ApiError::BadRequest(format!("the request body is not valid JSON: {error}"))
        };
        // Every body is an object; serde would also read a struct from an array.
        if bytes.trim_ascii_start().first() == Some(&b'[') {
            serde_json::from_slice::<serde_json::Value>(bytes).map_err(not_json)?;
            return Err(ApiError::Validation(vec![FieldError {
                field: "body".to_string(),
                message: "must be a JSON object, not an array".to_string(),
            }]));
        }
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        let value = serde_path_to_error::deserialize(&mut reader).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            // A typed read stops at the first unknown field, so a body that is not JSON
            // at all could look like a 422; only a body that is JSON is one. Reading a
            // `Value` (only on this refused path) also bounds the nesting: serde_json
            // stops at 128 levels.
            let is_json = serde_json::from_slice::<serde_json::Value>(bytes).is_ok();
            match inner.classify() {
                serde_json::error::Category::Data if is_json => {
                    ApiError::Validation(vec![field_error(path, inner.to_string())])
                }
                _ => not_json(inner),
            }
        })?;
        reader.end().map_err(not_json)?;
        Ok(JsonBody(value))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let reader = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(reader)
            .map(QueryParams)
            .map_err(|error| {
                let path = error.path().to_string();
                let message = error.into_inner().to_string();
                ApiError::Validation(vec![field_error(path, message)])
            })
    }
}

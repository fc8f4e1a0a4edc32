//! What reaches rmcp is a JSON-RPC message, and what it refuses leaves as JSON: on `/mcp`
//! a body that is not JSON is 400 with -32700 (parse error), valid JSON that is not a
//! JSON-RPC 2.0 message (another `jsonrpc`, no `method`, a batch) 400 with -32600 (invalid
//! request), a `Content-Type` other than JSON 415; and any other refusal rmcp writes as
//! plain text is rewritten into a JSON-RPC error with the same status. JSON-RPC 2.0
//! section 5.1 names the codes; the MCP transport answers them over HTTP 400 (Streamable
//! HTTP: "If the server cannot accept the input, it MUST return an HTTP error status code
//! (e.g., 400 Bad Request)"). rmcp itself answers 415 `text/plain` for all of these.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use rmcp::model::ClientJsonRpcMessage;
use serde_json::Value;

use super::guard::refusal;

/// Why a body is not a message the gateway accepts.
#[derive(Debug)]
pub enum Refused {
    /// Not JSON: -32700.
    Parse(String),
    /// JSON, but not a JSON-RPC 2.0 message: -32600.
    Invalid(String),
}

impl Refused {
    pub fn response(&self) -> Response {
        match self {
            Refused::Parse(message) => refusal(StatusCode::BAD_REQUEST, -32700, message),
            Refused::Invalid(message) => refusal(StatusCode::BAD_REQUEST, -32600, message),
        }
    }
}

/// The JSON-RPC message in `bytes`, or why it is not one.
pub fn message(bytes: &[u8]) -> Result<ClientJsonRpcMessage, Refused> {
    // One parse for a good message (the path every call takes); only a refused one is read
    // again, as a `Value`, to say exactly what is wrong with it.
    match serde_json::from_slice(bytes) {
        Ok(message) => Ok(message),
        Err(typed) => Err(classify(bytes, typed)),
    }
}

fn classify(bytes: &[u8], typed: serde_json::Error) -> Refused {
    match shape(bytes) {
        Err(refused) => refused,
        Ok(()) => Refused::Invalid(format!("invalid request: {typed}")),
    }
}

/// Why a body the typed read refused is not a JSON-RPC message.
fn shape(bytes: &[u8]) -> Result<(), Refused> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Refused::Parse(format!("parse error: the body is not JSON ({e})")))?;
    let object = match &value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(Refused::Invalid(
                "invalid request: batches are not accepted; send one JSON-RPC message per request"
                    .into(),
            ));
        }
        _ => {
            return Err(Refused::Invalid(
                "invalid request: a JSON-RPC message is a JSON object".into(),
            ));
        }
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Refused::Invalid(
            "invalid request: \"jsonrpc\" must be \"2.0\"".into(),
        ));
    }
    let answer = object.contains_key("id")
        && (object.contains_key("result") || object.contains_key("error"));
    if !answer && !object.get("method").is_some_and(Value::is_string) {
        return Err(Refused::Invalid(
            "invalid request: a request or notification needs a \"method\" string".into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| Refused::Invalid(format!("invalid request: {e}")))
}

/// Whether the `Content-Type` is JSON (`application/json`, parameters allowed).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

pub fn unsupported_media_type() -> Response {
    refusal(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        -32600,
        "the body must be JSON: send Content-Type: application/json",
    )
}

/// Middleware on `/mcp`: POST bodies checked before rmcp sees them, plain-text refusals
/// turned into JSON-RPC errors.
pub async fn check(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return json_refusals(next.run(request).await).await;
    }
    if !is_json(request.headers()) {
        return unsupported_media_type();
    }
    let (parts, body) = request.into_parts();
    // Already read whole by the HTTP limits layer, within the body limit.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return refusal(
            StatusCode::BAD_REQUEST,
            -32700,
            "the body could not be read",
        );
    };
    let mut parts = parts;
    match message(&bytes) {
        Err(refused) => return refused.response(),
        Ok(message) => {
            // A client's answer to the gateway's question, which `sessions::track` may have
            // to carry to the replica that asked.
            if let Some(answer) = super::confirm::ClientAnswer::of(&message) {
                parts.extensions.insert(answer);
            }
        }
    }
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    json_refusals(next.run(request).await).await
}

/// rmcp's own refusals are plain text; clients read JSON-RPC errors.
async fn json_refusals(response: Response) -> Response {
    let text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || !text {
        return response;
    }
    let (parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if said.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_string()
    } else {
        said
    };
    let code = if status.is_server_error() {
        -32603
    } else {
        -32600
    };
    let mut answer = refusal(status, code, &message);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> Option<&'static str> {
        match message(body.as_bytes()) {
            Ok(_) => None,
            Err(Refused::Parse(_)) => Some("parse"),
            Err(Refused::Invalid(_)) => Some("invalid"),
        }
    }

    #[test]
    fn bodies_are_sorted_into_parse_errors_invalid_requests_and_messages() {
        assert_eq!(code("not json"), Some("parse"));
        assert_eq!(code("{\"jsonrpc\": \"2.0\", "), Some("parse"));
        assert_eq!(code("[]"), Some("invalid"));
        assert_eq!(code("42"), Some("invalid"));
        assert_eq!(
            code(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#),
            Some("invalid")
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1}"#), Some("invalid"));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#), None);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            None
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(code(&deep), Some("parse"), "nesting is bounded");
    }
}

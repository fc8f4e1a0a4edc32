//! `/v1/jobs/parse`: HCL to Nomad's JSON job.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::need;
use crate::Capability::Read;
use crate::api::{Ctx, Params, Q, authorize, body_json, json, namespace_of, text};

pub async fn parse(
    State(shared): Ctx,
    headers: HeaderMap,
    Q(query): Params,
    bytes: Bytes,
) -> Response {
    if let Err(e) = authorize(&shared, &headers, need(&namespace_of(&query), Read)) {
        return e;
    }
    let body = match body_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(hcl) = body.get("JobHCL").and_then(Value::as_str) else {
        return text(StatusCode::BAD_REQUEST, "Job spec is empty");
    };
    let variables = body.get("Variables").and_then(Value::as_str).unwrap_or("");
    match crate::hcl::parse_job(hcl, variables) {
        Ok(mut job) => {
            if flag_value(&body, "Canonicalize") {
                crate::jobspec::canonicalize(&mut job, &namespace_of(&query));
            }
            // The parse endpoint answers with `api.Job`, which still has the job-level
            // migrate and reschedule blocks (null unless set).
            for key in ["Migrate", "Reschedule"] {
                if job.get(key).is_none() {
                    job[key] = Value::Null;
                }
            }
            json(&shared, &job)
        }
        // Nomad's agent wraps every jobspec2 error in this sentence.
        Err(e) => text(
            StatusCode::BAD_REQUEST,
            &format!("Failed to parse job: {e}"),
        ),
    }
}

fn flag_value(body: &Value, key: &str) -> bool {
    body.get(key).and_then(Value::as_bool).unwrap_or(false)
}

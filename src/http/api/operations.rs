//! `/api/v1/operations`: tracked writes, read, awaited (long poll and Server-Sent Events)
//! and cancelled; and `Write`, the per-call options every write route takes
//! (`Idempotency-Key` header, `?wait=`, `?expected_version=`).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{JsonBody, PathParams, QueryParams};
use super::{ApiResult, Problems};
use crate::http::ApiError;
use crate::http::Caller;
use crate::operations::Operation;
use crate::service::operations::{ListOperationsRequest, MAX_WAIT, changed};
use crate::service::policy::Principal;
use crate::service::tracking::{Tracked, WriteOptions};
use crate::service::wait::Quiet;
use crate::service::{FieldError, Page, Service, ServiceError};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_operations))
        .routes(routes!(get_operation))
        .routes(routes!(operation_events))
        .routes(routes!(cancel_operation))
}

fn wait_of(text: Option<&str>, field: &str) -> Result<Option<Duration>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let parsed = match text.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => crate::config::parse_duration(text),
    };
    match parsed {
        Ok(d) if d <= MAX_WAIT => Ok(Some(d)),
        Ok(_) => Err(ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: format!("{text} is longer than the limit of {}s", MAX_WAIT.as_secs()),
        }])),
        Err(e) => Err(ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: format!("'{text}' is not a duration ({e}); use seconds or 30s, 5m"),
        }])),
    }
}

/// A wait that ends before `GATEWAY_REQUEST_TIMEOUT` cuts the answer off, so a waiting
/// caller gets the operation as it stands rather than a 504.
fn within_deadline(state: &AppState, wait: Duration) -> Duration {
    let deadline = state.config.server.request_timeout;
    wait.min(
        deadline
            .saturating_sub(Duration::from_secs(2))
            .max(deadline / 2),
    )
}

/// `?wait=`: how long to wait (seconds, or `30s`, `5m`; at most 300 s).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Wait this long (seconds, or `30s`, `2m`; at most 300 s).
    #[param(value_type = Option<String>, example = "30s")]
    wait: Option<String>,
}

#[derive(Debug, Default)]
struct WriteQuery {
    wait: Option<String>,
    expected_version: Option<String>,
}

impl WriteQuery {
    /// The write options of a query string. A parameter given twice, or whose value is
    /// not text, is refused rather than dropped: a write must not run unguarded because
    /// its `expected_version` went missing.
    fn parse(query: &str) -> Result<WriteQuery, ApiError> {
        let mut options = WriteQuery::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "wait" => &mut options.wait,
                "expected_version" => &mut options.expected_version,
                _ => continue,
            };
            if value.contains('\u{FFFD}') {
                return Err(ApiError::BadRequest(format!(
                    "the query parameter '{key}' is not UTF-8 text once percent-decoded"
                )));
            }
            if slot.is_some() {
                return Err(ApiError::BadRequest(format!(
                    "the query parameter '{key}' is given more than once; give it once"
                )));
            }
            *slot = Some(value.into_owned());
        }
        Ok(options)
    }
}

/// The per-call options of a write route.
pub struct Write {
    options: WriteOptions,
    wait: Option<Duration>,
}

impl FromRequestParts<AppState> for Write {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let query = WriteQuery::parse(parts.uri.query().unwrap_or_default())?;
        let idempotency_key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| {
                        ApiError::BadRequest("the Idempotency-Key header is not text".into())
                    })?
                    .trim()
                    .to_string(),
            ),
        };
        let expected_version = match query.expected_version.as_deref() {
            None => None,
            Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
                ApiError::Validation(vec![FieldError {
                    field: "expected_version".into(),
                    message: format!(
                        "'{text}' is not a modify index (a whole number; see job_modify_index)"
                    ),
                }])
            })?),
        };
        Ok(Write {
            options: WriteOptions {
                idempotency_key,
                expected_version,
            },
            wait: wait_of(query.wait.as_deref(), "wait")?,
        })
    }
}

impl Write {
    /// Runs the write with these options; with `wait`, waits for its operation to finish
    /// and adds it to the answer (the service's one waiting path).
    pub async fn run<T, F, Fut>(
        self,
        state: &AppState,
        who: &Principal,
        write: F,
    ) -> Result<T, ApiError>
    where
        T: Tracked,
        F: FnOnce(Service, Principal) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let service = state.service.with_write_options(self.options);
        let wait = self.wait.map(|wait| within_deadline(state, wait));
        let write = write(service.clone(), who.clone());
        Ok(service.write_and_wait(wait, &Quiet, write).await?)
    }
}

/// List operations
///
/// Tracked writes, newest first, in the namespaces the caller may read.
#[utoipa::path(
    get,
    path = "/api/v1/operations",
    tag = "operations",
    params(ListOperationsRequest),
    responses((status = 200, description = "A page of operations, newest first", body = Page<Operation>), Problems)
)]
async fn list_operations(
    Caller(who): Caller,
    State(state): State<AppState>,
    QueryParams(request): QueryParams<ListOperationsRequest>,
) -> ApiResult<Page<Operation>> {
    Ok(Json(state.service.list_operations(&who, request).await?))
}

/// Read an operation
///
/// With `wait`, a long poll: answers as soon as the operation changes (state, progress,
/// message) or finishes, or when the wait is over.
#[utoipa::path(
    get,
    path = "/api/v1/operations/{operation_id}",
    tag = "operations",
    params(("operation_id" = String, Path, description = "The operation's ID"), WaitQuery),
    responses((status = 200, description = "The operation", body = Operation), Problems)
)]
async fn get_operation(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<WaitQuery>,
) -> ApiResult<Operation> {
    let operation = match wait_of(query.wait.as_deref(), "wait")? {
        Some(wait) => {
            state
                .service
                .wait_operation(&who, &id, within_deadline(&state, wait), false, None)
                .await?
        }
        None => state.service.get_operation(&who, &id).await?,
    };
    Ok(Json(operation))
}

/// Follow an operation's progress
///
/// Server-Sent Events: an `operation` event with the operation as it stands, then one at
/// every change; the last one carries the final state (`finished: true`) and the stream
/// ends. It also ends when the gateway shuts down.
#[utoipa::path(
    get,
    path = "/api/v1/operations/{operation_id}/events",
    tag = "operations",
    params(("operation_id" = String, Path, description = "The operation's ID")),
    responses(
        (status = 200, description = "`operation` events, each an Operation as JSON", content_type = "text/event-stream", body = Operation),
        Problems
    )
)]
async fn operation_events(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = state.service.get_operation(&who, &id).await?;
    let service = state.service.clone();
    let shutdown = state.shutdown.clone();
    struct Cursor {
        last: Option<Operation>,
        next: Option<Operation>,
    }
    let cursor = Cursor {
        last: None,
        next: Some(first),
    };
    let stream = futures::stream::unfold(cursor, move |mut cursor| {
        let service = service.clone();
        let shutdown = shutdown.clone();
        let who = who.clone();
        let id = id.clone();
        async move {
            if cursor.last.as_ref().is_some_and(|l| l.finished) {
                return None;
            }
            let operation = match cursor.next.take() {
                Some(op) => op,
                None => loop {
                    let waited = tokio::select! {
                        _ = shutdown.cancelled() => return None,
                        waited = service.wait_operation(
                            &who,
                            &id,
                            Duration::from_secs(15),
                            false,
                            cursor.last.as_ref(),
                        ) => waited,
                    };
                    match waited {
                        Ok(op) if cursor.last.as_ref().is_none_or(|l| changed(l, &op)) => break op,
                        Ok(_) => continue,
                        Err(_) => return None,
                    }
                },
            };
            let event = Event::default()
                .event("operation")
                .json_data(&operation)
                .unwrap_or_default();
            cursor.last = Some(operation);
            Some((Ok(event), cursor))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Cancel an operation
///
/// Stops what the operation set off: its active deployment is failed (Nomad rolls back
/// when the job's update strategy has `auto_revert`), the job a dispatch created is
/// stopped, a node drain is cancelled. The operation ends `cancelled`. An operation
/// without any of these yet (still evaluating) cannot be cancelled (409); neither can a
/// finished one.
#[utoipa::path(
    post,
    path = "/api/v1/operations/{operation_id}/cancel",
    tag = "operations",
    params(("operation_id" = String, Path, description = "The operation's ID")),
    request_body = Option<CancelBody>,
    responses((status = 200, description = "Cancelled", body = Operation), Problems)
)]
async fn cancel_operation(
    Caller(who): Caller,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<CancelBody>,
) -> ApiResult<Operation> {
    let reason = body.reason.as_deref();
    Ok(Json(
        state.service.cancel_operation(&who, &id, reason).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct CancelBody {
    /// Why, for the operation's message and the audit log.
    #[serde(default)]
    reason: Option<String>,
}

//! The REST API: `/api/v1` resources for every service operation, the `/api/claude`
//! compatibility routes, and the OpenAPI document built from the same handlers.
//!
//! Handlers parse the request, call one service function and shape the answer; nothing
//! else. Service errors become problem documents through `From<ServiceError> for ApiError`.

mod admin;
mod allocations;
mod claude;
mod cluster;
mod deployments;
mod evaluations;
mod extract;
mod job_actions;
mod jobs;
mod lookup;
mod nodes;
mod operations;
mod services;
mod variables;

use std::collections::BTreeMap;

use axum::Json;
use serde::Deserialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::http::error::{ApiError, Problem};
use crate::service::FieldError;
use crate::state::AppState;

/// A handler's answer: a JSON body or a problem document.
type ApiResult<T> = Result<Json<T>, ApiError>;

/// Every REST route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(jobs::router())
        .merge(job_actions::router())
        .merge(allocations::router())
        .merge(services::router())
        .merge(variables::router())
        .merge(evaluations::router())
        .merge(deployments::router())
        .merge(nodes::router())
        .merge(cluster::router())
        .merge(lookup::router())
        .merge(claude::router())
        .merge(admin::router())
        .merge(operations::router())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nomad-gateway",
        description = "Run HashiCorp Nomad jobs safely over REST. Every error is an \
            `application/problem+json` document (RFC 9457) whose `detail` says what to do; \
            validation errors list each invalid field under `errors`.",
        license(name = "MPL-2.0", identifier = "MPL-2.0"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "jobs", description = "Jobs: list, read, create, submit, plan, stop, and act on them"),
        (name = "allocations", description = "Allocations and task logs"),
        (name = "services", description = "Nomad-native services: where their instances run, and their checks"),
        (name = "variables", description = "Nomad Variables: keys and indexes; values only with variables:read, writes with variables:write"),
        (name = "evaluations", description = "The scheduler's decisions, with placement failures in words"),
        (name = "deployments", description = "Rolling deployments and canaries"),
        (name = "nodes", description = "Client nodes: drain, eligibility, labels"),
        (name = "cluster", description = "The cluster at a glance, what is wrong, namespaces, recent events, search by ID prefix, the gateway's own Nomad token"),
        (name = "volumes", description = "CSI and dynamic host volumes and who claims them"),
        (name = "claude", description = "Compatibility routes of the earlier Python Nomad MCP service"),
        (name = "admin", description = "API keys and the audit log (scope admin)"),
        (name = "operations", description = "Tracked writes: follow a change to its end, wait for it, cancel it"),
    )
)]
struct ApiDoc;

/// Every route takes `Authorization: Bearer <API key or JWT>`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (ngw_<prefix>_<secret>) or a JWT; scopes nomad:read, nomad:write, nodes:write, variables:read, variables:write, admin",
                    ))
                    .build(),
            ),
        );
    }
}

/// The `?namespace=` every namespaced route takes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InNamespace {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
}

/// A page of a list in a namespace: the namespace, and the page every list takes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListInNamespace {
    /// The Nomad namespace; the gateway's default (`NOMAD_NAMESPACE`) when left out.
    namespace: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

impl ListInNamespace {
    fn page(&self) -> crate::service::PageRequest {
        crate::service::PageRequest::new(self.cursor.clone(), self.limit)
    }
}

/// The problem documents any `/api` route may answer with.
struct Problems;

impl utoipa::IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        [
            (
                400,
                "Malformed request: a body that is not JSON, or a path that does not parse",
            ),
            (
                401,
                "No valid credential: send Authorization: Bearer <API key or JWT> (see WWW-Authenticate)",
            ),
            (
                403,
                "The credential lacks the scope (insufficient_scope) or the namespace, the gateway is read-only, or the Host or a browser's Origin is not this gateway's",
            ),
            (404, "The job, allocation, evaluation, deployment, node, service or namespace does not exist"),
            (408, "The request body did not arrive within GATEWAY_BODY_TIMEOUT"),
            (409, "The object changed meanwhile, or is not in a state that allows the action"),
            (413, "The request body is larger than GATEWAY_BODY_LIMIT"),
            (415, "The request body is not JSON"),
            (
                422,
                "Invalid request (each invalid field is listed under `errors`), or Nomad refused the job as invalid",
            ),
            (
                502,
                "Nomad failed, or refused the gateway's own Nomad token (it lacks a permission)",
            ),
            (429, "The caller's read or write budget is used up; Retry-After says when to try again"),
            (503, "Nomad is unreachable, the gateway's database is unavailable, or writes are paused while the audit log waits for the database, or GATEWAY_MAX_CONNECTIONS connections are open (with Retry-After)"),
            (504, "No answer within GATEWAY_REQUEST_TIMEOUT"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
    }
}

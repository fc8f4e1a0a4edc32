//! The HTTP transport: the one route table, middleware, health, metrics, errors, and the
//! REST API with its OpenAPI document.

mod api;
pub mod error;
mod health;
mod limits;
mod metrics;
mod observe;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::get;
use utoipa_swagger_ui::SwaggerUi;

pub use error::{ApiError, Problem};
pub use metrics::recorder as metrics_recorder;
pub use observe::REQUEST_ID;

use crate::state::AppState;

/// Builds the whole application. Tests drive this very router.
pub fn router(state: AppState) -> Router {
    let limits = limits::Limits {
        body_bytes: state.config.server.body_limit,
        request_timeout: state.config.server.request_timeout,
    };
    let (api, openapi) = api::router().split_for_parts();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .merge(api)
        .merge(crate::mcp::router(&state))
        // Serves the document at /openapi.json and the UI (vendored assets) under /docs.
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .route(
            "/.well-known/oauth-protected-resource",
            get(crate::auth::resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(crate::auth::resource_metadata),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            limits::enforce,
        ))
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {}; the REST API lives under /api/v1",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}
